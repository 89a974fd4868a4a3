"""Invariant 1: one SSH connection per server per process, counted on the sshd side."""

from __future__ import annotations

import asyncio

from jupyter_remote.manager import RemoteManager
from tests.harness.servers import server_input, trust_host
from tests.harness.sshd_host import SSHTestHost
from tests.harness.waiting import eventually_async


async def test_twenty_concurrent_users_share_one_connection(
    manager: RemoteManager, ssh_host: SSHTestHost
) -> None:
    trust_host(manager.store, ssh_host)
    await manager.add_server(server_input(ssh_host))
    endpoint = await manager.endpoint("box")
    await eventually_async(ssh_host.established_connections, lambda n: n == 0, interval=0.1)
    logins_before = ssh_host.accepted_logins()

    leases = await asyncio.gather(*(manager.pool.acquire(endpoint) for _ in range(20)))
    assert len({id(lease.conn) for lease in leases}) == 1
    assert manager.pool.refs(endpoint) == 20
    # every user can use it at once
    results = await asyncio.gather(*(lease.conn.run("echo $$", check=True) for lease in leases))
    assert all(r.exit_status == 0 for r in results)
    assert ssh_host.established_connections() == 1
    assert ssh_host.accepted_logins() - logins_before == 1

    for lease in leases[:-1]:
        await lease.release()
    assert ssh_host.established_connections() == 1
    await leases[-1].release()
    assert manager.pool.open_count() == 0
    await eventually_async(ssh_host.established_connections, lambda n: n == 0, interval=0.1)


async def test_failed_connect_is_shared_and_not_cached(
    manager: RemoteManager, ssh_host: SSHTestHost
) -> None:
    """Concurrent callers get the same failure once; the next attempt connects anew."""
    await manager.add_server(server_input(ssh_host))
    endpoint = await manager.endpoint("box")
    results = await asyncio.gather(
        *(manager.pool.acquire(endpoint) for _ in range(5)), return_exceptions=True
    )
    assert all(type(r).__name__ == "HostKeyUnknownError" for r in results)
    assert manager.pool.open_count() == 0
    trust_host(manager.store, ssh_host)
    async with manager.pool.connection(endpoint) as conn:
        assert (await conn.run("true")).exit_status == 0
