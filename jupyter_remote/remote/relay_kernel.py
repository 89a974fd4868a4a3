"""The relay's side facing the kernel: runs ON the remote, part of the agent script.

Mixed into ``Relay`` (``relay.py``, the next part), whose ``run`` calls
``_connect_kernel``, ``_nudge`` and ``_scrub_key`` at start and then
``_serve_kernel``, after which the event loop reads the kernel's sockets (``_drain``)
and ``Relay._from_client`` writes to them (``_to_kernel``): the ZMQ sockets on the
kernel's channels (ipc, in its private directory), signing of the relay's own
kernel_info requests, the startup nudge that proves the iopub subscription, the
key scrub of the connection file, reading what the kernel sends into the relay's
numbered buffer (``Relay._append``), and writing it to the client at once when nothing
waits before it (``_write_at_once``). Stdlib + pyzmq, Python >= 3.8.
"""

import hashlib
import hmac
import json
import os
import sys
import time
import uuid
from typing import Any, Callable, Dict, List, Optional, Set

# <local-imports> removed when the script is sent: the parts before it define these
from jupyter_remote.remote.protocol import (
    BIG_PART,
    HB,
    MSG,
    RELAYED,
    encode_record,
    is_shutdown_reply,
    json_part,
    record_pieces,
)

# </local-imports>

DELIM = b"<IDS|MSG>"
NUDGE_IDENT = b"jupyter-remote-nudge"
#: how often the relay retries its connects while the kernel has not bound its sockets yet
#: (libzmq's default, 100 ms, cost a start 50 ms on average between bind and connect)
RECONNECT_MS = 10
#: messages read from one kernel socket in one event-loop turn (the rest: next turn)
DRAIN_BATCH = 64
#: bytes of messages one drain writes at once (more: the pump's batches, as before)
AT_ONCE_BYTES = 256 * 1024


def _header_field(frames, offset):
    """JSON object of the frame ``offset`` after the delimiter (1: signature, 2: header,
    3: parent, 5: content); {} for anything else (user code may publish any JSON)."""
    try:
        i = frames.index(DELIM)
        value = json.loads(bytes(frames[i + offset]).decode("utf-8"))
    except (ValueError, IndexError):
        return {}
    return value if isinstance(value, dict) else {}


def _received(frames):
    """A message received with ``copy=False``: small frames as bytes (what anything reads),
    large ones (a kernel's big outputs) as views of libzmq's own buffer, never copied here:
    copying 1 MB frames out of libzmq was 63 % of the relay's CPU in a 200 MB stream."""
    return [f.bytes if len(f) < BIG_PART else f.buffer for f in frames]


class KernelSide:
    """What ``Relay`` does with the kernel's sockets (a mixin: the state is Relay's)."""

    # Relay's state, set in Relay.__init__, that this side reads or writes
    kdir: str
    conn: Dict[str, Any]
    key: bytes
    epoch: str
    socks: Dict[str, Any]
    kernel_socks: Dict[str, Any]
    next_send: int
    #: what the current ``_drain`` writes at once when it ends: [client, bytes, pieces...]
    _at_once: Optional[List[Any]] = None
    hb: Any
    _zmq: Any
    nudges: Set[str]
    kernel_gone: bool
    client: Optional[Any]
    _append: Callable[[int, Any], None]

    def _connect_kernel(self, ctx):
        """The relay's sockets on the kernel's channels (Relay.run, at start)."""
        import zmq

        ident = ("jupyter-remote-relay-" + self.epoch[:8]).encode()
        base = self.conn["ip"]
        for name in RELAYED:
            sock = ctx.socket(zmq.SUB if name == "iopub" else zmq.DEALER)
            sock.setsockopt(zmq.LINGER, 0)
            sock.setsockopt(zmq.RECONNECT_IVL, RECONNECT_MS)
            if name == "iopub":
                sock.setsockopt(zmq.SUBSCRIBE, b"")
                sock.setsockopt(zmq.RCVHWM, 0)
            else:  # shell, control and stdin share one identity, as a Jupyter client does
                sock.setsockopt(zmq.IDENTITY, ident)
            sock.connect("ipc://%s-%d" % (base, self.conn[name + "_port"]))
            self.socks[name] = sock
        self.hb = ctx.socket(zmq.DEALER)
        self.hb.setsockopt(zmq.LINGER, 0)
        self.hb.setsockopt(zmq.RECONNECT_IVL, RECONNECT_MS)
        self.hb.connect("ipc://%s-%d" % (base, self.conn["hb_port"]))

    def _sign(self, parts):
        if not self.key:
            return b""
        scheme = (self.conn.get("signature_scheme") or "hmac-sha256").split("-", 1)[1]
        mac = hmac.new(self.key, digestmod=getattr(hashlib, scheme))
        for p in parts:
            mac.update(p)
        return mac.hexdigest().encode("ascii")

    async def _nudge(self, timeout):
        """kernel_info until iopub answers: then the relay's SUB surely has its subscription.
        RuntimeError after ``timeout`` s, or once the supervisor saw the kernel exit."""
        shell, sub = self.socks["shell"], self.socks["iopub"]
        deadline = time.time() + timeout
        wait = 0.2
        while time.time() < deadline and not self.kernel_gone:
            msg_id = uuid.uuid4().hex
            self.nudges.add(msg_id)
            header = json_part(
                {
                    "msg_id": msg_id,
                    "msg_type": "kernel_info_request",
                    "session": self.epoch,
                    "username": "jupyter-remote",
                    "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    "version": "5.3",
                }
            )
            parts = [header, b"{}", b"{}", b"{}"]
            await shell.send_multipart([NUDGE_IDENT, DELIM, self._sign(parts)] + parts)
            end = time.time() + wait
            while time.time() < end and not self.kernel_gone:
                if await shell.poll(0):
                    await shell.recv_multipart()
                if not await sub.poll(50):
                    continue
                frames = await sub.recv_multipart()
                parent = _header_field(frames, 3)
                if parent.get("msg_id") in self.nudges:
                    content = _header_field(frames, 5)
                    if content.get("execution_state") == "idle":
                        self.nudge_until = time.time() + 30
                        return
            wait = min(wait * 2, 2.0)
        if self.kernel_gone:
            raise RuntimeError("the kernel exited before it answered")
        raise RuntimeError("the kernel did not answer within %ss" % timeout)

    def _scrub_key(self):
        """The kernel has read its connection file: the key lives on in memory only."""
        path = os.path.join(self.kdir, "connection.json")
        try:
            with open(path) as f:
                conn = json.load(f)
        except (OSError, ValueError):
            return
        conn["key"] = ""
        tmp = path + ".tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(conn, f)
        os.replace(tmp, path)

    def _serve_kernel(self):
        """From the nudge on (Relay.run): each kernel socket is read by an event-loop
        readiness callback on libzmq's own socket, every queued message in one turn, where
        zmq.asyncio resolved a future and woke a task per message (issue 17 item 3). The
        zmq.asyncio sockets (kept referenced, never used again) served the start only."""
        import asyncio  # here, not at the top: every agent exec would pay ~25 ms for it

        import zmq

        self._zmq = (zmq.EVENTS, zmq.POLLIN, zmq.NOBLOCK, zmq.Again)
        loop = asyncio.get_event_loop()
        self.kernel_socks = {}
        for name in RELAYED + ("hb",):
            asock = self.hb if name == "hb" else self.socks[name]
            sock: Any = zmq.Socket.shadow(asock.underlying)
            self.kernel_socks[name] = sock
            loop.add_reader(int(sock.getsockopt(zmq.FD)), self._drain, name)  # was zmq.asyncio's
            loop.call_soon(self._drain, name)  # what is queued already (its edge may be gone)

    def _drain(self, name):
        """Everything the kernel sent on ``name`` (up to DRAIN_BATCH, then next turn);
        what of it ``_write_at_once`` took goes out in one write at the end."""
        events, pollin, noblock, _ = self._zmq
        sock = self.kernel_socks[name]
        try:
            for _ in range(DRAIN_BATCH):
                if not sock.getsockopt(events) & pollin:
                    return
                frames = _received(sock.recv_multipart(noblock, copy=False))
                if name == "hb":
                    client = self.client  # heartbeat echoes: to the current client, if any
                    if client is not None:
                        client.write(encode_record(HB, 0, 0, frames))
                else:
                    self._relay_one(name, frames)
        finally:
            self._flush_at_once()
        import asyncio  # already loaded (the relay runs): a dictionary look-up

        asyncio.get_event_loop().call_soon(self._drain, name)

    async def _to_kernel(self, name, parts):
        """A client's request to the kernel; waits while the kernel's queue is full (it
        does not read), and the link with it. Heartbeat pings are dropped instead."""
        import asyncio

        while not self._send_now(name, parts) and name != "hb":  # noqa: ASYNC110 (rare: no event)
            await asyncio.sleep(0.01)

    def _send_now(self, name, parts):
        _, _, noblock, again = self._zmq
        try:
            self.kernel_socks[name].send_multipart(parts, noblock)
            return True
        except again:
            return False
        finally:
            self._drain(name)  # a send can take the readiness edge the callback waits for

    def _relay_one(self, name, frames):
        """``_from_kernel``, whatever the message: an error in it is logged and the drain
        goes on (from the acker, an exception would end the relay: review s22 note)."""
        try:
            self._from_kernel(name, frames)
        except Exception as exc:
            sys.stderr.write("jupyter-remote: relay: a %s message not relayed: %r\n" % (name, exc))

    def _from_kernel(self, name, frames):
        """One message the kernel sent: into the numbered buffer (the relay's own nudge
        answers excepted)."""
        if name == "iopub":
            if self.nudges and self._answers_nudge(frames):
                return
            self._note_status(frames)
        elif frames and frames[0] == NUDGE_IDENT:
            return
        elif name == "control" and is_shutdown_reply(frames):
            self.shutdown_replied = True
        self._append(RELAYED.index(name), frames)

    def _write_at_once(self, entry):
        """Take a message for writing the moment it is read, when the pump is caught up
        and the link has nothing queued: the pump's wake-up would cost the message an
        event-loop turn (on every reply and status of every cell). What one ``_drain``
        reads so goes out in one write when it ends (a cell's busy status and its
        execute_input: one write, one SSH packet), up to AT_ONCE_BYTES; the rest goes in
        the pump's batches. ``next_send`` moves on here, so the pump (which cannot run
        before the drain ends) continues after them: the order is unchanged."""
        client = self.client
        batch = self._at_once
        if client is None or self.next_send != entry[0]:
            return False
        if batch is None:
            if client.transport.get_write_buffer_size():
                return False
            batch = self._at_once = [client, 0]
        elif batch[1] >= AT_ONCE_BYTES:
            return False
        pieces = record_pieces(MSG, entry[1], entry[0], entry[2])
        batch.extend(pieces)
        batch[1] += entry[3]
        self.next_send += 1
        return True

    def _flush_at_once(self):
        """Write what ``_write_at_once`` took in this drain (``_drain``, as it ends)."""
        batch, self._at_once = self._at_once, None
        if batch is not None:
            batch[0].writelines(batch[2:])

    def _answers_nudge(self, frames):
        """An iopub message answering one of the start-up nudges (for 30 s after it): its
        parent header holds one of their ids (parsed only if its bytes do: every iopub
        message of those 30 s comes here)."""
        if time.time() > self.nudge_until:
            self.nudges.clear()
            return False
        try:
            parent = bytes(frames[frames.index(DELIM) + 3])
        except (ValueError, IndexError):
            return False
        if not any(msg_id.encode("ascii") in parent for msg_id in self.nudges):
            return False
        return _header_field(frames, 3).get("msg_id") in self.nudges

    def _note_status(self, frames):
        self.last_activity = time.time()
        try:
            i = frames.index(DELIM)
        except ValueError:
            return
        if len(frames) > i + 5 and b'"status"' in frames[i + 2]:
            self.busy = _header_field(frames, 5).get("execution_state") == "busy"
