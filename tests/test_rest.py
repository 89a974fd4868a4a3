"""REST API through a real Jupyter server (token auth, XSRF on) against a real sshd.

Every route refusing requests without valid credentials: tests/test_auth_audit.py.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from tests.harness.rest import call, expect_error_body, save_box
from tests.harness.servers import server_input
from tests.harness.sshd_host import SSHTestHost


async def list_servers(jp_fetch: Any) -> list[dict[str, Any]]:
    return json.loads((await call(jp_fetch, "GET", "remote", "servers")).body)


async def test_servers_crud_test_and_hostkey_flow(jp_fetch: Any, ssh_host: SSHTestHost) -> None:
    assert await list_servers(jp_fetch) == []
    resp = await call(jp_fetch, "POST", "remote", "servers", body=server_input(ssh_host))
    assert resp.code == 201
    saved = json.loads(resp.body)
    assert saved["name"] == "box" and saved["port"] == ssh_host.port and not saved["readonly"]

    err = await expect_error_body(jp_fetch, 409, "POST", "remote", "servers", "box", "test")
    assert err["reason"] == "hostkey_unknown"
    assert err["fingerprint"] == ssh_host.host_key_fingerprint
    assert err["hint"] and err["message"]

    resp = await call(
        jp_fetch,
        "POST",
        "remote",
        "hostkeys",
        body={"server": "box", "fingerprint": err["fingerprint"]},
    )
    assert resp.code == 201
    keys = json.loads((await call(jp_fetch, "GET", "remote", "hostkeys")).body)
    assert [k["fingerprint"] for k in keys] == [ssh_host.host_key_fingerprint]
    assert all("public_key" not in k for k in keys)

    result = json.loads((await call(jp_fetch, "POST", "remote", "servers", "box", "test")).body)
    assert result["reachable"] and result["auth"] == "ok" and result["rtt_ms"] > 0

    resp = await call(jp_fetch, "PATCH", "remote", "servers", "box", body={"user": ssh_host.user})
    assert json.loads(resp.body)["user"] == ssh_host.user

    hid = f"[127.0.0.1]:{ssh_host.port}"  # jp_fetch URL-quotes path parts
    removed = json.loads((await call(jp_fetch, "DELETE", "remote", "hostkeys", hid)).body)
    assert removed == {"removed": 1}
    await expect_error_body(jp_fetch, 404, "DELETE", "remote", "hostkeys", hid)

    assert (await call(jp_fetch, "DELETE", "remote", "servers", "box")).code == 204
    assert await list_servers(jp_fetch) == []


async def test_impostor_key_cannot_be_trusted_over_rest(
    jp_fetch: Any, ssh_host: SSHTestHost
) -> None:
    await save_box(jp_fetch, ssh_host)
    ssh_host.restart_with_new_host_key()
    try:
        err = await expect_error_body(jp_fetch, 409, "POST", "remote", "servers", "box", "test")
        assert err["reason"] == "hostkey_changed"
        err = await expect_error_body(
            jp_fetch,
            409,
            "POST",
            "remote",
            "hostkeys",
            body={"server": "box", "fingerprint": ssh_host.host_key_fingerprint},
        )
        assert err["reason"] == "hostkey_changed"
        keys = json.loads((await call(jp_fetch, "GET", "remote", "hostkeys")).body)
        assert [k["fingerprint"] for k in keys] == [ssh_host.previous_host_key_fingerprint]
    finally:
        ssh_host.restore_original_host_key()


HOSTILE = ["a;b", "$(touch /tmp/pwned)", "`id`", "a\nb", "../x", "x" * 10_000, "a\x00b"]


@pytest.mark.parametrize("bad", HOSTILE)
@pytest.mark.parametrize("field", ["name", "host", "user", "jump", "identity"])
async def test_hostile_input_is_400_and_changes_nothing(
    jp_fetch: Any, jp_data_dir: Path, field: str, bad: str
) -> None:
    body = {"name": "ok", "host": "example.org", field: bad}
    err = await expect_error_body(jp_fetch, 400, "POST", "remote", "servers", body=body)
    assert err["reason"] == "invalid" and err["message"]
    assert await list_servers(jp_fetch) == []
    assert not (jp_data_dir / "remote" / "servers.json").exists()
    assert not Path("/tmp/pwned").exists()


@pytest.mark.parametrize(
    "body",
    [
        b"\xff\xfe not utf-8",
        b"{not json",
        b"[1, 2]",
        b'"string"',
        b'{"name": 5, "host": "h"}',
        b'{"name": "a", "host": "h", "port": 70000}',
        b'{"name": "a", "host": "h", "evil": 1}',
        b'{"name": "a", "host": "h", "auth": "none"}',
    ],
)
async def test_malformed_bodies_are_400(jp_fetch: Any, body: bytes) -> None:
    await expect_error_body(jp_fetch, 400, "POST", "remote", "servers", body=body)
    assert await list_servers(jp_fetch) == []


@pytest.mark.parametrize("name", ["$(id)", "a\nb", "a;b", "`id`", "x" * 300])
async def test_hostile_path_names_are_400(jp_fetch: Any, name: str) -> None:
    await expect_error_body(jp_fetch, 400, "GET", "remote", "servers", name)
    await expect_error_body(jp_fetch, 400, "DELETE", "remote", "hostkeys", name)


async def test_password_never_in_responses_or_logs(
    jp_fetch: Any,
    password_ssh_host: SSHTestHost,
    jp_data_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    host = password_ssh_host
    assert host.password
    seen: list[bytes] = []
    body = server_input(host, identity=None, auth="password", password=host.password)
    seen.append((await call(jp_fetch, "POST", "remote", "servers", body=body)).body)
    err = await expect_error_body(jp_fetch, 409, "POST", "remote", "servers", "box", "test")
    seen.append(json.dumps(err).encode())
    resp = await call(
        jp_fetch,
        "POST",
        "remote",
        "hostkeys",
        body={"server": "box", "fingerprint": err["fingerprint"]},
    )
    seen.append(resp.body)
    resp = await call(jp_fetch, "POST", "remote", "servers", "box", "test")
    assert json.loads(resp.body)["auth_method"] == "password"
    seen.append(resp.body)
    for path in ("servers", "hostkeys", "servers/box"):
        seen.append((await call(jp_fetch, "GET", "remote", *path.split("/"))).body)
    assert json.loads(seen[-1])["has_secret"] is True
    for blob in seen:
        assert host.password.encode() not in blob
    assert host.password not in caplog.text
    for path in (jp_data_dir / "remote").iterdir():
        assert host.password not in path.read_text(errors="replace")


async def test_openapi_document_is_served(jp_fetch: Any) -> None:
    spec = json.loads((await call(jp_fetch, "GET", "remote", "openapi.json")).body)
    assert spec["openapi"].startswith("3.")
    assert "/remote/servers/{name}/test" in spec["paths"]


async def test_admin_servers_read_only_over_rest(jp_fetch: Any, jp_serverapp: Any) -> None:
    manager = jp_serverapp.web_app.settings["remote_manager"]
    manager.store._admin_servers = {}
    from jupyter_remote.store import Server

    admin = Server.from_input({"name": "shared", "host": "login.cluster"}, readonly=True)
    manager.store._admin_servers["shared"] = admin
    servers = await list_servers(jp_fetch)
    assert servers[0]["name"] == "shared" and servers[0]["readonly"] is True
    err = await expect_error_body(jp_fetch, 409, "DELETE", "remote", "servers", "shared")
    assert err["reason"] == "read_only"
    await expect_error_body(
        jp_fetch, 409, "PATCH", "remote", "servers", "shared", body={"user": "x"}
    )


async def test_a_jupyter_servers_gpus_are_unknown_not_its_kernelspecs(jp_fetch: Any) -> None:
    """A Jupyter server's host is never probed: its GPUs read as never probed (the route
    once answered the server's kernelspecs, which no GPU reader can use)."""
    body = {"name": "lab", "kind": "jupyter", "url": "http://127.0.0.1:9/", "auth": "none"}
    assert (await call(jp_fetch, "POST", "remote", "servers", body=body)).code == 201
    answer = json.loads((await call(jp_fetch, "GET", "remote", "servers", "lab", "gpus")).body)
    assert answer == {"server": "lab", "gpus": None, "probed_at": None}
    await expect_error_body(jp_fetch, 404, "GET", "remote", "servers", "nobody", "gpus")
