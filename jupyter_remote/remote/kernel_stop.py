"""Stopping a kernel's processes from any process on the remote: its group, what its
supervisor's session holds, and the whole kernel by its directory.

Part of the agent and job scripts, after ``kernel_dirs.py``. A supervisor leads a
session of its own (``supervisor._lead_session``), so everything the kernel's cells
started, in whatever process group, is found by that session's id, the supervisor's
pid (Linux's /proc; elsewhere none are found and only the kernel's group is stopped).
Callers: the supervisor at every end of its kernel (``supervisor_end.py``,
``supervisor_idle.py``), ``kernel_guard`` for an orphan, and :func:`_stop_dir` for the
agent's ``stop``, a relaunch over a live kernel, the standby ``discard`` and sweeps and
a job's holder.
"""

import os
import signal
import time

# <local-imports> removed when the script is sent: the parts before it define these
from jupyter_remote.remote.kernel_dirs import _remove_kernel_files
from jupyter_remote.remote.pid_files import _alive, _read_int, _stat_fields
from jupyter_remote.remote.state import _write_private

# </local-imports>


def _kill_group(pgid, signum):
    """``signum`` to process group ``pgid`` (a kernel's: its pid), if it is there and ours."""
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
        fields = _stat_fields(name)
        try:
            if fields and fields[0] != "Z" and int(fields[3]) == sid:
                found.append(int(name))
        except (IndexError, ValueError):
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


def _stop_dir(kdir, timeout):
    """Stop the kernel of directory ``kdir`` from outside its supervisor: ``stopping``
    written (its supervisor then records nothing), SIGTERM to its group and session, up
    to ``timeout`` s, SIGKILL; then the supervisor goes, and every file of the kernel."""
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
