"""SSHProvisioner: jupyter_client starts, watches and stops remote kernels through it.

Entry point ``ssh-provisioner`` in ``jupyter_client.kernel_provisioners``; the
kernelspec ``remote-<profile>`` names it with ``{"profile": NAME}`` in its
config (see kernelspecs.py). jupyter_client's KernelManager calls the methods
below; each docstring says when. Works inside the Jupyter server (shares its
SSH pool) and standalone (papermill, nbclient, console): see runtime.py.

The kernel's five channels are local loopback ports forwarded over the
server's one SSH connection to the kernel's ipc sockets in a 0700 directory on
the remote (TCP on the remote's 127.0.0.1 as a fallback). The HMAC key goes to
the remote agent on stdin, never on a command line.
"""

from __future__ import annotations

import asyncio
from typing import Any

from jupyter_client.connect import KernelConnectionInfo
from jupyter_client.provisioning.provisioner_base import KernelProvisionerBase
from traitlets import Bool, Float, Unicode

from .. import runtime
from ..context import RemoteContext
from ..errors import RemoteError
from ..files.documents import document_directory
from ..remote.protocol import CHANNELS
from ..runtime import on_ssh_loop
from ..sessions import job as jobs
from ..sessions.kernel import KernelSession
from ..ssh.forwards import free_local_ports, release_local_ports
from ..store import Profile, Server
from .kernel_end import ended_by_agent, ended_by_job, start_failed, status_or_none
from .kernel_handover import let_taken_go, running_kernel, take_standby
from .kernel_start import KernelStart, bring_up
from .launch_request import DEFAULT_BUFFER_MB, local_connection
from .remote_kernels import ATTACH


class SSHProvisioner(KernelProvisionerBase):
    """Runs one kernel on the remote host of a profile."""

    profile = Unicode("", config=True, help="Name of the jupyter-remote profile to run.")
    startup_timeout = Float(60.0, config=True, help="Seconds the remote kernel may take to start.")
    use_relay = Bool(
        True,
        config=True,
        help="Pass the kernel's messages through the relay beside it, so output sent while "
        "the link is down arrives after the reconnect. False: plain forwards of the channels.",
    )
    output_buffer_mb = Float(
        DEFAULT_BUFFER_MB,
        config=True,
        help="Output the remote relay keeps for a client that is away (MB); past it the "
        "oldest output is dropped and the notebook shows a marker.",
    )

    _session: KernelSession | None = None
    _profile: Profile | None = None
    _server: Server | None = None
    _local_ports: list[int] | None = None
    _launched: bool = False
    _attach_info: dict[str, Any] | None = None
    _remote_id: str | None = None  # the kernel's id on the remote, if not ours (a standby)
    _took_standby: bool = False  # the coming launch takes the profile's standby kernel
    _document_cwd: str | None = None  # the remote directory of the session's notebook
    _pinned: tuple[RemoteContext, asyncio.AbstractEventLoop | None] | None = None
    _end_asked: bool = False  # this kernel manager asked the kernel to end (request, stop)
    _ended: int | None = None  # how the kernel ended, once the agent has reported it
    exit_reason: str = ""

    # ------------------------------------------------------------ helpers

    @property
    def _kid(self) -> str:
        """The kernel's id on the remote: ours, or the standby's this kernel took."""
        return self._remote_id or str(self.kernel_id)

    async def _remote(self, func: Any) -> Any:
        if self._pinned is None:
            self._pinned = runtime.current(self.log)
        return await on_ssh_loop(func, self._pinned)

    async def _agent_call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        session = self._session
        if session is None:
            raise RemoteError("This kernel has no remote session.")
        if session.detached:
            return None  # left running remotely at server exit: nothing to do from here
        if session.job is not None and not session.job.job.running:
            return None  # its Slurm job is queued or over: no kernel to reach in it

        async def call(_: RemoteContext) -> Any:
            return await getattr(session.agent(), method)(*args, **kwargs)

        return await self._remote(call)

    # ------------------------------------------------------------ lifecycle

    @property
    def has_process(self) -> bool:
        """KernelManager.has_kernel: True from launch until cleanup."""
        return self._launched

    async def pre_launch(self, **kwargs: Any) -> dict[str, Any]:
        """KernelManager.start_kernel, before launch: load the profile, fix local ports."""
        if not self.profile:
            raise RemoteError(
                "This kernelspec names no jupyter-remote profile.",
                hint="Recreate it with `jupyter remote profile add`.",
            )

        attach = bool(kwargs.pop(ATTACH, False))

        async def load(manager: RemoteContext) -> tuple[Profile, Server]:
            profile = await asyncio.to_thread(manager.store.get_profile, self.profile)
            return profile, await asyncio.to_thread(manager.store.get_ssh_server, profile.server)

        self._profile, self._server = await self._remote(load)
        # a notebook of this server's remote drive runs in its own directory (as locally)
        self._document_cwd = document_directory(kwargs.get("env"), self._profile.server)
        if self._session is None:
            self._remote_id = None  # the kernel's id is ours unless a standby is taken
        self._attach_info = await running_kernel(self) if attach else None
        self._took_standby = False
        if not attach and self._session is None and self.use_relay:
            await take_standby(self)  # kernel_handover.py: sets what the launch takes over
        try:
            if self._local_ports is None:
                self._local_ports = free_local_ports(len(CHANNELS))
            if self.parent is not None:
                self.connection_info = local_connection(
                    self.parent, self._local_ports, self._attach_info
                )
            kwargs.pop("extra_arguments", None)
            cmd = ["jupyter-remote", "profile", self.profile]  # informational: no process
            return await super().pre_launch(cmd=cmd, **kwargs)
        except BaseException as exc:  # failed or cancelled before launch_kernel
            await let_taken_go(self, exc)
            raise

    async def _session_on(self, manager: RemoteContext) -> KernelSession:
        """This kernel's session, connecting it first if needed (runs on the SSH loop)."""
        profile = self._profile
        assert profile is not None
        session = self._session
        if session is not None and session.state == "dead":
            await session.close()  # the scheduler ended its job: a restart queues a new one
            session = None
        if session is None or session.state == "stopped":
            session = KernelSession(
                manager,
                profile.server,
                str(self.kernel_id),
                remote_id=self._kid,
                profile=profile.name,
                python=profile.python,
                idle_timeout=profile.idle_timeout,
                channel_transport=self._channel_transport(),
            )
            self._session = session
            await session.connect()
        return session

    def _channel_transport(self) -> str:
        """srun into the kernel's job for a Slurm profile, else the server's choice."""
        if self._profile is not None and self._profile.slurm is not None:
            return "srun"
        return self._server.channel_transport if self._server else "unix"

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> KernelConnectionInfo:
        """KernelManager.start_kernel: start the kernel remotely and forward its channels."""
        profile = self._profile
        assert profile is not None and self._local_ports is not None
        key = self.connection_info.get("key", b"")
        start = KernelStart(
            profile,
            kernel_id=self._kid,
            ports=list(self._local_ports),
            key=key if isinstance(key, bytes) else str(key).encode("ascii"),
            scheme=str(self.connection_info.get("signature_scheme", "hmac-sha256")),
            cwd=self._document_cwd or profile.cwd,
            relay=self.use_relay,
            startup_timeout=self.startup_timeout,
            buffer_mb=self.output_buffer_mb,
            attach_info=self._attach_info,
            took_standby=self._took_standby,
        )

        async def launch(manager: RemoteContext) -> None:
            await bring_up(await self._session_on(manager), start)

        try:
            await self._remote(launch)
        except BaseException as exc:
            await let_taken_go(self, exc)  # taken, not handed out: it goes
            start_failed(self._session, exc)
            await self._close_session()
            raise
        self._attach_info = None
        self._took_standby = False
        self._launched = True
        self._end_asked = False
        self._ended = None
        self.exit_reason = ""
        return self.connection_info

    async def poll(self) -> int | None:
        """KernelManager.is_alive (and the restarter, every few seconds).

        None while the kernel runs OR while the remote is out of reach: only the
        agent's word that the process is gone makes a kernel dead (invariant 3). The
        agent forgets a dead kernel once it has said how it ended; that answer is kept.
        """
        session = self._session
        if not self._launched or session is None:
            return 0 if not self._launched else None
        if session.detached:
            return 0  # left running remotely at server exit; its idle timeout ends it
        if self._ended is not None:
            return self._ended
        if session.job is not None and session.job.ended is not None:
            return self._job_ended(session)  # the scheduler ended it (known, link or not)
        if not session.link_up:
            return None
        if session.channels is not None and session.channels.attached:
            # the relay lives in the kernel's supervisor, which exits when the kernel
            # ends: while its link is up the kernel runs, no remote command needed
            return None
        if session.job is not None:
            if await self._remote(lambda _: jobs.end_of(session)):
                return self._job_ended(session)
            if not session.job.job.running:
                return None  # ending (COMPLETING): its final state comes with the next poll
        status = await status_or_none(self._agent_call("status", self._kid, report=True), self.log)
        if status is None or status.get("state") in ("running", "starting"):
            return None
        if await self._remote(lambda _: jobs.ends_with_kernel(session, status)):
            return self._job_ended(session)  # its job's memory limit: Slurm's OUT_OF_MEMORY
        return self._kernel_ended(status, session)

    def _kernel_ended(self, status: dict[str, Any], session: KernelSession) -> int:
        self._ended, self.exit_reason = ended_by_agent(
            status, session, end_asked=self._end_asked, log=self.log
        )
        return self._ended

    def _job_ended(self, session: KernelSession) -> int:
        self._ended, self.exit_reason = ended_by_job(session, self.parent)
        return self._ended

    async def wait(self) -> int | None:
        """KernelManager, after a shutdown request: until the remote kernel is gone."""
        while True:
            code = await self.poll()
            if code is not None:
                return code
            await asyncio.sleep(0.2)

    async def send_signal(self, signum: int) -> None:
        """KernelManager.signal_kernel / interrupt_kernel (SIGINT in signal mode)."""
        if signum == 0:
            return
        await self._agent_call("signal", self._kid, int(signum))

    async def kill(self, restart: bool = False) -> None:
        """KernelManager when a kernel did not stop in time: SIGKILL its process group."""
        await self._stop_remote(timeout=0.5)

    async def terminate(self, restart: bool = False) -> None:
        """KernelManager's SIGTERM step of a shutdown."""
        await self._stop_remote(timeout=5.0)

    async def _stop_remote(self, timeout: float) -> None:
        if self._session is None or self._session.detached:
            return
        self._end_asked = True
        self._session.kernel_ends()
        if self._session.job is not None and not self._session.job.job.running:
            return  # queued or ended: no kernel runs in the job
        try:
            await self._agent_call("stop", self._kid, timeout=timeout)
        except RemoteError as exc:
            self.log.warning("remote kernel %s: stop failed: %s", self._kid, exc)

    async def cleanup(self, restart: bool = False) -> None:
        """KernelManager after the kernel stopped: remove its remote state dir.

        On restart the forwards and the connection stay (same local ports, same
        socket paths for the next kernel); otherwise both are let go.
        """
        await self._stop_remote(timeout=1.0)
        self._launched = False
        session = self._session
        if not restart and session is not None and session.job is not None:
            await self._remote(lambda _: jobs.cancel(session))  # nothing left: the job ends
        if not restart:
            await self._close_session()
            release_local_ports(self._local_ports)
            self._local_ports = None

    async def _close_session(self) -> None:
        session = self._session
        self._session = None
        if session is None:
            return

        async def close(_: RemoteContext) -> None:
            await session.close()

        await self._remote(close)

    async def shutdown_requested(self, restart: bool = False) -> None:
        """KernelManager.shutdown_kernel, once its shutdown_request is sent: the kernel's
        end from now on is no crash, and its relay going away no health problem."""
        self._end_asked = True
        if self._session is not None:
            self._session.kernel_ends()

    def get_shutdown_wait_time(self, recommended: float = 5.0) -> float:
        return max(recommended, 5.0)

    def get_stable_start_time(self, recommended: float = 10.0) -> float:
        return max(recommended, 10.0)

    async def get_provisioner_info(self) -> dict[str, Any]:
        """What re-attaching needs (issue: sessions). Not called by jupyter_server itself."""
        info: dict[str, Any] = await super().get_provisioner_info()
        info.update(
            profile=self.profile,
            kernel_id=self._kid,
            local_ports=self._local_ports,
            server=self._profile.server if self._profile else None,
        )
        return info

    async def load_provisioner_info(self, provisioner_info: dict[str, Any]) -> None:
        await super().load_provisioner_info(provisioner_info)
        self.profile = provisioner_info.get("profile", self.profile)
        self._local_ports = provisioner_info.get("local_ports") or None

    def resolve_path(self, path_str: str) -> str | None:
        """Paths are on the remote: nothing local to resolve."""
        return None
