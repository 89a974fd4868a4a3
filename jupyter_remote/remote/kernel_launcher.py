"""jupyter-remote kernel launcher: runs ON the remote, as the ipykernel process itself.

The supervisor (``agent.py``, ``op_supervise``) starts ``python launch.py -f
connection.json`` instead of ``python -m ipykernel_launcher``; the agent writes
this file into the kernel's 0700 directory. Stdlib only, Python >= 3.8. Why:

- **The debugger is not a door.** ipykernel's debugger has debugpy listen on a TCP
  port of 127.0.0.1 with no authentication: on a shared host any other user could
  connect to it and evaluate code in the kernel. Loopback TCP cannot be closed to
  other users without root, but the owner of a connecting socket can be known
  (``peer.py``, the part before this one: the kernel's socket diagnostics, else
  ``/proc/net/tcp``, as identd does). Every
  connection debugpy's adapter accepts, and every connection the kernel accepts
  while ``debugpy.listen`` waits for the adapter's endpoints, is checked: only a
  peer socket owned by our own uid gets through; anything else is closed at once,
  unread. The adapter runs through ``debug-python`` (``debugpy.configure(python=
  ...)``, a public API), which applies the same check in the adapter's process.
  Where the check cannot be made (no debugpy.configure, no netlink nor /proc), the
  debugger is switched off: the kernel reports no debugger.
- **ipykernel's cell files stay private and are removed.** The debugger writes
  cells to ``$TMPDIR/ipykernel_<pid>/`` (a predictable name another user could
  create first). It is created here, 0700, checked to be ours, and its path is
  left in ``ipykernel_tmp`` for the supervisor, which removes it when the kernel
  ends. If another user owns it, the debugger is switched off.

- **No TCP port for forked children's output.** ipykernel's IOPub thread binds a ZMQ
  PULL socket on a TCP port of 127.0.0.1 for output from forked subprocesses
  (messages need a random 16-byte token, but any user can connect to it and flood
  the kernel's log). It is moved to an ipc socket in the kernel's private socket
  directory. Where ipykernel's internals differ from what this expects, the port
  stays (still token-gated).

``launch.py --debug-adapter ADAPTER_DIR ARGS...`` (through ``debug-python``) runs
debugpy's adapter with the accept check in place.
"""

import json
import os
import runpy
import shlex
import socket
import stat
import sys
import tempfile

# <local-imports> removed when the script is sent: the parts before it define these
from jupyter_remote.remote.peer import peer_uid

# </local-imports>

HERE = os.path.dirname(os.path.abspath(__file__))
_real_accept = socket.socket.accept
LOOPBACK = ("127.", "::1", "::ffff:127.")


def _guarded_accept(loopback_only):
    def accept(self):
        while True:
            conn, addr = _real_accept(self)
            if self.family not in (socket.AF_INET, socket.AF_INET6):
                return conn, addr
            if loopback_only and not str(self.getsockname()[0]).startswith(LOOPBACK):
                return conn, addr
            uid = peer_uid(conn)
            if uid == os.getuid():
                return conn, addr
            _log(
                "refused a debugger connection from %s (uid %s): only this kernel's "
                "own user may attach" % (addr, uid)
            )
            conn.close()

    return accept


def _log(text):
    """A line in the kernel's log (the adapter's own stderr goes nowhere)."""
    try:
        with open(os.path.join(HERE, "kernel.log"), "a") as f:
            f.write("jupyter-remote: %s\n" % text)
    except OSError:
        sys.stderr.write("jupyter-remote: %s\n" % text)


def can_check_peers():
    """The uid check works here: it finds our own sockets (netlink or /proc/net/tcp)."""
    probe = socket.socket()
    try:
        probe.bind(("127.0.0.1", 0))
        probe.listen(1)
        client = socket.create_connection(probe.getsockname(), timeout=2)
        conn, _ = _real_accept(probe)
        try:
            return peer_uid(conn) == os.getuid()
        finally:
            conn.close()
            client.close()
    except OSError:
        return False
    finally:
        probe.close()


def private_ipykernel_tmp():
    """Create ipykernel's per-process cell directory, 0700; True if it is ours."""
    path = os.path.join(tempfile.gettempdir(), "ipykernel_%d" % os.getpid())
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        st = os.lstat(path)
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
            _log("%s belongs to someone else: debugger switched off" % path)
            return False
    except OSError as exc:
        _log("cannot create %s: %s" % (path, exc))
        return False
    _note("ipykernel_tmp", path)
    return True


def _note(name, text):
    fd = os.open(os.path.join(HERE, name), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def switch_debugger_off():
    """ipykernel decides once, when ipykernel.debugger is first imported."""
    sys.modules["debugpy"] = None  # type: ignore[assignment]
    try:
        import ipykernel.debugger  # noqa: F401
    except ImportError:
        pass
    finally:
        del sys.modules["debugpy"]


def guard_debugger():
    """Have debugpy's adapter, and the kernel while it waits for it, check every peer."""
    try:
        import debugpy
    except ImportError:
        return  # no debugpy: ipykernel offers no debugger anyway
    if not (hasattr(debugpy, "configure") and hasattr(debugpy, "listen")):
        return switch_debugger_off()
    if not (can_check_peers() and private_ipykernel_tmp()):
        return switch_debugger_off()
    wrapper = os.path.join(HERE, "debug-python")
    fd = os.open(wrapper, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o700)
    with os.fdopen(fd, "w") as f:
        f.write(
            '#!/bin/sh\nexec %s %s --debug-adapter "$@"\n'
            % (shlex.quote(sys.executable), shlex.quote(os.path.abspath(__file__)))
        )
    real_listen = debugpy.listen
    configured = []  # type: list[bool]

    def listen(*args, **kwargs):
        # configure() once, here, when a debug session starts: called at every kernel start
        # it cost ~75 ms (debugpy's logging set-up reads every installed distribution's
        # metadata, logged or not); it must still come before the first listen()
        if not configured:
            debugpy.configure(python=wrapper)
            configured.append(True)
        socket.socket.accept = _guarded_accept(loopback_only=True)  # type: ignore[method-assign]
        try:
            return real_listen(*args, **kwargs)
        finally:
            socket.socket.accept = _real_accept  # type: ignore[method-assign]

    debugpy.listen = listen


def private_iopub_pipe(connection_file):
    """Forked children send their output through an ipc socket beside the kernel's."""
    try:
        with open(connection_file) as f:
            sockdir = os.path.dirname(json.load(f)["ip"])
        import zmq
        from ipykernel.iostream import IOPubThread
        from zmq.eventloop.zmqstream import ZMQStream
    except Exception:  # not our layout, or not ipykernel: leave it as it is
        return
    names = ("_setup_pipe_in", "_setup_pipe_out", "_handle_pipe_msg")
    if not (os.path.isdir(sockdir) and all(hasattr(IOPubThread, n) for n in names)):
        return
    address = "ipc://" + os.path.join(sockdir, "pipe")

    def setup_pipe_in(self):
        self._pipe_uuid = os.urandom(16)
        pipe_in = self.socket.context.socket(zmq.PULL)
        pipe_in.linger = 0
        pipe_in.bind(address)
        self._pipe_port = 0
        self._pipe_in = ZMQStream(pipe_in, self.io_loop)
        self._pipe_in.on_recv(self._handle_pipe_msg)

    def setup_pipe_out(self):
        ctx = zmq.Context()  # a new context after the fork, as ipykernel does
        pipe_out = ctx.socket(zmq.PUSH)
        pipe_out.linger = 3000
        pipe_out.connect(address)
        return ctx, pipe_out

    IOPubThread._setup_pipe_in = setup_pipe_in  # type: ignore[method-assign]
    IOPubThread._setup_pipe_out = setup_pipe_out  # type: ignore[method-assign]


def _connection_file(argv):
    for i, arg in enumerate(argv):
        if arg == "-f" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--f=") or arg.startswith("--IPKernelApp.connection_file="):
            return arg.split("=", 1)[1]
    return ""


def run_adapter(argv):
    """``--debug-adapter ADAPTER_DIR ARGS...``: debugpy's adapter, every peer checked."""
    socket.socket.accept = _guarded_accept(loopback_only=False)  # type: ignore[method-assign]
    adapter = argv[0]
    sys.argv = list(argv)
    runpy.run_path(adapter, run_name="__main__")


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--debug-adapter":
        return run_adapter(sys.argv[2:])
    if sys.path and os.path.realpath(sys.path[0] or ".") == os.path.realpath(HERE):
        del sys.path[0]  # our own directory is not the user's
    guard_debugger()
    private_iopub_pipe(_connection_file(sys.argv[1:]))
    from ipykernel import kernelapp

    kernelapp.launch_new_instance()


if __name__ == "__main__":
    main()
