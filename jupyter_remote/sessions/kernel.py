"""A remote kernel's session: its link, its channels (through the relay) and its health.

Created by the provisioner (``kernels/provisioner.py``) when a kernel starts or is
re-attached. It holds a lease on the server's pooled SSH connection and serves the
kernel's channels on fixed local ports (``kernels/relay_link.py``), so the Jupyter
server's ZMQ sockets never see the link come and go. Reconnecting is
:class:`~.linked.LinkedSession`'s; here is what to drop when the link is lost, how
to resume, and the health checks of a running kernel (the kernel itself keeps
running on the remote all along, invariant 3). The health checks themselves are
``kernel_health.py``'s; the fields the API shows, ``kernel_events.py``'s.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..errors import RemoteError, SSHConnectError
from ..kernels.agent_client import AgentClient
from ..kernels.relay_link import RelayedChannels
from ..ssh.exec import HeldProcess
from ..ssh.forwards import Forwards, Target
from ..ssh.streams import ExecTarget
from ..store import TCP_CHANNELS_WARNING
from ..store.durations import format_duration
from .job import JobLink
from .job import cancel as cancel_job
from .kernel_events import emit_notice, emit_progress, kernel_json, set_state
from .kernel_health import KERNEL_SETTLE_S, monitor_health
from .linked import LinkedSession
from .roster import registry

log = logging.getLogger(__name__)

#: a kernel gone from the remote without a word while this server was connected
STOPPED_ELSEWHERE = (
    "stopped on the remote from outside this Jupyter server (`jupyter remote kernel stop`, "
    "or another Jupyter server's Remote sidebar)"
)


@dataclass
class KernelSession(LinkedSession):
    """The link of one remote kernel: lease, channels (relay or forwards), health."""

    kernel_id: str
    #: the kernel's id on the remote when it is not ``kernel_id``: a profile's standby
    #: this kernel took (kernels/standby.py); empty: the same
    remote_id: str = ""
    profile: str = ""
    python: str | None = None
    idle_timeout: int = 0
    detached: bool = False
    forwards: Forwards = field(default_factory=Forwards)
    channels: RelayedChannels | None = None  # every channel through the relay
    relay_path: str | None = None
    relay_port: int | None = None  # the relay's TCP port ("tcp" channel transport only)
    relay_token: str = ""
    channel_transport: str = "unix"
    job: JobLink | None = None  # the Slurm job the kernel runs in (sessions/job.py)
    _first: frozenset[int] = frozenset()
    _presence: HeldProcess | None = None
    heartbeat_port: int | None = None
    _health: asyncio.Task[None] | None = None
    _baseline_ms: float | None = None
    #: the kernel is being shut down or restarted on purpose (set by the provisioner from
    #: its shutdown request until the next kernel's channels are open): its relay and
    #: heartbeat going away then is no health problem
    kernel_ending: bool = False
    #: counts the kernel's ends and starts: a health check that spans one says nothing
    kernel_epoch: int = 0
    #: no round-trip verdict before this (monotonic): a kernel just (re)started still
    #: loads, and the remote host with it
    _settle_until: float = 0.0
    #: why the session stopped when it was not an ordinary shutdown (e.g. the sidebar's
    #: Stop): the stopped event carries it, and the notebook says it
    stop_reason: str = ""
    #: the start failed (kernels/provisioner.py): the stopped card keeps why, the fix and Retry
    start_failed: bool = False
    hint: str = ""
    #: how long the last outage of the link lasted (s), and when the current one began
    last_outage: float = 0.0
    _lost_at: float | None = None

    lost_reason: ClassVar[str] = "the SSH connection was lost; the kernel keeps running remotely"

    def __post_init__(self) -> None:
        self.remote_id = self.remote_id or self.kernel_id

    def to_json(self) -> dict[str, Any]:
        ports = set(self.forwards.targets) | set(
            self.channels.ports.values() if self.channels else ()
        )
        return kernel_json(
            self,
            profile=self.profile,
            python=self.python,
            local_ports=sorted(ports),
            relayed=self.relay_path is not None,
            warnings=[TCP_CHANNELS_WARNING] if self.channel_transport == "tcp" else [],
            channel_transport=self.channel_transport,
            **({"job": self.job.to_json()} if self.job is not None else {}),
            **({"remote_kernel_id": self.remote_id} if self.remote_id != self.kernel_id else {}),
        )

    def _set(self, state: str, reason: str = "") -> None:
        set_state(self, log, "remote kernel", state, reason)

    def progress(self, stage: str, message: str = "") -> None:
        """Start-up stages for the UI and logs: connecting, authenticating, starting kernel, ..."""
        emit_progress(self, log, "remote kernel", stage, message)

    # ------------------------------------------------------------ link

    async def connect(self) -> None:
        """First connect: errors propagate to the caller (kernel start fails clearly)."""
        registry.sessions[self.kernel_id] = self
        self.progress("connecting", f"to server {self.server}")
        self.endpoint = await self.manager.endpoint(self.server)
        self.progress("authenticating", self.endpoint.describe())
        self.lease = await self.manager.pool.acquire(self.endpoint)
        self._set("running")
        self._watch()

    def _watch(self) -> None:
        self._watch_in_background()
        if self._health is None or self._health.done():
            self._health = asyncio.ensure_future(monitor_health(self))

    # ------------------------------------------------------------ health

    def kernel_ends(self) -> None:
        """The provisioner, from a shutdown or restart request on: the kernel's relay and
        heartbeat going away is no health problem."""
        self.kernel_ending = True
        self.kernel_epoch += 1

    def kernel_starting(self) -> None:
        """``kernels/kernel_start.py``, before the channels open: the relay answers the
        attach once the booting kernel has answered it, so a link not attached yet is no
        health problem until :meth:`kernel_started`."""
        self.kernel_ending = True
        self.kernel_epoch += 1

    def kernel_started(self) -> None:
        """The provisioner, once a (re)started kernel's channels are open."""
        self.kernel_ending = False
        self.kernel_epoch += 1
        self._settle_until = time.monotonic() + KERNEL_SETTLE_S

    def agent(self) -> AgentClient:
        """An agent client on the current connection (also while reconnecting, once the new
        lease is in: the reconnect itself takes presence before reporting running)."""
        if self.lease is None or self.lease.lost:
            raise SSHConnectError(f"The link to {self.server} is down ({self.state}).")
        wrap = self.job.wrap() if self.job is not None else ()  # srun into the kernel's job
        return AgentClient(self.lease.conn, python=self.python, wrap=wrap)

    def login_agent(self) -> AgentClient:
        """The agent on the server itself with its login python3 (a cluster's login node:
        submitting and cancelling jobs, their records)."""
        if self.lease is None or self.lease.lost:
            raise SSHConnectError(f"The link to {self.server} is down ({self.state}).")
        return AgentClient(self.lease.conn)

    async def hold_presence(self) -> None:
        """While this session's link lives, the remote idle timeout does not count.

        With a relay its connection is the presence; this is for direct forwards."""
        self._drop_presence()
        if self.relay_path is not None:
            return
        try:
            self._presence = await self.agent().hold_presence(self.remote_id)
        except RemoteError as exc:  # idle shutdown then counts only busy time
            log.warning("remote kernel %s: no presence lock: %s", self.kernel_id, exc)

    def _drop_presence(self) -> None:
        if self._presence is not None:
            self._presence.close()
            self._presence = None

    async def open_channels(
        self,
        ports: dict[str, int],
        answer: dict[str, Any],
        *,
        key: bytes,
        signature_scheme: str,
        ready_timeout: float = 15.0,
    ) -> None:
        """The provisioner, after a launch or for an attach: serve the kernel's channels on
        ``ports`` (name -> local port). Through the remote relay when the agent started one
        (``answer["relay"]``; its HELLO answer waits up to ``ready_timeout`` for a booting
        kernel, and raises its failed start), else as plain forwards of every channel."""
        channels = answer["channels"]
        relay = answer.get("relay")
        if not relay:
            if self.channels is not None:
                self.channels.close()
                self.channels = None
            self.relay_path = None
            targets = {ports[name]: channels[name] for name in ports}
            await self.open_forwards(targets, first=frozenset({ports["iopub"]}))
            return
        if self.forwards.targets:
            self.forwards.close()  # ports served by the channels below from now on
            self.forwards.targets = {}
        if self.channels is None:
            self.channels = RelayedChannels(
                ports, key=key, signature_scheme=signature_scheme, on_gap=self._output_dropped
            )
        self.relay_path = str(relay)
        port = answer.get("relay_port")
        self.relay_port = int(port) if self.channel_transport == "tcp" and port else None
        assert self.lease is not None
        await self.channels.attach(
            self.lease.conn,
            self._relay_target(),
            token=self.relay_token,
            ready_timeout=ready_timeout,
        )

    def _relay_target(self) -> str | int | ExecTarget:
        """The relay's TCP port with the "tcp" channel transport, a connector's stdin/stdout
        with "exec" (over SSH) and "srun" (into the kernel's Slurm job), else its socket."""
        if self.channel_transport in ("exec", "srun"):
            return self.agent().connect_target(self.remote_id)
        if self.relay_port is not None:
            return self.relay_port
        assert self.relay_path is not None
        return self.relay_path

    def failed_to_start(self, message: str, hint: str) -> None:
        """The provisioner, when this kernel's start failed: the session ends ``stopped``
        with the reason and the fix (the card keeps them, with Retry), not a bare Stopped."""
        self.start_failed = True
        self.stop_reason = f"the kernel did not start: {message}"
        self.hint = hint

    def notice(self, text: str) -> None:
        """Something the user of this kernel should know (the notebook shows it)."""
        emit_notice(self, text)

    def why_removed(self, *, end_asked: bool) -> str:
        """The provisioner, when the remote no longer has this kernel: '' if it ended on
        request (its kernel manager's shutdown or stop, or a client's shutdown_request seen
        on the relayed control channel), else who stopped it there: its idle timeout while
        we were away, or someone outside this Jupyter server."""
        if end_asked or (self.channels is not None and self.channels.shutdown_replied):
            return ""
        if self.idle_timeout and self.last_outage >= self.idle_timeout:
            return (
                f"stopped by its idle timeout ({format_duration(self.idle_timeout)} with no "
                f"client) while this Jupyter server was not connected"
            )
        return STOPPED_ELSEWHERE

    def _output_dropped(self, text: str) -> None:
        """The relay's bound was hit while away: the notebook shows a marker; so does the card."""
        self.notice(text)
        if self.state in ("running", "degraded", "reconnecting"):
            self._set(self.state, text)

    async def _attach_relay(self) -> bool:
        """Re-attach the channels to the relay after a reconnect; False if it is gone."""
        if self.channels is None or self.relay_path is None or self.lease is None:
            return False
        try:
            await self.channels.attach(
                self.lease.conn, self._relay_target(), token=self.relay_token
            )
        except Exception as exc:  # gone with its kernel: poll() asks the agent next
            log.warning("remote kernel %s: relay not reachable: %r", self.kernel_id, exc)
            return False
        return True

    async def open_forwards(self, targets: dict[int, Target], *, first: frozenset[int]) -> None:
        """Forward the kernel's channels; ``first``: the iopub port (see Forwards.open)."""
        self._first = first
        if self.forwards.targets == targets and self.forwards.is_open:
            return
        assert self.lease is not None
        await self.forwards.open(self.lease.conn, targets, first=first)

    async def _on_link_lost(self) -> None:
        self._lost_at = time.monotonic()
        self._drop_presence()
        self.forwards.close()
        if self.channels is not None:
            self.channels.detach()

    async def _on_reconnected(self) -> None:
        assert self.lease is not None
        if self._lost_at is not None:
            self.last_outage = time.monotonic() - self._lost_at
        policy = registry.reconnect
        await self.forwards.open(
            self.lease.conn,
            dict(self.forwards.targets),
            first=self._first,
            rejoin_timeout=policy.rejoin_timeout,
        )
        await self.forwards.wait_rejoined(policy.rejoin_timeout, ports=self._first)
        await self._attach_relay()
        await self.hold_presence()

    async def detach_at_exit(self) -> int:
        """Kernels with an idle timeout outlive the server: their forwards and presence
        close (the shutdown request Jupyter sends next cannot reach them) and their idle
        timeout starts; the next server re-attaches (POST .../kernels/ID/attach)."""
        if self.idle_timeout <= 0:
            return 0
        self.detached = True
        await self.close()
        return 1

    async def stop(self) -> None:
        """Stop for a session whose kernel no Jupyter kernel manager here owns (also one
        whose Slurm job is still queued: the job is cancelled, and its start fails)."""
        if self.link_up and (self.job is None or self.job.job.running):
            with contextlib.suppress(RemoteError):
                await self.agent().stop(self.remote_id)
        if self.job is not None:
            self._closing = True  # the start waiting in the queue gives up
            await cancel_job(self)
        await self.close()

    async def close(self) -> None:
        """Stop forwarding and let go of the connection (the kernel is stopped by the caller)."""
        await self._stop_watching()
        if self._health is not None:
            self._health.cancel()
            with contextlib.suppress(BaseException):
                await self._health
        self._drop_presence()
        self.forwards.close()
        if self.channels is not None:
            self.channels.close()
            self.channels = None
        await self._drop_lease()
        self._set("stopped", self.stop_reason)
        registry.sessions.pop(self.kernel_id, None)
