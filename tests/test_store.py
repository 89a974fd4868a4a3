"""The on-disk store: validation, atomic 0600 files, locking, admin entries, no secrets."""

from __future__ import annotations

import json
import multiprocessing
import os
import stat
from pathlib import Path

import pytest

from jupyter_remote.errors import (
    ConflictError,
    NotFoundError,
    ReadOnlyError,
    ValidationError,
)
from jupyter_remote.store import Profile, Server, Store, parse_host_id, parse_jump

HOSTILE = [
    "a;b",
    "$(touch /tmp/pwned)",
    "`id`",
    "a\nb",
    "../etc",
    "..",
    "-oProxyCommand=x",
    "x" * 10_000,
    "a b",
    "caf\udce9",  # invalid UTF-8 as Python decodes it from argv (surrogateescape)
    "",
    "a\x00b",
]


def good(**kw: object) -> dict[str, object]:
    return {"name": "gpu", "host": "gpu-box.example.org", "port": 2222, "user": "alice", **kw}


@pytest.mark.parametrize("bad", HOSTILE)
@pytest.mark.parametrize("field", ["name", "host", "user"])
def test_hostile_fields_rejected_and_nothing_written(store: Store, field: str, bad: str) -> None:
    if field == "user" and bad == "":
        pytest.skip("an empty user means: take it from ~/.ssh/config")
    with pytest.raises(ValidationError) as info:
        store.save_server(Server.from_input(good(**{field: bad})))
    assert info.value.status == 400 and info.value.exit_code == 2
    assert not (store.root / "servers.json").exists()


@pytest.mark.parametrize(
    "jump", ["a;b@host", "host:99999", "host:$(id)", "user@-oProxy", "[::1]:x", "h\nx"]
)
def test_hostile_jump_rejected(jump: str) -> None:
    with pytest.raises(ValidationError):
        parse_jump(jump)


def test_valid_inputs_normalised() -> None:
    assert parse_jump("bob@bastion.example.org:2200") == ("bob", "bastion.example.org", 2200)
    assert parse_jump("[::1]:22") == (None, "::1", 22)
    assert parse_host_id("[127.0.0.1]:2222") == "[127.0.0.1]:2222"
    assert parse_host_id("example.org:22") == "example.org"
    server = Server.from_input(good(port="2222", jump="bastion"))
    assert server.port == 2222 and server.jump == "bastion"


def test_files_are_0600_in_0700_dir_and_hold_no_secret(store: Store) -> None:
    data = good(password="hunter2-secret", passphrase="pp-secret")
    store.save_server(Server.from_input(data))
    path = store.root / "servers.json"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(store.root).st_mode) == 0o700
    text = path.read_text()
    assert "hunter2-secret" not in text and "pp-secret" not in text
    assert json.loads(text)["gpu"]["host"] == "gpu-box.example.org"
    leftovers = [p.name for p in store.root.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []


def test_crud_and_conflicts(store: Store) -> None:
    store.save_server(Server.from_input(good()))
    with pytest.raises(ConflictError):
        store.save_server(Server.from_input(good()))
    store.save_server(Server.from_input(good(user="bob")), replace=True)
    assert store.get_server("gpu").user == "bob"
    store.save_profile(
        Profile.from_input({"name": "p", "server": "gpu", "python": "/usr/bin/python3"})
    )
    with pytest.raises(ConflictError, match="used by profile"):
        store.remove_server("gpu")
    store.remove_profile("p")
    store.remove_server("gpu")
    with pytest.raises(NotFoundError):
        store.get_server("gpu")


def test_admin_servers_are_read_only(isolated_home: Path) -> None:
    store = Store(admin_servers={"shared": {"host": "login.cluster", "user": "me"}})
    assert [s.name for s in store.list_servers()] == ["shared"]
    assert store.get_server("shared").readonly
    with pytest.raises(ReadOnlyError):
        store.remove_server("shared")
    with pytest.raises(ReadOnlyError):
        store.save_server(Server.from_input({"name": "shared", "host": "elsewhere"}))


def _writer(root: str, prefix: str, count: int) -> None:
    store = Store(root)
    for i in range(count):
        store.save_server(Server.from_input({"name": f"{prefix}{i}", "host": "h.example"}))


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    """The CLI and the server writing at once: the file lock serialises read-modify-write."""
    root = tmp_path / "remote"
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(root), p, 25)) for p in "abc"]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    names = {s.name for s in Store(root).list_servers()}
    assert names == {f"{p}{i}" for p in "abc" for i in range(25)}


def test_identity_must_exist(store: Store, tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="does not exist"):
        Server.from_input(good(identity=str(tmp_path / "nope")))
    with pytest.raises(ValidationError, match="absolute"):
        Server.from_input(good(identity="relative/key"))
