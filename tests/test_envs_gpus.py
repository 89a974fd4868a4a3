"""Environments a new user can use, and GPUs, on a real sshd (issue 13, items 10 and 11).

The test host's login PATH starts with ``tests/harness/host_tools.py``'s directory: a
system-like ``python3`` without ipykernel that refuses pip (PEP 668's marker; Debian's
real python3 is never touched) and an ``nvidia-smi`` stand-in answering in the real
tool's CSV formats (there is no GPU here). Remote user ``jrenvs`` (as root).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError

from jupyter_remote.errors import ExternallyManagedError, IpykernelMissingError
from jupyter_remote.kernels import gpus
from jupyter_remote.kernels.discovery import Discovery
from jupyter_remote.manager import RemoteManager
from jupyter_remote.store import Profile, Store
from tests.harness.cli import add_box, run_cli
from tests.harness.clients import WSKernel
from tests.harness.host_tools import SAMPLE_APPS, SAMPLE_GPUS, HostTools
from tests.harness.servers import server_input, trust_host
from tests.harness.sshd_host import IS_ROOT, SSHTestHost


@pytest.fixture(scope="module")
def tools() -> Iterator[HostTools]:
    made = HostTools()
    yield made
    made.close()


@pytest.fixture(scope="module")
def box(tools: HostTools) -> Iterator[SSHTestHost]:
    host = SSHTestHost(
        name="envs",
        user="jrenvs" if IS_ROOT else None,
        extra_config={"SetEnv": f"PATH={tools.path()}"},
    )
    yield host
    host.close()


@pytest.fixture
def clean_envs(box: SSHTestHost) -> Iterator[None]:
    box.run_as_user(["rm", "-rf", str(box.home / ".virtualenvs")])
    yield
    box.run_as_user(["rm", "-rf", str(box.home / ".virtualenvs")])


async def saved_box(manager: RemoteManager, box: SSHTestHost) -> None:
    trust_host(manager.store, box)
    await manager.add_server(server_input(box))


# ------------------------------------------------------------------------ PEP 668


async def test_a_system_python_is_offered_an_environment_instead_of_pip(
    manager: RemoteManager, box: SSHTestHost, tools: HostTools
) -> None:
    await saved_box(manager, box)
    envs = await Discovery.of(manager).environments("box", refresh=True)
    system = [e for e in envs if e["python"] == tools.python]
    assert system and system[0]["kind"] == "system" and not system[0]["ipykernel"]

    with pytest.raises(IpykernelMissingError) as missing:
        await manager.add_profile({"name": "s", "server": "box", "python": tools.python})
    assert missing.value.details["externally_managed"] is True
    assert f"env create box --python {tools.python}" in missing.value.hint

    lines: list[str] = []
    with pytest.raises(ExternallyManagedError) as refused:
        await manager.install_ipykernel("box", tools.python, lines.append)
    assert any("externally-managed-environment" in line for line in lines)  # pip's own words
    assert "env create" in refused.value.hint and refused.value.status == 409


async def test_rest_creates_an_environment_and_a_kernel_runs_in_it(
    jp_fetch: Any, jp_ws_fetch: Any, box: SSHTestHost, tools: HostTools, clean_envs: None
) -> None:
    trust_host(Store(), box)
    await jp_fetch("remote", "servers", method="POST", body=json.dumps(server_input(box)))
    body = {"python": tools.python, "name": "jupyter-test", "tool": "venv"}
    answer = await jp_fetch(
        "remote",
        "servers",
        "box",
        "environments",
        method="POST",
        body=json.dumps(body),
        request_timeout=600,
    )
    lines = [json.loads(line) for line in answer.body.decode().splitlines()]
    final = lines[-1]
    assert final["type"] == "done" and final["ok"], final
    output = [entry["line"] for entry in lines if entry["type"] == "output"]
    assert any(line.startswith("$ ") and "-m venv" in line for line in output)
    assert any("Successfully installed" in line and "ipykernel" in line for line in output)
    created = final["environment"]
    assert created["python"] == str(box.home / ".virtualenvs" / "jupyter-test" / "bin" / "python")

    envs = json.loads((await jp_fetch("remote", "servers", "box", "environments")).body)
    listed = [e for e in envs if e["python"] == created["python"]]
    assert listed and listed[0]["ipykernel"]  # the cache was dropped: the new one is there

    again = await jp_fetch(
        "remote", "servers", "box", "environments", method="POST", body=json.dumps(body)
    )
    refused = json.loads(again.body.decode().splitlines()[-1])
    assert refused["type"] == "error" and refused["reason"] == "conflict"

    profile = {"name": "made", "server": "box", "python": created["python"]}
    await jp_fetch("remote", "profiles", method="POST", body=json.dumps(profile))
    kernel = json.loads(
        (
            await jp_fetch(
                "api", "kernels", method="POST", body=json.dumps({"name": "remote-made"})
            )
        ).body
    )
    try:
        ws = WSKernel(await jp_ws_fetch("api", "kernels", kernel["id"], "channels"))
        _, ran = await ws.execute("import sys; print(sys.prefix)")
        assert ran.strip().endswith(".virtualenvs/jupyter-test")
    finally:
        await jp_fetch("api", "kernels", kernel["id"], method="DELETE")

    for bad in (
        {"python": "python3"},
        {"python": tools.python, "name": "../x"},
        {"python": tools.python, "tool": "pip"},
        {"python": tools.python, "x": 1},
    ):
        with pytest.raises(HTTPClientError) as info:
            await jp_fetch(
                "remote", "servers", "box", "environments", method="POST", body=json.dumps(bad)
            )
        assert info.value.code == 400, bad
    assert not (box.home / "x").exists()


def test_cli_env_create_and_the_hint_of_profile_add(
    cli_env: dict[str, str], box: SSHTestHost, tools: HostTools, clean_envs: None
) -> None:
    add_box(cli_env, box)
    assert run_cli(cli_env, "server", "test", "box", "--trust").returncode == 0
    missing = run_cli(cli_env, "profile", "add", "s", "--server", "box", "--python", tools.python)
    assert missing.returncode == 1 and "env create box --python" in missing.stderr
    made = run_cli(cli_env, "env", "create", "box", "--python", tools.python, "--json", timeout=600)
    assert made.returncode == 0, made.stderr[-2000:]
    created = json.loads(made.stdout)
    assert created["name"].startswith("jupyter-3.") and created["tool"] == "venv"
    assert "-m venv" in made.stderr  # the progress, streamed
    listed = json.loads(run_cli(cli_env, "env", "list", "box", "--json").stdout)
    assert any(e["python"] == created["python"] and e["ipykernel"] for e in listed)
    twice = run_cli(cli_env, "env", "create", "box", "--python", tools.python)
    assert twice.returncode == 1 and "already exists" in twice.stderr
    nouv = run_cli(
        cli_env, "env", "create", "box", "--python", tools.python, "--with", "uv", "--name", "u"
    )
    assert nouv.returncode == 1 and "uv is not on the login PATH" in nouv.stderr


async def test_profile_pythons_and_kernelspec_pythons_always_appear(
    manager: RemoteManager, box: SSHTestHost
) -> None:
    """A profile's interpreter that no scan finds (and one that is gone), and the python of
    a kernelspec that names a bare ``python3.11`` (not the PATH's python3), are in the list."""
    await saved_box(manager, box)
    odd = box.home / "odd-place" / "bin"  # a venv where no scan looks
    base = Path(box.remote_python).parent.parent
    box.run_as_user(["mkdir", "-p", str(odd)])
    box.run_as_user(["cp", str(base / "pyvenv.cfg"), str(odd.parent)])
    box.run_as_user(["ln", "-sf", str(base / "lib"), str(odd.parent / "lib")])
    box.run_as_user(["ln", "-sf", box.remote_python, str(odd / "python")])
    spec = box.home / ".local" / "share" / "jupyter" / "kernels" / "bare"
    box.run_as_user(["mkdir", "-p", str(spec)])
    kernel_json = {"argv": ["python3.11", "-m", "ipykernel_launcher"], "language": "python"}
    box.run_as_user(["sh", "-c", f"cat > {spec}/kernel.json"], input=json.dumps(kernel_json))
    try:
        await manager.add_profile({"name": "odd", "server": "box", "python": str(odd / "python")})
        gone = {"name": "gone", "server": "box", "python": "/nowhere/bin/python"}
        manager.store.save_profile(Profile.from_input(gone))  # saved, then its env went away
        envs = await Discovery.of(manager).environments("box", refresh=True)
        by_python = {e["python"]: e for e in envs}
        assert str(odd / "python") in by_python
        assert by_python["/nowhere/bin/python"]["error"]  # listed, with why it does not run
        assert any(e["source"] == "kernelspec bare" for e in envs)
    finally:
        box.run_as_user(["rm", "-rf", str(box.home / "odd-place"), str(spec)])


# --------------------------------------------------------------------------- GPUs


async def test_gpus_in_the_probe_and_the_server_test(
    manager: RemoteManager, box: SSHTestHost, tools: HostTools
) -> None:
    await saved_box(manager, box)
    tools.gpus(SAMPLE_GPUS, SAMPLE_APPS)
    probed = await Discovery.of(manager).lookup("box", refresh=True)
    devices = probed["gpus"]["devices"]
    assert [d["index"] for d in devices] == [0, 1] and probed["gpus"]["error"] is None
    assert devices[0] == {
        "index": 0,
        "uuid": "GPU-6e1c2b3a-0f3e-d7a1-5c4e-7b2f9a8d1c01",
        "name": "NVIDIA A100-SXM4-80GB",
        "memory_used_mib": 10541,
        "memory_total_mib": 81920,
        "utilization_percent": 87,
        "processes": 2,
    }
    assert devices[1]["utilization_percent"] is None and devices[1]["processes"] == 0
    tested = await manager.test_server("box")
    assert tested["gpus"] == probed["gpus"] and "nvidia_smi" not in tested
    cached = await Discovery.of(manager).gpus("box")
    assert cached["gpus"] == probed["gpus"] and cached["probed_at"] == probed["probed_at"]

    tools.no_driver()
    tested = await manager.test_server("box")
    assert tested["gpus"]["devices"] == []
    assert "exit 9" in tested["gpus"]["error"] and "NVIDIA driver" in tested["gpus"]["error"]
    probed = await Discovery.of(manager).lookup("box", refresh=True)
    assert probed["gpus"] == tested["gpus"]
    tools.gpus([], [])


async def test_hostile_nvidia_smi_output_is_bounded_and_escaped(
    manager: RemoteManager, box: SSHTestHost, tools: HostTools
) -> None:
    uuid = "GPU-11111111-2222-3333-4444-555555555555"
    tools.gpus(
        [
            f"0, {uuid}, \x1b]0;owned\x07Evil\x1b[2J GPU\u202e, 1, 2, 3",
            f"1, {uuid}, {'A' * 5000}, 99999999999999999999, -1, 101",
            "not, a, gpu",
            *[f"{i}, GPU-{i:08d}, G, 1, 2, 3" for i in range(2, 200)],
        ],
        [f"{uuid}, {i}" for i in range(20000)] + ["\x1b[31m, 5"],
    )
    await saved_box(manager, box)
    devices = (await Discovery.of(manager).lookup("box", refresh=True))["gpus"]["devices"]
    assert len(devices) == gpus.MAX_GPUS
    assert "\x1b" not in devices[0]["name"] and "\\x1b" in devices[0]["name"]
    assert "\u202e" not in devices[0]["name"]
    assert len(devices[1]["name"]) <= gpus.MAX_NAME
    assert devices[1]["memory_used_mib"] is None and devices[1]["memory_total_mib"] is None
    assert devices[1]["utilization_percent"] is None
    assert 0 < devices[0]["processes"] <= gpus.MAX_APP_LINES  # the remote cut the output
    tools.gpus([], [])


def test_cli_shows_gpus_in_server_test_and_env_list(
    cli_env: dict[str, str], box: SSHTestHost, tools: HostTools
) -> None:
    tools.gpus(SAMPLE_GPUS, SAMPLE_APPS)
    add_box(cli_env, box)
    tested = run_cli(cli_env, "server", "test", "box", "--trust")
    assert tested.returncode == 0, tested.stderr
    assert "0 NVIDIA A100-SXM4-80GB · 10.3/80.0 GiB · 87% busy · 2 processes" in tested.stdout
    listed = run_cli(cli_env, "env", "list", "box", "--refresh")
    assert "GPUs (2):" in listed.stdout and "n/a busy · 0 processes" in listed.stdout
    tools.gpus([], [])


def test_the_gpu_parser_reads_the_real_formats() -> None:
    raw = {
        "found": True,
        "gpus": {"status": 0, "output": "\n".join(SAMPLE_GPUS) + "\n"},
        "apps": {"status": 0, "output": ""},
    }
    parsed = gpus.parse(raw)
    assert parsed is not None and [d["processes"] for d in parsed["devices"]] == [0, 0]
    assert gpus.parse({"found": False}) is None
    comma = "0, GPU-abc, NVIDIA RTX A6000, Ada, 1, 2, [Not Supported]"
    dev = gpus.parse({"found": True, "gpus": {"status": 0, "output": comma}, "apps": {}})
    assert dev is not None and dev["devices"][0]["name"] == "NVIDIA RTX A6000, Ada"
    assert dev["devices"][0]["utilization_percent"] is None
