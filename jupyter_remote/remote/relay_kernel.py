"""The relay's side facing the kernel: runs ON the remote, part of the agent script.

Mixed into ``Relay`` (``relay.py``, the next part), whose ``run`` calls
``_connect_kernel``, ``_nudge`` and ``_scrub_key`` at start and then
``_serve_kernel``, after which what the kernel sends is relayed as it is read
(``_from_kernel``) and ``Relay._from_client`` writes to the kernel (``_to_kernel``): the
relay's connections on the kernel's channels (its ipc sockets, in its private
directory), spoken in ZMTP from the relay's own event loop (``zmtp_connect.py``: no
libzmq I/O thread between the kernel and the relay, issue 17 item 3), signing of the
relay's own kernel_info requests, the startup nudge that proves the iopub subscription,
the key scrub of the connection file, reading what the kernel sends into the relay's
numbered buffer (``Relay._append``), and writing it to the client at once when nothing
waits before it (``_write_at_once``): what one read took in one write, held a moment for
the reads that follow when a cell's later messages are due (``_hold_batch``: one write,
one SSH packet for a quick cell). Stdlib, Python >= 3.8.
"""

import functools
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
    HB,
    MSG,
    RELAYED,
    encode_record,
    is_shutdown_reply,
    json_part,
    record_pieces,
)
from jupyter_remote.remote.relay_buffer import DELIM, PARENT_KEPT, _gap_parent  # noqa: F401
from jupyter_remote.remote.zmtp_connect import ZmtpConnector

# </local-imports>

NUDGE_IDENT = b"jupyter-remote-nudge"
#: how often the relay retries its connects while the kernel has not bound its sockets yet
#: (libzmq's default, 100 ms, cost a start 50 ms on average between bind and connect)
RECONNECT_MS = 10
#: bytes of messages one read of a kernel socket writes at once (more: the pump's batches)
AT_ONCE_BYTES = 256 * 1024
#: seconds a shell read's batch (a reply) waits for the iopub read that follows it (the
#: kernel's idle status comes right after every reply): both go in one write, one SSH
#: packet, one wake-up of the laptop (s25: its SSH thread -12 % a cell); never longer
HOLD_FOR_STATUS = 0.002
#: seconds what an iopub read took at once waits, while the kernel is busy, for the reads
#: that follow (its idle status ends the wait: written at once): a quick cell's busy
#: status and input, its reply and its idle (~2.2 ms from busy to idle for a `pass`) go
#: in one write, one SSH packet, one wake-up of the laptop; a longer cell's output and
#: status reach the laptop at most this much later. Never longer, never extended
HOLD_WHILE_BUSY = 0.005
#: a client's requests wait while this much is not yet taken by the kernel (it does not
#: read: a libzmq DEALER's high-water mark did the same); heartbeat pings are dropped then
TO_KERNEL_BYTES = 1024 * 1024


def _header_field(frames, offset):
    """JSON object of the frame ``offset`` after the delimiter (1: signature, 2: header,
    3: parent, 5: content); {} for anything else (user code may publish any JSON)."""
    try:
        i = frames.index(DELIM)
        value = json.loads(bytes(frames[i + offset]).decode("utf-8"))
    except (ValueError, IndexError):
        return {}
    return value if isinstance(value, dict) else {}


class KernelSide:
    """What ``Relay`` does with the kernel's sockets (a mixin: the state is Relay's)."""

    # Relay's state, set in Relay.__init__, that this side reads or writes
    kdir: str
    conn: Dict[str, Any]
    key: bytes
    bound: int
    epoch: str
    socks: Dict[str, Any]
    next_send: int
    #: what the current read writes at once when it ends: [client, bytes, pieces...]
    _at_once: Optional[List[Any]] = None
    _hold: Optional[Any] = None  # the timer of a shell read's held batch (_hold_for_status)
    hb: Any
    nudges: Set[str]
    nudge_until: float
    _nudged: Any  # asyncio.Event: an idle status answered a nudge (``_while_starting``)
    #: (handler, args) of what was read after that (and of a message too long to relay,
    #: dropped at any time of the start), before ``_serve_kernel``: handled then, in order
    _early: List[Any]
    #: per channel, the run of drops in ``_early`` that a drop joins: [parent, messages,
    #: bytes, parts] (``_dropped_while_starting``; a message kept ends the runs)
    _early_drops: Dict[str, List[Any]]
    kernel_gone: bool
    client: Optional[Any]
    _append: Callable[[int, Any], None]
    _parts_gap: Callable[[int, bytes, int, int, int], None]
    _handed: Callable[[Any], None]

    def _connect_kernel(self):
        """The relay's ZMTP connections on the kernel's channels (Relay.run, at start, on
        its loop): shell, control and stdin DEALERs sharing one identity, as a Jupyter
        client's; an iopub SUB subscribed to everything; a heartbeat DEALER. Each connects
        (again) every RECONNECT_MS while the kernel has not bound; what is sent meanwhile
        is queued. Until ``_serve_kernel`` what they read goes to ``_while_starting``."""
        import asyncio

        ident = ("jupyter-remote-relay-" + self.epoch[:8]).encode()
        base = self.conn["ip"]
        self._nudged, self._early, self._early_drops = asyncio.Event(), [], {}
        # what ends a read (on_batch): a shell read's reply waits for its idle status, an
        # iopub read while the kernel is busy for what follows; any other read (control,
        # stdin, heartbeat) writes what it took, and all held, at once
        read_ends = {"shell": self._hold_for_status, "iopub": self._iopub_read_ends}
        for name in RELAYED + ("hb",):
            sock = ZmtpConnector(
                "%s-%d" % (base, self.conn[name + "_port"]),
                b"SUB" if name == "iopub" else b"DEALER",
                identity=ident if name in ("shell", "control", "stdin") else None,
                subscribe=b"" if name == "iopub" else None,
                on_message=functools.partial(self._while_starting, name),
                on_batch=read_ends.get(name, self._flush_at_once),
                retry=RECONNECT_MS / 1000.0,
                on_oversize="discard",  # a message too long to relay: a GAP, not a cut
            )
            sock.on_lost = self._flush_at_once  # a kernel that exits: what it sent goes now
            if name == "hb":
                self.hb = sock
            else:
                self.socks[name] = sock
                sock.on_dropped = functools.partial(self._dropped_while_starting, name)

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
        import asyncio

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
            self.socks["shell"].send([NUDGE_IDENT, DELIM, self._sign(parts)] + parts)
            end = time.time() + wait
            while time.time() < end and not self.kernel_gone:
                try:  # in slices: the supervisor's word on the kernel comes from its thread
                    await asyncio.wait_for(self._nudged.wait(), 0.05)
                except asyncio.TimeoutError:
                    continue
                self.nudge_until = time.time() + 30
                return
            wait = min(wait * 2, 2.0)
        if self.kernel_gone:
            raise RuntimeError("the kernel exited before it answered")
        raise RuntimeError("the kernel did not answer within %ss" % timeout)

    def _while_starting(self, name, frames):
        """What the kernel sends before ``_serve_kernel``: until an idle status answers a
        nudge, nothing is kept (the nudges' replies, a start's own output, as before);
        after it, everything, relayed once served (heartbeat echoes: none before)."""
        if name == "hb":
            return
        if self._nudged.is_set():
            self._early.append((self._relay_one, (name, frames)))
            self._early_drops.clear()  # a drop after it is a GAP after it
        elif name == "iopub" and self._answered(frames):
            self._nudged.set()

    def _dropped_while_starting(self, name, head, frames, nbytes):
        """A message too long to relay read and dropped before ``_serve_kernel`` (a start-up
        script's display of 65,536 buffers, say): its GAP is made once served, in order, so
        the user sees it as any other (not only the relay's log line in kernel.log, which
        is also the log tail a failed start's error shows). Kept even before the nudge's
        answer, when a start's ordinary output is not: this one says something is amiss.
        Kept as its GAP needs it (the parent header, ``_gap_parent``), and counted into the
        channel's run of drops since the last message kept: whatever a start sends, at
        most one entry a channel before the nudge's answer (review s25 F1: every drop's
        head frames were kept, any size, until the start ended)."""
        run = self._early_drops.get(name)
        if run is None:
            run = self._early_drops[name] = [_gap_parent(head), 0, 0, 0]
            self._early.append((self._early_gap, (name, run)))
        run[1] += 1
        run[2] += nbytes
        run[3] += frames

    def _early_gap(self, name, run):
        """``_serve_kernel``: a run of drops of the start (``_dropped_while_starting``)."""
        parent, messages, nbytes, frames = run
        self._parts_gap(RELAYED.index(name), parent, messages, nbytes, frames)

    def _answered(self, frames):
        """An idle status whose parent is one of the nudges (``_while_starting``)."""
        if _header_field(frames, 3).get("msg_id") not in self.nudges:
            return False
        return _header_field(frames, 5).get("execution_state") == "idle"

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
        """From the nudge on (Relay.run): what the kernel sends is relayed as each read of
        its connections delivers it (the messages of one read in one write to the client,
        ``_flush_at_once`` after each read); what came since the nudge's answer first."""
        for name, sock in self.socks.items():
            sock.on_message = functools.partial(self._relay_one, name)
            sock.on_dropped = functools.partial(self._oversized, name)
        self.hb.on_message = self._heartbeat
        early, self._early, self._early_drops = self._early, [], {}
        try:
            for handle, args in early:
                handle(*args)
        finally:
            self._flush_at_once()

    def _heartbeat(self, frames):
        """A heartbeat echo: to the current client, if any (neither numbered nor kept),
        after a batch reads held (``_hold_batch``): the link's order is the reads'."""
        client = self.client
        if client is not None:
            self._flush_at_once()
            client.write(encode_record(HB, 0, 0, frames))

    async def _to_kernel(self, name, parts):
        """A client's request to the kernel; waits while the kernel does not read what was
        sent to it (TO_KERNEL_BYTES), and the link with it."""
        import asyncio

        sock = self.socks[name]
        while sock.buffered() > TO_KERNEL_BYTES:  # noqa: ASYNC110 (rare: no event for it)
            await asyncio.sleep(0.01)
        sock.send(parts)

    def _send_now(self, name, parts):
        """A heartbeat ping (``Relay._from_client``): sent, or dropped (False) while the
        kernel does not read."""
        sock = self.hb if name == "hb" else self.socks[name]
        if sock.buffered() > TO_KERNEL_BYTES:
            return False
        sock.send(parts)
        return True

    def _relay_one(self, name, frames):
        """``_from_kernel``, whatever the message: an error in it is logged and the read
        goes on (review s22 note: it once ended the relay)."""
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

    def _oversized(self, name, head, frames, nbytes):
        """A message of more frames than a record carries (MAX_FRAMES), read and dropped by
        its connection (``on_oversize``): a GAP in its place tells the local side, which
        shows it where the message's output would have been (its parent's cell)."""
        self._parts_gap(RELAYED.index(name), _gap_parent(head), 1, nbytes, frames)

    def _write_at_once(self, entry):
        """Take a message for writing the moment it is read, when the pump is caught up
        and the link has nothing queued: the pump's wake-up would cost the message an
        event-loop turn (on every reply and status of every cell). What one read of a
        kernel connection delivers so goes out in one write when it ends (a cell's busy
        status and its
        execute_input: one write, one SSH packet), up to AT_ONCE_BYTES; the rest goes in
        the pump's batches. ``next_send`` moves on here, so the pump (which cannot run
        before the read ends) continues after them: the order is unchanged."""
        client = self.client
        batch = self._at_once
        if batch is not None and batch[0] is not client:  # held for a client since replaced
            self._flush_at_once()  # (its writer is closed: dropped there, resent from buf)
            batch = None
        if client is None or self.next_send != entry[0]:
            return False
        if batch is None:
            if client.get_write_buffer_size():
                return False
            batch = self._at_once = [client, 0]
        elif batch[1] >= AT_ONCE_BYTES:
            return False
        pieces = record_pieces(MSG, entry[1], entry[0], entry[2])
        batch.extend(pieces)
        batch[1] += entry[3]
        self.next_send += 1
        return True

    def _hold_for_status(self):
        """The shell connection's ``on_batch``: what its read took at once (a reply) waits
        for the next read (the idle status follows every reply on iopub), which writes
        both in one go, or HOLD_FOR_STATUS s."""
        self._hold_batch(HOLD_FOR_STATUS)

    def _iopub_read_ends(self):
        """The iopub connection's ``on_batch``: while the kernel is busy (its last status
        said so) what the read took at once waits for the reads that follow, up to
        HOLD_WHILE_BUSY s; an idle status writes it, and all held before it, at once."""
        if self.busy:
            self._hold_batch(HOLD_WHILE_BUSY)
        else:
            self._flush_at_once()

    def _hold_batch(self, delay):
        """What this read took at once waits for the next reads, up to ``delay`` s from
        now or the deadline already set, whichever is sooner (never extended: a reply
        read after a busy status waits at most HOLD_FOR_STATUS). Order holds: nothing is
        taken at once behind a held batch without joining it, and whatever else is
        written to the link writes it first (``_flush_at_once``)."""
        if self._at_once is None:
            return
        import asyncio

        loop = asyncio.get_event_loop()
        deadline = loop.time() + delay
        if self._hold is not None:
            if self._hold.when() <= deadline:
                return
            self._hold.cancel()
        self._hold = loop.call_at(deadline, self._flush_at_once)

    def _flush_at_once(self):
        """Write what ``_write_at_once`` took in this read, and what earlier reads held
        (each other connection's ``on_batch``, as a read ends; ``_serve_kernel``; the
        hold's timer; before anything else is written to the link: ``Relay._pump``'s
        batches, ``_heartbeat``, ``Relay._acker``'s ACKs, ``Relay._take_client`` before
        the client changes)."""
        if self._hold is not None:
            self._hold.cancel()
            self._hold = None
        batch, self._at_once = self._at_once, None
        if batch is not None:
            batch[0].writelines(batch[2:])
            self._handed(batch[0])

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
