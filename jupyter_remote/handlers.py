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
from collections.abc import Callable
from importlib.resources import files
from typing import Any

from jupyter_core.utils import ensure_async
from jupyter_server.auth.decorator import authorized, ws_authenticated
from jupyter_server.base.handlers import APIHandler, JupyterHandler
from tornado import web, websocket

from .discovery import Discovery
from .errors import ConflictError, NotFoundError, RemoteError, ValidationError
from .forward_proxy import (
    ForwardEntryHandler,
    ForwardRootHandler,
    SandboxProxyHandler,
    SandboxRootHandler,
)
from .forward_proxy import forward_or_404 as _forward
from .manager import KERNEL_ID_RE, RemoteManager
from .provisioner import ATTACH
from .service_forwards import forward_sessions, open_forward
from .sessions import registry
from .store import validate_remote_path

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024
NAME = r"(?P<name>[^/]+)"
CAPABILITY = r"(?P<secret>[^/]+)"


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
            self.manager,
            body.get("server"),
            body.get("remote_port"),
            body.get("local_port"),
            owner=self.current_user,
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
        (rf"/remote/forward/{NAME}/(?P<path>.*)", ForwardEntryHandler),
        (rf"/remote/forward/{NAME}", ForwardRootHandler),
        (rf"/remote/sandbox/{NAME}/{CAPABILITY}/(?P<path>.*)", SandboxProxyHandler),
        (rf"/remote/sandbox/{NAME}/{CAPABILITY}", SandboxRootHandler),
        (r"/remote/openapi.json", OpenAPIHandler),
    ]
