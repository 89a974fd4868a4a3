"""Big frames' buffers used again once nobody holds them (runs ON the remote as a part of
the agent script, and here).

The relay reads each big frame of its kernel (``zmtp.py``: BIG_FRAME bytes or more) into a
buffer of its own and keeps it until the local side acknowledges it. A new ``bytearray``
per frame is zero-filled and, in the relay thread's malloc arena, lands on pages the
kernel maps afresh: ~250 page faults per MB of a stream (s24-s25, bench/analysis.md). A
stream's frames are freed in the order they were read (acknowledged, written), so the
buffers handed out are kept in that order and the oldest is taken again for a new frame
once no one else refers to it (up to SCAN held longer go to the back, so they hold up
no other): CPython's reference count says so exactly (a record's
pieces, the relay's buffer, a writer's queue and every view all count). Its bytes are not
zeroed (the socket overwrites all of them before the frame is handed on). At most
POOL_BYTES are kept, all let go once no big frame came for IDLE_AFTER seconds. An
interpreter without ``sys.getrefcount`` gets fresh buffers, as before. Stdlib, Python
>= 3.8.
"""

import collections
import sys
import threading
import time
from typing import Any, Deque, Optional

#: the most bytes of buffers kept (handed out and in use included): more than a stream
#: has in flight until the local side's acknowledgement, else the oldest is never free
POOL_BYTES = 64 * 1024 * 1024
#: how many kept buffers a take looks at, oldest first, for one nobody holds (each held
#: one goes to the back): a few, so a take stays cheap however many are in flight
SCAN = 8
#: seconds without a big frame after which every kept buffer is let go
IDLE_AFTER = 1.0

_refcount: Any = getattr(sys, "getrefcount", None)


def _refs_of_first(kept: Deque[bytearray]) -> int:
    """References to ``kept[0]`` (ours included), measured always this same way."""
    buf = kept[0]
    return int(_refcount(buf)) if _refcount is not None else -1


def _unheld_refs() -> int:
    """What ``_refs_of_first`` says of a buffer only the pool holds (this interpreter's
    count of its own references: the deque's, the local name's, the call's)."""
    if _refcount is None:
        return -2  # never equal to -1: nothing is reused
    probe: Deque[bytearray] = collections.deque([bytearray(1)])
    return _refs_of_first(probe)


_UNHELD = _unheld_refs()


class FramePool:
    """The buffers one event loop's streams read big frames into (``take``); ``zmtp.py``
    asks ``pool_for_this_loop()`` for it."""

    def __init__(self, max_bytes: int = POOL_BYTES, idle_after: float = IDLE_AFTER) -> None:
        self.max_bytes = max_bytes
        self.idle_after = idle_after
        self._kept: Deque[bytearray] = collections.deque()  # handed out, oldest first
        self._caps: Deque[int] = collections.deque()  # each one's allocated size
        self._bytes = 0  # their sum
        self._last = 0.0  # monotonic time of the last take
        self._timer: Optional[Any] = None
        self.taken = 0  # frames read into a buffer of the pool's (tests, benches)
        self.reused = 0  # of those, the ones read into a buffer taken again

    def take(self, size: int) -> bytearray:
        """A buffer of exactly ``size`` bytes for a frame about to be read whole into it:
        the oldest kept one if nobody else holds it and it fits, else a new one (kept
        while a loop runs here to let it go when idle)."""
        self._last = time.monotonic()
        self.taken += 1
        kept = self._kept
        for _ in range(min(len(kept), SCAN)):  # held longer: to the back
            if _refs_of_first(kept) == _UNHELD:
                break
            kept.rotate(-1)
            self._caps.rotate(-1)
        if kept and _refs_of_first(kept) == _UNHELD:
            buf, cap = kept.popleft(), self._caps.popleft()
            self._bytes -= cap
            if cap // 2 < size <= cap:  # resized inside its allocation: no realloc, no fill
                if size < len(buf):
                    del buf[size:]
                elif size > len(buf):
                    buf.extend(bytes(size - len(buf)))
                self._keep(buf, cap)
                self.reused += 1
                return buf
        buf = bytearray(size)
        if self._timer is not None or self._arm():
            self._keep(buf, size)
        return buf

    @property
    def kept_bytes(self) -> int:
        """What the buffers kept hold (in use or not)."""
        return self._bytes

    def clear(self) -> None:
        """Let every kept buffer go (those in use stay their holders')."""
        self._kept.clear()
        self._caps.clear()
        self._bytes = 0

    def _keep(self, buf: bytearray, cap: int) -> None:
        if cap > self.max_bytes:
            return
        while self._kept and self._bytes + cap > self.max_bytes:  # the oldest forgotten
            self._kept.popleft()
            self._bytes -= self._caps.popleft()
        self._kept.append(buf)
        self._caps.append(cap)
        self._bytes += cap

    def _arm(self) -> bool:
        """The idle check in IDLE_AFTER s; False without a running loop (nothing kept)."""
        import asyncio

        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return False
        self._timer = loop.call_later(self.idle_after, self._idle)
        return True

    def _idle(self) -> None:
        """Every IDLE_AFTER s while buffers are kept: all go once no frame came since."""
        self._timer = None
        if time.monotonic() - self._last >= self.idle_after:
            self.clear()
        else:
            self._arm()


_local = threading.local()


def pool_for_this_loop() -> FramePool:
    """The pool of the running event loop (the relay runs its loop in a thread of the
    supervisor; tests run one loop after another in a thread, and a pool must not
    outlive its loop: its idle timer is that loop's). Called from a stream's
    ``buffer_updated``; with no loop running (a test feeding bytes by hand) the pool
    keeps nothing, so a fresh one is as good."""
    import asyncio

    try:
        loop: Any = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    if getattr(_local, "loop", None) is not loop:
        _local.loop, _local.pool = loop, FramePool()
    pool: FramePool = _local.pool
    return pool
