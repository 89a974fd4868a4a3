"""Invariant 2: strict host keys, against a real sshd and a real impostor key."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from jupyter_remote.errors import ConflictError, HostKeyChangedError, HostKeyUnknownError
from jupyter_remote.manager import RemoteManager
from tests.harness.servers import server_input, trust_host
from tests.harness.sshd_host import SSHTestHost


async def test_unknown_key_refused_with_fingerprint_then_trusted(
    manager: RemoteManager, ssh_host: SSHTestHost
) -> None:
    await manager.add_server(server_input(ssh_host))
    with pytest.raises(HostKeyUnknownError) as info:
        await manager.test_server("box")
    err = info.value
    assert err.fingerprint == ssh_host.host_key_fingerprint
    assert err.key_type == ssh_host.host_key_type
    assert err.host_id == f"[127.0.0.1]:{ssh_host.port}"
    assert err.exit_code == 3 and err.status == 409
    assert "server test box --trust" in err.hint
    assert manager.pool.open_count() == 0

    stored = await manager.trust_hostkey("box", err.fingerprint)
    assert stored["fingerprint"] == ssh_host.host_key_fingerprint
    result = await manager.test_server("box")
    assert result["host_key"]["fingerprint"] == ssh_host.host_key_fingerprint
    assert result["host_key"]["source"] == "jupyter-remote"
    assert result["auth"] == "ok"
    assert result["python"]["path"]
    assert result["os"] != "unknown"


async def test_trust_requires_the_offered_fingerprint(
    manager: RemoteManager, ssh_host: SSHTestHost
) -> None:
    await manager.add_server(server_input(ssh_host))
    with pytest.raises(ConflictError, match="not the fingerprint you confirmed"):
        await manager.trust_hostkey("box", "SHA256:" + "A" * 43)
    assert await manager.list_hostkeys() == []


async def test_impostor_refused_even_when_trusting_then_remove_and_retrust(
    manager: RemoteManager, ssh_host: SSHTestHost
) -> None:
    await manager.add_server(server_input(ssh_host))
    trust_host(manager.store, ssh_host)
    original = ssh_host.host_key_fingerprint
    assert (await manager.test_server("box"))["host_key"]["fingerprint"] == original
    ssh_host.restart_with_new_host_key()  # same port, another key: an impostor
    try:
        assert ssh_host.host_key_fingerprint != original
        with pytest.raises(HostKeyChangedError) as info:
            await manager.test_server("box")
        err = info.value
        assert err.exit_code == 4
        assert err.fingerprint == ssh_host.host_key_fingerprint
        assert any(original in k for k in err.known_fingerprints)
        assert "man-in-the-middle" in err.message
        # the explicit trust act refuses a changed key too
        with pytest.raises(HostKeyChangedError):
            await manager.trust_hostkey("box", ssh_host.host_key_fingerprint)
        assert [k["fingerprint"] for k in await manager.list_hostkeys()] == [original]
        # only removing the old entry lets the user trust the new one
        assert await manager.remove_hostkey(f"[127.0.0.1]:{ssh_host.port}") == 1
        await manager.trust_hostkey("box", ssh_host.host_key_fingerprint)
        result = await manager.test_server("box")
        assert result["host_key"]["fingerprint"] == ssh_host.host_key_fingerprint
    finally:
        ssh_host.restore_original_host_key()


async def test_known_hosts_is_trusted_and_never_written(
    manager: RemoteManager, ssh_host: SSHTestHost, isolated_home: Path
) -> None:
    known = isolated_home / ".ssh" / "known_hosts"
    known.write_text(ssh_host.known_hosts_entry() + "\n")
    before = known.read_bytes()
    await manager.add_server(server_input(ssh_host))
    result = await manager.test_server("box")
    assert result["host_key"]["source"] == "known_hosts"
    assert known.read_bytes() == before
    rows = await manager.list_hostkeys()
    assert [r["source"] for r in rows] == ["known_hosts"]
    assert not (manager.store.root / "hostkeys.json").exists()


async def test_changed_key_against_known_hosts_entry(
    manager: RemoteManager, ssh_host: SSHTestHost, isolated_home: Path
) -> None:
    (isolated_home / ".ssh" / "known_hosts").write_text(ssh_host.known_hosts_entry() + "\n")
    ssh_host.restart_with_new_host_key()
    try:
        await manager.add_server(server_input(ssh_host))
        with pytest.raises(HostKeyChangedError):
            await manager.test_server("box")
    finally:
        ssh_host.restore_original_host_key()


async def test_no_accept_all_switch_anywhere() -> None:
    """Grep-level guard: nothing in the package disables host-key checking."""
    root = Path(__file__).resolve().parent.parent / "jupyter_remote"
    forbidden = ["known_hosts=" + "None", "StrictHostKeyChecking", "AutoAddPolicy", "accept_all"]
    for path in root.rglob("*.py"):
        text = path.read_text()
        for word in forbidden:
            assert word not in text, f"{word} in {path}"


def test_trust_store_file_mode(manager: RemoteManager, ssh_host: SSHTestHost) -> None:
    trust_host(manager.store, ssh_host)
    mode = os.stat(manager.store.root / "hostkeys.json").st_mode & 0o777
    assert mode == 0o600
