"""Terminals on a server (REST under /remote/servers/NAME/terminals) and their websocket.

The websocket speaks terminado's protocol, which JupyterLab's terminal widget
(@jupyterlab/terminal) speaks: ``["stdin", text]`` and ``["set_size", rows, cols, ...]``
in, ``["setup", {}]``, ``["stdout", text]`` and ``["disconnect", 1]`` out. It is exactly as
protected as Jupyter's own terminal websocket (``jupyter_server_terminals.TermSocket``):
``ws_authenticated``, then the authorizer asked for ``execute`` on our resource, and
Jupyter's origin check (``WebSocketMixin.check_origin``), so a cross-site page cannot
open it.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from typing import Any

from jupyter_core.utils import ensure_async
from jupyter_server.auth.decorator import ws_authenticated
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.base.websocket import WebSocketMixin
from tornado import web, websocket

from ..errors import NotFoundError, ValidationError
from ..sessions.terminal import TerminalSession, get_terminal, open_terminal, terminal_sessions
from .base import RemoteHandler, remote_auth

TERMINAL_FIELDS = {"persistent", "rows", "cols"}
TERMINAL_ID = r"(?P<terminal_id>[^/]+)"
#: a pasted text larger than this is refused (the widget sends what was pasted at once)
MAX_MESSAGE = 4 * 1024 * 1024


def _terminal(server: str, terminal_id: str) -> TerminalSession:
    session = get_terminal(terminal_id, server)
    if session is None:
        raise NotFoundError(
            f"No terminal {terminal_id!r} on server {server!r}.",
            hint="List them with GET /remote/servers/NAME/terminals.",
        )
    return session


class TerminalsHandler(RemoteHandler):
    """``GET``: the terminals open on server NAME; ``POST {persistent?, rows?, cols?}``:
    open one (201, the terminal; connect to its websocket next)."""

    @remote_auth
    async def get(self, name: str) -> None:
        await self.manager.get_server(name)  # 404 (400 for a bad name) before an empty list
        self.reply([s.to_json() for s in terminal_sessions(name)])

    @remote_auth
    async def post(self, name: str) -> None:
        # no body at all means the defaults; a body that is there must be a JSON object
        body = self.json_object() if self.request.body else {}
        unknown = sorted(set(body) - TERMINAL_FIELDS)
        if unknown:
            raise ValidationError(f"Unknown field {unknown[0][:64]!r}.", field=unknown[0][:64])
        session = await open_terminal(
            self.manager,
            name,
            persistent=body.get("persistent", False),
            rows=body.get("rows", 24),
            cols=body.get("cols", 80),
            owner=self.current_user,
        )
        self.reply(session.to_json(), 201)


class TerminalHandler(RemoteHandler):
    """``GET``: one terminal; ``DELETE``: close it for good (its shell and what that
    started end; a persistent terminal's tmux or screen session too)."""

    @remote_auth
    async def get(self, name: str, terminal_id: str) -> None:
        self.reply(_terminal(name, terminal_id).to_json())

    @remote_auth
    async def delete(self, name: str, terminal_id: str) -> None:
        await _terminal(name, terminal_id).stop()
        self.set_status(204)
        self.finish()


class TerminalSocket(WebSocketMixin, JupyterHandler, websocket.WebSocketHandler):
    """``/remote/servers/NAME/terminals/ID/websocket``: one client of a terminal."""

    auth_resource = "remote"
    _session: TerminalSession | None = None
    _detach: Callable[[], None] | None = None

    @ws_authenticated
    async def get(self, *args: Any, **kwargs: Any) -> None:
        allowed = await ensure_async(
            self.authorizer.is_authorized(self, self.current_user, "execute", self.auth_resource)
        )
        if not allowed:
            raise web.HTTPError(403)
        self._session = get_terminal(kwargs["terminal_id"], kwargs["name"])
        if self._session is None:
            raise web.HTTPError(404)
        result = super().get(*args, **kwargs)
        if result is not None:
            await result

    def open(self, *args: Any, **kwargs: Any) -> None:
        super().open(*args, **kwargs)
        assert self._session is not None
        replay, self._detach = self._session.attach(self._output, self._ended)
        self.write_message(json.dumps(["setup", {}]))
        if replay:
            self.write_message(json.dumps(["stdout", replay]))

    async def _output(self, text: str) -> None:
        try:
            await self.write_message(json.dumps(["stdout", text]))
        except websocket.WebSocketClosedError:
            self.on_close()

    def _ended(self, status: int | None) -> None:
        with contextlib.suppress(websocket.WebSocketClosedError):
            self.write_message(json.dumps(["disconnect", 1]))
        self.close(1000)

    def on_message(self, message: str | bytes) -> None:
        """``["stdin", text]`` or ``["set_size", rows, cols, ...]``; anything else is ignored."""
        session = self._session
        if session is None or len(message) > MAX_MESSAGE:
            return
        try:
            msg = json.loads(message)
        except ValueError:
            return
        if not isinstance(msg, list) or not msg:
            return
        if msg[0] == "stdin" and len(msg) >= 2 and isinstance(msg[1], str):
            session.write(msg[1])
        elif msg[0] == "set_size" and len(msg) >= 3:
            with contextlib.suppress(ValidationError):
                session.resize(msg[1], msg[2])

    def on_close(self) -> None:
        detach, self._detach = self._detach, None
        if detach is not None:
            detach()
        super().on_close()
