"""Review s24 F7: a kernel that makes its relay drop output again and again (messages of
more frames than a record carries, sent in a loop; output over the relay's bound in cell
after cell while the link is down) gets a bounded number of notices in the notebook,
their counts adding up to every message dropped, and its later output still arrives
(``kernels/gap_notices.py``). Harness of tests/test_relay.py: a real ipykernel, the relay
in a thread, the local side over a plain unix socket.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import queue
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.asynchronous import AsyncKernelClient

from jupyter_remote.kernels.gap_notices import (
    CELLS_PER_INTERVAL,
    INTERVAL,
    MAX_WINDOWS,
    GapNotices,
)
from jupyter_remote.kernels.relay_link import RelayedChannels
from jupyter_remote.remote import relay as relay_mod
from jupyter_remote.ssh.forwards import free_local_ports
from tests.harness.unix_link import UnixLink
from tests.harness.waiting import eventually_async
from tests.test_relay import (  # noqa: F401 (kernel_factory: the fixture)
    RelayedKernel,
    cell_lines,
    joined,
    kernel_factory,
)
from tests.test_relay_kernel_messages import pumped_records
from tests.test_relay_start import starting_kernel

#: messages of 6 + 65,536 frames (MAX_FRAMES is 65,535) a cell publishes in a loop
OVERSIZED = 40
OVERSIZED_LOOP = f"""
k = get_ipython().kernel
for _ in range({OVERSIZED}):
    k.session.send(k.iopub_socket, "display_data", {{"data": {{}}, "metadata": {{}}}},
                   parent=k.get_parent("shell"), buffers=[b"."] * 65536)
print("after", flush=True)
"""
FIRST = re.compile(r"^\[jupyter-remote\] ([\d,]+) output messages? \(")
FIRST_PARTS = re.compile(r"^\[jupyter-remote\] ([\d,]+) output messages? \(([\d,]+) parts, ")
MORE = re.compile(r"^\[jupyter-remote\] ([\d,]+) more output messages? \(")


def dropped_in(text: str) -> int:
    """How many dropped messages one notice counts (0: not a GAP notice)."""
    match = FIRST.match(text) or MORE.match(text)
    return int(match.group(1).replace(",", "")) if match else 0


async def notices_until(
    kc: Any, total: int, timeout: float = 30, cells: list[str] | None = None
) -> tuple[list[Any], str]:
    """The GAP notices (time, text) published to iopub until they count ``total`` dropped
    messages (a summary comes up to INTERVAL after the last GAP), and 2 INTERVALs more
    (no notice may follow); with the other stream text read meanwhile. ``cells`` gets
    each notice's cell (its parent's msg_id)."""
    notices: list[tuple[float, str]] = []
    other = ""
    deadline = time.monotonic() + timeout
    counted, settle = 0, None
    while time.monotonic() < (settle or deadline):
        try:
            msg = await kc.get_iopub_msg(timeout=0.1)
        except queue.Empty:  # nothing this 0.1 s
            continue
        if msg["msg_type"] != "stream":
            continue
        text = msg["content"]["text"]
        if not dropped_in(text):
            other += text
            continue
        notices.append((time.monotonic(), text))
        if cells is not None:
            cells.append(msg["parent_header"].get("msg_id", ""))
        counted += dropped_in(text)
        if counted >= total and settle is None:
            settle = time.monotonic() + 2 * INTERVAL
    return notices, other


async def test_oversized_messages_in_a_loop_make_a_bounded_number_of_notices(
    kernel_factory: Any,  # noqa: F811
) -> None:
    """40 messages of 65,542 frames in a loop: the first notice says what happened and
    what to do at once, the others are counted into at most one summary per second, the
    counts add up to 40, and what the cell prints after them, and the next cell, arrive.
    The old code published 40 notices (one per GAP record)."""
    async with joined(kernel_factory) as (_, channels, kc):
        cell = kc.execute(OVERSIZED_LOOP)
        cells: list[str] = []
        notices, other = await notices_until(kc, OVERSIZED, cells=cells)
        texts = [text for _, text in notices]
        assert sum(dropped_in(text) for text in texts) == OVERSIZED, texts
        assert channels.gaps == OVERSIZED
        assert other == "after\n"
        first = FIRST_PARTS.match(texts[0])  # one message, or a few the relay merged
        assert first, texts
        assert int(first[2].replace(",", "")) == 65_542 * int(first[1].replace(",", "")), texts
        assert "fewer, larger buffers" in texts[0]
        span = notices[-1][0] - notices[0][0]
        assert len(texts) <= 2 + span / INTERVAL, (span, texts)
        assert all(" parts, " in text for text in texts[1:]), texts
        assert cells == [cell] * len(texts), cells  # each in the cell (s25 F3)
        for (at, _), (then, _) in itertools.pairwise(notices[1:]):
            assert then - at > 0.8 * INTERVAL, texts  # one summary per interval at most
        assert await cell_lines(kc, kc.execute("print(6 * 7)")) == ["42"]


#: cells queued before the link drops, each printing more than the relay's 1 MiB bound
CELLS = 12
BIG_CELL = "import time; time.sleep(0.3); print('x' * 1_200_000, flush=True)"


async def test_output_over_the_bound_in_cell_after_cell_makes_a_notice_in_each_cell(
    kernel_factory: Any,  # noqa: F811
) -> None:
    """ "Run all" of 12 cells, each printing 1.2 MB, and the link drops as they run: the
    relay (bound 1 MiB) evicts each cell's output, a run of its own between the cells'
    replies, and sends one GAP per run when the link is back. Each cell whose output was
    dropped shows its own notice, in that cell, saying it was dropped while the link was
    down; their counts add up to every message the relay dropped; the next cell's output
    arrives. Review s25 F3: e7be995 showed the first cell's notice and one summary in the
    last cell ("... in the last second"), the cells between without a marker; until s26 a
    run began with the previous cell's idle status, whose parent it carried, so a notice
    was often shown one cell early."""
    async with joined(kernel_factory, buffer_bytes=1 << 20) as (kernel, channels, kc):
        await cell_lines(kc, kc.execute("pass"))
        relay = kernel.relay
        before = relay.last_in
        ids = [kc.execute(BIG_CELL) for _ in range(CELLS)]
        # every request on the relay's side before the link drops (a request still on the
        # local side would run after the re-attach, with a client reading: no notice)
        await eventually_async(lambda: relay.last_in - before, lambda n: n >= CELLS, timeout=30)
        channels.detach()
        deadline = time.monotonic() + 60
        await asyncio.sleep(0.3 * CELLS)
        seen = -1
        while (relay.busy or relay.seq != seen) and time.monotonic() < deadline:
            seen = relay.seq
            await asyncio.sleep(0.5)  # every cell has run once nothing came for 0.5 s
        await channels.attach(UnixLink(), kernel.path)
        replies = set()
        while len(replies) < CELLS and time.monotonic() < deadline:
            reply = await kc.get_shell_msg(timeout=30)
            replies.add(reply["parent_header"].get("msg_id"))
        assert replies >= set(ids)
        cells: list[str] = []
        notices, _ = await notices_until(kc, relay.dropped, cells=cells)
        texts = [text for _, text in notices]
        # one run per cell, ended where the cell changes; the previous cell's idle status
        # (the run's first message) no longer names it: 45156d3 asked for half the cells
        assert channels.gaps >= CELLS, channels.gaps  # (+ runs of statuses alone: no notice)
        assert cells == ids, (cells, ids)  # one notice each, in that cell, in order
        assert all(FIRST.match(text) for text in texts), texts
        assert all("dropped while the link was down: " in text for text in texts), texts
        assert all("1 MB of output" in text for text in texts), texts
        assert sum(dropped_in(text) for text in texts) == relay.dropped, (texts, relay.dropped)
        assert await cell_lines(kc, kc.execute("print(6 * 7)")) == ["42"]


def bound_gap(count: int = 40) -> dict[str, Any]:
    """A "bound" GAP record's info as the relay sends it (``relay.Relay._pump``)."""
    return {"count": count, "bytes": count * 30_000, "bound": 1 << 20}


def cell_parent(n: int) -> bytes:
    """The parent header a GAP of cell ``n`` carries (its execute_request's)."""
    return json.dumps({"msg_id": f"cell-{n}", "msg_type": "execute_request"}).encode()


async def test_a_reconnect_s_gaps_for_many_cells_are_each_shown_in_their_cell() -> None:
    """Review s25 F3's experiment: 12 "bound" GAPs of cells 1..12 at once, as a reconnect
    delivers them: 12 notices, each in its own cell, at once, saying the output was
    dropped while the link was down (e7be995: cell 1's notice, then one summary in cell 12
    "... in the last second", cells 2-11 without a marker). A second GAP of a cell within
    the second is counted into that cell's summary, worded the same way."""
    shown: list[tuple[str, bytes]] = []
    notices = GapNotices(lambda text, parent: shown.append((text, parent)))
    for n in range(1, CELLS + 1):
        notices.add(bound_gap(), cell_parent(n))
    assert [parent for _, parent in shown] == [cell_parent(n) for n in range(1, CELLS + 1)]
    assert all(FIRST.match(text) and "while the link was down" in text for text, _ in shown)
    notices.add(bound_gap(3), cell_parent(5))
    await asyncio.sleep(INTERVAL + 0.3)
    assert len(shown) == CELLS + 1, shown
    text, parent = shown[-1]
    assert parent == cell_parent(5) and MORE.match(text), shown[-1]
    assert "3 more output messages (0.1 MB) were dropped while the link was down: " in text
    assert "last second" not in text
    assert sum(dropped_in(text) for text, _ in shown) == 40 * CELLS + 3
    notices.close()


async def test_gaps_for_ever_new_cells_are_capped_and_every_message_counted() -> None:
    """Against a hostile relay: GAPs of 500 new cells a burst, 6 bursts (plus a flood of
    one cell each burst) show the first CELLS_PER_INTERVAL cells' notices per interval, the
    rest of each interval in one summary ("in N more cells"), every message counted; what
    is kept stays under the caps and is forgotten once the GAPs stop."""
    shown: list[tuple[float, str]] = []
    interval = 0.2
    notices = GapNotices(lambda text, _parent: shown.append((time.monotonic(), text)), interval)
    total = 0
    for burst in range(6):
        for n in range(500):
            notices.add(bound_gap(2), cell_parent(burst * 1000 + n))
            notices.add(bound_gap(1), cell_parent(-1))  # one cell's flood throughout
            total += 3
            assert len(notices._windows) <= MAX_WINDOWS
        if not burst:  # cell -1 and 19 others shown, 481 cells over the cap
            assert len(shown) == CELLS_PER_INTERVAL and len(notices._overflow["bound"].cells) == 481
        await asyncio.sleep(interval / 2)
    await asyncio.sleep(5 * interval)
    texts = [text for _, text in shown]
    assert sum(dropped_in(text) for text in texts) == total, texts
    span = shown[-1][0] - shown[0][0]
    assert len(texts) <= (CELLS_PER_INTERVAL + 2) * (2 + span / interval), (span, len(texts))
    overflow = [text for text in texts if " more cells (over 20 cells a second " in text]
    assert overflow and all(MORE.match(text) for text in overflow), texts
    assert re.search(
        r"\) were dropped while the link was down in [\d,]+ more cells \(", overflow[0]
    )
    assert not notices._windows and not notices._overflow and notices._interval_timer is None
    notices.close()


#: a start-up line (IPKernelApp.exec_lines: run after the sockets are bound, before the
#: kernel answers anything, so within the relay's start-up nudge) publishing a message of
#: 65,542 frames once the relay's iopub connection surely has its subscription
STARTUP_OVERSIZED = (
    "import time; time.sleep(1.5); k = get_ipython().kernel; "
    "k.session.send(k.iopub_socket, 'display_data', {'data': {}, 'metadata': {}}, "
    "buffers=[b'.'] * 65536)"
)


@pytest.fixture
def startup_oversized() -> Iterator[RelayedKernel]:
    """A real ipykernel whose start publishes STARTUP_OVERSIZED, with its relay, once the
    relay's start is over."""
    with starting_kernel(STARTUP_OVERSIZED) as kernel:
        assert kernel.relay.ready.wait(60) and not kernel.relay.failure
        yield kernel


async def test_a_message_too_long_to_relay_during_the_start_makes_its_notice(
    startup_oversized: RelayedKernel,
) -> None:
    """Review s24 leftover: a message of more frames than a record carries, dropped while
    the relay's start-up nudge waits for the kernel's answer, was only logged (the
    connections' on_dropped was set once served). Now its GAP is relayed once the kernel
    is served, and the relay's first client (whose HELLO came during the start, a new
    local side) gets it: the session's notice (``on_gap``: the card and the notebook's
    notice; no iopub subscriber is there yet at a real start) says what was dropped, and
    the kernel runs. The old code: no GAP at all."""
    names = (*relay_mod.RELAYED, "hb")
    ports = dict(zip(names, free_local_ports(len(names)), strict=True))
    told: list[str] = []
    key = startup_oversized.key
    channels = RelayedChannels(
        ports, key=key.encode(), signature_scheme="hmac-sha256", on_gap=told.append
    )
    await channels.attach(UnixLink(), startup_oversized.path)
    kc = AsyncKernelClient()
    info: dict[str, Any] = {f"{n}_port": p for n, p in ports.items()}
    info.update(transport="tcp", ip="127.0.0.1", key=key, signature_scheme="hmac-sha256")
    kc.load_connection_info(info)  # type: ignore[arg-type]
    kc.start_channels(hb=False)
    try:
        await kc.wait_for_ready(timeout=60)
        assert await cell_lines(kc, kc.execute("print(6 * 7)")) == ["42"]
        assert channels.gaps == 1 and len(told) == 1, told
        assert told[0].startswith("[jupyter-remote] 1 output message (65,542 parts, "), told
    finally:
        kc.stop_channels()
        channels.close()


async def test_a_relay_with_no_reader_keeps_one_gap_for_a_run_of_oversized_messages(
    tmp_path: Path,
) -> None:
    """Review s24 F7, the relay's side: 1,000 messages too long to relay dropped in a row
    while no client reads leave one GAP entry in the relay's buffer (each used to be an
    entry of its own, outside the byte bound), sent as one record whose notice counts all
    1,000 and their parts. Review s25 F2: a message relayed between two drops of the same
    cell no longer ends the run (60 drops between prints kept 60 entries): the GAP not yet
    sent counts them too; a drop of another cell gets its own. A bare Relay (no kernel),
    its pump writing to a stand-in."""
    from jupyter_remote.kernels.gap_notices import gap_text
    from jupyter_remote.remote.protocol import GAP, MSG
    from jupyter_remote.remote.relay import Relay
    from jupyter_remote.remote.relay_kernel import DELIM

    relay = Relay(str(tmp_path), {"ip": str(tmp_path / "kernel-ipc"), "key": ""}, 1 << 20)
    head = [DELIM, b"", b"{}", b'{"msg_id": "cell"}', b"{}", b"{}"]
    for _ in range(1000):
        relay._oversized("iopub", head, 65_542, 70_000)
    assert len(relay.fresh) == 1, len(relay.fresh)
    relay._append(relay_mod.RELAYED.index("iopub"), [*head, b"printed"])
    for _ in range(2):
        relay._oversized("iopub", head, 65_542, 70_000)
    relay._oversized("iopub", [*head[:3], b'{"msg_id": "next"}'], 65_542, 70_000)
    assert len(relay.fresh) == 3, len(relay.fresh)
    records = await pumped_records(relay)
    assert [kind for kind, _ in records] == [GAP, MSG, GAP]
    infos = [json.loads(bytes(parts[0])) for kind, parts in records if kind == GAP]
    assert [(i["count"], i.get("messages"), i["parts"]) for i in infos] == [
        (1, 1002, 65_673_084),
        (1, None, 65_542),
    ]
    assert gap_text(infos[0]).startswith(
        "[jupyter-remote] 1,002 output messages (65,673,084 parts, 70.1 MB) were dropped: "
        "more than 65,535 parts each"
    )
    shown: list[str] = []
    notices = GapNotices(lambda text, _parent: shown.append(text))
    for info in infos:
        notices.add(info, b"{}")
    await asyncio.sleep(INTERVAL + 0.3)
    assert sum(dropped_in(text) for text in shown) == 1003, shown
    notices.close()


async def test_a_gap_received_again_is_not_told_again() -> None:
    """A GAP record the laptop already has (its seqs at or below ``last_in``: resent after
    a reconnect) is neither counted nor told again; the old code told it twice (the
    second as "5 more output messages ... dropped")."""
    import json

    from jupyter_remote.remote.protocol import GAP

    names = (*relay_mod.RELAYED, "hb")
    ports = dict(zip(names, free_local_ports(len(names)), strict=True))
    told: list[str] = []
    channels = RelayedChannels(ports, key=b"k", signature_scheme="hmac-sha256", on_gap=told.append)
    info = json.dumps({"count": 5, "bytes": 5000, "bound": 1 << 20, "reason": "bound"}).encode()
    iopub = relay_mod.RELAYED.index("iopub")
    try:
        for _ in range(2):
            channels._from_remote(None, GAP, iopub, 1, [info, b'{"msg_id": "cell-1"}'])  # type: ignore[arg-type]
        await asyncio.sleep(1.5)  # a summary of a second GAP would be told by now
        assert channels.gaps == 1 and channels.last_in == 5, (channels.gaps, channels.last_in)
        assert len(told) == 1 and told[0].startswith("[jupyter-remote] 5 output messages"), told
    finally:
        channels.close()


async def test_a_hostile_gap_for_replies_is_told_and_never_ends_the_link(caplog: Any) -> None:
    """Review s27 F1: a GAP standing for replies whose parent header (the kernel writes
    it) has no msg_id, or a "header" key that is a list or a string, or whose "replies"
    is not a count, raised out of ``_from_remote`` (KeyError, TypeError, ValueError: the
    link ended, one re-attach per such GAP). Now each is numbered and told; a bad count is
    logged and told as a plain GAP (a bad size, since s28, as a malformed GAP); only a
    well-formed request is answered."""
    import json
    import logging

    from jupyter_remote.remote.protocol import GAP

    names = (*relay_mod.RELAYED, "hb")
    ports = dict(zip(names, free_local_ports(len(names)), strict=True))
    told: list[str] = []
    channels = RelayedChannels(ports, key=b"k", signature_scheme="hmac-sha256", on_gap=told.append)
    sent: list[tuple[str, list[Any]]] = []
    channels._to_local = lambda name, parts: sent.append((name, parts))  # type: ignore[method-assign]
    caplog.set_level(logging.WARNING, logger="jupyter_remote.kernels.relay_link")
    info = {"count": 1, "bytes": 0, "bound": 1 << 20, "replies": 1, "channel": "shell"}
    cases = [
        (info, {"msg_type": "execute_request"}),
        (info, {"msg_type": "execute_request", "msg_id": "a", "header": [1, 2]}),
        (info, {"msg_type": "execute_request", "msg_id": "a", "header": "ab"}),
        (info, {"msg_type": "execute_request", "msg_id": 7}),
        (info, ["execute_request"]),
        ({**info, "replies": "many"}, {"msg_type": "execute_request", "msg_id": "a"}),
        ({**info, "replies": 2}, {"msg_type": "execute_request", "msg_id": "a"}),
        ({**info, "bytes": -5}, {"msg_type": "execute_request", "msg_id": "a"}),
        ({**info, "channel": ["shell"]}, {"msg_type": "execute_request", "msg_id": "a"}),
        (info, {"msg_type": "execute_request", "msg_id": "good", "session": "s"}),
    ]
    try:
        for seq, (gap, parent) in enumerate(cases, 1):
            parts = [json.dumps(gap).encode(), json.dumps(parent).encode(), b"client-1"]
            channels._from_remote(None, GAP, 0, seq, parts)  # type: ignore[arg-type]
        assert channels.gaps == len(cases) and channels.last_in == len(cases), channels.gaps
        parents = [json.loads(f[f.index(b"<IDS|MSG>") + 3]) for _, f in sent]
        # answered: the requests with a str msg_id, their "header" key left out
        assert [p["msg_id"] for p in parents] == ["a", "a", "good"], parents
        assert all(name == "shell" and f[0] == b"client-1" for name, f in sent), sent
        assert parents[0] == {"msg_id": "a", "msg_type": "execute_request"}, parents
        assert parents[2] == {"msg_id": "good", "msg_type": "execute_request", "session": "s"}
        malformed = [r for r in caplog.records if "malformed GAP for replies" in r.getMessage()]
        assert len(malformed) == 3, [r.getMessage() for r in caplog.records]
        # review s28: a size of -5 is no GAP's at all: told as a malformed one
        refused = [r for r in caplog.records if "malformed GAP (" in r.getMessage()]
        assert len(refused) == 1 and "bytes -5" in refused[0].getMessage(), refused
    finally:
        channels.close()
