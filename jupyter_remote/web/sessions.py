"""Sessions (kernels' links and forwards): list, the one Stop, Retry (REST)."""

from __future__ import annotations

from ..errors import NotFoundError
from ..sessions import KernelSession, registry
from .base import RemoteHandler, remote_auth


class SessionsHandler(RemoteHandler):
    @remote_auth
    async def get(self) -> None:
        self.reply(registry.list())


#: why a kernel stopped by DELETE /remote/sessions/ID stopped: its notebook says so
SIDEBAR_STOP = "stopped from the Remote sidebar"


class SessionHandler(RemoteHandler):
    """DELETE is the one Stop button: the kernel (through Jupyter's kernel manager when
    it manages it, so the notebook sees the shutdown) and the session's forwards. The
    stopped session's reason says so (the notebook tells its user why)."""

    @remote_auth
    async def delete(self, name: str) -> None:
        session = registry.sessions.get(name)
        if session is None:
            raise NotFoundError(
                f"No session {name!r}.", hint="List them with GET /remote/sessions."
            )
        if isinstance(session, KernelSession):
            session.stop_reason = SIDEBAR_STOP
        kernels = self.settings.get("kernel_manager")
        if kernels is not None and name in kernels:
            await kernels.shutdown_kernel(name)
        else:
            await session.stop()
        self.set_status(204)
        self.finish()


class SessionRetryHandler(RemoteHandler):
    @remote_auth
    async def post(self, name: str) -> None:
        session = registry.sessions.get(name)
        if session is None:
            raise NotFoundError(f"No session {name!r}.")
        await session.retry()
        self.reply(session.to_json())
