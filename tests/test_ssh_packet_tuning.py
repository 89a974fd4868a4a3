"""ssh/packet_tuning.py on a real sshd: what it removes, and what must not change.

The connections are made as the pool makes them (auth.PolicyClient, auth.CIPHERS:
AES-GCM), straight to a test sshd (LogLevel DEBUG3: it logs each SSH_MSG_IGNORE it
receives; RekeyLimit 1M: it re-keys every megabyte each way), or through a TCP proxy
in this process that can cut a stream into odd pieces, flip one bit of it, or go
silent. Own user ``jrsshpath``; nothing runs on the remote but cat and sha256sum.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import random
import time
from collections.abc import Iterator
from typing import Any

import asyncssh
import pytest

from jupyter_remote.ssh import packet_tuning, quick_login
from jupyter_remote.ssh.auth import CIPHERS, PolicyClient
from jupyter_remote.ssh.packet_tuning import KeptKeyGCM, TunedClientConnection
from tests.harness.sshd_host import SSHTestHost

BLOB_SIZE = 24 << 20
pytestmark = pytest.mark.skipif(not packet_tuning.supported(), reason="asyncssh not verified")


@pytest.fixture(scope="module")
def host() -> Iterator[SSHTestHost]:
    extra = {"RekeyLimit": "1M"}
    with SSHTestHost(
        name="sshpath", user="jrsshpath", log_level="DEBUG3", remote_env=False, extra_config=extra
    ) as h:
        blob = h.workdir / "blob"
        blob.write_bytes(os.urandom(BLOB_SIZE))
        blob.chmod(0o644)
        yield h


def blob_of(host: SSHTestHost) -> bytes:
    return (host.workdir / "blob").read_bytes()


async def connect(
    host: SSHTestHost, *, port: int | None = None, tuned: bool = True, **options: Any
) -> asyncssh.SSHClientConnection:
    """A connection as the pool opens one (PolicyClient, our ciphers), key auth."""
    lost: list[Exception | None] = []
    port = port or host.port
    options = {"encryption_algs": CIPHERS, **options}
    conn, _ = await asyncssh.create_connection(
        lambda: PolicyClient(None, lost.append, tuned=tuned),
        host.host,
        port,
        username=host.user,
        client_keys=[str(host.user_key)],
        known_hosts=asyncssh.import_known_hosts(f"[{host.host}]:{port} {host.host_key_public}"),
        config=[],
        agent_path=None,
        **options,
    )
    conn.lost = lost  # type: ignore[attr-defined]
    return conn


def log_since(host: SSHTestHost, offset: int) -> str:
    time.sleep(0.3)  # sshd writes its log as it goes
    with open(host.log_path, "rb") as f:
        f.seek(offset)
        return f.read().decode(errors="replace")


class Proxy:
    """127.0.0.1 TCP proxy to sshd. Server-to-client bytes can be cut into random
    pieces (``chop``), have one bit flipped once ``flip_after`` bytes went by, or
    stop flowing both ways (``silent``); ``last_to_client`` is when the client was
    last sent anything."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.chop = False
        self.flip_after: int | None = None
        self.silent = False
        self.to_client = 0
        self.last_to_client = 0.0
        self.server: asyncio.AbstractServer | None = None
        self.port = 0

    async def start(self) -> Proxy:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def _serve(self, creader: asyncio.StreamReader, cwriter: asyncio.StreamWriter) -> None:
        sreader, swriter = await asyncio.open_connection("127.0.0.1", self.target_port)
        await asyncio.gather(
            self._pump(creader, swriter, to_client=False),
            self._pump(sreader, cwriter, to_client=True),
            return_exceptions=True,
        )

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, to_client: bool
    ) -> None:
        rng = random.Random(17)
        try:
            while data := await reader.read(1 << 18):
                while self.silent:
                    await asyncio.sleep(0.05)
                if to_client and self.flip_after is not None:
                    at = self.flip_after - self.to_client
                    if 0 <= at < len(data):
                        data = data[:at] + bytes([data[at] ^ 0x10]) + data[at + 1 :]
                        self.flip_after = None
                pieces = [data]
                if to_client and self.chop:
                    cuts = sorted(rng.sample(range(1, len(data)), min(3, len(data) - 1)))
                    bounds = zip([0, *cuts], [*cuts, len(data)], strict=True)
                    pieces = [data[a:b] for a, b in bounds]
                for piece in pieces:
                    writer.write(piece)
                    await writer.drain()
                if to_client:
                    self.to_client += len(data)
                    self.last_to_client = time.monotonic()
        finally:
            writer.close()

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()


async def echo_round_trips(conn: asyncssh.SSHClientConnection, count: int) -> None:
    proc = await conn.create_process("cat", encoding=None)
    for i in range(count):
        line = b"%06d\n" % i
        proc.stdin.write(line)
        assert await proc.stdout.readexactly(len(line)) == line
    proc.stdin.write_eof()
    await proc.wait()


async def fetch_blob(conn: asyncssh.SSHClientConnection, host: SSHTestHost) -> bytes:
    result = await conn.run(f"cat {host.workdir}/blob", encoding=None, check=True)
    assert isinstance(result.stdout, bytes)
    return result.stdout


# ------------------------------------------------------------------------ the wire


def test_no_ignore_packet_per_message_under_gcm(host: SSHTestHost) -> None:
    """asyncssh put an SSH_MSG_IGNORE before every packet (200 round trips: 200+
    more packets for sshd to decrypt); under AES-GCM it protects nothing: none now,
    but the answer to sshd's notices after the login (quick_login.py: one a batch read,
    at most NOTICES_ANSWERED a connection)."""

    async def run(tuned: bool) -> tuple[int, bool]:
        offset = host.log_path.stat().st_size
        conn = await connect(host, tuned=tuned)
        assert conn.get_extra_info("send_cipher") == "aes128-gcm@openssh.com"
        await echo_round_trips(conn, 200)
        conn.close()
        await conn.wait_closed()
        ignores = log_since(host, offset).count("Received SSH2_MSG_IGNORE")
        return ignores, isinstance(conn, TunedClientConnection)

    ignores, tuned = asyncio.run(run(tuned=False))
    assert ignores >= 200 and not tuned  # the count sees asyncssh's own
    ignores, tuned = asyncio.run(run(tuned=True))
    assert ignores <= quick_login.NOTICES_ANSWERED and tuned


def test_rekeys_with_data_flowing_both_ways_keep_every_byte(host: SSHTestHost) -> None:
    """sshd re-keys every 1 MB each way and the client every 1 MB it sends, while 24 MB
    come down and 6 MB go up: each new key gets its own kept AESGCM, bytes intact."""
    up = os.urandom(6 << 20)

    offset = host.log_path.stat().st_size

    async def run() -> tuple[bytes, str, set[int]]:
        conn = await connect(host, rekey_bytes=1 << 20)
        aeads = set()

        async def note_keys() -> None:
            while True:
                enc = conn._recv_encryption
                assert isinstance(enc, KeptKeyGCM)
                aeads.add(id(enc._aead))
                await asyncio.sleep(0.005)

        watcher = asyncio.create_task(note_keys())
        down, upload = await asyncio.gather(
            fetch_blob(conn, host), conn.run("sha256sum", input=up, encoding=None, check=True)
        )
        watcher.cancel()
        conn.close()
        await conn.wait_closed()
        assert isinstance(upload.stdout, bytes)
        return down, upload.stdout.decode(), aeads

    down, up_sum, aeads = asyncio.run(run())
    log = log_since(host, offset)
    assert hashlib.sha256(down).digest() == hashlib.sha256(blob_of(host)).digest()
    assert up_sum.split()[0] == hashlib.sha256(up).hexdigest()
    assert log.count("SSH2_MSG_KEXINIT sent") >= 10
    assert len(aeads) >= 5  # a new AESGCM per key, not one for the connection


def test_big_transfer_cut_into_odd_pieces_is_byte_exact(host: SSHTestHost) -> None:
    """24 MB through reads of every size (the proxy cuts each into 4 random pieces):
    the read buffer's offsets across partial packets, big reads and small."""

    async def run() -> bytes:
        proxy = await Proxy(host.port).start()
        proxy.chop = True
        try:
            conn = await connect(host, port=proxy.port)
            data = await fetch_blob(conn, host)
            await echo_round_trips(conn, 50)
            conn.close()
            await conn.wait_closed()
            return data
        finally:
            await proxy.close()

    assert hashlib.sha256(asyncio.run(run())).digest() == hashlib.sha256(blob_of(host)).digest()


def test_a_flipped_bit_fails_the_connection(host: SSHTestHost) -> None:
    """One bit flipped 8 MB into the stream: the connection fails (GCM's tag), and
    what the client got before is the blob's first bytes, nothing garbled."""
    got = bytearray()

    async def run() -> list[Exception | None]:
        proxy = await Proxy(host.port).start()
        try:
            conn = await connect(host, port=proxy.port)
            proxy.flip_after = proxy.to_client + (8 << 20) + 12345
            proc = await conn.create_process(f"cat {host.workdir}/blob", encoding=None)
            with contextlib.suppress(asyncssh.Error, ConnectionError):
                while chunk := await asyncio.wait_for(proc.stdout.read(1 << 16), 20):
                    got.extend(chunk)
            await asyncio.wait_for(conn.wait_closed(), 20)
            return conn.lost  # type: ignore[attr-defined]
        finally:
            await proxy.close()

    lost = asyncio.run(run())
    assert lost and isinstance(lost[0], (asyncssh.MACError, asyncssh.ProtocolError)), lost
    assert len(got) < BLOB_SIZE and bytes(got) == blob_of(host)[: len(got)]


# ----------------------------------------------------------------------- keepalive


@pytest.mark.parametrize("tuned", [False, True], ids=["stock", "tuned"])
def test_keepalive_gives_up_on_a_silent_link_at_the_same_time(
    host: SSHTestHost, tuned: bool
) -> None:
    """Keepalive 0.5 s x 2: a link busy for 3 s stays up; once silent, it is given
    up (interval x (count_max + 1)) = 1.5 s after the last byte came, as asyncssh's."""

    async def run() -> tuple[float, list[Exception | None]]:
        proxy = await Proxy(host.port).start()
        try:
            conn = await connect(
                host, port=proxy.port, tuned=tuned, keepalive_interval=0.5, keepalive_count_max=2
            )
            proc = await conn.create_process("cat", encoding=None)
            end = time.monotonic() + 3
            while time.monotonic() < end:
                proc.stdin.write(b"x\n")
                assert await proc.stdout.readexactly(2) == b"x\n"
                await asyncio.sleep(0.2)
            proxy.silent = True
            await asyncio.wait_for(conn.wait_closed(), 10)
            return time.monotonic() - proxy.last_to_client, conn.lost  # type: ignore[attr-defined]
        finally:
            proxy.silent = False
            await proxy.close()

    after, lost = asyncio.run(run())
    assert lost and "keepalive" in str(lost[0]), lost
    assert 1.4 <= after <= 2.2, after


# ------------------------------------------------------------------------ versions


def test_an_unverified_asyncssh_keeps_its_own_behaviour(
    host: SSHTestHost, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Another asyncssh release: stock connection, said once at debug level."""
    monkeypatch.setattr(asyncssh, "__version__", "2.99.0")
    monkeypatch.setattr(packet_tuning, "_said_stock", False)
    caplog.set_level(logging.DEBUG, logger=packet_tuning.__name__)

    async def run() -> list[type]:
        kinds = []
        for _ in range(2):
            conn = await connect(host)
            await echo_round_trips(conn, 3)
            kinds.append(type(conn))
            conn.close()
            await conn.wait_closed()
        return kinds

    assert asyncio.run(run()) == [asyncssh.SSHClientConnection] * 2
    notes = [r for r in caplog.records if "not applied" in r.getMessage()]
    assert len(notes) == 1 and notes[0].levelno == logging.DEBUG


@pytest.mark.parametrize("version", ["2.24.2", "2.24", "2.24.1.post1", "2.25.0"])
def test_only_the_exact_verified_release_is_tuned(
    monkeypatch: pytest.MonkeyPatch, version: str
) -> None:
    """A patch release of the verified one may fix the methods tuning overrides: stock."""
    assert packet_tuning.supported()
    monkeypatch.setattr(asyncssh, "__version__", version)
    assert not packet_tuning.supported()


# ------------------------------------------------------------------- receiving (s27)


class CallCounter:
    """Python calls made on this thread while active (sys.setprofile), by function name
    and the last part of its file; ``_log_packet`` calls also by packet type."""

    def __init__(self) -> None:
        self.calls: dict[tuple[str, str], int] = {}
        self.logged: dict[int, int] = {}

    def _profile(self, frame: Any, event: str, arg: Any) -> None:
        if event != "call":
            return
        code = frame.f_code
        key = (os.path.basename(code.co_filename), code.co_name)
        self.calls[key] = self.calls.get(key, 0) + 1
        if code.co_name == "_log_packet":
            pkttype = frame.f_locals.get("pkttype", -1)
            self.logged[pkttype] = self.logged.get(pkttype, 0) + 1

    def __enter__(self) -> CallCounter:
        import sys

        sys.setprofile(self._profile)
        return self

    def __exit__(self, *exc: object) -> None:
        import sys

        sys.setprofile(None)

    def count(self, filename: str, name: str) -> int:
        return self.calls.get((filename, name), 0)


@pytest.mark.parametrize("tuned", [False, True], ids=["stock", "tuned"])
def test_channel_data_skips_asyncssh_s_per_packet_copies_and_log_lines(
    host: SSHTestHost, tuned: bool
) -> None:
    """24 MB (about 770 channel-data packets of 32 KiB) read as the pool reads: asyncssh
    hands each one to ``_process_data`` through an SSHPacket (the payload copied out of
    the plaintext, the data out of the payload) and formats a log line for it that
    it drops; a tuned connection neither (0 of each, stock 700+), reads straight into
    its buffer (``get_buffer``, no ``data_received`` bytes), and the bytes are exact."""

    async def run() -> tuple[bytes, CallCounter]:
        conn = await connect(host, tuned=tuned)
        await echo_round_trips(conn, 3)
        with CallCounter() as counter:
            data = await fetch_blob(conn, host)
        conn.close()
        await conn.wait_closed()
        return data, counter

    data, counter = asyncio.run(run())
    assert hashlib.sha256(data).digest() == hashlib.sha256(blob_of(host)).digest()
    process_data = counter.count("channel.py", "_process_data")
    data_logged = counter.logged.get(94, 0)  # MSG_CHANNEL_DATA, sent or received
    buffered = counter.count("recv_path.py", "get_buffer")
    print(f"{process_data=} {data_logged=} {buffered=} logged={counter.logged}")
    if tuned:
        assert (process_data, data_logged) == (0, 0)
        assert buffered >= 20 and counter.count("recv_path.py", "data_received") == 0
    else:
        assert process_data >= 700 and data_logged >= 700


@pytest.mark.parametrize("cipher", ["chacha20-poly1305@openssh.com", "aes128-ctr"])
def test_other_ciphers_run_asyncssh_s_own_receive_on_the_buffer(
    host: SSHTestHost, cipher: str
) -> None:
    """Under ciphers other than AES-GCM asyncssh's own packet code reads the ReadBuffer
    (its slices, its consuming slice): 24 MB byte-exact through odd read sizes."""

    async def run() -> tuple[bytes, str | None, type]:
        proxy = await Proxy(host.port).start()
        proxy.chop = True
        try:
            conn = await connect(host, port=proxy.port, encryption_algs=[cipher])
            data = await fetch_blob(conn, host)
            await echo_round_trips(conn, 20)
            got = conn.get_extra_info("recv_cipher"), type(conn)
            conn.close()
            await conn.wait_closed()
            return data, *got
        finally:
            await proxy.close()

    data, recv_cipher, kind = asyncio.run(run())
    assert (recv_cipher, kind) == (cipher, TunedClientConnection)
    assert hashlib.sha256(data).digest() == hashlib.sha256(blob_of(host)).digest()


def test_a_connection_through_a_tunnel_reads_its_bytes_as_handed(host: SSHTestHost) -> None:
    """A connection over another one (a jump host: asyncssh's channel is its transport,
    which hands bytes, not a buffer to read into): tuned, byte-exact, through data_received."""

    async def run() -> tuple[bytes, type, CallCounter]:
        outer = await connect(host)
        inner = await connect(host, tunnel=outer)
        with CallCounter() as counter:
            data = await fetch_blob(inner, host)
        await echo_round_trips(inner, 20)
        kind = type(inner)
        inner.close()
        await inner.wait_closed()
        outer.close()
        await outer.wait_closed()
        return data, kind, counter

    data, kind, counter = asyncio.run(run())
    assert kind is TunedClientConnection
    assert counter.count("recv_path.py", "data_received") >= 20
    assert hashlib.sha256(data).digest() == hashlib.sha256(blob_of(host)).digest()
