"""Environment discovery against a real sshd: one exec per probe, every kind, cache, CLI, REST.

The "probe" sshd logs at DEBUG1, so every exec request shows up in its log as
``session_input_channel_req: session N req exec``; counting those lines proves
one SSH round trip per probe and none when the cache answers.
"""

from __future__ import annotations

import ast
import json
import os
import re
import secrets
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError

from jupyter_remote.errors import RemoteCommandError
from jupyter_remote.kernels.discovery import RESULT_MARKER, Discovery, clean_env, parse_answer
from jupyter_remote.manager import RemoteManager
from jupyter_remote.remote import BOOTSTRAP, script_text, stdin_payload
from jupyter_remote.ssh.exec import ExecResult
from jupyter_remote.store import Server, Store
from tests.harness.cli import run_cli
from tests.harness.servers import server_input, trust_host
from tests.harness.sshd_host import IS_ROOT, SSHTestHost

EXEC_LINE = re.compile(r"session_input_channel_req: session \d+ req exec")
PWNED = Path("/tmp/pwned-probe")

# Runs as the remote user: builds fake envs from the test host's ipykernel env.
LAYOUT = r"""
import json, os, sys
spec = json.loads(sys.argv[1])
home = os.path.expanduser("~")
base = os.path.dirname(os.path.dirname(spec.get("remote_python", "/")))

def write(path, text, mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)

def fake_env(prefix, extra_cfg="", ipykernel=True):
    # a venv-style prefix whose python and lib come from the ipykernel env
    with open(os.path.join(base, "pyvenv.cfg")) as f:
        write(os.path.join(prefix, "pyvenv.cfg"), f.read() + extra_cfg)
    os.makedirs(os.path.join(prefix, "bin"))
    os.symlink(spec["remote_python"], os.path.join(prefix, "bin", "python"))
    if ipykernel:
        os.symlink(os.path.join(base, "lib"), os.path.join(prefix, "lib"))

for item in spec["make"]:
    path = os.path.join(home, item["path"])
    kind = item["what"]
    if kind == "conda":
        fake_env(path)
        os.makedirs(os.path.join(path, "conda-meta"))
        write(os.path.join(path, "conda-meta", "history"), "")
        with open(os.path.join(home, ".conda", "environments.txt"), "a") as f:
            f.write(path + "\n")
    elif kind == "fake":
        fake_env(path, item.get("cfg", ""))
    elif kind == "pyenv":
        os.makedirs(os.path.join(path, "bin"))
        os.symlink("/usr/bin/python3", os.path.join(path, "bin", "python3"))
    elif kind == "broken":
        write(os.path.join(path, "pyvenv.cfg"), "home = /usr/bin\n")
        write(os.path.join(path, "bin", "python"), "#!/bin/sh\nsleep 600\n", 0o755)
    elif kind == "kernelspec":
        write(os.path.join(path, "kernel.json"), json.dumps(item["spec"]))
    elif kind == "mkdir":
        os.makedirs(path, exist_ok=True)
"""

CLEANUP = r"""
import json, os, shutil, sys
spec = json.loads(sys.argv[1])
home = os.path.expanduser("~")
for rel in spec["remove"]:
    path = os.path.join(home, rel)
    if os.path.islink(path) or os.path.isfile(path):
        os.unlink(path)
    elif os.path.isdir(path):
        shutil.rmtree(path, ignore_errors=True)
txt = os.path.join(home, ".conda", "environments.txt")
if os.path.exists(txt):
    with open(txt) as f:
        keep = [line for line in f if spec["tag"] not in line]
    with open(txt, "w") as f:
        f.writelines(keep)
"""

SYSTEM_CHECK = (
    "import sys, json, importlib.util; print(json.dumps(['%d.%d.%d' % sys.version_info[:3], "
    "importlib.util.find_spec('ipykernel') is not None]))"
)


def as_user(host: SSHTestHost, code: str, spec: dict[str, Any]) -> str:
    result = host.run_as_user(["/usr/bin/python3", "-c", code, json.dumps(spec)])
    assert result.returncode == 0, result.stderr
    return result.stdout


def exec_requests(host: SSHTestHost) -> int:
    return len(EXEC_LINE.findall(host.log_text()))


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def probe_host() -> Iterator[SSHTestHost]:
    """Our own sshd at DEBUG1; as root its user is a dedicated one (a home of its own)."""
    host = SSHTestHost(name="probe", log_level="DEBUG1", user="jrprobe" if IS_ROOT else None)
    try:
        yield host
    finally:
        host.close()


@pytest.fixture(scope="module")
def layout(probe_host: SSHTestHost) -> Iterator[dict[str, Any]]:
    """Envs of every kind in the places discovery looks, unique names, removed afterwards."""
    tag = f"jrt-{secrets.token_hex(4)}"
    names = {
        "conda": f"{tag}/conda-env",
        "virtualenv": f".virtualenvs/{tag}-ve",
        "bare": f"venvs/{tag}-bare",
        "project": f"{tag}/proj",
        "pyenv": f".pyenv/versions/{tag}-py",
        "kernelspec": f".local/share/jupyter/kernels/{tag}-r",
    }
    spec = {
        "remote_python": probe_host.remote_python,
        "make": [
            {"what": "mkdir", "path": ".conda"},
            {"what": "conda", "path": names["conda"]},
            {"what": "fake", "path": names["virtualenv"], "cfg": "virtualenv = 20.26.6\n"},
            {"what": "fake", "path": names["project"] + "/.venv", "cfg": "uv = 0.4.30\n"},
            {"what": "pyenv", "path": names["pyenv"]},
            {
                "what": "kernelspec",
                "path": names["kernelspec"],
                "spec": {
                    "argv": ["sh", "-c", "exit 0", "{connection_file}"],
                    "display_name": "R (test)",
                    "language": "R",
                },
            },
        ],
    }
    remove = [tag, names["virtualenv"], names["bare"], names["pyenv"], names["kernelspec"]]
    try:
        as_user(probe_host, LAYOUT, spec)
        bare = probe_host.home / names["bare"]
        made = probe_host.run_as_user(
            ["/usr/bin/python3", "-m", "venv", "--without-pip", str(bare)]
        )
        assert made.returncode == 0, made.stderr
        version, ipykernel = json.loads(
            probe_host.run_as_user(["/usr/bin/python3", "-c", SYSTEM_CHECK], cwd="/").stdout
        )
        yield {
            "tag": tag,
            "home": probe_host.home,
            "names": names,
            "system": {"version": version, "ipykernel": ipykernel},
            "remote_version": probe_host.run_as_user(
                [
                    probe_host.remote_python,
                    "-c",
                    "import sys; print('%d.%d.%d' % sys.version_info[:3])",
                ]
            ).stdout.strip(),
        }
    finally:
        as_user(probe_host, CLEANUP, {"remove": remove, "tag": tag})


@pytest.fixture
def probe_manager(manager: RemoteManager, probe_host: SSHTestHost) -> RemoteManager:
    """The test's manager with the probe host saved as server "box" and its key trusted."""
    manager.store.save_server(Server.from_input(server_input(probe_host)))
    trust_host(manager.store, probe_host)
    return manager


def by_path(envs: list[dict[str, Any]], home: Path, rel: str) -> dict[str, Any]:
    path = str(home / rel)
    found = [e for e in envs if e["path"] == path]
    assert len(found) == 1, (path, [e["path"] for e in envs])
    return found[0]


# ----------------------------------------------------------------------------- the script


def test_probe_is_python38_syntax_and_markers_agree() -> None:
    source = script_text("probe")
    ast.parse(source, feature_version=(3, 8))
    assert f'RESULT_MARKER = "{RESULT_MARKER}"' in source


@pytest.mark.skipif(
    not Path("/root/.pyenv/versions/3.8.18/bin/python").exists() or not os.access("/root", os.X_OK),
    reason="no local Python 3.8 to run the probe with",
)
def test_probe_runs_under_python38(tmp_path: Path) -> None:
    payload = stdin_payload(script_text("probe"), {"cwds": [str(tmp_path)], "budget": 30})
    result = subprocess.run(
        ["/root/.pyenv/versions/3.8.18/bin/python", "-c", BOOTSTRAP],
        input=payload,
        capture_output=True,
        timeout=60,
        check=False,
    )
    answer = parse_answer(
        ExecResult(result.returncode, result.stdout.decode(), result.stderr.decode()), "local"
    )
    assert answer["probe"]["version"].startswith("3.8.")
    assert answer["envs"] and all(clean_env(e) for e in answer["envs"])


def test_parse_answer_errors_carry_a_fix() -> None:
    with pytest.raises(RemoteCommandError) as info:
        parse_answer(ExecResult(127, "", "jupyter-remote: no python3"), "box")
    assert "PATH" in info.value.message and info.value.hint
    with pytest.raises(RemoteCommandError) as info:
        parse_answer(ExecResult(1, "motd noise", "SyntaxError: invalid syntax"), "box")
    assert "SyntaxError" in info.value.message and "3.8" in info.value.hint
    noisy = "Welcome!\n" + RESULT_MARKER + json.dumps({"envs": []}) + "\n"
    assert parse_answer(ExecResult(0, noisy, ""), "box") == {"envs": []}


def test_clean_env_drops_what_we_cannot_show() -> None:
    good = {"python": "/x/bin/python", "kind": "venv", "name": "x", "version": "3.12.1"}
    assert clean_env(good) == {
        **good,
        "ipykernel": False,
        "path": "",
        "source": "",
        "error": None,
    }
    assert clean_env({**good, "kind": "weird"}) is None
    assert clean_env({**good, "python": "relative/python"}) is None
    assert clean_env({**good, "ipykernel": "yes"})["ipykernel"] is False  # type: ignore[index]
    assert len(clean_env({**good, "name": "n" * 10_000})["name"]) == 4096  # type: ignore[index]


def test_one_interpreter_start_per_binary_same_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Venvs on one Python binary: the first is run, the others are read from their files
    (version from that run, ipykernel from their site-packages); one whose files cannot
    tell (a .pth file, system site-packages) is run as well. Every answer equals what
    running that venv's own interpreter says; an ``ipykernel`` directory without its
    ``__init__.py`` (a half-removed install) is no ipykernel either way."""
    import sys

    from jupyter_remote.remote.interpreters import check_many
    from jupyter_remote.remote.probe import Probe

    binary = os.path.realpath(sys.executable)
    xy = "python{}.{}".format(*sys.version_info[:2])
    layouts = {
        "a": ("", None),
        "b": ("", "ipykernel/__init__.py"),
        "c": ("", None),
        # a half-removed ipykernel: its directory without __init__.py (review s20)
        "half": ("", "ipykernel/__pycache__/kernelapp.cpython-311.pyc"),
        "pth": ("", "editable.pth"),
        "system": ("include-system-site-packages = true\n", None),
    }
    candidates = []
    for name, (cfg, extra) in layouts.items():
        prefix = tmp_path / name
        site = prefix / "lib" / xy / "site-packages"
        site.mkdir(parents=True)
        (prefix / "bin").mkdir()
        (prefix / "bin" / "python").symlink_to(binary)
        (prefix / "pyvenv.cfg").write_text(f"home = {os.path.dirname(binary)}\n{cfg}")
        if extra:
            (site / extra).parent.mkdir(parents=True, exist_ok=True)
            (site / extra).write_text("# nothing\n")
        python = str(prefix / "bin" / "python")
        candidates.append(
            {"python": python, "path": str(prefix), "kind": "venv", "name": name, "source": "t"}
        )
    for var in ("PYTHONPATH", "PYTHONHOME"):  # either makes every venv a run (none here)
        monkeypatch.delenv(var, raising=False)
    probe = Probe({})
    ran: list[str] = []

    def check(candidate: dict[str, Any]) -> dict[str, Any]:
        ran.append(candidate["name"])
        return probe.check(candidate)

    envs = check_many(candidates, check, 4)
    assert sorted(ran) == ["a", "pth", "system"], ran
    truth = [probe.check(c) for c in candidates]
    assert envs == truth
    assert [e["ipykernel"] for e in envs][:4] == [False, True, False, False]
    assert {e["version"] for e in envs} == {"{}.{}.{}".format(*sys.version_info[:3])}


# ----------------------------------------------------------------------------- over SSH


async def test_every_kind_found_in_one_exec_then_cached(
    probe_manager: RemoteManager, probe_host: SSHTestHost, layout: dict[str, Any]
) -> None:
    home, names = layout["home"], layout["names"]
    cwds = [f"~/{names['project']}"]
    discovery = Discovery(probe_manager)
    before = exec_requests(probe_host)
    result = await discovery.lookup("box", cwds=cwds)
    assert exec_requests(probe_host) - before == 1
    assert result["cached"] is False and result["elapsed"] < discovery.budget + 5
    envs = result["envs"]

    expected = {
        "conda": ("conda", True),
        "virtualenv": ("virtualenv", True),
        "bare": ("venv", False),
        "project/.venv": ("uv", True),
    }
    for key, (kind, ipykernel) in expected.items():
        rel = names["project"] + "/.venv" if key == "project/.venv" else names[key]
        env = by_path(envs, home, rel)
        assert (env["kind"], env["ipykernel"], env["error"]) == (kind, ipykernel, None), env
        assert env["python"] == str(home / rel / "bin" / "python")  # never resolved
        assert env["version"] == (
            layout["remote_version"] if ipykernel else layout["system"]["version"]
        )
    assert by_path(envs, home, names["project"] + "/.venv")["name"] == "proj"
    assert by_path(envs, home, names["conda"])["source"] == "~/.conda/environments.txt"

    pyenv = by_path(envs, home, names["pyenv"])
    assert pyenv["kind"] == "pyenv" and pyenv["version"] == layout["system"]["version"]

    system = [e for e in envs if e["kind"] == "system"]
    assert len(system) == 1, system
    assert system[0]["python"] == "/usr/bin/python3" and system[0]["path"] == "/usr"
    assert system[0]["version"] == layout["system"]["version"]
    assert system[0]["ipykernel"] is layout["system"]["ipykernel"]

    spec = by_path(envs, home, names["kernelspec"])
    assert spec["kind"] == "kernelspec" and spec["language"] == "R"
    assert spec["name"] == f"{layout['tag']}-r" and spec["display_name"] == "R (test)"
    assert spec["version"] == "" and spec["ipykernel"] is False and spec["error"] is None
    assert os.path.isabs(spec["python"]) and os.path.basename(spec["python"]) == "sh"

    for env in envs:
        assert set(env) >= {"python", "kind", "name", "version", "ipykernel"}
        assert os.path.isabs(env["python"]) and isinstance(env["ipykernel"], bool)

    # the same Discovery answers from memory, a new one (new process) from disk
    before = exec_requests(probe_host)
    again = await discovery.lookup("box", cwds=cwds)
    assert again["cached"] is True and again["envs"] == envs
    fresh = Discovery(probe_manager)
    assert await fresh.environments("box", cwds=cwds) == envs
    assert exec_requests(probe_host) == before
    cache = discovery.cache_dir / "envs-box.json"
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600
    assert stat.S_IMODE(discovery.cache_dir.stat().st_mode) == 0o700

    refreshed = await fresh.lookup("box", cwds=cwds, refresh=True)
    assert refreshed["cached"] is False and refreshed["probed_at"] > result["probed_at"]
    assert exec_requests(probe_host) - before == 1

    # a cwd the cache did not cover is a new probe; the cache then covers both
    before = exec_requests(probe_host)
    await fresh.lookup("box", cwds=[*cwds, "/srv/elsewhere"])
    await fresh.lookup("box", cwds=["/srv/elsewhere"])
    assert exec_requests(probe_host) - before == 1


async def test_hanging_env_times_out_within_budget(
    probe_manager: RemoteManager, probe_host: SSHTestHost, layout: dict[str, Any]
) -> None:
    project = f"{layout['tag']}/hang"
    as_user(probe_host, LAYOUT, {"make": [{"what": "broken", "path": project + "/.venv"}]})
    discovery = Discovery(probe_manager, budget=8, per_env=2)
    before = exec_requests(probe_host)
    started = time.monotonic()
    envs = await discovery.environments("box", cwds=[f"~/{project}"])
    took = time.monotonic() - started
    assert exec_requests(probe_host) - before == 1
    assert took < 8 + 3, took
    broken = by_path(envs, layout["home"], project + "/.venv")
    assert broken["error"] and "timed out" in broken["error"]
    assert broken["version"] == "" and broken["ipykernel"] is False
    ok = by_path(envs, layout["home"], layout["names"]["virtualenv"])
    assert ok["error"] is None and ok["ipykernel"] is True
    # the hanging interpreter was killed with its process group, not left behind
    pgrep = subprocess.run(
        ["pgrep", "-u", probe_host.user, "-f", "^sleep 600$"], capture_output=True, check=False
    )
    assert pgrep.stdout.strip() == b""


async def test_hostile_cwd_arrives_as_data(
    probe_manager: RemoteManager, probe_host: SSHTestHost, layout: dict[str, Any]
) -> None:
    PWNED.unlink(missing_ok=True)
    hostile = [f"/tmp/$(touch {PWNED})", f"/tmp/`touch {PWNED}`", f"/tmp/x';touch {PWNED};'"]
    envs = await Discovery(probe_manager).environments("box", cwds=hostile)
    assert envs
    assert not PWNED.exists()


async def test_unknown_server_and_bad_cwd_are_refused(probe_manager: RemoteManager) -> None:
    from jupyter_remote.errors import NotFoundError, ValidationError

    discovery = Discovery(probe_manager)
    with pytest.raises(NotFoundError):
        await discovery.environments("nope")
    with pytest.raises(ValidationError):
        await discovery.environments("box", cwds=["relative/dir"])


# ----------------------------------------------------------------------------- CLI


def test_cli_env_list(
    cli_env: dict[str, str], tmp_path: Path, probe_host: SSHTestHost, layout: dict[str, Any]
) -> None:
    store = Store(tmp_path / "data" / "remote")
    store.save_server(Server.from_input(server_input(probe_host)))
    trust_host(store, probe_host)

    before = exec_requests(probe_host)
    listed = run_cli(cli_env, "env", "list", "box", "--json")
    assert listed.returncode == 0, listed.stderr
    assert exec_requests(probe_host) - before == 1
    envs = json.loads(listed.stdout)
    assert isinstance(envs, list) and envs
    for env in envs:
        assert os.path.isabs(env["python"])
        assert env["kind"] in ("conda", "venv", "virtualenv", "pyenv", "uv", "system", "kernelspec")
        assert isinstance(env["name"], str) and isinstance(env["version"], str)
        assert isinstance(env["ipykernel"], bool)
    kinds = {e["kind"] for e in envs}
    assert {"conda", "virtualenv", "venv", "pyenv", "system", "kernelspec"} <= kinds

    human = run_cli(cli_env, "env", "list", "box")
    assert human.returncode == 0, human.stderr
    assert exec_requests(probe_host) - before == 1  # a new process, answered from disk
    header = human.stdout.splitlines()[0].split()
    assert header == ["KIND", "NAME", "VERSION", "IPYKERNEL", "PYTHON"]
    assert "(cached, probed less than a minute ago; --refresh to probe again)" in human.stdout
    assert str(probe_host.home / layout["names"]["virtualenv"] / "bin" / "python") in human.stdout

    refreshed = run_cli(cli_env, "env", "list", "box", "--refresh")
    assert refreshed.returncode == 0 and "(cached" not in refreshed.stdout
    assert exec_requests(probe_host) - before == 2

    missing = run_cli(cli_env, "env", "list", "nope", "--json")
    assert missing.returncode == 1 and json.loads(missing.stdout)["error"]["reason"]


# ----------------------------------------------------------------------------- REST


async def get_envs(jp_fetch: Any, *parts: str, **params: Any) -> Any:
    resp = await jp_fetch("remote", "servers", *parts, "environments", params=params)
    return json.loads(resp.body)


async def test_rest_environments(
    jp_fetch: Any, jp_serverapp: Any, probe_host: SSHTestHost, layout: dict[str, Any]
) -> None:
    manager = jp_serverapp.web_app.settings["remote_manager"]
    await manager.add_server(server_input(probe_host))
    trust_host(manager.store, probe_host)

    before = exec_requests(probe_host)
    envs = await get_envs(jp_fetch, "box")
    assert isinstance(envs, list) and {e["kind"] for e in envs} >= {"conda", "kernelspec"}
    assert all(os.path.isabs(e["python"]) and isinstance(e["ipykernel"], bool) for e in envs)
    assert await get_envs(jp_fetch, "box") == envs
    assert exec_requests(probe_host) - before == 1
    await get_envs(jp_fetch, "box", refresh="1")
    assert exec_requests(probe_host) - before == 2

    project = f"~/{layout['names']['project']}"
    with_cwd = await get_envs(jp_fetch, "box", cwd=project)
    assert any(e["kind"] == "uv" for e in with_cwd)

    for params, status in (
        ({"refresh": "maybe"}, 400),
        ({"cwd": "relative"}, 400),
    ):
        with pytest.raises(HTTPClientError) as info:
            await get_envs(jp_fetch, "box", **params)
        assert info.value.code == status
        assert info.value.response is not None
        assert json.loads(info.value.response.body)["hint"] is not None
    for name, status in (("nope", 404), ("$(id)", 400)):
        with pytest.raises(HTTPClientError) as info:
            await get_envs(jp_fetch, name)
        assert info.value.code == status
    for headers in ({"Authorization": ""}, {"Authorization": "token not-the-token"}):
        with pytest.raises(HTTPClientError) as info:
            await jp_fetch("remote", "servers", "box", "environments", headers=headers)
        assert info.value.code in (401, 403)

    spec = json.loads((await jp_fetch("remote", "openapi.json")).body)
    assert "/remote/servers/{name}/environments" in spec["paths"]
