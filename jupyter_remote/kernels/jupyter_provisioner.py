"""JupyterServerProvisioner: jupyter_client runs kernels of a remote Jupyter server through it.

Entry point ``jupyter-server-provisioner`` in ``jupyter_client.kernel_provisioners``; the
kernelspecs ``remote-<server>--<kernel>`` (``jupyter_servers.py``) name it with the saved
server and the remote kernelspec in their config. jupyter_client's KernelManager calls
the methods below; each docstring says when. The kernel starts, is interrupted, restarted
and stopped through the remote server's REST API; its messages travel on the remote
server's kernel websocket, presented here as ordinary local ZMQ channels
(``jupyter_bridge.py``), so the Jupyter server, papermill, nbclient and ``jupyter
console`` talk to it as to a local kernel. Inside the Jupyter server and standalone alike
(``runtime.py`` gives it a loop).
"""

from __future__ import annotations

import asyncio
import signal
from typing import Any

from jupyter_client.connect import KernelConnectionInfo
from jupyter_client.provisioning.provisioner_base import KernelProvisionerBase
from traitlets import Unicode

from .. import runtime
from ..context import RemoteContext
from ..errors import NotFoundError, RemoteError
from ..remote.protocol import CHANNELS
from ..runtime import on_ssh_loop
from ..sessions.jupyter import JupyterKernelSession
from ..ssh.forwards import free_local_ports, release_local_ports
from .jupyter_servers import ATTACH_REMOTE_ID, api_for, jupyter_server

DEAD = 1  # exit code reported once the remote server no longer has the kernel


class JupyterServerProvisioner(KernelProvisionerBase):
    """Runs one kernel on a saved remote Jupyter server."""

    server = Unicode("", config=True, help="Name of the saved Jupyter server.")
    kernel_name = Unicode("", config=True, help="The remote server's kernelspec to start.")

    _session: JupyterKernelSession | None = None
    _ports: list[int] | None = None
    _launched: bool = False
    _attach_id: str | None = None
    _restarting: bool = False
    _pinned: tuple[RemoteContext, asyncio.AbstractEventLoop | None] | None = None

    async def _remote(self, func: Any) -> Any:
        if self._pinned is None:
            self._pinned = runtime.current()
        return await on_ssh_loop(func, self._pinned)

    @property
    def has_process(self) -> bool:
        """KernelManager.has_kernel: True from launch until cleanup."""
        return self._launched

    # ------------------------------------------------------------ start

    async def pre_launch(self, **kwargs: Any) -> dict[str, Any]:
        """KernelManager.start_kernel, before launch: fix the local ports and key."""
        if not self.server or not self.kernel_name:
            raise RemoteError(
                "This kernelspec names no Jupyter server or kernel.",
                hint="Refresh the kernelspecs with `jupyter remote env list SERVER`.",
            )
        attach = kwargs.pop(ATTACH_REMOTE_ID, None)
        self._attach_id = str(attach) if attach else None
        if self._ports is None:
            self._ports = free_local_ports(len(CHANNELS))
        km = self.parent
        if km is not None:
            km.transport = "tcp"
            km.ip = "127.0.0.1"
            (km.shell_port, km.iopub_port, km.stdin_port, km.control_port, km.hb_port) = self._ports
            km.write_connection_file()
            self.connection_info = km.get_connection_info()
        kwargs.pop("extra_arguments", None)
        cmd = ["jupyter-remote", "jupyter-server", self.server, self.kernel_name]
        return await super().pre_launch(cmd=cmd, **kwargs)

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> KernelConnectionInfo:
        """KernelManager.start_kernel: start (or attach to, or keep after a restart) the
        remote kernel and serve its channels locally."""
        assert self._ports is not None
        key = self.connection_info.get("key", b"")
        key_bytes = key if isinstance(key, bytes) else str(key).encode("ascii")
        scheme = str(self.connection_info.get("signature_scheme", "hmac-sha256"))
        ports = dict(zip(CHANNELS, self._ports, strict=True))

        async def launch(ctx: RemoteContext) -> None:
            session = self._session
            if session is not None and self._restarting and not session.gone:
                self._restarting = False  # restarted in place by the remote server
                return
            if session is None or session.state == "stopped":
                session = await self._connect(ctx)
            assert session.api is not None
            if self._attach_id:
                if await session.api.kernel(self._attach_id) is None:
                    raise NotFoundError(f"No kernel {self._attach_id} on {self.server}.")
                session.remote_id = self._attach_id
                session.progress("attaching", f"to kernel {self._attach_id}")
            else:
                session.progress("starting kernel", self.kernel_name)
                model = await session.api.start_kernel(self.kernel_name)
                session.remote_id, session.gone = model["id"], False
            await session.open_channels(ports, key=key_bytes, signature_scheme=scheme)
            session.progress("ready", f"kernel {session.remote_id} on {self.server}")

        try:
            await self._remote(launch)
        except BaseException as exc:
            if isinstance(exc, RemoteError) and self._session is not None:
                self._session.failed_to_start(exc.message, exc.hint)
            await self._close_session()
            raise
        self._attach_id = None
        self._launched = True
        return self.connection_info

    async def _connect(self, ctx: RemoteContext) -> JupyterKernelSession:
        record = await jupyter_server(ctx, self.server)
        session = JupyterKernelSession(
            ctx, self.server, str(self.kernel_id), record=record, kernel_name=self.kernel_name
        )
        self._session = session
        await session.connect(api_for(ctx, record))
        return session

    # ------------------------------------------------------------ watch

    async def poll(self) -> int | None:
        """KernelManager.is_alive and the restarter: None while the kernel runs OR while
        the remote server is out of reach (invariant 3); dead once the remote server
        says it has no such kernel (or after our own shutdown of it)."""
        session = self._session
        if not self._launched or session is None:
            return 0 if not self._launched else None
        if session.gone:
            return DEAD
        if self._restarting:
            return 0  # the old incarnation is gone; launch_kernel takes the new one up
        return None

    async def wait(self) -> int | None:
        """KernelManager, after a shutdown request: until the remote kernel is gone."""
        while True:
            code = await self.poll()
            if code is not None:
                return code
            await asyncio.sleep(0.1)

    async def _act(self, restart: bool | None = None, interrupt: bool = False) -> None:
        session = self._session
        if session is None or session.api is None or session.gone:
            return

        async def act(_: RemoteContext) -> None:
            assert session.api is not None
            if interrupt:
                await session.api.interrupt(session.remote_id)
            elif restart is not None:
                await session.shutdown_or_restart(restart)

        try:
            await self._remote(act)
        except RemoteError as exc:
            self.log.warning("Jupyter kernel %s on %s: %s", self.kernel_id, self.server, exc)

    async def send_signal(self, signum: int) -> None:
        """KernelManager.interrupt_kernel (SIGINT): the remote server interrupts it as its
        kernelspec says; SIGTERM/SIGKILL: stop it there."""
        if signum == signal.SIGINT:
            await self._act(interrupt=True)
        elif signum in (signal.SIGTERM, signal.SIGKILL):
            await self._act(restart=False)

    async def kill(self, restart: bool = False) -> None:
        """KernelManager when a kernel did not stop in time: DELETE it on the server."""
        await self._act(restart=False)

    async def terminate(self, restart: bool = False) -> None:
        """KernelManager's SIGTERM step of a shutdown."""
        await self._act(restart=False)

    async def shutdown_requested(self, restart: bool = False) -> None:
        """KernelManager.shutdown_kernel, right after its shutdown_request message: the
        bridge turns that message into the REST call (restart in place, or DELETE); here
        we only note which, so poll() and launch_kernel follow."""
        self._restarting = restart

    async def cleanup(self, restart: bool = False) -> None:
        """KernelManager after the kernel stopped: on restart keep the link and ports;
        otherwise let go of them (the remote kernel is already gone)."""
        self._launched = False
        if not restart:
            self._restarting = False
            await self._close_session()
            release_local_ports(self._ports)
            self._ports = None

    async def _close_session(self) -> None:
        session, self._session = self._session, None
        if session is None:
            return

        async def close(_: RemoteContext) -> None:
            await session.close()

        await self._remote(close)

    def get_shutdown_wait_time(self, recommended: float = 5.0) -> float:
        return max(recommended, 10.0)

    def get_stable_start_time(self, recommended: float = 10.0) -> float:
        return max(recommended, 10.0)

    async def get_provisioner_info(self) -> dict[str, Any]:
        info: dict[str, Any] = await super().get_provisioner_info()
        info.update(
            server=self.server,
            kernel_name=self.kernel_name,
            remote_kernel_id=self._session.remote_id if self._session else None,
        )
        return info

    async def load_provisioner_info(self, provisioner_info: dict[str, Any]) -> None:
        await super().load_provisioner_info(provisioner_info)
        self.server = provisioner_info.get("server", self.server)
        self.kernel_name = provisioner_info.get("kernel_name", self.kernel_name)

    def resolve_path(self, path_str: str) -> str | None:
        """Paths are on the remote server: nothing local to resolve."""
        return None
