"""The local ROUTER and PUB servers (kernels/zmtp_server.py) against real libzmq clients
(pyzmq, as jupyter_client and the Jupyter server connect): identity routing, handover, a
client without identity, prefix subscriptions, a subscriber that never reads, and hostile
peers on the loopback ports (any local user can connect), each cut while the others go
on. No hosts needed."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import AsyncIterator
from typing import Any

import pytest
import zmq
import zmq.asyncio

from jupyter_remote.kernels import zmtp_server
from jupyter_remote.kernels.jupyter_bridge import BridgedChannels
from jupyter_remote.kernels.zmtp_patterns import PubServer, RouterServer
from jupyter_remote.remote import zmtp
from jupyter_remote.ssh.forwards import free_local_ports
from tests.harness.waiting import eventually_async


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def client(kind: int, port: int, identity: bytes = b"", subscribe: bytes | None = None) -> Any:
    sock = zmq.asyncio.Context.instance().socket(kind)
    sock.linger = 0
    if identity:
        sock.identity = identity
    if subscribe is not None:
        sock.setsockopt(zmq.SUBSCRIBE, subscribe)
    sock.connect(f"tcp://127.0.0.1:{port}")
    return sock


async def recv(sock: Any, timeout: float = 10) -> list[bytes]:
    return list(await asyncio.wait_for(sock.recv_multipart(), timeout))


async def nothing_arrives(sock: Any, wait: float = 0.3) -> bool:
    return not await sock.poll(int(wait * 1000))


async def cut(reader: asyncio.StreamReader, timeout: float = 10) -> bool:
    """True once the server closed (or reset) this raw connection."""
    try:
        while await asyncio.wait_for(reader.read(65536), timeout):
            pass
    except ConnectionResetError:
        pass
    return True


@contextlib.asynccontextmanager
async def routing() -> AsyncIterator[tuple[RouterServer, asyncio.Queue[list[Any]]]]:
    """A ROUTER server on a free port and the queue of what it received."""
    got: asyncio.Queue[list[Any]] = asyncio.Queue()
    server = RouterServer(free_port(), got.put_nowait)
    try:
        yield server, got
    finally:
        server.close()


async def test_a_router_routes_by_identity_and_names_a_client_without_one() -> None:
    async with routing() as (server, got):
        alice = client(zmq.DEALER, server.port, b"alice")
        anonymous = client(zmq.DEALER, server.port)
        asker = client(zmq.REQ, server.port)
        try:
            await alice.send_multipart([b"a1", b"a2"])
            assert await asyncio.wait_for(got.get(), 10) == [b"alice", b"a1", b"a2"]
            await anonymous.send_multipart([b"n"])
            name, body = await asyncio.wait_for(got.get(), 10)
            assert len(name) == 5 and name[:1] == b"\0" and body == b"n"  # as libzmq names it
            await asker.send(b"ping")
            asker_name, empty, ping = await asyncio.wait_for(got.get(), 10)
            assert (empty, ping) == (b"", b"ping") and asker_name not in (name, b"alice")
            server.send([b"nobody", b"lost"])  # an unknown identity: dropped, nothing breaks
            server.send([name, b"to-anonymous", b"x" * 300_000])
            server.send([b"alice", b"to-alice"])
            server.send([asker_name, b"", b"pong"])
            assert await recv(anonymous) == [b"to-anonymous", b"x" * 300_000]
            assert await recv(alice) == [b"to-alice"]
            assert await recv(asker) == [b"pong"]
            assert await nothing_arrives(alice)
            for peer in server.peers:  # else Nagle holds a reply's successor (+15 ms a cell)
                sock = peer.transport.get_extra_info("socket")
                assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        finally:
            for sock in (alice, anonymous, asker):
                sock.close()


async def test_a_new_connection_with_a_taken_identity_takes_it_over() -> None:
    async with routing() as (server, got):
        old = client(zmq.DEALER, server.port, b"kernel-client")
        new = None
        try:
            await old.send_multipart([b"from-old"])
            assert await asyncio.wait_for(got.get(), 10) == [b"kernel-client", b"from-old"]
            new = client(zmq.DEALER, server.port, b"kernel-client")
            await new.send_multipart([b"from-new"])
            assert await asyncio.wait_for(got.get(), 10) == [b"kernel-client", b"from-new"]
            server.send([b"kernel-client", b"reply"])
            assert await recv(new) == [b"reply"]
            assert await nothing_arrives(old)
            assert len(server.peers) == 1  # the old connection was cut
        finally:
            old.close()
            if new is not None:
                new.close()


async def test_a_pub_sends_by_prefix_subscription_in_both_zmtp_forms() -> None:
    pub = PubServer(free_port())
    prefixed = client(zmq.SUB, pub.port, subscribe=b"kernel.a")
    everything = client(zmq.SUB, pub.port, subscribe=b"")
    loop = asyncio.get_running_loop()
    got: asyncio.Queue[list[Any]] = asyncio.Queue()
    _, ours = await loop.create_connection(  # a ZMTP 3.1-style SUBSCRIBE command
        lambda: zmtp.ZmtpStream(b"SUB", on_message=lambda _s, f: got.put_nowait(f)),
        "127.0.0.1",
        pub.port,
    )
    try:
        await eventually_async(lambda: ours.is_ready, timeout=10)
        ours.send_pieces([zmtp.command(b"SUBSCRIBE", b"kernel.b")])
        await eventually_async(
            lambda: sorted(len(p.subscriptions) for p in pub.peers), lambda n: n == [1, 1, 1]
        )
        pub.publish([b"kernel.b.status", b"1"])
        pub.publish([b"kernel.a.stream", b"2"])
        assert await recv(prefixed) == [b"kernel.a.stream", b"2"]
        assert await recv(everything) == [b"kernel.b.status", b"1"]
        assert await recv(everything) == [b"kernel.a.stream", b"2"]
        assert await asyncio.wait_for(got.get(), 10) == [b"kernel.b.status", b"1"]
        prefixed.setsockopt(zmq.UNSUBSCRIBE, b"kernel.a")  # ZMTP 3.0: a \x00 message
        ours.send_pieces([zmtp.command(b"CANCEL", b"kernel.b")])
        await eventually_async(
            lambda: sorted(len(p.subscriptions) for p in pub.peers), lambda n: n == [0, 0, 1]
        )
        pub.publish([b"kernel.a.stream", b"3"])
        pub.publish([b"kernel.b.status", b"4"])
        assert await recv(everything) == [b"kernel.a.stream", b"3"]
        assert await recv(everything) == [b"kernel.b.status", b"4"]
        assert await nothing_arrives(prefixed) and got.empty()
    finally:
        ours.abort("done")
        prefixed.close()
        everything.close()
        pub.close()


async def raw_subscriber(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A peer that subscribes to everything, then never reads (a tiny receive buffer)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.setblocking(False)
    reader, writer = await asyncio.open_connection(sock=sock)
    writer.write(zmtp.greeting() + zmtp.ready(b"SUB") + b"\x00\x01\x01")  # subscribe to b""
    return reader, writer


async def test_a_subscriber_that_never_reads_is_cut_and_never_holds_up_the_others(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(zmtp_server, "MAX_BEHIND", 2 * 1024 * 1024)
    pub = PubServer(free_port())
    pub.stall_after = 0.0  # cut at the first publish that finds it over the bound, no further
    reader = client(zmq.SUB, pub.port, subscribe=b"")
    stuck_reader, stuck = await raw_subscriber(pub.port)
    try:
        await eventually_async(
            lambda: sorted(len(p.subscriptions) for p in pub.peers), lambda n: n == [1, 1]
        )
        stuck_port = stuck.get_extra_info("sockname")[1]
        [good] = [p for p in pub.peers if p.transport.get_extra_info("peername")[1] != stuck_port]
        received: list[list[bytes]] = []

        async def read_all() -> None:
            while len(received) < 300:
                received.append(await recv(reader))

        reading = asyncio.ensure_future(read_all())
        for i in range(300):  # 19 MB: the stuck peer falls behind, the reader keeps up
            while good.write_buffer_size() > 512 * 1024:
                await asyncio.sleep(0.001)
            pub.publish([b"kernel.x.stream", struct.pack("!I", i), b"y" * 65536])
        await asyncio.wait_for(reading, 30)
        assert [struct.unpack("!I", m[1])[0] for m in received] == list(range(300))
        assert pub.peers == {good}  # the stuck one was cut
        assert await cut(stuck_reader)
    finally:
        stuck.close()
        reader.close()
        pub.close()


async def test_hostile_peers_are_cut_and_nothing_else_changes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A garbage greeting, a frame declaring 2**62 bytes after a valid handshake, a
    handshake never finished (cut after HANDSHAKE_TIMEOUT), and more connections in their
    handshake than MAX_HANDSHAKING: each is cut; the client connected meanwhile is served
    and the server's state holds that client only."""
    monkeypatch.setattr(zmtp_server, "HANDSHAKE_TIMEOUT", 1.0)
    monkeypatch.setattr(zmtp_server, "MAX_HANDSHAKING", 4)
    async with routing() as (server, got):
        honest = client(zmq.DEALER, server.port, b"honest")
        await honest.send_multipart([b"hello"])
        assert await asyncio.wait_for(got.get(), 10) == [b"honest", b"hello"]
        hostile = []
        for first in (
            b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".ljust(64, b" "),  # not ZMTP
            zmtp.greeting() + zmtp.ready(b"DEALER") + struct.pack("!BQ", zmtp.LONG, 1 << 62),
            zmtp.greeting() + zmtp.ready(b"PUB"),  # a type a ROUTER cannot talk to
            b"\xff" + b"\0" * 8,  # a greeting that never finishes
        ):
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(first)
            hostile.append((reader, writer))
        flood = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(8)]
        try:
            for reader, _ in hostile + flood:
                assert await cut(reader)
            await honest.send_multipart([b"still", b"here"])
            assert await asyncio.wait_for(got.get(), 10) == [b"honest", b"still", b"here"]
            server.send([b"honest", b"answered"])
            assert await recv(honest) == [b"answered"]
            assert [p.route for p in server.peers] == [b"honest"] and got.empty()
        finally:
            for _, writer in hostile + flood:
                writer.close()
            honest.close()


async def _no_shutdown(*_: object) -> None:
    return None


async def test_close_leaves_no_port_listening_and_the_ports_bind_again() -> None:
    names = ("shell", "control", "stdin", "iopub", "hb")
    # all different (five picked and let go one by one may repeat one: bind to port 0 can
    # return the port just closed), held until the first channels listen on them
    ports = dict(zip(names, free_local_ports(len(names)), strict=True))
    for _ in range(2):  # the same port numbers again (a kernel's connection file)
        channels = BridgedChannels(
            ports, key=b"k", signature_scheme="hmac-sha256", on_shutdown_request=_no_shutdown
        )
        shell = client(zmq.DEALER, ports["shell"], b"c")
        await shell.send_multipart([b"unsigned"])  # dropped: a bad signature
        peers = channels._routers["shell"].peers
        await eventually_async(peers.copy, lambda p: len(p) == 1, timeout=10)
        shell.close()
        channels.close()
        for port in ports.values():
            with pytest.raises(ConnectionRefusedError):
                await asyncio.open_connection("127.0.0.1", port)


async def silent_connections(port: int, count: int) -> list[socket.socket]:
    """``count`` TCP connections to ``port`` that never send a byte (an attacker's)."""
    loop = asyncio.get_running_loop()
    socks = []
    for _ in range(count):
        sock = socket.socket()
        sock.setblocking(False)
        await loop.sock_connect(sock, ("127.0.0.1", port))
        socks.append(sock)
    return socks


async def test_silent_connections_cost_a_small_buffer_each_until_their_handshake() -> None:
    """Review s23 leftover: a peer's 256 KiB read buffer was allocated as it was accepted,
    so 60 connections that never say a word cost >= 15 MiB of RSS (MAX_HANDSHAKING's 64
    per port, 16 MiB, for each of a kernel's 5 ports). Now a peer's buffer is
    HANDSHAKE_BUFFER (1 KiB) until its READY: the 60 cost < 6 MiB here (generous: this
    process's allocator), and a client that does its handshake then sends a 200 KiB and
    a 3 MiB message, both arriving whole (the full buffer and the big-frame path after
    READY)."""
    from tests.test_zmtp import vm_rss

    assert zmtp.HANDSHAKE_BUFFER == 1024
    async with routing() as (server, got):
        await asyncio.sleep(0.2)  # the accept loop runs
        before = vm_rss()
        socks = await silent_connections(server.port, 60)
        try:
            await eventually_async(lambda: len(server._handshaking), until=lambda n: n == 60)
            grown = vm_rss() - before
            assert grown < 6 << 20, f"60 silent connections cost {grown >> 10} KiB of RSS"
            alice = client(zmq.DEALER, server.port, b"alice")
            try:
                await alice.send_multipart([b"a" * 200_000])
                await alice.send_multipart([b"b" * (3 << 20), b"end"])
                assert await asyncio.wait_for(got.get(), 10) == [b"alice", b"a" * 200_000]
                msg = await asyncio.wait_for(got.get(), 10)
                assert msg == [b"alice", b"b" * (3 << 20), b"end"]
            finally:
                alice.close()
        finally:
            for sock in socks:
                sock.close()


async def test_a_long_frame_before_ready_is_cut_at_its_header_with_nothing_big_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Review s24 F6: 64 raw connections (MAX_HANDSHAKING, one port's) each send a
    greeting, then the header of a 2**30-100 byte message frame and one byte of it: the
    old code gave each a 1 MiB buffer for the body (64 MiB) and kept them until the
    handshake timeout. Now each is cut at once (the timeout is made 60 s here, so
    nothing else cuts them) and this process's peak RSS grows by < 2 MiB."""
    from tests.test_zmtp import peak_rss, peak_rss_reset, vm_rss

    monkeypatch.setattr(zmtp_server, "HANDSHAKE_TIMEOUT", 60.0)
    attack = zmtp.greeting() + b"\x02" + struct.pack("!Q", 2**30 - 100) + b"x"
    async with routing() as (server, _):
        await asyncio.sleep(0.2)  # the accept loop runs
        before = vm_rss()
        peak_rss_reset()
        conns = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(64)]
        try:
            for _, writer in conns:
                writer.write(attack)
            assert all([await cut(reader) for reader, _ in conns])
            grown = peak_rss() - before
            assert grown < 2 << 20, f"64 connections cost {grown >> 10} KiB of peak RSS"
        finally:
            for _, writer in conns:
                writer.close()


async def test_connections_whose_owner_cannot_be_told_are_capped_per_port(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Where the OS cannot tell a loopback peer's owner (``peer_uid`` None: macOS, no
    netlink nor /proc) any local user's connections are admitted, so a port holds at most
    MAX_UNKNOWN_OWNER (256) completed ones: past it a newcomer is reset, the clients
    already served go on (evicting the oldest or idlest instead would let a flood cut the
    user's own: an iopub SUB never sends). The owner lookup is monkeypatched to answer
    None: a stand-in, on this Linux host, for an OS that cannot tell. A libzmq client
    (served first) and 255 raw handshaken connections fill the port; a 257th client is
    refused, over and over as libzmq reconnects, and its message waits; the first is
    still routed; once one connection closes the 257th gets in and its message arrives.
    The old code admitted it at once (no cap)."""
    monkeypatch.setattr(zmtp_server, "peer_uid", lambda conn: None)
    assert zmtp_server.MAX_UNKNOWN_OWNER == 256
    loop = asyncio.get_running_loop()
    async with routing() as (server, got):
        alice = client(zmq.DEALER, server.port, b"alice")
        raw: list[socket.socket] = []
        late = None
        try:
            await alice.send_multipart([b"hi"])
            assert await asyncio.wait_for(got.get(), 10) == [b"alice", b"hi"]
            for _ in range(255 // 15):  # in steps: never more than 64 in their handshake
                for sock in await silent_connections(server.port, 15):
                    await loop.sock_sendall(sock, zmtp.greeting() + zmtp.ready(b"DEALER"))
                    raw.append(sock)
                await eventually_async(
                    lambda: len(server.unknown), until=lambda n: n == len(raw) + 1
                )
            assert len(server.unknown) == 256 and server.refused_unknown == 0
            late = client(zmq.DEALER, server.port, b"late")
            await late.send_multipart([b"let me in"])
            await eventually_async(lambda: server.refused_unknown, until=lambda n: n >= 2)
            assert got.empty() and len(server.unknown) == 256
            await alice.send_multipart([b"still here"])
            assert await asyncio.wait_for(got.get(), 10) == [b"alice", b"still here"]
            raw.pop().close()
            assert await asyncio.wait_for(got.get(), 20) == [b"late", b"let me in"]
        finally:
            alice.close()
            if late is not None:
                late.close()
            for sock in raw:
                sock.close()


async def test_big_messages_to_a_late_reader_arrive_whole_in_order_and_its_end_frees_all() -> None:
    """The servers write each message's frames by ``sendmsg`` (``relay_writer.LinkWriter``),
    not joined nor copied into a buffer: what the socket does not take waits as views of
    them. 40 messages of ~1 MiB to a libzmq SUB that reads only afterwards arrive byte for
    byte, in order; a ROUTER's reply still follows them; the peer's end closes its writer
    (no descriptor left)."""
    pub = PubServer(free_port())
    sock = zmq.asyncio.Context.instance().socket(zmq.SUB)
    sock.linger = 0
    sock.rcvhwm = 1  # libzmq reads little ahead of us: our side has to queue
    sock.setsockopt(zmq.RCVBUF, 64 * 1024)
    sock.setsockopt(zmq.SUBSCRIBE, b"")
    sock.connect(f"tcp://127.0.0.1:{pub.port}")
    bodies = [struct.pack("!I", i) * (256 * 1024 + i) for i in range(40)]
    try:
        await eventually_async(lambda: [len(p.subscriptions) for p in pub.peers], [1].__eq__)
        [peer] = pub.peers
        queued = 0
        for i, body in enumerate(bodies):
            pub.publish([b"kernel.x.stream", b"%d" % i, body])
            queued = max(queued, peer.write_buffer_size())
        assert queued > 1024 * 1024  # the socket did not take it all: views waited
        for i, body in enumerate(bodies):
            assert await recv(sock) == [b"kernel.x.stream", b"%d" % i, body], i
        await eventually_async(peer.write_buffer_size, (0).__eq__)
        sock.close()
        await eventually_async(lambda: pub.peers, set().__eq__)
        assert peer.out.closed and peer.out.sock.fileno() == -1
    finally:
        sock.close()
        pub.close()
