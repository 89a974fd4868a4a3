"""A session's link to its server, watched: the reconnect state machine.

:class:`LinkedSession` holds a lease on the server's pooled SSH connection. When
the connection drops it goes ``reconnecting``, lets go of what used the link,
waits for the host to answer on TCP (probed every 0.15 s in the first seconds of an
outage, then every ``tcp_probe_interval``), reconnects with jittered exponential backoff
and has the subclass take up its work again before ``running``. Host-key and auth
failures are never retried (``disconnected``, with the reason; Retry starts over).
Kernel sessions (``kernel.py``) and forward sessions (``forward.py``) build on it.
Everything here runs on the SSH loop (``runtime.on_ssh_loop``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from dataclasses import KW_ONLY, dataclass, field
from typing import Any, ClassVar

from ..context import RemoteContext
from ..errors import HostKeyError, RemoteError, SSHAuthError, SSHConnectError
from ..ssh import Endpoint, Lease, first_hop_reachable
from .roster import registry

log = logging.getLogger(__name__)

#: the first seconds of an outage, probed often: most drops are short (a Wi-Fi roam, a
#: VPN re-key, a laptop lid), and a restored link should be used within ~0.15 s
FAST_PROBE_FOR = 10.0
FAST_PROBE_EVERY = 0.15
#: a fast probe's connect is given up before Linux resends its SYN (after 1 s): one
#: SYN each, nothing in flight to land on sshd long after the link is back
FAST_PROBE_TIMEOUT = 0.9


async def _cancel_and_wait(tasks: set[asyncio.Task[bool]]) -> None:
    """Called by :meth:`LinkedSession._fast_probes` as it ends (answered, closed or
    cancelled): the probes still under way are cancelled and waited for, so a closed
    session leaves no probe task pending on the loop (``ssh/probe.py`` cancels a shared
    connect once its last waiter is gone)."""
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.gather(*tasks, return_exceptions=True)


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

    manager: RemoteContext
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

    async def detach_at_exit(self) -> int:
        """At server exit (SessionRegistry.detach_idle_kernels): 1 if this session
        leaves its work running remotely for a later re-attach, else 0."""
        return 0

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
            if not self._has_link():
                return
            await self._link_lost()
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
            if not await self._wait_reachable(began):
                continue
            try:
                await self._relink()
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

    # How the link is watched and opened again: the server's pooled SSH connection here;
    # a session with another kind of link (a Jupyter server's websocket) overrides these.

    def _has_link(self) -> bool:
        return self.lease is not None

    async def _link_lost(self) -> None:
        """Until the link is gone."""
        assert self.lease is not None
        await self.lease.wait_closed()

    async def _reachable(self, *, timeout: float = 3.0, share_within: float = 0.0) -> bool:
        """Worth a reconnect attempt now (the first hop answers on TCP); probes started
        less than ``share_within`` s apart share one (``ssh/probe.py``)."""
        return await first_hop_reachable(self.endpoint, timeout=timeout, share_within=share_within)

    async def _wait_reachable(self, began: float) -> bool:
        """Probe until the host answers on TCP (True) or for one step (False).

        In the first :data:`FAST_PROBE_FOR` s of an outage a fresh probe starts every
        :data:`FAST_PROBE_EVERY` s (:meth:`_fast_probes`); later one probe, then
        ``tcp_probe_interval`` of sleep, so a long outage costs one SYN a second."""
        if time.monotonic() - began < FAST_PROBE_FOR:
            return await self._fast_probes(began + FAST_PROBE_FOR)
        if await self._reachable():
            return True
        await asyncio.sleep(registry.reconnect.tcp_probe_interval)
        return False

    async def _fast_probes(self, until: float) -> bool:
        """Overlapping probes, one every FAST_PROBE_EVERY s until ``until``: each is one
        SYN (given up at FAST_PROBE_TIMEOUT, before the kernel would resend it), so a
        restored link is seen within ~0.15 s whether the cut refused or dropped them."""
        pending: set[asyncio.Task[bool]] = set()
        next_at = time.monotonic()
        try:
            while not self._closing and time.monotonic() < until:
                if time.monotonic() >= next_at:
                    pending.add(asyncio.ensure_future(self._probe_once()))
                    next_at = time.monotonic() + FAST_PROBE_EVERY
                wait = max(0.0, next_at - time.monotonic())
                if not pending:
                    await asyncio.sleep(wait)
                    continue
                done, pending = await asyncio.wait(
                    pending, timeout=wait, return_when=asyncio.FIRST_COMPLETED
                )
                if any(task.result() for task in done):
                    return True
        finally:
            await _cancel_and_wait(pending)
        return False

    async def _probe_once(self) -> bool:
        """One fast probe, shared by the sessions that probe the same host (one SYN per
        step, the name resolved once, off the default executor: ``ssh/probe.py``)."""
        return await self._reachable(timeout=FAST_PROBE_TIMEOUT, share_within=FAST_PROBE_EVERY / 2)

    async def _relink(self) -> None:
        """Open the link again, then have the subclass take its work up again."""
        assert self.endpoint is not None
        self.lease = await self.manager.pool.acquire(self.endpoint)
        await self._on_reconnected()

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
