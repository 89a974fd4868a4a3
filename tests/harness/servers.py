"""A test host saved in our own store: the server `box`, its trusted key, the profile `p`.

Called by tests (and the soak) that need a server or a kernelspec of ours for a host
of the harness, as `jupyter remote server add`, `server test --trust` and
`profile add` would leave them.
"""

from __future__ import annotations

import asyncio
from typing import Any

from jupyter_remote.manager import RemoteManager
from jupyter_remote.store import HostKey, Store, host_id, now_iso

from .sshd_host import SSHTestHost


def server_input(host: SSHTestHost, name: str = "box", **extra: Any) -> dict[str, Any]:
    """The REST/CLI input that saves ``host`` as a key-auth server."""
    return {
        "name": name,
        "host": host.host,
        "port": host.port,
        "user": host.user,
        "identity": str(host.user_key),
        "auth": "key",
        **extra,
    }


def trust_host(store: Store, host: SSHTestHost, as_name: str | None = None) -> None:
    """Put ``host``'s current key into our trust store, as `server test --trust` would
    (``as_name``: for a server saved with that host name instead of ``host.host``)."""
    store.add_hostkey(
        HostKey(
            host_id=host_id(as_name or host.host, host.port),
            key_type=host.host_key_type,
            fingerprint=host.host_key_fingerprint,
            public_key=host.host_key_public,
            added=now_iso(),
        )
    )


def setup_profile(host: SSHTestHost, **profile: Any) -> dict[str, Any]:
    """Save server `box` and profile `p` (kernelspec remote-p) for ``host``.

    Blocking (its own event loop): async tests call it through ``asyncio.to_thread``.
    """

    async def go() -> dict[str, Any]:
        manager = RemoteManager(Store())
        try:
            trust_host(manager.store, host)
            await manager.add_server(server_input(host))
            return await manager.add_profile(
                {"name": "p", "server": "box", "python": host.remote_python, **profile}
            )
        finally:
            await manager.close()

    return asyncio.run(go())
