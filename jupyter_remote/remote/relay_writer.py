"""The relay's writes to its client's link: runs ON the remote, part of the agent script.

``Relay._take_client`` (``relay.py``, a later part) wraps a proven client's connection in
a ``LinkWriter``: every record the relay writes to that client goes through it (the
HELLO answer, the pump's batches, what a kernel read writes at once, ACKs, heartbeat
echoes), in the order written. It sends the records' pieces (heads and the kernel's
frames, not copied) with ``socket.sendmsg``; what the socket does not take waits in its
queue as views, and goes when the loop says the socket is writable. On Python < 3.12
asyncio's ``writelines`` joined every batch into one new buffer and copied what the
socket did not take into its own buffer too: ~70 % of the relay's page faults in a 200 MB
stream (s24). Reading stays with asyncio's transport (``RecordReader``). The laptop's
ZMTP servers write to their local clients through it too (``kernels/zmtp_server.py``:
there a 1 MB output was joined, then copied again into the transport's buffer, per
client). Stdlib, Python >= 3.8.
"""

import collections
import errno
import itertools
import os
import socket
from typing import Any, Deque, List

#: pieces per sendmsg (Linux and macOS allow 1,024)
MAX_PIECES = 512
#: ``drain`` returns once at most this much waits in the queue
DRAINED = 1024 * 1024
_AGAIN = (errno.EAGAIN, errno.EWOULDBLOCK, errno.EINTR)


class LinkWriter:
    """One client's connection, written by ``sendmsg`` (reading stays with asyncio's
    transport). Writes after the connection failed or closed are dropped, as asyncio's
    transport does; a failed send aborts the transport, so its reader sees the end."""

    def __init__(self, writer: Any) -> None:
        import asyncio

        # a StreamWriter (the relay's) or a transport (the laptop's ZMTP peers): the
        # transport reads, and is closed by its owner
        self.writer = writer
        self.transport = getattr(writer, "transport", writer)
        self.loop = asyncio.get_event_loop()
        # a duplicate of the socket's descriptor: the loop refuses add_writer on a
        # descriptor its transport owns; the same socket, closed with this writer
        sock = writer.get_extra_info("socket")
        self.sock = socket.socket(fileno=os.dup(sock.fileno()))
        self.sock.setblocking(False)
        self.queue: Deque[Any] = collections.deque()  # pieces not (wholly) sent, in order
        self.size = 0  # their bytes
        self.watching = False  # the loop calls _writable when the socket takes more
        self.closed = False
        self._drained: List[Any] = []  # futures of drain() calls waiting for the queue

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.writer.get_extra_info(name, default)

    def get_write_buffer_size(self) -> int:
        """Bytes written and not yet taken by the socket (asyncio's transport's name)."""
        return self.size

    def write(self, data: Any) -> None:
        self.writelines([data])

    def writelines(self, pieces: List[Any]) -> None:
        """Send ``pieces`` after everything written before; the socket takes what it can
        now, the rest waits (the pieces are not copied: they must not change)."""
        if self.closed:
            return
        for piece in pieces:
            if len(piece):
                self.queue.append(piece)
                self.size += len(piece)
        if not self.watching:
            self._send()

    async def drain(self) -> None:
        """Until at most DRAINED bytes wait (or the connection is gone)."""
        while self.size > DRAINED and not self.closed:
            waiter = self.loop.create_future()
            self._drained.append(waiter)
            await waiter

    def abort(self) -> None:
        """The connection ends now, whatever waits (a newer client replaces it)."""
        self.close()
        self.transport.abort()

    def close(self) -> None:
        """Nothing more is sent; the duplicate descriptor goes (the transport is its
        owner's to close)."""
        if self.closed:
            return
        self.closed = True
        self.queue.clear()
        self.size = 0
        if self.watching:
            self.watching = False
            self.loop.remove_writer(self.sock.fileno())
        self.sock.close()
        self._wake()

    # ------------------------------------------------------------ sending

    def _send(self) -> None:
        """As much of the queue as the socket takes now; watch for more room if any is
        left, stop watching once all is sent."""
        queue = self.queue
        while queue:
            pieces = list(itertools.islice(queue, MAX_PIECES))
            try:
                sent = self.sock.sendmsg(pieces)
            except OSError as exc:
                if exc.errno in _AGAIN:
                    break
                self._failed()
                return
            self.size -= sent
            for piece in pieces:
                if sent < len(piece):  # the socket is full: this piece's rest goes first
                    if sent:
                        queue[0] = memoryview(piece)[sent:]
                    break
                sent -= len(piece)
                queue.popleft()
            else:
                continue  # all offered was taken: offer the next pieces
            break
        if queue and not self.watching:
            self.watching = True
            self.loop.add_writer(self.sock.fileno(), self._writable)
        elif not queue and self.watching:
            self.watching = False
            self.loop.remove_writer(self.sock.fileno())
        if self.size <= DRAINED:
            self._wake()

    def _writable(self) -> None:
        if not self.closed:
            self._send()

    def _failed(self) -> None:
        """The peer is gone (EPIPE, ECONNRESET...): drop what waits, end the connection
        (the relay's reader sees it and forgets this client)."""
        self.close()
        try:
            self.transport.abort()
        except Exception:  # closed already
            pass

    def _wake(self) -> None:
        waiters, self._drained = self._drained, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)
