"""Review s25 F2: with no client reading, the relay's memory stays within its output
bound plus a constant, whatever the kernel sends: a print loop (each evicted message left
an entry with its parent header, ~433 bytes a message, for ever) and drops too long to
relay between prints (one GAP entry each, counted 0 bytes). What the local side gets
when it is back stays right: every seq once, a GAP counting each run dropped. A real
ipykernel and its relay in a thread (test_relay's harness), the local side over a plain
unix socket.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import Any

from jupyter_remote.remote.relay_buffer import MAX_HOPS
from tests.harness.unix_link import UnixLink
from tests.harness.waiting import eventually_async
from tests.test_gap_notices import dropped_in, notices_until
from tests.test_relay import (  # noqa: F401 (kernel_factory: the fixture)
    cell_lines,
    joined,
    kernel_factory,
)

BOUND = 1 << 20
IOPUB = 3  # RELAYED.index("iopub")
#: small prints in a loop, as a progress loop left running while the laptop sleeps
PRINTS = 40_000
PRINT_LOOP = f"import time; time.sleep(0.5)\nfor i in range({PRINTS}):\n    print(i, flush=True)"
#: drops too long to relay, each followed by a print: a message of 65,542 frames with a
#: 1 MB parent header (the review's gap_mem.py), then one line
DROPS = 60
DROP_LOOP = f"""
import time; time.sleep(0.5)
k = get_ipython().kernel
parent = dict(k.get_parent("shell"))
parent["header"] = dict(parent["header"], padding="p" * 1_000_000)
for i in range({DROPS}):
    k.session.send(k.iopub_socket, "display_data", {{"data": {{}}, "metadata": {{}}}},
                   parent=parent, buffers=[b"."] * 65536)
    print("line", i, flush=True)
"""


def held(relay: Any) -> tuple[int, int, int]:
    """What the relay holds for its client: (entries, entries that are notes of dropped
    output, bytes of frames and parent headers). Read from the relay's own lists: ``buf``
    from ``head`` on, and ``fresh`` from ``fresh_head`` on where there is one (s26; the old
    code had ``buf`` alone, its placeholders and GAPs with a parent in entry[4])."""
    lists = [relay.buf[relay.head :]]
    if hasattr(relay, "fresh"):
        lists.append(relay.fresh[relay.fresh_head :])
    entries = notes = nbytes = 0
    for entry in (e for part in lists for e in part):
        entries += 1
        if entry[2] is not None:
            nbytes += sum(len(f) for f in entry[2])
        else:
            notes += 1
            parent = next(p for p in entry[3:5] if isinstance(p, bytes | bytearray))
            nbytes += len(parent)
    return entries, notes, nbytes


async def until_quiet(relay: Any, timeout: float = 90) -> None:
    """Until the kernel is idle and its relay numbered nothing for 0.5 s."""
    deadline, seen = time.monotonic() + timeout, -1
    while (relay.busy or relay.seq != seen) and time.monotonic() < deadline:
        seen = relay.seq
        await asyncio.sleep(0.5)


async def until_running(relay: Any) -> None:
    """Until the relay has read the kernel's busy status: the cell's request reached the
    kernel, whose loop sleeps 0.5 s before it prints (the link drops meanwhile). A fixed
    0.2 s wait assumed the request got there in time: on a loaded machine it could still
    be on the local side when the link dropped, and the cell would run after the re-attach."""
    await eventually_async(lambda: relay.busy, timeout=30, interval=0.01, what="the cell running")


async def until_sent(relay: Any, timeout: float = 30) -> None:
    """Until the relay's pump has written everything to its (new) client."""
    deadline = time.monotonic() + timeout
    while relay.next_send <= relay.seq and time.monotonic() < deadline:
        await asyncio.sleep(0.05)


async def test_a_print_loop_with_no_client_keeps_the_relay_within_its_bound(
    kernel_factory: Any,  # noqa: F811
) -> None:
    """40,000 one-line prints while the link is down (bound 1 MiB): the relay holds the
    output within its bound and one note per run of evicted output, a few entries in all
    beyond the messages it keeps (the old code: one placeholder per evicted message, with
    its parent header, ~39,000 entries beyond the bound). Back, the local side gets the
    last lines in order and the notices count every message dropped."""
    async with joined(kernel_factory, buffer_bytes=BOUND) as (kernel, channels, kc):
        relay = kernel.relay
        await cell_lines(kc, kc.execute("pass"))
        cell = kc.execute(PRINT_LOOP)
        await until_running(relay)
        channels.detach()
        await until_quiet(relay)
        entries, notes, nbytes = held(relay)
        assert relay.seq > PRINTS, relay.seq
        assert notes <= 3, (entries, notes, nbytes)
        # each message kept counts its bytes + ~256: at most bound / 256 of them
        assert entries <= BOUND // 256 + 3, (entries, notes, nbytes)
        assert nbytes <= BOUND, (entries, notes, nbytes)
        assert relay.buf_bytes <= BOUND, relay.buf_bytes
        await channels.attach(UnixLink(), kernel.path)
        await until_sent(relay)
        cells: list[str] = []
        notices, other = await notices_until(kc, relay.dropped, cells=cells)
        texts = [text for _, text in notices]
        assert sum(dropped_in(text) for text in texts) == relay.dropped, texts
        assert set(cells) == {cell} and channels.gaps <= 3, (cells, channels.gaps)
        numbers = [int(line) for line in other.splitlines()]
        assert numbers and numbers == list(range(numbers[0], PRINTS)), numbers[:3]  # the last
        assert numbers[0] > PRINTS // 2, numbers[0]
        assert channels.last_in == relay.seq  # every seq, each once (a message or a GAP)
        assert await cell_lines(kc, kc.execute("print(6 * 7)")) == ["42"]


async def test_drops_between_prints_with_no_client_keep_one_gap(
    kernel_factory: Any,  # noqa: F811
) -> None:
    """The review's gap_mem.py: 60 messages too long to relay (1 MB parent headers), a
    print after each, while the link is down: one GAP entry counting all 60, its parent
    not kept (over 4 KiB), everything held counted in buf_bytes (the old code: 60 GAP
    entries, counted 0 bytes). Back, the local side gets the 60 lines and notices counting
    the 60 drops."""
    async with joined(kernel_factory, buffer_bytes=BOUND) as (kernel, channels, kc):
        relay = kernel.relay
        await cell_lines(kc, kc.execute("pass"))
        kc.execute(DROP_LOOP)
        await until_running(relay)
        channels.detach()
        await until_quiet(relay)
        entries, notes, nbytes = held(relay)
        assert notes == 1, (entries, notes, nbytes)
        assert nbytes <= 64 * 1024, (entries, notes, nbytes)
        assert relay.buf_bytes >= nbytes + 256 * entries, (relay.buf_bytes, nbytes, entries)
        await channels.attach(UnixLink(), kernel.path)
        await until_sent(relay)
        notices, other = await notices_until(kc, DROPS)
        assert sum(dropped_in(text) for _, text in notices) == DROPS, notices
        assert other == "".join(f"line {i}\n" for i in range(DROPS))
        assert channels.last_in == relay.seq
        assert await cell_lines(kc, kc.execute("print(6 * 7)")) == ["42"]


async def test_a_new_cell_in_every_message_keeps_the_relay_within_its_bound(
    tmp_path: Any,
) -> None:
    """A kernel naming a new cell (parent msg_id) in each of 20,000 messages while no client
    reads: a run per cell until the notes cost an eighth of the bound, then the drops join
    the run before them; the relay holds about its bound (the old code: a placeholder per
    message). Its pump then sends every seq once: the GAPs' counts and the messages kept
    add up to all 20,000. A bare Relay (no kernel), its pump writing to a stand-in."""
    from jupyter_remote.remote.protocol import GAP, MSG
    from jupyter_remote.remote.relay import RELAYED, Relay
    from jupyter_remote.remote.relay_kernel import DELIM
    from tests.test_relay_kernel_messages import pumped_records

    relay = Relay(str(tmp_path), {"ip": str(tmp_path / "kernel-ipc"), "key": ""}, BOUND)
    header = b'{"msg_type": "stream", "msg_id": "m"}'
    for n in range(20_000):
        parent = b'{"msg_id": "cell-%d", "msg_type": "execute_request"}' % n
        relay._append(RELAYED.index("iopub"), [DELIM, b"", header, parent, b"{}", b"x" * 300])
    entries, notes, nbytes = held(relay)
    assert notes <= BOUND // 8 // 300 + 2, (entries, notes, nbytes)
    assert relay.buf_bytes <= BOUND and nbytes <= BOUND, (relay.buf_bytes, nbytes)
    records = await pumped_records(relay)
    counts = [json.loads(bytes(parts[0]))["count"] for kind, parts in records if kind == GAP]
    kept = sum(kind == MSG for kind, _ in records)
    assert sum(counts) + kept == 20_000 == relay.seq, (sum(counts), kept)


async def test_output_whose_header_says_status_elsewhere_is_not_a_status_run(
    tmp_path: Any,
) -> None:
    """Review s26 R3: output whose header holds the word "status" in another field (here a
    ``subshell`` key), dropped while no client reads: its GAP counts it and is not marked
    as statuses alone (for those the laptop shows no notice). On d6c0a4f it was."""
    from jupyter_remote.remote.protocol import GAP, MSG
    from jupyter_remote.remote.relay import RELAYED, Relay
    from jupyter_remote.remote.relay_kernel import DELIM
    from tests.test_relay_kernel_messages import pumped_records

    relay = Relay(str(tmp_path), {"ip": str(tmp_path / "kernel-ipc"), "key": ""}, BOUND)
    header = b'{"msg_type": "stream", "msg_id": "m", "subshell": "status"}'
    for _ in range(40):
        relay._append(RELAYED.index("iopub"), [DELIM, b"", header, b"{}", b"{}", b"x" * 100_000])
    records = await pumped_records(relay)
    gaps = [json.loads(bytes(parts[0])) for kind, parts in records if kind == GAP]
    kept = sum(kind == MSG for kind, _ in records)
    assert gaps and not any(g.get("statuses") for g in gaps), gaps
    assert sum(g["count"] for g in gaps) + kept == 40 and kept <= 11, (gaps, kept)


#: a kernel sending replies nobody asked for, each followed by a line of output, while no
#: client is connected (the review s26 R2 experiment: 200,000 such pairs held 91 MB for
#: a 1 MiB bound); the replies are numbered ("unasked") and carry their cell's parent
UNASKED = 20_000
UNASKED_LOOP = f"""
import time; time.sleep(0.5)
k = get_ipython().kernel
parent, ident = k.get_parent("shell"), k._parent_ident["shell"]
for i in range({UNASKED}):
    k.session.send(k.shell_stream, "execute_reply",
                   {{"status": "ok", "execution_count": 0, "unasked": i}},
                   parent=parent, ident=ident)
    k.session.send(k.iopub_socket, "stream", {{"name": "stdout", "text": "%d\\n" % i}},
                   parent=parent)
time.sleep(0.5)
print("after", flush=True)
"""
KERNEL_MESSAGES = re.compile(r"^\[jupyter-remote\] ([\d,]+) kernel messages? \(([\d,]+) shell")


async def shell_replies_until_done(kc: Any, cell: str, timeout: float = 60) -> list[Any]:
    """The shell replies to ``cell`` the client gets, up to its own (ok, not "unasked")."""
    replies: list[Any] = []
    deadline = time.monotonic() + timeout
    while True:
        msg = await kc.get_shell_msg(timeout=max(0.1, deadline - time.monotonic()))
        assert msg["parent_header"].get("msg_id") == cell, msg
        replies.append(msg["content"])
        if "unasked" not in msg["content"] and msg["content"]["status"] == "ok":
            return replies


async def test_unasked_replies_with_no_client_keep_the_relay_within_its_bound(
    kernel_factory: Any,  # noqa: F811
) -> None:
    """Review s26 R2: a kernel sending 20,000 replies unasked, a line of output after each,
    while the link is down (bound 1 MiB): the relay holds its bound, its replies within
    half of it, and a few notes (the replies dropped join their cell's run of output).
    Back, the client gets the oldest replies kept, in order, then an error reply
    (ReplyDropped) where the dropped ones were, then the newest kept, contiguous, then
    the cell's own reply; the cell a notice saying replies were dropped; every seq once.
    The old code kept every reply (~20 MB held, 40,000+ entries)."""
    async with joined(kernel_factory, buffer_bytes=BOUND) as (kernel, channels, kc):
        relay = kernel.relay
        await cell_lines(kc, kc.execute("pass"))
        cell = kc.execute(UNASKED_LOOP)
        await until_running(relay)
        channels.detach()
        # every message numbered (2 a turn, busy, input, "after", idle, its reply), or
        # none for 2 s (the kernel's shell thread sends the replies at its own pace, and
        # its ROUTER may drop some at its high-water mark while the relay is slower)
        deadline, seen, since = time.monotonic() + 90, -1, time.monotonic()
        while relay.seq < 2 * UNASKED + 5 and time.monotonic() < min(deadline, since + 2):
            if relay.seq != seen or relay.busy:
                seen, since = relay.seq, time.monotonic()
            await asyncio.sleep(0.2)
        entries, notes, nbytes = held(relay)
        assert relay.buf_bytes <= BOUND and nbytes <= BOUND, (relay.buf_bytes, nbytes)
        assert relay.seq > 2 * UNASKED * 0.9, relay.seq
        assert entries <= BOUND // 256 + 3, (entries, notes, nbytes)
        # replies passed by eviction and kept: the oldest, within half the bound; runs
        # between them only where more than MAX_HOPS lie between two drops (a read of
        # each channel takes what came: bursts), all the replies dropped in one run
        oldest = [e for e in relay.buf[relay.head :] if e[2] is not None and e[1] != IOPUB]
        assert sum(e[3] + 256 for e in oldest) <= BOUND // 2, len(oldest)
        assert notes <= len(oldest) // (MAX_HOPS + 1) + 3, (notes, len(oldest))
        # of what the laptop never got: a run of what it got (the first cell's reply, sent
        # and dropped before the laptop's ACK came: a loaded machine) is not resent
        runs = [e for e in relay.buf[relay.head :] if e[2] is None and e[0] > channels.last_in]
        assert sum(bool(run[7]) for run in runs) == 1, [(r[0], r[4], r[7]) for r in runs]
        print(f"held {entries} entries, {notes} notes, {relay.buf_bytes} B, oldest {len(oldest)}")
        await channels.attach(UnixLink(), kernel.path)
        await until_sent(relay)
        replies = await shell_replies_until_done(kc, cell)
        dropped = [r for r in replies if r.get("ename") == "ReplyDropped"]
        assert len(dropped) == 1 and dropped[0]["status"] == "error", replies[:3]
        at = replies.index(dropped[0])
        before = [r["unasked"] for r in replies[:at]]
        after = [r["unasked"] for r in replies[at + 1 : -1]]
        numbered = before + after  # in order, each once (the kernel may have lost some)
        assert numbered == sorted(set(numbered)) and before and before[0] == 0, before[:3]
        assert after and after[0] > before[-1] + UNASKED // 2, (before[-1], after[0])
        assert channels.reply_gaps == 1, channels.reply_gaps
        texts, lines = [], ""
        while "after\n" not in lines:
            msg = await kc.get_iopub_msg(timeout=30)
            if msg["msg_type"] == "stream" and msg["content"]["text"].startswith("[jupyter"):
                texts.append(msg["content"]["text"])
                assert msg["parent_header"]["msg_id"] == cell, msg
            elif msg["msg_type"] == "stream":
                lines += msg["content"]["text"]
        told = [text for text in texts if KERNEL_MESSAGES.match(text)]
        assert told and "error reply (ReplyDropped)" in told[0], texts
        numbers = [int(line) for line in lines.splitlines()[:-1]]  # the last, if any kept
        assert numbers == sorted(set(numbers)) and all(n > UNASKED // 2 for n in numbers)
        print(f"replies: {len(before)} oldest, {len(after)} newest; lines {len(numbers)}")
        assert channels.last_in == relay.seq  # every seq, each once (a message or a GAP)
        assert await cell_lines(kc, kc.execute("print(6 * 7)")) == ["42"]


async def test_dropped_input_requests_and_control_replies_are_told_on_the_laptop(
    tmp_path: Any, caplog: Any
) -> None:
    """Review s26 R2, the other channels: a kernel's input requests (stdin) and control
    replies piling up with no client (bound 1 MiB): the relay keeps the oldest within half
    its bound and drops the rest into one run per channel and request (a GAP with
    "replies" and "channel"), every seq once. The laptop logs each such GAP and tells the
    cell: for stdin to interrupt the kernel (no answer can stand for the user's), for
    control that the request gets an error reply (``dropped_reply``: interrupt_reply,
    ReplyDropped). A bare Relay, its pump's records fed to a RelayedChannels."""
    import logging

    from jupyter_remote.kernels.gap_notices import dropped_reply
    from jupyter_remote.kernels.relay_link import RelayedChannels
    from jupyter_remote.remote.protocol import GAP, MSG
    from jupyter_remote.remote.relay import RELAYED, Relay
    from jupyter_remote.remote.relay_kernel import DELIM
    from jupyter_remote.ssh.forwards import free_local_ports
    from tests.test_relay_kernel_messages import pumped_records

    relay = Relay(str(tmp_path), {"ip": str(tmp_path / "kernel-ipc"), "key": ""}, BOUND)
    cell = b'{"msg_id": "cell-1", "msg_type": "execute_request"}'
    interrupt = b'{"msg_id": "int-1", "msg_type": "interrupt_request"}'
    asked = [
        (RELAYED.index("stdin"), b'{"msg_type": "input_request", "msg_id": "i"}', cell),
        (RELAYED.index("control"), b'{"msg_type": "interrupt_reply", "msg_id": "r"}', interrupt),
    ]
    for n in range(2_000):
        channel, header, parent = asked[n // 1_000]
        relay._append(channel, [b"client-7", DELIM, b"", header, parent, b"{}", b"x" * 1_000])
    assert relay.buf_bytes <= BOUND, relay.buf_bytes
    records = await pumped_records(relay)
    gaps = [(json.loads(bytes(parts[0])), parts) for kind, parts in records if kind == GAP]
    kept = sum(kind == MSG for kind, _ in records)
    assert sum(info["count"] for info, _ in gaps) + kept == 2_000 == relay.seq
    assert [(info["channel"], info["replies"] == info["count"]) for info, _ in gaps] == [
        ("stdin", True),
        ("control", True),
    ], gaps
    # stdin: no answer kept (none can stand for the user's); control: one for the 1,000
    # replies to one request, with its routing (review s27 F3)
    assert gaps[0][0]["answers"] == 0 and len(gaps[0][1]) == 2, gaps[0]
    assert gaps[1][0]["answers"] == 1 and len(gaps[1][1]) == 3, gaps[1]
    answer = json.loads(bytes(gaps[1][1][2]))
    assert answer["idents"] == [b"client-7".hex()] and answer["msg_id"] == "int-1", answer
    answer = dropped_reply(gaps[1][0], bytes(gaps[1][1][1]))
    assert answer is not None and answer[:2] == ("control", "interrupt_reply"), answer
    assert answer[2]["status"] == "error" and answer[2]["ename"] == "ReplyDropped", answer
    assert dropped_reply(gaps[0][0], bytes(gaps[0][1][1])) is None  # stdin: nothing to answer

    names = (*RELAYED, "hb")
    ports = dict(zip(names, free_local_ports(len(names)), strict=True))
    told: list[str] = []
    channels = RelayedChannels(ports, key=b"", signature_scheme="hmac-sha256", on_gap=told.append)
    caplog.set_level(logging.WARNING, logger="jupyter_remote.kernels.relay_link")
    try:
        seq = 1  # each record's first seq, as the pump numbered them
        for kind, parts in records:
            if kind == GAP:
                channels._from_remote(None, GAP, 0, seq, parts)  # type: ignore[arg-type]
            seq += json.loads(bytes(parts[0]))["count"] if kind == GAP else 1
        assert channels.reply_gaps == 2, channels.reply_gaps
        assert len(told) == 2, told
        assert "interrupt it" in told[0] and "stdin replies" in told[0], told
        assert "error reply (ReplyDropped)" in told[1] and "control" in told[1], told
        logged = [r.getMessage() for r in caplog.records if "replies among them" in r.getMessage()]
        assert len(logged) == 2 and "nothing to answer" in logged[0], logged
        assert "answered 1 request with an error reply" in logged[1], logged
    finally:
        channels.close()


def test_each_dropped_reply_keeps_its_own_request_and_routing() -> None:
    """Review s27 F3: with no client, 200 cells' output then replies of 200 other requests
    (bound 20,000 B, then 40,000 B): a run kept its first reply's routing (from 3124ae8
    only if that reply was of the run's cell), so the laptop answered one request a run,
    and until 3124ae8 with another cell's request as parent. Now each dropped reply keeps
    an answer of its own in its run (``relay_answers``): its request's msg_id and its
    routing, those of the same request; within the answers' share of the bound, the
    others counted in ``unanswered``. Invariants held: seqs contiguous, none twice, the
    bound. The relay's buffer alone."""
    from jupyter_remote.remote.relay import RELAYED
    from jupyter_remote.remote.relay_answers import ANSWER_SHARE
    from jupyter_remote.remote.relay_buffer import DELIM, RUN_LEN, BufferSide

    class Buffer(BufferSide):  # the relay's buffer alone: no client, nothing sent
        def __init__(self, bound: int) -> None:
            self.bound, self.next_send, self.client, self.stalled_since = bound, 1, None, 0.0
            self.wake = asyncio.Event()
            self._init_buffer()

    def frames(ident: bytes, msg_type: str, cell: str) -> list[bytes]:
        parent = json.dumps({"msg_type": "execute_request", "msg_id": cell}).encode()
        header = json.dumps({"msg_type": msg_type, "msg_id": "m"}).encode()
        return [*([ident] if ident else []), DELIM, b"sig", header, parent, b"{}", b"x" * 300]

    shell, iopub = RELAYED.index("shell"), RELAYED.index("iopub")
    for first, bound in (("c", 20_000), ("", 40_000)):
        relay = Buffer(bound)
        if first:
            for i in range(200):
                relay._append_message(iopub, frames(b"", "stream", f"c{i}"))
        for i in range(200):
            relay._append_message(shell, frames(f"client-b{i}".encode(), "execute_reply", f"b{i}"))
        assert relay.buf_bytes <= bound, relay.buf_bytes
        assert relay.answer_bytes <= bound // ANSWER_SHARE, relay.answer_bytes
        held = [e for e in relay.buf[relay.head :] if e is not None]
        held += [e for e in relay.fresh[relay.fresh_head :] if e is not None]
        seqs = [n for e in held for n in range(e[0], e[0] + (e[4] if len(e) == RUN_LEN else 1))]
        assert seqs == list(range(1, relay.seq + 1)), "seqs contiguous, none twice"
        runs = [e for e in held if len(e) == RUN_LEN and e[7]]
        answers = [(run, seq, json.loads(body)) for run in runs for seq, body in run[8] or ()]
        for run, seq, answer in answers:
            assert run[0] <= seq < run[0] + run[4], (run[0], run[4], seq)
            assert bytes.fromhex(answer["idents"][0]) == b"client-" + answer["msg_id"].encode()
        replies = sum(e[7] for e in runs)
        print(bound, "reply runs", len(runs), "replies", replies, "answers", len(answers))
        assert replies == len(answers) + relay.unanswered, (replies, relay.unanswered)
        assert len(answers) >= 5, len(answers)
