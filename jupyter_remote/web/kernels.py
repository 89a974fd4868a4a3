"""Kernels our agent runs on a server: list, stop, re-attach (REST under /remote/)."""

from __future__ import annotations

from .base import RemoteHandler, remote_auth


class RemoteKernelsHandler(RemoteHandler):
    @remote_auth
    async def get(self, name: str) -> None:
        self.reply(await self.manager.remote_kernels(name))


class RemoteKernelAttachHandler(RemoteHandler):
    """Re-attach a kernel our agent still runs (e.g. after this server restarted):
    it becomes an ordinary Jupyter kernel with the same id, its state intact."""

    @remote_auth
    async def post(self, name: str, kernel_id: str) -> None:
        kernels = self.settings["kernel_manager"]
        self.reply(await self.manager.attach_remote_kernel(kernels, name, kernel_id), 201)


class RemoteKernelHandler(RemoteHandler):
    @remote_auth
    async def delete(self, name: str, kernel_id: str) -> None:
        self.reply(await self.manager.stop_remote_kernel(name, kernel_id))
