"""How a kernel's run ends, as its supervisor sees it: the kernel stopped (its group,
then the rest of the supervisor's session) and its end recorded, or nothing kept.

Part of the agent script, after ``kernel_guard.py``. ``supervisor._supervise`` calls
:func:`_kernel_ended` when the kernel exited and :func:`_end_by_signal` when SIGTERM or
SIGINT reached the supervisor first; ``supervisor.op_supervise`` calls
:func:`_stop_on_failure` when the supervisor itself failed. A stop (``stopping`` in
the directory) or a shutdown request the kernel obeyed leaves nothing; any other end
leaves ``ended.json`` for its report (see ``state.py``). ``supervisor_start.py`` and
``supervisor_idle.py`` stop the kernel with :func:`_stop_kernel` and :func:`_stop_all`.
"""

import json
import os
import signal
import subprocess
import time

# <local-imports> removed when the script is sent: the parts before it define these
from jupyter_remote.remote.kernel_dirs import _remove_kernel_files, _remove_scratch
from jupyter_remote.remote.kernel_guard import STOP_GRACE, signalled_text, supervisor_end_text
from jupyter_remote.remote.kernel_stop import _end_session, _kill_group, _signal_session
from jupyter_remote.remote.state import SIGNAL_NAMES, _describe_end, _write_private

# </local-imports>

#: seconds a failed start's kernel has to die after SIGKILL before it counts as unstoppable
KILL_WAIT = 10.0


def _write_end(kdir, ended):
    """Write ``ended.json``: how the kernel ended (returncode, reason, when, ...)."""
    _write_private(os.path.join(kdir, "ended.json"), json.dumps(ended))


def _stop_all(proc, signum):
    """``signum`` to the kernel's group and to the rest of our session (spared: this
    process, so the relay and the end's record)."""
    _kill_group(proc.pid, signum)
    _signal_session(os.getpid(), signum)


def _stop_kernel(proc, slow):
    """SIGTERM (a kernel still running), 2 s, then SIGKILL to its group (and whatever it
    started); whether it was reaped within KILL_WAIT s (a process blocked in
    uninterruptible I/O dies only once that I/O ends)."""
    if slow:
        _stop_all(proc, signal.SIGTERM)
        _reaped(proc, 2)
    _kill_group(proc.pid, signal.SIGKILL)
    _end_session(os.getpid())  # what its cells started in groups of their own
    return _reaped(proc, KILL_WAIT)


def _reaped(proc, timeout):
    """Whether the kernel process was reaped within ``timeout`` s."""
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        return False
    return True


def _kernel_ended(proc, kdir, relay):
    """The kernel exited: its group goes; nothing is kept after a stop or a shutdown
    request, else how it ended (``ended.json``)."""
    returncode = proc.wait()
    _kill_group(proc.pid, signal.SIGKILL)  # children the kernel left behind
    _end_session(os.getpid())  # and those in process groups of their own
    if os.path.exists(os.path.join(kdir, "stopping")) or _ended_on_request(returncode, relay):
        _remove_kernel_files(kdir)
        return
    _remove_scratch(kdir)  # sockets and cell files die with the kernel; state stays
    _write_end(
        kdir, {"returncode": returncode, "reason": _describe_end(returncode), "ended": time.time()}
    )


def _ended_on_request(returncode, relay):
    """The kernel exited 0 after answering a shutdown request (seen by its relay; without
    a relay, a 0 exit counts): nothing of it is kept. Any other end is kept for its report."""
    if returncode != 0:
        return False
    return relay is None or bool(relay.failure) or relay.shutdown_replied


def _end_by_signal(proc, kdir, signum, relay):
    """SIGTERM or SIGINT to the supervisor while its kernel runs: stop the kernel's group
    as a stop does (SIGTERM, STOP_GRACE s, SIGKILL), and record that end as the
    supervisor's, for the local side's notice and ``kernel list`` (a stop under way
    removes everything instead); the relay ends with the process."""
    _stop_all(proc, signal.SIGTERM)
    _reaped(proc, STOP_GRACE)
    _stop_kernel(proc, False)
    if os.path.exists(os.path.join(kdir, "stopping")):
        _remove_kernel_files(kdir)
        return
    reason = supervisor_end_text(signalled_text(signum))
    ended = {"returncode": proc.returncode, "reason": reason, "ended": time.time()}
    ended["supervisor"] = SIGNAL_NAMES.get(signum, str(signum))
    if relay is not None and not relay.ready.is_set():  # during its start: the launch says it
        ended["startup_error"] = reason
    _remove_scratch(kdir)
    try:
        _write_end(kdir, ended)
    except OSError:  # removed meanwhile (a job's holder, cancelled with us)
        pass


def _stop_on_failure(proc, kdir, exc):
    """The supervisor itself failed (a bug, no memory): the kernel is stopped, and that
    is recorded as its end."""
    _stop_kernel(proc, proc.poll() is None)
    reason = supervisor_end_text("failed (%s: %s)" % (type(exc).__name__, exc))
    try:
        if not os.path.exists(os.path.join(kdir, "ended.json")):
            _remove_scratch(kdir)
            _write_end(
                kdir, {"returncode": proc.returncode, "reason": reason, "ended": time.time()}
            )
    except OSError:
        pass
