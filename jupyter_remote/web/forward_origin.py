"""A forward's own origin, ``http://jr-<secret>.localhost:<port>/``, for a browser
that runs on the same machine as the Jupyter server (the laptop case).

The sandbox route (forward_proxy.py) keeps a forwarded page away from Jupyter by
giving it an opaque origin, which real apps cannot live with: an opaque origin has no
localStorage, cannot start a Worker from a URL and cannot read ``document.cookie``
(TensorBoard needs all three). Here each forward gets a REAL origin of its own
instead, on a second HTTP listener (:class:`ForwardOrigins`):

- Chromium and Firefox resolve every ``*.localhost`` name to loopback without DNS,
  and ``jr-<secret>.localhost`` is another site than ``localhost`` and
  ``127.0.0.1``: Jupyter's cookies (host-only) are neither visible to the page nor
  sent with its requests, and Jupyter's origin check refuses those requests;
- it is a secure context with its own storage, so workers, localStorage and the
  app's own cookies work, and the app is served at ``/`` (absolute paths work).

The listener is bound to 127.0.0.1 (and ::1 when the machine has it, so nobody else
can take that port there), on one port for all forwards, and routes on the Host
header: its first label ``jr-<secret>`` is the credential (compared in constant
time); any other Host gets 404 and reaches nothing. It serves nothing but forwards.
RemoteExtensionApp creates it, the entry route starts it on first use, the
extension's stop closes it.
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import socket
import urllib.parse
import weakref
from collections.abc import Mapping
from typing import Any

from jupyter_core.utils import ensure_async
from jupyter_server.auth.utils import HTTP_METHOD_TO_AUTH_ACTION
from tornado import httputil, iostream, web
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

from ..errors import RemoteError
from ..sessions.forward import ORIGIN_LABEL_PREFIX, ForwardSession, forward_by_origin
from .base import JSONErrors, every_method
from .forward_relay import ForwardRelay, end_to_end, scrub_capability, scrub_logs_of
from .forward_relay import upstream_request_headers as _upstream

log = logging.getLogger(__name__)

#: key of the ForwardOrigins object in Jupyter's web_app.settings
ORIGINS_SETTING = "remote_forward_origins"
ORIGIN_SUFFIX = ".localhost"
#: Our Referer policy on the forward's origin: full Referer to its own pages, none to
#: anyone else, so its host name (the capability) never leaves in a Referer.
REFERRER_POLICY = "same-origin"
#: Answer headers of the service that are not its to set: Clear-Site-Data (kept away
#: from the browser's data in case a browser counts "localhost" as the registrable
#: domain of jr-….localhost) and Referrer-Policy (ours keeps the capability in).
DROPPED_ON_ORIGIN = {"clear-site-data", "referrer-policy"}
#: Request headers a proxy adds: a browser that reaches Jupyter through a proxy is not
#: known to run on this machine.
PROXY_HEADERS = ("Forwarded", "Via", "X-Forwarded-For", "X-Forwarded-Host", "X-Real-Ip")
_BIND_TRIES = 5


def host_name(host: str) -> str:
    """The name of a Host header value: lowercase, without port, brackets, final dot."""
    host = host.strip().lower()
    if host.startswith("["):
        end = host.find("]")
        return host[1:end] if end > 0 else host
    if host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host.rstrip(".")


def _loopback_address(text: str) -> bool:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def browser_on_this_machine(request: httputil.HTTPServerRequest) -> bool:
    """Whether the browser that sent ``request`` runs on this machine: it named Jupyter
    by a loopback name (127.0.0.1, [::1], localhost, *.localhost), it connected from
    a loopback address and no proxy header says another hop was in between.

    Called by the entry route on every request: only then is ``jr-….localhost`` (which
    the browser resolves to its OWN loopback) this server. A Docker port mapping or a
    remote reverse proxy connects from elsewhere; an ``ssh -L`` tunnel cannot be told
    apart (see RemoteExtensionApp.forward_origins).
    """
    if any(name in request.headers for name in PROXY_HEADERS):
        return False
    name = host_name(request.host or "")
    if not (name == "localhost" or name.endswith(ORIGIN_SUFFIX) or _loopback_address(name)):
        return False
    return _loopback_address(request.remote_ip or "")


def cookie_without_domain(value: str) -> str:
    """A Set-Cookie value without its Domain attribute (the cookie stays host-only on
    the forward's own origin, as a browser treats a cookie set with no Domain)."""
    parts = [p.strip() for p in value.split(";")]
    kept = [parts[0]] + [
        p for p in parts[1:] if p and p.split("=", 1)[0].strip().lower() != "domain"
    ]
    return "; ".join(kept)


@every_method("_answer", auth=False)
class OriginProxyHandler(ForwardRelay, JSONErrors):
    """Every request to the origin listener: find the forward by the Host header, ask
    Jupyter's authorizer as the user who opened it, relay it as is.

    A Host that is no forward's origin gets 404, the same body for any Host, and nothing
    reaches a service. The service sees Host ``127.0.0.1:<local port>`` (as through
    the tunnel), and Origin and Referer of the page's own origin rewritten to that; the
    answer keeps the app's own headers (its CSP, CORS, cookies: they act on its own
    origin only), less Domain on cookies, hop-by-hop headers and DROPPED_ON_ORIGIN;
    an absolute Location back to the service is turned into the forward's origin.
    """

    SUPPORTED_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
    refused_upgrade_headers = {"Referrer-Policy": REFERRER_POLICY}

    def initialize(self, origins: ForwardOrigins) -> None:
        self.origins = origins

    def set_default_headers(self) -> None:
        self.set_header("Referrer-Policy", REFERRER_POLICY)

    async def prepare(self) -> None:
        session = self.origins.session_for_host(self.request.host or "")
        if session is None:
            raise web.HTTPError(404)
        self._session = session
        if not (self.request.uri or "").startswith("/"):
            raise web.HTTPError(400)  # absolute-form or "*": not a browser's request
        await self.origins.authorize(self, session)

    def get_current_user(self) -> Any:
        return self._session.owner if self._session is not None else None

    # ------------------------------------------------------------ errors, logs

    def error_body(self, status_code: int, exc: BaseException | None) -> dict[str, Any]:
        if status_code == 404 and not isinstance(exc, RemoteError):
            return {
                "message": "No such forwarded page.",
                "reason": "Not Found",
                "hint": "Open the forward again from JupyterLab (its Open button).",
            }
        return super().error_body(status_code, exc)

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        # Never tornado's default: it writes repr(request), Host (the capability) included.
        if isinstance(value, RemoteError):
            log.info("%s %s -> %s", self.request.method, self.request.path, value.message)
        elif not isinstance(value, web.HTTPError):
            log.error(
                "Uncaught exception on a forward's origin: %s %s",
                self.request.method,
                self.request.path,
                exc_info=(typ, value, tb),
            )

    # ------------------------------------------------------------ upstream

    @property
    def own_origin(self) -> str:
        return f"{self.request.protocol}://{self.request.host}"

    def _upstream_headers(self, port: int, *, upgrade: bool) -> httputil.HTTPHeaders:
        own, service = self.own_origin.lower(), f"http://127.0.0.1:{port}"

        def edit(low: str, value: str) -> str | None:
            if low == "origin" and value.strip().lower() == own:
                return service
            if low == "referer" and value.lower().startswith(own + "/"):
                return service + value[len(own) :]
            return value

        headers = _upstream(self.request.headers, upgrade=upgrade, edit=edit)
        headers["Host"] = f"127.0.0.1:{port}"
        headers["X-Forwarded-Host"] = self.request.host
        headers["X-Forwarded-Proto"] = self.request.protocol
        return headers

    def _relay_headers(self, code: int, reason: str, received: httputil.HTTPHeaders) -> None:
        self.set_status(code, reason or httputil.responses.get(code, "Unknown"))
        seen: set[str] = set()
        for key, low, value in end_to_end(received):
            if low in DROPPED_ON_ORIGIN:
                continue
            if low == "set-cookie":
                value = cookie_without_domain(value)
            elif low == "location":
                value = self._own_location(value)
            if low in seen:
                self.add_header(key, value)
            else:
                self.set_header(key, value)
                seen.add(low)

    def _own_location(self, location: str) -> str:
        """An absolute redirect of the service to itself (``http://127.0.0.1:<local
        port>/…``, as it sees its Host) sent to the forward's origin instead, not to
        the bare tunnel."""
        assert self._session is not None
        parts = urllib.parse.urlsplit(location.strip())
        port = self._session.local_port
        if parts.scheme in ("http", "") and parts.netloc.lower() in (
            f"127.0.0.1:{port}",
            f"localhost:{port}",
        ):
            return self.own_origin + urllib.parse.urlunsplit(("", "", *parts[2:]))
        return location

    def _on_tunnel(self, downstream: iostream.IOStream, upstream: iostream.IOStream) -> None:
        self.origins.tunnels.update((downstream, upstream))

    async def _answer(self, *args: str) -> None:
        """Every HTTP method (:func:`~.base.every_method`, no Jupyter auth: the Host is
        the credential, checked in ``prepare``): to the service."""
        await self.relay(self.request.uri or "/")


class ForwardOrigins:
    """The origin listener: one tornado HTTPServer on the Jupyter server's loop, bound
    to 127.0.0.1 (and ::1 on the same port when the machine has IPv6), serving every
    forward's own origin and nothing else.

    Created by RemoteExtensionApp.initialize_settings (``enabled`` and ``port`` from
    its traits), started by the entry route the first time a browser on this machine
    opens a forward (:meth:`origin_of`), stopped by RemoteExtensionApp.stop_extension.
    """

    def __init__(
        self,
        *,
        jupyter_settings: Mapping[str, Any],
        log: logging.Logger,
        enabled: bool = True,
        port: int = 0,
    ) -> None:
        self.jupyter_settings = jupyter_settings
        self.log = log
        self.enabled = enabled
        self.wanted_port = port
        self.port = 0
        self.sockets: list[socket.socket] = []
        self.tunnels: weakref.WeakSet[iostream.IOStream] = weakref.WeakSet()
        self._server: HTTPServer | None = None
        #: the listener's tornado Application while it listens (the auth audit reads
        #: its routing table)
        self.app: web.Application | None = None

    # ------------------------------------------------------------ lifecycle

    @property
    def listening(self) -> bool:
        return self._server is not None

    def start(self) -> int:
        """Listen (once; later calls return the port). Raises OSError when the port
        cannot be had on 127.0.0.1, or on ::1 where the machine has it."""
        if self._server is not None:
            return self.port
        scrub_logs_of(self.log, log)  # before any origin is given out
        sockets = self._bind()
        app = web.Application(
            [(r".*", OriginProxyHandler, {"origins": self})],
            log_function=self._log_request,
            xsrf_cookies=False,
        )
        server = HTTPServer(app, xheaders=False, decompress_request=False)
        server.add_sockets(sockets)
        self._server, self.sockets, self.app = server, sockets, app
        self.port = sockets[0].getsockname()[1]
        addresses = ", ".join(_where(s) for s in sockets)
        self.log.info("jupyter-remote: forwards' own origins served on %s", addresses)
        return self.port

    def _bind(self) -> list[socket.socket]:
        for attempt in range(_BIND_TRIES):
            sockets = bind_sockets(self.wanted_port, "127.0.0.1", family=socket.AF_INET)
            port = sockets[0].getsockname()[1]
            try:
                sockets += bind_sockets(port, "::1", family=socket.AF_INET6)
            except OSError as exc:
                if exc.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT):
                    return sockets  # no IPv6 loopback: nobody can listen there either
                for s in sockets:
                    s.close()
                if self.wanted_port or attempt + 1 == _BIND_TRIES:
                    raise
                continue
            return sockets
        raise OSError(errno.EADDRINUSE, "no free port on both 127.0.0.1 and ::1")

    async def stop(self) -> None:
        """Stop listening and close every connection, websocket tunnels included."""
        server, self._server = self._server, None
        if server is None:
            return
        server.stop()
        for stream in list(self.tunnels):
            stream.close()
        await server.close_all_connections()
        self.sockets, self.app = [], None
        self.log.info("jupyter-remote: forwards' own origins closed")

    # ------------------------------------------------------------ for the routes

    async def origin_of(self, session: ForwardSession) -> str:
        """``http://jr-<secret>.localhost:<port>`` of ``session``, listening first if
        need be; "" when own origins are off or the listener cannot listen (the entry
        route then uses the sandbox route). Called by ForwardEntryHandler."""
        if not self.enabled:
            return ""
        try:
            port = self.start()
        except OSError as exc:
            self.log.warning(
                "jupyter-remote: cannot listen for forwards' own origins (%s); "
                "forwarded pages are served sandboxed under Jupyter",
                exc.strerror or exc,
            )
            return ""
        return f"http://{session.origin_label}{ORIGIN_SUFFIX}:{port}"

    def session_for_host(self, host: str) -> ForwardSession | None:
        """The forward whose origin ``host`` (a Host header) is, else None."""
        name = host_name(host)
        label = name[: -len(ORIGIN_SUFFIX)] if name.endswith(ORIGIN_SUFFIX) else ""
        if not label.startswith(ORIGIN_LABEL_PREFIX) or "." in label:
            return None
        return forward_by_origin(label)

    async def authorize(self, handler: web.RequestHandler, session: ForwardSession) -> None:
        """Ask Jupyter's authorizer, as ``@authorized`` does on the sandbox route: may
        the user who opened the forward do this (resource ``remote``)? 403 if not."""
        authorizer = self.jupyter_settings.get("authorizer")
        if authorizer is None:
            return
        action = HTTP_METHOD_TO_AUTH_ACTION.get(handler.request.method or "", "write")
        allowed = await ensure_async(
            authorizer.is_authorized(handler, session.owner, action, "remote")
        )
        if not allowed:
            raise web.HTTPError(403)

    def _log_request(self, handler: web.RequestHandler) -> None:
        status, request = handler.get_status(), handler.request
        self.log.log(
            logging.DEBUG if status < 400 else logging.INFO,
            "%d %s http://%s%s (%s) %.2fms [forward origin]",
            status,
            request.method,
            scrub_capability(request.host or ""),
            request.path,
            request.remote_ip,
            1000.0 * request.request_time(),
        )


def _where(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
