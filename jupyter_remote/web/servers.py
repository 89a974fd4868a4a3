"""Servers, their test, their environments, and host keys (REST under /remote/)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import ValidationError
from ..kernels.discovery import Discovery
from ..kernels.environments import validated
from .base import RemoteHandler, remote_auth
from .profiles import stream_ndjson


class ServersHandler(RemoteHandler):
    @remote_auth
    async def get(self) -> None:
        self.reply(await self.manager.list_servers())

    @remote_auth
    async def post(self) -> None:
        self.reply(await self.manager.add_server(self.json_object()), 201)


class ServerHandler(RemoteHandler):
    @remote_auth
    async def get(self, name: str) -> None:
        self.reply(await self.manager.get_server(name))

    @remote_auth
    async def patch(self, name: str) -> None:
        self.reply(await self.manager.update_server(name, self.json_object()))

    @remote_auth
    async def delete(self, name: str) -> None:
        await self.manager.remove_server(name)
        self.set_status(204)
        self.finish()


class ServerTestHandler(RemoteHandler):
    @remote_auth
    async def post(self, name: str) -> None:
        self.reply(await self.manager.test_server(name))


class EnvironmentsHandler(RemoteHandler):
    """``GET /remote/servers/{name}/environments[?refresh=1][&cwd=DIR...]``: discovery; for
    a Jupyter server, its kernelspecs (written as ours on disk too)."""

    @remote_auth
    async def get(self, name: str) -> None:
        if (await self.manager.get_server(name)).get("kind") == "jupyter":
            self.reply(await self.manager.jupyter_kernelspecs(name))  # its kernelspecs
            return
        envs = await Discovery.of(self.manager).environments(
            name, refresh=self.refresh_flag(), cwds=self.get_arguments("cwd", strip=False)
        )
        self.reply(envs)

    @remote_auth
    async def post(self, name: str) -> None:
        """Create an environment with ipykernel: ``{"python": BASE, "name"?, "tool"?}``,
        progress streamed as NDJSON (the last line: done with the environment, or error)."""
        body = self.json_object()
        unknown = set(body) - {"python", "name", "tool"}
        if unknown:
            raise ValidationError(f"Unknown field(s): {', '.join(sorted(unknown))[:200]}.")
        validated(body.get("python"), body.get("name"), body.get("tool"))  # 400 before streaming
        await self.manager.get_server(name)  # 404 before the stream starts

        async def create(on_output: Callable[[str], None]) -> dict[str, Any]:
            environment = await self.manager.create_environment(
                name,
                python=body.get("python"),
                env_name=body.get("name"),
                tool=body.get("tool"),
                on_output=on_output,
            )
            return {"environment": environment}

        await stream_ndjson(self, create)


class ServerGPUsHandler(RemoteHandler):
    """``GET /remote/servers/{name}/gpus[?refresh=1]``: the GPUs the last environment probe
    saw (no remote round trip), or a new probe's with ``refresh``."""

    @remote_auth
    async def get(self, name: str) -> None:
        if (await self.manager.get_server(name)).get("kind") == "jupyter":
            # a Jupyter server's host is never probed (we hold a URL, not a login)
            self.reply({"server": name, "gpus": None, "probed_at": None})
            return
        discovery = Discovery.of(self.manager)
        self.reply(await discovery.gpus(name, refresh=self.refresh_flag()))


class HostKeysHandler(RemoteHandler):
    @remote_auth
    async def get(self) -> None:
        self.reply(await self.manager.list_hostkeys())

    @remote_auth
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
    @remote_auth
    async def delete(self, name: str) -> None:
        removed = await self.manager.remove_hostkey(name)
        self.reply({"removed": removed})
