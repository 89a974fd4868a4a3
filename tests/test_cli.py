"""`jupyter remote` as users script it: grammar, --json, exit codes 2/3/4, against a real sshd."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.harness.cli import CLI, add_box, run_cli
from tests.harness.sshd_host import SSHTestHost


def test_help_lists_the_whole_grammar(cli_env: dict[str, str]) -> None:
    out = run_cli(cli_env, "--help").stdout
    for word in ("server", "hostkey", "env", "profile", "kernel", "forward"):
        assert word in out
    server_help = run_cli(cli_env, "server", "--help").stdout
    for word in ("add", "list", "remove", "test"):
        assert word in server_help
    add_help = run_cli(cli_env, "server", "add", "--help").stdout
    for flag in ("--host", "--port", "--user", "--identity", "--password", "--jump"):
        assert flag in add_help


def test_unknown_then_trust_then_changed(cli_env: dict[str, str], ssh_host: SSHTestHost) -> None:
    add_box(cli_env, ssh_host)
    listed = json.loads(run_cli(cli_env, "server", "list", "--json").stdout)
    assert [s["name"] for s in listed] == ["box"]

    unknown = run_cli(cli_env, "server", "test", "box")
    assert unknown.returncode == 3
    assert ssh_host.host_key_fingerprint in unknown.stderr
    assert "--trust" in unknown.stderr

    as_json = run_cli(cli_env, "server", "test", "box", "--json")
    assert as_json.returncode == 3
    assert json.loads(as_json.stdout)["error"]["fingerprint"] == ssh_host.host_key_fingerprint

    trusted = run_cli(cli_env, "server", "test", "box", "--trust", "--json")
    assert trusted.returncode == 0, trusted.stderr
    report: dict[str, Any] = json.loads(trusted.stdout)
    assert report["host_key"]["fingerprint"] == ssh_host.host_key_fingerprint
    assert report["rtt_ms"] > 0 and report["python"]["path"] and report["os"]
    human = run_cli(cli_env, "server", "test", "box")
    assert human.returncode == 0
    for label in ("reachable", "host key", "auth", "round trip", "remote os", "python"):
        assert label in human.stdout

    keys = json.loads(run_cli(cli_env, "hostkey", "list", "--json").stdout)
    assert [k["fingerprint"] for k in keys] == [ssh_host.host_key_fingerprint]

    original = ssh_host.host_key_fingerprint
    ssh_host.restart_with_new_host_key()
    try:
        for args in (("server", "test", "box"), ("server", "test", "box", "--trust")):
            changed = run_cli(cli_env, *args)
            assert changed.returncode == 4
            assert original in changed.stderr and ssh_host.host_key_fingerprint in changed.stderr
        keys = json.loads(run_cli(cli_env, "hostkey", "list", "--json").stdout)
        assert [k["fingerprint"] for k in keys] == [original]
        removed = run_cli(cli_env, "hostkey", "remove", f"[127.0.0.1]:{ssh_host.port}")
        assert removed.returncode == 0
        assert run_cli(cli_env, "server", "test", "box", "--trust").returncode == 0
    finally:
        ssh_host.restore_original_host_key()

    assert run_cli(cli_env, "server", "remove", "box").returncode == 0
    assert json.loads(run_cli(cli_env, "server", "list", "--json").stdout) == []


def test_password_from_stdin_never_on_disk(
    cli_env: dict[str, str], password_ssh_host: SSHTestHost, tmp_path: Path
) -> None:
    host = password_ssh_host
    assert host.password
    added = run_cli(
        cli_env,
        "server",
        "add",
        "pw",
        "--host",
        host.host,
        "--port",
        str(host.port),
        "--user",
        host.user,
        "--password",
        stdin=host.password + "\n",
    )
    assert added.returncode == 0, added.stderr
    # no keyring here: the next process has no password and says how to give it
    missing = run_cli(cli_env, "server", "test", "pw", "--trust")
    assert missing.returncode == 1 and "--password" in missing.stderr
    ok = run_cli(
        cli_env, "server", "test", "pw", "--trust", "--password", stdin=host.password + "\n"
    )
    assert ok.returncode == 0, ok.stderr
    wrong = run_cli(cli_env, "server", "test", "pw", "--password", stdin="wrong-password-xyz\n")
    assert wrong.returncode == 1 and "refused password" in wrong.stderr
    for path in (tmp_path / "data").rglob("*"):
        if path.is_file():
            assert host.password not in path.read_text(errors="replace")
    for result in (added, missing, ok, wrong):
        assert host.password not in result.stdout + result.stderr


HOSTILE = ["a;b", "$(touch /tmp/pwned)", "`id`", "a\nb", "../x", "x" * 10_000]


@pytest.mark.parametrize("bad", HOSTILE)
@pytest.mark.parametrize("where", ["name", "--host", "--user", "--jump"])
def test_hostile_arguments_exit_2_and_change_nothing(
    cli_env: dict[str, str], tmp_path: Path, where: str, bad: str
) -> None:
    args = {"name": "ok", "--host": "example.org", "--user": "alice", "--jump": "bastion"}
    args[where] = bad
    argv = ["server", "add", args.pop("name")]
    for flag, value in args.items():
        argv += [flag, value]
    result = run_cli(cli_env, *argv)
    assert result.returncode == 2, result.stderr
    assert "error:" in result.stderr
    assert not (tmp_path / "data" / "remote" / "servers.json").exists()
    assert not Path("/tmp/pwned").exists()


def test_invalid_utf8_argument_exit_2(cli_env: dict[str, str], tmp_path: Path) -> None:
    result = subprocess.run(
        [CLI.encode(), b"server", b"add", b"caf\xe9", b"--host", b"h"],
        env=cli_env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert not (tmp_path / "data" / "remote" / "servers.json").exists()


def test_usage_errors_exit_2(cli_env: dict[str, str]) -> None:
    assert run_cli(cli_env, "server", "add", "x").returncode == 2  # --host missing
    assert run_cli(cli_env, "server", "bogus").returncode == 2
    assert run_cli(cli_env, "server", "add", "x", "--host", "h", "--port", "nope").returncode == 2
    assert run_cli(cli_env, "hostkey", "remove", "$(id)").returncode == 2


def test_admin_servers_from_config_are_read_only(cli_env: dict[str, str], tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.mkdir()
    (config / "jupyter_server_config.json").write_text(
        json.dumps({"RemoteExtensionApp": {"servers": {"shared": {"host": "login.cluster"}}}})
    )
    listed = json.loads(run_cli(cli_env, "server", "list", "--json").stdout)
    assert listed[0]["name"] == "shared" and listed[0]["readonly"] is True
    result = run_cli(cli_env, "server", "remove", "shared")
    assert result.returncode == 1 and "administrator" in result.stderr


def test_tcp_channels_are_a_visible_choice(cli_env: dict[str, str], ssh_host: SSHTestHost) -> None:
    """Kernel channels on TCP only when asked for, and then warned about everywhere."""
    result = run_cli(cli_env, "server", "add", "plain", "--host", "example.org")
    assert result.returncode == 0 and "warning" not in result.stderr
    result = run_cli(
        cli_env, "server", "add", "tcpbox", "--host", "example.org", "--channel-transport", "tcp"
    )
    assert result.returncode == 0
    assert "warning: Kernel channels use a TCP port" in result.stderr
    listed = run_cli(cli_env, "server", "list")
    assert "tcp (!)" in listed.stdout and "warning: tcpbox:" in listed.stderr
    rows = {s["name"]: s for s in json.loads(run_cli(cli_env, "server", "list", "--json").stdout)}
    assert rows["plain"]["channel_transport"] == "unix" and rows["plain"]["warnings"] == []
    assert rows["tcpbox"]["channel_transport"] == "tcp" and rows["tcpbox"]["warnings"]
    bad = run_cli(cli_env, "server", "add", "x", "--host", "h", "--channel-transport", "udp")
    assert bad.returncode == 2
