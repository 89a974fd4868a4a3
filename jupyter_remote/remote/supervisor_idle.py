"""A kernel's idle timeout: stopped once it has been idle, with no client, that long;
and the presence lock a local session without a relay holds to count as a client.

Part of the agent script, after ``supervisor_start.py``. ``supervisor._supervise`` runs
:func:`_watch_idle` on its main thread when the launch asked for an idle timeout;
``agent.py`` answers the ``presence`` request with :func:`op_presence`, held open by each
local session for as long as its link lives.
"""

import json
import os
import signal
import sys
import time

# <local-imports> removed when the script is sent: the parts before it define these
from jupyter_remote.remote.kernel_stop import _end_session, _kill_group
from jupyter_remote.remote.relay_kernel import _header_field
from jupyter_remote.remote.state import _kernel_dir, _read_json, _write_private
from jupyter_remote.remote.supervisor_end import _stop_all

# </local-imports>


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
    """:func:`_watch_idle` once the relay answered: busy/idle and a client are its view."""
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
    """The idle timeout struck: marked ``stopping`` (nothing is kept), SIGTERM to the
    kernel and our session, up to 5 s, SIGKILL; :func:`_watch_idle` then returns."""
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
