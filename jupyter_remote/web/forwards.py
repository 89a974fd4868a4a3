"""Forwards of remote ports (REST under /remote/forwards); the proxy is forward_proxy.py."""

from __future__ import annotations

from ..errors import ValidationError
from ..sessions.forward import forward_sessions, open_forward
from .base import RemoteHandler, remote_auth
from .forward_proxy import forward_or_404 as _forward

FORWARD_FIELDS = {"server", "remote_port", "local_port"}


class ForwardsHandler(RemoteHandler):
    """``GET``: the service forwards of this server; ``POST {server, remote_port,
    local_port?}``: forward a port on the remote's 127.0.0.1 (201, the session)."""

    @remote_auth
    async def get(self) -> None:
        self.reply([s.to_json() for s in forward_sessions()])

    @remote_auth
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
    @remote_auth
    async def get(self, name: str) -> None:
        self.reply(_forward(name).to_json())

    @remote_auth
    async def delete(self, name: str) -> None:
        await _forward(name).stop()
        self.set_status(204)
        self.finish()
