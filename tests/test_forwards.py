"""Service forwards: REST, the authenticated proxy route, reconnect, the CLI; real sshd.

The service is a real HTTP server started ON the remote as the remote user,
listening on the remote's 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from remote_fixtures import server_input
from sshd_host import SSHTestHost, _as_user_argv, free_port
from tornado.httpclient import HTTPClientError

from jupyter_remote import service_forwards
from jupyter_remote.sessions import registry

CLI = str(Path(sys.executable).parent / "jupyter-remote")

# Echoes the request line and headers it received as JSON (what reaches the service).
ECHO = r"""
import json, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
class H(BaseHTTPRequestHandler):
    def _echo(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = json.dumps({"method": self.command, "path": self.path,
                           "headers": dict(self.headers.items()),
                           "body": self.rfile.read(n).decode()}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Set-Cookie", "a=1; Path=/")
        self.send_header("Set-Cookie", "b=2; Path=/")
        self.send_header("Set-Cookie", "_xsrf=evil; Path=/")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    do_GET = do_POST = do_PUT = do_DELETE = _echo
    def log_message(self, *a):
        pass
HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""


# A websocket echo (tornado comes with ipykernel in the remote env).
WS_ECHO = r"""
import asyncio, sys
from tornado import web, websocket
class Echo(websocket.WebSocketHandler):
    def check_origin(self, origin):
        return origin == "http://" + self.request.host  # what a careful app does
    def on_message(self, message):
        self.write_message("echo:" + message)
async def main():
    web.Application([(r"/ws", Echo)]).listen(int(sys.argv[1]), "127.0.0.1")
    await asyncio.Event().wait()
asyncio.run(main())
"""


@pytest.fixture
def jp_server_config() -> dict[str, Any]:
    return {"ServerApp": {"jpserver_extensions": {"jupyter_remote": True}}}


class RemoteService:
    """A process on the remote (as the remote user) listening on the remote's 127.0.0.1."""

    def __init__(self, host: SSHTestHost, argv: list[str], port: int) -> None:
        self.host, self.port = host, port
        self.proc = subprocess.Popen(
            _as_user_argv(host.user, argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            cwd="/",
        )
        deadline = time.monotonic() + 20
        while not port_open(port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise RuntimeError(f"remote service on port {port} did not start")
            time.sleep(0.05)

    def close(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(10)


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def remote_http(ssh_host: SSHTestHost) -> Iterator[tuple[int, str]]:
    """``python -m http.server`` on the remote serving file.txt; yields (port, content)."""
    directory = Path(tempfile.mkdtemp(prefix="jr-fwd-", dir="/tmp"))
    os.chmod(directory, 0o755)  # noqa: S103 - the remote user reads it
    content = f"hello from the remote {secrets.token_hex(8)}\n"
    (directory / "file.txt").write_text(content)
    (directory / "big.bin").write_bytes(os.urandom(3 * 1024 * 1024))
    for path in directory.iterdir():
        os.chmod(path, 0o644)
    port = free_port()
    argv = [ssh_host.remote_python, "-m", "http.server", str(port)]
    service = RemoteService(
        ssh_host, [*argv, "--bind", "127.0.0.1", "--directory", str(directory)], port
    )
    try:
        yield port, content
    finally:
        service.close()
        for path in directory.iterdir():
            path.unlink()
        directory.rmdir()


@pytest.fixture
def remote_echo(ssh_host: SSHTestHost) -> Iterator[int]:
    port = free_port()
    service = RemoteService(ssh_host, [ssh_host.remote_python, "-c", ECHO, str(port)], port)
    try:
        yield port
    finally:
        service.close()


@pytest.fixture
def remote_ws(ssh_host: SSHTestHost) -> Iterator[int]:
    port = free_port()
    service = RemoteService(ssh_host, [ssh_host.remote_python, "-c", WS_ECHO, str(port)], port)
    try:
        yield port
    finally:
        service.close()


@pytest.fixture
def box(jp_fetch: Any, jp_asyncio_loop: Any, ssh_host: SSHTestHost) -> Iterator[str]:
    """Server `box` saved and its host key trusted over REST; every forward stopped after."""

    async def setup() -> None:
        await call(jp_fetch, "POST", "remote", "servers", body=server_input(ssh_host))
        body = {"server": "box", "fingerprint": ssh_host.host_key_fingerprint}
        await call(jp_fetch, "POST", "remote", "hostkeys", body=body)

    jp_asyncio_loop.run_until_complete(setup())
    yield "box"
    jp_asyncio_loop.run_until_complete(service_forwards.stop_all())


async def call(jp_fetch: Any, method: str, *parts: str, body: Any = None, **kw: Any) -> Any:
    kwargs: dict[str, Any] = {"method": method, **kw}
    if body is not None:
        kwargs["body"] = body if isinstance(body, (bytes, str)) else json.dumps(body)
    elif method in ("POST", "PATCH", "PUT"):
        kwargs["body"] = "{}"
    return await jp_fetch(*parts, **kwargs)


async def expect_error(jp_fetch: Any, status: int, method: str, *parts: str, **kw: Any) -> Any:
    with pytest.raises(HTTPClientError) as info:
        await call(jp_fetch, method, *parts, **kw)
    assert info.value.code == status, info.value.response.body if info.value.response else ""
    return info.value.response


async def wait_for(predicate: Any, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.1)
    return True


async def open_forward(jp_fetch: Any, remote_port: int, **extra: Any) -> dict[str, Any]:
    resp = await call(
        jp_fetch,
        "POST",
        "remote",
        "forwards",
        body={"server": "box", "remote_port": remote_port, **extra},
    )
    assert resp.code == 201
    return dict(json.loads(resp.body))


def fetch_direct_bytes(port: int, path: str) -> bytes:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/{path}", timeout=10) as r:
        return bytes(r.read())


def fetch_direct(port: int, path: str = "file.txt") -> str:
    return fetch_direct_bytes(port, path).decode()


# ---------------------------------------------------------------------------- server


async def test_forward_through_the_proxy_with_auth_only(
    jp_fetch: Any, box: str, remote_http: tuple[int, str], ssh_host: SSHTestHost
) -> None:
    remote_port, content = remote_http
    fwd = await open_forward(jp_fetch, remote_port)
    fid, local = fwd["id"], fwd["local_port"]
    assert fwd["kind"] == "forward" and fwd["server"] == "box"
    assert fwd["remote_port"] == remote_port and fwd["state"] == "running"
    assert fwd["url"] == f"/remote/forward/{fid}/" and local > 0
    assert await wait_for(lambda: ssh_host.established_connections() == 1)

    resp = await jp_fetch("remote", "forward", fid, "file.txt")
    assert resp.body.decode() == content
    assert await asyncio.to_thread(fetch_direct, local) == content  # the local port itself
    big = (await jp_fetch("remote", "forward", fid, "big.bin")).body
    assert len(big) == 3 * 1024 * 1024 and big == await asyncio.to_thread(
        fetch_direct_bytes, local, "big.bin"
    )
    head = await jp_fetch("remote", "forward", fid, "file.txt", method="HEAD")
    assert head.code == 200 and int(head.headers["Content-Length"]) == len(content)
    missing = await expect_error(jp_fetch, 404, "GET", "remote", "forward", fid, "nope.txt")
    assert content.encode() not in missing.body  # the service's own 404, passed through

    for headers in ({"Authorization": ""}, {"Authorization": "token not-the-token"}):
        refused = await expect_error(
            jp_fetch, 403, "GET", "remote", "forward", fid, "file.txt", headers=headers
        )
        assert content.encode() not in refused.body

    sessions = json.loads((await jp_fetch("remote", "sessions")).body)
    assert [(s["id"], s["kind"], s["local_port"]) for s in sessions] == [(fid, "forward", local)]
    listed = json.loads((await jp_fetch("remote", "forwards")).body)
    assert [f["id"] for f in listed] == [fid]
    one = json.loads((await jp_fetch("remote", "forwards", fid)).body)
    assert one["state"] == "running"
    assert ssh_host.established_connections() == 1

    assert (await call(jp_fetch, "DELETE", "remote", "forwards", fid)).code == 204
    assert json.loads((await jp_fetch("remote", "sessions")).body) == []
    assert not port_open(local)
    assert await wait_for(lambda: ssh_host.established_connections() == 0, 5)
    await expect_error(jp_fetch, 404, "GET", "remote", "forward", fid, "file.txt")
    await expect_error(jp_fetch, 404, "DELETE", "remote", "forwards", fid)


async def test_proxy_passes_methods_and_keeps_jupyter_credentials(
    jp_fetch: Any, jp_serverapp: Any, box: str, remote_echo: int
) -> None:
    fwd = await open_forward(jp_fetch, remote_echo)
    fid = fwd["id"]
    token = jp_serverapp.identity_provider.token
    resp = await call(
        jp_fetch,
        "POST",
        "remote",
        "forward",
        fid,
        "api",
        "run",
        body=b"x=1",
        params={"a": "1 2", "token": token},
        headers={"Cookie": "app=keep; _xsrf=secret", "X-Custom": "yes"},
    )
    echo = json.loads(resp.body)
    headers = {k.lower(): v for k, v in echo["headers"].items()}
    assert echo["method"] == "POST" and echo["body"] == "x=1"
    assert echo["path"].startswith("/api/run?") and "a=1+2" in echo["path"]
    assert "token" not in echo["path"] and token not in json.dumps(echo)
    assert "authorization" not in headers  # the Jupyter token never reaches the service
    assert headers["cookie"] == "app=keep"
    assert headers["x-custom"] == "yes"
    assert headers["host"] == f"127.0.0.1:{fwd['local_port']}"
    assert headers["x-forwarded-prefix"].endswith(f"/remote/forward/{fid}")
    cookies = resp.headers.get_list("Set-Cookie")
    assert [c for c in cookies if c[:2] in ("a=", "b=")] == ["a=1; Path=/", "b=2; Path=/"]
    assert not any("evil" in c for c in cookies)  # the service cannot set Jupyter's cookies
    assert resp.headers["Content-Type"] == "application/json"

    for method in ("PUT", "DELETE"):
        resp = await call(
            jp_fetch, method, "remote", "forward", fid, "x", body="{}" if method == "PUT" else None
        )
        assert json.loads(resp.body)["method"] == method

    # no trailing slash: redirected to the root of the service
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("remote", "forward", fid, follow_redirects=False)
    assert info.value.code == 302
    assert info.value.response is not None
    assert info.value.response.headers["Location"].endswith(f"/remote/forward/{fid}/")


async def test_reconnect_keeps_the_local_port(
    jp_fetch: Any, box: str, remote_http: tuple[int, str], ssh_host: SSHTestHost
) -> None:
    remote_port, content = remote_http
    events: list[dict[str, Any]] = []
    unsubscribe = registry.subscribe(events.append)
    try:
        fwd = await open_forward(jp_fetch, remote_port)
        fid, local = fwd["id"], fwd["local_port"]
        assert (await jp_fetch("remote", "forward", fid, "file.txt")).body.decode() == content
        with ssh_host.outage():
            await asyncio.sleep(3)
            state = json.loads((await jp_fetch("remote", "forwards", fid)).body)["state"]
            assert state == "reconnecting"
            failed = await expect_error(jp_fetch, 502, "GET", "remote", "forward", fid, "file.txt")
            assert "reconnecting" in json.loads(failed.body)["message"]
        back = time.monotonic()

        def running() -> bool:
            return registry.sessions[fid].state == "running"

        assert await wait_for(running, 15)
        print(f"running again {time.monotonic() - back:.2f} s after sshd came back")
        again = json.loads((await jp_fetch("remote", "forwards", fid)).body)
        assert again["local_port"] == local and again["reconnects"] == 1
        assert (await jp_fetch("remote", "forward", fid, "file.txt")).body.decode() == content
        assert await asyncio.to_thread(fetch_direct, local) == content
        assert ssh_host.established_connections() == 1

        states = [e["session"]["state"] for e in events if e.get("session", {}).get("id") == fid]
        assert states[-3:] == ["running", "reconnecting", "running"]

        # the one Stop button of the sessions view stops forwards too
        assert (await call(jp_fetch, "DELETE", "remote", "sessions", fid)).code == 204
        assert not port_open(local)
        assert await wait_for(lambda: ssh_host.established_connections() == 0, 5)
        assert [e["session"]["state"] for e in events if e.get("session", {}).get("id") == fid][
            -1
        ] == "stopped"
    finally:
        unsubscribe()


async def test_websocket_through_the_proxy(
    jp_fetch: Any,
    jp_ws_fetch: Any,
    jp_serverapp: Any,
    jp_http_port: int,
    box: str,
    remote_ws: int,
) -> None:
    fid = (await open_forward(jp_fetch, remote_ws))["id"]
    ws = await jp_ws_fetch("remote", "forward", fid, "ws")
    for text in ("hello", "x" * 100_000):
        await ws.write_message(text)
        assert await asyncio.wait_for(ws.read_message(), 10) == "echo:" + text
    ws.close()
    # a browser's login cookie works from our own pages, never from another site's
    token = jp_serverapp.identity_provider.token
    login = await jp_fetch("remote", "forwards", params={"token": token})
    cookie = "; ".join(c.split(";")[0] for c in login.headers.get_list("Set-Cookie"))
    host = f"127.0.0.1:{jp_http_port}"  # the login cookie's name is bound to the host
    browser = {"Authorization": "", "Cookie": cookie, "Host": host}
    ws = await jp_ws_fetch(
        "remote", "forward", fid, "ws", headers={**browser, "Origin": f"http://{host}"}
    )
    await ws.write_message("cookie")
    assert await asyncio.wait_for(ws.read_message(), 10) == "echo:cookie"
    ws.close()
    with pytest.raises(HTTPClientError) as info:  # the service refuses: its status, closed
        await jp_ws_fetch("remote", "forward", fid, "nowhere")
    assert info.value.code == 404
    for headers in (
        {"Authorization": ""},
        {**browser, "Origin": "http://evil.example"},
    ):
        with pytest.raises(HTTPClientError) as info:
            await jp_ws_fetch("remote", "forward", fid, "ws", headers=headers)
        assert info.value.code in (403, 404)


async def test_cookie_auth_needs_xsrf_for_mutating_methods(
    jp_fetch: Any, jp_serverapp: Any, jp_http_port: int, box: str, remote_echo: int
) -> None:
    """A browser (cookie auth) must send Jupyter's XSRF token on POST; the service
    gets neither the login cookie nor the XSRF token."""
    fid = (await open_forward(jp_fetch, remote_echo))["id"]
    token = jp_serverapp.identity_provider.token
    login = await jp_fetch("remote", "forwards", params={"token": token})
    cookie = "; ".join(c.split(";")[0] for c in login.headers.get_list("Set-Cookie"))
    browser = {"Authorization": "", "Host": f"127.0.0.1:{jp_http_port}"}
    got = await call(
        jp_fetch, "GET", "remote", "forward", fid, "g", headers={**browser, "Cookie": cookie}
    )
    assert json.loads(got.body)["method"] == "GET"
    await expect_error(
        jp_fetch, 403, "POST", "remote", "forward", fid, "p", headers={**browser, "Cookie": cookie}
    )
    xsrf = secrets.token_hex(16)
    resp = await call(
        jp_fetch,
        "POST",
        "remote",
        "forward",
        fid,
        "p",
        headers={**browser, "Cookie": f"{cookie}; _xsrf={xsrf}; app=1", "X-XSRFToken": xsrf},
    )
    echo = json.loads(resp.body)
    assert echo["method"] == "POST"
    assert echo["headers"].get("Cookie") == "app=1"
    assert xsrf not in json.dumps(echo) and "username-" not in json.dumps(echo)


async def test_server_stop_stops_its_forwards(
    jp_fetch: Any, jp_serverapp: Any, box: str, remote_http: tuple[int, str], ssh_host: SSHTestHost
) -> None:
    fwd = await open_forward(jp_fetch, remote_http[0])
    await jp_serverapp.extension_manager.stop_all_extensions()
    assert fwd["id"] not in registry.sessions
    assert not port_open(fwd["local_port"])
    assert await wait_for(lambda: ssh_host.established_connections() == 0, 5)


async def test_impostor_at_reconnect_disconnects_then_retry(
    jp_fetch: Any, box: str, remote_http: tuple[int, str], ssh_host: SSHTestHost
) -> None:
    remote_port, content = remote_http
    fwd = await open_forward(jp_fetch, remote_port)
    fid, local = fwd["id"], fwd["local_port"]
    ssh_host.restart_with_new_host_key()
    try:
        session = registry.sessions[fid]
        assert await wait_for(lambda: session.state == "disconnected", 15)
        assert "CHANGED" in session.reason
        logins = ssh_host.log_text().count("Connection from")
        assert logins > 0
        await asyncio.sleep(3)
        assert session.state == "disconnected"
        assert ssh_host.log_text().count("Connection from") == logins  # no retry storm
        listed = json.loads((await jp_fetch("remote", "sessions")).body)
        assert [(s["id"], s["state"]) for s in listed] == [(fid, "disconnected")]
    finally:
        ssh_host.restore_original_host_key()
    retried = await call(jp_fetch, "POST", "remote", "sessions", fid, "retry")
    assert json.loads(retried.body)["state"] == "reconnecting"
    assert await wait_for(lambda: registry.sessions[fid].state == "running", 15)
    assert registry.sessions[fid].local_port == local
    assert (await jp_fetch("remote", "forward", fid, "file.txt")).body.decode() == content


@pytest.mark.parametrize(
    "body,status",
    [
        ({"server": "box", "remote_port": 0}, 400),
        ({"server": "box", "remote_port": 70000}, 400),
        ({"server": "box", "remote_port": -1}, 400),
        ({"server": "box", "remote_port": "x"}, 400),
        ({"server": "box", "remote_port": "80; id"}, 400),
        ({"server": "box", "remote_port": True}, 400),
        ({"server": "box", "remote_port": 1.5}, 400),
        ({"server": "box"}, 400),
        ({"server": "box", "remote_port": 8080, "local_port": 70000}, 400),
        ({"server": "box", "remote_port": 8080, "local_port": "x"}, 400),
        ({"server": "box", "remote_port": 8080, "bind": "any"}, 400),
        ({"server": "$(id)", "remote_port": 8080}, 400),
        ({"server": 5, "remote_port": 8080}, 400),
        ({"remote_port": 8080}, 400),
        ({"server": "nobody", "remote_port": 8080}, 404),
    ],
)
async def test_hostile_input_opens_nothing(
    jp_fetch: Any, box: str, ssh_host: SSHTestHost, body: dict[str, Any], status: int
) -> None:
    resp = await expect_error(jp_fetch, status, "POST", "remote", "forwards", body=body)
    err = json.loads(resp.body)
    assert err["message"] and "reason" in err
    assert json.loads((await jp_fetch("remote", "forwards")).body) == []
    assert json.loads((await jp_fetch("remote", "sessions")).body) == []
    assert ssh_host.established_connections() == 0


async def test_busy_local_port_is_409_and_releases_the_connection(
    jp_fetch: Any, box: str, remote_http: tuple[int, str], ssh_host: SSHTestHost
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        resp = await expect_error(
            jp_fetch,
            409,
            "POST",
            "remote",
            "forwards",
            body={"server": "box", "remote_port": remote_http[0], "local_port": port},
        )
        assert str(port) in json.loads(resp.body)["message"]
    assert json.loads((await jp_fetch("remote", "sessions")).body) == []
    assert await wait_for(lambda: ssh_host.established_connections() == 0, 5)


async def test_unknown_forward_ids_are_404(jp_fetch: Any, box: str) -> None:
    await expect_error(jp_fetch, 404, "GET", "remote", "forward", "fwd-nope", "x")
    await expect_error(jp_fetch, 404, "GET", "remote", "forwards", "fwd-nope")
    await expect_error(jp_fetch, 404, "DELETE", "remote", "sessions", "fwd-nope")


# ------------------------------------------------------------------------------- CLI


@pytest.fixture
def cli_env(isolated_home: Path, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER")}
    env.update(
        HOME=str(isolated_home),
        JUPYTER_DATA_DIR=str(tmp_path / "data"),
        JUPYTER_CONFIG_DIR=str(tmp_path / "config"),
        JUPYTER_PLATFORM_DIRS="1",
    )
    env.pop("SSH_AUTH_SOCK", None)
    return env


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, *args], env=env, capture_output=True, text=True, timeout=90, check=False
    )


def add_box(env: dict[str, str], host: SSHTestHost) -> None:
    args = ["--host", host.host, "--port", str(host.port), "--user", host.user]
    result = cli(env, "server", "add", "box", *args, "--identity", str(host.user_key))
    assert result.returncode == 0, result.stderr


def read_line(proc: subprocess.Popen[str], timeout: float) -> str:
    assert proc.stdout is not None
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        if not sel.select(timeout):
            return ""
    return proc.stdout.readline()


def test_cli_forward_until_sigint(
    cli_env: dict[str, str], ssh_host: SSHTestHost, remote_http: tuple[int, str]
) -> None:
    remote_port, content = remote_http
    add_box(cli_env, ssh_host)
    unknown = cli(cli_env, "forward", "box", str(remote_port))
    assert unknown.returncode == 3 and ssh_host.host_key_fingerprint in unknown.stderr
    assert cli(cli_env, "server", "test", "box", "--trust").returncode == 0
    assert ssh_host.established_connections() == 0

    local = free_port()
    proc = subprocess.Popen(
        [CLI, "forward", "box", str(remote_port), "--local-port", str(local)],
        env=cli_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = read_line(proc, 30)
        assert line.strip() == (
            f"Forwarding http://127.0.0.1:{local} -> box:127.0.0.1:{remote_port} (Ctrl-C to stop)"
        ), line
        assert fetch_direct(local) == content
        assert ssh_host.established_connections() == 1

        with ssh_host.outage():
            time.sleep(2)
            assert not port_open(local)  # nothing half-open while the link is down
        deadline = time.monotonic() + 15
        while not port_open(local) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert fetch_direct(local) == content
        assert ssh_host.established_connections() == 1

        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=15)
        assert proc.returncode == 0, err
        assert "reconnecting" in err and "running" in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert not port_open(local)
    deadline = time.monotonic() + 5
    while ssh_host.established_connections() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert ssh_host.established_connections() == 0


def test_cli_forward_sigterm_and_random_local_port(
    cli_env: dict[str, str], ssh_host: SSHTestHost, remote_http: tuple[int, str]
) -> None:
    remote_port, content = remote_http
    add_box(cli_env, ssh_host)
    assert cli(cli_env, "server", "test", "box", "--trust").returncode == 0
    proc = subprocess.Popen(
        [CLI, "forward", "box", str(remote_port)],
        env=cli_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = read_line(proc, 30)
        assert line.startswith("Forwarding http://127.0.0.1:"), line
        local = int(line.split("http://127.0.0.1:")[1].split()[0])
        assert fetch_direct(local) == content
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=15)
        assert proc.returncode == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert not port_open(local)


def test_cli_forward_usage_and_key_errors(
    cli_env: dict[str, str], impostor: SSHTestHost, tmp_path: Path
) -> None:
    for args in (
        ["x"],
        ["0"],
        ["70000"],
        ["8080", "--local-port", "70000"],
        ["8080", "--local-port", "x"],
    ):
        result = cli(cli_env, "forward", "box", *args)
        assert result.returncode == 2, (args, result.stderr)
    assert cli(cli_env, "forward", "nobody", "8080").returncode == 1
    add_box(cli_env, impostor)
    # trust the ORIGINAL key (as known_hosts), then meet the impostor: changed, exit 4
    known = Path(cli_env["HOME"]) / ".ssh" / "known_hosts"
    original = impostor.original_host_key_path.with_suffix(".pub").read_text().split()
    known.write_text(f"[{impostor.host}]:{impostor.port} {original[0]} {original[1]}\n")
    changed = cli(cli_env, "forward", "box", "8080")
    assert changed.returncode == 4, changed.stderr
    assert impostor.host_key_fingerprint in changed.stderr
