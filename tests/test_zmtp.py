"""ZMTP 3.0 as the relay speaks it to its kernel (remote/zmtp.py, remote/zmtp_connect.py)
against real libzmq peers (pyzmq), in both roles, on ipc and tcp: identity routing,
subscriptions, REQ envelopes, heartbeats; the bytes a libzmq peer really sends, fed in
every chunking (one byte at a time, frame headers split, big frames in pieces); and what
a broken or foreign peer gets: the connection cut with the reason, nothing delivered.
No hosts needed."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import struct
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import zmq
import zmq.asyncio

from jupyter_remote.remote import protocol, zmtp, zmtp_frames
from jupyter_remote.remote.zmtp import ZmtpStream
from jupyter_remote.remote.zmtp_connect import ZmtpConnector

#: what a libzmq peer sends us in the chunking tests: every frame-size boundary
MESSAGES = [
    [b"a"],
    [b""],
    [b"x" * 255, b"y" * 256],  # the last short size, the first LONG one
    [b"<IDS|MSG>", b"s" * 300, b"{}", b"z" * (zmtp.BIG_FRAME - 1)],
    [b"b" * zmtp.BIG_FRAME],  # the first big frame
    [bytes(range(256)) * 400, b"tail"],  # 100 KiB, then a small frame of the same message
    [b"%d" % n for n in range(10)],
]
HUGE = [b"h" * (3 * 1024 * 1024 + 7)]


class Recorder:
    """What a stream delivers and how it ends (its callbacks)."""

    def __init__(self) -> None:
        self.messages: list[list[Any]] = []
        self.events: list[str] = []  # "message", "batch": the order of the callbacks
        self.ready = asyncio.Event()
        self.lost = asyncio.Event()
        self.reason = ""
        self.streams: list[ZmtpStream] = []

    def stream(self, socket_type: bytes, **kwargs: Any) -> ZmtpStream:
        stream = ZmtpStream(
            socket_type,
            on_ready=self._ready,
            on_message=self._message,
            on_lost=self._lost,
            on_batch=lambda s: self.events.append("batch"),
            **kwargs,
        )
        return stream

    def _ready(self, stream: ZmtpStream) -> None:
        self.streams.append(stream)
        self.ready.set()

    def _message(self, stream: ZmtpStream, frames: list[Any]) -> None:
        self.messages.append(frames)
        self.events.append("message")

    def _lost(self, stream: ZmtpStream, reason: str) -> None:
        self.reason = reason
        self.lost.set()

    async def next_message(self, timeout: float = 10) -> list[Any]:
        for _ in range(int(timeout * 100)):
            if self.messages:
                return self.messages.pop(0)
            await asyncio.sleep(0.01)
        raise AssertionError(f"no message within {timeout} s")


class FakeTransport:
    """A transport that keeps what the stream writes (the chunking and bounds tests feed
    the stream by hand)."""

    def __init__(self) -> None:
        self.written = b""
        self.aborted = False

    def write(self, data: bytes) -> None:
        self.written += bytes(data)

    def writelines(self, pieces: list[Any]) -> None:
        self.written += b"".join(bytes(p) for p in pieces)

    def get_write_buffer_size(self) -> int:
        return 0

    def abort(self) -> None:
        self.aborted = True


def feed(stream: ZmtpStream, data: bytes, sizes: list[int]) -> int:
    """``data`` into ``stream`` as asyncio would, in reads of the ``sizes`` in turn, until
    it is all read or the stream is cut: how many bytes it read."""
    at, turn = 0, 0
    while at < len(data) and not stream.closed:
        buf = stream.get_buffer(-1)
        n = min(sizes[turn % len(sizes)], len(buf), len(data) - at)
        buf[:n] = data[at : at + n]
        del buf  # released, as asyncio's read is over before the next get_buffer
        stream.buffer_updated(n)
        at, turn = at + n, turn + 1
    return at


def endpoint(transport: str, tmp: Path, name: str) -> str:
    if transport == "ipc":
        return f"ipc://{tmp}/{name}"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{s.getsockname()[1]}"


async def connect(addr: str, factory: Callable[[], ZmtpStream]) -> Any:
    loop = asyncio.get_running_loop()
    if addr.startswith("ipc://"):
        return await loop.create_unix_connection(factory, addr[len("ipc://") :])
    host, port = addr[len("tcp://") :].rsplit(":", 1)
    return await loop.create_connection(factory, host, int(port))


async def serve(addr: str, factory: Callable[[], ZmtpStream]) -> Any:
    loop = asyncio.get_running_loop()
    if addr.startswith("ipc://"):
        return await loop.create_unix_server(factory, addr[len("ipc://") :])
    host, port = addr[len("tcp://") :].rsplit(":", 1)
    return await loop.create_server(factory, host, int(port))


@pytest.fixture
def ctx() -> Iterator[zmq.asyncio.Context]:
    context = zmq.asyncio.Context()
    yield context
    context.destroy(linger=0)


@pytest.fixture
def sockdir() -> Iterator[Path]:
    path = Path("/tmp") / f"jr-zmtp-{os.getpid()}"  # short: ipc paths
    path.mkdir(mode=0o700, exist_ok=True)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def libzmq(ctx: zmq.asyncio.Context, kind: int, **options: Any) -> Any:
    sock = ctx.socket(kind)
    sock.linger = 0
    for name, value in options.items():
        sock.setsockopt(getattr(zmq, name.upper()), value)
    return sock


# -- our end connecting to libzmq's --------------------------------------------------------


@pytest.mark.parametrize("transport", ["ipc", "tcp"])
async def test_our_dealer_is_routed_by_its_identity_by_a_libzmq_router(
    transport: str, ctx: Any, sockdir: Path
) -> None:
    addr = endpoint(transport, sockdir, "router")
    router = libzmq(ctx, zmq.ROUTER)
    router.bind(addr)
    got = Recorder()
    conn, dealer = await connect(addr, lambda: got.stream(b"DEALER", identity=b"relay-1"))
    try:
        await asyncio.wait_for(got.ready.wait(), 10)
        assert dealer.peer_props[b"socket-type"] == b"ROUTER"
        sent = [b"<IDS|MSG>", b"s" * 300, bytes(range(256)) * 800]  # 200 KiB last
        dealer.send(sent)
        assert await asyncio.wait_for(router.recv_multipart(), 10) == [b"relay-1", *sent]
        await router.send_multipart([b"relay-1", b"hello", HUGE[0]])
        frames = await got.next_message()
        assert frames == [b"hello", HUGE[0]]
        assert isinstance(frames[0], bytes) and isinstance(frames[1], bytearray)  # no copy
    finally:
        conn.close()


@pytest.mark.parametrize("transport", ["ipc", "tcp"])
async def test_our_sub_gets_what_its_subscription_asks_from_a_libzmq_pub_in_order(
    transport: str, ctx: Any, sockdir: Path
) -> None:
    """ZMTP 3.0's subscription is a message (\\x01 + prefix); libzmq 3.1 takes it so."""
    addr = endpoint(transport, sockdir, "pub")
    pub = libzmq(ctx, zmq.PUB, sndhwm=0)
    pub.bind(addr)
    got = Recorder()
    conn, sub = await connect(addr, lambda: got.stream(b"SUB"))
    try:
        await asyncio.wait_for(got.ready.wait(), 10)
        sub.send([b"\x01t"])
        for _ in range(1000):  # until the subscription has arrived
            await pub.send_multipart([b"t", b"first"])
            await asyncio.sleep(0.01)
            if got.messages:
                break
        for n in range(1000):
            await pub.send_multipart([b"other", b"%d" % n])  # not subscribed
            await pub.send_multipart([b"t", b"%d" % n])
        received: list[list[Any]] = []
        while len(received) < 1000:  # (the last "first"s may still be under way)
            message = await got.next_message()
            if message != [b"t", b"first"]:
                received.append(message)
        assert received == [[b"t", b"%d" % n] for n in range(1000)]
        await asyncio.sleep(0.2)
        assert got.messages == []
    finally:
        conn.close()


# -- our end serving libzmq's --------------------------------------------------------------


@pytest.mark.parametrize("transport", ["ipc", "tcp"])
async def test_our_router_serves_a_libzmq_dealer_and_req(
    transport: str, ctx: Any, sockdir: Path
) -> None:
    addr = endpoint(transport, sockdir, "ourrouter")
    got = Recorder()
    server = await serve(addr, lambda: got.stream(b"ROUTER", as_server=True))
    dealer = libzmq(ctx, zmq.DEALER, identity=b"cli")
    req = libzmq(ctx, zmq.REQ)
    try:
        dealer.connect(addr)
        await dealer.send_multipart([b"a", b"b" * 70_000])
        assert await got.next_message() == [b"a", b"b" * 70_000]
        (stream,) = got.streams
        assert stream.peer_props[b"identity"] == b"cli"
        assert stream.peer_props[b"socket-type"] == b"DEALER"
        stream.send([b"r1", b"r2"])
        assert await asyncio.wait_for(dealer.recv_multipart(), 10) == [b"r1", b"r2"]
        req.connect(addr)
        await req.send(b"ping")
        assert await got.next_message() == [b"", b"ping"]  # the REQ's envelope
        got.streams[-1].send([b"", b"pong"])
        assert await asyncio.wait_for(req.recv(), 10) == b"pong"
    finally:
        server.close()


@pytest.mark.parametrize("transport", ["ipc", "tcp"])
async def test_our_pub_serves_a_libzmq_sub(transport: str, ctx: Any, sockdir: Path) -> None:
    addr = endpoint(transport, sockdir, "ourpub")
    got = Recorder()
    server = await serve(addr, lambda: got.stream(b"PUB", as_server=True))
    sub = libzmq(ctx, zmq.SUB, subscribe=b"topic")
    try:
        sub.connect(addr)
        assert await got.next_message() == [b"\x01topic"]  # its subscription, 3.0's way
        got.streams[0].send([b"topic", b"data", b"d" * 100_000])
        assert await asyncio.wait_for(sub.recv_multipart(), 10) == [
            b"topic",
            b"data",
            b"d" * 100_000,
        ]
    finally:
        server.close()


async def test_a_libzmq_peers_heartbeat_pings_are_answered(ctx: Any, sockdir: Path) -> None:
    """libzmq with HEARTBEAT_TIMEOUT drops a connection whose PINGs go unanswered: ours
    stays (one connection, never lost) over dozens of PINGs, and carries a message after."""
    addr = endpoint("tcp", sockdir, "hb")
    got = Recorder()
    pings = []
    original = ZmtpStream._command

    def counting(stream: ZmtpStream, body: Any) -> None:
        if bytes(body[1 : 1 + body[0]]) == b"PING":
            pings.append(bytes(body))
        original(stream, body)

    server = await serve(addr, lambda: got.stream(b"ROUTER", as_server=True))
    dealer = libzmq(ctx, zmq.DEALER, heartbeat_ivl=20, heartbeat_timeout=1000)
    try:
        ZmtpStream._command = counting  # type: ignore[method-assign,assignment]
        dealer.connect(addr)
        await asyncio.wait_for(got.ready.wait(), 10)
        await asyncio.sleep(2.5)  # a connection whose PINGs go unanswered ends in 1 s
        await dealer.send_multipart([b"after"])
        assert await got.next_message() == [b"after"]
        assert len(pings) >= 10 and len(got.streams) == 1 and not got.lost.is_set()
    finally:
        ZmtpStream._command = original  # type: ignore[method-assign]
        server.close()


def test_ping_gets_pong_with_its_context() -> None:
    stream, transport, _ = handshaken(b"DEALER", peer=b"ROUTER")
    feed(stream, zmtp.command(b"PING", b"\x00\x0actx-123"), [1])
    assert transport.written.endswith(zmtp.command(b"PONG", b"ctx-123"))
    assert not stream.closed


# -- what a libzmq peer sends, in every chunking ---------------------------------------------


async def recorded(ctx: Any, messages: list[list[bytes]], kind: int = zmq.DEALER) -> bytes:
    """Every byte a libzmq ``kind`` socket sends us (its greeting, READY, ``messages``)
    after our greeting and READY as a ROUTER, read raw from a TCP socket."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.setblocking(False)
    loop = asyncio.get_running_loop()
    peer = libzmq(ctx, kind)
    peer.connect(f"tcp://127.0.0.1:{listener.getsockname()[1]}")
    conn, _ = await loop.sock_accept(listener)
    listener.close()
    await loop.sock_sendall(conn, zmtp.greeting(True) + zmtp.ready(b"ROUTER"))
    for message in messages:
        await peer.send_multipart(message)
    check, data = Recorder(), b""
    stream = check.stream(b"ROUTER")
    stream.connection_made(FakeTransport())
    while len(check.messages) < len(messages):
        chunk = await asyncio.wait_for(loop.sock_recv(conn, 1 << 20), 10)
        assert chunk
        data += chunk
        feed(stream, chunk, [len(chunk)])
    conn.close()
    assert check.messages == messages
    return data


def handshaken(socket_type: bytes, peer: bytes) -> tuple[ZmtpStream, FakeTransport, Recorder]:
    """A stream on a fake transport that has had a peer's greeting and READY."""
    got = Recorder()
    stream = got.stream(socket_type)
    transport = FakeTransport()
    stream.connection_made(transport)
    feed(stream, zmtp.greeting() + zmtp.ready(peer), [64])
    assert stream.is_ready
    return stream, transport, got


@pytest.mark.parametrize("eager_limit", [None, zmtp.BIG_FRAME], ids=["eager", "growing"])
@pytest.mark.parametrize(
    "sizes",
    [[1], [2, 7, 1, 9], [13], [8, 1], [4099], [65537, 3], [1 << 20]],
    ids=["bytes", "2-7-1-9", "13", "8-1", "4099", "65537-3", "1MiB"],
)
async def test_what_libzmq_sends_arrives_whole_in_any_chunking(
    sizes: list[int], eager_limit: int | None, ctx: Any
) -> None:
    """Frame headers and LONG sizes split across reads, big frames (>= 64 KiB) arriving in
    pieces into their own buffer; one byte at a time without the 3 MB frame. "growing":
    a big frame's buffer starts at 64 KiB and grows as its bytes come (``eager_limit``,
    the laptop's servers)."""
    messages = MESSAGES if sizes == [1] else [*MESSAGES, HUGE]
    data = await recorded(ctx, messages)
    got = Recorder()
    stream = got.stream(b"ROUTER", eager_limit=eager_limit)
    stream.connection_made(FakeTransport())
    feed(stream, data, sizes)
    assert not stream.closed
    assert got.messages == messages
    for frames in got.messages:
        for frame in frames:  # small frames: bytes; one longer than the read buffer: its own
            assert isinstance(frame, bytes if len(frame) < zmtp.BIG_FRAME else (bytes, bytearray))
            assert len(frame) < len(HUGE[0]) or isinstance(frame, bytearray)


def test_batch_done_follows_every_message_of_a_read() -> None:
    stream, _, got = handshaken(b"DEALER", peer=b"ROUTER")
    got.events.clear()
    three = b"".join(b"".join(zmtp.message_pieces([b"m%d" % n])) for n in range(3))
    feed(stream, three, [len(three)])
    assert got.events == ["message", "message", "message", "batch"]
    assert got.messages == [[b"m0"], [b"m1"], [b"m2"]]
    got.events.clear()
    feed(stream, three[:3], [3])  # a read that completes nothing
    assert got.events == ["batch"]


# -- bounds: the connection is cut with the reason, nothing delivered -------------------------


def refused(
    data: bytes, socket_type: bytes = b"DEALER", sizes: list[int] | None = None, **kwargs: Any
) -> str:
    """Feed ``data`` (a peer's bytes from the start) one byte at a time (or in reads of
    ``sizes``): the reason the stream was cut (AssertionError if it was not, or delivered
    anything)."""
    got = Recorder()
    stream = got.stream(socket_type, **kwargs)
    transport = FakeTransport()
    stream.connection_made(transport)
    feed(stream, data, sizes or [1])
    assert stream.closed and transport.aborted, "not cut"
    assert got.messages == []
    return got.reason


HELLO = zmtp.greeting() + zmtp.ready(b"ROUTER")


def test_a_message_over_max_message_is_refused() -> None:
    frames = zmtp.message_pieces([b"a" * 600, b"b" * 600])
    assert refused(HELLO + b"".join(frames), max_message=1000) == "a message over 1000 bytes"


def test_a_frame_with_unknown_flags_is_refused() -> None:
    assert refused(HELLO + b"\x08\x01x") == "a frame with unknown flags"


def test_a_malformed_ready_is_refused() -> None:
    body = b"\x05READY" + b"\x0bSocket-Type" + struct.pack("!I", 200) + b"ROUTER"
    bad = zmtp_frames.frame_header(len(body), zmtp.COMMAND) + body
    assert refused(zmtp.greeting() + bad) == "a malformed READY"


def test_a_peer_of_the_wrong_socket_type_is_refused() -> None:
    reason = refused(zmtp.greeting() + zmtp.ready(b"PUB"))
    assert reason == "a b'PUB' peer cannot talk to a b'DEALER' socket"


def test_a_message_before_ready_is_refused() -> None:
    assert refused(zmtp.greeting() + b"\x00\x01x") == "a message before READY"


def test_a_long_frame_or_a_large_command_before_ready_is_refused_at_its_header() -> None:
    """Review s24 F6: with the laptop's bounds (1 GiB per message, eager_limit 1 MiB) a
    LONG frame header of 2**30-100 bytes and one byte of it, before READY, made a 1 MiB
    buffer for its body and waited (traced: 1 MiB); a command of 5,000 bytes before READY
    was waited for. Both are now cut at their header, nothing buffered for them."""
    import tracemalloc

    bounds: dict[str, Any] = {"max_message": 1 << 30, "eager_limit": 1 << 20}
    long_frame = b"\x02" + struct.pack("!Q", 2**30 - 100) + b"x"
    big_command = bytes([zmtp.COMMAND | zmtp.LONG]) + struct.pack("!Q", 5000) + b"\x05READY"
    for data, reason in (
        (long_frame, "a message before READY"),
        (big_command, "a command over 4096 bytes before READY"),
    ):
        tracemalloc.start()
        try:
            got = refused(zmtp.greeting() + data, sizes=[64 + len(data)], **bounds)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert got == reason
        assert peak < 64 << 10, f"{peak >> 10} KiB allocated for {reason}"


async def test_a_libzmq_ready_with_the_longest_identity_and_metadata_fits_the_bound(
    ctx: Any,
) -> None:
    """What HANDSHAKE_COMMAND (4 KiB) must admit: a libzmq DEALER's READY with an identity
    of 255 bytes (libzmq's longest) and a ZMQ_METADATA property (Jupyter sets none) is
    ~600 bytes and completes the handshake with our ROUTER."""
    options = {"identity": b"i" * 255, "metadata": b"X-Lab:" + b"v" * 200}
    ours = zmtp.greeting(True) + zmtp.ready(b"ROUTER")
    data = await libzmq_bytes(ctx, zmq.DEALER, options, ours, 64 + 500)
    assert len(data) - 64 < zmtp.HANDSHAKE_COMMAND // 4
    got = Recorder()
    stream = got.stream(b"ROUTER")
    stream.connection_made(FakeTransport())
    feed(stream, data, [1])
    assert stream.is_ready and not stream.closed
    assert stream.peer_props[b"identity"] == b"i" * 255
    assert stream.peer_props[b"x-lab"] == b"v" * 200


@pytest.mark.parametrize(
    "data",
    [b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"\xff" + b"\0" * 8 + b"\x01" + b"\x03" * 60],
    ids=["http", "zmtp1-signature"],
)
def test_a_non_zmtp_peer_is_refused_at_once(data: bytes) -> None:
    assert refused(data) == "not a ZMTP 3 peer"


def test_a_zmtp2_peer_is_refused_at_its_version_byte() -> None:
    """A ZMTP 2.0 peer sends 12 bytes and an identity frame, then waits for our greeting:
    it is refused at its 11th byte, not waited for until 64."""
    zmtp2 = b"\xff" + b"\0" * 8 + b"\x7f" + b"\x01" + b"\x05" + b"\x00\x00"
    assert refused(zmtp2) == "the peer speaks an older ZMTP (revision 1), not 3"


async def test_libzmq_peers_with_plain_or_curve_are_refused(ctx: Any) -> None:
    """The greeting a libzmq PLAIN or CURVE client really sends."""
    public, secret = zmq.curve_keypair()
    for options in (
        {"plain_username": b"u", "plain_password": b"p"},
        {"curve_serverkey": public, "curve_publickey": public, "curve_secretkey": secret},
    ):
        # our signature and version only: given all of our NULL greeting, libzmq hangs up
        # at its mechanism before it sends its own
        data = await libzmq_bytes(ctx, zmq.DEALER, options, zmtp.greeting(True)[:11], 64)
        assert refused(data) == "the peer asks for a security mechanism other than NULL"


async def test_a_libzmq_peer_of_the_wrong_type_is_refused(ctx: Any) -> None:
    """A libzmq PUB's own greeting and READY (27 bytes: its Socket-Type only), recorded as a
    SUB gets them, fed to our DEALER."""
    data = await libzmq_bytes(ctx, zmq.PUB, {}, zmtp.greeting(True) + zmtp.ready(b"SUB"), 64 + 27)
    assert refused(data) == "a b'PUB' peer cannot talk to a b'DEALER' socket"


async def libzmq_bytes(
    ctx: Any, kind: int, options: dict[str, Any], ours: bytes, least: int
) -> bytes:
    """What a libzmq ``kind`` socket with ``options`` sends once it has had ``ours``, read raw
    until it has sent at least ``least`` bytes and then nothing for 0.2 s, or hung up."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.setblocking(False)
    loop = asyncio.get_running_loop()
    peer = libzmq(ctx, kind, **options)
    peer.connect(f"tcp://127.0.0.1:{listener.getsockname()[1]}")
    conn, _ = await loop.sock_accept(listener)
    listener.close()
    await loop.sock_sendall(conn, ours)
    data = b""
    while True:
        try:
            chunk = await asyncio.wait_for(
                loop.sock_recv(conn, 4096), 10 if len(data) < least else 0.2
            )
        except asyncio.TimeoutError:
            break
        if not chunk:
            break
        data += chunk
    conn.close()
    peer.close(0)
    assert len(data) >= least, data
    return data


# -- the relay's connecting socket --------------------------------------------------------------


async def test_a_connector_queues_until_the_peer_binds_and_reconnects_after_a_loss(
    ctx: Any, sockdir: Path
) -> None:
    """As the relay's libzmq DEALER did: connects retried until the kernel has bound, what
    was sent meanwhile delivered in order once connected; a lost connection made again
    (a new ROUTER on the same path) with the same identity."""
    path = str(sockdir / "late")
    got: list[list[Any]] = []
    conn = ZmtpConnector(path, b"DEALER", identity=b"relay", on_message=got.append)
    try:
        for n in range(3):
            conn.send([b"early", b"%d" % n])
        assert conn.buffered() > 0 and conn.stream is None
        await asyncio.sleep(0.1)  # several connects refused meanwhile
        router = libzmq(ctx, zmq.ROUTER)
        router.bind("ipc://" + path)
        for n in range(3):
            assert await asyncio.wait_for(router.recv_multipart(), 10) == [
                b"relay",
                b"early",
                b"%d" % n,
            ]
        await router.send_multipart([b"relay", b"back"])
        for _ in range(1000):
            if got:
                break
            await asyncio.sleep(0.01)
        assert got == [[b"back"]] and conn.connections == 1
        router.close(0)  # the peer goes (its socket file with it)
        for _ in range(1000):
            if conn.stream is None:
                break
            await asyncio.sleep(0.01)
        conn.send([b"while", b"away"])
        router = libzmq(ctx, zmq.ROUTER)
        router.bind("ipc://" + path)
        assert await asyncio.wait_for(router.recv_multipart(), 10) == [b"relay", b"while", b"away"]
        assert conn.connections == 2
        router.close(0)
    finally:
        conn.close()
    assert conn.closed and conn.stream is None


async def test_a_sub_connector_subscribes_before_anything_else(ctx: Any, sockdir: Path) -> None:
    path = str(sockdir / "iopub")
    pub = libzmq(ctx, zmq.PUB)
    pub.bind("ipc://" + path)
    got: list[list[Any]] = []
    conn = ZmtpConnector(path, b"SUB", subscribe=b"", on_message=got.append)
    try:
        for _ in range(1000):
            await pub.send_multipart([b"status", b"x"])
            await asyncio.sleep(0.01)
            if got:
                break
        assert got and got[0] == [b"status", b"x"]
    finally:
        conn.close()


# -- bounds for a peer anyone may connect to (the laptop's servers: review s23 F1-F3) ---------


def vm_rss() -> int:
    """This process's resident memory in bytes (/proc/self/status VmRSS)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS in /proc/self/status")


def peak_rss_reset() -> None:
    """Start this process's peak RSS (VmHWM) again from its RSS now (Linux >= 4.0)."""
    Path("/proc/self/clear_refs").write_text("5")


def peak_rss() -> int:
    """This process's peak resident memory in bytes since ``peak_rss_reset`` (VmHWM)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc/self/status")


async def until(check: Callable[[], bool], timeout: float = 20) -> None:
    for _ in range(int(timeout * 100)):
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"not within {timeout} s")


async def hostile_peer(got: Recorder, rcvbuf: int = 0, **kwargs: Any) -> tuple[Any, socket.socket]:
    """Our ROUTER serving on 127.0.0.1 (``kwargs`` its stream's) and a raw TCP socket that
    has done a DEALER's handshake with it by hand (``rcvbuf``: its SO_RCVBUF, set before
    the connect): (server, socket)."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: got.stream(b"ROUTER", as_server=True, **kwargs), "127.0.0.1", 0
    )
    peer = socket.socket()
    if rcvbuf:
        peer.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    peer.setblocking(False)
    await loop.sock_connect(peer, server.sockets[0].getsockname())
    await loop.sock_sendall(peer, zmtp.greeting() + zmtp.ready(b"DEALER"))
    await asyncio.wait_for(got.ready.wait(), 10)
    got.events.clear()
    return server, peer


async def test_a_declared_huge_frame_is_not_allocated_before_its_bytes_come() -> None:
    """F1: 9 bytes declaring a 512 MiB frame, and 10 bytes of it: with ``eager_limit`` 1 MiB
    this process's RSS grows by far less than the declared size (the old code: 512 MiB at
    once); an 8 MiB frame that does come, in odd pieces, arrives whole, byte for byte."""
    loop = asyncio.get_running_loop()
    got = Recorder()
    server, peer = await hostile_peer(got, eager_limit=1 << 20)
    try:
        before = vm_rss()
        await loop.sock_sendall(peer, zmtp_frames.frame_header(512 << 20) + b"0123456789")
        await until(lambda: "batch" in got.events)  # the read of the header (and the 10)
        grown = vm_rss() - before
        assert grown < 64 << 20, f"RSS grew {grown >> 20} MiB on a declared 512 MiB frame"
        assert not got.streams[0].closed and got.messages == []
    finally:
        peer.close()
        server.close()
    got = Recorder()
    server, peer = await hostile_peer(got, eager_limit=1 << 20)
    try:
        body = (bytes(range(251)) * (1 + (8 << 20) // 251))[: 8 << 20]
        data = zmtp_frames.frame_header(len(body), zmtp.MORE) + body + b"\x00\x03end"
        for at in range(0, len(data), 77_777):
            await loop.sock_sendall(peer, data[at : at + 77_777])
            await asyncio.sleep(0)
        frames = await got.next_message()
        assert len(frames) == 2 and frames[1] == b"end"
        assert isinstance(frames[0], bytearray) and len(frames[0]) == len(body)
        assert frames[0] == body
    finally:
        peer.close()
        server.close()


async def test_pings_from_a_peer_that_never_reads_do_not_grow_our_write_buffer() -> None:
    """F2: 100,000 PINGs from a peer that never reads (small socket buffers both ways, so
    what we write piles up in asyncio's buffer): PONGs go out until our write buffer holds
    PONG_LIMIT (64 KiB), then PINGs are dropped (RFC 37 allows it); the old code buffered
    a PONG per PING (~700 kB). The connection is kept and a message still arrives."""
    loop = asyncio.get_running_loop()
    got = Recorder()
    server, peer = await hostile_peer(got, rcvbuf=4096)
    try:
        stream = got.streams[0]
        ours = stream.transport.get_extra_info("socket")
        ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)  # no autotuning to hide it
        ping = zmtp.command(b"PING", b"\x00\x00")
        last = b"".join(zmtp.message_pieces([b"after"]))
        await loop.sock_sendall(peer, ping * 100_000 + last)
        assert await got.next_message() == [b"after"]
        buffered = stream.write_buffer_size()
        assert zmtp.PONG_LIMIT // 2 <= buffered < zmtp.PONG_LIMIT + 1024, buffered
        assert not stream.closed
    finally:
        peer.close()
        server.close()


def test_a_run_of_empty_frames_is_cut_and_each_frame_counts() -> None:
    """F3: empty MORE frames (``\\x01\\x00``) cost FRAME_COST (64 bytes) each against
    max_message: with 1 MiB the peer is cut within 16,384 frames (32 KiB of its bytes)
    out of 4 MiB offered (the old code counted 0 bytes and kept a list slot per frame)."""
    got = Recorder()
    stream = got.stream(b"DEALER", max_message=1 << 20)
    transport = FakeTransport()
    stream.connection_made(transport)
    read = feed(stream, HELLO + b"\x01\x00" * (2 << 20), [4096])
    assert stream.closed and transport.aborted and got.messages == []
    assert got.reason == "a message over 1048576 bytes"
    assert read <= len(HELLO) + 2 * (1 << 20) // zmtp.FRAME_COST + 4096, read


def test_a_message_of_more_frames_than_a_record_can_carry_is_cut() -> None:
    """F3 (and F4's cause): the relay's records count a message's parts in 16 bits, so
    MAX_FRAMES is 65,535: a message of that many frames is delivered, one more is cut."""
    assert zmtp.MAX_FRAMES == 65535
    protocol.record_pieces(protocol.MSG, 0, 1, [b""] * 65535)
    with pytest.raises(struct.error):
        protocol.record_pieces(protocol.MSG, 0, 1, [b""] * 65536)
    stream, _, got = handshaken(b"DEALER", peer=b"ROUTER")
    feed(stream, b"\x01\x00" * 65534 + b"\x00\x01x", [4096])
    assert not stream.closed and len(got.messages) == 1 and len(got.messages[0]) == 65535
    reason = refused(HELLO + b"\x01\x00" * 65535 + b"\x00\x01x", sizes=[4096])
    assert reason == "a message of more than 65535 frames"
    assert refused(HELLO + b"\x01\x00\x01\x00\x00\x00", max_frames=2) == (
        "a message of more than 2 frames"
    )


class TurnCounter(Recorder):
    """A Recorder that notes, per message, how many loop turns a ticker has counted."""

    def __init__(self) -> None:
        super().__init__()
        self.turns = 0
        self.turn_of: list[int] = []
        self.ticking = True

    def tick(self) -> None:
        """Once per loop turn (it schedules itself again with call_soon)."""
        self.turns += 1
        if self.ticking:
            asyncio.get_running_loop().call_soon(self.tick)

    def _message(self, stream: ZmtpStream, frames: list[Any]) -> None:
        super()._message(stream, frames)
        self.turn_of.append(self.turns)


async def test_many_tiny_messages_in_one_send_are_spread_over_loop_turns_in_order() -> None:
    """F3: 131,072 one-frame messages in one send (768 KiB) to a stream with max_batch 256:
    at most 256 are handled per read or turn (reading paused meanwhile), so the loop turns
    at least 511 times while they are delivered (the old code: a 256 KiB read's 43,690 in
    one callback), and every one arrives, in order, whatever the pauses cut."""
    count = 131_072
    loop = asyncio.get_running_loop()
    got = TurnCounter()
    server, peer = await hostile_peer(got, max_batch=256)
    try:
        data = b"".join(b"\x00\x04" + struct.pack("!I", n) for n in range(count))
        got.tick()
        await loop.sock_sendall(peer, data)
        await until(lambda: len(got.messages) >= count)
        got.ticking = False
        assert got.messages == [[struct.pack("!I", n)] for n in range(count)]
        per_batch: list[int] = []  # messages per read or turn (each ends with a "batch")
        run = 0
        for event in got.events:
            if event == "batch":
                per_batch.append(run)
                run = 0
            else:
                run += 1
        assert max(per_batch) == 256 and run == 0, max(per_batch)
        assert got.turn_of[-1] - got.turn_of[0] >= count // 256 - 1
        assert not got.streams[0].closed
    finally:
        got.ticking = False
        peer.close()
        server.close()


async def test_the_relay_logs_a_kernel_message_it_cannot_carry_and_connects_again(
    ctx: Any, sockdir: Path, capsys: Any
) -> None:
    """A kernel (libzmq ROUTER) sends 65,536 frames: more than a record carries. The
    relay's connection is cut with a line on stderr (the relay's log), connects again,
    and what the kernel sends next arrives."""
    path = str(sockdir / "many")
    router = libzmq(ctx, zmq.ROUTER)
    router.bind("ipc://" + path)
    got: list[list[Any]] = []
    conn = ZmtpConnector(path, b"DEALER", identity=b"relay", on_message=got.append)
    try:
        conn.send([b"hello"])
        assert await asyncio.wait_for(router.recv_multipart(), 10) == [b"relay", b"hello"]
        await router.send_multipart([b"relay"] + [b""] * 65536)
        await until(lambda: conn.connections == 2)
        for _ in range(1000):  # (until the kernel's ROUTER has the new connection)
            await router.send_multipart([b"relay", b"next"])
            await asyncio.sleep(0.01)
            if got:
                break
        assert got and got[0] == [b"next"]
        err = capsys.readouterr().err
        assert f"the kernel's DEALER connection {path} was cut" in err
        assert "a message of more than 65535 frames" in err
    finally:
        conn.close()
        router.close(0)


# -- a kernel's message too long for a record: dropped, the connection kept (s24) ------------


class Dropper(Recorder):
    """A Recorder that also keeps what ``on_dropped`` says: (head, frames, bytes)."""

    def __init__(self) -> None:
        super().__init__()
        self.dropped: list[tuple[list[Any], int, int]] = []

    def stream(self, socket_type: bytes, **kwargs: Any) -> ZmtpStream:
        return super().stream(
            socket_type, on_oversize="discard", on_dropped=self._dropped, **kwargs
        )

    def _dropped(self, stream: ZmtpStream, head: list[Any], frames: int, nbytes: int) -> None:
        self.dropped.append((head, frames, nbytes))
        self.events.append("dropped")


@pytest.mark.parametrize("sizes", [[1], [7, 2], [4099], [65537, 3]])
def test_a_message_over_max_frames_is_dropped_whole_and_the_next_arrives(sizes: list[int]) -> None:
    """``on_oversize="discard"`` (the relay's kernel connections): a message of 10 frames
    with max_frames 3, small and big (100 KiB) frames past the bound, is read to its end
    and dropped (``on_dropped``: its first frames, 10 frames, its bytes), in any chunking;
    the messages before and after it arrive whole, the stream is not cut (the old code:
    cut at the 4th frame, everything after it lost)."""
    big = bytes(range(256)) * 400
    frames = [b"<IDS|MSG>", b"sig", b"h" * 300, b"x", big, b"", big, b"y", b"z" * 256, b"end"]
    data = b"".join(
        b"".join(zmtp.message_pieces(m)) for m in ([b"before"], frames, [b"after", big])
    )
    got = Dropper()
    stream = got.stream(b"DEALER", max_frames=3)
    transport = FakeTransport()
    stream.connection_made(transport)
    feed(stream, HELLO + data, sizes)
    assert not stream.closed and not transport.aborted
    assert got.messages == [[b"before"], [b"after", big]]
    assert got.dropped == [(frames[:3], 10, sum(map(len, frames)))]
    assert got.events.index("dropped") < len(got.events) - 1  # before "after"'s message


async def test_a_dropped_message_is_not_held_while_its_frames_come() -> None:
    """A message of 200 frames of 1 MiB with max_frames 4 (discard), from a real socket:
    this process's peak RSS grows by far less than the 200 MiB it carries (its frames are
    read into the small buffer and let go, big ones never get a buffer of their own), and
    the message after it arrives."""
    loop = asyncio.get_running_loop()
    got = Dropper()
    server, peer = await hostile_peer(got, max_frames=4)
    try:
        mib = b"m" * (1 << 20)
        before = vm_rss()
        peak_rss_reset()
        for _ in range(199):
            await loop.sock_sendall(peer, zmtp_frames.frame_header(len(mib), zmtp.MORE) + mib)
        await loop.sock_sendall(peer, b"".join(zmtp.message_pieces([mib])))
        await loop.sock_sendall(peer, b"".join(zmtp.message_pieces([b"after"])))
        assert await got.next_message(30) == [b"after"]
        grown = peak_rss() - before
        assert grown < 48 << 20, f"peak RSS grew {grown >> 20} MiB on a dropped 200 MiB message"
        assert [d[1:] for d in got.dropped] == [(200, 200 << 20)]
        assert not got.streams[0].closed
    finally:
        peer.close()
        server.close()


async def test_a_relay_connector_drops_a_kernels_65536_frame_message_and_stays_connected(
    ctx: Any, sockdir: Path, capsys: Any
) -> None:
    """The relay's connector (``on_oversize="discard"``) on a libzmq ROUTER (a kernel's
    shell) that sends 65,536 frames, then a message: the long one is dropped (logged, its
    owner's ``on_dropped`` told), the next arrives on the same connection (the old code:
    cut, and what was in flight with it lost)."""
    path = str(sockdir / "many-kept")
    router = libzmq(ctx, zmq.ROUTER)
    router.bind("ipc://" + path)
    got: list[list[Any]] = []
    dropped: list[tuple[Any, int, int]] = []
    conn = ZmtpConnector(
        path, b"DEALER", identity=b"relay", on_message=got.append, on_oversize="discard"
    )
    conn.on_dropped = lambda head, frames, nbytes: dropped.append((head, frames, nbytes))
    try:
        conn.send([b"hello"])
        assert await asyncio.wait_for(router.recv_multipart(), 10) == [b"relay", b"hello"]
        await router.send_multipart([b"relay", b"first"] + [b"."] * 65535)
        await router.send_multipart([b"relay", b"next"])
        await until(lambda: bool(got))
        assert got == [[b"next"]] and conn.connections == 1
        assert dropped == [([b"first"] + [b"."] * 7, 65536, 65540)]
        err = capsys.readouterr().err
        assert "a message of 65536 frames (65540 bytes) from the kernel's DEALER" in err
        assert "was cut" not in err
    finally:
        conn.close()
        router.close(0)
