"""What both browser paths of a service forward share: relaying a request (HTTP or a
websocket upgrade) to the forward's local port, the header hygiene common to both,
and keeping the forward's secrets out of every log.

The two paths (invariant 11, a forwarded page is never same-origin with Jupyter):

- forward_proxy.SandboxProxyHandler, ``/remote/sandbox/<id>/<secret>/`` under
  Jupyter: the page gets an opaque origin (CSP sandbox);
- forward_origin.OriginProxyHandler, ``http://jr-<secret>.localhost:<port>/`` on the
  origin listener: the page gets an origin of its own.

Each subclass of :class:`ForwardRelay` says which request headers go upstream
(``_upstream_headers``) and what becomes of the service's answer headers
(``_relay_headers``).
"""

from __future__ import annotations

import asyncio
import logging
import re
import urllib.parse
from collections.abc import Callable, Iterator
from typing import Any

from tornado import httputil, iostream, web
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from tornado.tcpclient import TCPClient

from ..errors import RemoteError, SSHConnectError
from ..sessions.forward import ForwardSession

log = logging.getLogger(__name__)

# Hop-by-hop headers (RFC 9110 7.6.1): never relayed, in either direction.
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
#: request headers the proxy sets itself (or the HTTP client computes)
OURS_UPSTREAM = {"host", "content-length", "forwarded"}

_SECRET_IN_PATH = re.compile(r"(/remote/sandbox/[^/?#]*/)[^/?#]+")
_ORIGIN_LABEL = re.compile(r"jr-[0-9a-f]{32}", re.IGNORECASE)
_MARKERS = ("/remote/sandbox/", "jr-", "JR-", "Jr-", "jR-")


def scrub_capability(text: str) -> str:
    """``text`` with every forward secret in it replaced by ``***``: the secret of a
    sandbox path (``/remote/sandbox/<id>/***``) and the origin label of a forward's own
    origin (``jr-***.localhost``).

    Called on request URIs, paths, Referers and Hosts before anything logs them, and by
    the log filter below on every record.
    """
    return _ORIGIN_LABEL.sub("jr-***", _SECRET_IN_PATH.sub(r"\1***", text))


def _has_marker(text: str) -> bool:
    return any(m in text for m in _MARKERS)


class _ScrubCapabilities(logging.Filter):
    """Scrubs forward secrets from every record of the logger it is on.

    A forwarded page knows its own capability and can send it to any of Jupyter's
    routes: as the Referer (``fetch(url, {referrerPolicy: "unsafe-url"})`` overrides
    ours), in its Origin (a page on ``jr-<secret>.localhost``), or as the Host (a
    request to ``jr-<secret>.localhost:<Jupyter's port>``). Jupyter logs the Referer of
    4xx/5xx answers, the Origin of refused cross-origin requests and a refused Host:
    this filter keeps them out of the log.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and _has_marker(record.msg):
            record.msg = scrub_capability(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(
                scrub_capability(a) if isinstance(a, str) and _has_marker(a) else a
                for a in record.args
            )
        return True


_SCRUB = _ScrubCapabilities()
TORNADO_LOGGERS = ("tornado.access", "tornado.application", "tornado.general")


def scrub_logs_of(*loggers: logging.Logger) -> None:
    """Put the capability scrubber on ``loggers`` and tornado's loggers (once each).

    Called by the forward handlers on every request and by the origin listener when
    it starts, so it is in place before any page can know a capability (the entry
    route gives them out).
    """
    for each in (*loggers, *(logging.getLogger(n) for n in TORNADO_LOGGERS)):
        if _SCRUB not in each.filters:
            each.addFilter(_SCRUB)


def query_without_token(query: str) -> str:
    """``?query`` minus Jupyter's ``token`` argument ("" when nothing is left)."""
    if not query:
        return ""
    pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
    if any(k == "token" for k, _ in pairs):
        query = urllib.parse.urlencode([(k, v) for k, v in pairs if k != "token"])
    return f"?{query}" if query else ""


def upstream_request_headers(
    received: httputil.HTTPHeaders,
    *,
    upgrade: bool,
    drop: set[str] | frozenset[str] = frozenset(),
    edit: Callable[[str, str], str | None] | None = None,
) -> httputil.HTTPHeaders:
    """The browser's request headers that go to the service, without hop-by-hop ones
    (those named in Connection too; Connection and Upgrade kept for an ``upgrade``),
    ``Proxy-*``, client-sent ``X-Forwarded-*``/``Forwarded``, Host and Content-Length
    (the caller sets them) and the ``drop`` names. ``edit(lower_name, value)`` may
    change a value or return None to drop it. Called by ForwardRelay subclasses.
    """
    connection = {t.strip().lower() for t in received.get("Connection", "").split(",")}
    headers = httputil.HTTPHeaders()
    for key, value in received.get_all():
        low = key.lower()
        if low in OURS_UPSTREAM or low in drop:
            continue
        if low.startswith(("proxy-", "x-forwarded-")):
            continue
        if (low in HOP_BY_HOP or low in connection) and not (
            upgrade and low in ("connection", "upgrade")
        ):
            continue
        if edit is not None:
            edited = edit(low, value)
            if edited is None:
                continue
            value = edited
        headers.add(key, value)
    return headers


def end_to_end(received: httputil.HTTPHeaders) -> Iterator[tuple[str, str, str]]:
    """(name, lower name, value) of the service's answer headers that are not
    hop-by-hop (nor named in its Connection header)."""
    connection = {t.strip().lower() for t in received.get("Connection", "").split(",")}
    for key, value in received.get_all():
        low = key.lower()
        if low not in HOP_BY_HOP and low not in connection:
            yield key, low, value


class ForwardRelay(web.RequestHandler):
    """Relays the current request to the forward in ``_session`` (set by ``prepare``).

    A websocket handshake is tunnelled byte for byte once the service answered 101;
    anything else goes through tornado's HTTP client, streamed both ways, with no
    redirect followed and no body decoded.
    """

    proxy_timeout = 3600.0
    _session: ForwardSession | None = None
    _client_gone = False
    #: headers of the bare answer sent when the service refuses a websocket upgrade
    refused_upgrade_headers: dict[str, str] = {}

    # ------------------------------------------------------------ for subclasses

    def _upstream_headers(self, port: int, *, upgrade: bool) -> httputil.HTTPHeaders:
        raise NotImplementedError

    def _relay_headers(self, code: int, reason: str, received: httputil.HTTPHeaders) -> None:
        """Set the status and the headers of the service's answer on ours."""
        raise NotImplementedError

    def _answered_here(self) -> bool:
        """True when the subclass answered the request itself (a CORS preflight)."""
        return False

    def _on_tunnel(self, downstream: iostream.IOStream, upstream: iostream.IOStream) -> None:
        """Told about both streams of a websocket tunnel (the origin listener closes
        them when it stops)."""

    # ------------------------------------------------------------ relay

    def _unreachable(self, session: ForwardSession, detail: str) -> RemoteError:
        state = "" if session.state == "running" else f" (the forward is {session.state})"
        return SSHConnectError(
            f"Nothing answered on {session.server}:127.0.0.1:{session.remote_port}{state}: "
            f"{detail}",
            hint="Check that the service runs on the remote and listens on 127.0.0.1 at that port.",
        )

    async def relay(self, target: str) -> None:
        """Send the request to ``target`` (path and query) on the forward's local port
        and its answer back. Called by the subclasses' method handlers."""
        session = self._session
        assert session is not None
        if self.request.headers.get("Upgrade", "").strip().lower() == "websocket":
            await self._tunnel(session, target)
            return
        if self._answered_here():
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
                self.clear_header("Content-Type")
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
            log.info("forward %s: upstream broke off a %s: %s", session.id, method, error)
            connection: Any = self.request.connection
            if connection is not None:
                connection.close()  # the client must not take a cut body as complete
            return
        self.finish()

    def on_connection_close(self) -> None:
        self._client_gone = True
        super().on_connection_close()

    async def _tunnel(self, session: ForwardSession, target: str) -> None:
        port = session.local_port
        try:
            upstream = await TCPClient().connect("127.0.0.1", port, timeout=10)
        except (OSError, iostream.StreamClosedError, asyncio.TimeoutError) as exc:
            raise self._unreachable(session, str(exc) or type(exc).__name__) from None
        head = [f"{self.request.method} {target} HTTP/1.1"]
        head += [f"{k}: {v}" for k, v in self._upstream_headers(port, upgrade=True).get_all()]
        downstream = self.detach()
        self._on_tunnel(downstream, upstream)
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
                ours = "".join(f"{k}: {v}\r\n" for k, v in self.refused_upgrade_headers.items())
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
        await asyncio.gather(_pipe(downstream, upstream), _pipe(upstream, downstream))


async def _pipe(src: iostream.IOStream, dst: iostream.IOStream) -> None:
    try:
        while True:
            data = await src.read_bytes(64 * 1024, partial=True)
            await dst.write(data)
    except iostream.StreamClosedError:
        pass
    finally:
        dst.close()
