"""The kernel's supervisor: runs ON the remote, detached, one per kernel.

Part of the agent script (see ``state.py``). ``op_supervise`` starts the kernel in
its own process group with the login's umask, runs the relay beside it
(``relay.py``), stops it after its idle timeout when no client is there, removes its
files when it was stopped or ended by a shutdown request, and otherwise records how it
ended (``ended.json``, kept until reported: see ``state.py``). The kernel never outlives
it (``kernel_guard.py``): SIGTERM or SIGINT to the supervisor stops the kernel and is
recorded as its end; a supervisor killed outright takes the kernel with it (Linux's
parent-death signal, and its watcher for the group). Every end stops its whole session
too (``_lead_session``): what the cells started in process groups of their own.
``op_presence`` is what a local session without a relay holds open to count as present.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

# <local-imports> removed when the script is sent: the parts before it define these
from jupyter_remote.remote.kernel_dirs import _remove_kernel_files, _remove_scratch
from jupyter_remote.remote.kernel_guard import (
    STOP_GRACE,
    Ending,
    pdeath_setter,
    signalled_text,
    start_watcher,
    supervisor_end_text,
)
from jupyter_remote.remote.kernel_stop import _end_session, _kill_group, _signal_session
from jupyter_remote.remote.pid_files import _write_pid
from jupyter_remote.remote.protocol import CHANNELS
from jupyter_remote.remote.relay import start_relay
from jupyter_remote.remote.relay_kernel import _header_field
from jupyter_remote.remote.relay_start import FAIL_GRACE
from jupyter_remote.remote.state import (
    SIGNAL_NAMES,
    _describe_end,
    _kernel_dir,
    _read_json,
    _tail,
    _write_private,
)

# </local-imports>

#: seconds a failed start's kernel has to die after SIGKILL before it counts as unstoppable
KILL_WAIT = 10.0


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


def _stop_all(proc, signum):
    """``signum`` to the kernel's group and to the rest of our session (spared: this
    process, so the relay and the end's record)."""
    _kill_group(proc.pid, signum)
    _signal_session(os.getpid(), signum)


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
    _write_private(
        os.path.join(kdir, "ended.json"),
        json.dumps(
            {"returncode": returncode, "reason": _describe_end(returncode), "ended": time.time()}
        ),
    )


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
        _write_private(os.path.join(kdir, "ended.json"), json.dumps(ended))
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
            ended = {"returncode": proc.returncode, "reason": reason, "ended": time.time()}
            _write_private(os.path.join(kdir, "ended.json"), json.dumps(ended))
    except OSError:
        pass


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
    _write_private(os.path.join(kdir, "ended.json"), json.dumps(ended))
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
    _write_private(os.path.join(kdir, "ended.json"), json.dumps(ended))
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
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        return False
    return True


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


def _bound(sockdir):
    """The kernel has bound every socket of its channels (ipc files in ``sockdir``)."""
    base = os.path.join(sockdir or "", "k")
    return all(os.path.exists("%s-%d" % (base, n)) for n in range(1, len(CHANNELS) + 1))


def _ended_on_request(returncode, relay):
    """The kernel exited 0 after answering a shutdown request (seen by its relay; without
    a relay, a 0 exit counts): nothing of it is kept. Any other end is kept for its report."""
    if returncode != 0:
        return False
    return relay is None or bool(relay.failure) or relay.shutdown_replied


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


def _present(kdir):
    """True while some local session holds the kernel's presence lock (op_presence)."""
    import fcntl

    try:
        fd = os.open(os.path.join(kdir, "presence.lock"), os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)  # closing releases our probe lock
    return False


def op_presence(req):
    """Held open by each local session: a shared lock until stdin closes (link gone)."""
    import fcntl

    kdir = _kernel_dir(req.get("kernel_id"))
    fd = os.open(os.path.join(kdir, "presence.lock"), os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_SH)
    sys.stdout.write(json.dumps({"ok": True, "result": {"present": True}}) + "\n")
    sys.stdout.flush()
    try:
        while sys.stdin.buffer.read(4096):
            pass
    finally:
        os.close(fd)
    return None


def _watch_idle(proc, kdir, idle_timeout, relay, ending):
    """Stop the kernel once it has been idle, with no client, for ``idle_timeout`` seconds.

    Runs in the supervisor, on its main thread, until the kernel ends or the supervisor
    gets SIGTERM/SIGINT (``ending``). With a relay, its view counts (busy/idle from
    iopub, a local side connected); otherwise listens to iopub itself (pyzmq comes with
    ipykernel) and checks the presence lock; without pyzmq only presence counts.
    """
    if relay is not None:
        while proc.poll() is None and not ending.signum and not relay.ready.wait(1):
            pass
        if not relay.failure:
            return _watch_idle_relayed(proc, kdir, idle_timeout, relay, ending)
    try:
        import zmq
    except ImportError:
        zmq = None  # type: ignore[assignment]
    conn = _read_json(os.path.join(kdir, "connection.json")) or {}
    sub = None
    if zmq is not None and conn.get("transport") == "ipc":
        sub = zmq.Context.instance().socket(zmq.SUB)
        sub.setsockopt(zmq.SUBSCRIBE, b"")
        sub.setsockopt(zmq.LINGER, 0)
        sub.connect("ipc://%s-%d" % (conn["ip"], conn["iopub_port"]))
    busy = False
    last_activity = time.time()
    while proc.poll() is None and not ending.signum:
        try:
            news = _idle_step(sub, ending)
        except Exception as exc:  # never let the watcher take the supervisor down
            sys.stderr.write("jupyter-remote: idle watcher: %r\n" % (exc,))
            news = None
        if news is not None:
            busy = news if news != "-" else busy
        if busy or _present(kdir):
            last_activity = time.time()
            continue
        if time.time() - last_activity >= idle_timeout:
            _stop_idle(proc, kdir, idle_timeout)
            break
    if sub is not None:
        sub.close()


def _watch_idle_relayed(proc, kdir, idle_timeout, relay, ending):
    last_activity = time.time()
    while proc.poll() is None and not ending.signum:
        ending.nap(0.5)
        if relay.busy or relay.client is not None or _present(kdir):
            last_activity = time.time()
            continue
        if time.time() - max(last_activity, relay.last_activity) >= idle_timeout:
            _stop_idle(proc, kdir, idle_timeout)
            return


def _stop_idle(proc, kdir, idle_timeout):
    sys.stderr.write("jupyter-remote: idle for %ss with no client: stopping\n" % idle_timeout)
    _write_private(os.path.join(kdir, "stopping"), "idle timeout")
    _stop_all(proc, signal.SIGTERM)
    deadline = time.time() + 5
    while proc.poll() is None and time.time() < deadline:
        time.sleep(0.1)
    _kill_group(proc.pid, signal.SIGKILL)
    _end_session(os.getpid())


def _idle_step(sub, ending=None):
    """Wait up to 1 s for iopub status; True busy, False idle, "-" no news (None: no zmq)."""
    if sub is None:
        ending.nap(1) if ending is not None else time.sleep(1)
        return None
    state = "-"
    while sub.poll(1000 if state == "-" else 0):
        frames = sub.recv_multipart()
        if _header_field(frames, 2).get("msg_type") == "status":  # {}: not a JSON object
            state = _header_field(frames, 5).get("execution_state") == "busy"
    return state
