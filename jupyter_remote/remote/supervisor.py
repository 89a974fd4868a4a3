"""The kernel's supervisor: runs ON the remote, detached, one per kernel.

Part of the agent script (see ``state.py``). ``op_supervise`` starts the kernel in
its own process group with the login's umask, runs the relay beside it
(``relay.py``), stops it after its idle timeout when no client is there, removes its
files when it was stopped or ended by a shutdown request, and otherwise records how it
ended (``ended.json``, kept until reported: see ``state.py``). ``op_presence`` is what a
local session without a relay holds open to count as present.
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time

# <local-imports> removed when the script is sent: the parts before it define these
from jupyter_remote.remote.protocol import CHANNELS
from jupyter_remote.remote.relay import start_relay
from jupyter_remote.remote.relay_start import FAIL_GRACE
from jupyter_remote.remote.state import (
    _describe_end,
    _kernel_dir,
    _kill_group,
    _read_json,
    _remove_kernel_files,
    _remove_scratch,
    _tail,
    _write_pid,
    _write_private,
)

# </local-imports>


def op_supervise(req):
    """Runs detached (own session). Starts the kernel in its own process group and waits."""
    kdir = _kernel_dir(req["kernel_id"])
    os.umask(0o077)
    _write_pid(os.path.join(kdir, "supervisor.pid"), os.getpid())
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    user_umask = int(req.get("umask", 0o022))

    def child():  # own process group; files the kernel writes get the login's umask
        os.setpgrp()
        os.umask(user_umask)

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
    if relay is not None and not _kernel_started(proc, relay):
        return _failed_start(proc, kdir, relay, req)
    idle_timeout = int(req.get("idle_timeout") or 0)
    if idle_timeout > 0:
        _watch_idle(proc, kdir, idle_timeout, relay)
    returncode = proc.wait()
    _kill_group(proc.pid, signal.SIGKILL)  # children the kernel left behind
    if os.path.exists(os.path.join(kdir, "stopping")) or _ended_on_request(returncode, relay):
        _remove_kernel_files(kdir)
        return None
    _remove_scratch(kdir)  # sockets and cell files die with the kernel; state stays
    _write_private(
        os.path.join(kdir, "ended.json"),
        json.dumps(
            {"returncode": returncode, "reason": _describe_end(returncode), "ended": time.time()}
        ),
    )
    return None


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


def _kernel_started(proc, relay):
    """Until the kernel has answered its relay (True; also when the relay itself broke: the
    kernel then runs without it) or its start failed (False): it exited first, or the
    relay's nudge gave up after startup_timeout."""
    while not relay.ready.wait(0.02):
        if proc.poll() is not None:
            relay.kernel_gone = True  # the nudge stops at once
            return False
    return not relay.nudge_failed and not relay.kernel_gone


def _failed_start(proc, kdir, relay, req):
    """The start failed after the launch answered (the relay listened at once): stop the
    kernel, let its relay tell the local side why (its HELLO answer: the error and the
    log tail the agent used to answer), then leave nothing: no process, no relay.json, no
    key. ``ended.json`` says the same meanwhile, for a launch still waiting (launch.py)."""
    timeout = float(req.get("startup_timeout") or 60)
    slow = proc.poll() is None
    if slow:  # slower than startup_timeout: it goes
        _kill_group(proc.pid, signal.SIGTERM)
        deadline = time.time() + 2
        while proc.poll() is None and time.time() < deadline:
            time.sleep(0.05)
    _kill_group(proc.pid, signal.SIGKILL)  # and whatever it started
    returncode = proc.wait()
    tail = _tail(os.path.join(kdir, "kernel.log"))
    if slow:
        error = "the kernel did not %s within %ss" % (
            "answer" if _bound(req.get("sockdir")) else "open its sockets",
            "%g" % timeout,
        )
        hint = ("Its output:\n" + tail) if tail else ""
    else:
        error = "the kernel exited during startup: %s" % _describe_end(returncode)
        hint = "Its output:\n" + tail if tail else "Is ipykernel installed in that environment?"
    ended = {"returncode": returncode, "reason": _describe_end(returncode), "ended": time.time()}
    ended.update(startup_error=error, hint=hint)
    _write_private(os.path.join(kdir, "ended.json"), json.dumps(ended))
    relay.fail_start(error, hint)
    relay.closed.wait(FAIL_GRACE + 1)
    _remove_kernel_files(kdir)


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


def _watch_idle(proc, kdir, idle_timeout, relay=None):
    """Stop the kernel once it has been idle, with no client, for ``idle_timeout`` seconds.

    Runs in the supervisor. With a relay, its view counts (busy/idle from iopub, a
    local side connected); otherwise listens to iopub itself (pyzmq comes with
    ipykernel) and checks the presence lock; without pyzmq only presence counts.
    """
    if relay is not None:
        while proc.poll() is None and not relay.ready.wait(1):
            pass
        if not relay.failure:
            return _watch_idle_relayed(proc, kdir, idle_timeout, relay)
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
    while proc.poll() is None:
        try:
            news = _idle_step(sub)
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


def _watch_idle_relayed(proc, kdir, idle_timeout, relay):
    last_activity = time.time()
    while proc.poll() is None:
        time.sleep(0.5)
        if relay.busy or relay.client is not None or _present(kdir):
            last_activity = time.time()
            continue
        if time.time() - max(last_activity, relay.last_activity) >= idle_timeout:
            _stop_idle(proc, kdir, idle_timeout)
            return


def _stop_idle(proc, kdir, idle_timeout):
    sys.stderr.write("jupyter-remote: idle for %ss with no client: stopping\n" % idle_timeout)
    _write_private(os.path.join(kdir, "stopping"), "idle timeout")
    _kill_group(proc.pid, signal.SIGTERM)
    deadline = time.time() + 5
    while proc.poll() is None and time.time() < deadline:
        time.sleep(0.1)
    _kill_group(proc.pid, signal.SIGKILL)


def _idle_step(sub):
    """Wait up to 1 s for iopub status; True busy, False idle, "-" no news (None: no zmq)."""
    if sub is None:
        time.sleep(1)
        return None
    state = "-"
    while sub.poll(1000 if state == "-" else 0):
        frames = sub.recv_multipart()
        try:
            i = frames.index(b"<IDS|MSG>")
            header = json.loads(frames[i + 2].decode("utf-8"))
            content = json.loads(frames[i + 5].decode("utf-8"))
        except (ValueError, IndexError):
            continue
        if header.get("msg_type") == "status":
            state = content.get("execution_state") == "busy"
    return state
