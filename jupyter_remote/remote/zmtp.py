"""ZMTP 3.0 with the NULL mechanism, spoken from an asyncio event loop: one definition for
both ends of the relay path (runs ON the remote as a part of the agent script, and here).

A Jupyter kernel's sockets are libzmq sockets: every message to or from one crossed a
libzmq I/O thread in our process as well (an eventfd signal and a thread wake-up per
message each way, on a 2-core host shared with the kernel). Speaking the wire protocol
(RFC 23/ZMTP, https://rfc.zeromq.org/spec/23/) straight from the event loop leaves only
the kernel's own libzmq thread. The wire format is ``zmtp_frames.py``'s; what is here uses
it: the greeting (version 3.0, so a libzmq
peer of 3.1 falls back to 3.0's subscriptions as messages), the READY handshake with
its Socket-Type and Identity properties, frames (MORE, LONG, COMMAND), PING answered by
PONG, and :class:`ZmtpStream`, a buffered protocol that reads large frames straight
into their own buffer (no copy beyond the kernel's) and hands out whole messages.
Sockets' patterns (routing, subscriptions, reconnects) are their users' to build
(``zmtp_connect.py``: a connecting socket as libzmq's). Stdlib only, Python >= 3.8.
"""

import struct
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Sequence

# <local-imports> removed when the script is sent: the parts before it define these
from jupyter_remote.remote.zmtp_discard import ZmtpDiscard
from jupyter_remote.remote.zmtp_frames import (
    BIG_FRAME,
    COMMAND,
    FRAME_COST,
    GREETING_SIZE,
    LONG,
    MAX_FRAMES,
    MORE,
    PEERS,
    PONG_LIMIT,
    SMALL_BUFFER,
    Frames,
    ZmtpError,
    check_greeting,
    command,
    greeting,
    message_pieces,
    parse_properties,
    ready,
    split_command,
)
from jupyter_remote.remote.zmtp_pool import pool_for_this_loop

# </local-imports>

#: the read buffer until the peer's READY (a greeting and a READY are ~100 bytes; a longer
#: READY grows it): a connection that never says anything costs this, not SMALL_BUFFER
HANDSHAKE_BUFFER = 1024
#: the largest command before READY: libzmq's READY is ~30 bytes plus its Identity (at most
#: 255) and any ZMQ_METADATA properties (Jupyter sets none); more is refused at its header
HANDSHAKE_COMMAND = 4096

if TYPE_CHECKING:
    from asyncio import BufferedProtocol as _StreamBase
else:

    class _StreamBase:
        """ZmtpStream's base until its first stream is made (``_bind_asyncio``): the agent
        script holds this part and runs for every remote operation, which must not pay
        asyncio's import (~25 ms, see relay.py)."""

        __slots__ = ()


def _bind_asyncio() -> None:
    """asyncio.BufferedProtocol in _StreamBase's place (ZmtpStream.__init__; asyncio then
    reads into ``get_buffer``'s buffers), imported once a stream is made."""
    if ZmtpStream.__bases__[-1] is not _StreamBase:
        return
    import asyncio

    ZmtpStream.__bases__ = ZmtpStream.__bases__[:-1] + (asyncio.BufferedProtocol,)


class ZmtpStream(ZmtpDiscard, _StreamBase):
    """One ZMTP connection. ``socket_type`` and ``identity`` are ours; ``peer_types`` the
    types we accept (default: RFC 23's); ``max_message`` bounds what the peer may send (a
    peer anyone can connect to must not make us allocate without limit). Subclasses (or
    the callables given) take ``on_ready(stream)`` once the handshake is done,
    ``on_message(stream, frames)`` per message (small frames bytes, big ones
    bytearrays), ``on_batch(stream)`` after the messages of one read (``batch_done``:
    what they made its owner write can go out in one write), ``on_lost(stream, reason)``
    once when the connection ends.

    Bounds for a peer that may be hostile (any local user can connect to the laptop's
    servers; the relay's kernel is its own user's, the defaults are for it):
    ``max_frames`` per message (also counted against ``max_message``, ``FRAME_COST``
    each); ``eager_limit``: a big frame's buffer is at most this much before its bytes
    arrive, then grows (doubling) as they do (None: the declared size at once, the
    relay's zero-copy read of a kernel's large outputs, in a buffer of ``zmtp_pool``'s,
    used again once nobody holds it); ``max_batch``: at most this many
    messages and commands per read or loop turn, then reading pauses until the next turn
    (None: all of a read's). ``on_oversize``: what a message of more than ``max_frames``
    frames does: "cut" the connection (a peer anyone may connect to), or "discard" it:
    its frames are read to its end and dropped as they come (the first HEAD_KEPT kept
    for its headers, the rest never held: memory bounded by what ``max_frames`` frames
    take), the connection goes on, and ``on_dropped(stream, head, frames, nbytes)`` says
    so (the relay's kernel: one odd message must not cost what is in flight with it;
    ``zmtp_discard.py``)."""

    def __init__(
        self,
        socket_type: bytes,
        identity: Optional[bytes] = None,
        on_ready: Optional[Callable[["ZmtpStream"], None]] = None,
        on_message: Optional[Callable[["ZmtpStream", Frames], None]] = None,
        on_lost: Optional[Callable[["ZmtpStream", str], None]] = None,
        max_message: int = 1 << 40,
        as_server: bool = False,
        on_batch: Optional[Callable[["ZmtpStream"], None]] = None,
        max_frames: int = MAX_FRAMES,
        eager_limit: Optional[int] = None,
        max_batch: Optional[int] = None,
        on_oversize: str = "cut",
        on_dropped: Optional[Callable[["ZmtpStream", Frames, int, int], None]] = None,
    ) -> None:
        _bind_asyncio()
        self.socket_type = socket_type
        self.identity = identity
        self.peer_types = PEERS.get(socket_type, ())
        self.peer_props: Dict[bytes, bytes] = {}
        self.max_message = max_message
        self.max_frames, self.eager_limit, self.max_batch = max_frames, eager_limit, max_batch
        self.error = ""  # why we cut the peer (a ZmtpError's reason), "" otherwise
        self.as_server = as_server
        self._on_ready, self._on_message, self._on_lost = on_ready, on_message, on_lost
        self._on_batch = on_batch
        self.on_oversize = on_oversize
        self._init_discard(on_dropped)
        self.transport: Any = None
        self.out: Any = None  # what writes go through: the transport, or make_writer's
        self.is_ready = False
        self.closed = False
        self._buf = bytearray(HANDSHAKE_BUFFER)  # SMALL_BUFFER once the peer is READY
        self._start = self._end = 0
        self._big: Optional[bytearray] = (
            None  # a big frame's own buffer, filled straight from the socket
        )
        self._big_fill = 0
        self._big_size = 0  # the big frame's declared size (its buffer may be smaller)
        self._big_flags = 0
        self._batch = 0  # messages delivered in this read or turn
        self._paused = False  # max_batch reached: reading paused until the next turn
        self._frames: Frames = []
        self._size = 0  # bytes of the message under way
        self._greeted = False

    # -- asyncio's side ---------------------------------------------------------------

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self.out = self.make_writer(transport)
        self.out.write(greeting(self.as_server) + ready(self.socket_type, self.identity))

    def get_buffer(self, sizehint: int) -> memoryview:
        if self.is_ready and len(self._buf) < SMALL_BUFFER:  # handshake done: full size
            self._buf = self._buf + bytes(SMALL_BUFFER - len(self._buf))
        if self._skip:  # a discarded frame's bytes: over and over into the small buffer
            return memoryview(self._buf)
        if self._big is not None:
            if self._big_fill == len(self._big):  # (no view of ours is held here)
                self._grow_big()
            return memoryview(self._big)[self._big_fill :]
        if self._end == len(self._buf):
            self._compact()
        return memoryview(self._buf)[self._end :]

    def buffer_updated(self, nbytes: int) -> None:
        self._batch = 0
        try:
            if self._big is not None:
                self._big_fill += nbytes
                if self._big_fill == self._big_size:
                    big, self._big = self._big, None
                    self._frame(self._big_flags, big)
            elif self._skip:
                self._skipped(nbytes)
            else:
                self._end += nbytes
            self._parse()
        except ZmtpError as exc:
            self.error = str(exc)
            self.abort(str(exc))
        finally:  # also after an error: what the messages before it made is written
            self.batch_done()

    def _go_on(self) -> None:
        """The next loop turn after ``max_batch`` messages: parse on (up to as many), then
        read again once what was read is all parsed."""
        self._paused = False
        if self.closed:
            return
        self._batch = 0
        try:
            self._parse()
        except ZmtpError as exc:
            self.error = str(exc)
            self.abort(str(exc))
        finally:
            self.batch_done()
        if not self._paused and not self.closed:
            self.transport.resume_reading()

    def eof_received(self) -> bool:
        return False  # close: a half-open ZMTP connection is of no use

    def connection_lost(self, exc: Optional[BaseException]) -> None:
        self._lost("closed" if exc is None else repr(exc))

    # -- ours -------------------------------------------------------------------------

    def send(self, frames: Sequence[Any]) -> None:
        """One message (a list of bytes-like frames); dropped if the connection is gone."""
        if self.out is not None and not self.closed:
            self.out.writelines(message_pieces(frames))

    def send_pieces(self, pieces: List[Any]) -> None:
        """Buffers already framed (``message_pieces`` of several messages): one write."""
        if self.out is not None and not self.closed:
            self.out.writelines(pieces)

    def write_buffer_size(self) -> int:
        return 0 if self.out is None else self.out.get_write_buffer_size()

    def abort(self, reason: str) -> None:
        """End the connection now (a protocol error, or its owner is done with it)."""
        if self.transport is not None:
            self._close_out()
            self.transport.abort()
        self._lost(reason)

    def _close_out(self) -> None:
        """A writer of ``make_writer``'s is done (its queue dropped, its descriptor shut)."""
        if self.out is not None and self.out is not self.transport:
            self.out.close()

    def _lost(self, reason: str) -> None:
        if not self.closed:
            self.closed = True
            self._close_out()
            self._frames, self._big = [], None  # nothing more of the peer's is kept
            self._head, self._skip = None, 0
            if self._on_lost is not None:
                self._on_lost(self, reason)

    def _compact(self) -> None:
        """Room at the end of the small buffer: move what is unread to its start (grown
        when one frame's header and body do not fit: a command or a long small frame)."""
        unread = self._end - self._start
        if self._start == 0:
            self._buf.extend(bytes(len(self._buf)))
        else:
            self._buf[:unread] = self._buf[self._start : self._end]
            self._start, self._end = 0, unread

    def _grow_big(self) -> None:
        """More room in a big frame's buffer (``eager_limit``): twice as much, at most
        its declared size. Only from ``get_buffer``: asyncio holds its view of the
        buffer until ``buffer_updated`` returns, and a viewed bytearray cannot grow."""
        big = self._big
        assert big is not None
        more = min(max(len(big), BIG_FRAME), self._big_size - len(big))
        try:
            big.extend(bytes(more))
        except BufferError:  # a view of it still held somewhere: a larger copy
            self._big = bytearray(len(big) + more)
            self._big[: len(big)] = big

    def _parse(self) -> None:
        """Everything complete in the small buffer: the greeting, then frames (at most
        ``max_batch`` messages: then reading pauses until the next loop turn)."""
        buf = self._buf
        while self._big is None and not self.closed and not self._paused:
            start, avail = self._start, self._end - self._start
            if not self._greeted:
                if avail < GREETING_SIZE:
                    check_greeting(bytes(buf[start : self._end]))  # early refusal
                    return
                self._greeted = check_greeting(bytes(buf[start : start + GREETING_SIZE]))
                self._start += GREETING_SIZE
                continue
            if avail < 2:
                break
            flags = buf[start]
            if flags & LONG:
                if avail < 9:
                    break
                (size,) = struct.unpack_from("!Q", buf, start + 1)
                head = 9
            else:
                size, head = buf[start + 1], 2
            self._bound(size, flags)
            body_at = start + head
            if self._head is not None and not flags & COMMAND:  # discarding (on_oversize)
                if not self._discard_body(flags, size, body_at, avail - head):
                    return
                continue
            if avail - head >= size:
                self._start = body_at + size
                self._frame(flags, bytes(memoryview(buf)[body_at : body_at + size]))
            elif size >= BIG_FRAME:  # read the rest straight into the frame's own buffer
                have = avail - head
                if self.eager_limit is None:  # all of it at once, in a buffer used again
                    self._big = big = pool_for_this_loop().take(size)
                else:
                    self._big = big = bytearray(min(size, max(have, self.eager_limit)))
                big[:have] = buf[body_at : self._end]
                self._big_fill, self._big_size, self._big_flags = have, size, flags
                self._start = self._end = 0
                return
            else:
                break
        if self._start == self._end:
            self._start = self._end = 0

    def _bound(self, size: int, flags: int) -> None:
        if flags & ~(MORE | LONG | COMMAND):
            raise ZmtpError("a frame with unknown flags")
        if self._size + size + FRAME_COST > self.max_message:
            raise ZmtpError("a message over %d bytes" % self.max_message)
        if not flags & COMMAND and len(self._frames) >= self.max_frames:
            if self.on_oversize != "discard":
                raise ZmtpError("a message of more than %d frames" % self.max_frames)
            self._begin_discard()
        if flags & COMMAND and size > SMALL_BUFFER:
            raise ZmtpError("a command over %d bytes" % SMALL_BUFFER)
        if not self.is_ready and not flags & COMMAND:  # at its header: no buffer for it
            raise ZmtpError("a message before READY")
        if not self.is_ready and size > HANDSHAKE_COMMAND:
            raise ZmtpError("a command over %d bytes before READY" % HANDSHAKE_COMMAND)

    def _frame(self, flags: int, body: Any) -> None:
        if flags & COMMAND:
            self._command(body)
        else:
            if not self.is_ready:
                raise ZmtpError("a message before READY")
            self._frames.append(body)
            self._size += len(body) + FRAME_COST
            if flags & MORE:
                return
            frames, self._frames, self._size = self._frames, [], 0
            self.received(frames)
        self._count()

    def _count(self) -> None:
        """A message, a dropped one or a command is done (``max_batch``)."""
        self._batch += 1  # a message or a command (a flood of PINGs is work too)
        if self.max_batch is not None and self._batch >= self.max_batch and not self.closed:
            self._pause()

    def _pause(self) -> None:
        """``max_batch`` messages (or commands) in this read or turn: no more parsing or
        reading until the next loop turn (``_go_on``), so one peer cannot hold the loop."""
        import asyncio

        self._paused = True
        self.transport.pause_reading()
        asyncio.get_event_loop().call_soon(self._go_on)

    def _command(self, body: Any) -> None:
        name, data = split_command(body)
        if name == b"READY" and not self.is_ready:
            self.peer_props = parse_properties(data)
            if self.peer_props.get(b"socket-type") not in self.peer_types:
                raise ZmtpError("a %r peer cannot talk to a %r socket" % (
                    self.peer_props.get(b"socket-type"), self.socket_type))  # fmt: skip
            self.is_ready = True
            self.became_ready()
        elif name == b"PING" and self.is_ready:  # RFC 37: answer with its context
            ttl_context = bytes(data[2:])[:16]
            if self.out.get_write_buffer_size() < PONG_LIMIT:
                self.out.write(command(b"PONG", ttl_context))
        elif name == b"ERROR":
            reason = bytes(data[1 : 1 + data[0]]) if data else b""
            raise ZmtpError("the peer said: %r" % reason)
        elif not self.is_ready:
            raise ZmtpError("%r before READY" % name)
        else:
            self.command_received(name, data)

    # -- what users override (or pass as callables) -----------------------------------

    def make_writer(self, transport: Any) -> Any:
        """What this stream's writes go through (``connection_made``): the transport, or
        an object with its write/writelines/get_write_buffer_size and a ``close``."""
        return transport

    def batch_done(self) -> None:
        """After every message one read completed (called at the end of each
        ``buffer_updated``, also when it completed none)."""
        if self._on_batch is not None:
            self._on_batch(self)

    def became_ready(self) -> None:
        if self._on_ready is not None:
            self._on_ready(self)

    def received(self, frames: Frames) -> None:
        if self._on_message is not None:
            self._on_message(self, frames)

    def command_received(self, name: bytes, data: Any) -> None:
        """Commands other than READY, PING, ERROR (SUBSCRIBE, CANCEL of ZMTP 3.1, PONG):
        ignored unless a subclass wants them."""
