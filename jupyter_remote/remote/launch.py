"""Starting a kernel on the remote: the agent's ``launch`` operation, in named steps.

Part of the agent script (protocol, state, relay, supervisor, launch, agent: see
``jupyter_remote/remote/__init__.py``). Stdlib only, Python >= 3.8. ``op_launch``
makes the kernel's private state directory and a short private socket directory,
writes the connection file (the HMAC key arrives on stdin), forks the supervisor
detached (``supervisor.py``: the same interpreter, no second start-up), and waits until
the kernel's relay listens (woken by the supervisor's pipe; without a relay, until the
kernel has bound its sockets); it answers the pid, the socket paths and where the relay
listens, so the local side attaches to the relay while the kernel boots: the relay
answers its HELLO once the kernel has answered, or with why its start failed
(``relay_start.py``).
"""

import json
import os
import select
import shutil
import socket
import sys
import tempfile
import time
import traceback

# <local-imports> removed when the script is sent: the parts before it define these
from jupyter_remote.remote.kernel_dirs import (
    _forget_old_ends,
    _make_kernel_dir,
    _remove_kernel_files,
)
from jupyter_remote.remote.kernel_stop import _stop_dir
from jupyter_remote.remote.pid_files import _alive, _read_int
from jupyter_remote.remote.protocol import CHANNELS, MAX_SOCKET_PATH, SOCKET_NAMES
from jupyter_remote.remote.relay import DEFAULT_BUFFER_BYTES
from jupyter_remote.remote.slurm import hand_to_holder
from jupyter_remote.remote.standby import mark_standby
from jupyter_remote.remote.state import (
    KERNELS,
    ROOT,
    AgentError,
    _kernel_dir,
    _private_dir,
    _read_json,
    _tail,
    _write_private,
)
from jupyter_remote.remote.supervisor import op_supervise

# </local-imports>


def op_launch(req):
    """Start a kernel under a detached supervisor; answer once its sockets are up."""
    kernel_id = req.get("kernel_id")
    kdir = _kernel_dir(kernel_id)
    user_umask = os.umask(0o077)  # our state is private; the kernel gets user_umask back
    sockdir = None
    try:
        sockdir = _socket_dir()
        _fresh_kernel_dir(kdir, kernel_id, {"sockdir": sockdir, "job": req.get("job") or None})
        cwd = _checked_cwd(req.get("cwd"), kdir)
        conn_file = _write_connection(kdir, sockdir, req)
        argv, spec_env = _kernel_argv(req, kdir, conn_file)
        env = _kernel_env(req, spec_env, kernel_id)
        info = _write_info(kdir, req, argv, cwd, sockdir)
        if req.get("standby"):  # a profile's standby until taken (standby.py)
            mark_standby(kdir, req)
        relay = bool(req.get("relay", True))
        start = _in_job(req) if req.get("job") else _start_supervisor
        sup = start(
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


def _fresh_kernel_dir(kdir, kernel_id, early_info):
    """The kernel's private state directory, new, marked as being launched by this
    process (kernel_dirs._make_kernel_dir), with ``early_info`` as info.json from the start
    (its socket directory goes with it if the launch is killed; a job's kernel is one at
    once: a list on the login node skips it); a dead kernel's leftovers go, and the
    records of kernels that died long ago (state.ENDED_KEPT)."""
    _forget_old_ends()
    _private_dir(ROOT)
    _private_dir(KERNELS)
    if os.path.isdir(kdir):
        if _alive(_read_int(os.path.join(kdir, "kernel.pid"))):
            raise AgentError("kernel %s is already running" % kernel_id)
        _remove_kernel_files(kdir)
    _make_kernel_dir(kdir, {"info.json": json.dumps(early_info)})


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
    """The kernel's environment; in a job only what is added (the holder's is the base)."""
    env = {} if req.get("job") else dict(os.environ)
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
        "job": req.get("job") or None,
    }
    _write_private(os.path.join(kdir, "info.json"), json.dumps(info))
    return info


def _in_job(req):
    """In a Slurm job: the job's holder runs the supervisor (``slurm.py``, ``job.py``)."""

    def start(kdir, payload):
        return hand_to_holder(
            kdir, req["job"], sys.executable, _own_source(), payload, _own_loader()
        )

    return start


def _start_supervisor(kdir, payload):
    """The supervisor is this agent, forked: no second interpreter to start and no
    second compile of the script before the kernel's process exists. The child leaves
    the agent's session (``setsid``) and its SSH channel (stdin from /dev/null, output to
    kernel.log), then runs ``op_supervise``; it says on a pipe when the relay has settled
    (``_wait_started`` wakes on it instead of waiting out its poll interval)."""
    log = os.open(os.path.join(kdir, "kernel.log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    ready_r, ready_w = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        pid = os.fork()
    except BaseException:
        for fd in (log, ready_r, ready_w):
            os.close(fd)
        raise
    if pid == 0:  # the supervisor: never returns into the agent's main()
        os.close(ready_r)
        _run_forked_supervisor(kdir, log, dict(payload, ready_fd=ready_w))
    os.close(log)
    os.close(ready_w)
    return ForkedSupervisor(pid, ready_r)


def _run_forked_supervisor(kdir, log, payload):
    """In the forked child: detach, then supervise the kernel until it ends; exits."""
    code = 1
    try:
        os.setsid()
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(null)
        os.close(log)
        os.chdir(kdir)
        op_supervise(payload)
        code = 0
    except BaseException:
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


class ForkedSupervisor:
    """The agent's handle on the supervisor it forked: ``poll`` as ``Popen.poll``;
    ``ready_fd`` the pipe's end the supervisor writes to (or closes, by exiting)."""

    def __init__(self, pid, ready_fd):
        self.pid = pid
        self.ready_fd = ready_fd
        self.returncode = None

    def poll(self):
        if self.returncode is None:
            try:
                done, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                done, status = self.pid, 0
            if done:
                self.returncode = status >> 8 if status & 0x7F == 0 else -(status & 0x7F)
        return self.returncode

    def nap(self, seconds):
        """Sleep ``seconds``, or less when the supervisor writes or exits."""
        if self.ready_fd is None:
            time.sleep(seconds)
            return
        readable, _, _ = select.select([self.ready_fd], [], [], seconds)
        if readable and not os.read(self.ready_fd, 64):  # exited: poll alone from now on
            os.close(self.ready_fd)
            self.ready_fd = None


def _own_source():
    """This script's text: the bootstrap keeps it in the global ``_jr_src``."""
    return globals()["_jr_src"].decode("utf-8")


def _own_loader():
    """The bytecode cache's loader this script ran behind (``bootcache.py`` keeps its text
    in ``_jr_loader``), or None: a job's holder starts the supervisor behind it, so that
    it loads the cached code instead of compiling the script (~11 MB of RSS kept in a
    job's memory; s29)."""
    loader = globals().get("_jr_loader")
    return loader.decode("utf-8") if isinstance(loader, bytes) else None


def _wait_started(kdir, sup, req, relay_wanted):
    """Until the kernel's relay listens (it holds the local side's HELLO until the kernel
    has answered it, or says why the start failed: ``relay_start.py``), or without a relay
    until the kernel has bound its sockets; its exit or a timeout fail."""
    timeout = float(req.get("startup_timeout") or 60)
    deadline = time.time() + timeout
    info = _read_json(os.path.join(kdir, "info.json")) or {}
    base = os.path.join(info["sockdir"], "k")
    pid_file = os.path.join(kdir, "kernel.pid")
    log_path = os.path.join(kdir, "kernel.log")
    while True:
        pid = _read_int(pid_file)
        if pid and _answerable(kdir, base, relay_wanted):
            break
        ended = _read_json(os.path.join(kdir, "ended.json"))
        if ended or (sup.poll() is not None and not pid):
            tail = _tail(log_path)
            _stop_dir(kdir, 1)
            ended = ended or {}
            if ended.get("startup_error"):  # the supervisor said it (supervisor_start.py)
                raise AgentError(ended["startup_error"], ended.get("hint") or "")
            raise AgentError(
                "the kernel exited during startup: %s" % (ended.get("reason") or "unknown"),
                "Its output:\n" + tail if tail else "Is ipykernel installed in that environment?",
            )
        if time.time() > deadline:
            tail = _tail(log_path)
            _stop_dir(kdir, 3)
            raise AgentError(
                "the kernel did not open its sockets within %ss" % timeout,
                ("Its output:\n" + tail) if tail else "",
            )
        _nap(sup, 0.01 if isinstance(sup, ForkedSupervisor) else 0.05)
    try:
        pgid = os.getpgid(pid)
    except OSError:
        pgid = pid
    answer = {"pid": pid, "pgid": pgid, "transport": "ipc", "dir": kdir, "channels": {}}
    if req.get("job"):
        answer.update(job=req["job"], node=socket.gethostname())
    for n, name in enumerate(CHANNELS, 1):
        answer["channels"][name] = "%s-%d" % (base, n)
    answer.update(_relay_answer(kdir))
    return answer


def _nap(sup, seconds):
    """The wait between two looks: cut short by a forked supervisor's word."""
    nap = getattr(sup, "nap", None)
    if nap is not None:
        nap(seconds)
    else:  # a holder's supervisor (Slurm job): nothing to wake us
        time.sleep(seconds)


def _answerable(kdir, base, relay_wanted):
    """The launch may answer: the relay listens (relay.json), or there is none (not
    wanted, or relay.none says why) and the kernel has bound its sockets."""
    if relay_wanted and os.path.exists(os.path.join(kdir, "relay.json")):
        return True
    if relay_wanted and not os.path.exists(os.path.join(kdir, "relay.none")):
        return False
    return all(os.path.exists("%s-%d" % (base, n)) for n in range(1, len(CHANNELS) + 1))


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
