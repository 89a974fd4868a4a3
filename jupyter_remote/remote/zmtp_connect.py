"""A connecting ZMTP socket, as a libzmq socket with one ``connect``: runs ON the remote,
part of the agent script (the relay's sockets on its kernel, ``relay_kernel.py``).

A kernel's ``ipc://PATH`` endpoint is a plain unix stream socket at PATH.
:class:`ZmtpConnector` keeps one :class:`ZmtpStream` (``zmtp.py``, the part before this
one) connected to it from the caller's event loop, with no libzmq I/O thread: the connect
is retried every ``retry`` s until the peer has bound (libzmq's RECONNECT_IVL), and again
after a connection is lost while the connector is open (from ``retry`` s on, twice as
long after each refusal up to MAX_RETRY s: a peer that is gone for good, a relay's
ended kernel, costs a connect a second, not a hundred); messages sent meanwhile are
queued and written once the handshake is done (a libzmq DEALER's pipe), a SUB's
subscription first. Stdlib, Python >= 3.8.
"""

import sys
from typing import Any, Callable, List, Optional

# <local-imports> removed when the script is sent: the parts before it define these
from jupyter_remote.remote.zmtp import Frames, ZmtpStream, message_pieces

# </local-imports>

#: the longest wait between two connects once a connection was lost
MAX_RETRY = 1.0


class ZmtpConnector:
    """One ZMTP connection to ``path`` as ``socket_type`` (DEALER, SUB, ...) with our
    ``identity``; ``subscribe``: a SUB's topic prefix (b"": everything). ``on_message``
    (frames) per message and ``on_batch`` () after each read's messages may be replaced at
    any time, as ``on_dropped`` (head, frames, bytes) for a message over MAX_FRAMES when
    ``on_oversize`` is "discard" (``ZmtpStream``'s; "cut": the connection is cut and made
    again), and ``on_lost`` () when a connection ends. Made and used on one event loop
    (its thread's)."""

    def __init__(
        self,
        path: str,
        socket_type: bytes,
        identity: Optional[bytes] = None,
        subscribe: Optional[bytes] = None,
        on_message: Optional[Callable[[Frames], None]] = None,
        on_batch: Optional[Callable[[], None]] = None,
        retry: float = 0.01,
        on_oversize: str = "cut",
    ) -> None:
        import asyncio  # here: the agent script holds this part (see zmtp._StreamBase)

        self.path = path
        self.socket_type, self.identity, self.subscribe = socket_type, identity, subscribe
        self.on_message, self.on_batch = on_message, on_batch
        self.on_oversize = on_oversize
        self.on_dropped: Optional[Callable[[Frames, int, int], None]] = None
        #: () when a connection ends (the peer went: a kernel that exited), before a retry
        self.on_lost: Optional[Callable[[], None]] = None
        self.retry = retry
        self._wait = retry  # before the next connect: ``retry``, more after a loss
        self.stream: Optional[ZmtpStream] = None  # once its handshake is done
        self.closed = False
        self.connections = 0  # handshakes done (more than one: it reconnected)
        self.last_error = ""  # why the last connection ended, if the peer broke ZMTP
        self._queue: List[Any] = []  # pieces of the messages sent while not ready
        self._queued = 0  # their bytes
        self._conn: Optional[ZmtpStream] = None  # the connection, ready or not
        self._pending: Any = None  # the connect under way, or the timer before the next
        self._loop = asyncio.get_event_loop()
        self._connect()

    def send(self, frames: List[Any]) -> None:
        """One message: written now when connected, else queued until the handshake."""
        stream = self.stream
        if stream is not None:
            stream.send(frames)
            return
        pieces = message_pieces(frames)
        self._queue.extend(pieces)
        self._queued += sum(len(piece) for piece in pieces)

    def buffered(self) -> int:
        """Bytes written but not yet taken by the peer's socket, queued ones included."""
        stream = self.stream
        return self._queued + (stream.write_buffer_size() if stream is not None else 0)

    def close(self) -> None:
        """No more connects; the connection, if any, is cut."""
        self.closed = True
        if self._pending is not None:
            self._pending.cancel()
        if self._conn is not None:
            self._conn.abort("closed")
        self._queue, self._queued = [], 0

    # -- connecting -------------------------------------------------------------------

    def _connect(self) -> None:
        import asyncio

        self._pending = None
        if not self.closed:
            self._pending = asyncio.ensure_future(self._connect_once())

    async def _connect_once(self) -> None:
        try:
            await self._loop.create_unix_connection(self._new_stream, self.path)
        except OSError:  # not bound yet (or gone): try again
            self._retry()

    def _retry(self) -> None:
        if self.closed:
            return
        self._pending = self._loop.call_later(self._wait, self._connect)
        if self.connections:  # lost once: back off (a first connect keeps its pace)
            self._wait = min(self._wait * 2, MAX_RETRY)

    def _new_stream(self) -> ZmtpStream:
        self._conn = ZmtpStream(
            self.socket_type,
            self.identity,
            on_ready=self._ready,
            on_message=self._message,
            on_lost=self._lost,
            on_batch=self._batch,
            on_oversize=self.on_oversize,
            on_dropped=self._dropped,
        )
        return self._conn

    def _ready(self, stream: ZmtpStream) -> None:
        """Handshake done: the subscription, then what was queued, in one write."""
        self.stream = stream
        self.connections += 1
        self._wait = self.retry
        pieces: List[Any] = []
        if self.subscribe is not None:  # ZMTP 3.0's subscription: a message \x01 + prefix
            pieces = message_pieces([b"\x01" + self.subscribe])
        pieces.extend(self._queue)
        self._queue, self._queued = [], 0
        if pieces:
            stream.send_pieces(pieces)

    def _message(self, stream: ZmtpStream, frames: Frames) -> None:
        if self.on_message is not None:
            self.on_message(frames)

    def _dropped(self, stream: ZmtpStream, head: Frames, frames: int, nbytes: int) -> None:
        """A message too long for a record, read and dropped: logged, and its owner told."""
        sys.stderr.write(
            "jupyter-remote: relay: a message of %d frames (%d bytes) from the kernel's %s"
            " connection dropped: more than a record carries\n"
            % (frames, nbytes, self.socket_type.decode())
        )
        if self.on_dropped is not None:
            self.on_dropped(head, frames, nbytes)

    def _batch(self, stream: ZmtpStream) -> None:
        if self.on_batch is not None:
            self.on_batch()

    def _lost(self, stream: ZmtpStream, reason: str) -> None:
        if stream is self.stream:
            self.stream = None
        if stream is self._conn:
            self._conn = None
        if reason != "closed":
            self.last_error = reason  # (a loss is not logged: the log's tail is a start's hint)
        if stream.error:  # we cut it (a bound, a broken message): what it carried is lost
            sys.stderr.write(
                "jupyter-remote: relay: the kernel's %s connection %s was cut (%s): connecting"
                " again\n" % (self.socket_type.decode(), self.path, stream.error)
            )
        if self.on_lost is not None:
            self.on_lost()
        self._retry()
