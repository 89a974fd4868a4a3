"""The browser's way to a service forward: the entry route and the sandbox route.

A forwarded page is never same-origin with Jupyter (invariant 11). The entry route
``/remote/forward/<id>/<path>`` (Jupyter auth; what the REST API gives as ``url``)
serves nothing: it redirects to the sandbox route ``/remote/sandbox/<id>/<secret>/<path>``,
a reverse proxy to the forward's local port whose every answer carries
SANDBOX_HEADERS. The CSP sandbox without allow-same-origin gives the page an opaque
origin: it cannot read Jupyter's cookies or storage, and its requests to Jupyter are
cross-origin and cross-site (no SameSite=Lax cookie; Origin "null", which Jupyter's
API and websocket handlers refuse). Its requests to its own app carry no Jupyter
cookie either: the secret in the path (a capability of the forward,
service_forwards.ForwardSession.secret) authenticates them.

Handlers here are registered by handlers.routes().
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import urllib.parse
from typing import Any

from jupyter_server import CallContext
from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.utils import url_path_join
from tornado import httputil, iostream, web
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from tornado.tcpclient import TCPClient

from .errors import NotFoundError, RemoteError, SSHConnectError
from .service_forwards import ForwardSession, forward_by_capability, get_forward

log = logging.getLogger(__name__)


def forward_or_404(session_id: str) -> ForwardSession:
    """The forward with that id, for the REST and entry handlers (404 if none)."""
    session = get_forward(session_id)
    if session is None:
        raise NotFoundError(
            f"No forward {session_id!r}.", hint="List them with GET /remote/forwards."
        )
    return session


SANDBOX_CSP = "sandbox allow-scripts allow-forms allow-popups allow-modals allow-downloads"
#: on every answer of both forward routes; the CSP replaces Jupyter's default one,
#: whose frame-ancestors 'self' would keep the app from framing its own pages
SANDBOX_HEADERS = {
    "Content-Security-Policy": SANDBOX_CSP,
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}
#: The sandboxed page's origin is "null", so its fetch/XHR, fonts and module scripts
#: to its own app are cross-origin: allowed for "null" only. Whoever can name these
#: URLs holds the capability already.
SANDBOX_CORS = {
    "Access-Control-Allow-Origin": "null",
    "Access-Control-Allow-Credentials": "true",
    "Vary": "Origin",
}
#: Upstream answer headers that would weaken the sandbox or act on Jupyter's origin
#: (Clear-Site-Data would log the user out of Jupyter and wipe JupyterLab's storage);
#: CORS is ours to answer.
DROPPED_UPSTREAM = {
    "clear-site-data",
    "service-worker-allowed",
    "referrer-policy",
    "x-content-type-options",
    "access-control-allow-origin",
    "access-control-allow-credentials",
    "access-control-allow-methods",
    "access-control-allow-headers",
    "access-control-allow-private-network",
    "access-control-expose-headers",
    "access-control-max-age",
}
#: answer headers a cross-origin script may read without Access-Control-Expose-Headers
CORS_SAFELISTED = {
    "cache-control",
    "content-language",
    "content-length",
    "content-type",
    "expires",
    "last-modified",
    "pragma",
}
# Hop-by-hop headers (RFC 9110 7.6.1) and what only Jupyter's auth should see.
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "trailers",
    "transfer-encoding",
    "upgrade",
}
JUPYTER_ONLY = {"authorization", "x-xsrftoken", "x-csrftoken", "host", "content-length"}
_SECRET_IN_PATH = re.compile(r"(/remote/sandbox/[^/?#]*/)[^/?#]+")
_HTTP_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def scrub_capability(text: str) -> str:
    """``text`` with the secret of every sandbox path in it replaced by ``***``.

    Called on the sandbox route's request URI, path and Referer before anything
    can log them.
    """
    return _SECRET_IN_PATH.sub(r"\1***", text)


class _ScrubCapabilities(logging.Filter):
    """Scrubs sandbox secrets from every record of the logger it is on.

    A forwarded page knows its own capability and can send it as the Referer of a
    request to any of Jupyter's routes (``fetch(url, {referrerPolicy: "unsafe-url"})``
    overrides our no-referrer), and Jupyter's request log writes the Referer of 4xx
    and 5xx answers: this filter keeps it out of the log.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and "/remote/sandbox/" in record.msg:
            record.msg = scrub_capability(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(
                scrub_capability(a) if isinstance(a, str) and "/remote/sandbox/" in a else a
                for a in record.args
            )
        return True


_SCRUB = _ScrubCapabilities()


def scrub_logs_of(logger: logging.Logger) -> None:
    """Put the capability scrubber on ``logger`` and tornado's loggers (once each).

    Called by the forward routes' handlers on every request, so it is in place
    before any page can know a capability (the entry route gives it out).
    """
    for each in (logger, *(logging.getLogger(n) for n in TORNADO_LOGGERS)):
        if _SCRUB not in each.filters:
            each.addFilter(_SCRUB)


TORNADO_LOGGERS = ("tornado.access", "tornado.application", "tornado.general")


def _query_without_token(query: str) -> str:
    """``?query`` minus Jupyter's ``token`` argument ("" when nothing is left)."""
    if not query:
        return ""
    pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
    if any(k == "token" for k, _ in pairs):
        query = urllib.parse.urlencode([(k, v) for k, v in pairs if k != "token"])
    return f"?{query}" if query else ""


def sandbox_cookie(value: str, prefix: str, jupyter_cookies: set[str]) -> str | None:
    """An upstream ``Set-Cookie`` scoped to the forward's sandbox prefix, or None to drop it.

    Called by SandboxProxyHandler for each Set-Cookie of the service. Domain goes (the
    cookie stays host-only) and Path moves under ``prefix``, so the cookie never
    reaches Jupyter's own routes; Jupyter's cookie names and ``__Host-``/``__Secure-``
    names (which demand Path=/ or a secure origin) are dropped.
    """
    parts = value.split(";")
    name = parts[0].split("=", 1)[0].strip()
    if not name or name in jupyter_cookies or name.lower().startswith(("__host-", "__secure-")):
        return None
    path = "/"
    kept = [parts[0].strip()]
    for attr in parts[1:]:
        key, _, val = attr.partition("=")
        key = key.strip().lower()
        if key == "domain":
            continue
        if key == "path":
            val = val.strip()
            path = val if val.startswith("/") else "/"
            continue
        if attr.strip():
            kept.append(attr.strip())
    kept.append(f"Path={prefix}{path}")
    return "; ".join(kept)


class _ForwardHandler(JupyterHandler):
    """Common ground of the forward routes: auth resource, sandbox headers, JSON errors."""

    auth_resource = "remote"

    def initialize(self) -> None:
        log = self.log
        scrub_logs_of(log if isinstance(log, logging.Logger) else logging.getLogger())

    def set_default_headers(self) -> None:
        super().set_default_headers()  # Jupyter's and the admin's headers first
        for key, value in SANDBOX_HEADERS.items():
            self.set_header(key, value)

    def get_login_url(self) -> str:
        raise web.HTTPError(403)  # no login redirect: refused, as every /remote/ route

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, RemoteError):
            self.set_status(exc.status)
            body = exc.to_json()
        else:
            message = getattr(exc, "log_message", None) or self._reason
            if status_code >= 500 and not isinstance(exc, web.HTTPError):
                message = "Internal error in jupyterlab-remote; see the Jupyter server log."
            body = {"message": message, "reason": self._reason, "hint": ""}
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body))

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if isinstance(value, RemoteError):
            log.info("%s %s -> %s", self.request.method, self.request.path, value.message)
            return
        super().log_exception(typ, value, tb)

    def _jupyter_cookies(self) -> set[str]:
        return {self.identity_provider.get_cookie_name(self), "_xsrf"}


class ForwardEntryHandler(_ForwardHandler):
    """``/remote/forward/{id}/{path}``: the entry of a forward, Jupyter-authenticated
    (403 without Jupyter auth, XSRF on mutating methods with cookie auth, Jupyter's
    origin check). It serves nothing: it redirects to the same path and query (less
    Jupyter's ``token``) under the forward's sandbox route, 303 for GET and HEAD, 307
    for the other methods (method and body kept). A websocket handshake gets the 303
    too: a sandboxed page opens its websockets on the sandbox route.
    """

    async def prepare(self) -> None:  # type: ignore[override]
        await super().prepare()
        if not self.check_origin():
            raise web.HTTPError(404)

    def _rest(self, name: str) -> str:
        """The path after the entry prefix, as the client sent it (percent-encoded)."""
        raw = self.request.path
        marker = f"/remote/forward/{name}/"
        if marker in raw:
            return raw[raw.find(marker) + len(marker) :]
        return urllib.parse.quote(self.path_kwargs.get("path") or "")

    def _to_sandbox(self, name: str) -> None:
        session = forward_or_404(name)
        if session.owner is None:  # opened in-process without REST: this user vouches
            session.owner = self.current_user
        target = url_path_join(self.base_url, session.sandbox_prefix) + "/" + self._rest(name)
        self.set_header("Cache-Control", "no-store")
        status = 303 if self.request.method in ("GET", "HEAD") else 307
        self.redirect(target + _query_without_token(self.request.query), status=status)

    @web.authenticated
    @authorized
    async def get(self, name: str, path: str = "") -> None:
        self._to_sandbox(name)

    @web.authenticated
    @authorized
    async def head(self, name: str, path: str = "") -> None:
        self._to_sandbox(name)

    @web.authenticated
    @authorized
    async def post(self, name: str, path: str = "") -> None:
        self._to_sandbox(name)

    @web.authenticated
    @authorized
    async def put(self, name: str, path: str = "") -> None:
        self._to_sandbox(name)

    @web.authenticated
    @authorized
    async def patch(self, name: str, path: str = "") -> None:
        self._to_sandbox(name)

    @web.authenticated
    @authorized
    async def delete(self, name: str, path: str = "") -> None:
        self._to_sandbox(name)

    @web.authenticated
    @authorized
    async def options(self, name: str, path: str = "") -> None:
        self._to_sandbox(name)


class ForwardRootHandler(ForwardEntryHandler):
    """``/remote/forward/{id}`` without the slash: to the root of its sandbox route."""

    def _rest(self, name: str) -> str:
        return ""


class SandboxProxyHandler(_ForwardHandler):
    """``/remote/sandbox/{id}/{secret}/{path}``: reverse proxy to the forward's local port.

    Every answer is sandboxed (SANDBOX_HEADERS) and open to CORS from the sandboxed
    page's "null" origin (SANDBOX_CORS; preflights are answered here). The secret is
    the credential: unless it is the forward's, 404, the same whether or not the id
    exists, and nothing reaches the service. With it the request acts as the Jupyter
    user who opened the forward, for ``@web.authenticated`` + ``@authorized`` (a
    sandboxed page has no Jupyter cookie). No XSRF and no origin check: the page has
    no XSRF cookie and its Origin is "null"; the unguessable path is the CSRF defence.
    Jupyter's credentials (Authorization, login and _xsrf cookies, ``token``) are not
    passed to the service, Origin becomes the service's own, and the secret is
    scrubbed from the request before anything logs it.
    """

    proxy_timeout = 3600.0
    _session: ForwardSession | None = None
    _raw_path = ""

    def initialize(self) -> None:
        # Called by tornado before anything can log the request (a 405, Jupyter's
        # request log, our errors): keep the path for the upstream, scrub the rest.
        super().initialize()
        request = self.request
        self._raw_path = request.path
        request.uri = scrub_capability(request.uri or "")
        request.path = scrub_capability(request.path)
        referer = request.headers.get("Referer")
        if referer is not None:
            request.headers["Referer"] = scrub_capability(referer)

    def set_default_headers(self) -> None:
        super().set_default_headers()
        for key, value in SANDBOX_CORS.items():
            self.set_header(key, value)

    async def prepare(self) -> None:  # type: ignore[override]
        CallContext.set(CallContext.JUPYTER_HANDLER, self)  # as JupyterHandler.prepare
        self.current_user = self._jupyter_current_user = None
        if not self.check_host():
            raise web.HTTPError(403)
        session = forward_by_capability(self.path_kwargs["name"], self.path_kwargs["secret"])
        if session is None:
            raise NotFoundError(
                "No such forwarded page.",
                hint="Open the forward again from JupyterLab (its Open button) or "
                "GET /remote/forward/ID/ with Jupyter's auth.",
            )
        self._session = session
        self.current_user = self._jupyter_current_user = session.owner

    def check_xsrf_cookie(self) -> None:
        """None: the capability in the path stands in for it (see the class docstring)."""

    def check_origin(self, origin_to_satisfy_tornado: str = "") -> bool:
        """Always: a sandboxed page's Origin is "null"; the capability was checked."""
        return True

    # ------------------------------------------------------------ what goes upstream

    @property
    def prefix(self) -> str:
        """The sandbox route's prefix as the browser sees it (base_url included)."""
        assert self._session is not None
        return url_path_join(self.base_url, self._session.sandbox_prefix)

    def _upstream_target(self) -> str:
        raw = self._raw_path
        name, secret = self.path_kwargs["name"], self.path_kwargs["secret"]
        marker = f"/remote/sandbox/{name}/{secret}/"
        if marker in raw:
            rest = raw[raw.find(marker) + len(marker) :]
        else:  # id or secret were percent-encoded: re-encode the decoded path
            rest = urllib.parse.quote(self.path_kwargs.get("path") or "")
        return "/" + rest + _query_without_token(self.request.query)

    def _upstream_headers(self, port: int, *, upgrade: bool) -> httputil.HTTPHeaders:
        connection = {
            t.strip().lower() for t in self.request.headers.get("Connection", "").split(",")
        }
        jupyter_cookies = self._jupyter_cookies()
        headers = httputil.HTTPHeaders()
        for key, value in self.request.headers.get_all():
            low = key.lower()
            if low in JUPYTER_ONLY or low.startswith("proxy-"):
                continue
            if (low in HOP_BY_HOP or low in connection) and not (
                upgrade and low in ("connection", "upgrade")
            ):
                continue
            if low == "cookie":
                kept = [
                    c.strip()
                    for c in value.split(";")
                    if c.strip() and c.split("=", 1)[0].strip() not in jupyter_cookies
                ]
                if kept:
                    headers.add("Cookie", "; ".join(kept))
                continue
            if low == "origin":
                value = f"http://127.0.0.1:{port}"  # "null" from the sandbox: the service's own
            headers.add(key, value)
        headers["Host"] = f"127.0.0.1:{port}"
        headers["X-Forwarded-Prefix"] = self.prefix
        headers["X-Forwarded-Host"] = self.request.host
        headers["X-Forwarded-Proto"] = self.request.protocol
        return headers

    def _unreachable(self, session: ForwardSession, detail: str) -> RemoteError:
        state = "" if session.state == "running" else f" (the forward is {session.state})"
        return SSHConnectError(
            f"Nothing answered on {session.server}:127.0.0.1:{session.remote_port}{state}: "
            f"{detail}",
            hint="Check that the service runs on the remote and listens on 127.0.0.1 at that port.",
        )

    # ------------------------------------------------------------ HTTP

    def _preflight(self) -> bool:
        """Answer a CORS preflight of the sandboxed page here (True when answered):
        the service knows nothing of the "null" origin it comes from."""
        headers = self.request.headers
        method = headers.get("Access-Control-Request-Method", "").strip()
        if self.request.method != "OPTIONS" or not method or "Origin" not in headers:
            return False
        self.set_status(204)
        if _HTTP_TOKEN.fullmatch(method):
            self.set_header("Access-Control-Allow-Methods", method)
        names = [h.strip() for h in headers.get("Access-Control-Request-Headers", "").split(",")]
        names = [h for h in names if h]
        if names and all(_HTTP_TOKEN.fullmatch(h) for h in names):
            self.set_header("Access-Control-Allow-Headers", ", ".join(names))
        self.set_header("Access-Control-Max-Age", "600")
        self.finish()
        return True

    async def _proxy(self) -> None:
        session = self._session
        assert session is not None
        target = self._upstream_target()
        if self.request.headers.get("Upgrade", "").strip().lower() == "websocket":
            await self._tunnel(session, target)
            return
        if self._preflight():
            return
        port = session.local_port
        status: tuple[int, str] = (0, "")
        received = httputil.HTTPHeaders()
        started = False

        def on_header(line: str) -> None:
            nonlocal status, received, started
            if line.startswith("HTTP/"):
                start = httputil.parse_response_start_line(line.strip())
                status, received = (start.code, start.reason), httputil.HTTPHeaders()
            elif line.strip():
                received.parse_line(line)
            elif status[0] >= 200:  # end of the final (not 1xx) header block
                started = True
                self._relay_headers(*status, received)

        def on_chunk(chunk: bytes) -> None:
            if self._client_gone:
                raise iostream.StreamClosedError()  # aborts the upstream fetch
            self.write(chunk)
            self.flush().add_done_callback(lambda f: f.exception())

        method = self.request.method or "GET"
        body = self.request.body if method in ("POST", "PUT", "PATCH", "DELETE") else None
        request = HTTPRequest(
            f"http://127.0.0.1:{port}{target}",
            method=method,
            headers=self._upstream_headers(port, upgrade=False),
            body=body,
            allow_nonstandard_methods=True,
            follow_redirects=False,
            decompress_response=False,
            connect_timeout=20,
            request_timeout=self.proxy_timeout,
            header_callback=on_header,
            streaming_callback=on_chunk,
        )
        client = AsyncHTTPClient(force_instance=True)
        try:
            response = await client.fetch(request, raise_error=False)
            error = response.error
        except Exception as exc:  # connection refused/reset, timeout: never an HTTP answer
            error = exc
        finally:
            client.close()
        if self._client_gone:
            return
        if not started:
            raise self._unreachable(session, str(error) or type(error).__name__)
        if error is not None and not isinstance(error, HTTPClientError):
            log.info("forward %s: upstream broke off %s: %s", session.id, self.request.path, error)
            connection: Any = self.request.connection
            if connection is not None:
                connection.close()  # the client must not take a cut body as complete
            return
        self.finish()

    def _relay_headers(self, code: int, reason: str, received: httputil.HTTPHeaders) -> None:
        """The service's status and headers, tamed: hop-by-hop and DROPPED_UPSTREAM go,
        Set-Cookie is scoped to the sandbox prefix, its CSP is added to ours (every
        policy applies, so it can only narrow the sandbox)."""
        self.clear_header("Content-Type")
        self.set_status(code, reason or httputil.responses.get(code, "Unknown"))
        connection = {t.strip().lower() for t in received.get("Connection", "").split(",")}
        jupyter_cookies = self._jupyter_cookies()
        seen: set[str] = set()
        exposed: list[str] = []
        for key, value in received.get_all():
            low = key.lower()
            if low in HOP_BY_HOP or low in connection or low in DROPPED_UPSTREAM:
                continue
            if low == "set-cookie":
                cookie = sandbox_cookie(value, self.prefix, jupyter_cookies)
                if cookie is not None:
                    self.add_header(key, cookie)
                continue
            if low == "content-security-policy":
                self.add_header(key, value)
                continue
            if low not in CORS_SAFELISTED and low not in seen:
                exposed.append(key)
            if low in seen:
                self.add_header(key, value)
            else:
                self.set_header(key, value)
                seen.add(low)
        if exposed:
            self.set_header("Access-Control-Expose-Headers", ", ".join(exposed))

    _client_gone = False

    def on_connection_close(self) -> None:
        self._client_gone = True
        super().on_connection_close()

    # ------------------------------------------------------------ Upgrade (websockets)

    async def _tunnel(self, session: ForwardSession, target: str) -> None:
        port = session.local_port
        try:
            upstream = await TCPClient().connect("127.0.0.1", port, timeout=10)
        except (OSError, iostream.StreamClosedError, asyncio.TimeoutError) as exc:
            raise self._unreachable(session, str(exc) or type(exc).__name__) from None
        head = [f"{self.request.method} {target} HTTP/1.1"]
        head += [f"{k}: {v}" for k, v in self._upstream_headers(port, upgrade=True).get_all()]
        downstream = self.detach()
        try:
            await upstream.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
            answer = await asyncio.wait_for(
                upstream.read_until(b"\r\n\r\n", max_bytes=64 * 1024), 30
            )
            start = httputil.parse_response_start_line(answer.split(b"\r\n", 1)[0].decode())
            if start.code != 101:
                # Refused: answer with its status and close, so this connection can never
                # carry later requests straight to the service, past our checks.
                reason = (start.reason or "").replace("\r", " ").replace("\n", " ")
                ours = "".join(f"{k}: {v}\r\n" for k, v in {**SANDBOX_HEADERS}.items())
                answer = (
                    f"HTTP/1.1 {start.code} {reason}\r\n{ours}"
                    "Content-Length: 0\r\nConnection: close\r\n\r\n"
                ).encode("latin-1", "replace")
            await downstream.write(answer)
            if start.code != 101:
                raise iostream.StreamClosedError()
        except (
            iostream.StreamClosedError,
            iostream.UnsatisfiableReadError,
            httputil.HTTPInputError,
            asyncio.TimeoutError,
            UnicodeDecodeError,
        ):
            downstream.close()
            upstream.close()
            return
        await asyncio.gather(_relay(downstream, upstream), _relay(upstream, downstream))

    @web.authenticated
    @authorized
    async def get(self, name: str, secret: str, path: str = "") -> None:
        await self._proxy()

    @web.authenticated
    @authorized
    async def head(self, name: str, secret: str, path: str = "") -> None:
        await self._proxy()

    @web.authenticated
    @authorized
    async def post(self, name: str, secret: str, path: str = "") -> None:
        await self._proxy()

    @web.authenticated
    @authorized
    async def put(self, name: str, secret: str, path: str = "") -> None:
        await self._proxy()

    @web.authenticated
    @authorized
    async def patch(self, name: str, secret: str, path: str = "") -> None:
        await self._proxy()

    @web.authenticated
    @authorized
    async def delete(self, name: str, secret: str, path: str = "") -> None:
        await self._proxy()

    @web.authenticated
    @authorized
    async def options(self, name: str, secret: str, path: str = "") -> None:
        await self._proxy()


async def _relay(src: iostream.IOStream, dst: iostream.IOStream) -> None:
    try:
        while True:
            data = await src.read_bytes(64 * 1024, partial=True)
            await dst.write(data)
    except iostream.StreamClosedError:
        pass
    finally:
        dst.close()


class SandboxRootHandler(SandboxProxyHandler):
    """``/remote/sandbox/{id}/{secret}`` without the slash: redirect, so relative links
    resolve (after the same capability check)."""

    async def _proxy(self) -> None:
        self.redirect(self._raw_path + "/" + _query_without_token(self.request.query))
