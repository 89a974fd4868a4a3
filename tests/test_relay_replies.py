"""Review s27 F3: every request whose reply the relay dropped gets one error reply, with
its own request as parent, through its own client's routing. Until s29 a run of dropped
replies kept its first reply's routing only (and from 3124ae8 only if that reply was of
the run's cell): the laptop answered one request a run, and the others waited for ever.
The review's mode 2: 200 cells' output, then the replies of 200 other requests, while no
client is connected (bound 1 MiB). A real ipykernel and its relay in a thread (test_relay's
harness), two real kernel clients sharing the local side.
"""

from __future__ import annotations

import asyncio
import queue
import time
from typing import Any

from jupyter_client.asynchronous.client import AsyncKernelClient

from jupyter_remote.kernels.relay_link import RelayedChannels
from jupyter_remote.remote import relay as relay_mod
from jupyter_remote.ssh.forwards import free_local_ports
from tests.harness.unix_link import UnixLink
from tests.harness.waiting import eventually_async
from tests.test_relay import (  # noqa: F401 (kernel_factory: the fixture)
    cell_lines,
    kernel_factory,
)
from tests.test_relay_bound import until_quiet

BOUND = 1 << 20
CELLS = REQUESTS = 200
#: output of 200 other cells (their parents ~1 KB: their runs' notes pass an eighth of the
#: bound, so later drops join the run before them), after the requests were read
OTHER_CELLS = f"""
import time; time.sleep(2)
k = get_ipython().kernel
for i in range({CELLS}):
    header = {{"msg_id": "c%d" % i, "msg_type": "execute_request", "session": "s",
              "padding": "p" * 1000}}
    k.session.send(k.iopub_socket, "stream", {{"name": "stdout", "text": "c%d\\n" % i}},
                   parent={{"header": header}})
"""
#: each request's reply carries ~8 KB (a user expression): 200 of them pass half the bound
EXPRESSION = {"x": "'y' * 8000"}


async def clients(kernel: Any, n: int) -> tuple[RelayedChannels, list[AsyncKernelClient]]:
    """The local side attached to ``kernel``'s relay and ``n`` kernel clients of it."""
    names = (*relay_mod.RELAYED, "hb")
    ports = dict(zip(names, free_local_ports(len(names)), strict=True))
    channels = RelayedChannels(ports, key=kernel.key.encode(), signature_scheme="hmac-sha256")
    await channels.attach(UnixLink(), kernel.path)
    info: dict[str, Any] = {f"{name}_port": port for name, port in ports.items()}
    info.update(transport="tcp", ip="127.0.0.1", key=kernel.key, signature_scheme="hmac-sha256")
    kcs = []
    for _ in range(n):
        kc = AsyncKernelClient()
        kc.load_connection_info(info)  # type: ignore[arg-type]
        kc.start_channels(hb=False)
        await kc.wait_for_ready(timeout=60)
        kcs.append(kc)
    return channels, kcs


async def replies_until(kc: Any, asked: set[str], timeout: float) -> list[Any]:
    """The shell replies ``kc`` gets until one per request of ``asked`` (or ``timeout``),
    and any that follow within 1 s."""
    got: list[Any] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answered = {m["parent_header"].get("msg_id") for m in got}
        if asked <= answered:
            deadline = min(deadline, time.monotonic() + 1)
        try:
            got.append(await kc.get_shell_msg(timeout=0.1))
        except queue.Empty:
            continue
    return got


async def test_every_request_whose_reply_was_dropped_gets_its_own_error_reply(
    kernel_factory: Any,  # noqa: F811
) -> None:
    """Two clients send 200 requests (alternately) whose replies are ~8 KB each; the link
    drops before the kernel runs them, after a cell that publishes 200 other cells'
    output. With no client, the relay drops the replies between the oldest and newest it
    keeps. Back, each client gets exactly one reply to each of its requests, with that
    request as parent: the kernel's own, or an error reply (ReplyDropped) for each one
    dropped; none for the other client's requests. The relay stayed within its bound.
    The old code answered one request per run of dropped replies: the others never got
    a reply."""
    kernel = kernel_factory(buffer_bytes=BOUND)
    relay = kernel.relay
    channels, kcs = await clients(kernel, 2)
    try:
        await cell_lines(kcs[0], kcs[0].execute("pass"))
        first = relay.last_in
        other = kcs[0].execute(OTHER_CELLS)
        asked: list[set[str]] = [{other}, set()]
        for i in range(REQUESTS):
            kc = kcs[i % 2]
            asked[i % 2].add(kc.execute("pass", user_expressions=EXPRESSION))
        await eventually_async(
            lambda: relay.last_in >= first + 1 + REQUESTS,
            timeout=30,
            interval=0.01,
            what="the relay reading every request",
        )
        channels.detach()
        await asyncio.sleep(1)
        await until_quiet(relay)
        # runs of what the laptop never got (a reply it got, then dropped unacknowledged,
        # is not resent: kc[1]'s kernel_info_reply, often)
        held = [e for e in relay.buf[relay.head :] if e is not None and e[2] is None]
        replies_dropped = sum(e[7] for e in held if len(e) > 7 and e[0] > channels.last_in)
        print(f"relay: {relay.buf_bytes:,} B held, {replies_dropped} replies dropped")
        assert relay.buf_bytes <= BOUND, relay.buf_bytes
        assert replies_dropped >= 20, replies_dropped  # the case this test is about
        await channels.attach(UnixLink(), kernel.path)
        errors = 0
        for kc, mine, theirs in ((kcs[0], *asked), (kcs[1], *asked[::-1])):
            got = await replies_until(kc, mine, timeout=60)
            parents = [m["parent_header"].get("msg_id") for m in got]
            missing = mine - set(parents)
            assert not missing, f"{len(missing)} of {len(mine)} requests got no reply"
            assert sorted(parents) == sorted(mine), "one reply each, none of another's"
            assert not set(parents) & theirs
            dropped = [m for m in got if m["content"].get("ename") == "ReplyDropped"]
            assert all(m["msg_type"] == "execute_reply" for m in got)
            assert all(m["content"]["execution_count"] is None for m in dropped)
            errors += len(dropped)
        told = f"answered {getattr(channels, 'answered', None)}, malformed {channels.malformed}"
        print(f"error replies: {errors}, {told}, unanswered {getattr(relay, 'unanswered', None)}")
        assert errors == replies_dropped == channels.answered, (errors, replies_dropped)
        assert channels.last_in == relay.seq  # every seq, each once (a message or a GAP)
        assert await cell_lines(kcs[1], kcs[1].execute("print(6 * 7)")) == ["42"]
    finally:
        for kc in kcs:
            kc.stop_channels()
        channels.close()


async def test_hostile_answers_are_refused_one_by_one_and_never_end_the_link(caplog: Any) -> None:
    """``relay_records.gap_answers``: a GAP for replies whose answers (one part each after
    its parent) are wrong: each wrong one is not answered and named in a WARNING, the
    right ones are, the GAP is told and numbered; an "answers" count that does not match
    its parts answers none. A GAP of a relay before s29 (no "answers": its routing after
    the parent) still answers its one request. Nothing raises out of the record handling.
    Fed to a RelayedChannels with no local client."""
    import json
    import logging

    from jupyter_remote.remote.protocol import GAP

    names = (*relay_mod.RELAYED, "hb")
    ports = dict(zip(names, free_local_ports(len(names)), strict=True))
    channels = RelayedChannels(ports, key=b"", signature_scheme="hmac-sha256")
    caplog.set_level(logging.WARNING, logger="jupyter_remote.kernels.relay_link")

    def part(**fields: Any) -> bytes:
        good = {"seq": 1, "channel": "shell", "msg_id": "r1", "msg_type": "execute_request"}
        return json.dumps({**good, "idents": [b"client".hex()], **fields}).encode()

    wrong = [
        part(seq=0),
        part(seq=10**30),
        part(channel="stdin"),
        part(msg_type="execute_reply"),
        part(msg_id=7),
        part(msg_id="\ud800"),
        part(msg_type="x" * 300 + "_request"),
        part(idents="ab"),
        part(idents=["zz"]),
        part(idents=[b"i".hex()] * 17),
        part(idents=[(b"i" * 600).hex()] * 2),
        part(padding="p" * 5000),
        b"[" * 3000,
        b"not json",
        b"[]",
    ]
    right = [part(seq=2, msg_id="r2"), part(seq=3, msg_id="r3", session="s")]
    parent = json.dumps({"msg_id": "cell", "msg_type": "execute_request"}).encode()

    def gap(seq: int, answers: int | None, parts: list[bytes]) -> int:
        """Errors replies sent for one GAP of 20 seqs from ``seq``."""
        info: dict[str, Any] = {"count": 20, "bytes": 1, "bound": BOUND, "replies": 20}
        info.update(channel="shell", **({} if answers is None else {"answers": answers}))
        before = channels.answered
        record = [json.dumps(info).encode(), parent, *parts]
        channels._from_remote(None, GAP, 0, seq, record)  # type: ignore[arg-type]
        return channels.answered - before

    try:
        assert gap(1, len(wrong) + 2, wrong + right) == 2  # the right ones answered
        assert gap(21, 5, [part(seq=22)]) == 0  # a count that does not match its parts
        assert gap(41, None, [b"client"]) == 1  # a relay before s29: its one answer
        assert channels.last_in == 60 and channels.reply_gaps == 3, channels.last_in
        logged = [r.getMessage() for r in caplog.records]
        assert any(f"{len(wrong)} of {len(wrong) + 2} answers" in t for t in logged), logged
        assert any("for 1 parts: none answered" in t for t in logged), logged
    finally:
        channels.close()


async def test_each_seq_of_a_gap_is_answered_once(caplog: Any) -> None:
    """Review s29 R2: a GAP whose answers repeat a seq (4,000 copies of one answer, a
    hostile or broken relay) or go back in seq gets one error reply for that seq, not one
    per copy; the copies are named in a WARNING and the GAP is still told and numbered."""
    import json
    import logging

    from jupyter_remote.remote.protocol import GAP

    names = (*relay_mod.RELAYED, "hb")
    ports = dict(zip(names, free_local_ports(len(names)), strict=True))
    channels = RelayedChannels(ports, key=b"", signature_scheme="hmac-sha256")
    caplog.set_level(logging.WARNING, logger="jupyter_remote.kernels.relay_link")

    def part(seq: int, msg_id: str) -> bytes:
        fields = {"seq": seq, "channel": "shell", "msg_id": msg_id}
        return json.dumps({**fields, "msg_type": "execute_request", "idents": ["aa"]}).encode()

    parts = [part(2, "r2")] * 4000 + [part(1, "r1"), part(3, "r3")]
    info = {"count": 5000, "bytes": 1, "bound": BOUND, "replies": 5000, "channel": "shell"}
    parent = json.dumps({"msg_id": "cell", "msg_type": "execute_request"}).encode()
    try:
        record = [json.dumps({**info, "answers": len(parts)}).encode(), parent, *parts]
        channels._from_remote(None, GAP, 0, 1, record)  # type: ignore[arg-type]
        assert channels.answered == 2, channels.answered  # r2 once, then r3
        assert channels.last_in == 5000 and channels.reply_gaps == 1
        logged = [r.getMessage() for r in caplog.records]
        assert any("4000 of 4002 answers not answered" in t for t in logged), logged
        assert any("seq 2 answered already" in t for t in logged), logged
    finally:
        channels.close()


def test_every_answer_the_relay_keeps_is_one_the_laptop_takes() -> None:
    """Review s29 R1: fields within the relay's 256 characters escape in JSON to up to 12
    bytes a character (astral: two \\uXXXX, control characters, quotes), so the relay kept
    answers of up to ~11 KB that the laptop's 4 KiB bound refused: the request was never
    answered. The relay now keeps none longer than the laptop takes (ANSWER_MAX, one
    definition): each body it makes is either None or an answer the laptop accepts."""
    import json

    from jupyter_remote.kernels.relay_records import Answer, answer
    from jupyter_remote.remote.protocol import MSG_DELIMITER, RELAYED
    from jupyter_remote.remote.relay_answers import (
        ANSWER_FIELD,
        IDENT_FRAMES_KEPT,
        IDENTS_KEPT,
        answer_body,
        answer_part,
    )

    shell = RELAYED.index("shell")
    most_idents = [b"i" * (IDENTS_KEPT // IDENT_FRAMES_KEPT)] * IDENT_FRAMES_KEPT
    kept = refused_before = 0
    for char in ("a", "é", '"', "\x01", "\U0001f600"):
        for idents in ([b"client"], most_idents):
            value = char * ANSWER_FIELD
            header = {"msg_id": value, "msg_type": "execute_request", "session": value}
            body = answer_body(shell, json.dumps(header).encode(), [*idents, MSG_DELIMITER])
            escaped = len(json.dumps(header)) + 2 * len(b"".join(idents))
            refused_before += escaped > 4096
            if body is None:
                continue
            checked = answer(answer_part(10**12, body), 10**12, 1)
            assert isinstance(checked, Answer), (char, len(body), checked)
            assert checked.header["msg_id"] == value and checked.idents == idents
            kept += 1
    assert kept >= 4 and refused_before >= 3, (kept, refused_before)  # both kinds met
