"""The kernels' local ports on the laptop (kernels/zmtp_server.py, relay_link.py) against
another local user and hostile clients (attack review s23, F4-F7): another user's
connection is reset at accept (it reads no output, holds no handshake slot, takes over no
identity), a request a relay record cannot carry or an unsigned one never reaches the
link, and a subscriber that reads slowly keeps everything while one that never reads is
cut. Real libzmq clients, a real ipykernel behind a real relay (test_relay's), and the
attacker a real second user (``runuser -u jrattacker``, as test_shared_host)."""

from __future__ import annotations

import asyncio
import json
import secrets
import struct
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import zmq
import zmq.asyncio
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.session import Session

from jupyter_remote.kernels import zmtp_server
from jupyter_remote.kernels.zmtp_patterns import PubServer
from jupyter_remote.remote import zmtp
from tests.harness.sshd_host import IS_ROOT, ensure_user
from tests.harness.waiting import eventually_async
from tests.test_relay import (
    UnixLink,
    cell_lines,
    joined,
    relay_kernels,
)
from tests.test_zmtp_server import client, free_port, recv

ATTACKER = "jrattacker"


@pytest.fixture
def kernel_factory() -> Iterator[Any]:
    """test_relay's kernels and relays, each in a directory of its own (a relay outlives its
    kernel: its connections retry the kernel's ipc paths)."""
    yield from relay_kernels()


as_root = pytest.mark.skipif(not IS_ROOT, reason="needs a second local user (root)")

#: the attacker's subscriber, stdlib only: a ZMTP SUB by hand (argv: port, hello as hex,
#: canary), reading for up to 8 s; prints how it ended and whether it saw the canary
SUBSCRIBER = """
import json, socket, sys, time
port, hello, canary = int(sys.argv[1]), bytes.fromhex(sys.argv[2]), sys.argv[3].encode()
got, how = b"", "timeout"
try:
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(hello)
    s.settimeout(0.5)
    end = time.monotonic() + 8
    while time.monotonic() < end and canary not in got:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            continue
        if not chunk:
            how = "closed"
            break
        got += chunk
except OSError as exc:
    how = "reset: %r" % exc
print(json.dumps({"how": how, "canary": canary in got, "bytes": len(got)}))
"""

#: the attacker's flood, stdlib only: N silent connections to a port, each reopened as it
#: is cut, until stdin closes; prints "ready" once all N were opened once
FLOOD = """
import select, socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
def one():
    try:
        return socket.create_connection(("127.0.0.1", port))
    except OSError:
        return None
conns = [one() for _ in range(n)]
print("ready", flush=True)
while not select.select([sys.stdin], [], [], 0.2)[0]:
    for i, c in enumerate(conns):
        if c is not None:
            c.setblocking(False)
            try:
                if c.recv(4096) == b"":
                    raise OSError
                continue
            except BlockingIOError:
                continue
            except OSError:
                c.close()
        conns[i] = one()
"""


async def as_attacker(*args: str) -> asyncio.subprocess.Process:
    """The system python3 as the second local user, running ``args``."""
    ensure_user(ATTACKER)
    return await asyncio.create_subprocess_exec(
        "runuser", "-u", ATTACKER, "--", "/usr/bin/python3", *args,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd="/tmp",
    )  # fmt: skip


@as_root
async def test_another_users_subscriber_reads_nothing_while_ours_reads_everything(
    kernel_factory: Any,
) -> None:
    """F5/F8/F9: the attacker's SUB on a running kernel's iopub port is reset at accept
    and sees no output, while the user's own client sees it all. With libzmq's PUB (and
    our server before this change) any local user read every output of the kernel: this
    is stronger than libzmq, which cannot tell who connects."""
    async with joined(kernel_factory) as (_kernel, channels, kc):
        canary = f"canary-{secrets.token_hex(6)}"
        hello = zmtp.greeting() + zmtp.ready(b"SUB") + b"\x00\x01\x01"  # subscribe to all
        port = str(channels.ports["iopub"])
        attacker = await as_attacker("-c", SUBSCRIBER, port, hello.hex(), canary)
        done = asyncio.ensure_future(attacker.communicate())
        while not done.done():  # the kernel prints the canary until the attacker is done
            await cell_lines(kc, kc.execute(f"print({canary!r})"))
        out, err = done.result()
        assert attacker.returncode == 0, err.decode()
        report = json.loads(out)
        assert not report["canary"], report
        assert report["bytes"] == 0 and report["how"] != "timeout", report
        assert channels._pub is not None and channels._pub.refused >= 1
        # the user's own client reads the kernel's output as before
        assert await cell_lines(kc, kc.execute(f"print({canary!r})")) == [canary]


@as_root
async def test_another_users_silent_connections_never_lock_a_new_client_out(
    kernel_factory: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """F5: 80 silent connections of the attacker on the shell port (more than
    MAX_HANDSHAKING, reopened as they are cut; their handshake timeout long, so before this
    change they held every slot) do not keep a client of the user that connects after
    them from running a cell: the attacker's are reset at accept and hold nothing."""
    monkeypatch.setattr(zmtp_server, "HANDSHAKE_TIMEOUT", 120.0)
    async with joined(kernel_factory) as (_kernel, channels, kc):
        port = str(channels.ports["shell"])
        attacker = await as_attacker("-c", FLOOD, port, "80")
        assert attacker.stdout is not None and attacker.stdin is not None
        try:
            assert await asyncio.wait_for(attacker.stdout.readline(), 60) == b"ready\n"
            late = AsyncKernelClient()
            late.load_connection_info(kc.get_connection_info())
            late.start_channels(hb=False)
            try:
                # hangs for good (the test's timeout) when the flood holds every slot
                lines = await asyncio.wait_for(cell_lines(late, late.execute("print(6 * 7)")), 60)
                assert lines == ["42"]
            finally:
                late.stop_channels()
            assert channels._routers["shell"].refused >= 80
            assert len(channels._routers["shell"]._handshaking) == 0
        finally:
            attacker.stdin.close()
            await asyncio.wait_for(attacker.wait(), 30)


def signed(session: Session, code: str) -> list[bytes]:
    """An execute_request as a client sends it: delimiter, signature, the four parts."""
    msg = session.msg("execute_request", {"code": code, "silent": False})
    return [bytes(p) for p in session.serialize(msg)]


async def test_a_request_a_record_cannot_carry_is_dropped_and_never_breaks_a_reattach(
    kernel_factory: Any,
) -> None:
    """F4: a signed request of 65,535 frames (the most a ZMTP message may have) is 65,536
    parts with its identity, one more than a relay record carries. Sent while the link is
    down, it is dropped, not kept: before, it stayed in the pending requests and every
    later attach raised on it, so the kernel's channels stayed detached for good."""
    async with joined(kernel_factory) as (kernel, channels, kc):
        channels.detach()  # the link is down (laptop asleep)
        before = channels._seq_out
        session = Session(key=kernel.key.encode(), signature_scheme="hmac-sha256")
        huge = signed(session, "print('never')") + [b""] * (65535 - 6)
        dealer = client(zmq.DEALER, channels.ports["shell"], b"huge")
        try:
            await dealer.send_multipart(huge)
            await eventually_async(lambda: channels.unencodable, lambda n: n == 1, timeout=30)
        finally:
            dealer.close()
        assert channels._seq_out == before  # not numbered, not kept for a replay
        await channels.attach(UnixLink(), kernel.path)
        assert await cell_lines(kc, kc.execute("print(1)")) == ["1"]
        await channels.attach(UnixLink(), kernel.path)  # a re-attach after it still works
        assert await cell_lines(kc, kc.execute("print(2)")) == ["2"]


async def test_a_request_not_signed_with_the_key_never_leaves_the_laptop(
    kernel_factory: Any,
    tmp_path: Path,
) -> None:
    """F7: an execute_request signed with another key (or unsigned) is dropped before it
    is numbered or written to the relay (before, it crossed SSH and the kernel logged a
    traceback for it); a well signed one from the same connection runs."""
    async with joined(kernel_factory) as (kernel, channels, kc):
        canary = tmp_path / "ran"
        code = f"open({str(canary)!r}, 'w').close()"
        wrong = Session(key=b"not-the-key", signature_scheme="hmac-sha256")
        right = Session(key=kernel.key.encode(), signature_scheme="hmac-sha256")
        before = channels._seq_out
        dealer = client(zmq.DEALER, channels.ports["shell"], b"forger")
        try:
            await dealer.send_multipart(signed(wrong, code))
            unsigned = signed(right, code)
            unsigned[1] = b""
            await dealer.send_multipart(unsigned)
            await eventually_async(lambda: channels.unsigned, lambda n: n == 2, timeout=30)
            assert channels._seq_out == before  # nothing numbered, nothing sent
            await dealer.send_multipart(signed(right, code))
            await eventually_async(canary.exists, timeout=30)
            assert channels._seq_out == before + 1
        finally:
            dealer.close()
        assert await cell_lines(kc, kc.execute("print(3)")) == ["3"]


async def test_a_slow_reader_over_the_bound_keeps_every_message_in_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """F6: a libzmq SUB that reads slowly (a receive HWM of 10 and a 4 KiB socket buffer:
    jupyter_server's own SUB takes a message a loop turn, an nbclient may pause) falls far
    over MAX_BEHIND and is kept: it gets every message in order, also of what is published
    while it is behind (before, it was cut at the bound and lost them without a word).
    One that never reads is still cut: test_zmtp_server's never-reading subscriber."""
    monkeypatch.setattr(zmtp_server, "MAX_BEHIND", 1024 * 1024)
    pub = PubServer(free_port())
    slow = zmq.asyncio.Context.instance().socket(zmq.SUB)
    slow.linger, slow.rcvhwm, slow.rcvbuf = 0, 10, 4096
    slow.setsockopt(zmq.SUBSCRIBE, b"")
    slow.connect(f"tcp://127.0.0.1:{pub.port}")
    try:
        await eventually_async(
            lambda: [len(p.subscriptions) for p in pub.peers], lambda n: n == [1]
        )
        [peer] = pub.peers
        got: list[int] = []
        for batch in range(4):  # 4 x 150 x 64 KiB: 39 MB, each batch at once
            for i in range(batch * 150, batch * 150 + 150):
                pub.publish([b"kernel.x.stream", struct.pack("!I", i), b"y" * 65536])
            assert peer.write_buffer_size() > zmtp_server.MAX_BEHIND  # over the bound
            for _ in range(50):  # it reads a little, then more is published
                got.append(struct.unpack("!I", (await recv(slow, 60))[1])[0])
        while len(got) < 600:
            got.append(struct.unpack("!I", (await recv(slow, 60))[1])[0])
        assert got == list(range(600)) and pub.peers == {peer}
    finally:
        slow.close()
        pub.close()
