"""The supervisor's verdict on its kernel's start, and what a failed start leaves:
nothing but, when the kernel could not be stopped, the ``ended.json`` that says so.

Part of the agent script, after ``supervisor_end.py``. ``supervisor._supervise`` asks
:func:`_kernel_started` once the relay runs, and on False calls :func:`_failed_start`:
the relay (``relay_start.py``) tells the local side why, the kernel is stopped, its
files go. One verdict per start: the relay's when it had already told HELLOs "started".
"""

import os
import shutil
import time

# <local-imports> removed when the script is sent: the parts before it define these
from jupyter_remote.remote.kernel_dirs import _remove_kernel_files, _remove_scratch
from jupyter_remote.remote.protocol import CHANNELS
from jupyter_remote.remote.relay_start import FAIL_GRACE
from jupyter_remote.remote.state import _describe_end, _tail
from jupyter_remote.remote.supervisor_end import _stop_kernel, _write_end

# </local-imports>


def _kernel_started(proc, relay, ending=None):
    """Until the kernel has answered its relay (True; also when the relay itself broke: the
    kernel then runs without it) or its start failed (False): it exited first, or the
    relay's nudge gave up after startup_timeout. The relay's verdict when it had already
    committed to success as the kernel exited (review s21 F1: one verdict per start).
    True at once on SIGTERM/SIGINT to the supervisor (``_end_by_signal`` follows)."""
    while not relay.ready.wait(0.02):
        if ending is not None and ending.signum:
            return True
        if proc.poll() is not None:
            if relay.kernel_exited():  # the relay told HELLOs "started": its ready follows
                relay.ready.wait(5)
                return True
            return False  # kernel_gone is set: the nudge stops at once
    return not relay.nudge_failed and not relay.kernel_gone


def _failed_start(proc, kdir, relay, req):
    """The start failed after the launch answered (the relay listened at once): the relay
    tells the local side why at once (its HELLO answer: the error and the log tail the
    agent used to answer; review s21 F2: before the kernel is reaped, which a hung NFS
    home can delay for hours), the kernel is stopped, then nothing is left: no process,
    no relay.json, no key; ``ended.json`` alone when the kernel could not be stopped (for
    ``list``). ``ended.json`` says why meanwhile, for a launch still waiting (launch.py).
    False (nothing done) when the relay had already told HELLOs "started"."""
    slow = proc.poll() is None  # slower than startup_timeout (else: exited, reaped)
    error, hint = _start_failure(proc.returncode, kdir, req)
    if not relay.fail_start(error, hint):  # relay.none first: a standby take skips it
        return False
    ended = {"returncode": proc.returncode, "ended": time.time()}
    ended.update(reason=error if slow else _describe_end(proc.returncode))
    ended.update(startup_error=error, hint=hint)
    _write_end(kdir, ended)
    stopped = _stop_kernel(proc, slow)
    relay.closed.wait(FAIL_GRACE + 1)
    if stopped:
        _remove_kernel_files(kdir)
        return True
    ended.update(returncode=None, ended=time.time())
    ended["reason"] = (
        "could not be stopped (pid %d): it ignores SIGKILL, e.g. blocked in " % (proc.pid)
        + "I/O on a file system that does not answer"
    )
    _write_end(kdir, ended)
    _remove_all_but(kdir, "ended.json")  # the key, relay.json, sockets go; list reports it
    return True


def _start_failure(returncode, kdir, req):
    """The error and hint of a failed start: the kernel exited (``returncode``) or did not
    answer (None) within startup_timeout; the hint carries the end of its log."""
    tail = _tail(os.path.join(kdir, "kernel.log"))
    if returncode is None:
        error = "the kernel did not %s within %ss" % (
            "answer" if _bound(req.get("sockdir")) else "open its sockets",
            "%g" % float(req.get("startup_timeout") or 60),
        )
        return error, ("Its output:\n" + tail) if tail else ""
    error = "the kernel exited during startup: %s" % _describe_end(returncode)
    return error, "Its output:\n" + tail if tail else "Is ipykernel installed in that environment?"


def _bound(sockdir):
    """The kernel has bound every socket of its channels (ipc files in ``sockdir``)."""
    base = os.path.join(sockdir or "", "k")
    return all(os.path.exists("%s-%d" % (base, n)) for n in range(1, len(CHANNELS) + 1))


def _remove_all_but(kdir, keep):
    """Every file of the kernel but ``keep`` (its scratch directories too)."""
    _remove_scratch(kdir)
    for name in os.listdir(kdir):
        if name != keep:
            path = os.path.join(kdir, name)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                try:
                    os.unlink(path)
                except OSError:
                    pass
