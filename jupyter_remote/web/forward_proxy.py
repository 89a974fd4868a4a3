"""The browser's way to a service forward inside Jupyter: the entry route and the
sandbox route.

A forwarded page is never same-origin with Jupyter (invariant 11). The entry route
``/remote/forward/<id>/<path>`` (Jupyter auth; what the REST API gives as ``url``)
serves nothing. It redirects, decided per request:

- when the browser runs on this machine (forward_origin.browser_on_this_machine: it
  reached Jupyter on a loopback name, from a loopback address, through no proxy) to
  the forward's OWN origin ``http://jr-<secret>.localhost:<port>/<path>``, served by
  the origin listener (forward_origin.py): a real origin, so the app's workers,
  storage and cookies work, and another site than Jupyter's;
- otherwise to the sandbox route ``/remote/sandbox/<id>/<secret>/<path>``, a reverse
  proxy to the forward's local port whose every answer carries SANDBOX_HEADERS
  (sandbox_policy.py: the headers and cookie rules). The
  CSP sandbox without allow-same-origin gives the page an opaque origin: it cannot
  read Jupyter's cookies or storage, and its requests to Jupyter are cross-origin and
  cross-site (no SameSite=Lax cookie; Origin "null", which Jupyter's API and
  websocket handlers refuse). Its requests to its own app carry no Jupyter cookie
  either: the secret in the path (a capability of the forward,
  sessions/forward.py ForwardSession.secret) authenticates them.

Handlers here are registered by web/routes.py routes().
"""

from __future__ import annotations

import logging
import urllib.parse

from jupyter_server import CallContext
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.utils import url_path_join
from tornado import httputil, web

from ..errors import NotFoundError
from ..sessions.forward import ForwardSession, forward_by_capability, get_forward
from .base import JSONErrors, every_method
from .forward_origin import ORIGINS_SETTING, ForwardOrigins, browser_on_this_machine
from .forward_relay import (
    ForwardRelay,
    end_to_end,
    query_without_token,
    scrub_capability,
    scrub_logs_of,
    upstream_request_headers,
)
from .sandbox_policy import (
    CORS_SAFELISTED,
    DROPPED_UPSTREAM,
    HTTP_TOKEN,
    JUPYTER_ONLY,
    SANDBOX_CORS,
    SANDBOX_HEADERS,
    sandbox_cookie,
)

log = logging.getLogger(__name__)


def forward_or_404(session_id: str) -> ForwardSession:
    """The forward with that id, for the REST and entry handlers (404 if none)."""
    session = get_forward(session_id)
    if session is None:
        raise NotFoundError(
            f"No forward {session_id!r}.", hint="List them with GET /remote/forwards."
        )
    return session


class _ForwardHandler(JSONErrors, JupyterHandler):
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

    def _jupyter_cookies(self) -> set[str]:
        return {self.identity_provider.get_cookie_name(self), "_xsrf"}


@every_method("_answer")
class ForwardEntryHandler(_ForwardHandler):
    """``/remote/forward/{id}/{path}``: the entry of a forward, Jupyter-authenticated
    (403 without Jupyter auth, XSRF on mutating methods with cookie auth, Jupyter's
    origin check). It serves nothing: it redirects to the same path and query (less
    Jupyter's ``token``) on the forward's own origin when the browser runs on this
    machine, else under the forward's sandbox route; 303 for GET and HEAD, 307 for the
    other methods (method and body kept). A websocket handshake gets the 303 too: the
    page opens its websockets where it is served.
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

    async def _to_forward(self, name: str) -> None:
        session = forward_or_404(name)
        if session.owner is None:  # opened in-process without REST: this user vouches
            session.owner = self.current_user
        rest, query = self._rest(name), query_without_token(self.request.query)
        target = ""
        origins: ForwardOrigins | None = self.settings.get(ORIGINS_SETTING)
        if origins is not None and browser_on_this_machine(self.request):
            origin = await origins.origin_of(session)  # starts the listener if need be
            if origin:
                target = f"{origin}/{rest}{query}"
        if not target:
            target = url_path_join(self.base_url, session.sandbox_prefix) + f"/{rest}{query}"
        self.set_header("Cache-Control", "no-store")
        status = 303 if self.request.method in ("GET", "HEAD") else 307
        self.redirect(target, status=status)

    async def _answer(self, name: str, path: str = "") -> None:
        """Every HTTP method (:func:`~.base.every_method`): to the forward."""
        await self._to_forward(name)


class ForwardRootHandler(ForwardEntryHandler):
    """``/remote/forward/{id}`` without the slash: to the root of the forward."""

    def _rest(self, name: str) -> str:
        return ""


@every_method("_answer")
class SandboxProxyHandler(ForwardRelay, _ForwardHandler):
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

    refused_upgrade_headers = SANDBOX_HEADERS
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
        return "/" + rest + query_without_token(self.request.query)

    def _upstream_headers(self, port: int, *, upgrade: bool) -> httputil.HTTPHeaders:
        jupyter_cookies = self._jupyter_cookies()

        def edit(low: str, value: str) -> str | None:
            if low == "cookie":
                kept = [
                    c.strip()
                    for c in value.split(";")
                    if c.strip() and c.split("=", 1)[0].strip() not in jupyter_cookies
                ]
                return "; ".join(kept) or None
            if low == "origin":
                return f"http://127.0.0.1:{port}"  # "null" from the sandbox: the service's own
            return value

        headers = upstream_request_headers(
            self.request.headers, upgrade=upgrade, drop=JUPYTER_ONLY, edit=edit
        )
        headers["Host"] = f"127.0.0.1:{port}"
        headers["X-Forwarded-Prefix"] = self.prefix
        headers["X-Forwarded-Host"] = self.request.host
        headers["X-Forwarded-Proto"] = self.request.protocol
        return headers

    # ------------------------------------------------------------ answers

    def _answered_here(self) -> bool:
        """Answer a CORS preflight of the sandboxed page here (True when answered):
        the service knows nothing of the "null" origin it comes from."""
        headers = self.request.headers
        method = headers.get("Access-Control-Request-Method", "").strip()
        if self.request.method != "OPTIONS" or not method or "Origin" not in headers:
            return False
        self.set_status(204)
        if HTTP_TOKEN.fullmatch(method):
            self.set_header("Access-Control-Allow-Methods", method)
        names = [h.strip() for h in headers.get("Access-Control-Request-Headers", "").split(",")]
        names = [h for h in names if h]
        if names and all(HTTP_TOKEN.fullmatch(h) for h in names):
            self.set_header("Access-Control-Allow-Headers", ", ".join(names))
        self.set_header("Access-Control-Max-Age", "600")
        self.finish()
        return True

    def _relay_headers(self, code: int, reason: str, received: httputil.HTTPHeaders) -> None:
        """The service's status and headers, tamed: hop-by-hop and DROPPED_UPSTREAM go,
        Set-Cookie is scoped to the sandbox prefix, its CSP is added to ours (every
        policy applies, so it can only narrow the sandbox)."""
        self.set_status(code, reason or httputil.responses.get(code, "Unknown"))
        jupyter_cookies = self._jupyter_cookies()
        seen: set[str] = set()
        exposed: list[str] = []
        for key, low, value in end_to_end(received):
            if low in DROPPED_UPSTREAM:
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

    # ------------------------------------------------------------ methods

    async def _answer(self, name: str, secret: str, path: str = "") -> None:
        """Every HTTP method (:func:`~.base.every_method`): to the service."""
        await self.relay(self._upstream_target())


class SandboxRootHandler(SandboxProxyHandler):
    """``/remote/sandbox/{id}/{secret}`` without the slash: redirect, so relative links
    resolve (after the same capability check)."""

    async def relay(self, target: str) -> None:
        self.redirect(self._raw_path + "/" + query_without_token(self.request.query))
