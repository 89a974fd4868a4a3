"""The reading side of a ZMTP stream (``zmtp.py``'s ``ZmtpStream``): on the remote (a part
of the agent script, before ``zmtp.py``) and here.

asyncio's buffered-protocol calls (``get_buffer``, ``buffer_updated``) and what they feed:
the greeting and frames parsed from a small buffer, a big frame read straight into its
own buffer (one of ``zmtp_pool``'s, or grown as its bytes come under ``eager_limit``),
each frame bounded against what the peer may send (``_bound``), whole messages handed to
the stream (``received``), commands to its ``_command``, and at most ``max_batch`` of
them per read or loop turn. The stream itself (handshake, writes, its end) is
``zmtp.py``'s. Stdlib only, Python >= 3.8.
"""

import struct
from typing import TYPE_CHECKING, Any, Callable, Optional

# <local-imports> removed when the script is sent: the parts before it define these
from jupyter_remote.remote.zmtp_discard import ZmtpDiscard
from jupyter_remote.remote.zmtp_frames import (
    BIG_FRAME,
    COMMAND,
    FRAME_COST,
    GREETING_SIZE,
    LONG,
    MORE,
    SMALL_BUFFER,
    Frames,
    ZmtpError,
    check_greeting,
)
from jupyter_remote.remote.zmtp_pool import pool_for_this_loop

# </local-imports>

#: the largest command before READY: libzmq's READY is ~30 bytes plus its Identity (at most
#: 255) and any ZMQ_METADATA properties (Jupyter sets none); more is refused at its header
HANDSHAKE_COMMAND = 4096


class ZmtpReader(ZmtpDiscard):
    """Mixed into ``ZmtpStream`` (``zmtp.py``, which sets the state in its ``__init__``):
    what a read of the peer's bytes does, up to whole messages and commands."""

    if TYPE_CHECKING:  # ZmtpStream's state and methods this side uses
        transport: Any
        closed: bool
        is_ready: bool
        error: str
        max_message: int
        max_frames: int
        eager_limit: Optional[int]
        max_batch: Optional[int]
        on_oversize: str
        _buf: bytearray
        _big: Optional[bytearray]
        _big_fill: int
        _big_size: int
        _big_flags: int
        _batch: int
        _paused: bool
        _greeted: bool
        abort: Callable[[str], None]
        batch_done: Callable[[], None]
        received: Callable[[Frames], None]
        _command: Callable[[Any], None]

    # -- asyncio's side ---------------------------------------------------------------

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
