"""Auth audit: EVERY route of jupyter_remote, taken from the running server's own
routing table (so a new route is audited without touching this file), is refused

- without credentials, with a wrong token (header and ``?token=``),
- for mutations (POST/PUT/PATCH/DELETE): with a valid login cookie but no XSRF token,
- for every websocket (``/remote/events``, a real terminal's
  ``/remote/servers/NAME/terminals/ID/websocket``): also with a valid cookie from a
  foreign origin (and the terminal sees no client),

with 401/403 as Jupyter does, and the refused requests change nothing: the store
and the kernelspecs stay byte for byte, and the service behind a real forward
never sees a request. Control: the same requests with valid credentials are NOT
refused (so each refusal is the auth's doing).

The sandbox routes of forwards (``/remote/sandbox/<id>/<secret>/...``, a route with
a ``secret`` group) take no Jupyter credentials: the secret in the path is the
credential (a sandboxed page has no Jupyter cookie). For them "refused" is 404, with
any Jupyter credentials (a valid token included) and a wrong secret, for every
method and a websocket; the control is the right secret with no Jupyter credentials.

The origin listener of forwards (``http://jr-<secret>.localhost:<port>/``, a second
HTTP server of the extension, its routes read from its own routing table) is audited
the same way: there the Host header is the credential, and "refused" is 404 for any
other Host (a guess, Jupyter's, the sandbox secret as a label), whatever
Jupyter credentials come with it, for every method and a websocket.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from tornado import web
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from tornado.routing import Router
from tornado.websocket import websocket_connect

from jupyter_remote.sessions.terminal import get_terminal
from tests.harness.fixtures import SANDBOX_HOST, server_config
from tests.harness.live_server import implemented_methods
from tests.harness.servers import server_input
from tests.harness.sshd_host import SSHTestHost

MUTATIONS = {"POST", "PUT", "PATCH", "DELETE"}
REFUSED = {401, 403}


@pytest.fixture
def jp_server_config() -> dict[str, Any]:
    """Jupyter also answers to SANDBOX_HOST: a browser that uses it gets the sandbox route."""
    return server_config(local_hostnames=["localhost", SANDBOX_HOST])


@pytest.fixture(scope="module")
def audit_host() -> Iterator[SSHTestHost]:
    with SSHTestHost(name="audit", user="jraudit") as host:
        yield host


class _Service(BaseHTTPRequestHandler):
    """The service behind the forward: counts every request that reaches it."""

    hits: list[str] = []

    def _answer(self) -> None:
        _Service.hits.append(f"{self.command} {self.path}")
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(b"ok")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _answer

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def service_port() -> Iterator[int]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Service)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield int(httpd.server_address[1])
    finally:
        httpd.shutdown()
        httpd.server_close()


# ------------------------------------------------------------------ the routing table


def remote_routes(app: web.Application) -> list[tuple[str, type[web.RequestHandler]]]:
    """(regex, handler class) of every rule whose handler is one of ours."""
    found: list[tuple[str, type[web.RequestHandler]]] = []

    def walk(router: Router) -> None:
        for rule in getattr(router, "rules", []):
            target = rule.target
            if isinstance(target, type) and issubclass(target, web.RequestHandler):
                if target.__module__.startswith("jupyter_remote"):
                    found.append((rule.matcher.regex.pattern, target))
            elif hasattr(target, "rules"):
                walk(target)

    walk(app.wildcard_router)
    walk(app.default_router)
    return found


def concrete(pattern: str, values: dict[str, str]) -> str:
    """A request path for a route regex: every named group replaced by a real value."""
    path = pattern.rstrip("$")

    def fill(m: re.Match[str]) -> str:
        return values[m.group(1)]

    path = re.sub(r"\(\?P<(\w+)>[^()]*\)", fill, path)
    assert "(" not in path and "\\" not in path, f"cannot fill {pattern}"
    return path


# ------------------------------------------------------------------ the audit


class Client:
    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.http = AsyncHTTPClient()

    async def send(
        self, method: str, path: str, headers: dict[str, str] | None = None, body: Any = None
    ) -> tuple[int, bytes, Any]:
        if body is None and method in ("POST", "PUT", "PATCH"):
            body = b"{}"
        request = HTTPRequest(
            self.base + path,
            method=method,
            headers=headers or {},
            body=body,
            allow_nonstandard_methods=True,
            follow_redirects=False,
            request_timeout=60,
        )
        response = await self.http.fetch(request, raise_error=False)
        return response.code, response.body or b"", response.headers


def snapshot(data_dir: Path) -> dict[str, bytes]:
    """Every file of the store (remote/) and of the kernelspecs (kernels/)."""
    snap: dict[str, bytes] = {}
    for top in ("remote", "kernels"):
        root = data_dir / top
        if root.exists():
            for p in sorted(root.rglob("*")):
                if p.is_file() and p.name != ".lock":
                    snap[str(p.relative_to(data_dir))] = p.read_bytes()
    return snap


async def test_every_route_refuses_without_valid_credentials(
    jp_serverapp: Any,
    http_server_client: Any,  # the server listens on jp_http_port only with it
    jp_http_port: int,
    jp_base_url: str,
    jp_data_dir: Path,
    audit_host: SSHTestHost,
    service_port: int,
) -> None:
    client = Client(jp_http_port)
    token = jp_serverapp.identity_provider.token
    good = {"Authorization": f"token {token}"}
    api = jp_base_url.rstrip("/")

    # A real server, profile and forward, so routes point at things that exist.
    status, body, _ = await client.send(
        "POST", f"{api}/remote/servers", good, json.dumps(server_input(audit_host))
    )
    assert status == 201, body
    fingerprint = audit_host.host_key_fingerprint
    status, body, _ = await client.send(
        "POST",
        f"{api}/remote/hostkeys",
        good,
        json.dumps({"server": "box", "fingerprint": fingerprint}),
    )
    assert status == 201, body
    profile = {"name": "p", "server": "box", "python": audit_host.remote_python}
    status, body, _ = await client.send("POST", f"{api}/remote/profiles", good, json.dumps(profile))
    assert status == 201, body
    forward_body = json.dumps({"server": "box", "remote_port": service_port})
    status, body, _ = await client.send("POST", f"{api}/remote/forwards", good, forward_body)
    assert status == 201, body
    forward_id = json.loads(body)["id"]
    status, body, _ = await client.send("POST", f"{api}/remote/servers/box/terminals", good, "{}")
    assert status == 201, body
    terminal = get_terminal(json.loads(body)["id"])
    assert terminal is not None
    entry = f"{api}/remote/forward/{forward_id}/x"
    status, _, headers = await client.send("GET", entry, {**good, "Host": SANDBOX_HOST})
    assert status == 303, "the entry redirects to the sandbox route"
    sandbox = headers["Location"]
    secret = re.fullmatch(rf".*/remote/sandbox/{forward_id}/([^/]+)/x", sandbox).group(1)
    status, body, _ = await client.send("GET", sandbox)
    assert status == 200 and body == b"ok" and _Service.hits, "the forward works"
    status, _, headers = await client.send("GET", entry, good)  # Host 127.0.0.1: its origin
    assert status == 303, "the entry redirects to the forward's own origin"
    found = re.fullmatch(r"http://(jr-[0-9a-f]{32})\.localhost:(\d+)/x", headers["Location"])
    assert found, headers["Location"]
    label, origin_port = found.group(1), int(found.group(2))
    origin = Client(origin_port)
    own_host = {"Host": f"{label}.localhost:{origin_port}"}
    status, body, _ = await origin.send("GET", "/x", own_host)
    assert status == 200 and body == b"ok", "the forward's own origin works"

    # A real login cookie (token in the URL once, as Jupyter's login link does) and
    # an _xsrf cookie (from the login page) for the controls.
    status, _, headers = await client.send("GET", f"{api}/api/status?token={token}")
    login = [c.split(";")[0] for c in headers.get_list("Set-Cookie") if c.startswith("username")]
    assert status == 200 and login
    status, _, headers = await client.send("GET", f"{api}/login")
    xsrf = [c.split(";")[0] for c in headers.get_list("Set-Cookie") if c.startswith("_xsrf=")]
    assert xsrf
    cookie = {"Cookie": "; ".join(login + xsrf)}
    xsrf_value = xsrf[0].split("=", 1)[1]

    routes = remote_routes(jp_serverapp.web_app)
    handlers = {cls.__name__ for _, cls in routes}
    assert {
        "ServersHandler",
        "EventsHandler",
        "ForwardEntryHandler",
        "SandboxProxyHandler",
    } <= handlers
    values = {"name": "box", "kernel_id": "k1", "path": "a/b", "secret": "not-the-secret"}
    values["terminal_id"] = terminal.id
    assert "TerminalSocket" in handlers
    audited: list[tuple[str, str]] = []
    websockets: list[str] = []
    capability: dict[str, str] = {}  # sandbox path with a wrong secret -> with the right one
    for pattern, cls in routes:
        route_values = dict(values)
        if "/remote/profiles/" in pattern:
            route_values["name"] = "p"
        elif "/remote/hostkeys/" in pattern:
            route_values["name"] = f"%5B127.0.0.1%5D%3A{audit_host.port}"
        elif re.search(r"/remote/(sessions|forwards?|sandbox)/", pattern):
            route_values["name"] = forward_id
        path = concrete(pattern, route_values)
        if "(?P<secret>" in pattern:
            capability[path] = concrete(pattern, {**route_values, "secret": secret})
        methods = implemented_methods(cls)
        assert methods, f"{cls.__name__} implements no method?"
        if issubclass(cls, web.RequestHandler) and "WebSocketHandler" in [
            k.__name__ for k in cls.__mro__
        ]:
            websockets.append(path)
        audited.extend((m, path) for m in methods)
    assert len(capability) == 2, "the sandbox route, with and without the trailing slash"
    print(f"\nauditing {len(audited)} (method, route) pairs of {len(routes)} routes")

    before = snapshot(jp_data_dir)
    hits_before = len(_Service.hits)
    wrong = [
        ("no credentials", {}, ""),
        ("wrong token", {"Authorization": "token not-the-token"}, ""),
        ("empty token", {"Authorization": "token "}, ""),
        ("wrong token in URL", {}, "?token=not-the-token"),
    ]
    failures: list[str] = []
    for method, path in audited:
        refused = {404} if path in capability else REFUSED
        variants = list(wrong)
        if path in capability:  # Jupyter's credentials do not stand in for the secret
            variants += [("valid token, wrong secret", good, ""), ("cookie", cookie, "")]
        for what, headers, query in variants:
            status, body, _ = await client.send(method, path + query, headers)
            if status not in refused:
                failures.append(f"{method} {path} with {what}: {status} {body[:200]!r}")
        if method in MUTATIONS:
            status, body, _ = await client.send(method, path, cookie)
            if status != (404 if path in capability else 403):
                failures.append(f"{method} {path} with a cookie, no XSRF: {status} {body[:200]!r}")
    for path in capability:
        for what, headers in [("no credentials", {}), ("valid token, wrong secret", good)]:
            request = HTTPRequest(f"ws://127.0.0.1:{jp_http_port}{path}", headers=headers)
            try:
                ws = await websocket_connect(request)
            except HTTPClientError as exc:
                if exc.code != 404:
                    failures.append(f"websocket {path} with {what}: {exc.code}")
            else:
                ws.close()
                failures.append(f"websocket {path} with {what}: CONNECTED")
    for path in websockets:
        for what, headers in [
            ("no credentials", {}),
            ("wrong token", {"Authorization": "token not-the-token"}),
            ("cookie from a foreign origin", {**cookie, "Origin": "http://evil.example"}),
        ]:
            request = HTTPRequest(f"ws://127.0.0.1:{jp_http_port}{path}", headers=headers)
            try:
                ws = await websocket_connect(request)
            except HTTPClientError as exc:
                if exc.code not in REFUSED:
                    failures.append(f"websocket {path} with {what}: {exc.code}")
            else:
                ws.close()
                failures.append(f"websocket {path} with {what}: CONNECTED")

    # The origin listener: every route of its own routing table, any other Host.
    origins = jp_serverapp.web_app.settings["remote_forward_origins"]
    origin_routes = [(p, cls) for p, cls in remote_routes(origins.app) if implemented_methods(cls)]
    assert {cls.__name__ for _, cls in origin_routes} == {"OriginProxyHandler"}
    wrong_hosts = [
        f"jr-{'0' * 32}.localhost:{origin_port}",  # a guess
        f"jr-{secret}.localhost:{origin_port}",  # the sandbox's capability
        f"{label[:-1]}x.localhost:{origin_port}",
        f"x.{label}.localhost:{origin_port}",
        f"{label}.localhost.example:{origin_port}",
        f"127.0.0.1:{origin_port}",
        f"localhost:{origin_port}",
        f"127.0.0.1:{jp_http_port}",  # Jupyter's
    ]
    origin_audited = 0
    for pattern, cls in origin_routes:
        path = "/" if pattern in (".*$", ".*") else concrete(pattern, values)
        for method in implemented_methods(cls):
            for host in wrong_hosts:
                for what, headers in [
                    ("no credentials", {}),
                    ("a valid token", good),
                    ("Jupyter's cookies", cookie),
                ]:
                    origin_audited += 1
                    status, body, _ = await origin.send(method, path, {**headers, "Host": host})
                    if status != 404:
                        failures.append(f"origin {method} {path} Host {host} {what}: {status}")
        for host in wrong_hosts[:3]:
            request = HTTPRequest(f"ws://127.0.0.1:{origin_port}{path}", headers={"Host": host})
            try:
                ws = await websocket_connect(request)
            except HTTPClientError as exc:
                if exc.code != 404:
                    failures.append(f"origin websocket {path} Host {host}: {exc.code}")
            else:
                ws.close()
                failures.append(f"origin websocket {path} Host {host}: CONNECTED")
    print(f"auditing {origin_audited} requests to the origin listener with a wrong Host")
    assert not failures, "\n".join(failures)
    assert snapshot(jp_data_dir) == before, "a refused request changed the store"
    assert _Service.hits[hits_before:] == [], "a refused request reached the forwarded service"
    assert terminal.state == "running" and terminal._clients == [], "a refused socket got in"

    # Controls: the same routes with valid credentials are not refused.
    for path in websockets:
        ws = await websocket_connect(
            HTTPRequest(f"ws://127.0.0.1:{jp_http_port}{path}", headers=good)
        )
        hello = json.loads(await ws.read_message())
        assert hello == ["setup", {}] if "/terminals/" in path else hello["type"] == "hello"
        ws.close()
    # proxied requests first, deletions last (they end the forward, the server, ...)
    proxy = (f"{api}/remote/forward/{forward_id}", f"{api}/remote/sandbox/{forward_id}")
    controls = sorted(audited, key=lambda mp: (not mp[1].startswith(proxy), mp[0] == "DELETE"))
    for method in implemented_methods(origin_routes[0][1]):  # the right Host, nothing else
        status, body, _ = await origin.send(method, "/x", own_host)
        assert status == 200, f"origin {method} /x with its Host: {status} {body[:300]!r}"
    for method, path in controls:
        if path in capability:  # the right secret, no Jupyter credentials
            status, body, _ = await client.send(method, capability[path])
            assert status in (200, 302), f"{method} {capability[path]}: {status} {body[:300]!r}"
            continue
        if method in MUTATIONS:
            with_xsrf = {**cookie, "X-XSRFToken": xsrf_value}
            status, body, _ = await client.send(method, path, with_xsrf)
            assert status not in REFUSED, f"{method} {path} cookie+XSRF: {status} {body[:300]!r}"
        status, body, _ = await client.send(method, path, good)
        assert status not in REFUSED, f"{method} {path} with the token: {status} {body[:300]!r}"
    assert _Service.hits[hits_before:], "the controls reached the service through the proxy"
