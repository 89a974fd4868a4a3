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
into their own buffer (no copy beyond the kernel's) and hands out whole messages (that
reading side, frames parsed and bounded: ``zmtp_read.py``; here the handshake, commands,
writes and the stream's end).
Sockets' patterns (routing, subscriptions, reconnects) are their users' to build
(``zmtp_connect.py``: a connecting socket as libzmq's). Stdlib only, Python >= 3.8.
"""

from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Sequence

# <local-imports> removed when the script is sent: the parts before it define these
from jupyter_remote.remote.zmtp_frames import (  # noqa: F401 (BIG_FRAME...: zmtp's names)
    BIG_FRAME,
    COMMAND,
    FRAME_COST,
    LONG,
    MAX_FRAMES,
    MORE,
    PEERS,
    PONG_LIMIT,
    Frames,
    ZmtpError,
    command,
    greeting,
    message_pieces,
    parse_properties,
    ready,
    split_command,
)
from jupyter_remote.remote.zmtp_read import HANDSHAKE_COMMAND, ZmtpReader  # noqa: F401

# </local-imports>

#: the read buffer until the peer's READY (a greeting and a READY are ~100 bytes; a longer
#: READY grows it): a connection that never says anything costs this, not SMALL_BUFFER
HANDSHAKE_BUFFER = 1024

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


class ZmtpStream(ZmtpReader, _StreamBase):
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
