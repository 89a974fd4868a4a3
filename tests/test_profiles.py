"""Profiles through the CLI and REST: kernelspec remote-NAME on disk, ipykernel check/install."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError

from jupyter_remote.store import Store
from tests.harness.cli import add_box, run_cli
from tests.harness.servers import server_input, trust_host
from tests.harness.sshd_host import SSHTestHost


@pytest.fixture
def bare_env(ssh_host: SSHTestHost) -> Any:
    """A venv on the remote WITHOUT ipykernel (Debian's python3, no site packages)."""
    path = ssh_host.home / "bare-venv"
    ssh_host.run_as_user(["rm", "-rf", str(path)])
    made = ssh_host.run_as_user(["/usr/bin/python3", "-m", "venv", str(path)])
    assert made.returncode == 0, made.stderr
    yield path
    ssh_host.run_as_user(["rm", "-rf", str(path)])


def test_cli_profile_lifecycle_and_kernel_list(
    cli_env: dict[str, str], ssh_host: SSHTestHost, tmp_path: Path
) -> None:
    add_box(cli_env, ssh_host)
    assert run_cli(cli_env, "server", "test", "box", "--trust").returncode == 0
    added = run_cli(
        cli_env,
        "profile",
        "add",
        "gpu",
        "--server",
        "box",
        "--python",
        ssh_host.remote_python,
        "--cwd",
        "/tmp",
        "--idle-timeout",
        "600",
        "--env",
        "A=1",
        "--env",
        "B=two words",
        "--json",
    )
    assert added.returncode == 0, added.stderr
    profile = json.loads(added.stdout)
    assert profile["kernel_name"] == "remote-gpu"
    assert profile["env"] == {"A": "1", "B": "two words"} and profile["idle_timeout"] == 600
    spec = json.loads((tmp_path / "data" / "kernels" / "remote-gpu" / "kernel.json").read_text())
    assert spec["metadata"]["kernel_provisioner"]["config"] == {"profile": "gpu"}
    assert spec["display_name"] == profile["display_name"]

    listed = json.loads(run_cli(cli_env, "profile", "list", "--json").stdout)
    assert [p["name"] for p in listed] == ["gpu"]
    assert "remote-gpu" in run_cli(cli_env, "profile", "list").stdout

    assert json.loads(run_cli(cli_env, "kernel", "list", "box", "--json").stdout) == []
    bad = run_cli(cli_env, "kernel", "stop", "box", "$(id)")
    assert bad.returncode == 2

    for hostile in (["--env", "1BAD=x"], ["--cwd", "relative"], ["--python", "python3"]):
        args = ["profile", "add", "x", "--server", "box", "--python", ssh_host.remote_python]
        result = run_cli(cli_env, *args, *hostile)
        assert result.returncode == 2, (hostile, result.stderr)

    assert run_cli(cli_env, "profile", "remove", "gpu").returncode == 0
    assert not (tmp_path / "data" / "kernels" / "remote-gpu").exists()
    assert json.loads(run_cli(cli_env, "profile", "list", "--json").stdout) == []


def test_missing_ipykernel_is_reported_then_installed(
    cli_env: dict[str, str], ssh_host: SSHTestHost, bare_env: Path
) -> None:
    add_box(cli_env, ssh_host)
    assert run_cli(cli_env, "server", "test", "box", "--trust").returncode == 0
    python = str(bare_env / "bin" / "python")
    missing = run_cli(cli_env, "profile", "add", "bare", "--server", "box", "--python", python)
    assert missing.returncode == 1
    assert (
        "ipykernel is not installed" in missing.stderr and "--install-ipykernel" in missing.stderr
    )
    assert json.loads(run_cli(cli_env, "profile", "list", "--json").stdout) == []

    installed = run_cli(
        cli_env,
        "profile",
        "add",
        "bare",
        "--server",
        "box",
        "--python",
        python,
        "--install-ipykernel",
    )
    assert installed.returncode == 0, installed.stderr[-2000:]
    assert "Successfully installed" in installed.stderr  # pip's own output, streamed
    ok = ssh_host.run_as_user([python, "-c", "import ipykernel"])
    assert ok.returncode == 0


def test_a_bare_ipykernel_directory_is_not_an_installed_ipykernel(
    cli_env: dict[str, str], ssh_host: SSHTestHost, bare_env: Path
) -> None:
    """Review s21: the profile check counted a bare ``ipykernel`` directory (no
    ``__init__.py``: a half-removed install, a namespace package) as installed while
    discovery did not; a profile was saved whose kernel could never start. Both run one
    test now (remote/interpreters.py IPYKERNEL_FOUND)."""
    python = str(bare_env / "bin" / "python")
    where = "import sysconfig; print(sysconfig.get_path('purelib'))"
    site = ssh_host.run_as_user([python, "-c", where]).stdout.strip()
    assert ssh_host.run_as_user(["mkdir", f"{site}/ipykernel"]).returncode == 0
    add_box(cli_env, ssh_host)
    assert run_cli(cli_env, "server", "test", "box", "--trust").returncode == 0
    refused = run_cli(cli_env, "profile", "add", "bare", "--server", "box", "--python", python)
    assert refused.returncode == 1, refused.stdout
    assert "ipykernel is not installed" in refused.stderr
    assert json.loads(run_cli(cli_env, "profile", "list", "--json").stdout) == []


async def test_rest_profiles_crud_and_kernelspecs(
    jp_fetch: Any, ssh_host: SSHTestHost, jp_data_dir: Path
) -> None:
    trust_host(Store(), ssh_host)
    await jp_fetch("remote", "servers", method="POST", body=json.dumps(server_input(ssh_host)))
    body = {"name": "p1", "server": "box", "python": ssh_host.remote_python, "cwd": "~"}
    resp = await jp_fetch("remote", "profiles", method="POST", body=json.dumps(body))
    assert resp.code == 201
    created = json.loads(resp.body)
    assert created["kernel_name"] == "remote-p1"
    specs = json.loads((await jp_fetch("api", "kernelspecs")).body)["kernelspecs"]
    assert specs["remote-p1"]["spec"]["display_name"] == created["display_name"]

    body["idle_timeout"] = 30
    resp = await jp_fetch("remote", "profiles", "p1", method="PUT", body=json.dumps(body))
    assert json.loads(resp.body)["idle_timeout"] == 30
    assert json.loads((await jp_fetch("remote", "profiles", "p1")).body)["idle_timeout"] == 30

    for bad in (
        {"name": "p2", "server": "nope", "python": "/usr/bin/python3"},
        {"name": "p2", "server": "box", "python": "/x", "env": {"A B": "1"}},
        {"name": "p2", "server": "box", "cwd": "/tmp/$(touch /tmp/pwned)"},
    ):
        with pytest.raises(HTTPClientError) as info:
            await jp_fetch("remote", "profiles", method="POST", body=json.dumps(bad))
        assert info.value.code in (400, 404)
    assert not Path("/tmp/pwned").exists()

    resp = await jp_fetch("remote", "profiles", "p1", method="DELETE")
    assert resp.code == 204
    specs = json.loads((await jp_fetch("api", "kernelspecs")).body)["kernelspecs"]
    assert "remote-p1" not in specs
    assert json.loads((await jp_fetch("remote", "profiles")).body) == []
