"""Thin REST handlers under ``/remote/``: parse, authorize, call RemoteManager, answer JSON.

Every handler method is ``@web.authenticated`` + ``@authorized`` on
``auth_resource = "remote"``. Errors are ``{"message", "reason", "hint"}`` with
the status of the RemoteError (never 401/403 for SSH failures: those are
Jupyter's own).
"""

from __future__ import annotations

import asyncio
import json
import logging
import urllib.parse
from collections.abc import Callable
from importlib.resources import files
from typing import Any

from jupyter_core.utils import ensure_async
from jupyter_server.auth.decorator import authorized, ws_authenticated
from jupyter_server.base.handlers import APIHandler, JupyterHandler
from jupyter_server.utils import url_path_join
from tornado import httputil, iostream, web, websocket
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from tornado.tcpclient import TCPClient

from .discovery import Discovery
from .errors import ConflictError, NotFoundError, RemoteError, SSHConnectError, ValidationError
from .manager import KERNEL_ID_RE, RemoteManager
from .provisioner import ATTACH
from .service_forwards import ForwardSession, forward_sessions, get_forward, open_forward
from .sessions import registry
from .store import validate_remote_path

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024
NAME = r"(?P<name>[^/]+)"


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose keys are all different: a repeated key is ambiguous input."""
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise ValidationError(f"Key {key[:64]!r} appears twice in the request body.")
        obj[key] = value
    return obj


def _no_constant(name: str) -> Any:
    """NaN and Infinity are not JSON (RFC 8259), though Python's parser takes them."""
    raise ValidationError(f"Request body is not valid JSON ({name} is not a JSON value).")


class RemoteHandler(APIHandler):
    """Base of every /remote/ handler: auth resource, JSON errors, body parsing."""

    auth_resource = "remote"

    @property
    def manager(self) -> RemoteManager:
        return self.settings["remote_manager"]

    def json_body(self) -> Any:
        raw = self.request.body or b""
        if len(raw) > MAX_BODY:
            raise ValidationError(f"Request body too large (over {MAX_BODY} bytes).")
        if not raw.strip():
            return {}
        try:
            return json.loads(
                raw.decode("utf-8"), object_pairs_hook=_unique_keys, parse_constant=_no_constant
            )
        except UnicodeDecodeError:
            raise ValidationError("Request body is not valid UTF-8.") from None
        except ValueError:
            raise ValidationError("Request body is not valid JSON.") from None
        except RecursionError:  # e.g. 30,000 nested "[" fit in MAX_BODY
            raise ValidationError("Request body is nested too deeply.") from None

    def json_object(self) -> dict[str, Any]:
        """The (required) body as a JSON object: an empty body is refused, not taken as {}."""
        if not (self.request.body or b"").strip():
            raise ValidationError("Request body must be a JSON object; it is empty.")
        body = self.json_body()
        if not isinstance(body, dict):
            raise ValidationError("Request body must be a JSON object.")
        return body

    def reply(self, data: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(data))

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
            log.info(
                "%s %s -> %s: %s",
                self.request.method,
                self.request.path,
                value.reason,
                value.message,
            )
            return
        super().log_exception(typ, value, tb)


class ServersHandler(RemoteHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.reply(await self.manager.list_servers())

    @web.authenticated
    @authorized
    async def post(self) -> None:
        self.reply(await self.manager.add_server(self.json_object()), 201)


class ServerHandler(RemoteHandler):
    @web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        self.reply(await self.manager.get_server(name))

    @web.authenticated
    @authorized
    async def patch(self, name: str) -> None:
        self.reply(await self.manager.update_server(name, self.json_object()))

    @web.authenticated
    @authorized
    async def delete(self, name: str) -> None:
        await self.manager.remove_server(name)
        self.set_status(204)
        self.finish()


class ServerTestHandler(RemoteHandler):
    @web.authenticated
    @authorized
    async def post(self, name: str) -> None:
        self.reply(await self.manager.test_server(name))


class EnvironmentsHandler(RemoteHandler):
    """``GET /remote/servers/{name}/environments[?refresh=1][&cwd=DIR...]``: discovery."""

    @web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        refresh = self.get_argument("refresh", "0", strip=False)
        if refresh not in ("0", "1", "false", "true"):
            raise ValidationError("refresh must be 0 or 1.", field="refresh")
        envs = await Discovery.of(self.manager).environments(
            name, refresh=refresh in ("1", "true"), cwds=self.get_arguments("cwd", strip=False)
        )
        self.reply(envs)


class HostKeysHandler(RemoteHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.reply(await self.manager.list_hostkeys())

    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.json_object()
        server = body.get("server")
        fingerprint = body.get("fingerprint")
        if not isinstance(server, str) or not isinstance(fingerprint, str):
            raise ValidationError(
                'Give {"server": NAME, "fingerprint": "SHA256:..."}: the fingerprint '
                "you confirmed for the key that server offers."
            )
        self.reply(await self.manager.trust_hostkey(server, fingerprint), 201)


class HostKeyHandler(RemoteHandler):
    @web.authenticated
    @authorized
    async def delete(self, name: str) -> None:
        removed = await self.manager.remove_hostkey(name)
        self.reply({"removed": removed})


class ProfilesHandler(RemoteHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.reply(await self.manager.list_profiles())

    @web.authenticated
    @authorized
    async def post(self) -> None:
        self.reply(await self.manager.add_profile(self.json_object()), 201)


class ProfileHandler(RemoteHandler):
    @web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        self.reply(await self.manager.get_profile(name))

    @web.authenticated
    @authorized
    async def put(self, name: str) -> None:
        body = self.json_object()
        if body.get("name", name) != name:
            raise ValidationError("The body's name must match the URL.", field="name")
        self.reply(await self.manager.add_profile({**body, "name": name}, replace=True))

    @web.authenticated
    @authorized
    async def delete(self, name: str) -> None:
        await self.manager.remove_profile(name)
        self.set_status(204)
        self.finish()


class InstallIpykernelHandler(RemoteHandler):
    """Streams pip's output as NDJSON lines; the last line says done or error."""

    @web.authenticated
    @authorized
    async def post(self, name: str) -> None:
        body = self.json_object()
        python = validate_remote_path(body.get("python"), "python", allow_empty=False)
        assert python is not None
        await self.manager.get_server(name)  # 404 before the stream starts
        self.set_header("Content-Type", "application/x-ndjson")
        self.set_header("Cache-Control", "no-cache")
        lines: asyncio.Queue[str | None] = asyncio.Queue()

        async def pump() -> None:
            while (line := await lines.get()) is not None:
                self.write(json.dumps({"type": "output", "line": line}) + "\n")
                await self.flush()

        pumping = asyncio.ensure_future(pump())
        try:
            await self.manager.install_ipykernel(name, python, lines.put_nowait)
            final: dict[str, Any] = {"type": "done", "ok": True}
        except RemoteError as exc:
            final = {"type": "error", **exc.to_json()}
        lines.put_nowait(None)
        await pumping
        self.finish(json.dumps(final) + "\n")


class RemoteKernelsHandler(RemoteHandler):
    @web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        self.reply(await self.manager.remote_kernels(name))


class RemoteKernelAttachHandler(RemoteHandler):
    """Re-attach a kernel our agent still runs (e.g. after this server restarted):
    it becomes an ordinary Jupyter kernel with the same id, its state intact."""

    @web.authenticated
    @authorized
    async def post(self, name: str, kernel_id: str) -> None:
        if not KERNEL_ID_RE.fullmatch(kernel_id):
            raise ValidationError("Invalid kernel id.", field="kernel_id")
        kernels = self.settings["kernel_manager"]
        if kernel_id in kernels:
            raise ConflictError(f"Kernel {kernel_id} is already attached here.")
        remote = {k["kernel_id"]: k for k in await self.manager.remote_kernels(name)}
        found = remote.get(kernel_id)
        if found is None or found.get("state") != "running":
            raise NotFoundError(
                f"No running kernel {kernel_id} on {name}.",
                hint="List them with GET /remote/servers/NAME/kernels.",
            )
        profile = await self.manager.get_profile(str(found.get("profile") or ""))
        await kernels.start_kernel(
            kernel_name=profile["kernel_name"], kernel_id=kernel_id, **{ATTACH: True}
        )
        model = await ensure_async(kernels.kernel_model(kernel_id))
        self.reply(model, 201)


class RemoteKernelHandler(RemoteHandler):
    @web.authenticated
    @authorized
    async def delete(self, name: str, kernel_id: str) -> None:
        self.reply(await self.manager.stop_remote_kernel(name, kernel_id))


class SessionsHandler(RemoteHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.reply(registry.list())


class SessionHandler(RemoteHandler):
    """DELETE is the one Stop button: the kernel (through Jupyter's kernel manager when
    it manages it, so the notebook sees the shutdown) and the session's forwards."""

    @web.authenticated
    @authorized
    async def delete(self, name: str) -> None:
        session = registry.sessions.get(name)
        if session is None:
            raise NotFoundError(
                f"No session {name!r}.", hint="List them with GET /remote/sessions."
            )
        kernels = self.settings.get("kernel_manager")
        if kernels is not None and name in kernels:
            await kernels.shutdown_kernel(name)
        else:
            await session.stop()
        self.set_status(204)
        self.finish()


class SessionRetryHandler(RemoteHandler):
    @web.authenticated
    @authorized
    async def post(self, name: str) -> None:
        session = registry.sessions.get(name)
        if session is None:
            raise NotFoundError(f"No session {name!r}.")
        await session.retry()
        self.reply(session.to_json())


class EventsHandler(JupyterHandler, websocket.WebSocketHandler):
    """``/remote/events``: session state changes and progress of long steps, as JSON."""

    auth_resource = "remote"

    async def pre_get(self) -> None:
        allowed = await ensure_async(
            self.authorizer.is_authorized(self, self.current_user, "read", "remote")
        )
        if not allowed:
            raise web.HTTPError(403)

    @ws_authenticated
    async def get(self, *args: Any, **kwargs: Any) -> None:
        await self.pre_get()
        result = super().get(*args, **kwargs)
        if result is not None:
            await result

    _unsubscribe: Callable[[], None] | None = None

    def open(self, *args: Any, **kwargs: Any) -> None:
        loop = asyncio.get_running_loop()

        def relay(event: dict[str, Any]) -> None:
            if loop.is_closed():  # the server is gone; this listener is stale
                self.on_close()
                return
            loop.call_soon_threadsafe(self._send, event)  # events may come from the SSH loop

        self._unsubscribe = registry.subscribe(relay)
        self._send({"type": "hello", "sessions": registry.list()})

    def _send(self, event: dict[str, Any]) -> None:
        try:
            self.write_message(json.dumps(event))
        except websocket.WebSocketClosedError:
            self.on_close()

    def on_close(self) -> None:
        unsubscribe = getattr(self, "_unsubscribe", None)
        if unsubscribe is not None:
            unsubscribe()
            self._unsubscribe = None

    def on_message(self, message: str | bytes) -> None:
        """Clients only listen."""


FORWARD_FIELDS = {"server", "remote_port", "local_port"}


def _forward(session_id: str) -> ForwardSession:
    session = get_forward(session_id)
    if session is None:
        raise NotFoundError(
            f"No forward {session_id!r}.", hint="List them with GET /remote/forwards."
        )
    return session


class ForwardsHandler(RemoteHandler):
    """``GET``: the service forwards of this server; ``POST {server, remote_port,
    local_port?}``: forward a port on the remote's 127.0.0.1 (201, the session)."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.reply([s.to_json() for s in forward_sessions()])

    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.json_object()
        unknown = sorted(set(body) - FORWARD_FIELDS)
        if unknown:
            raise ValidationError(f"Unknown field {unknown[0][:64]!r}.", field=unknown[0][:64])
        session = await open_forward(
            self.manager, body.get("server"), body.get("remote_port"), body.get("local_port")
        )
        self.reply(session.to_json(), 201)


class ForwardHandler(RemoteHandler):
    @web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        self.reply(_forward(name).to_json())

    @web.authenticated
    @authorized
    async def delete(self, name: str) -> None:
        await _forward(name).stop()
        self.set_status(204)
        self.finish()


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


class ForwardProxyHandler(JupyterHandler):
    """``/remote/forward/{id}/{path}``: reverse proxy to the forward's local port.

    Authenticated and authorized like every handler (403 without Jupyter auth,
    XSRF on mutating methods with cookie auth). Jupyter's credentials (the
    Authorization header, the login and _xsrf cookies, a ``token`` query
    argument) are NOT passed to the service: it is whatever listens on that
    remote port. ``Upgrade`` requests (websockets) are tunnelled after the same
    checks plus Jupyter's origin check.
    """

    auth_resource = "remote"
    proxy_timeout = 3600.0

    def get_login_url(self) -> str:
        raise web.HTTPError(403)  # no login redirect: refused, as every /remote/ route

    async def prepare(self) -> None:  # type: ignore[override]
        await super().prepare()
        if not self.check_origin():
            raise web.HTTPError(404)

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

    # ------------------------------------------------------------ what goes upstream

    def _upstream_target(self, name: str) -> tuple[ForwardSession, str]:
        session = _forward(name)
        raw = self.request.path
        marker = f"/remote/forward/{name}/"
        if marker in raw:
            rest = raw[raw.find(marker) + len(marker) :]
        else:  # the id itself was percent-encoded: re-encode the decoded path
            rest = urllib.parse.quote(self.path_kwargs.get("path") or "")
        query = self.request.query
        if query:
            pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
            if any(k == "token" for k, _ in pairs):
                query = urllib.parse.urlencode([(k, v) for k, v in pairs if k != "token"])
        return session, "/" + rest + (f"?{query}" if query else "")

    def _upstream_headers(self, port: int, *, upgrade: bool) -> httputil.HTTPHeaders:
        connection = {
            t.strip().lower() for t in self.request.headers.get("Connection", "").split(",")
        }
        jupyter_cookies = {self.cookie_name, "_xsrf"}
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
                value = f"http://127.0.0.1:{port}"  # checked against our host above
            headers.add(key, value)
        headers["Host"] = f"127.0.0.1:{port}"
        prefix = url_path_join(self.base_url, "remote", "forward", self.path_kwargs["name"])
        headers["X-Forwarded-Prefix"] = prefix
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

    async def _proxy(self, name: str) -> None:
        session, target = self._upstream_target(name)
        if self.request.headers.get("Upgrade", "").strip().lower() == "websocket":
            await self._tunnel(session, target)
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
            log.info("forward %s: upstream broke off %s: %s", name, target, error)
            connection: Any = self.request.connection
            if connection is not None:
                connection.close()  # the client must not take a cut body as complete
            return
        self.finish()

    def _relay_headers(self, code: int, reason: str, received: httputil.HTTPHeaders) -> None:
        self.clear_header("Content-Type")
        self.set_status(code, reason or httputil.responses.get(code, "Unknown"))
        connection = {t.strip().lower() for t in received.get("Connection", "").split(",")}
        jupyter_cookies = {self.cookie_name, "_xsrf"}
        seen: set[str] = set()
        for key, value in received.get_all():
            low = key.lower()
            if low in HOP_BY_HOP or low in connection:
                continue
            if low == "set-cookie" and value.split("=", 1)[0].strip() in jupyter_cookies:
                continue  # the service must not replace Jupyter's login or XSRF cookie
            if low in seen:
                self.add_header(key, value)
            else:
                self.set_header(key, value)
                seen.add(low)

    _client_gone = False

    def on_connection_close(self) -> None:
        self._client_gone = True
        super().on_connection_close()

    # ------------------------------------------------------------ Upgrade (websockets)

    async def _tunnel(self, session: ForwardSession, target: str) -> None:
        if not self.check_origin():  # cross-site websocket hijacking
            raise web.HTTPError(403)
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
                answer = (
                    f"HTTP/1.1 {start.code} {reason}\r\n"
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
    async def get(self, name: str, path: str = "") -> None:
        await self._proxy(name)

    @web.authenticated
    @authorized
    async def head(self, name: str, path: str = "") -> None:
        await self._proxy(name)

    @web.authenticated
    @authorized
    async def post(self, name: str, path: str = "") -> None:
        await self._proxy(name)

    @web.authenticated
    @authorized
    async def put(self, name: str, path: str = "") -> None:
        await self._proxy(name)

    @web.authenticated
    @authorized
    async def patch(self, name: str, path: str = "") -> None:
        await self._proxy(name)

    @web.authenticated
    @authorized
    async def delete(self, name: str, path: str = "") -> None:
        await self._proxy(name)

    @web.authenticated
    @authorized
    async def options(self, name: str, path: str = "") -> None:
        await self._proxy(name)


async def _relay(src: iostream.IOStream, dst: iostream.IOStream) -> None:
    try:
        while True:
            data = await src.read_bytes(64 * 1024, partial=True)
            await dst.write(data)
    except iostream.StreamClosedError:
        pass
    finally:
        dst.close()


class ForwardRootHandler(ForwardProxyHandler):
    """``/remote/forward/{id}`` without the slash: redirect, so relative links resolve."""

    async def _proxy(self, name: str) -> None:
        _forward(name)
        query = f"?{self.request.query}" if self.request.query else ""
        self.redirect(self.request.path + "/" + query)


class OpenAPIHandler(RemoteHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        spec = files("jupyter_remote").joinpath("openapi.json").read_text(encoding="utf-8")
        self.set_header("Content-Type", "application/json")
        self.finish(spec)


def routes() -> list[tuple[str, type[web.RequestHandler]]]:
    """Called by RemoteExtensionApp.initialize_handlers; the server adds base_url."""
    return [
        (r"/remote/servers", ServersHandler),
        (rf"/remote/servers/{NAME}", ServerHandler),
        (rf"/remote/servers/{NAME}/test", ServerTestHandler),
        (rf"/remote/servers/{NAME}/environments", EnvironmentsHandler),
        (r"/remote/hostkeys", HostKeysHandler),
        (rf"/remote/hostkeys/{NAME}", HostKeyHandler),
        (r"/remote/profiles", ProfilesHandler),
        (rf"/remote/profiles/{NAME}", ProfileHandler),
        (rf"/remote/servers/{NAME}/install-ipykernel", InstallIpykernelHandler),
        (rf"/remote/servers/{NAME}/kernels", RemoteKernelsHandler),
        (rf"/remote/servers/{NAME}/kernels/(?P<kernel_id>[^/]+)", RemoteKernelHandler),
        (rf"/remote/servers/{NAME}/kernels/(?P<kernel_id>[^/]+)/attach", RemoteKernelAttachHandler),
        (r"/remote/sessions", SessionsHandler),
        (rf"/remote/sessions/{NAME}", SessionHandler),
        (rf"/remote/sessions/{NAME}/retry", SessionRetryHandler),
        (r"/remote/events", EventsHandler),
        (r"/remote/forwards", ForwardsHandler),
        (rf"/remote/forwards/{NAME}", ForwardHandler),
        (rf"/remote/forward/{NAME}/(?P<path>.*)", ForwardProxyHandler),
        (rf"/remote/forward/{NAME}", ForwardRootHandler),
        (r"/remote/openapi.json", OpenAPIHandler),
    ]
