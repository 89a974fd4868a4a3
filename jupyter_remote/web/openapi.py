"""``/remote/openapi.json``: the OpenAPI document of every route (jupyter_remote/openapi.json)."""

from __future__ import annotations

from importlib.resources import files

from .base import RemoteHandler, remote_auth


class OpenAPIHandler(RemoteHandler):
    @remote_auth
    async def get(self) -> None:
        spec = files("jupyter_remote").joinpath("openapi.json").read_text(encoding="utf-8")
        self.set_header("Content-Type", "application/json")
        self.finish(spec)
