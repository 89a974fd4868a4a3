"""One SSH connection per server per process, shared and reference counted.

Everything that talks to a remote (provisioner, discovery, server test,
forwards) calls :meth:`ConnectionPool.acquire` and later
:meth:`Lease.release`, or uses :meth:`ConnectionPool.connection` as an
``async with``. Concurrent acquires share one connect in flight; the
connection closes when its last lease is released.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import asyncssh

from ..store.secrets import SecretStore, secret_store
from .auth import LinkSettings, connect_endpoint
from .endpoint import Endpoint
from .hostkeys import HostKeyPolicy

log = logging.getLogger(__name__)


DEFAULT_SETTINGS = LinkSettings()


@dataclass
class _Entry:
    endpoint: Endpoint
    refs: int = 0
    task: asyncio.Future[asyncssh.SSHClientConnection] | None = None
    conn: asyncssh.SSHClientConnection | None = None
    jump: Lease | None = None
    lost: bool = False
    lost_reason: str = ""
    waiters: list[asyncio.Event] = field(default_factory=list)


class Lease:
    """A caller's share of a pooled connection. Release it exactly once."""

    def __init__(self, pool: ConnectionPool, key: tuple[Any, ...], entry: _Entry) -> None:
        self._pool = pool
        self._key = key
        self._entry = entry
        self._released = False

    @property
    def conn(self) -> asyncssh.SSHClientConnection:
        assert self._entry.conn is not None
        return self._entry.conn

    @property
    def endpoint(self) -> Endpoint:
        return self._entry.endpoint

    @property
    def lost(self) -> bool:
        return self._entry.lost

    async def wait_closed(self) -> None:
        """Until the connection is gone (sessions watch their link with this)."""
        with contextlib.suppress(Exception):
            await self.conn.wait_closed()

    async def release(self) -> None:
        if self._released:
            return
        self._released = True
        await self._pool._release(self._key, self._entry)


class ConnectionPool:
    """The process's SSH connections, keyed by resolved endpoint."""

    def __init__(
        self,
        policy: HostKeyPolicy,
        *,
        secrets: SecretStore = secret_store,
        settings: LinkSettings = DEFAULT_SETTINGS,
    ) -> None:
        self.policy = policy
        self.secrets = secrets
        self.settings = settings
        self._entries: dict[tuple[Any, ...], _Entry] = {}

    def open_count(self) -> int:
        """Connections currently open or opening (for tests and the sessions view)."""
        return sum(1 for e in self._entries.values() if not e.lost)

    def refs(self, endpoint: Endpoint) -> int:
        entry = self._entries.get(endpoint.key)
        return entry.refs if entry else 0

    async def acquire(self, endpoint: Endpoint) -> Lease:
        key = endpoint.key
        entry = self._entries.get(key)
        if entry is None or entry.lost:
            entry = _Entry(endpoint)
            self._entries[key] = entry
            entry.task = asyncio.ensure_future(self._open(entry))
        entry.refs += 1
        assert entry.task is not None
        try:
            await asyncio.shield(entry.task)
        except BaseException:
            entry.refs -= 1
            if entry.refs <= 0 and self._entries.get(key) is entry:
                del self._entries[key]
            raise
        return Lease(self, key, entry)

    @contextlib.asynccontextmanager
    async def connection(self, endpoint: Endpoint) -> AsyncIterator[asyncssh.SSHClientConnection]:
        lease = await self.acquire(endpoint)
        try:
            yield lease.conn
        finally:
            await lease.release()

    async def _open(self, entry: _Entry) -> asyncssh.SSHClientConnection:
        endpoint = entry.endpoint
        tunnel = None
        if endpoint.jump is not None:
            entry.jump = await self.acquire(endpoint.jump)
            tunnel = entry.jump.conn

        def on_lost(exc: Exception | None) -> None:
            entry.lost = True
            entry.lost_reason = str(exc) if exc else "closed"
            if entry.conn is not None and entry.refs > 0 and exc is not None:
                log.warning("SSH connection to %s lost: %s", endpoint.describe(), entry.lost_reason)

        try:
            conn = await connect_endpoint(
                endpoint,
                policy=self.policy,
                secrets=self.secrets,
                tunnel=tunnel,
                on_lost=on_lost,
                settings=self.settings,
            )
        except BaseException:
            if entry.jump is not None:
                await entry.jump.release()
                entry.jump = None
            raise
        entry.conn = conn
        return conn

    async def _release(self, key: tuple[Any, ...], entry: _Entry) -> None:
        entry.refs -= 1
        if entry.refs > 0:
            return
        if self._entries.get(key) is entry:
            del self._entries[key]
        if entry.conn is not None:
            entry.conn.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(entry.conn.wait_closed(), timeout=5)
            log.info(
                "SSH connection to %s closed (last user released it)", entry.endpoint.describe()
            )
        if entry.jump is not None:
            await entry.jump.release()
            entry.jump = None

    async def close_all(self) -> None:
        """Close every connection (server shutdown, CLI exit)."""
        entries = list(self._entries.values())
        self._entries.clear()
        for entry in entries:
            entry.refs = 0
            if entry.conn is not None:
                entry.conn.close()
        for entry in entries:
            if entry.conn is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(entry.conn.wait_closed(), timeout=5)
