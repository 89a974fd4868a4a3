"""The kernel's supervisor: runs ON the remote, detached, one per kernel.

Part of the agent script (see ``state.py``). ``op_supervise`` (the agent's ``launch``
forks it; in a Slurm job the holder runs it) starts the kernel in its own process
group with the login's umask, runs the relay beside it (``relay.py``), wakes the
waiting launch, and then, in turn: the start's verdict (``supervisor_start.py``: a
failed start leaves nothing), the idle timeout (``supervisor_idle.py``), the end
(``supervisor_end.py``: nothing kept after a stop or a shutdown request, else how it
ended, ``ended.json``, kept until reported: see ``state.py``). The kernel never
outlives it (``kernel_guard.py``): SIGTERM or SIGINT to the supervisor stops the kernel
and is recorded as its end; a supervisor killed outright takes the kernel with it
(Linux's parent-death signal, and its watcher for the group). Every end stops its whole
session too (``_lead_session``): what the cells started in process groups of their own.
"""

import os
import signal
import subprocess
import sys
import threading
import time

# <local-imports> removed when the script is sent: the parts before it define these
from jupyter_remote.remote.kernel_guard import Ending, pdeath_setter, start_watcher
from jupyter_remote.remote.pid_files import _write_pid
from jupyter_remote.remote.relay import start_relay
from jupyter_remote.remote.state import _kernel_dir
from jupyter_remote.remote.supervisor_end import _end_by_signal, _kernel_ended, _stop_on_failure
from jupyter_remote.remote.supervisor_idle import _watch_idle
from jupyter_remote.remote.supervisor_start import _failed_start, _kernel_started

# </local-imports>


def op_supervise(req):
    """Runs detached (own session). Starts the kernel in its own process group and waits.

    On its main thread, from start to end: the kernel's parent-death signal fires when
    the thread that forked it ends (``kernel_guard.pdeath_setter``)."""
    kdir = _kernel_dir(req["kernel_id"])
    _lead_session()
    os.umask(0o077)
    _write_pid(os.path.join(kdir, "supervisor.pid"), os.getpid())
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    ending = Ending()  # SIGTERM, SIGINT: noted from here on, acted on below
    user_umask = int(req.get("umask", 0o022))
    lifeline = pdeath_setter()

    def child():  # own process group; files the kernel writes get the login's umask
        os.setpgrp()
        os.umask(user_umask)
        if lifeline is not None:
            lifeline()

    proc = subprocess.Popen(
        req["argv"],
        cwd=req["cwd"],
        env=req["env"],
        stdin=subprocess.DEVNULL,
        stdout=sys.stdout.fileno(),
        stderr=sys.stderr.fileno(),
        preexec_fn=child,
        close_fds=True,
    )
    _write_pid(os.path.join(kdir, "kernel.pid"), proc.pid)
    if not req.get("held"):  # a job's holder is our parent: it sees to it (job.py)
        start_watcher(proc.pid)  # before any thread (a preexec)
    ending.watch(proc)
    try:
        _supervise(proc, kdir, req, ending)
    except BaseException as exc:  # never leave the kernel running without us
        _stop_on_failure(proc, kdir, exc)
        raise
    return None


def _lead_session():
    """The supervisor leads a session of its own, so that everything it starts, however
    deep and in whatever process group (a cell's ``preexec_fn=os.setpgrp``, a shell with
    job control), is found and stopped with its kernel: the processes whose session id
    is its pid (``kernel_stop._end_session``). A forked supervisor did ``setsid`` already
    (launch.py); a Slurm job's holder starts it as a plain child, in the holder's
    session, which holds the holder (and maybe more of the job) that must never be
    swept: it leaves it here. Should that fail, no process has our pid as its session
    id and the sweeps find nothing (the kernel's group is still stopped)."""
    if os.getsid(0) != os.getpid():
        try:
            os.setsid()
        except OSError:
            pass


def _supervise(proc, kdir, req, ending):
    """The kernel runs: its relay, its start's verdict, its idle timeout, its end."""
    _keep_fresh(req.get("sockdir"))
    relay = None
    if req.get("relay"):
        relay = start_relay(
            kdir,
            req.get("buffer_bytes"),
            float(req.get("startup_timeout") or 60),
            tcp_token=req.get("relay_token") if req.get("relay_tcp") else None,
        )
    _tell_launch(req.get("ready_fd"), relay)
    # a failed start leaves nothing; unless the relay had told HELLOs "started" first:
    # then the kernel's end is an ordinary one (below)
    if (
        relay is not None
        and not _kernel_started(proc, relay, ending)
        and _failed_start(proc, kdir, relay, req)
    ):
        return
    idle_timeout = int(req.get("idle_timeout") or 0)
    if idle_timeout > 0 and not ending.signum:
        _watch_idle(proc, kdir, idle_timeout, relay, ending)
    ending.wait_kernel(proc)
    if proc.poll() is None:  # SIGTERM or SIGINT to us: the kernel goes first
        _end_by_signal(proc, kdir, ending.signum, relay)
    else:
        _kernel_ended(proc, kdir, relay)
    if ending.signum:  # end by that signal, as a process without a handler would
        sys.stdout.flush()
        sys.stderr.flush()
        signal.signal(ending.signum, signal.SIG_DFL)
        os.kill(os.getpid(), ending.signum)


def _tell_launch(fd, relay):
    """A forked supervisor (``launch._start_supervisor``): write on the agent's pipe once
    the relay has settled (listening, or failed), so the launch answers at once."""
    if fd is None:
        return

    def tell():
        if relay is not None:
            relay.listening.wait()
        try:
            os.write(fd, b".")
        except OSError:
            pass
        os.close(fd)

    threading.Thread(target=tell, daemon=True).start()


def _keep_fresh(sockdir):
    """Touch the socket directory hourly: /tmp cleaners (systemd-tmpfiles ages) must not
    take the sockets of a kernel that runs for weeks."""
    if not sockdir:
        return

    def touch():
        while True:
            time.sleep(3600)
            try:
                for name in os.listdir(sockdir):
                    os.utime(os.path.join(sockdir, name), follow_symlinks=False)
                os.utime(sockdir)
            except OSError:
                return

    threading.Thread(target=touch, daemon=True).start()
