"""Remote files over SFTP on the pooled connection (issue 14, items 1, 2 and 4), against a
real OpenSSH sshd (its internal-sftp) as the remote user ``jrfiles``: what each operation
does.

Every file operation through the manager and REST; conflict detection; permission
errors; names that are not UTF-8 or carry escapes; symlinks; a directory of 10,000
entries listed one READDIR round trip per page; chunked uploads; checkpoints; a notebook
of the remote drive whose kernel runs in its own directory. Transfers are in
tests/test_file_transfers.py, other users and hostile remotes in tests/test_files_hostile.py;
the host and helpers in tests/harness/files.py.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from tornado.httpclient import HTTPClientError

from jupyter_remote.errors import (
    ConflictError,
    NotFoundError,
    RemoteFileChangedError,
    RemotePermissionError,
    ValidationError,
)
from jupyter_remote.manager import RemoteManager
from jupyter_remote.sessions import registry
from tests.harness import files
from tests.harness.cli import run_cli
from tests.harness.clients import WSKernel
from tests.harness.files import as_user, leftovers
from tests.harness.servers import server_input, setup_profile, trust_host
from tests.harness.sshd_host import SSHTestHost

files_host = files.files_host  # the fixtures, by name (tests/harness/files.py)
workdir = files.workdir
box = files.box


# ------------------------------------------------------------------ every operation


async def test_every_file_operation(box: RemoteManager, workdir: Path) -> None:
    files = box.files
    root = str(workdir)
    listing = await files.get("box", root)
    assert listing["type"] == "directory" and listing["content"] == []

    notebook = await files.new_untitled("box", root, type="notebook")
    assert notebook["path"] == f"{root}/Untitled.ipynb" and notebook["type"] == "notebook"
    again = await files.new_untitled("box", root, type="notebook")
    assert again["name"] == "Untitled1.ipynb"
    text = await files.new_untitled("box", root, type="file")
    assert text["name"] == "untitled.txt"
    folder = await files.new_untitled("box", root, type="directory")
    assert folder["name"] == "Untitled Folder" and folder["type"] == "directory"

    saved = await files.save(
        "box", f"{root}/hello.py", {"type": "file", "format": "text", "content": "print(1)\n"}
    )
    assert (workdir / "hello.py").read_text() == "print(1)\n"
    assert saved["size"] == 9 and saved["writable"] is True
    got = await files.get("box", f"{root}/hello.py")
    assert got["content"] == "print(1)\n" and got["format"] == "text"
    assert got["last_modified"] == saved["last_modified"]

    nb = {
        "cells": [{"cell_type": "code", "source": "1+1", "metadata": {}, "outputs": [],
                   "execution_count": None, "id": "a1"}],
        "metadata": {}, "nbformat": 4, "nbformat_minor": 5,
    }  # fmt: skip
    await files.save("box", f"{root}/Untitled.ipynb", {"type": "notebook", "content": nb})
    got = await files.get("box", f"{root}/Untitled.ipynb")
    assert got["format"] == "json" and got["content"]["cells"][0]["source"] == "1+1"
    assert json.loads((workdir / "Untitled.ipynb").read_text())["nbformat"] == 4

    binary = bytes(range(256)) * 10
    await files.save(
        "box", f"{root}/blob.bin",
        {"type": "file", "format": "base64", "content": base64.b64encode(binary).decode()},
    )  # fmt: skip
    got = await files.get("box", f"{root}/blob.bin")
    assert got["format"] == "base64" and base64.b64decode(got["content"]) == binary

    copied = await files.copy("box", f"{root}/hello.py", root)
    assert copied["name"] == "hello-Copy1.py"
    assert (workdir / "hello-Copy1.py").read_text() == "print(1)\n"
    moved = await files.rename("box", f"{root}/hello-Copy1.py", f"{root}/Untitled Folder/h.py")
    assert moved["path"] == f"{root}/Untitled Folder/h.py"
    assert not (workdir / "hello-Copy1.py").exists()
    with pytest.raises(ConflictError):  # a rename never replaces
        await files.rename("box", f"{root}/hello.py", f"{root}/blob.bin")
    await files.mkdir("box", f"{root}/sub")
    with pytest.raises(ConflictError):
        await files.mkdir("box", f"{root}/sub")

    await files.delete("box", f"{root}/Untitled Folder")  # with what is in it
    await files.delete("box", f"{root}/hello.py")
    assert sorted(os.listdir(workdir)) == [
        "Untitled.ipynb", "Untitled1.ipynb", "blob.bin", "sub", "untitled.txt",
    ]  # fmt: skip
    with pytest.raises(NotFoundError):
        await files.get("box", f"{root}/hello.py")
    home = await files.get("box", "~", content=False)
    assert home["path"] == str(workdir.parent)
    assert leftovers(workdir) == []


async def test_save_keeps_the_mode_and_writes_through_symlinks(
    box: RemoteManager, files_host: SSHTestHost, workdir: Path
) -> None:
    root = str(workdir)
    as_user(
        files_host,
        "import os, sys; d = sys.argv[1]; open(d + '/run.sh', 'w').write('old');"
        "os.chmod(d + '/run.sh', 0o750); os.symlink('run.sh', d + '/link.sh');"
        "os.mkdir(d + '/real'); os.symlink('real', d + '/dirlink');"
        "os.symlink('nowhere', d + '/dangling')",
        root,
    )
    await box.files.save("box", f"{root}/link.sh", {"type": "file", "format": "text",
                                                    "content": "new"})  # fmt: skip
    assert (workdir / "link.sh").is_symlink() and (workdir / "run.sh").read_text() == "new"
    assert (workdir / "run.sh").stat().st_mode & 0o777 == 0o750
    entries = {e["name"]: e for e in (await box.files.get("box", root))["content"]}
    assert entries["link.sh"]["type"] == "file" and entries["link.sh"]["symlink"] is True
    assert entries["dirlink"]["type"] == "directory" and entries["dirlink"]["symlink"] is True
    assert entries["dangling"]["symlink"] is True  # listed, not a crash
    await box.files.delete("box", f"{root}/dirlink")  # the link, not the directory
    assert (workdir / "real").is_dir() and not (workdir / "dirlink").exists()


# ------------------------------------------------------------------ conflicts, errors


async def test_a_change_on_the_remote_is_detected_on_save(
    box: RemoteManager, files_host: SSHTestHost, workdir: Path
) -> None:
    path = f"{workdir}/notes.txt"
    opened = await box.files.save("box", path, {"type": "file", "format": "text", "content": "a"})
    as_user(files_host, "import os, sys; open(sys.argv[1], 'w').write('theirs');"
            "os.utime(sys.argv[1], (1e9, 1e9))", path)  # fmt: skip
    with pytest.raises(RemoteFileChangedError) as refused:
        await box.files.save(
            "box", path, {"type": "file", "format": "text", "content": "mine"},
            expect_modified=opened["last_modified"],
        )  # fmt: skip
    assert refused.value.status == 409 and refused.value.reason == "changed_on_remote"
    assert (workdir / "notes.txt").read_text() == "theirs"  # nothing overwritten
    current = await box.files.get("box", path, content=False, hash=True)
    assert current["last_modified"] != opened["last_modified"]  # what JupyterLab compares
    assert current["hash"] == hashlib.sha256(b"theirs").hexdigest()  # ... or this, first
    await box.files.save(
        "box", path, {"type": "file", "format": "text", "content": "mine"},
        expect_modified=current["last_modified"],
    )  # fmt: skip
    assert (workdir / "notes.txt").read_text() == "mine"


async def test_permission_errors_are_clear_and_change_nothing(
    box: RemoteManager, files_host: SSHTestHost, workdir: Path
) -> None:
    root = str(workdir)
    as_user(
        files_host,
        "import os, sys; d = sys.argv[1]; os.mkdir(d + '/locked'); os.chmod(d + '/locked', 0);"
        "open(d + '/ro.txt', 'w').write('keep'); os.mkdir(d + '/rodir');"
        "open(d + '/rodir/f', 'w').write('x'); os.chmod(d + '/rodir', 0o555)",
        root,
    )
    for attempt in (
        box.files.get("box", f"{root}/locked"),
        box.files.save("box", f"{root}/rodir/new.txt", {"type": "file", "format": "text",
                                                         "content": "x"}),
        box.files.delete("box", f"{root}/rodir/f"),
        box.files.rename("box", f"{root}/rodir/f", f"{root}/f"),
    ):  # fmt: skip
        with pytest.raises(RemotePermissionError) as refused:
            await attempt
        assert refused.value.status == 409 and refused.value.reason == "permission_denied"
        assert refused.value.hint
    assert sorted(os.listdir(workdir / "rodir")) == ["f"]
    with pytest.raises(NotFoundError):
        await box.files.get("box", f"{root}/missing/x")
    for bad in ("relative/path", "/a\x00b", "/" + "x" * 5000, 42, "/\ud800"):
        with pytest.raises(ValidationError):
            await box.files.get("box", bad)  # type: ignore[arg-type]


# ------------------------------------------------------------------ names


HOSTILE = [
    b"caf\xe9-latin1.txt",  # not UTF-8
    b"esc-\x1b[31mred\x1b[0m.txt",  # terminal escapes
    b"bidi-\xe2\x80\xaetxt.exe",  # right-to-left override
    b"bell-\x07-nl-\n-cr-\r.txt",
    b"long-" + b"x" * 240,
    "ünïcödé-✓.txt".encode(),
]


async def test_non_utf8_and_hostile_names_round_trip_and_are_escaped(
    box: RemoteManager, files_host: SSHTestHost, workdir: Path, cli_env: dict[str, str]
) -> None:
    root = str(workdir)
    as_user(
        files_host,
        "import os, sys; d = os.fsencode(sys.argv[1])\n"
        "for n in sys.argv[2:]: open(d + b'/' + bytes.fromhex(n), 'wb').write(bytes.fromhex(n))",
        root, *(n.hex() for n in HOSTILE),
    )  # fmt: skip
    listing = await box.files.get("box", root)
    by_name = {os.fsencode(e["path"]).rpartition(b"/")[2]: e for e in listing["content"]}
    assert set(by_name) == set(HOSTILE)
    for raw, entry in by_name.items():
        got = await box.files.get("box", entry["path"], format="base64")
        assert base64.b64decode(got["content"]) == raw  # the path reaches the same file
        assert not any(ord(c) < 32 or 0x7F <= ord(c) <= 0x9F or c == "\u202e"
                       for c in entry["name"]), entry["name"]  # fmt: skip
    assert by_name[HOSTILE[5]]["name"] == "ünïcödé-✓.txt"  # valid names unchanged
    assert by_name[HOSTILE[1]]["name"] == "esc-\\x1b[31mred\\x1b[0m.txt"
    latin = by_name[HOSTILE[0]]["path"]
    renamed = await box.files.rename("box", latin, latin.replace("latin1", "renamed"))
    assert os.path.exists(os.fsencode(root) + b"/caf\xe9-renamed.txt")
    assert renamed["name"] == "caf\\udce9-renamed.txt"

    result = run_cli(cli_env, "files", "ls", "box", root)
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout and "\u202e" not in result.stdout
    assert "esc-\\x1b[31mred" in result.stdout
    result = run_cli(cli_env, "files", "ls", "box", root, "--json")
    entries = json.loads(result.stdout)
    assert len(entries) == len(HOSTILE) and "\x1b" not in result.stdout


async def test_ten_thousand_entries_one_readdir_per_page(
    box: RemoteManager, files_host: SSHTestHost, workdir: Path
) -> None:
    as_user(
        files_host,
        "import os, sys\nfor i in range(10000): open('%s/f%05d' % (sys.argv[1], i), 'w')",
        str(workdir),
    )
    listing = await box.files.get("box", str(workdir))
    assert len(listing["content"]) == 10_000 and listing["truncated"] is False
    # OpenSSH's sftp-server sends at most 100 names per READDIR answer: 100 pages and the
    # empty one that says "end"; no stat per entry
    assert 100 <= listing["pages"] <= 102, listing["pages"]
    limited = await box.files.get("box", str(workdir), limit=250)
    assert len(limited["content"]) == 250 and limited["truncated"] is True


# ------------------------------------------------------------------ REST


def body_of(error: HTTPClientError) -> Any:
    assert error.response is not None
    return json.loads(error.response.body)


def _url(*parts: str) -> str:
    return "/".join(quote(p.encode("utf-8", "surrogateescape"), safe="/~") for p in parts)


async def test_rest_files_uploads_checkpoints_and_downloads(
    jp_fetch: Any, jp_serverapp: Any, files_host: SSHTestHost, workdir: Path
) -> None:
    manager = jp_serverapp.web_app.settings["remote_manager"]
    await manager.add_server(server_input(files_host))
    trust_host(manager.store, files_host)
    rel = str(workdir).lstrip("/")
    events: list[dict[str, Any]] = []
    unsubscribe = registry.subscribe(
        lambda event: events.append(event) if event["type"] == "transfer" else None
    )
    try:
        await _rest_files(jp_fetch, workdir, rel)
    finally:
        unsubscribe()
    said = [(e["direction"], e["path"].rpartition("/")[2], e["state"], e["bytes"]) for e in events]
    size = (2 << 20) + 3
    assert said[:5] == [
        ("upload", "up.bin", "running", 1 << 20),
        ("upload", "up.bin", "running", 2 << 20),
        ("upload", "up.bin", "done", size),
        ("upload", "cancelled.bin", "running", 1 << 20),
        ("upload", "cancelled.bin", "cancelled", 1 << 20),
    ], said
    downloads = said[5:]  # the whole file, then from byte 2 MiB (Range)
    assert [(d, n, state) for d, n, state, _ in downloads] == [
        ("download", "up.bin", "running"),
        ("download", "up.bin", "done"),
    ] * 2, said
    assert [b for *_, b in downloads][1::2] == [size, size]
    assert all(e["total"] == size for e in events if e["direction"] == "download")


async def _rest_files(jp_fetch: Any, workdir: Path, rel: str) -> None:

    async def call(method: str, route: str, path: str, body: Any = None, **kw: Any) -> Any:
        kwargs: dict[str, Any] = {"method": method, **kw}
        if body is not None:
            kwargs["body"] = json.dumps(body)
        elif method in ("POST", "PUT", "PATCH"):
            kwargs["body"] = ""
            kwargs["allow_nonstandard_methods"] = True
        resp = await jp_fetch("remote", "servers", "box", route, _url(path), **kwargs)
        return json.loads(resp.body) if resp.body and resp.code != 204 else resp

    model = await call("POST", "files", rel, {"type": "notebook"})
    assert model["path"] == f"{workdir}/Untitled.ipynb"
    chunk = os.urandom(1 << 20)
    for number, part in ((1, chunk), (2, chunk), (-1, b"end")):
        body = {"type": "file", "format": "base64", "chunk": number,
                "content": base64.b64encode(part).decode()}  # fmt: skip
        if number == 2:
            assert not (workdir / "up.bin").exists()  # never under the final name early
            with pytest.raises(HTTPClientError) as wrong:  # a wrong offset: ours back
                await call("PUT", "files", f"{rel}/up.bin", {**body, "offset": 5})
            assert wrong.value.code == 409
            assert body_of(wrong.value)["offset"] == 1 << 20
            body["offset"] = 1 << 20
        saved = await call("PUT", "files", f"{rel}/up.bin", body)
    assert (workdir / "up.bin").read_bytes() == chunk * 2 + b"end"
    assert saved["size"] == (2 << 20) + 3 and leftovers(workdir) == []

    one = {
        "type": "file",
        "format": "base64",
        "chunk": 1,
        "content": base64.b64encode(chunk).decode(),
    }
    await call("PUT", "files", f"{rel}/cancelled.bin", one)
    assert len(leftovers(workdir)) == 1
    assert (await call("DELETE", "uploads", f"{rel}/cancelled.bin"))["cancelled"] is True
    assert leftovers(workdir) == [] and not (workdir / "cancelled.bin").exists()

    resp = await jp_fetch("remote", "servers", "box", "download", _url(f"{rel}/up.bin"))
    assert resp.body == chunk * 2 + b"end"
    assert resp.headers["Content-Disposition"].startswith("attachment")
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    resp = await jp_fetch(
        "remote", "servers", "box", "download", _url(f"{rel}/up.bin"),
        headers={"Range": f"bytes={2 << 20}-"},
    )  # fmt: skip
    assert resp.code == 206 and resp.body == b"end"

    nb_path = f"{rel}/Untitled.ipynb"
    checkpoint = await call("POST", "checkpoints", nb_path)
    assert checkpoint["id"] == "checkpoint"
    assert (workdir / ".ipynb_checkpoints" / "Untitled-checkpoint.ipynb").exists()
    nb = await call("GET", "files", nb_path)
    nb["content"]["cells"] = [{"cell_type": "markdown", "source": "edited", "metadata": {},
                               "id": "m1"}]  # fmt: skip
    await call("PUT", "files", nb_path, {"type": "notebook", "format": "json",
                                          "content": nb["content"]})  # fmt: skip
    assert "edited" in (workdir / "Untitled.ipynb").read_text()
    assert [c["id"] for c in await call("GET", "checkpoints", nb_path)] == ["checkpoint"]
    await call("POST", "checkpoints", nb_path, params={"restore": "checkpoint"})
    assert "edited" not in (workdir / "Untitled.ipynb").read_text()
    await call("DELETE", "checkpoints", nb_path, params={"id": "checkpoint"})
    assert await call("GET", "checkpoints", nb_path) == []

    renamed = await call("PATCH", "files", f"{rel}/up.bin", {"path": f"{workdir}/moved.bin"})
    assert renamed["name"] == "moved.bin"
    with pytest.raises(HTTPClientError) as missing:
        await call("GET", "files", f"{rel}/up.bin")
    assert missing.value.code == 404
    answer = body_of(missing.value)
    assert answer["reason"] == "not_found" and answer["message"]
    await call("DELETE", "files", f"{rel}/moved.bin")
    assert not (workdir / "moved.bin").exists()
    with pytest.raises(HTTPClientError) as refused:
        await call("PATCH", "files", f"{rel}/Untitled.ipynb", {"path": "/x\x00y"})
    assert refused.value.code == 400 and (workdir / "Untitled.ipynb").exists()
    hostile_saves: list[Any] = [
        {"type": "directory", "chunk": 0},
        {"type": "directory", "offset": -1},
        {"type": "directory", "chunk": {"a": 1}},
        {"type": "directory", "expect_modified": 0},
        {"type": "file", "format": "P", "content": ""},
        {"content": "no type"},
    ]
    for hostile in hostile_saves:  # wrong anywhere: refused whatever the type
        with pytest.raises(HTTPClientError) as bad:
            await call("PUT", "files", f"{rel}/hostile", hostile)
        assert bad.value.code == 400, hostile
    assert not (workdir / "hostile").exists()
    before = sorted(p.name for p in workdir.iterdir())
    with pytest.raises(HTTPClientError) as bad:  # an unknown field: nothing is created
        await call("POST", "files", rel, {"type": "file", "name": "a" * 70_000})
    assert bad.value.code == 400 and sorted(p.name for p in workdir.iterdir()) == before
    with pytest.raises(HTTPClientError) as bad:
        await call("GET", "files", rel, params={"type": ""})
    assert bad.value.code == 400


# ------------------------------------------------------------------ notebooks that live there


async def test_a_remote_notebooks_kernel_runs_in_its_directory(
    jp_fetch: Any, jp_ws_fetch: Any, files_host: SSHTestHost, workdir: Path
) -> None:
    await asyncio.to_thread(setup_profile, files_host, cwd="/tmp")
    project = workdir / "proj"
    files_host.run_as_user(["mkdir", "-p", str(project)])
    drive_path = f"box:{str(project / 'train.ipynb').lstrip('/')}"
    body = {"path": drive_path, "name": "train.ipynb", "type": "notebook",
            "kernel": {"name": "remote-p"}}  # fmt: skip
    resp = await jp_fetch("api", "sessions", method="POST", body=json.dumps(body))
    session = json.loads(resp.body)
    kid = session["kernel"]["id"]
    try:
        ws = WSKernel(await jp_ws_fetch("api", "kernels", kid, "channels"))
        reply, out = await ws.execute("import os; print(os.getcwd())")
        assert reply["status"] == "ok" and out.strip() == str(project)
    finally:
        await jp_fetch("api", "sessions", session["id"], method="DELETE")
    # a local notebook keeps the profile's working directory
    body = {"path": "local.ipynb", "name": "local.ipynb", "type": "notebook",
            "kernel": {"name": "remote-p"}}  # fmt: skip
    session = json.loads(
        (await jp_fetch("api", "sessions", method="POST", body=json.dumps(body))).body
    )
    try:
        ws = WSKernel(await jp_ws_fetch("api", "kernels", session["kernel"]["id"], "channels"))
        reply, out = await ws.execute("import os; print(os.getcwd())")
        assert out.strip() == "/tmp"
    finally:
        await jp_fetch("api", "sessions", session["id"], method="DELETE")
