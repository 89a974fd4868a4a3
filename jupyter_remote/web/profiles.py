"""Profiles and installing ipykernel into a remote environment (REST under /remote/)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from ..errors import RemoteError, ValidationError
from ..store import validate_remote_path
from .base import RemoteHandler, remote_auth


def create_cwd_flag(handler: RemoteHandler) -> bool:
    """``?create_cwd=1``: make a missing working directory on the remote while saving."""
    value = handler.get_argument("create_cwd", "0", strip=False)
    if value not in ("0", "1", "false", "true"):
        raise ValidationError("create_cwd must be 0 or 1.", field="create_cwd")
    return value in ("1", "true")


class ProfilesHandler(RemoteHandler):
    @remote_auth
    async def get(self) -> None:
        self.reply(await self.manager.list_profiles())

    @remote_auth
    async def post(self) -> None:
        body, create = self.json_object(), create_cwd_flag(self)
        self.reply(await self.manager.add_profile(body, create_cwd=create), 201)


class ProfileHandler(RemoteHandler):
    @remote_auth
    async def get(self, name: str) -> None:
        self.reply(await self.manager.get_profile(name))

    @remote_auth
    async def put(self, name: str) -> None:
        body = self.json_object()
        if body.get("name", name) != name:
            raise ValidationError("The body's name must match the URL.", field="name")
        create = create_cwd_flag(self)
        self.reply(
            await self.manager.add_profile({**body, "name": name}, replace=True, create_cwd=create)
        )

    @remote_auth
    async def patch(self, name: str) -> None:
        """Change some fields; the kernelspec follows (admin profiles: 409 read_only)."""
        body, create = self.json_object(), create_cwd_flag(self)
        self.reply(await self.manager.update_profile(name, body, create_cwd=create))

    @remote_auth
    async def delete(self, name: str) -> None:
        await self.manager.remove_profile(name)
        self.set_status(204)
        self.finish()


async def stream_ndjson(
    handler: RemoteHandler,
    work: Callable[[Callable[[str], None]], Awaitable[dict[str, Any] | None]],
) -> None:
    """Answer with NDJSON: ``{"type": "output", "line"}`` for each line ``work`` reports,
    then ``{"type": "done", "ok": true, ...its result}`` or ``{"type": "error", ...}``."""
    handler.set_header("Content-Type", "application/x-ndjson")
    handler.set_header("Cache-Control", "no-cache")
    lines: asyncio.Queue[str | None] = asyncio.Queue()

    async def pump() -> None:
        while (line := await lines.get()) is not None:
            handler.write(json.dumps({"type": "output", "line": line}) + "\n")
            await handler.flush()

    pumping = asyncio.ensure_future(pump())
    try:
        result = await work(lines.put_nowait)
        final: dict[str, Any] = {"type": "done", "ok": True, **(result or {})}
    except RemoteError as exc:
        final = {"type": "error", **exc.to_json()}
    lines.put_nowait(None)
    await pumping
    handler.finish(json.dumps(final) + "\n")


class InstallIpykernelHandler(RemoteHandler):
    """Streams pip's output as NDJSON lines; the last line says done or error."""

    @remote_auth
    async def post(self, name: str) -> None:
        body = self.json_object()
        python = validate_remote_path(body.get("python"), "python", allow_empty=False)
        assert python is not None
        await self.manager.get_server(name)  # 404 before the stream starts

        async def install(on_output: Callable[[str], None]) -> None:
            await self.manager.install_ipykernel(name, python, on_output)

        await stream_ndjson(self, install)


class ProfileStandbyHandler(RemoteHandler):
    @remote_auth
    async def get(self, name: str) -> None:
        """Whether the profile keeps a standby kernel, and the one running (pid, start,
        memory on the remote): one exec on its server (kernels/standby.py)."""
        self.reply(await self.manager.profile_standby(name))
