"""jupyter-remote agent: runs ON the remote host, sent over stdin, never installed.

Stdlib only, Python >= 3.8. Reads one JSON request from stdin (after the
bootstrap framing, see ``jupyter_remote/remote/__init__.py``), writes one JSON
answer line on stdout. The HMAC key arrives on stdin and is written only to a
0600 connection file inside a 0700 per-kernel directory.

Operations (``op``):

- ``launch``: start a kernel detached under a small supervisor; wait until its
  sockets exist; answer pid and socket paths (ipc) or ports (tcp fallback).
- ``supervise``: internal; the supervisor process runs the kernel in its own
  process group, waits for it, records how it ended, and removes the kernel
  directory when a stop was requested.
- ``status``, ``signal``, ``stop``, ``list``: what the provisioner and the
  ``jupyter remote kernel`` commands need.

State: ``~/.local/share/jupyter-remote/kernels/<kernel_id>/`` holding
``info.json``, ``connection.json``, ``kernel.log``, ``kernel.pid``,
``supervisor.pid``, ``ended.json`` (after a crash) and the ipc sockets.
"""

import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time

try:
    start_relay  # noqa: B018 - defined when relay.py precedes this file in one script (kernel_agent.py)
except NameError:  # imported on its own, locally
    from jupyter_remote.remote.relay import DEFAULT_BUFFER_BYTES, query_relay, start_relay

ROOT = os.path.join(os.path.expanduser("~"), ".local", "share", "jupyter-remote")
KERNELS = os.path.join(ROOT, "kernels")
KERNEL_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
CHANNELS = ("shell", "iopub", "stdin", "control", "hb")
#: socket files in a kernel's socket directory: its five channels (k-1 .. k-5), the relay
SOCKET_NAMES = ("k-1", "k-2", "k-3", "k-4", "k-5", "relay")
MAX_SOCKET_PATH = 100  # sun_path is 108 bytes on Linux, 104 on macOS
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


# ----------------------------------------------------------------- helpers


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


def _read_int(path):
    try:
        with open(path) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


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


def _kernel_dir(kernel_id):
    if not isinstance(kernel_id, str) or not KERNEL_ID.match(kernel_id):
        raise AgentError("invalid kernel id")
    return os.path.join(KERNELS, kernel_id)


def _tail(path, lines=20):
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - 8192))
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def _describe_end(returncode):
    if returncode is None:
        return "gone (the kernel process no longer exists)"
    if returncode < 0:
        name = SIGNAL_NAMES.get(-returncode, "signal %d" % -returncode)
        if -returncode == signal.SIGKILL:
            return "killed by SIGKILL (out of memory, or kill -9)"
        return "killed by %s" % name
    return "exited with status %d" % returncode


def _find_kernelspec(name):
    dirs = [
        os.path.join(os.path.expanduser("~"), ".local", "share", "jupyter", "kernels"),
        os.path.join(sys.prefix, "share", "jupyter", "kernels"),
        "/usr/local/share/jupyter/kernels",
        "/usr/share/jupyter/kernels",
    ]
    for d in dirs:
        spec = _read_json(os.path.join(d, name, "kernel.json"))
        if spec and spec.get("argv"):
            return os.path.join(d, name), spec
    raise AgentError("no kernelspec named %r on this host" % name)


# ----------------------------------------------------------------- operations


def op_launch(req):
    """Start a kernel under a detached supervisor; answer once its sockets are up."""
    kernel_id = req.get("kernel_id")
    kdir = _kernel_dir(kernel_id)
    user_umask = os.umask(0o077)  # our state is private; the kernel gets user_umask back
    sockdir = None
    try:
        _fresh_kernel_dir(kdir, kernel_id)
        cwd = _checked_cwd(req.get("cwd"), kdir)
        sockdir = _socket_dir()
        conn_file = _write_connection(kdir, sockdir, req)
        argv, spec_env = _kernel_argv(req, kdir, conn_file)
        env = _kernel_env(req, spec_env, kernel_id)
        info = _write_info(kdir, req, argv, cwd, sockdir)
        relay = bool(req.get("relay", True))
        sup = _start_supervisor(
            kdir,
            {
                "op": "supervise",
                "kernel_id": kernel_id,
                "argv": argv,
                "cwd": cwd,
                "env": env,
                "umask": user_umask,
                "sockdir": sockdir,
                "idle_timeout": info["idle_timeout"],
                "relay": relay,
                "relay_tcp": bool(req.get("relay_tcp")),
                "relay_token": req.get("relay_token") or "",
                "buffer_bytes": int(req.get("buffer_bytes") or DEFAULT_BUFFER_BYTES),
                "startup_timeout": float(req.get("startup_timeout") or 60),
            },
        )
    except BaseException:
        shutil.rmtree(kdir, ignore_errors=True)
        if sockdir:
            shutil.rmtree(sockdir, ignore_errors=True)
        raise
    finally:
        os.umask(user_umask)
    return _wait_started(kdir, sup, req, relay)


def _fresh_kernel_dir(kdir, kernel_id):
    """The kernel's private state directory, empty (a dead kernel's leftovers go)."""
    _private_dir(ROOT)
    _private_dir(KERNELS)
    if os.path.isdir(kdir):
        if _alive(_read_int(os.path.join(kdir, "kernel.pid"))):
            raise AgentError("kernel %s is already running" % kernel_id)
        _remove_kernel_files(kdir)
    _private_dir(kdir)


def _checked_cwd(cwd, kdir):
    cwd = os.path.expanduser(cwd or "~")
    if not os.path.isdir(cwd):
        raise AgentError(
            "working directory %r does not exist on the remote" % cwd,
            "Create it, or change the profile's working directory.",
        )
    return cwd


def _socket_dir():
    """A short private directory (0700, random name) for the kernel's and relay's sockets.

    The kernel directory under $HOME can be too long for a socket path (sun_path is
    108 bytes): any home of ~23+ characters was. There is no TCP fallback: another
    user of the host could connect to a TCP port (invariant 10)."""
    for base in (os.environ.get("TMPDIR"), "/tmp", "/var/tmp", "/dev/shm"):
        if not base or not os.path.isabs(base) or not os.path.isdir(base):
            continue
        if len(base) + len("/jr-XXXXXXXX/") + len(SOCKET_NAMES[-1]) > MAX_SOCKET_PATH:
            continue
        try:
            return tempfile.mkdtemp(prefix="jr-", dir=base)
        except OSError:
            continue
    raise AgentError(
        "found no short, writable temporary directory for the kernel's sockets",
        "The kernel needs /tmp (or a short $TMPDIR) to be writable.",
    )


def _write_connection(kdir, sockdir, req):
    """connection.json (0600) with the HMAC key (scrubbed once the kernel has read it)."""
    conn = {
        "key": req["key"],
        "signature_scheme": req.get("signature_scheme") or "hmac-sha256",
        "transport": "ipc",
        "ip": os.path.join(sockdir, "k"),
        "kernel_name": req.get("kernel_name") or "",
    }
    for n, name in enumerate(CHANNELS, 1):
        conn[name + "_port"] = n
    conn_file = os.path.join(kdir, "connection.json")
    _write_private(conn_file, json.dumps(conn))
    return conn_file


def _kernel_argv(req, kdir, conn_file):
    """The kernel's command line and its kernelspec's env; ipykernel goes through our
    launcher (kernel_launcher.py: the debugger only for this user, private cell files)."""
    launcher = os.path.join(kdir, "launch.py")
    if req.get("launcher"):
        _write_private(launcher, req["launcher"])
    if req.get("kernelspec"):
        resource_dir, spec = _find_kernelspec(req["kernelspec"])
        argv = [
            a.replace("{connection_file}", conn_file).replace("{resource_dir}", resource_dir)
            for a in spec["argv"]
        ]
        if req.get("launcher") and argv[1:3] == ["-m", "ipykernel_launcher"]:
            argv[1:3] = [launcher]
        return argv, spec.get("env") or {}
    python = os.path.expanduser(req.get("python") or "")
    if not (python and os.access(python, os.X_OK)):
        raise AgentError(
            "python %r is not an executable on the remote" % python,
            "Pick an environment from `jupyter remote env list SERVER`.",
        )
    if req.get("launcher"):
        return [python, launcher, "-f", conn_file], {}
    return [python, "-m", "ipykernel_launcher", "-f", conn_file], {}


def _kernel_env(req, spec_env, kernel_id):
    env = dict(os.environ)
    env.update(spec_env)
    env.update(req.get("env") or {})
    env["JUPYTER_REMOTE_KERNEL_ID"] = kernel_id
    env.pop("JPY_PARENT_PID", None)
    return env


def _write_info(kdir, req, argv, cwd, sockdir):
    info = {
        "kernel_id": req.get("kernel_id"),
        "argv": argv,
        "python": req.get("python") or argv[0],
        "kernelspec": req.get("kernelspec"),
        "cwd": cwd,
        "profile": req.get("profile") or "",
        "server": req.get("server") or "",
        "started": time.time(),
        "transport": "ipc",
        "sockdir": sockdir,
        "idle_timeout": int(req.get("idle_timeout") or 0),
    }
    _write_private(os.path.join(kdir, "info.json"), json.dumps(info))
    return info


def _start_supervisor(kdir, payload):
    """The supervisor runs this same script detached (own session), fed on stdin."""
    log = os.open(os.path.join(kdir, "kernel.log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        sup = subprocess.Popen(
            [sys.executable, "-c", BOOT],
            stdin=subprocess.PIPE,
            stdout=log,
            stderr=log,
            cwd=kdir,
            start_new_session=True,
            close_fds=True,
        )
    finally:
        os.close(log)
    body = _own_source().encode("utf-8")
    assert sup.stdin is not None
    sup.stdin.write(str(len(body)).encode() + b"\n" + body + json.dumps(payload).encode() + b"\n")
    sup.stdin.close()
    return sup


def _wait_started(kdir, sup, req, relay_wanted):
    """Until the kernel's sockets and its relay are up; its exit or a timeout fail."""
    timeout = float(req.get("startup_timeout") or 60)
    deadline = time.time() + timeout
    info = _read_json(os.path.join(kdir, "info.json")) or {}
    base = os.path.join(info["sockdir"], "k")
    pid_file = os.path.join(kdir, "kernel.pid")
    log_path = os.path.join(kdir, "kernel.log")
    while True:
        pid = _read_int(pid_file)
        up = all(os.path.exists("%s-%d" % (base, n)) for n in range(1, len(CHANNELS) + 1))
        if pid and up and not (relay_wanted and not _relay_settled(kdir)):
            break
        ended = _read_json(os.path.join(kdir, "ended.json"))
        if ended or (sup.poll() is not None and not pid):
            tail = _tail(log_path)
            _stop_dir(kdir, 1)
            raise AgentError(
                "the kernel exited during startup: %s" % ((ended or {}).get("reason") or "unknown"),
                "Its output:\n" + tail if tail else "Is ipykernel installed in that environment?",
            )
        if time.time() > deadline:
            tail = _tail(log_path)
            _stop_dir(kdir, 3)
            raise AgentError(
                "the kernel did not open its sockets within %ss" % timeout,
                ("Its output:\n" + tail) if tail else "",
            )
        time.sleep(0.05)
    try:
        pgid = os.getpgid(pid)
    except OSError:
        pgid = pid
    answer = {"pid": pid, "pgid": pgid, "transport": "ipc", "dir": kdir, "channels": {}}
    for n, name in enumerate(CHANNELS, 1):
        answer["channels"][name] = "%s-%d" % (base, n)
    answer.update(_relay_answer(kdir))
    return answer


def _relay_settled(kdir):
    """The supervisor's relay is listening (relay.json), or has said why it is not."""
    return os.path.exists(os.path.join(kdir, "relay.json")) or os.path.exists(
        os.path.join(kdir, "relay.none")
    )


def _relay_answer(kdir):
    """``relay``: the relay's socket path (and ``relay_port`` when it also listens on
    TCP), or None with ``relay_note`` saying why there is no relay."""
    where = _read_json(os.path.join(kdir, "relay.json"))
    if where and os.path.exists(where.get("path") or ""):
        return {"relay": where["path"], "relay_port": where.get("port")}
    note = ""
    try:
        with open(os.path.join(kdir, "relay.none")) as f:
            note = f.read().strip()
    except OSError:
        pass
    return {"relay": None, "relay_note": note or "no relay"}


def op_supervise(req):
    """Runs detached (own session). Starts the kernel in its own process group and waits."""
    kdir = _kernel_dir(req["kernel_id"])
    os.umask(0o077)
    _write_private(os.path.join(kdir, "supervisor.pid"), str(os.getpid()))
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
    _write_private(os.path.join(kdir, "kernel.pid"), str(proc.pid))
    _keep_fresh(req.get("sockdir"))
    relay = None
    if req.get("relay"):
        relay = start_relay(
            kdir,
            req.get("buffer_bytes"),
            float(req.get("startup_timeout") or 60),
            tcp_token=req.get("relay_token") if req.get("relay_tcp") else None,
        )
    idle_timeout = int(req.get("idle_timeout") or 0)
    if idle_timeout > 0:
        _watch_idle(proc, kdir, idle_timeout, relay)
    returncode = proc.wait()
    _kill_group(proc.pid, signal.SIGKILL)  # children the kernel left behind
    if os.path.exists(os.path.join(kdir, "stopping")):
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


def _remove_owned_tree(path):
    """rm -r ``path`` if it is a real directory of ours (never through a symlink)."""
    try:
        st = os.lstat(path)
    except OSError:
        return
    if stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid():
        shutil.rmtree(path, ignore_errors=True)


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


def _kill_group(pgid, signum):
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def _remove_empty_parents():
    for d in (KERNELS, ROOT):
        try:
            os.rmdir(d)
        except OSError:
            return


def _status(kernel_id):
    kdir = _kernel_dir(kernel_id)
    if not os.path.isdir(kdir):
        return {"kernel_id": kernel_id, "state": "missing", "reason": "no such kernel on this host"}
    pid = _read_int(os.path.join(kdir, "kernel.pid"))
    ended = _read_json(os.path.join(kdir, "ended.json"))
    info = _read_json(os.path.join(kdir, "info.json")) or {}
    out = {
        "kernel_id": kernel_id,
        "pid": pid,
        "python": info.get("python"),
        "kernelspec": info.get("kernelspec"),
        "cwd": info.get("cwd"),
        "profile": info.get("profile"),
        "server": info.get("server"),
        "started": info.get("started"),
        "idle_timeout": info.get("idle_timeout"),
    }
    if ended:
        out.update(state="dead", returncode=ended.get("returncode"), reason=ended.get("reason"))
    elif pid and _alive(pid):
        out.update(state="running")
    elif pid is None and _alive(_read_int(os.path.join(kdir, "supervisor.pid"))):
        out.update(state="starting")
    else:
        out.update(state="dead", returncode=None, reason=_describe_end(None))
    return out


def op_status(req):
    return _status(req.get("kernel_id"))


def op_connection(req):
    """For re-attaching: the running kernel's key and channel targets (sent over SSH only)."""
    kdir = _kernel_dir(req.get("kernel_id"))
    status = _status(req.get("kernel_id"))
    if status["state"] != "running":
        raise AgentError("kernel %s is not running (%s)" % (req.get("kernel_id"), status["state"]))
    conn = _read_json(os.path.join(kdir, "connection.json")) or {}
    channels = {name: "%s-%s" % (conn["ip"], conn.get(name + "_port")) for name in CHANNELS}
    answer = {
        "key": conn.get("key"),
        "signature_scheme": conn.get("signature_scheme"),
        "transport": conn.get("transport"),
        "channels": channels,
        "pid": status.get("pid"),
        "profile": status.get("profile"),
    }
    answer.update(_relay_answer(kdir))
    if answer["relay"]:  # the key was scrubbed from the file: the relay holds it
        try:
            info = query_relay(answer["relay"])
        except (OSError, ValueError) as exc:
            raise AgentError("the kernel's relay does not answer: %s" % exc) from None
        answer["key"] = info.get("key")
        answer["signature_scheme"] = info.get("signature_scheme")
        answer["relay_token"] = info.get("token") or ""
    return answer


def op_signal(req):
    kdir = _kernel_dir(req.get("kernel_id"))
    pid = _read_int(os.path.join(kdir, "kernel.pid"))
    signum = int(req.get("signum", signal.SIGINT))
    if not pid or not _alive(pid):
        return {
            "sent": False,
            "reason": "not running",
        }  # like Popen.send_signal on an exited process
    try:
        os.killpg(os.getpgid(pid), signum)
    except OSError:
        os.kill(pid, signum)
    return {"sent": signum}


def _stop_dir(kdir, timeout):
    _write_private(os.path.join(kdir, "stopping"), "")
    pid = _read_int(os.path.join(kdir, "kernel.pid"))
    sup = _read_int(os.path.join(kdir, "supervisor.pid"))
    if pid:
        _kill_group(pid, signal.SIGTERM)
        deadline = time.time() + timeout
        while _alive(pid) and time.time() < deadline:
            time.sleep(0.05)
        _kill_group(pid, signal.SIGKILL)
    deadline = time.time() + 5
    while _alive(sup) and time.time() < deadline:
        time.sleep(0.05)
    if sup and _alive(sup):
        try:
            os.kill(sup, signal.SIGKILL)
        except OSError:
            pass
    _remove_kernel_files(kdir)


def op_stop(req):
    kdir = _kernel_dir(req.get("kernel_id"))
    if not os.path.isdir(kdir):
        return {"stopped": False, "reason": "no such kernel on this host"}
    _stop_dir(kdir, float(req.get("timeout") or 5))
    return {"stopped": True}


def op_list(req):
    kernels = []
    try:
        names = sorted(os.listdir(KERNELS))
    except OSError:
        names = []
    for name in names:
        if KERNEL_ID.match(name):
            kernels.append(_status(name))
    return {"kernels": kernels}


OPS = {
    "launch": op_launch,
    "supervise": op_supervise,
    "status": op_status,
    "signal": op_signal,
    "stop": op_stop,
    "list": op_list,
    "presence": op_presence,
    "connection": op_connection,
}

BOOT = (
    "import sys;n=int(sys.stdin.buffer.readline());_jr_src=sys.stdin.buffer.read(n);"
    "exec(compile(_jr_src,'<jupyter-remote>','exec'))"
)


def _own_source():
    """This script's text: the bootstrap keeps it in the global ``_jr_src``."""
    return globals()["_jr_src"].decode("utf-8")


def main():
    raw = sys.stdin.buffer.readline()  # one JSON line; presence keeps stdin open after it
    try:
        req = json.loads(raw.decode("utf-8"))
        op = OPS[req["op"]]
    except (ValueError, KeyError, TypeError):
        sys.stdout.write(json.dumps({"ok": False, "error": "bad request"}) + "\n")
        return 2
    try:
        result = op(req)
    except AgentError as exc:
        sys.stdout.write(json.dumps({"ok": False, "error": exc.message, "hint": exc.hint}) + "\n")
        return 1
    if req["op"] not in ("supervise", "presence"):
        sys.stdout.write(json.dumps({"ok": True, "result": result}) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
