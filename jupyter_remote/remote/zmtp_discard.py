"""A ZMTP stream's discard mode: a message of more frames than it may carry is read to its
end and dropped (``ZmtpStream``'s ``on_oversize`` "discard"), on the remote (a part of the
agent script, before ``zmtp.py``) and here.

The relay's kernel may publish such a message (65,536 buffers in one display): cutting the
connection would lose what is in flight with it. Its frames are counted as they come and
never held, the first HEAD_KEPT kept for its headers (the relay's GAP names the message's
parent); a frame's body still to come is read over and over into the stream's small
buffer. Stdlib only, Python >= 3.8.
"""

from typing import TYPE_CHECKING, Callable, List, Optional

# <local-imports> removed when the script is sent: the parts before it define these
from jupyter_remote.remote.zmtp_frames import MORE, Frames

# </local-imports>

#: frames kept of a message dropped for its length (``on_oversize``): its headers
HEAD_KEPT = 8


class ZmtpDiscard:
    """Mixed into ``ZmtpStream`` (``zmtp.py``; its reading side ``zmtp_read.ZmtpReader``
    derives from this), whose ``_bound`` starts a discard at the
    frame over ``max_frames`` (``_begin_discard``), whose ``_parse`` hands each frame
    header of that message to ``_discard_body`` and whose ``buffer_updated`` hands reads
    to ``_skipped`` while a frame's body is being skipped."""

    if TYPE_CHECKING:  # ZmtpStream's state and methods this side uses
        _frames: Frames
        _size: int
        _start: int
        _end: int
        _head: Optional[Frames]
        _dropped: List[int]
        _skip: int
        _skip_flags: int
        _skip_size: int
        _on_dropped: Optional[Callable[..., None]]
        _count: Callable[[], None]

    def _init_discard(self, on_dropped: "Optional[Callable[..., None]]") -> None:
        """ZmtpStream.__init__: nothing being discarded."""
        self._on_dropped = on_dropped
        self._head = None  # discarding a message: its first frames
        self._dropped = [0, 0]  # its frames and bytes so far
        self._skip = 0  # bytes of a discarded frame still to come
        self._skip_flags = self._skip_size = 0

    def _begin_discard(self) -> None:
        """``_bound``: the message under way has reached ``max_frames``: what it had goes
        now (its first frames kept as its head), the rest is counted as it comes."""
        self._head = self._frames[:HEAD_KEPT]
        self._dropped = [len(self._frames), sum(map(len, self._frames))]
        self._frames, self._size = [], 0

    def _discard_body(self, flags: int, size: int, body_at: int, have: int) -> bool:
        """``_parse``, at a frame header of a message being discarded (``have`` of its
        ``size`` bytes of body read): True when its body was in the buffer (parse on),
        False when the rest is to be read and skipped (``_skipped``)."""
        self._start = body_at + min(size, have)
        if have < size:
            self._skip, self._skip_flags, self._skip_size = size - have, flags, size
            self._start = self._end = 0
            return False
        self._discard(flags, size)
        return True

    def _skipped(self, nbytes: int) -> None:
        """A read into the small buffer while a discarded frame's bytes come: those are
        dropped; what follows the frame's end, if any, is parsed as usual."""
        taken = min(nbytes, self._skip)
        self._skip -= taken
        if self._skip:
            return
        self._start, self._end = taken, nbytes
        self._discard(self._skip_flags, self._skip_size)

    def _discard(self, flags: int, size: int) -> None:
        """A frame of a message over ``max_frames`` (``on_oversize`` "discard") is over:
        counted, not kept; after its last, ``dropped`` says what was lost."""
        self._dropped[0] += 1
        self._dropped[1] += size
        if flags & MORE:
            return
        head, self._head = self._head or [], None
        count, nbytes = self._dropped
        self._dropped = [0, 0]
        self.dropped(head, count, nbytes)
        self._count()

    def dropped(self, head: Frames, frames: int, nbytes: int) -> None:
        """A message of ``frames`` frames (``nbytes`` bytes) over ``max_frames`` was read
        and dropped (``on_oversize`` "discard"); ``head``: its first frames. Subclasses
        may override it; by default ``on_dropped(stream, head, frames, nbytes)``."""
        if self._on_dropped is not None:
            self._on_dropped(self, head, frames, nbytes)
