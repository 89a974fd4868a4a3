"""Per-kernel state on the remote: its directory, private files, processes.

Part of the agent script (``jupyter_remote/remote/__init__.py`` joins the parts its
``SCRIPTS`` lists, in order, into one script sent over stdin). Stdlib only,
Python >= 3.8. State: ``~/.local/share/jupyter-remote/kernels/<kernel_id>/`` (0700)
holding ``info.json``, ``connection.json`` (key scrubbed once read), ``kernel.log``,
``kernel.pid``, ``supervisor.pid``, ``launch.py``, ``relay.json``, ``ended.json``
(after a crash); the sockets are in a short private directory of their own (see
``agent._socket_dir``), named in ``info.json``.

What is left when a kernel ends: nothing, when it was stopped (``stop``, its idle
timeout) or ended by a shutdown request it obeyed. A kernel that died otherwise keeps
its directory with ``ended.json`` (how it ended) until that end has been reported once
(the provisioner's ``status`` poll, ``kernel list``), or for :data:`ENDED_KEPT` seconds
(swept by the next ``launch`` or ``list`` on the host), whichever comes first.
"""

import json
import os
import re
import shutil
import signal
import stat
import tempfile
import time

# <local-imports> removed when the script is sent: the parts before it define these
from jupyter_remote.remote.protocol import CODE_CACHE_DIR, KERNEL_ID_PATTERN, STATE_DIR

# </local-imports>

ROOT = os.path.join(os.path.expanduser("~"), STATE_DIR)
#: How long the record of a kernel that died waits for its report (seconds): one day,
#: enough for a laptop that slept overnight to learn why its kernel is gone.
ENDED_KEPT = 24 * 3600
KERNELS = os.path.join(ROOT, "kernels")
#: Kernels in Slurm jobs: the login node's record of each (``slurm.py``), and each job's
#: holder state on its compute node (``job.py``).
JOBS = os.path.join(ROOT, "jobs")
HOLDERS = os.path.join(ROOT, "holders")
#: The agent's bytecode cache (``bootcache.py``): it goes with the last kernel's state.
CODE_CACHE = os.path.join(os.path.expanduser("~"), CODE_CACHE_DIR)
KERNEL_ID = re.compile("^%s$" % KERNEL_ID_PATTERN)
#: In a standby's directory once a start took it (``standby.py``), until the taker's first
#: connection reaches its relay (``relay.py`` removes it): a take left unfinished shows.
CLAIMED = "claimed"
SIGNAL_NAMES = {
    int(getattr(signal, n)): n
    for n in dir(signal)
    if n.startswith("SIG") and not n.startswith("SIG_") and isinstance(getattr(signal, n), int)
}


class AgentError(Exception):
    def __init__(self, message, hint=""):
        Exception.__init__(self, message)
        self.message = message
        self.hint = hint


def _private_dir(path):
    os.makedirs(path, mode=0o700, exist_ok=True)
    os.chmod(path, 0o700)


def _write_private(path, data):
    fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(data)
    os.chmod(path + ".tmp", 0o600)
    os.replace(path + ".tmp", path)


def _read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


BOOT_ID = "/proc/sys/kernel/random/boot_id"


def _process_identity(pid):
    """Which process ``pid`` is now: the boot it runs in and its start time (clock ticks
    since boot, field 22 of /proc/PID/stat), as text; "" when there is no such process
    (or no /proc to ask, not Linux)."""
    try:
        with open(BOOT_ID) as f:
            boot = f.read().strip()
        with open("/proc/%d/stat" % pid) as f:
            start = f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError, ValueError):
        return ""
    return "%s %s" % (boot, start)


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
        with open("/proc/%d/stat" % pid) as f:
            ticks = int(f.read().rsplit(")", 1)[1].split()[19])
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


def _alive(pid):
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is not alive
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _ours_and_alive(pid):
    """Process ``pid`` runs, is ours (another user's may not be signalled: a pid reused
    by it is not the one we recorded) and is no zombie. Clock-free."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return _alive(pid)


#: In a kernel's directory from the moment it exists: the launching agent's pid and
#: identity (as :func:`_write_pid` writes). The directory is made under a temporary name
#: (:data:`UNBORN`, its pid in it) with this file inside and renamed into place, so a
#: kernel without a supervisor yet is "starting" exactly while that very process runs:
#: no clock compared (an NFS server's may be far from ours; review s22 F4).
LAUNCHING = "launching"
UNBORN = ".launching-"


def _make_kernel_dir(kdir, early=None):
    """``launch``: ``kdir`` (0700) appears at once, holding :data:`LAUNCHING` and the
    ``early`` files (name: text); temporary directories of killed launches go first."""
    _forget_unborn()
    made = tempfile.mkdtemp(prefix="%s%d-" % (UNBORN, os.getpid()), dir=KERNELS)
    try:
        _write_pid(os.path.join(made, LAUNCHING), os.getpid())
        for name, text in (early or {}).items():
            _write_private(os.path.join(made, name), text)
        os.rename(made, kdir)
    except BaseException as exc:
        shutil.rmtree(made, ignore_errors=True)
        if isinstance(exc, OSError):
            raise AgentError("could not make the kernel's directory: %s" % exc) from None
        raise


def _forget_unborn():
    """The temporary directories of launches killed before their rename (whose agent,
    named in the directory's name, runs no more)."""
    try:
        names = os.listdir(KERNELS)
    except OSError:
        return
    for name in names:
        pid = name[len(UNBORN) :].split("-", 1)[0]
        if name.startswith(UNBORN) and pid.isdigit() and not _ours_and_alive(int(pid)):
            _remove_scratch(os.path.join(KERNELS, name))
            _remove_owned_tree(os.path.join(KERNELS, name))


def _kernel_dir(kernel_id):
    if not isinstance(kernel_id, str) or not KERNEL_ID.match(kernel_id):
        raise AgentError("invalid kernel id")
    return os.path.join(KERNELS, kernel_id)


#: characters of a log's tail an error carries: with "Its output:\n" it fits the local
#: side's 2,000-character cut (which keeps the head: a traceback's last line must survive)
TAIL_CHARS = 1900


def _tail(path, lines=20):
    """The last ``lines`` whole lines of a log within its last TAIL_CHARS characters (a
    failed start's hint; the last line of a traceback is the error)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - 8192))
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return ""
    kept = text.splitlines()[-lines:]
    while len(kept) > 1 and sum(len(line) + 1 for line in kept) - 1 > TAIL_CHARS:
        kept.pop(0)
    if kept and len(kept[0]) > TAIL_CHARS:  # one long last line: its end
        kept[0] = kept[0][-TAIL_CHARS:]
    return "\n".join(kept)


def _describe_end(returncode):
    if returncode is None:
        return "gone (the kernel process no longer exists)"
    if returncode < 0:
        name = SIGNAL_NAMES.get(-returncode, "signal %d" % -returncode)
        if -returncode == signal.SIGKILL:
            return "killed by SIGKILL (out of memory, or kill -9)"
        return "killed by %s" % name
    return "exited with status %d" % returncode


def _kill_group(pgid, signum):
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def _session_members(sid):
    """Live processes (no zombies) in session ``sid`` but its leader and the caller: with
    ``sid`` a supervisor's pid, all that it started, however deep and in whatever
    process group (a supervisor leads its own session, and a session's id is not reused
    while any process is in it). Linux (/proc); elsewhere none are found. A process that
    called setsid() is in a session of its own: not found."""
    if not sid or sid <= 1:
        return []
    try:
        names = os.listdir("/proc")
    except OSError:
        return []
    found = []
    for name in names:
        if not name.isdigit() or int(name) in (sid, os.getpid()):
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if fields[0] != "Z" and int(fields[3]) == sid:
                found.append(int(name))
        except (OSError, IndexError, ValueError):
            continue
    return found


def _signal_session(sid, signum):
    """``signum`` to every process :func:`_session_members` finds in session ``sid``."""
    for pid in _session_members(sid):
        try:
            os.kill(pid, signum)
        except OSError:
            pass


def _end_session(sid, grace=0.0):
    """What is left in a supervisor's session once its kernel's group was stopped (a
    cell's child in a process group of its own): SIGTERM and up to ``grace`` s first
    when ``grace``, then SIGKILL, and up to 1 s for them to go. Callers: the supervisor's
    every end (``sid`` its own pid: it is spared), :func:`_stop_dir`,
    ``kernel_guard.end_orphan`` and ``kill_stragglers``."""
    for signum, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 1.0)):
        if signum == signal.SIGTERM and not grace:
            continue
        _signal_session(sid, signum)
        deadline = time.time() + wait
        while _session_members(sid) and time.time() < deadline:
            time.sleep(0.05)


def _remove_owned_tree(path):
    """rm -r ``path`` if it is a real directory of ours (never through a symlink)."""
    try:
        st = os.lstat(path)
    except OSError:
        return
    if stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid():
        shutil.rmtree(path, ignore_errors=True)


def _remove_empty_parents():
    """The state directories no kernel needs any more; the bytecode cache once no kernel,
    job or holder state is left (nothing of ours outlives the kernels)."""
    for d in (KERNELS, JOBS, HOLDERS):
        try:
            os.rmdir(d)
        except OSError:
            pass
    if not any(os.path.isdir(d) for d in (KERNELS, JOBS, HOLDERS)):
        _remove_owned_tree(CODE_CACHE)
    try:
        os.rmdir(ROOT)
    except OSError:
        pass


def _remove_scratch(kdir):
    """The kernel's socket directory and ipykernel's cell-file directory."""
    info = _read_json(os.path.join(kdir, "info.json")) or {}
    if info.get("sockdir"):
        _remove_owned_tree(info["sockdir"])
    try:
        with open(os.path.join(kdir, "ipykernel_tmp")) as f:
            _remove_owned_tree(f.read().strip())
    except OSError:
        pass


def _remove_kernel_files(kdir):
    """Everything of one kernel: scratch directories, then its state directory."""
    _remove_scratch(kdir)
    shutil.rmtree(kdir, ignore_errors=True)
    _remove_empty_parents()


def _kernel_names():
    """The ids of every kernel state directory of ours, sorted (none when there is no
    state yet); the agent's ``list``, the standby ``claim`` and the sweeps walk these."""
    try:
        names = os.listdir(KERNELS)
    except OSError:
        return []
    return sorted(name for name in names if KERNEL_ID.match(name))


def _forget_old_ends(now=None):
    """Remove the records of kernels that died more than ENDED_KEPT seconds ago, reported
    or not (``launch`` and ``list`` call this: nothing on the remote runs in between)."""
    now = time.time() if now is None else now
    for name in _kernel_names():
        kdir = os.path.join(KERNELS, name)
        ended = _read_json(os.path.join(kdir, "ended.json"))
        if not isinstance(ended, dict):
            continue
        when = ended.get("ended")
        if isinstance(when, (int, float)) and now - when > ENDED_KEPT:
            _remove_kernel_files(kdir)


def _stop_dir(kdir, timeout):
    try:
        _write_private(os.path.join(kdir, "stopping"), "")
    except OSError:
        if not os.path.isdir(kdir):
            return  # gone meanwhile: the kernel ended and its supervisor removed it
    pid = _read_int(os.path.join(kdir, "kernel.pid"))
    sup = _read_int(os.path.join(kdir, "supervisor.pid"))
    if pid:
        _kill_group(pid, signal.SIGTERM)
        _signal_session(sup, signal.SIGTERM)  # a cell's child in a group of its own too
        deadline = time.time() + timeout
        while _alive(pid) and time.time() < deadline:
            time.sleep(0.05)
        _kill_group(pid, signal.SIGKILL)
    _end_session(sup)  # all but the supervisor, which records nothing after a stop
    deadline = time.time() + 5
    while _alive(sup) and time.time() < deadline:
        time.sleep(0.05)
    if sup and _alive(sup):
        try:
            os.kill(sup, signal.SIGKILL)
        except OSError:
            pass
    _remove_kernel_files(kdir)
