"""The notebook's notices of output a remote kernel's relay could not deliver, throttled.

The relay sends a GAP record in place of output it dropped at its buffer bound (a run of
messages evicted while no client read them) or of a message of more frames than a record
carries (reason "parts"); ``GapTeller.tell`` (``relay_gaps.py``) turns each
into a notice in the notebook, in the cell of the GAP's parent header, and on the kernel's
card. A kernel that sends oversized messages in a loop, or overflows the bound again and
again, made one notice per record (review s24 F7). :class:`GapNotices` keeps, per kernel,
per reason and per cell (the parent's msg_id), at most one notice per INTERVAL: the first
at once in that cell, then one summary per interval there saying how many more were
dropped, nothing lost in the count. Per cell, not per reason alone (review s25 F3): after
an outage the relay sends one "bound" GAP per cell at once, and each cell shows its own
marker where its output is missing.

Against a relay sending GAPs for ever new cells, at most CELLS_PER_INTERVAL cells get a
first notice per interval and at most MAX_WINDOWS cells' summaries are pending at once;
the GAPs of further cells are counted into one summary per reason and interval. So at
most CELLS_PER_INTERVAL + MAX_WINDOWS + 2 notices a second, whatever the relay sends, and
what is kept per kernel is bounded (a cell's state is forgotten one quiet interval after
its last GAP; a parent header is kept up to PARENT_KEPT bytes).

Coalesced here, on the laptop, not at the relay: every GAP record still numbers the
messages it stands for (the local side's ``last_in``), which a relay could not merge
across the replies between two evicted runs; the notebook is what a flood fills (a GAP
record is ~0.5 KB, a "parts" one follows at least 131 KB of frames from the kernel); and
a relay of an older version, still running beside its kernel, is bounded as well. (The
relay itself makes one "parts" GAP of a run of drops it has not sent yet, its
"messages" counting them: ``relay_kernel.KernelSide._oversized``.)

A GAP may also stand for replies (shell, control, stdin messages: "replies" of its
"count", on "channel"), which the relay drops only with no client connected and more of
them kept than a share of its bound (review s26 R2: a kernel sending them unasked).
Its notice (reason "replies") says so; ``dropped_reply`` gives the answer
``RelayedChannels`` sends in place of a shell or control reply lost: an error reply
(ename ReplyDropped) to the request it answered, so a client waiting for it (a cell
shown running) stops waiting. A lost stdin message is the kernel's input request: no
answer can stand for the user's, so the notice says to interrupt the kernel.

A GAP the link refused (``relay_records.gap_record``, review s28: a hostile or broken
relay's) is told with reason "malformed" (MALFORMED): output may be missing in that cell,
with no count or size, since none of its figures is believed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from ..errors import RemoteCommandError
from ..remote.zmtp_frames import MAX_FRAMES
from ..text import printable
from .relay_hello import relay_json

#: seconds between two notices for the same reason in the same cell
INTERVAL = 1.0
#: cells whose first GAP is shown at once, per interval; the next ones share one summary
CELLS_PER_INTERVAL = 20
#: cells whose summary may be pending at once (a flood from each); more share one summary
MAX_WINDOWS = 2 * CELLS_PER_INTERVAL
#: a parent header kept for a later summary up to this size (an honest one is ~0.3 KB);
#: a longer one (a hostile relay) is dropped: that notice goes to the card alone
PARENT_KEPT = 16 * 1024
#: distinct cells an overflow summary counts one by one (more: "over N")
OVERFLOW_CELLS_COUNTED = 1000


@dataclass
class _Window:
    """What arrived since the last notice, for one reason and one cell (or, the overflow
    window, for the cells over the interval's cap)."""

    parent: bytes
    timer: asyncio.TimerHandle | None = None
    messages: int = 0
    nbytes: int = 0
    parts: int = 0
    bound: int = 0
    #: the overflow window's cells (msg_ids, cut to 64 characters)
    cells: set[str] = field(default_factory=set)

    def count(self, reason: str, info: dict[str, Any]) -> None:
        """One more GAP record's numbers into this window."""
        self.messages += int(info.get("messages" if reason == "parts" else "count", 1))
        self.nbytes += int(info.get("bytes", 0))
        self.parts += int(info.get("parts", 0)) if reason == "parts" else 0
        self.bound = int(info.get("bound", 0))


class GapNotices:
    """Per kernel (one per ``RelayedChannels``): ``add`` each GAP record's info as it
    arrives; ``show(text, parent)`` is called at once for the first of a reason in a cell,
    then at most once per ``interval`` in that cell with the count of those that came
    meanwhile; cells over ``cells_per_interval`` share one summary per interval."""

    def __init__(
        self,
        show: Callable[[str, bytes], None],
        interval: float = INTERVAL,
        cells_per_interval: int = CELLS_PER_INTERVAL,
        max_windows: int = MAX_WINDOWS,
    ) -> None:
        self._show = show
        self.interval = interval
        self.cells_per_interval = cells_per_interval
        self.max_windows = max_windows
        #: per (reason, the cell's msg_id): the cells with a notice shown this interval
        self._windows: dict[tuple[str, str], _Window] = {}
        #: per reason: the GAPs of cells over the cap, for the interval's summary
        self._overflow: dict[str, _Window] = {}
        #: first notices shown in the current interval (``_interval_timer``'s)
        self._new_cells = 0
        self._interval_timer: asyncio.TimerHandle | None = None
        #: GAP records counted into a summary rather than shown each
        self.coalesced = 0

    def add(self, info: dict[str, Any], parent: bytes) -> None:
        """One GAP record (``GapTeller.tell``, on the event loop): its notice now if none was
        shown for its reason and cell within the interval and the interval's cap of cells
        is not reached, else counted for the next summary. ``info`` is as
        ``relay_records.gap_record`` checked it (or MALFORMED for one it refused)."""
        if info.get("statuses"):  # a run of status messages alone: no output to mark (s26)
            return
        reason = str(info.get("reason", ""))
        if reason not in ("parts", "malformed"):
            reason = "behind" if info.get("behind") else "bound"
            reason = "replies" if info.get("replies") else reason
        kept = bytes(parent) if len(parent) <= PARENT_KEPT else b"{}"
        key = (reason, cell_of(kept))
        window = self._windows.get(key)
        if window is not None:
            self.coalesced += 1
            window.count(reason, info)
            window.parent = kept
            return
        self._start_interval()
        if self._new_cells >= self.cells_per_interval or len(self._windows) >= self.max_windows:
            self.coalesced += 1
            window = self._overflow.setdefault(reason, _Window(kept))
            window.count(reason, info)
            if len(window.cells) < OVERFLOW_CELLS_COUNTED:
                window.cells.add(key[1][:64])
            return
        self._new_cells += 1
        self._show(gap_text(info), parent)
        self._open(key, kept)

    def close(self) -> None:
        """The channels close: no summary is due any more."""
        for window in self._windows.values():
            if window.timer is not None:
                window.timer.cancel()
        if self._interval_timer is not None:
            self._interval_timer.cancel()
        self._windows, self._overflow, self._interval_timer = {}, {}, None

    def _open(self, key: tuple[str, str], parent: bytes) -> None:
        """A notice was shown for ``key``: the next ones wait for the interval's end."""
        loop = asyncio.get_running_loop()
        window = self._windows[key] = _Window(parent)
        window.timer = loop.call_later(self.interval, self._flush, key)

    def _flush(self, key: tuple[str, str]) -> None:
        """A cell's interval ended: the summary of what came meanwhile, if anything (and a
        new interval after it); if nothing came, the cell is forgotten and its next GAP is
        shown at once."""
        window = self._windows.pop(key, None)
        if window is None or not window.messages:
            return
        self._show(summary_text(key[0], window), window.parent)
        self._open(key, window.parent)

    def _start_interval(self) -> None:
        """The cap's interval, started by the first GAP after a quiet one."""
        if self._interval_timer is None:
            loop = asyncio.get_running_loop()
            self._interval_timer = loop.call_later(self.interval, self._end_interval)

    def _end_interval(self) -> None:
        """The cap's interval ended: one summary per reason of the cells over it, and the
        next interval's cells get a first notice again."""
        self._interval_timer, self._new_cells = None, 0
        overflow, self._overflow = self._overflow, {}
        for reason, window in overflow.items():
            self._show(overflow_text(reason, window, self.cells_per_interval), window.parent)
        if overflow:
            self._start_interval()


def cell_of(parent: bytes) -> str:
    """The msg_id of a GAP's parent header: the cell whose output it stands for ("" for
    none, or a header the relay sent malformed)."""
    try:
        msg_id = relay_json(parent).get("msg_id") if parent else ""
    except RemoteCommandError:
        return ""
    return msg_id if isinstance(msg_id, str) else ""


#: why output was dropped for a client that read it more slowly than the kernel wrote it
#: (a GAP with "behind", review s27 F2), before the bound in MB
BEHIND = "the client read more slowly than the kernel wrote, and the remote keeps at most "


def gap_text(info: dict[str, Any]) -> str:
    """What the notebook shows for a GAP record: messages dropped at the relay's buffer
    bound, or (reason "parts") one with more parts than a record carries."""
    if info.get("reason") == "malformed":
        return MALFORMED_TEXT
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
    if info.get("replies"):
        return replies_text(info)
    if info.get("behind"):  # dropped unsent while a client read too slowly (review s27 F2)
        return (
            f"[jupyter-remote] {n:,} output message{'s' if n != 1 else ''} "
            f"({info['bytes'] / 1e6:.1f} MB) {'were' if n != 1 else 'was'} dropped: {BEHIND}"
            f"{info['bound'] / 1e6:.0f} MB of output not sent yet.\n"
        )
    return (
        f"[jupyter-remote] {n:,} output message{'s' if n != 1 else ''} "
        f"({info['bytes'] / 1e6:.1f} MB) {'were' if n != 1 else 'was'} dropped while the "
        f"link was down: the remote keeps at most {info['bound'] / 1e6:.0f} MB of output for "
        "an absent client.\n"
    )


#: what ``RelayedChannels`` tells for a GAP it refused (``relay_records.gap_record``): it
#: stands for its own seq alone, and no figure of it is believed (review s28)
MALFORMED: dict[str, Any] = {"reason": "malformed", "count": 1, "bytes": 0, "bound": 0}
MALFORMED_TEXT = (
    "[jupyter-remote] Output may be missing here: the kernel's relay sent a malformed record "
    "of output it dropped (how much is unknown; the Jupyter server's log says what was "
    "wrong).\n"
)


def replies_text(info: dict[str, Any]) -> str:
    """``gap_text`` for a GAP that stands for replies too (review s26 R2)."""
    n, replies, channel = int(info["count"]), int(info["replies"]), str(info.get("channel"))
    if channel == "stdin":
        then = "If the kernel waits for input, it asked in vain: interrupt it."
    else:
        then = "The request they answered gets an error reply (ReplyDropped) instead."
    return (
        f"[jupyter-remote] {n:,} kernel message{'s' if n != 1 else ''} ({replies:,} "
        f"{printable(channel)[:16]} repl{'ies' if replies != 1 else 'y'} among them, "
        f"{info['bytes'] / 1e6:.1f} MB) {'were' if n != 1 else 'was'} dropped while the link "
        f"was down: the remote keeps at most {info['bound'] / 1e6:.0f} MB for an absent "
        f"client. {then}\n"
    )


def dropped_reply(
    info: dict[str, Any], parent: bytes
) -> tuple[str, str, dict[str, Any], dict[str, Any]] | None:
    """What ``RelayedChannels`` sends in place of a shell or control reply the relay
    dropped (a GAP with "replies", review s26 R2): (channel, reply type, content, the
    request's header) of an error reply to the request of ``parent``; None for stdin (the
    kernel's input request) or a parent that is no request."""
    channel = info.get("channel")
    if channel not in ("shell", "control"):
        return None
    try:
        header = request_header(relay_json(parent) if parent else {})
    except RemoteCommandError:
        return None
    if header is None:
        return None
    msg_type = header["msg_type"]
    content: dict[str, Any] = {
        "status": "error",
        "ename": "ReplyDropped",
        "evalue": "the kernel's reply was dropped by its relay: more replies than its bound "
        "keeps waited for a client that was away or read more slowly than the kernel wrote",
        "traceback": [],
    }
    if msg_type == "execute_request":
        content["execution_count"] = None
    return channel, msg_type[: -len("request")] + "reply", content, header


#: a request header's fields an error reply's parent header keeps (``request_header``)
HEADER_FIELDS = ("msg_id", "msg_type", "session", "username", "date", "version")


def request_header(header: Any) -> dict[str, Any] | None:
    """A dropped reply's parent header as the error reply's parent (``dropped_reply``): a
    dict whose msg_id and msg_type (a ``*_request``) are strings, cut to the string fields
    of HEADER_FIELDS; else None. The kernel writes that frame itself, so a hostile one may
    send a parent with no msg_id, or with a "header" key that jupyter_client's
    extract_header would unpack (review s27 F1: KeyError, TypeError that ended the link)."""
    fields = parent_fields(header)
    msg_type = fields.get("msg_type")
    if not isinstance(msg_type, str) or not msg_type.endswith("_request") or len(msg_type) > 64:
        return None
    return fields


def parent_fields(header: Any) -> dict[str, Any]:
    """A GAP's parent header as a message's parent (``request_header``; a notice's,
    ``GapTeller._show``): the string fields of HEADER_FIELDS of a dict whose
    msg_id is a string, else {} (review s27 F1: jupyter_client reads msg_id and unpacks a
    "header" key)."""
    if not isinstance(header, dict) or not encodes(header.get("msg_id")):
        return {}
    return {k: header[k] for k in HEADER_FIELDS if encodes(header.get(k))}


def encodes(value: Any) -> TypeGuard[str]:
    """A string that UTF-8 can carry: JSON may hold a lone surrogate ("\\ud800"), which
    jupyter_client's packer refuses (review s28 F1: UnicodeEncodeError ended the link).
    Also called by ``relay_records`` on a dropped reply's answer fields."""
    if not isinstance(value, str):
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def reply_gap_ok(info: dict[str, Any]) -> bool:
    """A GAP standing for replies is as the relay makes it (``RelayedChannels._from_remote``
    checks before telling or answering it): "count", "bytes", "bound" and "replies" ints
    >= 0, replies at most count, "channel" a relayed reply channel (review s27 F1: a
    "replies": "many" raised in int())."""
    numbers = [info.get(k) for k in ("count", "bytes", "bound", "replies")]
    if not all(type(n) is int and n >= 0 for n in numbers):
        return False
    return info["replies"] <= info["count"] and info.get("channel") in ("shell", "control", "stdin")


def summary_text(reason: str, window: _Window, where: str = "") -> str:
    """The notice for the GAPs one interval coalesced in one cell (``GapNotices._flush``),
    or, with ``where``, in the cells over the cap (``overflow_text``). A "bound" GAP
    stands for output dropped while the link was down, however long ago: its relay sends
    it when a client is back."""
    n = window.messages
    if reason == "malformed":
        return (
            f"[jupyter-remote] {n:,} more malformed record{'s' if n != 1 else ''} of dropped "
            f"output came from the kernel's relay{where}: output may be missing.\n"
        )
    if reason == "behind":
        return (
            f"[jupyter-remote] {n:,} more output message{'s' if n != 1 else ''} "
            f"({window.nbytes / 1e6:.1f} MB) {'were' if n != 1 else 'was'} dropped{where}: "
            f"{BEHIND}{window.bound / 1e6:.0f} MB of output not sent yet.\n"
        )
    kind = "kernel" if reason == "replies" else "output"
    messages = f"{n:,} more {kind} message{'s' if n != 1 else ''}"
    if reason == "replies":
        messages += " (replies among them)"
    were = "were" if n != 1 else "was"
    if reason == "parts":
        return (
            f"[jupyter-remote] {messages} ({window.parts:,} parts, {window.nbytes / 1e6:.1f} MB) "
            f"{were} dropped{where or ' for the same reason'}: more than "
            f"{MAX_FRAMES:,} parts each, which the relay cannot carry.\n"
        )
    return (
        f"[jupyter-remote] {messages} ({window.nbytes / 1e6:.1f} MB) {were} dropped while "
        f"the link was down{where}: the remote keeps at most "
        f"{window.bound / 1e6:.0f} MB of output for an absent client.\n"
    )


def overflow_text(reason: str, window: _Window, cap: int) -> str:
    """The notice for the GAPs of the cells over the interval's cap
    (``GapNotices._end_interval``), shown in the first of them."""
    cells = len(window.cells)
    over = "over " if cells >= OVERFLOW_CELLS_COUNTED else ""
    where = (
        f" in {over}{cells:,} more cell{'s' if cells != 1 else ''} "
        f"(over {cap} cells a second share one notice)"
    )
    return summary_text(reason, window, where)
