"""Review s28, a hostile remote: every record a kernel's relay sends the laptop is checked
before anything of it is used (``kernels/relay_records.py``). A GAP whose "count" is
"many", -5, 1e9, a bool, missing or 10**30, a MSG on channel 9 or with no frame, an HB
with no frame, a figure too large for a float: each raised out of the link's record
handling (the link ended, the session re-attached: as often as the relay liked), or
moved the laptop's numbering beyond what an ACK carries. Now each is logged, numbered
(a malformed GAP as its own seq alone), told or dropped as ``relay_records`` says, and
the link goes on. An ACK beyond the requests written no longer takes requests off the
replay queue. The laptop-side class fed directly (as ``test_gap_notices`` does), and once
over a real link from a hand-made relay.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from typing import Any

import pytest
import zmq
import zmq.asyncio

from jupyter_remote.kernels.gap_notices import INTERVAL, MALFORMED_TEXT
from jupyter_remote.kernels.relay_link import RelayedChannels
from jupyter_remote.kernels.relay_records import SEQ_MAX, gap_told
from jupyter_remote.remote import relay as relay_mod
from jupyter_remote.remote.protocol import ACK, GAP, HB, MSG, RecordReader, encode_record
from jupyter_remote.ssh.forwards import free_local_ports
from tests.harness.unix_link import UnixLink
from tests.test_relay import greeting, hostile_relay

IOPUB = relay_mod.RELAYED.index("iopub")
PARENT = b'{"msg_id": "cell-1", "msg_type": "execute_request"}'
GOOD = {"count": 1, "bytes": 100, "bound": 1 << 20}
#: GAP info parts a hostile or broken relay may send, and what the WARNING must name
HOSTILE_GAPS: list[tuple[Any, str]] = [
    ({**GOOD, "count": "many"}, "count 'many'"),
    ({**GOOD, "count": -5}, "count -5"),
    ({**GOOD, "count": 0}, "count 0"),
    ({**GOOD, "count": 1e9}, "count 1000000000.0"),
    ({**GOOD, "count": True}, "count True"),
    ({**GOOD, "count": None}, "count None"),
    ({"bytes": 0, "bound": 0}, "count None"),
    ({**GOOD, "count": 10**30}, "count 1000000000000000000000000000000"),
    ({**GOOD, "bytes": -1}, "bytes -1"),
    ({**GOOD, "bytes": 10**400}, "bytes 1000000000"),  # / 1e6: OverflowError
    ({**GOOD, "bound": "1 MiB"}, "bound '1 MiB'"),
    ({**GOOD, "reason": "parts", "parts": "x"}, "parts 'x'"),
    ({**GOOD, "reason": "parts", "parts": 9, "messages": 0}, "messages 0"),
    ({**GOOD, "reason": "gremlins"}, "reason 'gremlins'"),
    ({**GOOD, "statuses": "yes"}, "statuses 'yes'"),
    ([1, 2], "not an object"),
    (b"\xff{", "malformed data"),
    ({**GOOD, "pad": "x" * 5000}, "info part is 5,"),
]


def channels_with(told: list[str]) -> RelayedChannels:
    """A local side on free ports (the tests' key), telling its notices to ``told``."""
    names = (*relay_mod.RELAYED, "hb")
    ports = dict(zip(names, free_local_ports(len(names)), strict=True))
    return RelayedChannels(ports, key=b"k", signature_scheme="hmac-sha256", on_gap=told.append)


def info_part(info: Any) -> bytes:
    return info if isinstance(info, bytes) else json.dumps(info).encode()


def warnings(caplog: Any) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def malformed_in(text: str) -> int:
    """How many malformed GAP records one notice counts."""
    if text == MALFORMED_TEXT.strip():
        return 1
    match = re.match(r"^\[jupyter-remote\] ([\d,]+) more malformed records? of dropped", text)
    return int(match[1].replace(",", "")) if match else 0


async def test_each_hostile_gap_is_logged_numbered_once_and_told_as_malformed(
    caplog: Any,
) -> None:
    """Each of 18 malformed GAPs (bad "count", sizes, reason, statuses; info not an
    object, not JSON, oversized), and one with no part, alone on a fresh local side:
    nothing raises (the old code: ValueError on "many", the first), one WARNING names what
    was wrong, the GAP is numbered as its own seq alone and told once as "malformed" (sent
    again, as after a reconnect, it is neither told nor counted again)."""
    caplog.set_level(logging.WARNING)
    for info, named in HOSTILE_GAPS:
        caplog.clear()
        told: list[str] = []
        channels = channels_with(told)
        try:
            for _ in range(2):
                channels._from_remote(None, GAP, 0, 7, [info_part(info), PARENT])  # type: ignore[arg-type]
            assert channels.last_in == 7 and channels.gaps == 1, (named, channels.last_in)
            assert channels.malformed == 1, named
            (message,) = warnings(caplog)
            assert message.startswith("relay sent a malformed GAP (1 so far): "), message
            assert named in message and message.endswith("told as a malformed GAP"), message
            assert told == [MALFORMED_TEXT.strip()], (named, told)
        finally:
            channels.close()
    caplog.clear()
    channels = channels_with([])
    try:  # a GAP with no part at all
        channels._from_remote(None, GAP, 0, 7, [])  # type: ignore[arg-type]
        assert channels.last_in == 7 and channels.gaps == 1 and channels.malformed == 1
        assert any("it has no info part" in m for m in warnings(caplog)), warnings(caplog)
    finally:
        channels.close()


async def test_malformed_gaps_are_counted_in_notices_and_the_numbering_stays_sane(
    caplog: Any,
) -> None:
    """All 18, one with no part at all, and one whose numbers pass SEQ_MAX, on one local
    side: ``last_in`` follows each seq (never backwards, never beyond an ACK's u64: the
    old code's 10**30 made every ACK raise), one notice per cell and then a summary count
    every malformed GAP, and the WARNINGs stop at the first 10 and the 2**n-th; a good
    GAP after them is told with its figures, and one overlapping what was told is told for
    its new numbers alone."""
    caplog.set_level(logging.WARNING)
    told: list[str] = []
    channels = channels_with(told)
    try:
        seq = 0
        for seq, (info, _) in enumerate(HOSTILE_GAPS, 1):
            channels._from_remote(None, GAP, 0, seq, [info_part(info), PARENT])  # type: ignore[arg-type]
            assert channels.last_in == seq, (info, channels.last_in)
        seq += 1
        channels._from_remote(None, GAP, 0, seq, [])  # type: ignore[arg-type]
        assert channels.last_in == seq
        bad = seq
        logged = [m for m in warnings(caplog) if m.startswith("relay sent a malformed GAP (")]
        assert len(logged) == 11, logged  # the first 10, then the 16th: a flood's log bounded
        # a good GAP after them: numbered to its end and told with its figures
        channels._from_remote(None, GAP, 0, bad + 1, [info_part({**GOOD, "count": 4}), PARENT])  # type: ignore[arg-type]
        assert channels.last_in == bad + 4
        # one overlapping what was told (a relay's mistake): its 2 new numbers alone
        overlap = {**GOOD, "count": 4, "bytes": 4_000_000}
        channels._from_remote(None, GAP, 0, bad + 3, [info_part(overlap), b"{}"])  # type: ignore[arg-type]
        assert channels.last_in == bad + 6
        # numbers past SEQ_MAX: malformed, numbered as its own seq (an ACK still carries it)
        channels._from_remote(None, GAP, 0, SEQ_MAX - 1, [info_part({**GOOD, "count": 3})])  # type: ignore[arg-type]
        assert channels.last_in == SEQ_MAX - 1
        encode_record(ACK, 0, channels.last_in)
        assert channels.malformed == bad + 1 and channels.gaps == bad + 3

        await asyncio.sleep(INTERVAL + 0.5)  # the summaries are due
        assert sum(malformed_in(text) for text in told) == bad + 1, told
        assert told[0] == MALFORMED_TEXT.strip(), told
        assert "[jupyter-remote] 4 output messages (0.0 MB) were dropped" in told[2], told
        assert "[jupyter-remote] 2 output messages (2.0 MB) were dropped" in told[3], told
        assert len(told) == 6, told  # 2 cells: a first notice and one summary each
    finally:
        channels.close()


async def test_hostile_msgs_hbs_acks_and_kinds_change_nothing(caplog: Any) -> None:
    """A MSG on channel 4 or 255, a MSG with no frame (iopub or shell), an HB with no
    frame: the old code raised IndexError out of the record handling (the link ended);
    an ACK of requests never written took them off the replay queue (lost at the next
    attach). Now each such MSG is numbered and dropped, the HB and the ACK ignored, a
    record of another kind ignored, each logged; a good MSG after them is delivered."""
    caplog.set_level(logging.WARNING)
    channels = channels_with([])
    published: list[list[Any]] = []
    channels.publish = published.append  # type: ignore[method-assign]
    try:
        shell = relay_mod.RELAYED.index("shell")
        for n in range(2):  # two requests while detached: kept for the next attach
            channels._from_local(shell, [b"<IDS|MSG>", b"sig", b"{}", b"{}", b"{}", b"%d" % n])
        hostile = [
            (MSG, 4, 1, [b"topic", b"x"], "channel 4"),
            (MSG, 255, 2, [b"topic", b"x"], "channel 255"),
            (MSG, IOPUB, 3, [], "no frame"),
            (MSG, shell, 4, [], "no frame"),
            (HB, 0, 0, [], "no frame"),
            (ACK, 0, 2, [], "acknowledges request 2, beyond the 0 written"),
            (9, 0, 5, [b"x"], "record of kind 9"),
        ]
        for kind, channel, seq, parts, _ in hostile:
            channels._from_remote(None, kind, channel, seq, parts)  # type: ignore[arg-type]
        assert channels.last_in == 4, channels.last_in
        assert len(channels._pending) == 2  # the old code: 0 (taken off by the ACK)
        assert channels.malformed == len(hostile) and not published
        messages = warnings(caplog)
        for *_, named in hostile:
            assert any("relay sent a malformed" in m and named in m for m in messages), named
        channels._from_remote(None, MSG, IOPUB, 5, [b"topic", b"good"])  # type: ignore[arg-type]
        assert published == [[b"topic", b"good"]] and channels.last_in == 5
    finally:
        channels.close()


async def test_a_hostile_relay_s_records_never_end_the_link() -> None:
    """Over a real link (a hand-made relay on a unix socket, the local side's own record
    link): after a proven greeting, GAPs with "count" "many" and 10**30 and "bytes"
    10**400, a MSG on channel 9, MSGs and an HB with no frame, then a good iopub message.
    The link stays up, the client gets the good message and a notice of the malformed
    GAPs, and the laptop acknowledges every seq (ACK 6). The old code ended the link at
    the first GAP: nothing after it arrived, no ACK."""
    go, acked = asyncio.Event(), asyncio.get_running_loop().create_future()

    async def hostile(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        hello = await reader.read(65536)
        writer.write(greeting(hello, start=1, last_in=0))
        await writer.drain()
        await go.wait()
        records = [
            (GAP, 0, 1, [info_part({**GOOD, "count": "many"}), PARENT]),
            (MSG, 9, 2, [b"topic", b"x"]),
            (MSG, IOPUB, 3, []),
            (HB, 0, 0, []),
            (GAP, 0, 4, [info_part({**GOOD, "count": 10**30}), PARENT]),
            (GAP, 0, 5, [info_part({**GOOD, "bytes": 10**400}), PARENT]),
            (MSG, IOPUB, 6, [b"topic", b"good"]),
        ]
        writer.write(b"".join(encode_record(*record) for record in records))
        await writer.drain()
        with contextlib.suppress(Exception):
            laptop = RecordReader(reader)
            while (record := await laptop.next()) is not None:
                if record[0] == ACK and record[2] >= 6 and not acked.done():
                    acked.set_result(record[2])
        writer.close()

    channels = channels_with([])
    ctx = zmq.asyncio.Context()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    try:
        async with hostile_relay(hostile, "records") as path:
            await channels.attach(UnixLink(), path)
            sub.connect(f"tcp://127.0.0.1:{channels.ports['iopub']}")
            sub.setsockopt(zmq.SUBSCRIBE, b"")
            for _ in range(100):  # until the PUB has the subscription
                if any(peer.subscriptions for peer in channels._pub.peers):  # type: ignore[union-attr]
                    break
                await asyncio.sleep(0.05)
            go.set()
            got: list[list[bytes]] = []
            while not got or got[-1] != [b"topic", b"good"]:
                got.append(await asyncio.wait_for(sub.recv_multipart(), 10))
            assert await asyncio.wait_for(acked, 5) == 6
            assert channels.attached and channels.last_in == 6
            assert channels.malformed == 6, channels.malformed
            notices = [m for m in got if m[0] == b"stream" and b"malformed record" in m[-1]]
            assert notices, got
    finally:
        sub.close()
        ctx.term()
        channels.close()


@pytest.mark.parametrize(
    ("field", "value"),
    [("start", True), ("start", 0), ("start", 10**30), ("last_in", -1), ("epoch", "")],
)
async def test_a_greeting_out_of_range_is_refused(field: str, value: Any) -> None:
    """A proven greeting whose "start" is a bool, 0 or 10**30, whose "last_in" is -1, or
    whose epoch is empty: the attach fails as for a malformed greeting, nothing written
    (the old code took True for 1 and a start of 10**30 for its numbering: every later
    message a "duplicate", every ACK unencodable)."""
    from jupyter_remote.errors import RemoteCommandError

    async def hostile(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        hello = await reader.read(65536)
        answer: dict[str, Any] = {"start": 1, "last_in": 0, field: value}  # proven
        writer.write(greeting(hello, **answer))
        with contextlib.suppress(Exception):
            await writer.drain()
            while await reader.read(65536):
                pass
        writer.close()

    channels = channels_with([])
    try:
        async with hostile_relay(hostile, "greeting") as path:
            with pytest.raises(RemoteCommandError, match="malformed greeting"):
                await channels.attach(UnixLink(), path)
            assert not channels.attached and channels.last_in == 0
    finally:
        channels.close()


async def test_a_parent_or_header_that_cannot_be_encoded_or_parsed_ends_nothing(
    caplog: Any,
) -> None:
    """Review s28 F1, F2: a GAP whose parent header holds a lone surrogate (pure ASCII
    JSON, "\\ud800") and a control MSG whose header says "shutdown_reply" nested deeper
    than json can parse, or longer than any real header. The old code raised out of the
    record handling (UnicodeEncodeError in the notice, RecursionError in
    is_shutdown_reply): each ended the link. Now the GAP is numbered and told without the
    parent, the MSG delivered, and a good MSG after them arrives."""
    caplog.set_level(logging.WARNING)
    told: list[str] = []
    channels = channels_with(told)
    published: list[list[Any]] = []
    channels.publish = published.append  # type: ignore[method-assign]
    control = relay_mod.RELAYED.index("control")
    lone = b'{"msg_id": "\\ud800", "msg_type": "execute_request", "session": "\\udfff"}'
    reply_gap = {**GOOD, "replies": 1, "channel": "shell"}
    try:
        channels._from_remote(None, GAP, 0, 1, [info_part(GOOD), lone])  # type: ignore[arg-type]
        channels._from_remote(None, GAP, 0, 2, [info_part(reply_gap), lone])  # type: ignore[arg-type]
        for seq, depth in ((3, 5_000), (4, 200_000)):
            header = b'["shutdown_reply",' + b"[" * depth
            frames = [b"id", b"<IDS|MSG>", b"sig", header, b"{}", b"{}", b"{}"]
            channels._from_remote(None, MSG, control, seq, frames)  # type: ignore[arg-type]
        assert channels.last_in == 4 and channels.gaps == 2, (channels.last_in, channels.gaps)
        assert len(told) == 2 and all("dropped" in t for t in told), told
        channels._from_remote(None, MSG, IOPUB, 5, [b"topic", b"good"])  # type: ignore[arg-type]
        assert published[-1] == [b"topic", b"good"] and channels.last_in == 5
    finally:
        channels.close()


def test_a_gap_told_already_is_told_with_no_numbers() -> None:
    """Review s28 F5: gap_told for a GAP wholly at or below last_in gave a negative count
    and size (-6, -60); its one caller skips such GAPs first, the function now says
    nothing is left on its own. A GAP partly told keeps its new seqs alone."""
    assert gap_told({"count": 10, "bytes": 100}, 5, 20) == {"count": 0, "bytes": 0}
    assert gap_told({"count": 10, "bytes": 100}, 5, 9) == {"count": 5, "bytes": 50}
    assert gap_told({"count": 10, "bytes": 100}, 5, 4) == {"count": 10, "bytes": 100}
