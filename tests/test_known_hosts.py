"""Invariant 12: known_hosts files read as OpenSSH reads them, never failing open.

Against real sshds (tests/sshd_host.py): malformed lines, hashed entries, wildcards
and negations, ``@revoked``, ``@cert-authority`` with a real host certificate signed
by ``ssh-keygen -s``, the global files, ``UserKnownHostsFile``/``GlobalKnownHostsFile``
from ~/.ssh/config, a jump host, and the CLI's exit codes. A changed key is refused in
every case and no flag accepts it.
"""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jupyter_remote.errors import (
    ConflictError,
    HostKeyChangedError,
    HostKeyRevokedError,
    HostKeyUnknownError,
)
from jupyter_remote.manager import RemoteManager
from jupyter_remote.ssh import HostKeyPolicy
from jupyter_remote.ssh.known_hosts import parse_line
from tests.harness.cli import run_cli
from tests.harness.servers import server_input, trust_host
from tests.harness.sshd_host import SSHTestHost


def keygen(*args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        ["ssh-keygen", "-q", *args], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return result


def pub(path: Path) -> str:
    """``type base64`` of the public half of a key file."""
    return " ".join(Path(f"{path}.pub").read_text().split()[:2])


def fingerprint(path: Path) -> str:
    return keygen("-lf", f"{path}.pub").stdout.split()[1]


def new_key(directory: Path, name: str) -> Path:
    path = directory / name
    keygen("-t", "ed25519", "-N", "", "-C", name, "-f", str(path))
    return path


def hid(host: SSHTestHost) -> str:
    return f"[{host.host}]:{host.port}"


@pytest.fixture
def global_file(manager: RemoteManager, tmp_path: Path) -> Path:
    """Point the manager's policy at a global known_hosts file of the test's own (not /etc)."""
    path = tmp_path / "etc" / "ssh_known_hosts"
    path.parent.mkdir()
    policy = HostKeyPolicy(
        manager.store, global_files=[path, tmp_path / "etc" / "ssh_known_hosts2"]
    )
    manager.hostkeys = policy
    manager.pool.policy = policy
    return path


@pytest.fixture
def known(isolated_home: Path, global_file: Path) -> Path:
    """~/.ssh/known_hosts of the isolated HOME (and a test-only global file)."""
    return isolated_home / ".ssh" / "known_hosts"


# ---------------------------------------------------------------- a CA and a host certificate


@pytest.fixture(scope="module")
def cas(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("cas")
    return {name: new_key(directory, name) for name in ("ca1", "ca2")}


@pytest.fixture(scope="module")
def cert_host(
    cas: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SSHTestHost]:
    """An sshd whose host key carries a certificate from ca1 for principal 127.0.0.1."""
    cert = tmp_path_factory.mktemp("cert") / "host-cert.pub"
    host = SSHTestHost(name="cert", extra_config={"HostCertificate": str(cert)}, start=False)
    try:
        keygen(
            "-s",
            str(cas["ca1"]),
            "-I",
            "jr-test-host",
            "-h",
            "-n",
            "127.0.0.1",
            f"{host.host_key_path}.pub",
        )
        os.replace(f"{host.host_key_path}-cert.pub", cert)
        host.start()
        yield host
    finally:
        host.close()


# ---------------------------------------------------------------- malformed lines


async def test_malformed_lines_are_skipped_and_reported_changed_key_still_refused(
    manager: RemoteManager, ssh_host: SSHTestHost, known: Path, caplog: pytest.LogCaptureFixture
) -> None:
    other = new_key(known.parent, "other")
    known.write_text(
        "# a comment, then three lines OpenSSH skips\n"
        "garbage-without-a-key\n"
        "other.example ssh-ed25519 AAAA-not-base64!!\n"
        f"@bogus-marker other.example {pub(other)}\n"
        f"{ssh_host.known_hosts_entry()}\n"
    )
    await manager.add_server(server_input(ssh_host))
    with caplog.at_level(logging.WARNING, logger="jupyter_remote.ssh.hostkeys"):
        result = await manager.test_server("box")
    # the file was read (the old code ignored all of it and called the key unknown)
    assert result["host_key"]["source"] == "known_hosts"
    warnings = result["host_key"]["warnings"]
    assert [w.split(": ")[0] for w in warnings] == [f"{known}:{n}" for n in (2, 3, 4)]
    assert "unknown marker @bogus-marker" in warnings[2]
    assert f"{known}:3" in caplog.text
    rows = await manager.list_hostkeys()
    assert [(r["source"], r.get("line")) for r in rows] == [
        ("warning", 2),
        ("warning", 3),
        ("warning", 4),
        ("known_hosts", 5),
    ]
    assert rows[3]["file"] == str(known) and rows[3]["marker"] is None
    assert rows[3]["fingerprint"] == ssh_host.host_key_fingerprint

    ssh_host.restart_with_new_host_key()
    with pytest.raises(HostKeyChangedError) as info:
        await manager.test_server("box")
    assert info.value.exit_code == 4
    assert info.value.details["warnings"] == warnings
    with pytest.raises(HostKeyChangedError):
        await manager.trust_hostkey("box", ssh_host.host_key_fingerprint)
    assert manager.store.list_hostkeys() == []


@pytest.mark.parametrize(
    "line",
    [
        "{hid} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI-truncated",
        "@unknown-marker {hid} {key}",
        "{hid}",
    ],
    ids=["broken-key", "unknown-marker", "no-key"],
)
async def test_unreadable_entry_for_the_host_counts_as_trusted(
    manager: RemoteManager, ssh_host: SSHTestHost, known: Path, line: str
) -> None:
    """An entry for this host we cannot read never lets a new key pass as unknown."""
    known.write_text(line.format(hid=hid(ssh_host), key=ssh_host.host_key_public) + "\n")
    await manager.add_server(server_input(ssh_host))
    with pytest.raises(HostKeyChangedError) as info:
        await manager.test_server("box")
    assert any(f"unreadable entry at {known}:1" in k for k in info.value.known_fingerprints)
    with pytest.raises(HostKeyChangedError):
        await manager.trust_hostkey("box", ssh_host.host_key_fingerprint)
    assert manager.store.list_hostkeys() == []


async def test_unreadable_file_blocks_trusting_new_keys(
    manager: RemoteManager, ssh_host: SSHTestHost, global_file: Path
) -> None:
    global_file.mkdir()  # exists, cannot be read as a file
    await manager.add_server(server_input(ssh_host))
    with pytest.raises(HostKeyUnknownError) as info:
        await manager.test_server("box")
    assert any(str(global_file) in w for w in info.value.details["warnings"])
    with pytest.raises(ConflictError, match="cannot be read"):
        await manager.trust_hostkey("box", ssh_host.host_key_fingerprint)
    assert manager.store.list_hostkeys() == []
    assert [r["source"] for r in await manager.list_hostkeys()] == ["warning"]


# ---------------------------------------------------------------- hashed, wildcards, ports


async def test_hashed_entry(manager: RemoteManager, ssh_host: SSHTestHost, known: Path) -> None:
    known.write_text(ssh_host.known_hosts_entry() + "\n")
    keygen("-H", "-f", str(known))
    assert known.read_text().startswith("|1|") and str(ssh_host.port) not in known.read_text()
    await manager.add_server(server_input(ssh_host))
    result = await manager.test_server("box")
    assert result["host_key"]["source"] == "known_hosts"
    [row] = [r for r in await manager.list_hostkeys() if r["source"] == "known_hosts"]
    assert row["hashed"] is True and row["host_id"] == "(hashed)"
    assert row["fingerprint"] == ssh_host.host_key_fingerprint
    ssh_host.restart_with_new_host_key()
    with pytest.raises(HostKeyChangedError):
        await manager.test_server("box")
    with pytest.raises(HostKeyChangedError):
        await manager.trust_hostkey("box", ssh_host.host_key_fingerprint)


@pytest.mark.parametrize(
    ("pattern", "trusted"),
    [
        ("[127.0.0.1]:*", True),
        ("other.example,[127.0.0.?]:{port}", True),
        ("[127.0.0.1]:*,![127.0.0.1]:{port}", False),  # negation wins
        ("127.0.0.1", False),  # port 22's entry: not this port (OpenSSH; asyncssh would retry)
        ("127.0.0.0/8", False),  # no CIDR in known_hosts
    ],
)
async def test_patterns_as_openssh(
    manager: RemoteManager, ssh_host: SSHTestHost, known: Path, pattern: str, trusted: bool
) -> None:
    known.write_text(f"{pattern.format(port=ssh_host.port)} {ssh_host.host_key_public}\n")
    await manager.add_server(server_input(ssh_host))
    if trusted:
        assert (await manager.test_server("box"))["host_key"]["source"] == "known_hosts"
        ssh_host.restart_with_new_host_key()
        with pytest.raises(HostKeyChangedError):
            await manager.test_server("box")
    else:
        with pytest.raises(HostKeyUnknownError):
            await manager.test_server("box")


# ---------------------------------------------------------------- @revoked


@pytest.mark.parametrize("also_trusted", ["store", "known_hosts", "nowhere"])
async def test_revoked_key_is_never_trusted(
    manager: RemoteManager, ssh_host: SSHTestHost, known: Path, also_trusted: str
) -> None:
    lines = [f"@revoked * {ssh_host.host_key_public}"]
    if also_trusted == "known_hosts":
        lines.insert(0, ssh_host.known_hosts_entry())
    if also_trusted == "store":
        trust_host(manager.store, ssh_host)
    known.write_text("\n".join(lines) + "\n")
    await manager.add_server(server_input(ssh_host))
    with pytest.raises(HostKeyRevokedError) as info:
        await manager.test_server("box")
    err = info.value
    assert err.exit_code == 4 and err.status == 409 and err.reason == "hostkey_revoked"
    assert err.fingerprint == ssh_host.host_key_fingerprint
    assert err.revoked_in == [f"{known}:{len(lines)}"]
    assert "REVOKED" in err.message and f"{known}:{len(lines)}" in err.message
    assert "--trust" in err.hint
    assert manager.pool.open_count() == 0
    with pytest.raises(HostKeyRevokedError):
        await manager.trust_hostkey("box", ssh_host.host_key_fingerprint)
    stored = [k.fingerprint for k in manager.store.list_hostkeys()]
    assert stored == ([ssh_host.host_key_fingerprint] if also_trusted == "store" else [])
    [row] = [r for r in await manager.list_hostkeys() if r.get("marker") == "revoked"]
    assert row["fingerprint"] == ssh_host.host_key_fingerprint and row["line"] == len(lines)


async def test_revoked_key_refused_by_trust_offered_directly(
    manager: RemoteManager, ssh_host: SSHTestHost, known: Path
) -> None:
    """The last line of defence: the policy's own trust call, whatever the caller did."""
    from jupyter_remote.ssh import OfferedKey

    known.write_text(f"@revoked * {ssh_host.host_key_public}\n")
    await manager.add_server(server_input(ssh_host))
    endpoint = await manager.endpoint("box")
    offered = OfferedKey(
        endpoint.host_id,
        ssh_host.host_key_type,
        ssh_host.host_key_fingerprint,
        ssh_host.host_key_public,
    )
    with pytest.raises(HostKeyRevokedError):
        manager.hostkeys.trust_offered(endpoint, offered, ssh_host.host_key_fingerprint)
    assert manager.store.list_hostkeys() == []


# ---------------------------------------------------------------- @cert-authority


async def test_cert_authority_connects_without_prompt(
    manager: RemoteManager, cert_host: SSHTestHost, cas: dict[str, Path], known: Path
) -> None:
    known.write_text(f"@cert-authority [127.0.0.1]:* {pub(cas['ca1'])}\n")
    await manager.add_server(server_input(cert_host))
    result = await manager.test_server("box")
    assert result["host_key"]["source"] == "cert-authority"
    assert result["host_key"]["fingerprint"] == cert_host.host_key_fingerprint
    assert manager.store.list_hostkeys() == []
    [row] = [r for r in await manager.list_hostkeys() if r["source"] == "known_hosts"]
    assert row["marker"] == "cert-authority" and row["fingerprint"] == fingerprint(cas["ca1"])


async def test_certificate_from_another_ca_is_not_accepted(
    manager: RemoteManager,
    cert_host: SSHTestHost,
    cas: dict[str, Path],
    known: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """OpenSSH falls back to the plain key: unknown, trusted only by the explicit act."""
    known.write_text(f"@cert-authority * {pub(cas['ca2'])}\n")
    await manager.add_server(server_input(cert_host))
    with pytest.raises(HostKeyUnknownError) as info:
        await manager.test_server("box")
    assert info.value.fingerprint == cert_host.host_key_fingerprint
    assert manager.pool.open_count() == 0
    # the explicit trust of the plain key works; then the certificate (from a CA not
    # trusted) is refused and, as in OpenSSH, the plain key is tried and connects
    await manager.trust_hostkey("box", cert_host.host_key_fingerprint)
    with caplog.at_level(logging.INFO, logger="jupyter_remote.ssh.auth"):
        assert (await manager.test_server("box"))["host_key"]["source"] == "jupyter-remote"
    assert "retrying with its trusted plain key" in caplog.text


async def test_certificate_from_another_ca_with_other_trusted_key_is_changed(
    manager: RemoteManager, cert_host: SSHTestHost, cas: dict[str, Path], known: Path
) -> None:
    old = new_key(known.parent, "old-host-key")
    known.write_text(f"@cert-authority * {pub(cas['ca2'])}\n{hid(cert_host)} {pub(old)}\n")
    await manager.add_server(server_input(cert_host))
    with pytest.raises(HostKeyChangedError) as info:
        await manager.test_server("box")
    assert info.value.fingerprint == cert_host.host_key_fingerprint
    assert info.value.known_fingerprints == [f"ssh-ed25519 {fingerprint(old)}"]
    with pytest.raises(HostKeyChangedError):
        await manager.trust_hostkey("box", cert_host.host_key_fingerprint)


async def test_cert_authority_for_a_host_without_certificate_is_unknown(
    manager: RemoteManager, ssh_host: SSHTestHost, cas: dict[str, Path], known: Path
) -> None:
    """OpenSSH: a plain key where only a CA is known is new (asked), not a failed exchange."""
    known.write_text(f"@cert-authority * {pub(cas['ca1'])}\n")
    await manager.add_server(server_input(ssh_host))
    with pytest.raises(HostKeyUnknownError) as info:
        await manager.test_server("box")
    assert info.value.fingerprint == ssh_host.host_key_fingerprint
    await manager.trust_hostkey("box", ssh_host.host_key_fingerprint)
    assert (await manager.test_server("box"))["host_key"]["source"] == "jupyter-remote"
    ssh_host.restart_with_new_host_key()
    with pytest.raises(HostKeyChangedError):
        await manager.test_server("box")


@pytest.mark.parametrize("revoke", ["ca", "host-key"])
async def test_revoked_ca_or_certified_key_is_refused(
    manager: RemoteManager, cert_host: SSHTestHost, cas: dict[str, Path], known: Path, revoke: str
) -> None:
    revoked = pub(cas["ca1"]) if revoke == "ca" else cert_host.host_key_public
    known.write_text(f"@cert-authority * {pub(cas['ca1'])}\n@revoked * {revoked}\n")
    await manager.add_server(server_input(cert_host))
    with pytest.raises(HostKeyRevokedError) as info:
        await manager.test_server("box")
    expected = fingerprint(cas["ca1"]) if revoke == "ca" else cert_host.host_key_fingerprint
    assert info.value.fingerprint == expected
    assert info.value.revoked_in == [f"{known}:2"]
    assert ("certificate authority" in info.value.message) == (revoke == "ca")
    with pytest.raises(HostKeyRevokedError):
        await manager.trust_hostkey("box", cert_host.host_key_fingerprint)
    assert manager.store.list_hostkeys() == []


# ---------------------------------------------------------------- global and configured files


async def test_global_known_hosts_file(
    manager: RemoteManager, ssh_host: SSHTestHost, known: Path, global_file: Path
) -> None:
    global_file.write_text(ssh_host.known_hosts_entry() + "\n")
    await manager.add_server(server_input(ssh_host))
    assert (await manager.test_server("box"))["host_key"]["source"] == "known_hosts"
    rows = await manager.list_hostkeys()
    assert [(r["file"], r["fingerprint"]) for r in rows] == [
        (str(global_file), ssh_host.host_key_fingerprint)
    ]
    ssh_host.restart_with_new_host_key()
    with pytest.raises(HostKeyChangedError):
        await manager.test_server("box")
    with pytest.raises(HostKeyChangedError):
        await manager.trust_hostkey("box", ssh_host.host_key_fingerprint)


async def test_known_hosts_files_named_by_ssh_config(
    manager: RemoteManager, ssh_host: SSHTestHost, known: Path, tmp_path: Path
) -> None:
    home = known.parent.parent
    impostor_key = new_key(tmp_path, "impostor")
    # ~/.ssh/known_hosts says something else: ssh does not read it for this host
    known.write_text(f"{hid(ssh_host)} {pub(impostor_key)}\n")
    (home / ".ssh" / "config").write_text(
        "Host 127.0.0.1\n"
        "    UserKnownHostsFile ~/.ssh/known_hosts_%h_%p\n"
        f"    GlobalKnownHostsFile {tmp_path}/global_%r\n"
    )
    user_file = home / ".ssh" / f"known_hosts_127.0.0.1_{ssh_host.port}"
    user_file.write_text(ssh_host.known_hosts_entry() + "\n")
    global_revoked = tmp_path / f"global_{ssh_host.user}"
    await manager.add_server(server_input(ssh_host))
    assert (await manager.test_server("box"))["host_key"]["source"] == "known_hosts"
    listed = {r["file"] for r in await manager.list_hostkeys()}
    assert {str(user_file), str(known)} <= listed
    # the configured global file is read too: a revocation there wins
    global_revoked.write_text(f"@revoked * {ssh_host.host_key_public}\n")
    with pytest.raises(HostKeyRevokedError):
        await manager.test_server("box")
    global_revoked.unlink()
    ssh_host.restart_with_new_host_key()
    with pytest.raises(HostKeyChangedError) as info:
        await manager.test_server("box")
    assert info.value.known_fingerprints == [
        f"{ssh_host.host_key_type} {ssh_host.previous_host_key_fingerprint}"
    ]


async def test_unexpandable_configured_file_blocks_trust(
    manager: RemoteManager, ssh_host: SSHTestHost, known: Path
) -> None:
    (known.parent / "config").write_text("Host *\n    UserKnownHostsFile ~/.ssh/kh_%Z\n")
    await manager.add_server(server_input(ssh_host))
    with pytest.raises(HostKeyUnknownError) as info:
        await manager.test_server("box")
    assert any("%Z" in w for w in info.value.details["warnings"])
    with pytest.raises(ConflictError, match="cannot be read"):
        await manager.trust_hostkey("box", ssh_host.host_key_fingerprint)


# ---------------------------------------------------------------- jump hosts


def via(hop: SSHTestHost, home: Path) -> str:
    """--jump text for ``hop``; its user key comes from ~/.ssh/config as for ssh."""
    (home / ".ssh" / "config").write_text(f"Host 127.0.0.1\n    IdentityFile {hop.user_key}\n")
    return f"{hop.user}@{hop.host}:{hop.port}"


async def test_jump_host_gets_the_same_checks(
    manager: RemoteManager, ssh_host: SSHTestHost, jump_ssh_host: SSHTestHost, known: Path
) -> None:
    hop = jump_ssh_host
    await manager.add_server(server_input(ssh_host, jump=via(hop, known.parent.parent)))
    target = ssh_host.known_hosts_entry()
    other = new_key(known.parent, "other")

    known.write_text(f"{target}\n")
    with pytest.raises(HostKeyUnknownError) as unknown:
        await manager.test_server("box")
    assert unknown.value.host_id == hid(hop)

    known.write_text(f"{target}\n@revoked {hid(hop)} {hop.host_key_public}\n")
    with pytest.raises(HostKeyRevokedError) as revoked:
        await manager.test_server("box")
    assert revoked.value.host_id == hid(hop)
    with pytest.raises(HostKeyRevokedError):
        await manager.trust_hostkey("box", hop.host_key_fingerprint)

    known.write_text(f"{target}\n{hid(hop)} {pub(other)}\n")
    with pytest.raises(HostKeyChangedError) as changed:
        await manager.test_server("box")
    assert changed.value.host_id == hid(hop)
    with pytest.raises(HostKeyChangedError):
        await manager.trust_hostkey("box", hop.host_key_fingerprint)
    assert manager.store.list_hostkeys() == []

    known.write_text(f"{target}\n{hop.known_hosts_entry()}\n")
    result = await manager.test_server("box")
    assert result["host_key"]["fingerprint"] == ssh_host.host_key_fingerprint
    assert f"via {hop.user}@{hid(hop)}" in result["endpoint"]


async def test_certified_jump_host_passes_and_target_is_trusted_after_it(
    manager: RemoteManager,
    ssh_host: SSHTestHost,
    cert_host: SSHTestHost,
    cas: dict[str, Path],
    known: Path,
) -> None:
    """A hop certified by a trusted CA needs no prompt; --trust then trusts the target."""
    await manager.add_server(server_input(ssh_host, jump=via(cert_host, known.parent.parent)))
    known.write_text(f"@cert-authority [127.0.0.1]:{cert_host.port} {pub(cas['ca1'])}\n")
    with pytest.raises(HostKeyUnknownError) as info:
        await manager.test_server("box")
    assert info.value.host_id == hid(ssh_host)  # the hop passed
    stored = await manager.trust_hostkey("box", ssh_host.host_key_fingerprint)
    assert stored["host_id"] == hid(ssh_host)
    assert (await manager.test_server("box"))["host_key"]["source"] == "jupyter-remote"
    assert [k.host_id for k in manager.store.list_hostkeys()] == [hid(ssh_host)]


# ---------------------------------------------------------------- the CLI


def test_cli_revoked_and_changed_exit_4_even_with_trust(
    cli_env: dict[str, str], ssh_host: SSHTestHost
) -> None:
    known = Path(cli_env["HOME"]) / ".ssh" / "known_hosts"
    added = run_cli(
        cli_env,
        "server",
        "add",
        "box",
        "--host",
        ssh_host.host,
        "--port",
        str(ssh_host.port),
        "--user",
        ssh_host.user,
        "--identity",
        str(ssh_host.user_key),
    )
    assert added.returncode == 0, added.stderr

    known.write_text(f"@revoked * {ssh_host.host_key_public}\n")
    for args in (("server", "test", "box"), ("server", "test", "box", "--trust")):
        result = run_cli(cli_env, *args)
        assert result.returncode == 4, result.stderr
        assert "REVOKED" in result.stderr and ssh_host.host_key_fingerprint in result.stderr
    as_json = run_cli(cli_env, "server", "test", "box", "--json")
    assert as_json.returncode == 4
    assert '"hostkey_revoked"' in as_json.stdout

    # a malformed line elsewhere in the file does not make a changed key acceptable
    known.write_text(f"garbage\n{ssh_host.known_hosts_entry()}\n")
    original = ssh_host.host_key_fingerprint
    ssh_host.restart_with_new_host_key()
    changed = run_cli(cli_env, "server", "test", "box", "--trust")
    assert changed.returncode == 4, changed.stderr
    assert original in changed.stderr and ssh_host.host_key_fingerprint in changed.stderr
    listed = run_cli(cli_env, "hostkey", "list")
    assert listed.returncode == 0 and "warning" in listed.stdout
    assert not (Path(cli_env["JUPYTER_DATA_DIR"]) / "remote" / "hostkeys.json").exists()


# ---------------------------------------------------------------- hostile known_hosts text


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(garbage=st.lists(st.text(max_size=120), max_size=6))
def test_any_text_never_hides_a_good_entry(garbage: list[str]) -> None:
    """Whatever else a file holds, parsing never raises and a good entry stays trusted;
    every non-entry line is a comment, a blank, or a reported problem."""
    key = _GOOD_KEY
    name = "[127.0.0.1]:2222"
    lines = [g.replace("\n", " ").replace("\r", " ") for g in garbage]
    text = "\n".join([*lines, f"{name} {key}"])
    parsed = [p for n, raw in enumerate(text.splitlines(), 1) if (p := parse_line("f", n, raw))]
    good = [p.key for p in parsed if p.key is not None and p.marker is None and p.matches(name)]
    assert any(" ".join(k.export_public_key().decode().split()[:2]) == key for k in good)
    assert all(p.key is not None or p.problem for p in parsed)


_GOOD_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
