"""Self-test of the sshd harness (tests/harness/sshd_host.py), with asyncssh directly."""

from __future__ import annotations

import asyncio
import re
import shlex
from typing import Any

import asyncssh
import pytest

from tests.harness.sshd_host import SSHTestHost
from tests.harness.waiting import eventually


def trust(host: SSHTestHost) -> asyncssh.SSHKnownHosts:
    """known_hosts trusting exactly the host's current key."""
    return asyncssh.import_known_hosts(host.known_hosts_entry() + "\n")


async def connect(host: SSHTestHost, **kwargs: Any) -> asyncssh.SSHClientConnection:
    kwargs.setdefault("known_hosts", trust(host))
    kwargs.setdefault("client_keys", [str(host.user_key)])
    kwargs.setdefault("agent_path", None)
    kwargs.setdefault("config", [])
    kwargs.setdefault("connect_timeout", 10)
    return await asyncssh.connect(host.host, host.port, username=host.user, **kwargs)


async def run(conn: asyncssh.SSHClientConnection, argv: list[str]) -> str:
    result = await conn.run(shlex.join(argv), check=True, timeout=30)
    return str(result.stdout)


def test_key_login_whoami(ssh_host: SSHTestHost) -> None:
    before = ssh_host.accepted_logins()

    async def main() -> tuple[str, str]:
        async with await connect(ssh_host) as conn:
            fp = conn.get_server_host_key().get_fingerprint()
            return (await run(conn, ["whoami"])).strip(), fp

    who, fingerprint = asyncio.run(main())
    assert who == ssh_host.user
    # ssh-keygen -lf and asyncssh agree on the fingerprint format.
    assert fingerprint == ssh_host.host_key_fingerprint
    assert ssh_host.host_key_fingerprint.startswith("SHA256:")
    assert ssh_host.host_key_type == "ssh-ed25519"
    eventually(ssh_host.accepted_logins, lambda n: n == before + 1)
    assert f"Accepted publickey for {ssh_host.user}" in ssh_host.log_text()
    assert ssh_host.run_as_user(["whoami"]).stdout.strip() == ssh_host.user
    assert ssh_host.home.is_dir()


def test_remote_python_has_ipykernel(ssh_host: SSHTestHost) -> None:
    code = "import ipykernel, sys; print(sys.executable); print(ipykernel.__version__)"

    async def main() -> str:
        async with await connect(ssh_host) as conn:
            return await run(conn, [ssh_host.remote_python, "-c", code])

    executable, version = asyncio.run(main()).split()
    assert executable == ssh_host.remote_python
    assert ssh_host.remote_python.startswith("/")
    assert re.match(r"\d+\.\d+", version)


def test_concurrent_connections_counted(ssh_host: SSHTestHost) -> None:
    eventually(ssh_host.established_connections, lambda n: n == 0)

    async def open_all() -> list[asyncssh.SSHClientConnection]:
        return list(await asyncio.gather(*(connect(ssh_host) for _ in range(20))))

    async def main() -> tuple[int, int]:
        conns = await open_all()
        try:
            opened = await asyncio.to_thread(
                eventually, ssh_host.established_connections, lambda n: n == 20
            )
        finally:
            for c in conns:
                c.close()
            await asyncio.gather(*(c.wait_closed() for c in conns))
        await asyncio.to_thread(eventually, ssh_host.established_connections, lambda n: n == 0)
        return opened, ssh_host.established_connections()

    assert asyncio.run(main()) == (20, 0)


def test_impostor_host_key_is_refused(ssh_host: SSHTestHost) -> None:
    original_fp = ssh_host.host_key_fingerprint
    trusted_old = trust(ssh_host)
    new_fp = ssh_host.restart_with_new_host_key()
    try:
        assert new_fp == ssh_host.host_key_fingerprint != original_fp
        assert ssh_host.previous_host_key_fingerprint == original_fp

        async def main() -> None:
            with pytest.raises(asyncssh.HostKeyNotVerifiable):
                await connect(ssh_host, known_hosts=trusted_old)
            async with await connect(ssh_host) as conn:  # trusting the new key works
                assert conn.get_server_host_key().get_fingerprint() == new_fp

        asyncio.run(main())
    finally:
        ssh_host.restore_original_host_key()
    assert ssh_host.host_key_fingerprint == original_fp
    assert ssh_host.previous_host_key_fingerprint == new_fp

    async def back() -> None:
        async with await connect(ssh_host, known_hosts=trusted_old):
            pass

    asyncio.run(back())


def test_impostor_fixture(impostor: SSHTestHost) -> None:
    assert impostor.host_key_fingerprint != impostor.previous_host_key_fingerprint
    assert impostor.host_key_path != impostor.original_host_key_path


def test_impostor_fixture_restored(ssh_host: SSHTestHost) -> None:
    assert ssh_host.host_key_path == ssh_host.original_host_key_path


def test_outage_drops_sessions_and_comes_back(ssh_host: SSHTestHost) -> None:
    async def main() -> None:
        conn = await connect(ssh_host)
        proc = await conn.create_process("sleep 60")
        await asyncio.to_thread(eventually, ssh_host.established_connections, lambda n: n == 1)
        with ssh_host.outage():
            assert not ssh_host.running
            # The existing session is gone, promptly.
            await asyncio.wait_for(conn.wait_closed(), 10)
            assert ssh_host.established_connections() == 0
            with pytest.raises(OSError):
                await connect(ssh_host)
        proc.close()
        assert ssh_host.running
        async with await connect(ssh_host) as conn2:
            assert (await run(conn2, ["echo", "back"])).strip() == "back"

    asyncio.run(main())
    eventually(lambda: _session_processes(ssh_host), lambda left: not left)


def _session_processes(host: SSHTestHost) -> list[str]:
    """Per-connection sshd processes of the remote user ("sshd: jrtest@notty")."""
    out = host.run_as_user(["pgrep", "-a", "-u", host.user, "sshd"]).stdout
    return [line for line in out.splitlines() if "@" in line]


def test_restart_keeps_port_and_key(ssh_host: SSHTestHost) -> None:
    port, fp = ssh_host.port, ssh_host.host_key_fingerprint
    ssh_host.restart()
    assert (ssh_host.port, ssh_host.host_key_fingerprint) == (port, fp)

    async def main() -> None:
        async with await connect(ssh_host):
            pass

    asyncio.run(main())


def test_encrypted_key_with_passphrase(ssh_host: SSHTestHost) -> None:
    # asyncssh decrypts OpenSSH-format private keys only with bcrypt (asyncssh[bcrypt]).
    pytest.importorskip("bcrypt", reason="encrypted OpenSSH keys need asyncssh[bcrypt]")
    passphrase = "correct horse battery staple"
    key_path = ssh_host.make_encrypted_key(passphrase)
    with pytest.raises(asyncssh.KeyImportError):
        asyncssh.read_private_key(key_path)
    key = asyncssh.read_private_key(key_path, passphrase)

    async def main() -> str:
        async with await connect(ssh_host, client_keys=[key]) as conn:
            return (await run(conn, ["whoami"])).strip()

    assert asyncio.run(main()) == ssh_host.user
    fp = key.get_fingerprint()
    eventually(ssh_host.log_text, lambda log: fp in log, what=f"{fp} in the sshd log")


def test_password_auth(password_ssh_host: SSHTestHost) -> None:
    host = password_ssh_host
    assert host.password

    async def main() -> str:
        with pytest.raises(asyncssh.PermissionDenied):
            await connect(host, client_keys=None, password=host.password + "-wrong")
        async with await connect(host, client_keys=None, password=host.password) as conn:
            return (await run(conn, ["whoami"])).strip()

    assert asyncio.run(main()) == host.user
    accepted = f"Accepted password for {host.user}"
    eventually(host.log_text, lambda log: accepted in log, what=f"{accepted!r} in the sshd log")
    assert f"Failed password for {host.user}" in host.log_text()


def test_ssh_agent_auth(ssh_host: SSHTestHost, ssh_agent: str) -> None:
    async def main() -> str:
        # client_keys=() is asyncssh's default: agent keys (root's ~/.ssh has none).
        async with await connect(ssh_host, client_keys=(), agent_path=ssh_agent) as conn:
            return (await run(conn, ["whoami"])).strip()

    before = ssh_host.accepted_logins()
    assert asyncio.run(main()) == ssh_host.user
    eventually(ssh_host.accepted_logins, lambda n: n == before + 1)

    async def without_agent() -> None:
        with pytest.raises(asyncssh.PermissionDenied):
            await connect(ssh_host, client_keys=(), agent_path=None)

    asyncio.run(without_agent())


def test_jump_host_direct_tcpip(ssh_host: SSHTestHost, jump_ssh_host: SSHTestHost) -> None:
    assert jump_ssh_host.port != ssh_host.port

    async def main() -> str:
        async with await connect(jump_ssh_host) as jump:  # noqa: SIM117 - py3.9
            async with await connect(ssh_host, tunnel=jump) as conn:
                return (await run(conn, ["whoami"])).strip()

    assert asyncio.run(main()) == ssh_host.user
    target = rf"target {re.escape(ssh_host.host)} port {ssh_host.port}\b"
    pattern = rf"server_request_direct_tcpip: .*{target}"
    eventually(
        jump_ssh_host.log_text,
        lambda log: re.search(pattern, log),
        what=f"{pattern!r} in the jump host's sshd log",
    )


def test_close_removes_workdir_and_process() -> None:
    host = SSHTestHost(name="ephemeral")
    workdir, port = host.workdir, host.port

    async def main() -> None:
        async with await connect(host) as conn:
            await run(conn, ["true"])

    asyncio.run(main())
    assert host.running
    host.close()
    assert not workdir.exists()
    assert not host.running
    with pytest.raises(OSError):
        asyncio.run(main())
    assert host.established_connections() == 0
    assert port  # the port is simply free again
