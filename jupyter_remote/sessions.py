"""Remote sessions: one per remote kernel, with a state, a reason, and its own link.

A :class:`KernelSession` is created by the provisioner when a kernel starts. It
holds a lease on the server's pooled SSH connection and the channel forwards on
fixed local ports. When the connection drops it goes ``reconnecting``, waits
for the host to answer on TCP, reconnects (jittered exponential backoff on
failed handshakes), and re-opens every forward on the SAME local ports, so
the ZMQ sockets of the Jupyter server reconnect by themselves. Host-key and
auth failures are never retried: the session goes ``disconnected`` with the
reason. The kernel itself keeps running on the remote all along (invariant 3).

Everything here runs on the SSH loop (see ``runtime.on_ssh_loop``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass, field
from typing import Any, ClassVar

from .channels import RelayedChannels
from .errors import HostKeyError, RemoteError, SSHAuthError, SSHConnectError
from .kernel_agent import AgentClient
from .manager import RemoteManager
from .ssh import Endpoint, Lease
from .ssh.exec import HeldProcess
from .ssh.forwards import Forwards, Target
from .store import TCP_CHANNELS_WARNING

log = logging.getLogger(__name__)

STATES = ("connecting", "running", "reconnecting", "degraded", "disconnected", "stopped")
Listener = Callable[[dict[str, Any]], None]


@dataclass
class Reconnect:
    """Backoff policy: tunables shared by every session (RemoteExtensionApp sets them)."""

    first_delay: float = 0.5
    max_delay: float = 30.0
    give_up_after: float = 3600.0
    tcp_probe_interval: float = 1.0
    rejoin_timeout: float = 5.0
    health_interval: float = 10.0  # seconds between health checks of a running session
    heartbeat_timeout: float = 3.0
    slow_factor: float = 5.0  # degraded when the agent's round trip exceeds baseline x this
    slow_floor_ms: float = 500.0  # ... and is at least this much above the baseline


class SessionRegistry:
    """Every session of this process, and the listeners of their events."""

    def __init__(self) -> None:
        self.sessions: dict[str, LinkedSession] = {}
        self._listeners: list[Listener] = []
        self.reconnect = Reconnect()

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def emit(self, event: dict[str, Any]) -> None:
        event = {"time": time.time(), **event}
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # a broken listener must not break a kernel
                log.exception("session event listener failed")

    def list(self) -> list[dict[str, Any]]:
        return [s.to_json() for s in self.sessions.values()]

    async def detach_idle_kernels(self) -> int:
        """At server exit: leave kernels that have an idle timeout running remotely.

        Their forwards and presence close, so the shutdown request Jupyter sends next
        cannot reach them, and their idle timeout starts; the next server re-attaches
        (POST .../kernels/ID/attach). Kernels without an idle timeout stop as usual.
        """
        count = 0
        for session in list(self.sessions.values()):
            if isinstance(session, KernelSession) and session.idle_timeout > 0:
                session.detached = True
                await session.close()
                count += 1
        return count


registry = SessionRegistry()


async def endpoint_reachable(endpoint: Endpoint | None) -> bool:
    """Does the first hop towards ``endpoint`` accept TCP? Reconnect loops (kernel and
    forward sessions) probe this cheaply before attempting a full SSH handshake."""
    hop = endpoint
    while hop is not None and hop.jump is not None:
        hop = hop.jump
    if hop is None:
        return False
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(hop.host, hop.port), 3)
    except (OSError, asyncio.TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(Exception):
        await writer.wait_closed()
    return True


async def heartbeat_ok(port: int, timeout: float) -> bool:
    """One ping on a kernel's heartbeat channel (a ZMQ echo), through our forward."""
    import zmq
    import zmq.asyncio

    ctx = zmq.asyncio.Context.instance()
    sock = ctx.socket(zmq.REQ)
    sock.linger = 0
    try:
        sock.connect(f"tcp://127.0.0.1:{port}")
        await sock.send(b"ping")
        return bool(await sock.poll(int(timeout * 1000)))
    finally:
        sock.close()


@dataclass
class LinkedSession:
    """A session's link to its server: a lease on the pooled connection, watched.

    When the connection drops: ``reconnecting``, the subclass lets go of what used it
    (:meth:`_on_link_lost`), then a loop waits for the host to answer on TCP,
    reconnects with jittered exponential backoff and has the subclass take up its
    work again (:meth:`_on_reconnected`) before ``running``. Host-key and auth
    failures (and the subclass's ``final_errors``) are never retried: ``disconnected``
    with the reason, and Retry (:meth:`retry`) starts over. Kernel and forward
    sessions build on it; everything runs on the SSH loop.
    """

    manager: RemoteManager
    server: str
    _: KW_ONLY
    state: str = "connecting"
    reason: str = ""
    started: float = field(default_factory=time.time)
    reconnects: int = 0
    endpoint: Endpoint | None = None
    lease: Lease | None = None
    #: the error that ended the session for good (host key, auth, gave up), for the CLI
    error: RemoteError | None = None
    _watcher: asyncio.Task[None] | None = None
    _closing: bool = False

    lost_reason: ClassVar[str] = "the SSH connection was lost; reconnecting"
    final_errors: ClassVar[tuple[type[RemoteError], ...]] = (HostKeyError, SSHAuthError)

    def to_json(self) -> dict[str, Any]:
        """The session as the REST API and the events websocket show it."""
        raise NotImplementedError

    async def stop(self) -> None:
        """The Stop action: end what the session runs, let go of the connection."""
        raise NotImplementedError

    def _set(self, state: str, reason: str = "") -> None:
        """Change state and reason; log and emit the change."""
        raise NotImplementedError

    async def _on_link_lost(self) -> None:
        """The connection dropped: stop using it (forwards, channels, presence)."""

    async def _on_reconnected(self) -> None:
        """A new lease is in: take the work up again; raising means "try again later"."""

    @property
    def link_up(self) -> bool:
        return (
            self.state in ("running", "degraded") and self.lease is not None and not self.lease.lost
        )

    def _watch_in_background(self) -> None:
        if self._watcher is None or self._watcher.done():
            self._watcher = asyncio.ensure_future(self._watch_link())

    async def _watch_link(self) -> None:
        while not self._closing:
            lease = self.lease
            if lease is None:
                return
            with contextlib.suppress(Exception):
                await lease.conn.wait_closed()
            if self._closing:
                return
            self._set("reconnecting", self.lost_reason)
            await self._on_link_lost()
            await self._drop_lease()
            if not await self._reconnect():
                return

    async def _reconnect(self) -> bool:
        """Until connected (True), given up or refused for good (False)."""
        policy = registry.reconnect
        began = time.monotonic()
        delay = policy.first_delay
        while not self._closing:
            if time.monotonic() - began > policy.give_up_after:
                return self._give_up(
                    SSHConnectError(
                        f"gave up reconnecting to {self.server} after "
                        f"{policy.give_up_after:.0f} s; use Retry"
                    )
                )
            if not await endpoint_reachable(self.endpoint):
                await asyncio.sleep(policy.tcp_probe_interval)
                continue
            try:
                assert self.endpoint is not None
                self.lease = await self.manager.pool.acquire(self.endpoint)
                await self._on_reconnected()
            except self.final_errors as exc:
                await self._drop_lease()
                return self._give_up(exc)
            except (RemoteError, OSError) as exc:
                await self._drop_lease()
                log.info("reconnect to %s failed: %s; next try in %.1f s", self.server, exc, delay)
                await asyncio.sleep(delay * random.uniform(0.5, 1.0))  # noqa: S311 - jitter
                delay = min(delay * 2, policy.max_delay)
                continue
            self.reconnects += 1
            self.error = None
            self._set("running")
            return True
        return False

    def _give_up(self, error: RemoteError) -> bool:
        self.error = error
        self._set("disconnected", error.message)
        return False

    async def _drop_lease(self) -> None:
        if self.lease is not None:
            lease, self.lease = self.lease, None
            with contextlib.suppress(Exception):
                await lease.release()

    async def _stop_watching(self) -> None:
        """For close/stop: no more reconnecting (never cancels the calling task)."""
        self._closing = True
        if self._watcher is not None and self._watcher is not asyncio.current_task():
            self._watcher.cancel()
            with contextlib.suppress(BaseException):
                await self._watcher

    async def retry(self) -> None:
        """The Retry action of a disconnected session."""
        if self.state == "disconnected" and not self._closing:
            self._set("reconnecting", "retrying")
            self._watcher = asyncio.ensure_future(self._retry_then_watch())

    async def _retry_then_watch(self) -> None:
        if await self._reconnect():
            await self._watch_link()


@dataclass
class KernelSession(LinkedSession):
    """The link of one remote kernel: lease, channels (relay or forwards), health."""

    kernel_id: str
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
    _first: frozenset[int] = frozenset()
    _presence: HeldProcess | None = None
    heartbeat_port: int | None = None
    _health: asyncio.Task[None] | None = None
    _baseline_ms: float | None = None

    lost_reason: ClassVar[str] = "the SSH connection was lost; the kernel keeps running remotely"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.kernel_id,
            "kind": "kernel",
            "kernel_id": self.kernel_id,
            "server": self.server,
            "profile": self.profile,
            "python": self.python,
            "state": self.state,
            "reason": self.reason,
            "started": self.started,
            "reconnects": self.reconnects,
            "local_ports": sorted(
                set(self.forwards.targets)
                | set(self.channels.ports.values() if self.channels else ())
            ),
            "relayed": self.relay_path is not None,
            "channel_transport": self.channel_transport,
            "warnings": [TCP_CHANNELS_WARNING] if self.channel_transport == "tcp" else [],
        }

    def _set(self, state: str, reason: str = "") -> None:
        if state == self.state and reason == self.reason:
            return
        self.state, self.reason = state, reason
        log.info("remote kernel %s on %s: %s %s", self.kernel_id, self.server, state, reason)
        registry.emit({"type": "session", "session": self.to_json()})

    def progress(self, stage: str, message: str = "") -> None:
        """Start-up stages for the UI and logs: connecting, authenticating, starting kernel, ..."""
        log.info("remote kernel %s: %s %s", self.kernel_id, stage, message)
        registry.emit(
            {
                "type": "progress",
                "kernel_id": self.kernel_id,
                "server": self.server,
                "stage": stage,
                "message": message,
            }
        )

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
            self._health = asyncio.ensure_future(self._monitor_health())

    # ------------------------------------------------------------ health

    async def _monitor_health(self) -> None:
        """Every few seconds while the link is up: heartbeat and agent round trip."""
        policy = registry.reconnect
        while not self._closing:
            await asyncio.sleep(policy.health_interval)
            if self._closing or self.state not in ("running", "degraded") or not self.link_up:
                continue
            problem = await self._health_problem(policy)
            if problem and self.link_up:
                self._set("degraded", problem)
            elif not problem and self.state == "degraded":
                self._set("running")

    async def _health_problem(self, policy: Reconnect) -> str:
        """Why the session is degraded now, or '' when healthy."""
        started = time.monotonic()
        try:
            await asyncio.wait_for(self.agent().status(self.kernel_id), 15)
        except asyncio.TimeoutError:
            return "the remote agent does not answer (the host may be overloaded)"
        except RemoteError:
            return ""  # link trouble: the watcher handles it
        rtt = (time.monotonic() - started) * 1000
        if self._baseline_ms is None or rtt < self._baseline_ms:
            self._baseline_ms = rtt
        base = self._baseline_ms
        if rtt > max(base * policy.slow_factor, base + policy.slow_floor_ms):
            return f"round trip {rtt:.0f} ms, far above its usual {base:.0f} ms"
        if self.channels is not None and self.relay_path and not self.channels.attached:
            # not taken back automatically: two servers would take turns stealing it
            return (
                "this server no longer receives the kernel's messages: another Jupyter "
                "server attached to it, or its relay stopped; attach again to take it back"
            )
        if self.heartbeat_port and not await heartbeat_ok(
            self.heartbeat_port, policy.heartbeat_timeout
        ):
            return "the kernel does not answer its heartbeat (stopped, swapping or hung)"
        return ""

    def agent(self) -> AgentClient:
        """An agent client on the current connection (also while reconnecting, once the new
        lease is in: the reconnect itself takes presence before reporting running)."""
        if self.lease is None or self.lease.lost:
            raise SSHConnectError(f"The link to {self.server} is down ({self.state}).")
        return AgentClient(self.lease.conn, python=self.python)

    async def hold_presence(self) -> None:
        """While this session's link lives, the remote idle timeout does not count.

        With a relay its connection is the presence; this is for direct forwards."""
        self._drop_presence()
        if self.relay_path is not None:
            return
        try:
            self._presence = await self.agent().hold_presence(self.kernel_id)
        except RemoteError as exc:  # idle shutdown then counts only busy time
            log.warning("remote kernel %s: no presence lock: %s", self.kernel_id, exc)

    def _drop_presence(self) -> None:
        if self._presence is not None:
            self._presence.close()
            self._presence = None

    async def open_channels(
        self, ports: dict[str, int], answer: dict[str, Any], *, key: bytes, signature_scheme: str
    ) -> None:
        """The provisioner, after a launch or for an attach: serve the kernel's channels on
        ``ports`` (name -> local port). Through the remote relay when the agent started one
        (``answer["relay"]``), else as plain forwards of every channel."""
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
        await self.channels.attach(self.lease.conn, self._relay_target(), token=self.relay_token)

    def _relay_target(self) -> str | int:
        """The relay's TCP port with the "tcp" channel transport, else its unix socket."""
        if self.relay_port is not None:
            return self.relay_port
        assert self.relay_path is not None
        return self.relay_path

    def _output_dropped(self, text: str) -> None:
        """The relay's bound was hit while away: the notebook shows a marker; so does the card."""
        registry.emit(
            {"type": "notice", "kernel_id": self.kernel_id, "server": self.server, "message": text}
        )
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
        self._drop_presence()
        self.forwards.close()
        if self.channels is not None:
            self.channels.detach()

    async def _on_reconnected(self) -> None:
        assert self.lease is not None
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

    async def stop(self) -> None:
        """Stop for a session whose kernel no Jupyter kernel manager here owns."""
        if self.link_up:
            with contextlib.suppress(RemoteError):
                await self.agent().stop(self.kernel_id)
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
        self._set("stopped")
        registry.sessions.pop(self.kernel_id, None)
