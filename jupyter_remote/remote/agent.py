"""jupyter-remote agent: runs ON the remote host, sent over stdin, never installed.

The last part of the agent script (protocol, state, relay, supervisor, agent: see
``jupyter_remote/remote/__init__.py``). Stdlib only, Python >= 3.8. Reads one JSON
request from stdin after the bootstrap framing, writes one JSON answer line on
stdout. The HMAC key arrives on stdin and is written only to a 0600 connection
file inside the 0700 kernel directory (and scrubbed once the kernel has read it).

Operations (``op``):

- ``launch``: start a kernel detached under its supervisor (``supervisor.py``); wait
  until its sockets exist; answer pid, socket paths and the relay's address.
- ``supervise``: the supervisor process itself (internal).
- ``status``, ``signal``, ``stop``, ``list``, ``connection``, ``presence``: what the
  provisioner, re-attaching and the ``jupyter remote kernel`` commands need.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

# <local-imports> removed when the script is sent: the parts before it define these
from jupyter_remote.remote.protocol import BOOTSTRAP, CHANNELS, MAX_SOCKET_PATH, SOCKET_NAMES
from jupyter_remote.remote.relay import DEFAULT_BUFFER_BYTES, query_relay
from jupyter_remote.remote.state import (
    KERNEL_ID,
    KERNELS,
    ROOT,
    AgentError,
    _alive,
    _describe_end,
    _kernel_dir,
    _kill_group,
    _private_dir,
    _read_int,
    _read_json,
    _remove_kernel_files,
    _tail,
    _write_private,
)
from jupyter_remote.remote.supervisor import op_presence, op_supervise

# </local-imports>


# ----------------------------------------------------------------- helpers


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
            [sys.executable, "-c", BOOTSTRAP],
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
