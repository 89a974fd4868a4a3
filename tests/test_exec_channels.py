"""The relay's stream over an exec channel's stdin/stdout (issue 16, item 2).

A server with ``channel_transport: exec`` needs no forwarding at all: its sshd here
forbids both unix-socket and TCP forwarding (as many cluster bastions do), and a kernel
still runs with every channel through the relay, whose byte stream rides the plain
exec channel of a connector (``remote/connector.py``), the same path a kernel in a
Slurm job takes through ``srun --overlap``. An sshd outage during a printing cell loses
nothing: a new connector attaches to the same relay.

Own remote user: ``jrexec``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncssh
import pytest

from jupyter_remote.manager import RemoteManager
from jupyter_remote.sessions import registry
from jupyter_remote.store import Store
from tests.harness.clients import execute, started_kernel, stream_lines
from tests.harness.remote_state import clean_remote
from tests.harness.servers import server_input, trust_host
from tests.harness.sshd_host import SSHTestHost
from tests.harness.waiting import eventually
from tests.test_harness import connect

USER = "jrexec"
NO_FORWARDING = {"AllowStreamLocalForwarding": "no", "AllowTcpForwarding": "no"}


@pytest.fixture(scope="module")
def bastion() -> Iterator[SSHTestHost]:
    with SSHTestHost(name="exec-only", user=USER, extra_config=NO_FORWARDING) as host:
        yield host
        clean_remote(host)


def _profile(host: SSHTestHost) -> dict[str, Any]:
    async def go() -> dict[str, Any]:
        manager = RemoteManager(Store())
        try:
            trust_host(manager.store, host)
            await manager.add_server(server_input(host, channel_transport="exec"))
            return await manager.add_profile(
                {"name": "p", "server": "box", "python": host.remote_python, "cwd": "/tmp"}
            )
        finally:
            await manager.close()

    return asyncio.run(go())


def _forwarding_refused(host: SSHTestHost) -> bool:
    """Control: this sshd really refuses a unix-socket forward."""

    async def go() -> bool:
        refused = False
        async with await connect(host) as conn:
            try:
                await conn.open_unix_connection("/tmp/any")
            except asyncssh.ChannelOpenError:
                refused = True
        return refused

    return asyncio.run(go())


PRINTING_CELL = """
import time
for i in range(16):
    print(f"line {i}", flush=True)
    time.sleep(0.5)
"""


def test_a_kernel_runs_with_no_forwarding_and_a_cut_loses_nothing(
    isolated_home: Path, bastion: SSHTestHost
) -> None:
    assert _forwarding_refused(bastion)
    profile = _profile(bastion)
    with started_kernel(profile["kernel_name"], ready_timeout=60) as (km, kc):
        session = registry.sessions[str(km.kernel_id)]
        shown = session.to_json()
        assert shown["channel_transport"] == "exec" and shown["relayed"], shown
        execute(kc, "x = 41")
        msg_id = kc.execute(PRINTING_CELL)
        time.sleep(2)
        with bastion.outage():
            eventually(lambda: session.state, lambda s: s != "running", timeout=20)
            time.sleep(3)
            assert km.is_alive()
        eventually(lambda: session.state, lambda s: s == "running", timeout=60)
        lines = stream_lines(kc, msg_id, timeout=60)
        assert lines == [f"line {i}" for i in range(16)]  # every line once, in order
        assert execute(kc, "print(x + 1)")[1].strip() == "42"
        km.shutdown_kernel(now=False)
