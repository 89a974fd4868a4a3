"""Service forwards: REST, the entry and sandbox routes, reconnect, the CLI; real sshd.

The service is a real HTTP server started ON the remote as the remote user,
listening on the remote's 127.0.0.1 only (or, for the tests that count what
reaches it, one in this process: the test host is this machine). A forwarded
page is never same-origin with Jupyter (invariant 11): the entry route
``/remote/forward/<id>/`` needs Jupyter's auth and only redirects; the sandbox
route ``/remote/sandbox/<id>/<secret>/`` serves, sandboxed, on the capability
alone. What a real browser makes of it: ui-tests/tests/forward-isolation.spec.ts.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import os
import re
import secrets
import selectors
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
import websocket  # websocket-client
from jupyter_server.auth.authorizer import AllowAllAuthorizer
from tornado import httputil
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest, HTTPResponse
from tornado.websocket import websocket_connect

from jupyter_remote.sessions import forward as service_forwards
from jupyter_remote.sessions import registry
from jupyter_remote.web.forward_origin import browser_on_this_machine
from tests.harness.cli import CLI, add_box, run_cli
from tests.harness.fixtures import SANDBOX_HOST, server_config
from tests.harness.live_server import live_server
from tests.harness.rest import call, expect_error, save_box
from tests.harness.servers import server_input
from tests.harness.sshd_host import SSHTestHost, as_user_argv, free_port
from tests.harness.waiting import NeverHappened, eventually, eventually_async

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
    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _echo
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
    """Jupyter also answers to SANDBOX_HOST: a browser that uses it gets the sandbox route."""
    return server_config(local_hostnames=["localhost", "lab.localhost", SANDBOX_HOST])


class RemoteService:
    """A process on the remote (as the remote user) listening on the remote's 127.0.0.1."""

    def __init__(self, host: SSHTestHost, argv: list[str], port: int) -> None:
        self.host, self.port = host, port
        self.proc = subprocess.Popen(
            as_user_argv(host.user, argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            cwd="/",
        )
        with contextlib.suppress(NeverHappened):  # listening, or exited: no use waiting
            eventually(lambda: port_open(port) or self.proc.poll() is not None, timeout=20)
        if not port_open(port):
            self.close()
            raise RuntimeError(f"remote service on port {port} did not start")

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

    jp_asyncio_loop.run_until_complete(save_box(jp_fetch, ssh_host))
    yield "box"
    jp_asyncio_loop.run_until_complete(service_forwards.stop_all())


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

SANDBOX_CSP = "sandbox allow-scripts allow-forms allow-popups allow-modals allow-downloads"
SECRET_RE = r"[A-Za-z0-9_-]{22}"  # secrets.token_urlsafe(16): 128 bits


class Browser:
    """Requests as a sandboxed page sends them to the server: no Jupyter credentials
    (the page has no cookie of Jupyter's and no token), only the URL it was given."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.http = AsyncHTTPClient()

    async def fetch(
        self,
        path: str,
        method: str = "GET",
        body: bytes | str | None = None,
        headers: dict[str, str] | None = None,
    ) -> HTTPResponse:
        request = HTTPRequest(
            f"http://127.0.0.1:{self.port}{path}",
            method=method,
            headers=headers or {},
            body=body if body is not None or method not in ("POST", "PUT", "PATCH") else b"",
            allow_nonstandard_methods=True,
            follow_redirects=False,
            request_timeout=60,
        )
        return await self.http.fetch(request, raise_error=False)

    async def websocket(self, path: str, headers: dict[str, str] | None = None) -> Any:
        request = HTTPRequest(f"ws://127.0.0.1:{self.port}{path}", headers=headers or {})
        return await websocket_connect(request)


@pytest.fixture
def browser(http_server_client: Any, jp_http_port: int) -> Browser:
    return Browser(jp_http_port)


async def entry(
    jp_fetch: Any, fid: str, *path: str, method: str = "GET", host: str = SANDBOX_HOST, **kw: Any
) -> str:
    """Where the (Jupyter-authenticated) entry route sends a browser that named Jupyter
    ``host``: the sandbox path (the default), or the forward's own origin when ``host``
    is a loopback name."""
    kw["headers"] = {"Host": host, **kw.get("headers", {})}
    with pytest.raises(HTTPClientError) as info:
        await call(jp_fetch, method, "remote", "forward", fid, *path, follow_redirects=False, **kw)
    assert info.value.code == (303 if method in ("GET", "HEAD") else 307), info.value
    assert info.value.response is not None
    headers = info.value.response.headers
    assert headers["Cache-Control"] == "no-store"
    return str(headers["Location"])


def prefix_of(location: str, fid: str) -> str:
    """The sandbox prefix (base_url/remote/sandbox/<id>/<secret>) of a sandbox URL."""
    found = re.match(rf"^(.*/remote/sandbox/{fid}/{SECRET_RE})(/|$)", location)
    assert found, location
    return found.group(1)


def assert_sandboxed(resp: HTTPResponse, what: str = "") -> None:
    """The answer carries the sandbox: opaque origin, no referrer, no sniffing."""
    policies = resp.headers.get_list("Content-Security-Policy")
    assert policies and policies[0] == SANDBOX_CSP, (what, policies)
    assert not any("frame-ancestors" in p for p in policies), (what, policies)  # Jupyter's
    assert resp.headers.get_list("Referrer-Policy") == ["no-referrer"], what
    assert resp.headers.get_list("X-Content-Type-Options") == ["nosniff"], what


async def test_forward_through_entry_and_sandbox(
    jp_fetch: Any,
    browser: Browser,
    box: str,
    remote_http: tuple[int, str],
    ssh_host: SSHTestHost,
) -> None:
    remote_port, content = remote_http
    fwd = await open_forward(jp_fetch, remote_port)
    fid, local = fwd["id"], fwd["local_port"]
    assert fwd["kind"] == "forward" and fwd["server"] == "box"
    assert fwd["remote_port"] == remote_port and fwd["state"] == "running"
    assert fwd["url"] == f"/remote/forward/{fid}/" and local > 0
    await eventually_async(ssh_host.established_connections, lambda n: n == 1, interval=0.1)

    # the entry needs Jupyter's auth, and serves nothing: it redirects to the sandbox
    for headers in ({"Authorization": ""}, {"Authorization": "token not-the-token"}):
        refused = await expect_error(
            jp_fetch, 403, "GET", "remote", "forward", fid, "file.txt", headers=headers
        )
        assert content.encode() not in refused.body
        assert "/remote/sandbox/" not in refused.body.decode()
    location = await entry(jp_fetch, fid, "file.txt")
    prefix = prefix_of(location, fid)
    secret = prefix.rsplit("/", 1)[1]
    assert location == f"{prefix}/file.txt"
    assert await entry(jp_fetch, fid, "file.txt", method="HEAD") == location

    # the sandbox serves with the capability alone
    resp = await browser.fetch(location)
    assert resp.code == 200 and resp.body.decode() == content
    assert_sandboxed(resp, "file")
    assert await asyncio.to_thread(fetch_direct, local) == content  # the local port itself
    big = await browser.fetch(f"{prefix}/big.bin")
    assert len(big.body) == 3 * 1024 * 1024 and big.body == await asyncio.to_thread(
        fetch_direct_bytes, local, "big.bin"
    )
    head = await browser.fetch(location, method="HEAD")
    assert head.code == 200 and int(head.headers["Content-Length"]) == len(content)
    missing = await browser.fetch(f"{prefix}/nope.txt")
    assert missing.code == 404 and content.encode() not in missing.body  # the service's own
    assert_sandboxed(missing, "the service's 404")

    # without the trailing slash: to the root of the sandbox (relative links resolve)
    root = await entry(jp_fetch, fid)
    assert root == f"{prefix}/"
    bare = await browser.fetch(prefix + "?a=1")
    assert bare.code == 302 and bare.headers["Location"] == f"{prefix}/?a=1"
    assert_sandboxed(bare, "slash redirect")

    # the secret is in no REST answer
    answers = [
        (await jp_fetch("remote", "sessions")).body,
        (await jp_fetch("remote", "forwards")).body,
        (await jp_fetch("remote", "forwards", fid)).body,
    ]
    assert all(secret.encode() not in a for a in answers)
    assert secret not in repr(registry.sessions[fid])
    sessions = json.loads(answers[0])
    assert [(s["id"], s["kind"], s["local_port"]) for s in sessions] == [(fid, "forward", local)]
    assert [f["id"] for f in json.loads(answers[1])] == [fid]
    assert json.loads(answers[2])["state"] == "running"
    assert ssh_host.established_connections() == 1

    assert (await call(jp_fetch, "DELETE", "remote", "forwards", fid)).code == 204
    assert json.loads((await jp_fetch("remote", "sessions")).body) == []
    assert not port_open(local)
    await eventually_async(
        ssh_host.established_connections, lambda n: n == 0, timeout=5, interval=0.1
    )
    await expect_error(jp_fetch, 404, "GET", "remote", "forward", fid, "file.txt")
    await expect_error(jp_fetch, 404, "DELETE", "remote", "forwards", fid)
    gone = await browser.fetch(location)
    assert gone.code == 404 and content.encode() not in gone.body


async def test_methods_reach_the_service_without_jupyter_credentials(
    jp_fetch: Any, jp_serverapp: Any, browser: Browser, box: str, remote_echo: int
) -> None:
    """Every method is redirected by the entry (307 keeps method and body) and relayed
    by the sandbox; Jupyter's token, cookies and XSRF token never reach the service."""
    fwd = await open_forward(jp_fetch, remote_echo)
    fid = fwd["id"]
    token = jp_serverapp.identity_provider.token
    params = {"a": "1 2", "token": token}
    for method in ("POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
        body = b"x=1" if method in ("POST", "PUT", "PATCH") else None
        location = await entry(jp_fetch, fid, "api", "run", method=method, params=params, body=body)
        assert "token" not in location and token not in location
        assert location.endswith("/api/run?a=1+2")
    prefix = prefix_of(location, fid)
    xsrf = secrets.token_hex(8)
    resp = await browser.fetch(
        location,
        "POST",
        b"x=1",
        {
            "Cookie": f"app=keep; _xsrf={xsrf}",
            "X-XSRFToken": xsrf,
            "Authorization": f"token {token}",
            "X-Custom": "yes",
            "Origin": "null",  # what a sandboxed page sends
        },
    )
    echo = json.loads(resp.body)
    headers = {k.lower(): v for k, v in echo["headers"].items()}
    assert echo["method"] == "POST" and echo["body"] == "x=1"
    assert echo["path"] == "/api/run?a=1+2"
    assert token not in json.dumps(echo) and xsrf not in json.dumps(echo)
    assert "authorization" not in headers and "x-xsrftoken" not in headers
    assert headers["cookie"] == "app=keep"
    assert headers["x-custom"] == "yes"
    assert headers["host"] == f"127.0.0.1:{fwd['local_port']}"
    assert headers["origin"] == f"http://127.0.0.1:{fwd['local_port']}"  # the service's own
    assert headers["x-forwarded-prefix"] == prefix
    assert resp.headers["Content-Type"] == "application/json"
    assert resp.headers["Access-Control-Allow-Origin"] == "null"
    assert_sandboxed(resp, "echo")
    cookies = resp.headers.get_list("Set-Cookie")
    assert cookies == [f"a=1; Path={prefix}/", f"b=2; Path={prefix}/"]  # _xsrf=evil dropped
    for method in ("PUT", "DELETE", "PATCH"):
        got = await browser.fetch(f"{prefix}/x", method, b"{}" if method != "DELETE" else None)
        assert json.loads(got.body)["method"] == method


class _Tamed(BaseHTTPRequestHandler):
    """A careless or hostile service behind a forward, in this process (the test host is
    this machine, so the forward reaches it like a remote one). It counts every request
    and sends what must not reach the browser as is."""

    port = 0
    login_cookie = ""
    hits: ClassVar[list[str]] = []

    def _answer(self) -> None:
        _Tamed.hits.append(f"{self.command} {self.path}")
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        pages = {
            "/page.html": (200, "text/html", b"<html><body>page</body></html>"),
            "/data.json": (200, "application/json", b'{"ok": true}'),
            "/boom": (500, "text/plain", b"boom"),
            "/moved": (302, "text/plain", b""),
            "/abs": (302, "text/plain", b""),
        }
        code, kind, body = pages.get(self.path.split("?")[0], (404, "text/html", b"<p>no</p>"))
        self.send_response(code)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        if self.path == "/abs":  # an absolute redirect to itself, as it sees its Host
            self.send_header("Location", f"http://{self.headers['Host']}/page.html?x=1")
        elif code == 302:
            self.send_header("Location", "page.html")
        for cookie in (
            "a=1; Path=/",
            "b=2; Domain=127.0.0.1; Path=/sub; HttpOnly; SameSite=Lax",
            "c=3",
            "_xsrf=evil; Path=/",
            f"{_Tamed.login_cookie}=evil; Path=/",
            "__Host-h=1; Path=/; Secure",
            "__secure-s=1; Secure",
        ):
            self.send_header("Set-Cookie", cookie)
        self.send_header("Clear-Site-Data", '"cookies", "storage"')
        self.send_header("Service-Worker-Allowed", "/")
        self.send_header("Referrer-Policy", "unsafe-url")
        self.send_header("Content-Security-Policy", "sandbox allow-same-origin allow-scripts")
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("X-Custom", "yes")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _answer

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def tamed_service() -> Iterator[type[_Tamed]]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Tamed)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    _Tamed.port = int(httpd.server_address[1])
    try:
        yield _Tamed
    finally:
        httpd.shutdown()
        httpd.server_close()


async def test_every_sandbox_answer_is_sandboxed_and_tamed(
    jp_fetch: Any,
    jp_http_port: int,
    browser: Browser,
    box: str,
    tamed_service: type[_Tamed],
) -> None:
    _Tamed.login_cookie = f"username-127-0-0-1-{jp_http_port}"  # Jupyter's login cookie
    fid = (await open_forward(jp_fetch, tamed_service.port))["id"]
    location = await entry(jp_fetch, fid, "page.html")
    prefix = prefix_of(location, fid)
    with pytest.raises(HTTPClientError) as info:  # the redirect is sandboxed too
        await jp_fetch("remote", "forward", fid, "x", follow_redirects=False)
    assert info.value.response is not None
    assert_sandboxed(info.value.response, "entry redirect")

    answers = {
        "HTML": await browser.fetch(f"{prefix}/page.html"),
        "JSON": await browser.fetch(f"{prefix}/data.json", headers={"Origin": "null"}),
        "HEAD": await browser.fetch(f"{prefix}/page.html", "HEAD"),
        "POST": await browser.fetch(f"{prefix}/data.json", "POST", b"{}"),
        "the service's 500": await browser.fetch(f"{prefix}/boom"),
        "the service's 404": await browser.fetch(f"{prefix}/nowhere"),
        "the service's redirect": await browser.fetch(f"{prefix}/moved"),
    }
    assert [a.code for a in answers.values()] == [200, 200, 200, 200, 500, 404, 302]
    for what, resp in answers.items():
        assert_sandboxed(resp, what)
        # the service's own CSP still applies (every policy does: it can only narrow)
        assert resp.headers.get_list("Content-Security-Policy")[1:] == [
            "sandbox allow-same-origin allow-scripts"
        ], what
        assert resp.headers.get_list("Access-Control-Allow-Origin") == ["null"], what
        assert resp.headers["Access-Control-Allow-Credentials"] == "true", what
        assert "X-Custom" in resp.headers["Access-Control-Expose-Headers"], what
        assert resp.headers["X-Custom"] == "yes", what
        for dropped in ("Clear-Site-Data", "Service-Worker-Allowed"):
            assert dropped not in resp.headers, (what, dropped)
        assert resp.headers.get_list("Set-Cookie") == [
            f"a=1; Path={prefix}/",
            f"b=2; HttpOnly; SameSite=Lax; Path={prefix}/sub",
            f"c=3; Path={prefix}/",
        ], what
    assert answers["the service's redirect"].headers["Location"] == "page.html"

    # a CORS preflight of the sandboxed page is answered here, not by the service
    hits = len(_Tamed.hits)
    preflight = await browser.fetch(
        f"{prefix}/data.json",
        "OPTIONS",
        headers={
            "Origin": "null",
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "content-type,x-custom",
        },
    )
    assert preflight.code == 204 and len(_Tamed.hits) == hits
    assert preflight.headers["Access-Control-Allow-Origin"] == "null"
    assert preflight.headers["Access-Control-Allow-Methods"] == "PUT"
    assert preflight.headers["Access-Control-Allow-Headers"] == "content-type, x-custom"
    assert_sandboxed(preflight, "preflight")
    # a plain OPTIONS (no preflight) is the service's
    plain = await browser.fetch(f"{prefix}/data.json", "OPTIONS")
    assert plain.code == 200 and len(_Tamed.hits) == hits + 1

    # our own error (nothing listens behind a forward): sandboxed too, no secret in it
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    dead = (await open_forward(jp_fetch, closed))["id"]
    dead_location = await entry(jp_fetch, dead, "x")
    failed = await browser.fetch(dead_location)
    assert failed.code == 502 and json.loads(failed.body)["reason"]
    assert_sandboxed(failed, "502")
    assert prefix_of(dead_location, dead).rsplit("/", 1)[1].encode() not in failed.body


async def test_wrong_capability_is_404_and_reaches_nothing(
    jp_fetch: Any,
    jp_serverapp: Any,
    browser: Browser,
    box: str,
    tamed_service: type[_Tamed],
) -> None:
    fid = (await open_forward(jp_fetch, tamed_service.port))["id"]
    other = (await open_forward(jp_fetch, tamed_service.port))["id"]
    prefix = prefix_of(await entry(jp_fetch, fid, "page.html"), fid)
    secret = prefix.rsplit("/", 1)[1]
    base = prefix.rsplit("/", 3)[0]  # .../remote
    other_secret = prefix_of(await entry(jp_fetch, other), other).rsplit("/", 1)[1]
    assert other_secret != secret
    ok = await browser.fetch(f"{prefix}/page.html")
    assert ok.code == 200  # control: the right capability works
    token = jp_serverapp.identity_provider.token
    wrong_paths = [
        f"{base}/sandbox/{fid}/{secrets.token_urlsafe(16)}/page.html",  # a guess
        f"{base}/sandbox/{fid}/{other_secret}/page.html",  # another forward's
        f"{base}/sandbox/{fid}/{secret[:-1]}/page.html",  # almost
        f"{base}/sandbox/{fid}/{secret}x/page.html",
        f"{base}/sandbox/{fid}/page.html",  # none
        f"{base}/sandbox/fwd-000000000000/{secret}/page.html",  # unknown id, right secret
        f"{base}/sandbox/{fid}/{secret.upper()}/page.html",
    ]
    hits = len(_Tamed.hits)
    bodies = set()
    for path in wrong_paths:
        for method in ("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"):
            for headers in ({}, {"Authorization": f"token {token}"}, {"Origin": "null"}):
                resp = await browser.fetch(path, method, headers=headers)
                assert resp.code == 404, (path, method, headers, resp.code)
                assert_sandboxed(resp, path)
                if method != "HEAD":
                    bodies.add(resp.body)
        with pytest.raises(HTTPClientError) as info:
            await browser.websocket(path.replace("/page.html", "/ws"))
        assert info.value.code == 404
    assert len(_Tamed.hits) == hits, "a request without the capability reached the service"
    # the same answer whether or not the forward exists
    assert len(bodies) == 1, bodies
    assert not any(secret.encode() in b or fid.encode() in b for b in bodies)


async def test_reconnect_keeps_the_local_port(
    jp_fetch: Any,
    browser: Browser,
    box: str,
    remote_http: tuple[int, str],
    ssh_host: SSHTestHost,
) -> None:
    remote_port, content = remote_http
    events: list[dict[str, Any]] = []
    unsubscribe = registry.subscribe(events.append)
    try:
        fwd = await open_forward(jp_fetch, remote_port)
        fid, local = fwd["id"], fwd["local_port"]
        location = await entry(jp_fetch, fid, "file.txt")
        assert (await browser.fetch(location)).body.decode() == content
        with ssh_host.outage():
            await asyncio.sleep(3)
            state = json.loads((await jp_fetch("remote", "forwards", fid)).body)["state"]
            assert state == "reconnecting"
            failed = await browser.fetch(location)
            assert failed.code == 502 and "reconnecting" in json.loads(failed.body)["message"]
        back = time.monotonic()

        await eventually_async(
            lambda: registry.sessions[fid].state, lambda s: s == "running", timeout=15, interval=0.1
        )
        print(f"running again {time.monotonic() - back:.2f} s after sshd came back")
        again = json.loads((await jp_fetch("remote", "forwards", fid)).body)
        assert again["local_port"] == local and again["reconnects"] == 1
        assert (await browser.fetch(location)).body.decode() == content  # same capability
        assert await asyncio.to_thread(fetch_direct, local) == content
        assert ssh_host.established_connections() == 1

        states = [e["session"]["state"] for e in events if e.get("session", {}).get("id") == fid]
        assert states[-3:] == ["running", "reconnecting", "running"]

        # the one Stop button of the sessions view stops forwards too
        assert (await call(jp_fetch, "DELETE", "remote", "sessions", fid)).code == 204
        assert not port_open(local)
        await eventually_async(
            ssh_host.established_connections, lambda n: n == 0, timeout=5, interval=0.1
        )
        assert [e["session"]["state"] for e in events if e.get("session", {}).get("id") == fid][
            -1
        ] == "stopped"
    finally:
        unsubscribe()


async def test_websocket_through_the_sandbox(
    jp_fetch: Any,
    jp_ws_fetch: Any,
    browser: Browser,
    box: str,
    remote_ws: int,
) -> None:
    fid = (await open_forward(jp_fetch, remote_ws))["id"]
    prefix = prefix_of(await entry(jp_fetch, fid), fid)
    # as a sandboxed page opens it: Origin "null", no Jupyter cookie or token; the
    # service checks that Origin is its own (the proxy rewrites it)
    ws = await browser.websocket(f"{prefix}/ws", headers={"Origin": "null"})
    for text in ("hello", "x" * 100_000):
        await ws.write_message(text)
        assert await asyncio.wait_for(ws.read_message(), 10) == "echo:" + text
    ws.close()
    with pytest.raises(HTTPClientError) as info:  # the service refuses: its status, closed
        await browser.websocket(f"{prefix}/nowhere", headers={"Origin": "null"})
    assert info.value.code == 404
    assert info.value.response is not None
    assert_sandboxed(info.value.response, "refused upgrade")
    # the entry route tunnels nothing any more, with Jupyter's auth or without
    for headers in ({}, {"Authorization": ""}):
        with pytest.raises(HTTPClientError) as info:
            await jp_ws_fetch("remote", "forward", fid, "ws", headers=headers)
        assert info.value.code in (303, 403)


async def test_cookie_auth_needs_xsrf_on_the_entry(
    jp_fetch: Any, jp_serverapp: Any, jp_http_port: int, box: str, remote_echo: int
) -> None:
    """A browser (cookie auth) must send Jupyter's XSRF token to be redirected with a
    POST; the sandbox then takes the POST on its capability alone."""
    fid = (await open_forward(jp_fetch, remote_echo))["id"]
    token = jp_serverapp.identity_provider.token
    login = await jp_fetch("remote", "forwards", params={"token": token})
    cookie = "; ".join(c.split(";")[0] for c in login.headers.get_list("Set-Cookie"))
    browser = {"Authorization": "", "Host": f"127.0.0.1:{jp_http_port}"}
    location = await entry(jp_fetch, fid, "g", headers={**browser, "Cookie": cookie})
    await expect_error(
        jp_fetch, 403, "POST", "remote", "forward", fid, "p", headers={**browser, "Cookie": cookie}
    )
    xsrf = secrets.token_hex(16)
    posted = await entry(
        jp_fetch,
        fid,
        "p",
        method="POST",
        headers={**browser, "Cookie": f"{cookie}; _xsrf={xsrf}", "X-XSRFToken": xsrf},
    )
    assert posted == location[: -len("/g")] + "/p"
    # Origin of another site on the entry: Jupyter's origin check
    await expect_error(
        jp_fetch,
        404,
        "POST",
        "remote",
        "forward",
        fid,
        "p",
        headers={
            **browser,
            "Cookie": f"{cookie}; _xsrf={xsrf}",
            "X-XSRFToken": xsrf,
            "Origin": "http://evil.example",
        },
    )


# ------------------------------------------------------------ a forward's own origin

ORIGIN_RE = r"^http://(jr-[0-9a-f]{32})\.localhost:(\d+)(/.*)$"


def origin_of(location: str) -> tuple[str, int, str]:
    """(label, port, path and query) of a redirect to a forward's own origin."""
    found = re.match(ORIGIN_RE, location)
    assert found, location
    return found.group(1), int(found.group(2)), found.group(3)


def has_ipv6_loopback() -> bool:
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET6) as s:
        s.bind(("::1", 0))
        return True
    return False


def listening_addresses(port: int) -> set[str]:
    """Local addresses of the LISTEN sockets on ``port`` (/proc/net/tcp and tcp6)."""
    found = set()
    for table, size in (("/proc/net/tcp", 4), ("/proc/net/tcp6", 16)):
        with contextlib.suppress(FileNotFoundError), open(table) as f:
            for line in f.readlines()[1:]:
                local, state = line.split()[1], line.split()[3]
                address, hexport = local.split(":")
                if state != "0A" or int(hexport, 16) != port:
                    continue
                raw = bytes.fromhex(address)
                # the kernel prints each 32-bit word in host (little-endian) order
                raw = b"".join(raw[i : i + 4][::-1] for i in range(0, size, 4))
                found.add(socket.inet_ntop(socket.AF_INET if size == 4 else socket.AF_INET6, raw))
    return found


def raw_request(port: int, data: bytes) -> bytes:
    """Send ``data`` to 127.0.0.1:``port``, read until the server closes (in a thread:
    the server under test runs on this loop)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        raw.sendall(data)
        answer = b""
        while chunk := raw.recv(65536):
            answer += chunk
    return answer


class OriginBrowser:
    """Requests as a browser on this machine sends them to a forward's own origin: to
    the listener's port on loopback, Host ``jr-<secret>.localhost:<port>``, no Jupyter
    credentials (the page has none of Jupyter's: another site)."""

    def __init__(self, port: int, label: str, address: str = "127.0.0.1") -> None:
        self.port, self.label = port, label
        self.netloc = f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
        self.host = f"{label}.localhost:{port}"
        self.origin = f"http://{self.host}"
        self.http = AsyncHTTPClient()

    async def fetch(
        self,
        path: str,
        method: str = "GET",
        body: bytes | str | None = None,
        headers: dict[str, str] | None = None,
        host: str | None = None,
    ) -> HTTPResponse:
        request = HTTPRequest(
            f"http://{self.netloc}{path}",
            method=method,
            headers={"Host": host or self.host, **(headers or {})},
            body=body if body is not None or method not in ("POST", "PUT", "PATCH") else b"",
            allow_nonstandard_methods=True,
            follow_redirects=False,
            request_timeout=60,
        )
        return await self.http.fetch(request, raise_error=False)

    async def websocket(
        self, path: str, headers: dict[str, str] | None = None, host: str | None = None
    ) -> Any:
        request = HTTPRequest(
            f"ws://{self.netloc}{path}", headers={"Host": host or self.host, **(headers or {})}
        )
        return await websocket_connect(request)


async def own_origin(jp_fetch: Any, jp_http_port: int, fid: str) -> OriginBrowser:
    """Open the forward as a browser on this machine does; the client of its origin."""
    label, port, path = origin_of(await entry(jp_fetch, fid, host=f"127.0.0.1:{jp_http_port}"))
    assert path == "/"
    return OriginBrowser(port, label)


@pytest.mark.parametrize(
    "host,peer,headers,local",
    [
        ("127.0.0.1:8888", "127.0.0.1", {}, True),
        ("localhost:8888", "::1", {}, True),
        ("[::1]:8888", "::1", {}, True),
        ("lab.localhost:8888", "127.0.0.1", {}, True),
        ("LocalHost.:8888", "::ffff:127.0.0.1", {}, True),
        ("127.0.0.2", "127.0.0.1", {}, True),
        ("gpu-box.example:8888", "127.0.0.1", {}, False),  # a remote name (ssh -R, proxy)
        ("10.0.0.5:8888", "127.0.0.1", {}, False),
        ("localhost.example:8888", "127.0.0.1", {}, False),
        ("localhost:8888", "172.17.0.1", {}, False),  # docker -p: from the bridge
        ("localhost:8888", "192.0.2.7", {}, False),
        ("localhost:8888", "127.0.0.1", {"X-Forwarded-For": "192.0.2.7"}, False),
        ("localhost:8888", "127.0.0.1", {"X-Real-IP": "192.0.2.7"}, False),
        ("localhost:8888", "127.0.0.1", {"Forwarded": "for=192.0.2.7"}, False),
        ("localhost:8888", "127.0.0.1", {"Via": "1.1 proxy"}, False),
        ("localhost:8888", "127.0.0.1", {"X-Forwarded-Host": "hub.example"}, False),
    ],
)
def test_which_browsers_run_on_this_machine(
    host: str, peer: str, headers: dict[str, str], local: bool
) -> None:
    request = httputil.HTTPServerRequest(
        "GET", "/remote/forward/x/", headers=httputil.HTTPHeaders({"Host": host, **headers})
    )
    request.remote_ip = peer
    assert browser_on_this_machine(request) is local


async def test_a_browser_on_this_machine_gets_the_forwards_own_origin(
    jp_fetch: Any,
    jp_serverapp: Any,
    jp_http_port: int,
    box: str,
    remote_http: tuple[int, str],
) -> None:
    remote_port, content = remote_http
    fwd = await open_forward(jp_fetch, remote_port)
    fid, local = fwd["id"], fwd["local_port"]
    assert fwd["url"] == f"/remote/forward/{fid}/"  # the REST url stays the entry
    loopback = [f"127.0.0.1:{jp_http_port}", f"localhost:{jp_http_port}", f"[::1]:{jp_http_port}"]
    loopback.append(f"lab.localhost:{jp_http_port}")
    locations = [await entry(jp_fetch, fid, "file.txt", host=h) for h in loopback]
    label, port, path = origin_of(locations[0])
    assert path == "/file.txt" and all(origin_of(x) == (label, port, path) for x in locations)
    assert await entry(jp_fetch, fid, "file.txt", method="HEAD", host=loopback[0]) == locations[0]
    assert await entry(jp_fetch, fid, host=loopback[0]) == f"http://{label}.localhost:{port}/"
    token = jp_serverapp.identity_provider.token
    for method in ("POST", "PUT", "DELETE"):  # 307: method and body kept; token dropped
        moved = await entry(
            jp_fetch,
            fid,
            "api",
            "run",
            method=method,
            host=loopback[0],
            params={"a": "1 2", "token": token},
            body=b"x=1" if method != "DELETE" else None,
        )
        assert moved == f"http://{label}.localhost:{port}/api/run?a=1+2"
    # a browser elsewhere (or behind a proxy) gets the sandbox route, as before
    sandboxed = await entry(jp_fetch, fid, "file.txt")
    assert prefix_of(sandboxed, fid)
    behind = await entry(
        jp_fetch, fid, "file.txt", host=loopback[0], headers={"X-Forwarded-For": "192.0.2.7"}
    )
    assert prefix_of(behind, fid)

    # the origin serves the forward at /, on the Host alone
    origin = OriginBrowser(port, label)
    resp = await origin.fetch("/file.txt")
    assert resp.code == 200 and resp.body.decode() == content
    assert "Content-Security-Policy" not in resp.headers  # its own origin: no sandbox
    assert resp.headers.get_list("Referrer-Policy") == ["same-origin"]
    assert "Access-Control-Allow-Origin" not in resp.headers
    big = await origin.fetch("/big.bin")
    assert big.body == await asyncio.to_thread(fetch_direct_bytes, local, "big.bin")
    head = await origin.fetch("/file.txt", "HEAD")
    assert head.code == 200 and int(head.headers["Content-Length"]) == len(content)
    assert (await origin.fetch("/nope.txt")).code == 404  # the service's own
    if has_ipv6_loopback():  # *.localhost resolves to ::1 too: the same listener there
        assert (await OriginBrowser(port, label, "::1").fetch("/file.txt")).body == resp.body

    # one listener for all forwards, on loopback only; a label per forward
    other = await open_forward(jp_fetch, remote_port)
    other_label, other_port, _ = origin_of(await entry(jp_fetch, other["id"], host=loopback[0]))
    assert other_port == port and other_label != label
    want = {"127.0.0.1", "::1"} if has_ipv6_loopback() else {"127.0.0.1"}
    assert listening_addresses(port) == want
    origins = jp_serverapp.web_app.settings["remote_forward_origins"]
    assert origins.port == port and origins.listening

    # the label is a secret of its own: in no REST answer, not the sandbox secret
    secret = prefix_of(sandboxed, fid).rsplit("/", 1)[1]
    assert label[3:] != secret and label not in repr(registry.sessions[fid])
    for answer in ("sessions", "forwards", f"forwards/{fid}"):
        assert label[3:].encode() not in (await jp_fetch("remote", *answer.split("/"))).body

    # closed forward: its origin is gone, the other one still works
    assert (await call(jp_fetch, "DELETE", "remote", "forwards", fid)).code == 204
    gone = await origin.fetch("/file.txt")
    assert gone.code == 404 and content.encode() not in gone.body
    still = await OriginBrowser(port, other_label).fetch("/file.txt")
    assert still.code == 200


async def test_wrong_host_on_the_origin_is_404_and_reaches_nothing(
    jp_fetch: Any,
    jp_serverapp: Any,
    jp_http_port: int,
    box: str,
    tamed_service: type[_Tamed],
) -> None:
    fid = (await open_forward(jp_fetch, tamed_service.port))["id"]
    origin = await own_origin(jp_fetch, jp_http_port, fid)
    label, port = origin.label, origin.port
    sandbox_secret = prefix_of(await entry(jp_fetch, fid), fid).rsplit("/", 1)[1]
    assert (await origin.fetch("/page.html")).code == 200  # control: the right Host works
    token = jp_serverapp.identity_provider.token
    login = await jp_fetch("remote", "forwards", params={"token": token})
    cookie = "; ".join(c.split(";")[0] for c in login.headers.get_list("Set-Cookie"))
    wrong_hosts = [
        f"jr-{secrets.token_hex(16)}.localhost:{port}",  # a guess
        f"{label[:-1]}{'0' if label[-1] != '0' else '1'}.localhost:{port}",  # almost
        f"{label}0.localhost:{port}",
        f"x.{label}.localhost:{port}",
        f"{label}.localhost.evil.example:{port}",
        f"{label}.example:{port}",
        f"{label}:{port}",
        f"jr-{sandbox_secret}.localhost:{port}",  # the other capability
        f"{fid}.localhost:{port}",
        f"localhost:{port}",
        f"127.0.0.1:{port}",
        f"127.0.0.1:{jp_http_port}",  # Jupyter's
        "jr-.localhost",
    ]
    hits = len(_Tamed.hits)
    bodies = set()
    for host in wrong_hosts:
        for method in ("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"):
            for headers in (
                {},
                {"Authorization": f"token {token}"},
                {"Cookie": cookie},
                {"Origin": origin.origin},
            ):
                resp = await origin.fetch("/page.html", method, headers=headers, host=host)
                assert resp.code == 404, (host, method, headers, resp.code)
                if method != "HEAD":
                    bodies.add(resp.body)
        with pytest.raises(HTTPClientError) as info:
            await origin.websocket("/ws", host=host)
        assert info.value.code == 404
    # no Host at all (HTTP/1.0): the same
    answer = await asyncio.to_thread(raw_request, port, b"GET /page.html HTTP/1.0\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 404") and answer.split(b"\r\n\r\n", 1)[1] in bodies
    assert len(_Tamed.hits) == hits, "a request without the capability reached the service"
    assert len(bodies) == 1, bodies
    assert not any(label[3:].encode() in b or fid.encode() in b for b in bodies)
    # and the right label with the port left out (as a browser sends for port 80): served
    assert (await origin.fetch("/page.html", host=f"{label}.localhost")).code == 200


async def test_the_origin_relays_as_the_app_expects(
    jp_fetch: Any, jp_http_port: int, box: str, remote_echo: int
) -> None:
    """The app gets the request as through the tunnel (Host and the page's own Origin and
    Referer are its 127.0.0.1:<local port>) and the page's own credentials: cookies,
    Authorization, ``token`` in the query are the app's, not Jupyter's."""
    fwd = await open_forward(jp_fetch, remote_echo)
    local = fwd["local_port"]
    origin = await own_origin(jp_fetch, jp_http_port, fwd["id"])
    resp = await origin.fetch(
        "/api/run?token=the-apps-own&a=1",
        "POST",
        b"x=1",
        {
            "Origin": origin.origin,
            "Referer": f"{origin.origin}/page?q=1",
            "Cookie": "app=keep; _xsrf=apps",
            "Authorization": "Bearer the-apps-own",
            "X-XSRFToken": "apps",
            "X-Forwarded-For": "192.0.2.7",
            "X-Forwarded-Prefix": "/evil",
            "Forwarded": "for=192.0.2.7",
            "Proxy-Authorization": "Basic eA==",
            "Connection": "X-Hop",
            "X-Hop": "1",
        },
    )
    echo = json.loads(resp.body)
    headers = {k.lower(): v for k, v in echo["headers"].items()}
    assert echo["method"] == "POST" and echo["body"] == "x=1"
    assert echo["path"] == "/api/run?token=the-apps-own&a=1"
    assert headers["host"] == f"127.0.0.1:{local}"
    assert headers["origin"] == f"http://127.0.0.1:{local}"
    assert headers["referer"] == f"http://127.0.0.1:{local}/page?q=1"
    assert headers["cookie"] == "app=keep; _xsrf=apps"
    assert headers["authorization"] == "Bearer the-apps-own"
    assert headers["x-xsrftoken"] == "apps"
    assert headers["x-forwarded-host"] == origin.host
    assert headers["x-forwarded-proto"] == "http"
    for gone in ("x-forwarded-for", "x-forwarded-prefix", "forwarded", "proxy-authorization"):
        assert gone not in headers, gone
    assert "x-hop" not in headers
    # the app's cookies are its own, on its own origin: as it sets them
    assert resp.headers.get_list("Set-Cookie") == [
        "a=1; Path=/",
        "b=2; Path=/",
        "_xsrf=evil; Path=/",
    ]
    # another site's Origin is not made the app's: the app can refuse it
    foreign = await origin.fetch("/x", "PUT", b"{}", {"Origin": "http://evil.example"})
    assert json.loads(foreign.body)["headers"]["Origin"] == "http://evil.example"
    for method in ("PUT", "DELETE", "PATCH"):
        got = await origin.fetch("/x", method, b"{}" if method != "DELETE" else None)
        assert json.loads(got.body)["method"] == method


async def test_the_origin_passes_the_apps_answer_tamed_a_little(
    jp_fetch: Any, jp_http_port: int, box: str, tamed_service: type[_Tamed]
) -> None:
    _Tamed.login_cookie = f"username-127-0-0-1-{jp_http_port}"
    fid = (await open_forward(jp_fetch, tamed_service.port))["id"]
    origin = await own_origin(jp_fetch, jp_http_port, fid)
    resp = await origin.fetch("/page.html")
    assert resp.code == 200 and resp.body == b"<html><body>page</body></html>"
    # its own CSP only (no sandbox: it is an origin of its own), its own CORS
    assert resp.headers.get_list("Content-Security-Policy") == [
        "sandbox allow-same-origin allow-scripts"
    ]
    assert resp.headers.get_list("Access-Control-Allow-Origin") == ["*"]
    assert resp.headers["X-Custom"] == "yes" and resp.headers["Service-Worker-Allowed"] == "/"
    # never Clear-Site-Data; our Referrer-Policy (its host name is the capability)
    assert "Clear-Site-Data" not in resp.headers
    assert resp.headers.get_list("Referrer-Policy") == ["same-origin"]
    # cookies host-only on its origin: Domain dropped, the rest as the app set them
    assert resp.headers.get_list("Set-Cookie") == [
        "a=1; Path=/",
        "b=2; Path=/sub; HttpOnly; SameSite=Lax",
        "c=3",
        "_xsrf=evil; Path=/",
        f"{_Tamed.login_cookie}=evil; Path=/",
        "__Host-h=1; Path=/; Secure",
        "__secure-s=1; Secure",
    ]
    # redirects: relative ones as they are, absolute ones to itself onto its origin
    assert (await origin.fetch("/moved")).headers["Location"] == "page.html"
    moved = await origin.fetch("/abs")
    assert moved.code == 302 and moved.headers["Location"] == f"{origin.origin}/page.html?x=1"
    # a CORS preflight is the app's to answer
    hits = len(_Tamed.hits)
    preflight = await origin.fetch(
        "/data.json",
        "OPTIONS",
        headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "PUT"},
    )
    assert preflight.code == 200 and len(_Tamed.hits) == hits + 1

    # our own error (nothing listens behind the forward): no capability in it
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    dead = (await open_forward(jp_fetch, closed))["id"]
    dead_origin = await own_origin(jp_fetch, jp_http_port, dead)
    failed = await dead_origin.fetch("/x")
    assert failed.code == 502 and json.loads(failed.body)["reason"]
    assert dead_origin.label[3:].encode() not in failed.body
    assert failed.headers.get_list("Referrer-Policy") == ["same-origin"]


async def test_websocket_through_the_own_origin(
    jp_fetch: Any, jp_http_port: int, box: str, remote_ws: int
) -> None:
    fid = (await open_forward(jp_fetch, remote_ws))["id"]
    origin = await own_origin(jp_fetch, jp_http_port, fid)
    # as the page opens it: Origin its own; the service checks that it is ITS own
    ws = await origin.websocket("/ws", headers={"Origin": origin.origin})
    for text in ("hello", "x" * 100_000):
        await ws.write_message(text)
        assert await asyncio.wait_for(ws.read_message(), 10) == "echo:" + text
    ws.close()
    # another site's page (were it to know the capability): the app itself refuses it
    with pytest.raises(HTTPClientError) as info:
        await origin.websocket("/ws", headers={"Origin": "http://evil.example"})
    assert info.value.code == 403
    assert info.value.response is not None
    assert info.value.response.headers.get_list("Referrer-Policy") == ["same-origin"]


class _Authorizer(AllowAllAuthorizer):
    """Allows everything but the actions on "remote" the test puts in ``refused``."""

    refused: ClassVar[set[str]] = set()

    def is_authorized(self, handler: Any, user: Any, action: str, resource: str) -> bool:
        return not (resource == "remote" and action in _Authorizer.refused)


@pytest.mark.parametrize(
    "jp_server_config",
    [
        {
            "ServerApp": {
                "jpserver_extensions": {"jupyter_remote": True},
                "local_hostnames": ["localhost", SANDBOX_HOST],
                "authorizer_class": _Authorizer,
            }
        }
    ],
)
async def test_jupyters_authorizer_is_asked_on_both_paths(
    jp_fetch: Any, jp_http_port: int, browser: Browser, box: str, tamed_service: type[_Tamed]
) -> None:
    """The user who opened the forward must still be allowed to use "remote", on every
    request of its pages: refused, 403 and nothing reaches the service."""
    fid = (await open_forward(jp_fetch, tamed_service.port))["id"]
    origin = await own_origin(jp_fetch, jp_http_port, fid)
    prefix = prefix_of(await entry(jp_fetch, fid), fid)
    assert (await origin.fetch("/page.html")).code == 200
    assert (await browser.fetch(f"{prefix}/page.html")).code == 200
    hits = len(_Tamed.hits)
    _Authorizer.refused = {"read"}
    try:
        assert (await origin.fetch("/page.html")).code == 403
        assert (await browser.fetch(f"{prefix}/page.html")).code == 403
        assert len(_Tamed.hits) == hits
        assert (await origin.fetch("/data.json", "POST", b"{}")).code == 200  # "write"
    finally:
        _Authorizer.refused = set()


def test_the_secret_is_never_logged(
    tmp_path: Path, ssh_host: SSHTestHost, tamed_service: type[_Tamed]
) -> None:
    """A real ``jupyter server`` with DEBUG logging: every kind of request to the
    sandbox route and to a forward's own origin is logged with the capability
    scrubbed, never with it; so are the requests a forwarded page can send to
    Jupyter's own routes carrying its capability (Referer, Origin, Host)."""
    config = {"ServerApp": {"local_hostnames": ["localhost", SANDBOX_HOST]}}
    with live_server(tmp_path, debug_logging=True, config=config) as server:
        server.json("POST", "/remote/servers", server_input(ssh_host), expect=201)
        trust = {"server": "box", "fingerprint": ssh_host.host_key_fingerprint}
        server.json("POST", "/remote/hostkeys", trust, expect=201)
        fwd = server.json(
            "POST",
            "/remote/forwards",
            {"server": "box", "remote_port": tamed_service.port},
            expect=201,
        )
        fid = fwd["id"]
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            closed = s.getsockname()[1]
        dead = server.json(
            "POST", "/remote/forwards", {"server": "box", "remote_port": closed}, expect=201
        )["id"]

        def raw(
            method: str,
            path: str,
            headers: dict[str, str],
            body: bytes | None = None,
            port: int = server.port,
        ) -> Any:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            try:
                conn.request(method, path, body=body, headers=headers)
                resp = conn.getresponse()
                resp.read()
                return resp
            finally:
                conn.close()

        def redirect(path: str, method: str = "GET", host: str = SANDBOX_HOST) -> str:
            body = b"{}" if method == "POST" else None
            resp = raw(method, path, {**server.auth, "Host": host}, body)
            assert resp.status in (303, 307), resp.status
            return str(resp.getheader("Location"))

        # the sandbox route (a browser that named Jupyter otherwise than by loopback)
        location = redirect(f"/remote/forward/{fid}/page.html?x=1")
        prefix = prefix_of(location, fid)
        secret = prefix.rsplit("/", 1)[1]
        dead_prefix = prefix_of(redirect(f"/remote/forward/{dead}/"), dead)
        redirect(f"/remote/forward/{fid}/page.html", "POST")
        referer = {"Referer": f"{server.url}{prefix}/page.html"}
        asks: list[tuple[str, str, dict[str, str]]] = [
            ("GET", location, {}),
            ("GET", f"{prefix}/nowhere", referer),  # the service's 404, Referer logged
            ("GET", f"{prefix}/boom", referer),  # the service's 500
            ("POST", f"{prefix}/data.json", referer),
            ("PROPFIND", f"{prefix}/x", referer),  # tornado's 405, before any handler code
            ("GET", prefix, referer),  # no slash: redirect
            ("GET", f"{dead_prefix}/x", referer),  # 502 from us
            ("GET", f"/remote/sandbox/{fid}/{secret[:-2]}ab/x", referer),  # wrong: 404
            # the page sends its own URL to one of Jupyter's routes (referrerPolicy
            # "unsafe-url" overrides ours): Jupyter logs the Referer of a 404
            ("GET", "/api/contents/no-such-file", {**server.auth, **referer}),
        ]
        statuses = []
        for method, path, headers in asks:
            body = b"{}" if method == "POST" else None
            statuses.append(raw(method, path, headers, body).status)
        assert statuses == [200, 404, 500, 200, 405, 302, 502, 404, 404], statuses
        # the service is no websocket server: the refused upgrade goes through the log too
        with contextlib.suppress(websocket.WebSocketException):
            websocket.create_connection(
                f"ws://127.0.0.1:{server.port}{prefix}/ws", origin="null", timeout=30
            )

        # the forward's own origin (a browser on this machine: Jupyter at 127.0.0.1)
        local = f"127.0.0.1:{server.port}"
        label, port, _ = origin_of(redirect(f"/remote/forward/{fid}/page.html", host=local))
        dead_label, _, _ = origin_of(redirect(f"/remote/forward/{dead}/", host=local))
        own = f"http://{label}.localhost:{port}"
        on_origin = {"Host": f"{label}.localhost:{port}", "Referer": f"{own}/page.html"}
        origin_asks: list[tuple[str, str, dict[str, str]]] = [
            ("GET", "/page.html", on_origin),
            ("GET", "/nowhere", on_origin),
            ("GET", "/boom", on_origin),
            ("POST", "/data.json", on_origin),
            ("PROPFIND", "/x", on_origin),  # tornado's 405
            ("GET", "/x", {**on_origin, "Host": f"{dead_label}.localhost:{port}"}),  # 502
            ("GET", "/x", {**on_origin, "Host": f"{label[:-2]}ab.localhost:{port}"}),  # 404
        ]
        statuses = []
        for method, path, headers in origin_asks:
            body = b"{}" if method == "POST" else None
            statuses.append(raw(method, path, headers, body, port=port).status)
        assert statuses == [200, 404, 500, 200, 405, 502, 404], statuses
        with contextlib.suppress(websocket.WebSocketException):
            websocket.create_connection(
                f"ws://127.0.0.1:{port}/ws", host=on_origin["Host"], origin=own, timeout=30
            )
        # what the page can send to Jupyter's own port: its origin as Origin and Referer
        # (a refused cross-origin API request: Jupyter logs the Origin), its host as Host
        # (a refused Host: Jupyter logs it)
        cross = {"Origin": own, "Referer": f"{own}/page.html"}  # no token: a page has none
        assert raw("POST", "/api/contents", cross, b"{}").status == 404
        assert raw("GET", "/api/contents/nope", cross).status == 404
        foreign_host = {**server.auth, "Host": f"{label}.localhost:{server.port}"}
        assert raw("GET", "/api/status", foreign_host).status == 403
        time.sleep(0.5)
        text = server.log_text()
    assert secret not in text
    assert dead_prefix.rsplit("/", 1)[1] not in text
    assert label[3:] not in text and dead_label[3:] not in text
    scrubbed = f"/remote/sandbox/{fid}/***/"
    # the requests were logged (so their absence means something), scrubbed
    assert text.count(scrubbed) >= len(asks) - 1, text[-3000:]
    assert f"/remote/sandbox/{fid}/***/x" in text  # the 405
    assert f"referer={server.url}/remote/sandbox/{fid}/***/page.html" in text
    jupyter_404 = [line for line in text.splitlines() if "GET /api/contents/no-such-file" in line]
    assert any(f"referer={server.url}/remote/sandbox/{fid}/***/" in x for x in jupyter_404)
    hidden = f"jr-***.localhost:{port}"
    assert text.count(f"http://{hidden}/") >= len(origin_asks), text[-3000:]
    assert f"405 PROPFIND http://{hidden}/x" in text
    blocked = [line for line in text.splitlines() if "Blocking Cross Origin" in line]
    assert blocked and all(f"Origin: http://{hidden}" in x for x in blocked), blocked
    assert any("non-local 'Host'" in x and "jr-***.localhost" in x for x in text.splitlines())


async def test_server_stop_stops_its_forwards_and_their_origins(
    jp_fetch: Any,
    jp_serverapp: Any,
    jp_http_port: int,
    box: str,
    remote_http: tuple[int, str],
    ssh_host: SSHTestHost,
) -> None:
    fwd = await open_forward(jp_fetch, remote_http[0])
    origin = await own_origin(jp_fetch, jp_http_port, fwd["id"])  # the listener listens
    assert (await origin.fetch("/file.txt")).code == 200
    assert port_open(origin.port)
    await jp_serverapp.extension_manager.stop_all_extensions()
    assert fwd["id"] not in registry.sessions
    assert not port_open(fwd["local_port"])
    assert not jp_serverapp.web_app.settings["remote_forward_origins"].listening
    assert listening_addresses(origin.port) == set()  # neither 127.0.0.1 nor ::1
    await eventually_async(
        ssh_host.established_connections, lambda n: n == 0, timeout=5, interval=0.1
    )


async def test_impostor_at_reconnect_disconnects_then_retry(
    jp_fetch: Any,
    browser: Browser,
    box: str,
    remote_http: tuple[int, str],
    ssh_host: SSHTestHost,
) -> None:
    remote_port, content = remote_http
    fwd = await open_forward(jp_fetch, remote_port)
    fid, local = fwd["id"], fwd["local_port"]
    location = await entry(jp_fetch, fid, "file.txt")
    ssh_host.restart_with_new_host_key()
    try:
        session = registry.sessions[fid]
        await eventually_async(
            lambda: session.state, lambda s: s == "disconnected", timeout=15, interval=0.1
        )
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
    await eventually_async(
        lambda: registry.sessions[fid].state, lambda s: s == "running", timeout=15, interval=0.1
    )
    assert registry.sessions[fid].local_port == local
    assert (await browser.fetch(location)).body.decode() == content


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
    await eventually_async(
        ssh_host.established_connections, lambda n: n == 0, timeout=5, interval=0.1
    )


async def test_unknown_forward_ids_are_404(jp_fetch: Any, box: str) -> None:
    await expect_error(jp_fetch, 404, "GET", "remote", "forward", "fwd-nope", "x")
    await expect_error(jp_fetch, 404, "GET", "remote", "forward", "fwd-nope")
    await expect_error(jp_fetch, 404, "GET", "remote", "forwards", "fwd-nope")
    await expect_error(jp_fetch, 404, "DELETE", "remote", "sessions", "fwd-nope")


# ------------------------------------------------------------------------------- CLI


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
    unknown = run_cli(cli_env, "forward", "box", str(remote_port))
    assert unknown.returncode == 3 and ssh_host.host_key_fingerprint in unknown.stderr
    assert run_cli(cli_env, "server", "test", "box", "--trust").returncode == 0
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
        eventually(lambda: port_open(local), timeout=15, interval=0.1)
        assert fetch_direct(local) == content
        assert ssh_host.established_connections() == 1

        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=15)
        assert proc.returncode == 0, err
        assert "reconnecting" in err and "running" in err
        assert "A plain tunnel, like ssh -L" in err  # what the raw port is, said once
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert not port_open(local)
    eventually(ssh_host.established_connections, lambda n: n == 0, timeout=5, interval=0.1)


def test_cli_forward_sigterm_and_random_local_port(
    cli_env: dict[str, str], ssh_host: SSHTestHost, remote_http: tuple[int, str]
) -> None:
    remote_port, content = remote_http
    add_box(cli_env, ssh_host)
    assert run_cli(cli_env, "server", "test", "box", "--trust").returncode == 0
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
        result = run_cli(cli_env, "forward", "box", *args)
        assert result.returncode == 2, (args, result.stderr)
    assert run_cli(cli_env, "forward", "nobody", "8080").returncode == 1
    add_box(cli_env, impostor)
    # trust the ORIGINAL key (as known_hosts), then meet the impostor: changed, exit 4
    known = Path(cli_env["HOME"]) / ".ssh" / "known_hosts"
    original = impostor.original_host_key_path.with_suffix(".pub").read_text().split()
    known.write_text(f"[{impostor.host}]:{impostor.port} {original[0]} {original[1]}\n")
    changed = run_cli(cli_env, "forward", "box", "8080")
    assert changed.returncode == 4, changed.stderr
    assert impostor.host_key_fingerprint in changed.stderr
