"""A cold start's fixed costs: what the first remote kernel of a process pays before its
SSH connection, the login's requests, and a new connection's first channel."""

from __future__ import annotations

import io
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncssh
import pytest
from asyncssh.auth import _ServerNullAuth
from asyncssh.packet import SSHPacket

from jupyter_remote import runtime
from jupyter_remote.errors import SSHAuthError
from jupyter_remote.manager import RemoteManager
from jupyter_remote.ssh import packet_tuning
from jupyter_remote.ssh.auth import CIPHERS, PolicyClient
from tests.harness.servers import server_input, trust_host
from tests.harness.sshd_host import SSHAgent, SSHTestHost
from tests.harness.waiting import eventually

ROOT = Path(__file__).resolve().parent.parent

FIRST_EVENT = """
import sys, time
from jupyter_remote import runtime
from jupyter_remote.sessions import registry
runtime.current_context()
started = time.perf_counter()
registry.emit({"type": "progress", "kernel_id": "k", "server": "s",
               "stage": "connecting", "message": "to server s"})
print("jsonschema" in sys.modules, round(time.perf_counter() - started, 3))
"""


def test_a_standalone_clients_first_progress_event_imports_no_jsonschema(
    isolated_home: Path,
) -> None:
    """papermill, nbclient, `jupyter execute`: the first kernel start's first progress
    event was checked against its schema, which imported jsonschema (0.87 s, measured
    between 'connecting' and 'authenticating' of the first start of every process).
    Those events never leave the process: like the CLI's, they are not checked there."""
    out = subprocess.run(
        [sys.executable, "-c", FIRST_EVENT],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=True,
    ).stdout.split()
    print("jsonschema imported, emit seconds:", out)
    assert out[0] == "False"


# --------------------------------------------------------------- the SSH login


@pytest.fixture(scope="module")
def host() -> Iterator[SSHTestHost]:
    """An sshd of this file's own user that logs each auth request (DEBUG1)."""
    with SSHTestHost(name="coldstart", user="jrcold", log_level="DEBUG1", remote_env=False) as h:
        yield h


def auth_requests(host: SSHTestHost, offset: int) -> list[str]:
    """The auth methods the client asked for since ``offset`` of the sshd log, once the
    login is in the log."""
    text = eventually(
        lambda: host.log_path.read_bytes()[offset:].decode(errors="replace"),
        lambda t: "Accepted publickey" in t or "Connection closed" in t or "Disconnected" in t,
        what="the login in the sshd log",
    )
    return re.findall(r"userauth-request for user \S+ service ssh-connection method (\S+)", text)


@pytest.mark.skipif(not packet_tuning.supported(), reason="asyncssh not verified")
@pytest.mark.parametrize("auth", ["key", "agent"])
async def test_a_public_key_login_sends_no_none_request(
    manager: RemoteManager, host: SSHTestHost, auth: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """asyncssh began every login with a "none" request: one round trip and one of
    sshd's per-request minimum times (5-9 ms) before the public-key query, whose
    refusal would carry the same list of methods. A key or agent server asks only:
    the query, then the signed request."""
    trust_host(manager.store, host)
    if auth == "agent":
        agent = SSHAgent([host.user_key])
        monkeypatch.setenv("SSH_AUTH_SOCK", str(agent.socket_path))
        await manager.add_server(server_input(host, identity=None, auth="agent"))
    else:
        await manager.add_server(server_input(host))
    try:
        offset = host.log_path.stat().st_size
        async with manager.pool.connection(await manager.endpoint("box")) as conn:
            assert (await conn.run("echo ok", check=True)).stdout == "ok\n"
        requests = auth_requests(host, offset)
    finally:
        if auth == "agent":
            agent.close()
    print(auth, "login's auth requests:", requests)
    assert requests == ["publickey", "publickey"]


async def test_a_server_refusing_public_keys_is_still_a_clear_key_refusal(
    manager: RemoteManager,
) -> None:
    """Without the "none" answer, the server's list of methods comes with the refused
    public-key request: the same error, and no other method tried."""
    with SSHTestHost(
        name="nopubkey",
        user="jrcold",
        log_level="DEBUG1",
        remote_env=False,
        extra_config={"PubkeyAuthentication": "no"},
    ) as nokeys:
        trust_host(manager.store, nokeys)
        await manager.add_server(server_input(nokeys))
        offset = nokeys.log_path.stat().st_size
        with pytest.raises(SSHAuthError, match="refused key authentication"):
            await manager.pool.acquire(await manager.endpoint("box"))
        assert manager.pool.open_count() == 0
        requests = auth_requests(nokeys, offset)
    print("refused login's auth requests:", requests)
    assert requests and set(requests) <= {"none", "publickey"}


def median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


@pytest.mark.skipif(not packet_tuning.supported(), reason="asyncssh not verified")
async def test_a_new_connections_first_channel_waits_for_no_delayed_ack(
    manager: RemoteManager, host: SSHTestHost
) -> None:
    """After the login sshd sends what no client answers (a hostkeys-00 global request,
    DEBUG lines); with nothing to send back our kernel delayed its TCP ACK, and sshd
    (no TCP_NODELAY for an exec session) held its answer to our first channel open
    until that ACK came: 40 ms or more on every new connection's first exec (56 vs 11
    ms on loopback). Answered with an IGNORE, the first channel costs what a later one
    does."""
    trust_host(manager.store, host)
    await manager.add_server(server_input(host))
    endpoint = await manager.endpoint("box")
    firsts: list[float] = []
    laters: list[float] = []
    for _ in range(7):
        async with manager.pool.connection(endpoint) as conn:
            for times in (firsts, laters):
                started = time.perf_counter()
                proc = await conn.create_process("true")  # channel open + exec request
                times.append(time.perf_counter() - started)
                await proc.wait()
    print(
        f"first channel {median(firsts) * 1000:.1f} ms, a later one {median(laters) * 1000:.1f} ms"
    )
    assert median(firsts) - median(laters) < 0.025


class _NoneAdmitted(_ServerNullAuth):
    """A stand-in for a server that admits the "none" method (a gateway with no client
    auth, Tailscale SSH's tailnet identity, an account without a password under
    PermitEmptyPasswords): asyncssh's own server, whose "none" is never supported,
    made to accept it. Records that it was asked."""

    asked: list[str] = []

    @classmethod
    def supported(cls, conn: Any) -> bool:
        return True

    async def _start(self, packet: SSHPacket) -> None:
        packet.check_end()
        _NoneAdmitted.asked.append("none")
        await self.send_success()


class _NoKeysServer(asyncssh.SSHServer):
    def begin_auth(self, username: str) -> bool:
        return True

    def public_key_auth_supported(self) -> bool:
        _NoneAdmitted.asked.append("publickey")
        return False


@pytest.mark.parametrize("tuned", [False, True], ids=["stock", "tuned"])
async def test_a_server_that_admits_none_still_logs_in(
    tuned: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review s28 F3: with "none" skipped, a key login to a server that admits "none"
    and lists no public-key auth ended in PermissionDenied, where asyncssh's stock login
    got in. The skipped "none" now comes last, once, before giving up: both log in."""
    monkeypatch.setitem(asyncssh.auth._server_auth_handlers, b"none", _NoneAdmitted)
    _NoneAdmitted.asked = []
    server_key = asyncssh.generate_private_key("ssh-ed25519")
    server = await asyncssh.listen(
        "127.0.0.1", 0, server_factory=_NoKeysServer, server_host_keys=[server_key]
    )
    port = server.sockets[0].getsockname()[1]
    try:
        conn, _ = await asyncssh.create_connection(
            lambda: PolicyClient(None, tuned=tuned),
            "127.0.0.1",
            port,
            username="gateway",
            client_keys=[asyncssh.generate_private_key("ssh-ed25519")],
            known_hosts=asyncssh.import_known_hosts(
                f"[127.0.0.1]:{port} " + server_key.export_public_key().decode()
            ),
            preferred_auth="publickey",
            password_auth=False,
            kbdint_auth=False,
            encryption_algs=CIPHERS,
            config=[],
            agent_path=None,
        )
        conn.close()
        await conn.wait_closed()
    finally:
        server.close()
        await server.wait_closed()
    print("tuned" if tuned else "stock", "asked:", _NoneAdmitted.asked)
    assert _NoneAdmitted.asked[-1] == "none"
    if tuned and packet_tuning.supported():
        # the public-key request first (the server's check of it is asked twice), then
        # "none", last and once
        assert _NoneAdmitted.asked[0] == "publickey" and _NoneAdmitted.asked.count("none") == 1


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_standalone_clients_progress_lines_carry_no_terminal_escapes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Review s28 F6: a standalone client (papermill, jupyter console) prints start-up
    stages on its terminal, and a stage's message can hold remote text (a Slurm job's
    pending reason): a hostile one could retitle the terminal or rewrite the screen. Each
    control character now shows as an escape."""
    screen = _Terminal()
    monkeypatch.setattr(sys, "stderr", screen)
    hostile = "queued (Priority)\x1b]0;owned\x07\x1b[2J\rforged line"
    runtime._print_progress(
        {"type": "progress", "stage": "queued\x1b[31m", "message": hostile, "kernel_id": "k"}
    )
    line = screen.getvalue()
    assert "\x1b" not in line and "\x07" not in line and "\r" not in line, repr(line)
    assert line == (
        "[jupyter-remote] queued\\x1b[31m: queued (Priority)\\x1b]0;owned\\x07\\x1b[2J"
        "\\rforged line\n"
    ), repr(line)
