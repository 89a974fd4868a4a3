"""Pid files and whether the process a pid names still runs, on the remote.

Part of the agent and job scripts, after ``state.py``. The supervisor writes
``kernel.pid`` and ``supervisor.pid`` (and ``launch`` the ``launching`` mark of
``kernel_dirs.py``) with :func:`_write_pid`: the pid with the boot it runs in and its
start time, so that a pid the system reuses (a reboot, a pid wrapped) is never taken for
it. Every reader (the agent's ``status``, ``list`` and ``stop``, the standby sweeps, a
job's holder, ``kernel_stop.py``) reads them with :func:`_read_int` and asks
:func:`_alive` or :func:`_ours_and_alive` before it signals. Linux answers from /proc;
elsewhere a pid file holds the pid alone and liveness is ``kill(pid, 0)``.
"""

import os

# <local-imports> removed when the script is sent: the parts before it define these
from jupyter_remote.remote.state import _write_private

# </local-imports>

BOOT_ID = "/proc/sys/kernel/random/boot_id"


def _stat_fields(pid):
    """The fields of /proc/PID/stat after the process's name (its state first, its start
    time at index 19), or None when there is no such process (or no /proc, not Linux).
    The identity and liveness checks here and ``kernel_stop._session_members`` read it."""
    try:
        with open("/proc/%s/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _process_identity(pid):
    """Which process ``pid`` is now: the boot it runs in and its start time (clock ticks
    since boot, field 22 of /proc/PID/stat), as text; "" when there is no such process
    (or no /proc to ask, not Linux)."""
    try:
        with open(BOOT_ID) as f:
            boot = f.read().strip()
    except OSError:
        return ""
    fields = _stat_fields(pid)
    if not fields or len(fields) < 20:
        return ""
    return "%s %s" % (boot, fields[19])


def _write_pid(path, pid):
    """The supervisor: a pid file, with the identity of that process (so that a pid the
    system reuses, after the process ended or the host rebooted, is never taken for it)."""
    _write_private(path, ("%d %s" % (pid, _process_identity(pid))).strip())


def _started_at(pid):
    """When process ``pid`` started (seconds since the epoch, /proc/stat's btime plus its
    start ticks), or None."""
    try:
        with open("/proc/stat") as f:
            boot = next(int(line.split()[1]) for line in f if line.startswith("btime "))
        ticks = int((_stat_fields(pid) or [])[19])
    except (OSError, IndexError, ValueError, StopIteration):
        return None
    return boot + ticks / os.sysconf("SC_CLK_TCK")


def _read_int(path):
    """An int from a file. For a pid file written by :func:`_write_pid`: its pid, unless a
    DIFFERENT process runs under that pid now (another start time or boot: the remote
    rebooted, or the pid was reused), then None, so it is never signalled and counts as
    gone; a pid file of an older agent (the pid alone) likewise when the process under
    that pid started after the file was written and is not the kernel directory's
    (:func:`_runs_for`). A pid whose process has ended is returned (callers see it is
    not alive)."""
    try:
        with open(path) as f:
            parts = f.read().split(None, 1)
            written = os.fstat(f.fileno()).st_mtime
        value = int(parts[0])
    except (OSError, ValueError, IndexError):
        return None
    recorded = parts[1].strip() if len(parts) > 1 else ""
    if recorded:
        now = _process_identity(value)
        if now and now != recorded:
            return None
    elif path.endswith(".pid"):
        started = _started_at(value)
        later = started is not None and started > written + 2  # btime is whole seconds
        if later and not _runs_for(value, os.path.dirname(path)):
            return None
    return value


def _runs_for(pid, kdir):
    """Process ``pid`` is ours and belongs to the kernel directory ``kdir``: it runs
    there (a supervisor's working directory) or names a file in it (a kernel's connection
    file). Clock-free evidence for a pid file of an older agent, whose only other clue is
    its mtime against the process's start: wall-clock times a clock step (NTP, a VM
    resumed) moves apart, which must never make a live kernel look dead."""
    proc = "/proc/%d" % pid
    try:
        if os.stat(proc).st_uid != os.getuid():
            return False
        real = os.path.realpath(kdir)
        if os.path.realpath(os.readlink(proc + "/cwd")) == real:
            return True
        with open(proc + "/cmdline", "rb") as f:
            args = f.read().decode("utf-8", "replace").split("\0")
    except OSError:
        return False
    inside = [os.path.join(d, "") for d in (kdir, real)]
    return any(d in arg for arg in args for d in inside)


def _alive(pid, theirs=True):
    """Process ``pid`` runs and is no zombie. One of another user's (which we may not
    signal) counts when ``theirs``: we cannot look closer."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return theirs
    fields = _stat_fields(pid)  # a zombie is not alive
    return not fields or fields[0] != "Z"


def _ours_and_alive(pid):
    """Process ``pid`` runs, is ours (another user's may not be signalled: a pid reused
    by it is not the one we recorded) and is no zombie. Clock-free."""
    return _alive(pid, theirs=False)
