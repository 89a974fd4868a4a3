"""A kernel on a remote Jupyter server: its link (the kernel websocket, through an SSH
tunnel or not), its local channels and what a dropped link cost.

Created by :class:`~jupyter_remote.kernels.jupyter_provisioner.JupyterServerProvisioner`.
The link is the remote server's kernel websocket; with ``via`` it rides a private local
socket carried by the SSH server's pooled connection (``ssh/tunnel.py``), and the session
holds a lease on that connection. When the websocket (or the tunnel) drops, the kernel
keeps running on the remote server; :class:`~.linked.LinkedSession` reconnects with
backoff, and :meth:`_relink` opens the websocket again with the SAME session id, so the
remote server replays what it kept for us (jupyter_server buffers a kernel's messages
from the moment it notices its last client is gone). What it cannot have kept (the
messages it wrote into the dead connection before noticing) is said honestly: on the
card, in the notebook under the running cell, and a request whose reply was lost is
answered with an error instead of waiting forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..errors import (
    HostKeyError,
    JupyterAuthError,
    JupyterConnectError,
    RemoteError,
    SSHAuthError,
    SSHConnectError,
)
from ..jupyter import JupyterAPI, url_host_port
from ..kernels.jupyter_bridge import BridgedChannels
from ..kernels.jupyter_servers import tunnel_down
from ..ssh import first_hop_reachable, tcp_reachable
from ..ssh.tunnel import PrivateTunnel
from ..store import JupyterServer
from .kernel_events import emit_notice, emit_progress, kernel_json, set_state
from .linked import LinkedSession
from .roster import registry

log = logging.getLogger(__name__)

LOST_REPLY_GRACE = 5.0  # after the replay, how long an unanswered request may still wait
RELINK_TIMEOUT = 60.0  # one reconnect attempt (route, kernel check, websocket) at most


class RemoteKernelGoneError(RemoteError):
    """The remote Jupyter server no longer has the kernel (stopped there, or restarted)."""

    status = 410
    reason = "kernel_gone"
    default_hint = "Start a new kernel; what ran in the old one is gone."


def lost_output_text(server: str, seconds: float) -> str:
    return (
        f"[jupyter-remote] The link to the Jupyter server {server} was down for {seconds:.0f} s "
        "while this cell ran. The kernel kept running there and the output the remote "
        "server kept for us is delivered now, but output the kernel sent before the remote "
        "server noticed the drop (up to about a minute with its default pings) may be "
        "missing. Kernels run over SSH by jupyter-remote keep everything.\n"
    )


@dataclass
class JupyterKernelSession(LinkedSession):
    """The websocket link of one kernel on a remote Jupyter server, watched."""

    kernel_id: str
    record: JupyterServer | None = None
    api: JupyterAPI | None = None
    remote_id: str = ""
    kernel_name: str = ""
    ws_session: str = field(default_factory=lambda: uuid.uuid4().hex)
    channels: BridgedChannels | None = None
    tunnel: PrivateTunnel | None = None
    gone: bool = False  # the remote server no longer has the kernel
    start_failed: bool = False
    hint: str = ""  # what to do about a failed start
    _lost_at: float = 0.0
    _busy_at_loss: bool = False
    _parents_at_loss: list[str] = field(default_factory=list)  # requests running at the drop
    _health: asyncio.Task[None] | None = None
    _recovery: asyncio.Task[None] | None = None

    lost_reason: ClassVar[str] = (
        "the link to the Jupyter server was lost; the kernel keeps running there"
    )
    final_errors: ClassVar[tuple[type[RemoteError], ...]] = (
        HostKeyError,
        SSHAuthError,
        JupyterAuthError,
        RemoteKernelGoneError,
    )

    def to_json(self) -> dict[str, Any]:
        return kernel_json(
            self,
            profile="",
            python=None,
            local_ports=sorted(self.channels.ports.values()) if self.channels else [],
            relayed=False,
            warnings=self.record.warnings if self.record else [],
            target="jupyter",
            remote_kernel_id=self.remote_id,
            kernel_name=self.kernel_name,
        )

    def _set(self, state: str, reason: str = "") -> None:
        set_state(self, log, "Jupyter kernel", state, reason)

    def progress(self, stage: str, message: str = "") -> None:
        """Start-up stages: tunnel, authenticating, starting kernel, websocket, ready."""
        emit_progress(self, log, "Jupyter kernel", stage, message)

    def notice(self, message: str) -> None:
        """Something the user of this kernel should know (the notebook shows it)."""
        emit_notice(self, message)

    # ------------------------------------------------------------ the route

    async def open_route(self, api: JupyterAPI) -> JupyterAPI:
        """Through the SSH server ``via`` (a lease and a private tunnel), or directly."""
        assert self.record is not None
        via = self.record.via
        if via is None:
            return api
        self.progress("tunnel", f"through the SSH server {via}")
        if self.lease is None or self.lease.lost:
            self.endpoint = await self.manager.endpoint(via)
            try:
                self.lease = await self.manager.pool.acquire(self.endpoint)
            except SSHConnectError as exc:
                raise tunnel_down(exc, self.record) from None
        host, port = url_host_port(self.record.url)
        if self.tunnel is not None:
            self.tunnel.close()
        self.tunnel = PrivateTunnel(self.lease.conn, host, port, via=via)
        await self.tunnel.start()
        await self.tunnel.check()
        api.tunnel_path = self.tunnel.path
        return api

    async def connect(self, api: JupyterAPI) -> None:
        """First connect: errors propagate (the kernel start fails with them)."""
        registry.sessions[self.kernel_id] = self
        self.progress("connecting", f"to the Jupyter server {self.server}")
        self.api = await self.open_route(api)
        self.progress("authenticating", api.url)
        await self.api.about()

    async def open_channels(
        self, ports: dict[str, int], *, key: bytes, signature_scheme: str
    ) -> None:
        """Serve the kernel's channels on ``ports`` and open its websocket."""
        if self.channels is None:
            self.channels = BridgedChannels(
                ports,
                key=key,
                signature_scheme=signature_scheme,
                on_shutdown_request=self.shutdown_or_restart,
            )
        await self.open_websocket()
        self._set("running")
        self._watch_in_background()
        if self._health is None or self._health.done():
            self._health = asyncio.ensure_future(self._watch_kernel())

    async def open_websocket(self) -> None:
        assert self.api is not None and self.channels is not None
        self.progress("websocket", f"kernel {self.remote_id}")
        ws = await self.api.websocket(self.remote_id, self.ws_session)
        self.channels.attach(ws)

    # ------------------------------------------------------------ kernel actions

    async def shutdown_or_restart(self, restart: bool) -> None:
        """A client's shutdown_request (the provisioner's too): through the REST API."""
        assert self.api is not None
        if restart:
            await self.api.restart(self.remote_id)
        else:
            await self.api.shutdown(self.remote_id)
            self.gone = True

    async def _watch_kernel(self) -> None:
        """While running: does the remote server still have the kernel?"""
        while not self._closing:
            await asyncio.sleep(registry.reconnect.health_interval)
            if self.state not in ("running", "degraded") or self.api is None:
                continue
            try:
                model = await asyncio.wait_for(self.api.kernel(self.remote_id), 20)
            except (RemoteError, asyncio.TimeoutError):
                continue  # link trouble: the watcher of the websocket handles it
            if model is None:
                self.gone = True
                self._set("disconnected", "the kernel is gone on the remote Jupyter server")
            elif model.get("execution_state") == "dead":
                self.gone = True

    # ------------------------------------------------------------ the link (LinkedSession)

    @property
    def link_up(self) -> bool:
        return self.state in ("running", "degraded") and self._has_link()

    def _has_link(self) -> bool:
        return self.channels is not None and self.channels.attached

    async def _link_lost(self) -> None:
        assert self.channels is not None
        waits: list[asyncio.Future[Any]] = [asyncio.ensure_future(self.channels.closed.wait())]
        if self.lease is not None:
            waits.append(asyncio.ensure_future(self.lease.wait_closed()))
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in waits:
                task.cancel()

    async def _on_link_lost(self) -> None:
        self._lost_at = time.monotonic()
        channels = self.channels
        self._busy_at_loss = bool(
            channels and (channels.execution_state == "busy" or channels.inflight)
        )
        self._parents_at_loss = list(channels.inflight) if channels else []
        if channels is not None:
            channels.detach()
        if self.tunnel is not None:
            self.tunnel.close()
            self.tunnel = None

    async def _reachable(self, *, timeout: float = 3.0, share_within: float = 0.0) -> bool:
        """The SSH hop of a server reached ``via`` one, else the URL's host, answers on
        TCP (probes of one host shared, as LinkedSession's)."""
        assert self.record is not None
        if self.record.via is not None:
            return await first_hop_reachable(
                self.endpoint, timeout=timeout, share_within=share_within
            )
        host, port = url_host_port(self.record.url)
        return await tcp_reachable(host, port, timeout=timeout, share_within=share_within)

    async def _relink(self) -> None:
        """One reconnect attempt, bounded: a half-dead route (a TCP link still in its
        retransmission backoff, a tunnel whose channel never opens) is a failed attempt
        the backoff loop retries, never a wait without end."""
        try:
            await asyncio.wait_for(self._relink_once(), RELINK_TIMEOUT)
        except asyncio.TimeoutError:
            raise JupyterConnectError(
                f"Reconnecting to the Jupyter server {self.server} took more than "
                f"{RELINK_TIMEOUT:.0f} s"
            ) from None

    async def _relink_once(self) -> None:
        assert self.api is not None
        if self.record is not None and self.record.via is not None:
            await self._drop_lease()
        await self.open_route(self.api)
        if await self.api.kernel(self.remote_id) is None:
            self.gone = True
            raise RemoteKernelGoneError(
                f"The Jupyter server {self.server} no longer has the kernel {self.remote_id}."
            )
        await self.open_websocket()
        lost_for = time.monotonic() - self._lost_at
        if self._busy_at_loss:
            self._recovery = asyncio.ensure_future(self._report_recovery(lost_for))

    async def _report_recovery(self, lost_for: float) -> None:
        """After a drop while the kernel was busy: say at once, under the cells that were
        running (while their clients still listen, before their replies arrive), what may
        be missing; then answer requests whose replies the link lost."""
        channels = self.channels
        if channels is None:
            return
        text = lost_output_text(self.server, lost_for)
        for parent in self._parents_at_loss or [""]:
            await channels.notice(text, parent)
        for _ in range(50):  # LinkedSession marks the session running once _relink returns
            if self.state != "reconnecting":
                break
            await asyncio.sleep(0.1)
        message = (
            f"reconnected after {lost_for:.0f} s; output the kernel sent before the remote "
            "Jupyter server noticed the drop may be missing"
        )
        self.notice(message)
        if self.state == "running":
            self._set("running", message)
        await self._answer_lost_replies(channels)

    async def _answer_lost_replies(self, channels: BridgedChannels) -> None:
        """Requests running at the drop and still unanswered once the remote kernel is idle
        again lost their replies: answer them with an error so no cell waits forever."""
        assert self.api is not None
        deadline = time.monotonic() + 3600
        while time.monotonic() < deadline and not self._closing:
            lost = [m for m in self._parents_at_loss if m in channels.inflight]
            if not lost:
                return
            with contextlib.suppress(RemoteError):
                model = await self.api.kernel(self.remote_id)
                if model is not None and model.get("execution_state") == "idle":
                    await asyncio.sleep(LOST_REPLY_GRACE)
                    for msg_id in lost:
                        if msg_id in channels.inflight:
                            await channels.give_up_on(
                                msg_id,
                                "The link to the Jupyter server dropped and this request's "
                                "reply was lost (the kernel is idle again). Its output above "
                                "may be incomplete; run the cell again if you need its result.",
                            )
                    return
            await asyncio.sleep(1.0)

    # ------------------------------------------------------------ ending

    def failed_to_start(self, message: str, hint: str) -> None:
        """The provisioner, when this kernel's start failed (a wrong token, an unreachable
        URL, a tunnel down): the card ends ``stopped`` with the reason and the fix."""
        self.start_failed = True
        self.reason = f"the kernel did not start: {message}"
        self.hint = hint

    async def stop(self) -> None:
        """Stop for a session whose kernel no kernel manager here owns: DELETE it there."""
        if self.api is not None and not self.gone:
            with contextlib.suppress(RemoteError):
                await self.api.shutdown(self.remote_id)
        await self.close()

    async def close(self) -> None:
        """Stop using the websocket, the tunnel and the local ports (the remote kernel is
        stopped by the caller, or left running for a later attach)."""
        await self._stop_watching()
        for task in (self._health, self._recovery):
            if task is not None and task is not asyncio.current_task():
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
        if self.channels is not None:
            self.channels.close()
            self.channels = None
        if self.tunnel is not None:
            self.tunnel.close()
            self.tunnel = None
        await self._drop_lease()
        self._set("stopped", self.reason if self.start_failed else "")
        registry.sessions.pop(self.kernel_id, None)
