"""The notebook's notices of output a remote kernel's relay could not deliver, throttled.

The relay sends a GAP record in place of output it dropped at its buffer bound (a run of
messages evicted while no client read them) or of a message of more frames than a record
carries (reason "parts"); ``RelayedChannels._publish_gap`` (``relay_link.py``) turns each
into a notice in the notebook and on the kernel's card. A kernel that sends oversized
messages in a loop, or overflows the bound again and again, made one notice per record
(review s24 F7). :class:`GapNotices` keeps, per kernel and per reason, at most one notice
per INTERVAL: the first at once, then one summary per interval saying how many more
were dropped for the same reason, nothing lost in the count.

Coalesced here, on the laptop, not at the relay: every GAP record still numbers the
messages it stands for (the local side's ``last_in``), which a relay could not merge
across the replies between two evicted runs; the notebook is what a flood fills (a GAP
record is ~0.5 KB, a "parts" one follows at least 131 KB of frames from the kernel); and
a relay of an older version, still running beside its kernel, is bounded as well. (The
relay itself makes one "parts" GAP of a run of drops it has not sent yet, its
"messages" counting them: ``relay_kernel.KernelSide._oversized``.)
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..remote.zmtp_frames import MAX_FRAMES

#: seconds between two notices for the same reason
INTERVAL = 1.0


@dataclass
class _Window:
    """What arrived for one reason since its last notice (``GapNotices``)."""

    timer: asyncio.TimerHandle | None = None
    messages: int = 0
    nbytes: int = 0
    parts: int = 0
    bound: int = 0
    parent: bytes = b"{}"


class GapNotices:
    """Per kernel (one per ``RelayedChannels``): ``add`` each GAP record's info as it
    arrives; ``show(text, parent)`` is called at once for the first of a reason, then at
    most once per ``interval`` with the count of those that came meanwhile."""

    def __init__(self, show: Callable[[str, bytes], None], interval: float = INTERVAL) -> None:
        self._show = show
        self.interval = interval
        self._windows: dict[str, _Window] = {}
        #: GAP records counted into a summary rather than shown each
        self.coalesced = 0

    def add(self, info: dict[str, Any], parent: bytes) -> None:
        """One GAP record (``_publish_gap``, on the event loop): its notice now if none was
        shown for its reason within the interval, else counted for the next summary."""
        reason = "parts" if info.get("reason") == "parts" else "bound"
        window = self._windows.get(reason)
        if window is None:
            self._show(gap_text(info), parent)
            self._open(reason)
            return
        self.coalesced += 1
        window.messages += int(info.get("count" if reason == "bound" else "messages", 1))
        window.nbytes += int(info.get("bytes", 0))
        window.parts += int(info.get("parts", 0)) if reason == "parts" else 0
        window.bound = int(info.get("bound", 0))
        window.parent = parent

    def close(self) -> None:
        """The channels close: no summary is due any more."""
        for window in self._windows.values():
            if window.timer is not None:
                window.timer.cancel()
        self._windows = {}

    def _open(self, reason: str) -> None:
        """A notice was shown for ``reason``: the next ones wait for the interval's end."""
        loop = asyncio.get_running_loop()
        window = self._windows[reason] = _Window()
        window.timer = loop.call_later(self.interval, self._flush, reason)

    def _flush(self, reason: str) -> None:
        """The interval ended: the summary of what came meanwhile, if anything (and a new
        interval after it); if nothing came, the next GAP is shown at once."""
        window = self._windows.pop(reason, None)
        if window is None or not window.messages:
            return
        self._show(summary_text(reason, window, self.interval), window.parent)
        self._open(reason)


def gap_text(info: dict[str, Any]) -> str:
    """What the notebook shows for a GAP record: messages dropped at the relay's buffer
    bound, or (reason "parts") one with more parts than a record carries."""
    if info.get("reason") == "parts":  # "messages": those one GAP stands for (s25)
        n = int(info.get("messages", 1))
        return (
            f"[jupyter-remote] {n:,} output message{'s' if n != 1 else ''} "
            f"({int(info['parts']):,} parts, {int(info['bytes']) / 1e6:.1f} MB) "
            f"{'were' if n != 1 else 'was'} dropped: more than {MAX_FRAMES:,} parts"
            f"{' each' if n != 1 else ''}, which the relay cannot carry. Send the data in "
            "fewer, larger buffers (e.g. one joined buffer instead of one per item).\n"
        )
    n = int(info["count"])
    return (
        f"[jupyter-remote] {n:,} output message{'s' if n != 1 else ''} "
        f"({info['bytes'] / 1e6:.1f} MB) {'were' if n != 1 else 'was'} dropped while the "
        f"link was down: the remote keeps at most {info['bound'] / 1e6:.0f} MB of output for "
        "an absent client.\n"
    )


def summary_text(reason: str, window: _Window, interval: float = INTERVAL) -> str:
    """The notice for the GAPs one interval coalesced (``GapNotices._flush``)."""
    n = window.messages
    last = "the last second" if interval == 1 else f"the last {interval:g} s"
    messages = f"{n:,} more output message{'s' if n != 1 else ''}"
    were = "were" if n != 1 else "was"
    if reason == "parts":
        return (
            f"[jupyter-remote] {messages} ({window.parts:,} parts, {window.nbytes / 1e6:.1f} MB) "
            f"{were} dropped in {last} for the same reason: more than "
            f"{MAX_FRAMES:,} parts each, which the relay cannot carry.\n"
        )
    return (
        f"[jupyter-remote] {messages} ({window.nbytes / 1e6:.1f} MB) {were} dropped in "
        f"{last} for the same reason: the remote keeps at most "
        f"{window.bound / 1e6:.0f} MB of output for an absent client.\n"
    )
