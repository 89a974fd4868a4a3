"""``/remote/events``: the websocket the sidebar listens to (session states, progress,
notices: the events declared in jupyter_remote/events)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from jupyter_core.utils import ensure_async
from jupyter_server.auth.decorator import ws_authenticated
from jupyter_server.base.handlers import JupyterHandler
from tornado import web, websocket

from ..sessions import registry


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
