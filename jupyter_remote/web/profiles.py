"""Profiles and installing ipykernel into a remote environment (REST under /remote/)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..errors import RemoteError, ValidationError
from ..store import validate_remote_path
from .base import RemoteHandler


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
