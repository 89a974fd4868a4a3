"""What everything that reaches a server needs: the store, secrets, host keys, the pool.

:class:`RemoteContext` is the small core that kernels (provisioner, discovery), sessions
and the ssh operations depend on; :class:`~jupyter_remote.manager.RemoteManager`, the
facade the REST handlers and the CLI call, extends it. Keeping the two apart is what
lets the provisioner and discovery use the pool and the endpoint resolver without
importing the whole facade (no import cycle).
"""

from __future__ import annotations

import asyncio

from .ssh import ConnectionPool, Endpoint, HostKeyPolicy, resolve_endpoint
from .ssh.auth import LinkSettings
from .store import SecretStore, Store, secret_store


class RemoteContext:
    """One per process: owned by RemoteExtensionApp (server) or the CLI / standalone kernel."""

    def __init__(
        self,
        store: Store,
        *,
        secrets: SecretStore = secret_store,
        pool: ConnectionPool | None = None,
        keepalive_interval: float = 15.0,
        keepalive_count_max: int = 3,
        connect_timeout: float = 20.0,
    ) -> None:
        self.store = store
        self.secrets = secrets
        self.hostkeys = HostKeyPolicy(store)
        settings = LinkSettings(keepalive_interval, keepalive_count_max, connect_timeout)
        self.pool = pool or ConnectionPool(self.hostkeys, secrets=secrets, settings=settings)

    async def endpoint(self, name: str) -> Endpoint:
        """Where saved server ``name`` is, resolved against ~/.ssh/config (file reads in a
        thread). Every connect asks this first, so an edit takes effect at the next one."""
        server = await asyncio.to_thread(self.store.get_ssh_server, name)
        return await asyncio.to_thread(resolve_endpoint, server)

    async def close(self) -> None:
        """Close every pooled connection (server shutdown, CLI exit)."""
        await self.pool.close_all()
