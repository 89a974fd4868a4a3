"""A hostile SSH server meets the same answers from a tuned connection as from asyncssh's.

``ssh/recv_path.py`` hands a well-formed channel-data packet to its channel without
asyncssh's packet object; anything else must go through asyncssh 2.24.1's own checks. The
server here is asyncssh's, in this process (an OpenSSH sshd will not misbehave): after
the client's session opens, it sends one crafted packet on the encrypted connection, with
the keys it holds, as a hostile server could. Each case runs against a stock and a tuned
client, which must end with the same error (the reason asyncssh gives, or, for data a
paused channel has no window for, 'Window exceeded').
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncssh
import pytest
from asyncssh.constants import MSG_CHANNEL_DATA
from asyncssh.packet import String, UInt32

from jupyter_remote.ssh import packet_tuning
from jupyter_remote.ssh.auth import CIPHERS, PolicyClient
from jupyter_remote.ssh.packet_tuning import TunedClientConnection

pytestmark = pytest.mark.skipif(not packet_tuning.supported(), reason="asyncssh not verified")

SERVER_KEY = asyncssh.generate_private_key("ssh-ed25519")
CLIENT_KEY = asyncssh.generate_private_key("ssh-ed25519")
WINDOW = 64 * 1024


def crafted(chan: Any, case: str) -> None:
    """The hostile packet (or packets) for CASE, sent on the server's side of CHAN."""
    conn, to = chan._conn, chan._send_chan
    if case == "trailing bytes":
        conn.send_packet(MSG_CHANNEL_DATA, UInt32(to), String(b"abc"), b"junk")
    elif case == "data longer than the packet":
        conn.send_packet(MSG_CHANNEL_DATA, UInt32(to), UInt32(1000), b"short")
    elif case == "no data length":
        conn.send_packet(MSG_CHANNEL_DATA, UInt32(to), b"\0\0")
    elif case == "unknown channel":
        conn.send_packet(MSG_CHANNEL_DATA, UInt32(to + 77), String(b"abc"))
    elif case == "no channel number":
        conn.send_packet(MSG_CHANNEL_DATA, b"\0\0")
    elif case == "beyond the window":
        for _ in range(3):  # the client's channel is paused: 96 KiB > its 64 KiB window
            conn.send_packet(MSG_CHANNEL_DATA, UInt32(to), String(b"x" * 32768))
    else:  # pragma: no cover
        raise AssertionError(case)


class HostileServer(asyncssh.SSHServer):
    def begin_auth(self, username: str) -> bool:
        return True

    def public_key_auth_supported(self) -> bool:
        return True

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        return key.public_data == CLIENT_KEY.public_data


class Paused(asyncssh.SSHClientSession[bytes]):
    """A client session that keeps what comes (and can stop reading)."""

    def __init__(self) -> None:
        self.got = b""

    def data_received(self, data: bytes, datatype: Any) -> None:
        self.got += data


async def hostile_run(case: str, tuned: bool) -> tuple[type, Exception | None, bytes]:
    sent = asyncio.Event()

    async def serve(process: asyncssh.SSHServerProcess) -> None:
        process.stdout.write(b"hello")
        await asyncio.sleep(0.2)
        crafted(process.channel, case)
        sent.set()
        await asyncio.sleep(5)
        process.exit(0)

    server = await asyncssh.listen(
        "127.0.0.1",
        0,
        server_factory=HostileServer,
        server_host_keys=[SERVER_KEY],
        process_factory=serve,
        encryption_algs=CIPHERS,
        encoding=None,
    )
    port = server.sockets[0].getsockname()[1]
    lost: list[Exception | None] = []
    try:
        conn, _ = await asyncssh.create_connection(
            lambda: PolicyClient(None, lost.append, tuned=tuned),
            "127.0.0.1",
            port,
            username="hostile",
            client_keys=[CLIENT_KEY],
            known_hosts=asyncssh.import_known_hosts(
                f"[127.0.0.1]:{port} " + SERVER_KEY.export_public_key().decode()
            ),
            encryption_algs=CIPHERS,
            config=[],
            agent_path=None,
        )
        chan, session = await conn.create_session(Paused, "x", encoding=None, window=WINDOW)
        for _ in range(500):
            if session.got == b"hello":
                break
            await asyncio.sleep(0.01)
        if case == "beyond the window":
            chan.pause_reading()
        await asyncio.wait_for(sent.wait(), 5)
        await asyncio.wait_for(conn.wait_closed(), 5)
        return type(conn), (lost[0] if lost else None), session.got
    finally:
        server.close()
        await server.wait_closed()


CASES = [
    "trailing bytes",
    "data longer than the packet",
    "no data length",
    "unknown channel",
    "no channel number",
    "beyond the window",
]


@pytest.mark.parametrize("case", CASES)
def test_a_malformed_channel_data_packet_fails_as_asyncssh_fails_it(case: str) -> None:
    """Each malformed MSG_CHANNEL_DATA: the connection ends, with asyncssh's own error
    and reason, on a stock and a tuned client alike; nothing of it was delivered."""
    stock = asyncio.run(hostile_run(case, tuned=False))
    tuned = asyncio.run(hostile_run(case, tuned=True))
    print(case, "stock:", repr(stock[1]), "tuned:", repr(tuned[1]))
    assert stock[0] is asyncssh.SSHClientConnection and tuned[0] is TunedClientConnection
    assert isinstance(stock[1], asyncssh.ProtocolError), stock[1]
    assert type(tuned[1]) is type(stock[1]) and str(tuned[1]) == str(stock[1])
    assert stock[2] == tuned[2] == b"hello"
