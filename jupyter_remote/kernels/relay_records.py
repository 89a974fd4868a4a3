"""What the laptop accepts of each record a kernel's relay sends, checked at one place.

The relay beside a remote kernel writes every byte :class:`RelayedChannels`
(``relay_link.py``) reads from its link (the record format: ``remote/protocol.py``), and
a hostile or broken remote controls them all. Each kind of record has one checker here,
run before anything of the record is used; it names what is wrong (the text of the
WARNING the link logs) or returns None. What the link does with a record that fails
(review s28; docs/SECURITY.md):

- HELLO answer (:func:`hello_problem`): the attach fails with "a malformed greeting",
  nothing written to the relay.
- MSG (:func:`msg_problem`): numbered (its seq is the relay's: it is believed, as any
  MSG's) and dropped: no client gets it.
- HB (:func:`hb_problem`): dropped.
- ACK (:func:`ack_problem`): ignored, no request taken off the replay queue.
- GAP (:func:`gap_record`): numbered as its own seq alone (the next record's seq is
  believed, as always) and told as a "malformed" notice, saying output may be missing,
  with no count or size it does not have; a GAP for replies whose reply fields alone are
  wrong is told as a plain GAP (review s27 F1); one whose answers (review s27 F3: one a
  dropped reply, :func:`gap_answers`) are wrong is told with its replies, and only the
  answers found right are answered.
- Any other kind: ignored.

None of these raises out of the link's record handling (an exception there ended the link:
one re-attach per record, as often as the relay liked), moves the laptop's numbering
(``last_in``) backwards, or beyond what an ACK's u64 carries (a GAP "count" of 10**30 made
every later ACK raise and every later message a "duplicate").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeGuard

from ..errors import RemoteCommandError
from ..remote.protocol import RELAYED
from ..remote.relay_answers import (
    ANSWER_FIELD,
    ANSWER_MAX,
    ANSWERS_PER_RUN,
    IDENT_FRAMES_KEPT,
    IDENTS_KEPT,
)
from ..text import printable
from .gap_notices import PARENT_KEPT, encodes, reply_gap_ok
from .relay_hello import relay_json

#: the largest seq a record carries (its u64 field): the laptop's ACK must carry last_in
SEQ_MAX = (1 << 64) - 1
#: the most messages one GAP stands for: more than a relay numbers in years (a kernel
#: sends under 100,000 messages a second)
MAX_GAP_COUNT = 1 << 40
#: the largest byte, part or bound figure a GAP may carry (a float beyond 1e308 raised
#: OverflowError in the notice's MB)
MAX_FIGURE = (1 << 63) - 1
#: the largest GAP info part parsed (a relay's is under 300 bytes)
MAX_GAP_INFO = 4096
#: the longest epoch a HELLO answer may name (a relay's is 32 hex digits)
MAX_EPOCH = 128
#: answers one GAP may carry, the longest one parsed, its longest header field, and its
#: routing: the relay's own bounds, one definition (``remote/relay_answers.py``)
MAX_ANSWERS, MAX_ANSWER = ANSWERS_PER_RUN, ANSWER_MAX


def _count(value: Any, least: int, most: int) -> TypeGuard[int]:
    """``value`` is an int (not a bool, nor a float such as 1e9) in least..most."""
    return type(value) is int and least <= value <= most


def hello_problem(answer: dict[str, Any]) -> str | None:
    """What is wrong with a proven HELLO answer (``RelayedChannels._greet``), or None:
    "epoch" a non-empty string, "start" (the first seq the relay sends) 1..SEQ_MAX and
    "last_in" (the highest request number it has) 0..SEQ_MAX, ints. A bool passed
    ``isinstance(x, int)``, and a start of -10**30 or 10**30 set ``last_in`` beyond
    what an ACK carries."""
    epoch = answer.get("epoch")
    if not isinstance(epoch, str) or not 0 < len(epoch) <= MAX_EPOCH:
        return "epoch is not a short string"
    if not _count(answer.get("start"), 1, SEQ_MAX):
        return f"start {_shown(answer.get('start'))} is not a seq"
    if not _count(answer.get("last_in"), 0, SEQ_MAX):
        return f"last_in {_shown(answer.get('last_in'))} is not a seq"
    return None


def msg_problem(channel: int, parts: list[Any]) -> str | None:
    """What is wrong with a MSG record's header, or None: its channel one of RELAYED (4..255
    raised IndexError) and at least one frame (a client's identity, iopub's topic: none
    raised IndexError in the local send)."""
    if not 0 <= channel < len(RELAYED):
        return f"channel {channel} is none of the {len(RELAYED)} relayed"
    return hb_problem(parts)


def hb_problem(parts: list[Any]) -> str | None:
    """What is wrong with an HB record (a heartbeat's echo), or None: at least one frame,
    the pinging client's identity."""
    return None if parts else "it has no frame"


def ack_problem(seq: int, written: int) -> str | None:
    """What is wrong with an ACK of ``seq`` (the relay has every request up to it), or
    None: the laptop wrote requests up to ``written`` only; an ACK beyond took requests
    the relay never had off the replay queue."""
    if seq > written:
        return f"it acknowledges request {seq}, beyond the {written} written"
    return None


@dataclass
class Answer:
    """A dropped reply's answer as checked (:func:`gap_answers`): the seq of the reply,
    the channel of its request, that request's header (msg_id, msg_type ``*_request``,
    maybe session: strings) and its client's routing frames."""

    seq: int
    channel: str
    header: dict[str, str]
    idents: list[bytes]


@dataclass
class Gap:
    """A GAP record as checked (:func:`gap_record`): ``info`` holds only the fields the
    laptop reads, of the types and in the ranges the relay writes them."""

    info: dict[str, Any]
    parent: bytes  # the cell's parent header (b"{}" if over PARENT_KEPT)
    idents: list[Any] = field(default_factory=list)  # a reply's routing frames (before s29)
    #: one per dropped reply whose request the relay kept (review s27 F3); None from a
    #: relay before s29 (its one answer: ``parent``, to ``idents``)
    answers: list[Answer] | None = None


def gap_parent(parts: list[Any]) -> bytes:
    """A GAP's parent header part (the kernel's frame, cut at the relay): b"{}" if none or
    over PARENT_KEPT (a hostile relay's 200 MB one was parsed on the event loop)."""
    parent = parts[1] if len(parts) > 1 else b"{}"
    return bytes(parent) if len(parent) <= PARENT_KEPT else b"{}"


def gap_record(seq: int, parts: list[Any]) -> tuple[Gap | None, str | None]:
    """A GAP record starting at ``seq`` checked (``RelayedChannels._from_remote``):
    (the Gap, None) as the relay makes it (``relay.Relay._run_gap``,
    ``relay_buffer._parts_gap``); (None, what is wrong) for one not to be believed:
    "count" (the seqs it stands for) 1..MAX_GAP_COUNT and within SEQ_MAX, "bytes" and
    "bound" 0..MAX_FIGURE, a "reason" of "bound" (or none) or "parts", which has "parts"
    0..MAX_FIGURE and maybe "messages" 1..MAX_GAP_COUNT, "statuses" a bool. A GAP for
    replies whose reply fields alone are wrong (``reply_gap_ok``) is (a plain Gap, what
    is wrong)."""
    if not parts:
        return None, "it has no info part"
    if len(parts[0]) > MAX_GAP_INFO:
        return None, f"its info part is {len(parts[0]):,} bytes"
    try:
        raw = relay_json(parts[0])
    except RemoteCommandError as exc:
        return None, str(exc)
    count = raw.get("count")
    if not _count(count, 1, MAX_GAP_COUNT) or seq > SEQ_MAX - count + 1:
        return None, f"count {_shown(count)} is not a number of messages from seq {seq}"
    info: dict[str, Any] = {"count": count}
    for name in ("bytes", "bound"):
        if not _count(raw.get(name), 0, MAX_FIGURE):
            return None, f"{name} {_shown(raw.get(name))} is not a size"
        info[name] = raw[name]
    reason = raw.get("reason", "bound")
    if reason == "parts":
        if not _count(raw.get("parts"), 0, MAX_FIGURE):
            return None, f"parts {_shown(raw.get('parts'))} is not a count"
        if "messages" in raw and not _count(raw["messages"], 1, MAX_GAP_COUNT):
            return None, f"messages {_shown(raw['messages'])} is not a count"
        info.update(reason="parts", parts=raw["parts"], messages=raw.get("messages", 1))
    elif reason != "bound":
        return None, f"reason {_shown(reason)} is unknown"
    statuses, behind = raw.get("statuses", False), raw.get("behind", False)
    if type(statuses) is not bool or type(behind) is not bool:
        return None, f"statuses {_shown(statuses)} or behind {_shown(behind)} is not a bool"
    if statuses:
        info["statuses"] = True
    if behind:  # dropped unsent while the client read too slowly (review s27 F2)
        info["behind"] = True
    gap = Gap(info, gap_parent(parts), list(parts[2:]))
    if not raw.get("replies"):
        return gap, None
    if not reply_gap_ok(raw):  # review s27 F1: told as a plain GAP
        replies, channel = _shown(raw.get("replies")), _shown(raw.get("channel"))
        return gap, f"replies {replies} on channel {channel} malformed, told as plain output"
    info.update(replies=raw["replies"], channel=raw["channel"])
    if "answers" not in raw:  # a relay before s29: one answer, parts[2:] its routing
        return gap, None
    gap.idents, gap.answers, problem = [], *gap_answers(raw, seq, parts[2:])
    return gap, problem


def gap_answers(raw: dict[str, Any], seq: int, parts: list[Any]) -> tuple[list[Answer], str | None]:
    """The answers a GAP for replies carries after its parent (``remote/relay_answers.py``),
    those checked right, and what was wrong with the others (None if nothing): "answers"
    the number of parts, at most the replies and MAX_ANSWERS (else none is used), each a
    JSON object of at most MAX_ANSWER bytes (:func:`answer`)."""
    count = raw["answers"]
    if not _count(count, 0, min(raw["replies"], MAX_ANSWERS)) or count != len(parts):
        return [], f"answers {_shown(count)} for {len(parts)} parts: none answered"
    answers: list[Answer] = []
    wrong: list[str] = []
    for part in parts:
        checked = answer(part, seq, raw["count"])
        if isinstance(checked, str):
            wrong.append(checked)
        elif answers and checked.seq <= answers[-1].seq:
            # the relay writes a run's answers in seq order, one a seq: each seq is
            # answered once (review s29 R2: 4,096 copies of one answer were 4,096 replies)
            wrong.append(f"seq {checked.seq} answered already")
        else:
            answers.append(checked)
    if not wrong:
        return answers, None
    return answers, f"{len(wrong)} of {count} answers not answered, the first: {wrong[0]}"


def answer(part: Any, seq: int, count: int) -> Answer | str:
    """One answer part of a GAP starting at ``seq`` for ``count`` seqs: an Answer, or what is
    wrong: its "seq" within the GAP's, "channel" shell or control, "msg_id" and "session"
    (if any) strings and "msg_type" a ``*_request`` string of at most ANSWER_FIELD
    characters that UTF-8 carries, "idents" at most IDENT_FRAMES_KEPT hex strings of at
    most IDENTS_KEPT bytes in all."""
    if len(part) > MAX_ANSWER:
        return f"an answer of {len(part):,} bytes"
    try:
        raw = relay_json(part)
    except RemoteCommandError as exc:
        return str(exc)
    if not _count(raw.get("seq"), seq, seq + count - 1):
        return f"seq {_shown(raw.get('seq'))} is not in the GAP"
    if raw.get("channel") not in ("shell", "control"):
        return f"channel {_shown(raw.get('channel'))} is no request channel"
    header = {k: raw[k] for k in ("msg_id", "msg_type", "session") if _field(raw.get(k))}
    if "msg_id" not in header or not header.get("msg_type", "").endswith("_request"):
        return f"msg_type {_shown(raw.get('msg_type'))} or msg_id is no request's"
    idents = raw.get("idents")
    if not isinstance(idents, list):
        return "idents are not a list"
    try:
        routing = [bytes.fromhex(i) for i in idents]
    except (TypeError, ValueError):
        return "idents are not hex strings"
    if len(routing) > IDENT_FRAMES_KEPT or sum(len(i) for i in routing) > IDENTS_KEPT:
        return f"idents of {len(routing)} frames over the relay's bound"
    return Answer(raw["seq"], raw["channel"], header, routing)


def _field(value: Any) -> TypeGuard[str]:
    """A header field an answer keeps: a string of at most ANSWER_FIELD characters that
    UTF-8 carries (``gap_notices.encodes``: a lone surrogate, review s28 F1)."""
    return encodes(value) and len(value) <= ANSWER_FIELD


def gap_told(info: dict[str, Any], seq: int, last_in: int) -> dict[str, Any]:
    """A checked GAP's info for the numbers after ``last_in`` alone (one starting at or
    below it, a relay's mistake: each seq is told once), bytes and replies in proportion;
    none of them (count 0) for a GAP told already (its caller skips those first)."""
    new = max(0, seq + info["count"] - 1 - max(last_in, seq - 1))
    if new >= info["count"]:
        return info
    told = {**info, "count": new, "bytes": info["bytes"] * new // info["count"]}
    if "replies" in told:
        told["replies"] = min(told["replies"], new)
    return told


def _shown(value: Any) -> str:
    """A field's value as the WARNING names it (printable, at most 40 characters)."""
    return printable(repr(value))[:40]
