"""The relay's byte stream over plain stdin/stdout: the agent's ``connect`` operation.

Part of the agent script (see ``jupyter_remote/remote/__init__.py``). Stdlib only,
Python >= 3.8. ``op_connect`` connects to the relay's private unix socket of one kernel
(``relay.json`` in its 0700 directory names it), says so on stdout in one marked line,
then copies bytes both ways until either side closes: stdin to the relay, the relay to
stdout. Who runs it:

- an SSH exec channel, when the server's channel transport is ``exec`` (an sshd that
  forbids socket and TCP forwarding: the relay rides the channel itself);
- ``srun --jobid=J --overlap`` on a cluster's login node, for a kernel inside a Slurm
  job: the bytes then cross Slurm's own authenticated step I/O to the compute node,
  and nothing listens anywhere that another user of the cluster could reach.

A new connector attaches to the same relay after a reconnect; the relay takes the
newest client (``relay.py``), so a connector left over from a dead link is dropped.
"""

import json
import os
import socket
import sys
import threading
from typing import Any

# <local-imports> removed when the script is sent: the parts before it define these
from jupyter_remote.remote.protocol import STREAM_MARKER
from jupyter_remote.remote.state import AgentError, _kernel_dir, _read_json

# </local-imports>

CHUNK = 256 * 1024


def op_connect(req):
    """Pipe stdin/stdout to the kernel's relay; the answer line says whether it could."""
    try:
        sock = _relay_socket(req.get("kernel_id"))
    except AgentError as exc:
        _say({"ok": False, "error": exc.message, "hint": exc.hint})
        return None
    _say({"ok": True})
    threading.Thread(target=_stdin_to_relay, args=(sock,), daemon=True).start()
    _relay_to_stdout(sock)
    return None


def _relay_socket(kernel_id):
    """A connected socket to the relay of ``kernel_id`` (owned by us), or AgentError."""
    kdir = _kernel_dir(kernel_id)
    where = _read_json(os.path.join(kdir, "relay.json")) or {}
    path = where.get("path")
    if not path:
        raise AgentError(
            "kernel %s has no relay here" % kernel_id,
            "The kernel ended, or runs on another node: start it again.",
        )
    try:
        if os.stat(path).st_uid != os.getuid():
            raise AgentError("the relay socket of kernel %s is not ours" % kernel_id)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(10)
        sock.connect(path)
        sock.settimeout(None)
    except OSError as exc:
        raise AgentError(
            "cannot reach the relay of kernel %s: %s" % (kernel_id, exc.strerror or exc),
            "The kernel may have ended; its status says why.",
        ) from None
    return sock


def _say(answer):
    """The one marked answer line, before any stream byte (login noise may precede it)."""
    sys.stdout.flush()
    os.write(1, (STREAM_MARKER + json.dumps(answer) + "\n").encode("utf-8"))


def _stdin_to_relay(sock):
    """stdin (what the bootstrap left buffered first) to the relay; EOF half-closes."""
    reader: Any = sys.stdin.buffer  # a BufferedReader: read1 gives what it holds first
    try:
        while True:
            data = reader.read1(CHUNK)
            if not data:
                break
            sock.sendall(data)
    except OSError:
        pass
    try:
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def _relay_to_stdout(sock):
    """The relay's bytes to stdout until it closes (the kernel ended) or stdout does."""
    try:
        while True:
            data = sock.recv(CHUNK)
            if not data:
                return
            view = memoryview(data)
            while view:
                view = view[os.write(1, view) :]
    except OSError:
        return
    finally:
        sock.close()
