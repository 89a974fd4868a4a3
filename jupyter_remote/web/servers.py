"""Servers, their test, their environments, and host keys (REST under /remote/)."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..errors import ValidationError
from ..kernels.discovery import Discovery
from .base import RemoteHandler


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
        if (await self.manager.get_server(name)).get("kind") == "jupyter":
            self.reply(await self.manager.jupyter_kernelspecs(name))  # its kernelspecs
            return
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
