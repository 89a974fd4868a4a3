"""Our kernelspecs of saved Jupyter servers kept in step with the remotes' own, cheaply.

Started by the server extension (``app.py``). A kernelspec added or removed on a remote
Jupyter server shows in the kernel picker without anyone opening the sidebar: each time
JupyterLab's KernelSpecManager lists kernelspecs (``GET /api/kernelspecs``, which it
polls), :meth:`KernelspecRefresh.poke` starts a refresh in the background unless one ran
less than ``interval`` seconds ago, and a background task refreshes every ``interval``
seconds anyway. The listing itself never waits for a remote: what changed shows in the
next one. A refresh reads each Jupyter server's ``/api/kernelspecs`` and rewrites ours on
disk (:func:`~.jupyter_servers.kernelspecs`). Cheap by design: a server whose token or
password this process does not have is skipped, and one reached ``--via`` an SSH server
only while that SSH server's pooled connection is already open (a refresh never opens
an SSH connection, so never prompts, never knocks on a host every minute). Unattended,
nothing goes out that the user would not send: a password server is never refreshed
(its password would be posted to ``/login`` every interval), nor a server whose refresh
failed once (whoever holds its port now, e.g. another user of the SSH host after the
user's Jupyter stopped, would receive its token every interval); listing its kernels
(the sidebar, ``env list``) reads them as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from ..context import RemoteContext
from ..errors import RemoteError, SecretRequiredError
from ..store import JupyterServer
from .jupyter_servers import kernelspecs

log = logging.getLogger(__name__)


class KernelspecRefresh:
    """Refreshes our kernelspecs of every saved Jupyter server, at most every ``interval`` s."""

    def __init__(self, ctx: RemoteContext, interval: float = 60.0) -> None:
        self.ctx = ctx
        self.interval = interval
        self.refreshes = 0  # completed refreshes (tests, logs)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._last = float("-inf")
        self._running: asyncio.Task[Any] | None = None
        self._periodic: asyncio.Task[None] | None = None
        self._failing: set[str] = set()

    def start(self, *, background: bool = True) -> None:
        """The extension, once its loop runs (on it): listings may poke from now on, and
        (``background``) a refresh runs every ``interval`` s."""
        self._loop = asyncio.get_running_loop()
        if background and self.interval > 0 and self._periodic is None:
            self._periodic = self._loop.create_task(self._every_interval())

    async def stop(self) -> None:
        """The extension's stop: no more refreshes."""
        for task in (self._periodic, self._running):
            if task is not None:
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
        self._periodic = self._running = None

    def poke(self) -> None:
        """Someone listed kernelspecs (any thread): refresh in the background if due."""
        loop = self._loop
        if loop is None or loop.is_closed() or self.interval <= 0:
            return
        loop.call_soon_threadsafe(self._refresh_if_due)

    def _refresh_if_due(self) -> None:
        if self._running is not None and not self._running.done():
            return
        if time.monotonic() - self._last < self.interval:
            return
        assert self._loop is not None
        self._running = self._loop.create_task(self.refresh_all())

    async def _every_interval(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            self._refresh_if_due()

    async def refresh_all(self) -> dict[str, Any]:
        """Refresh every saved Jupyter server that is reachable at no cost; per server, the
        remote kernelspec names, or why it was skipped or failed."""
        self._last = time.monotonic()
        done: dict[str, Any] = {}
        servers = await asyncio.to_thread(self.ctx.store.list_servers)
        for server in servers:
            if isinstance(server, JupyterServer):
                done[server.name] = await self._refresh_one(server)
        self.refreshes += 1
        return done

    async def _refresh_one(self, server: JupyterServer) -> Any:
        if server.auth == "password":  # a refresh would post the password to /login
            return "skipped: a password server is read only when you list its kernels"
        if server.name in self._failing:  # whoever answers its port now may not be it
            return "skipped: its last refresh failed (list its kernels to read them again)"
        try:
            if server.via is not None and not await self._tunnel_open(server.via):
                return "skipped: its SSH server is not connected"
            rows = await asyncio.wait_for(kernelspecs(self.ctx, server.name), 30)
        except SecretRequiredError:
            return "skipped: no token or password in this process"
        except (RemoteError, OSError, asyncio.TimeoutError) as exc:
            self._failing.add(server.name)  # not refreshed unattended again (see above)
            log.info(
                "jupyter-remote: kernelspecs of %s not refreshed (not tried again in the "
                "background): %s",
                server.name,
                exc,
            )
            return f"failed: {exc}"
        return [row["name"] for row in rows]

    async def _tunnel_open(self, via: str) -> bool:
        """The SSH server ``via`` already has a pooled connection in use (no new login)."""
        try:
            endpoint = await self.ctx.endpoint(via)
        except RemoteError:
            return False
        return self.ctx.pool.refs(endpoint) > 0


def watch_listing(kernel_spec_manager: Any, refresh: KernelspecRefresh) -> None:
    """The extension, at start: every kernelspec listing of ``kernel_spec_manager``
    (jupyter_server's ``GET /api/kernelspecs`` calls ``get_all_specs``) pokes ``refresh``."""
    listing = kernel_spec_manager.get_all_specs

    def get_all_specs(*args: Any, **kwargs: Any) -> Any:
        refresh.poke()
        return listing(*args, **kwargs)

    kernel_spec_manager.get_all_specs = get_all_specs
