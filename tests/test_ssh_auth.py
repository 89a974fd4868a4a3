"""Auth methods and jump hosts against real sshds: key, encrypted key, agent, password, jump."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from jupyter_remote.errors import SecretRequiredError, SSHAuthError
from jupyter_remote.manager import RemoteManager
from tests.harness.servers import server_input, trust_host
from tests.harness.sshd_host import SSHTestHost


async def test_key_auth(manager: RemoteManager, ssh_host: SSHTestHost) -> None:
    trust_host(manager.store, ssh_host)
    await manager.add_server(server_input(ssh_host))
    result = await manager.test_server("box")
    assert result["auth_method"] == "key"
    assert result["endpoint"].startswith(f"{ssh_host.user}@")


async def test_encrypted_key_needs_its_passphrase(
    manager: RemoteManager, ssh_host: SSHTestHost
) -> None:
    trust_host(manager.store, ssh_host)
    key = ssh_host.make_encrypted_key("correct horse battery")
    await manager.add_server(server_input(ssh_host, identity=str(key)))
    with pytest.raises(SecretRequiredError, match="encrypted"):
        await manager.test_server("box")
    await manager.update_server("box", {"passphrase": "wrong passphrase"})
    with pytest.raises(SSHAuthError, match="passphrase"):
        await manager.test_server("box")
    await manager.update_server("box", {"passphrase": "correct horse battery"})
    assert (await manager.test_server("box"))["auth"] == "ok"


async def test_agent_auth(
    manager: RemoteManager, ssh_host: SSHTestHost, ssh_agent: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    trust_host(manager.store, ssh_host)
    await manager.add_server(server_input(ssh_host, identity=None, auth="agent"))
    with pytest.raises(SSHAuthError, match="SSH_AUTH_SOCK"):
        await manager.test_server("box")
    monkeypatch.setenv("SSH_AUTH_SOCK", ssh_agent)
    assert (await manager.test_server("box"))["auth_method"] == "agent"


async def test_key_server_never_falls_back_to_another_method(
    manager: RemoteManager, ssh_host: SSHTestHost, tmp_path: Path
) -> None:
    """A key the host does not know fails as a key failure, with no other method tried."""
    trust_host(manager.store, ssh_host)
    import subprocess

    stranger = tmp_path / "stranger"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(stranger)], check=True)
    await manager.add_server(server_input(ssh_host, identity=str(stranger)))
    with pytest.raises(SSHAuthError, match="refused key authentication"):
        await manager.test_server("box")


async def test_password_auth_and_one_clean_failure(
    manager: RemoteManager, password_ssh_host: SSHTestHost, caplog: pytest.LogCaptureFixture
) -> None:
    host = password_ssh_host
    assert host.password
    caplog.set_level(logging.DEBUG)
    trust_host(manager.store, host)
    data = server_input(host, identity=None, auth="password", password=host.password)
    saved = await manager.add_server(data)
    assert saved["has_secret"] is True and "password" not in saved
    result = await manager.test_server("box")
    assert result["auth_method"] == "password"

    failures_before = host.log_text().count("Failed password")
    await manager.update_server("box", {"password": "not-the-password-123"})
    with pytest.raises(SSHAuthError, match="refused password authentication") as info:
        await manager.test_server("box")
    assert "sent once" in info.value.hint
    assert host.log_text().count("Failed password") - failures_before == 1
    assert host.password not in caplog.text
    assert "not-the-password-123" not in caplog.text
    for path in manager.store.root.iterdir():
        if path.is_file():
            text = path.read_text(errors="replace")
            assert host.password not in text and "not-the-password-123" not in text


async def test_password_server_without_password_says_so(
    manager: RemoteManager, password_ssh_host: SSHTestHost
) -> None:
    trust_host(manager.store, password_ssh_host)
    await manager.add_server(server_input(password_ssh_host, identity=None, auth="password"))
    with pytest.raises(SecretRequiredError, match="no password"):
        await manager.test_server("box")


async def test_explicit_jump_host(
    manager: RemoteManager, ssh_host: SSHTestHost, jump_ssh_host: SSHTestHost
) -> None:
    trust_host(manager.store, ssh_host)
    trust_host(manager.store, jump_ssh_host)
    # the jump host authenticates with the same user key, found through ~/.ssh/config
    home = Path.home()
    (home / ".ssh" / "config").write_text(
        f"Host 127.0.0.1\n  IdentityFile {jump_ssh_host.user_key}\n"
    )
    jump = f"{jump_ssh_host.user}@127.0.0.1:{jump_ssh_host.port}"
    await manager.add_server(server_input(ssh_host, jump=jump))
    log_before = len(jump_ssh_host.log_text())
    result = await manager.test_server("box")
    assert "via" in result["endpoint"]
    jump_log = jump_ssh_host.log_text()[log_before:]
    assert "server_request_direct_tcpip: originator" in jump_log
    assert f"target 127.0.0.1 port {ssh_host.port}" in jump_log


async def test_ssh_config_alias_and_proxyjump(
    manager: RemoteManager, ssh_host: SSHTestHost, jump_ssh_host: SSHTestHost, isolated_home: Path
) -> None:
    trust_host(manager.store, ssh_host)
    trust_host(manager.store, jump_ssh_host)
    (isolated_home / ".ssh" / "config").write_text(
        f"""Host bastion
  HostName 127.0.0.1
  Port {jump_ssh_host.port}
  User {jump_ssh_host.user}
  IdentityFile {jump_ssh_host.user_key}

Host gpu-box
  HostName 127.0.0.1
  Port {ssh_host.port}
  User {ssh_host.user}
  IdentityFile {ssh_host.user_key}
  ProxyJump bastion
"""
    )
    await manager.add_server({"name": "gpu", "host": "gpu-box"})
    log_before = len(jump_ssh_host.log_text())
    result = await manager.test_server("gpu")
    assert result["endpoint"] == (
        f"{ssh_host.user}@[127.0.0.1]:{ssh_host.port} "
        f"via {jump_ssh_host.user}@[127.0.0.1]:{jump_ssh_host.port}"
    )
    assert f"target 127.0.0.1 port {ssh_host.port}" in jump_ssh_host.log_text()[log_before:]
