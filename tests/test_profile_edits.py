"""Profiles a new user can tell apart, check and edit (issue 13, items 7, 8, 9).

Against a real sshd of the group's own user (``jrenvs`` as root): display names that
differ, a logo that says remote, the working directory checked (and created on request)
while saving, a failed start that says why, and edits through REST PATCH and the CLI.
"""

from __future__ import annotations

import json
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError

from jupyter_remote.errors import ConflictError, ReadOnlyError
from jupyter_remote.kernels import kernelspecs
from jupyter_remote.manager import RemoteManager
from jupyter_remote.sessions import registry
from jupyter_remote.store import Store
from tests.harness.cli import add_box, run_cli
from tests.harness.servers import server_input, trust_host
from tests.harness.sshd_host import IS_ROOT, SSHTestHost

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def box() -> Iterator[SSHTestHost]:
    host = SSHTestHost(name="profiles", user="jrenvs" if IS_ROOT else None)
    yield host
    host.close()


async def saved_box(manager: RemoteManager, box: SSHTestHost) -> None:
    trust_host(manager.store, box)
    await manager.add_server(server_input(box))


def remote_dir(box: SSHTestHost) -> str:
    """A fresh directory name under the remote user's home (not created)."""
    return f"~/jr-{secrets.token_hex(4)} work $(touch pwned)"


async def test_profiles_on_one_environment_differ_in_the_picker_and_carry_the_logo(
    manager: RemoteManager, box: SSHTestHost
) -> None:
    await saved_box(manager, box)
    a = await manager.add_profile({"name": "a", "server": "box", "python": box.remote_python})
    b = await manager.add_profile(
        {"name": "b", "server": "box", "python": box.remote_python, "cwd": "/tmp"}
    )
    assert a["display_name"] != b["display_name"]
    assert a["display_name"].startswith("Python 3.") and "— box (a)" in a["display_name"]
    assert b["display_name"].endswith("— box (b, /tmp)")
    assert a["custom_display_name"] is None
    for name, profile in (("a", a), ("b", b)):
        spec_dir = kernelspecs.kernels_dir() / f"remote-{name}"
        spec = json.loads((spec_dir / "kernel.json").read_text())
        assert spec["display_name"] == profile["display_name"]
        assert (spec_dir / "logo-64x64.png").read_bytes().startswith(PNG)
        assert (spec_dir / "logo-32x32.png").read_bytes().startswith(PNG)
        assert b"<svg" in (spec_dir / "logo-svg.svg").read_bytes()

    # a display name of one's own is kept; the same as another profile's is refused
    own = await manager.update_profile("a", {"display_name": "Torch on the box"})
    assert own["display_name"] == own["custom_display_name"] == "Torch on the box"
    assert (
        json.loads((kernelspecs.kernels_dir() / "remote-a" / "kernel.json").read_text())[
            "display_name"
        ]
        == "Torch on the box"
    )
    with pytest.raises(ConflictError) as clash:
        await manager.update_profile("b", {"display_name": "Torch on the box"})
    assert clash.value.details["field"] == "display_name"
    back = await manager.update_profile("a", {"display_name": ""})
    assert back["display_name"] == a["display_name"] and back["custom_display_name"] is None


def test_profiles_saved_by_older_versions_get_the_new_names_and_logo(
    store: Store, tmp_path: Path
) -> None:
    """A record with the old automatic name (the name itself stored), its kernelspec
    without a logo: the store reads the name as automatic; the sync rewrites the spec."""
    store.root.mkdir(parents=True, exist_ok=True)
    (store.root / "servers.json").write_text(
        json.dumps({"box": {"name": "box", "host": "127.0.0.1"}})
    )
    old = {
        "name": "old",
        "server": "box",
        "python": "/opt/env/bin/python",
        "display_name": "Python 3.11 · env — box",
    }
    mine = {**old, "name": "mine", "display_name": "My own name"}
    (store.root / "profiles.json").write_text(json.dumps({"old": old, "mine": mine}))
    profiles = {p.name: p for p in store.list_profiles()}
    assert profiles["old"].display_name is None
    assert (profiles["old"].python_version, profiles["old"].env_name) == ("3.11", "env")
    assert profiles["mine"].display_name == "My own name"
    spec_dir = kernelspecs.kernels_dir() / "remote-old"
    spec_dir.mkdir(parents=True)
    (spec_dir / "kernel.json").write_text(json.dumps({"display_name": old["display_name"]}))

    assert sorted(kernelspecs.sync_kernelspecs(profiles.values())) == ["remote-mine", "remote-old"]
    spec = json.loads((spec_dir / "kernel.json").read_text())
    assert spec["display_name"] == "Python 3.11 · env — box (old)"
    assert (spec_dir / "logo-64x64.png").is_file()
    assert kernelspecs.sync_kernelspecs(profiles.values()) == []  # up to date: untouched


async def test_a_missing_working_directory_is_refused_at_save_then_created_on_request(
    jp_fetch: Any, box: SSHTestHost
) -> None:
    trust_host(Store(), box)
    await jp_fetch("remote", "servers", method="POST", body=json.dumps(server_input(box)))
    cwd = remote_dir(box)
    body = {"name": "w", "server": "box", "python": box.remote_python, "cwd": cwd}
    with pytest.raises(HTTPClientError) as refused:
        await jp_fetch("remote", "profiles", method="POST", body=json.dumps(body))
    answer = json.loads(refused.value.response.body)
    assert refused.value.code == 409 and answer["reason"] == "cwd_missing"
    assert answer["field"] == "cwd" and "--create-cwd" in answer["hint"]
    assert json.loads((await jp_fetch("remote", "profiles")).body) == []

    created = await jp_fetch(
        "remote", "profiles", method="POST", body=json.dumps(body), params={"create_cwd": "1"}
    )
    assert created.code == 201
    path = box.home / cwd[2:]
    umask = int(box.run_as_user(["sh", "-c", "umask"]).stdout.strip(), 8)
    assert path.is_dir() and stat.S_IMODE(path.stat().st_mode) == 0o777 & ~umask
    assert path.stat().st_uid == box.uid
    assert not (box.home / "pwned").exists() and not (path / "pwned").exists()  # data only
    box.run_as_user(["rm", "-rf", str(path)])

    # a failed start says why on its session, with the fix (the card keeps them)
    seen: list[dict[str, Any]] = []
    unsubscribe = registry.subscribe(seen.append)
    try:
        with pytest.raises(HTTPClientError):
            await jp_fetch("api", "kernels", method="POST", body=json.dumps({"name": "remote-w"}))
    finally:
        unsubscribe()
    stopped = [e["session"] for e in seen if e["type"] == "session"][-1]
    assert stopped["state"] == "stopped" and stopped["start_failed"] is True
    assert "did not start" in stopped["reason"] and "does not exist" in stopped["reason"]
    assert stopped["hint"]


async def test_edit_through_rest_patch_keeps_what_is_not_given(
    jp_fetch: Any, box: SSHTestHost
) -> None:
    trust_host(Store(), box)
    await jp_fetch("remote", "servers", method="POST", body=json.dumps(server_input(box)))
    body = {"name": "e", "server": "box", "python": box.remote_python, "env": {"A": "1"}}
    await jp_fetch("remote", "profiles", method="POST", body=json.dumps(body))
    patched = json.loads(
        (
            await jp_fetch(
                "remote",
                "profiles",
                "e",
                method="PATCH",
                body=json.dumps({"cwd": "/tmp", "idle_timeout": 60}),
            )
        ).body
    )
    assert patched["cwd"] == "/tmp" and patched["idle_timeout"] == 60
    assert patched["env"] == {"A": "1"} and patched["python"] == box.remote_python
    specs = json.loads((await jp_fetch("api", "kernelspecs")).body)["kernelspecs"]
    assert specs["remote-e"]["spec"]["display_name"] == patched["display_name"]
    assert "/tmp" in patched["display_name"]
    for bad, code in (({"name": "other"}, 400), ({"cwd": "relative"}, 400), ({"x": 1}, 400)):
        with pytest.raises(HTTPClientError) as info:
            await jp_fetch("remote", "profiles", "e", method="PATCH", body=json.dumps(bad))
        assert info.value.code == code, bad
    with pytest.raises(HTTPClientError) as missing:
        await jp_fetch("remote", "profiles", "nope", method="PATCH", body=json.dumps({}))
    assert missing.value.code == 404


async def test_admin_profiles_stay_read_only(box: SSHTestHost, isolated_home: Path) -> None:
    store = Store(
        admin_servers={"box": {"host": box.host, "port": box.port}},
        admin_profiles={"adm": {"server": "box", "python": box.remote_python}},
    )
    manager = RemoteManager(store)
    try:
        with pytest.raises(ReadOnlyError):
            await manager.update_profile("adm", {"cwd": "/tmp"})
    finally:
        await manager.close()


def test_cli_profile_edit(cli_env: dict[str, str], box: SSHTestHost, tmp_path: Path) -> None:
    add_box(cli_env, box)
    assert run_cli(cli_env, "server", "test", "box", "--trust").returncode == 0
    args = ["profile", "add", "c", "--server", "box", "--python", box.remote_python]
    assert run_cli(cli_env, *args, "--env", "A=1", "--env", "B=2").returncode == 0
    cwd = remote_dir(box)
    refused = run_cli(cli_env, "profile", "edit", "c", "--cwd", cwd)
    assert refused.returncode == 1 and "--create-cwd" in refused.stderr
    edited = run_cli(
        cli_env,
        "profile",
        "edit",
        "c",
        "--cwd",
        cwd,
        "--create-cwd",
        "--env",
        "B=3",
        "--unset-env",
        "A",
        "--display-name",
        "Mine",
        "--json",
    )
    assert edited.returncode == 0, edited.stderr
    profile = json.loads(edited.stdout)
    assert profile["env"] == {"B": "3"} and profile["display_name"] == "Mine"
    assert (box.home / cwd[2:]).is_dir()
    spec = json.loads((tmp_path / "data" / "kernels" / "remote-c" / "kernel.json").read_text())
    assert spec["display_name"] == "Mine"
    set_ = run_cli(cli_env, "profile", "set", "c", "--idle-timeout", "15m", "--json")
    assert set_.returncode == 0, set_.stderr  # `set` is `edit` by another name
    assert json.loads(set_.stdout)["idle_timeout"] == 900
    assert json.loads(set_.stdout)["env"] == {"B": "3"}  # what was not given is kept
    assert run_cli(cli_env, "profile", "edit", "c").returncode == 2  # nothing to change
    assert run_cli(cli_env, "profile", "edit", "nope", "--cwd", "/tmp").returncode == 1
    box.run_as_user(["rm", "-rf", str(box.home / cwd[2:])])
