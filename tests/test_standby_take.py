"""Standby kernels (issue 17 item 1) taken with no remote exec, and what keeps a
replacement's launch safe.

The process that launched a standby (the keeper) takes it through the standby's own
relay (a CLAIM record, ``kernels/standby_take.py``): no agent exec. One it remembers that
another taker took or that was discarded falls back to the agent's ``claim``, which takes
another standby if there is one. A ``list`` while a launch is making a kernel's
directory (the card's status, polled while a replacement starts) never records that
kernel dead. The Jupyter server's take and the TCP relay's token check are in
tests/test_standby.py.

Own remote user: ``jrstandby`` (as tests/test_standby.py; tests run one at a time).
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jupyter_remote.kernels.agent_client import AgentClient
from jupyter_remote.kernels.standby import Standbys
from jupyter_remote.manager import RemoteManager
from jupyter_remote.store import Store
from tests.harness.fixtures import own_user_host
from tests.harness.remote_state import clean_remote, kernels_dir, standby_ids
from tests.harness.servers import setup_profile
from tests.harness.sshd_host import SSHTestHost
from tests.test_standby_guards import claim_request, with_agent

USER = "jrstandby"


@pytest.fixture(scope="module")
def ssh_host() -> Iterator[SSHTestHost]:
    yield from own_user_host("standby", USER)


@pytest.fixture
def standby_profile(isolated_home: Path, ssh_host: SSHTestHost) -> Iterator[dict[str, Any]]:
    """Profile p with the option on, its standby running (saved as the CLI saves it)."""
    clean_remote(ssh_host)
    yield setup_profile(ssh_host, cwd="/tmp", standby=True)
    clean_remote(ssh_host)


def test_a_list_while_a_launch_makes_the_kernel_never_records_it_dead(
    standby_profile: dict[str, Any], ssh_host: SSHTestHost
) -> None:
    """A ``list`` (the card's standby status, polled while the replacement starts) in the
    moment a launch has made the kernel's directory but not yet forked its supervisor sees
    it starting: recording it dead then failed the launch as "gone" (bench metric 12). A
    launch killed in that moment is recorded dead once LAUNCH_GRACE has passed."""
    kernel_id = str(uuid.uuid4())
    kdir = kernels_dir(ssh_host) / kernel_id
    make = "import os,sys;d=sys.argv[1];os.makedirs(d,0o700);open(d+'/info.json','w').write('{}')"
    made = ssh_host.run_as_user([ssh_host.remote_python, "-c", make, str(kdir)])
    assert made.returncode == 0, made.stderr

    async def states(agent: AgentClient, _: RemoteManager) -> dict[str, str]:
        return {k["kernel_id"]: k["state"] for k in await agent.list()}

    assert with_agent(states)[kernel_id] == "starting"
    assert not (kdir / "ended.json").exists()
    then = time.time() - 3600
    os.utime(kdir, (then, then))
    assert with_agent(states)[kernel_id] == "dead"


def execs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every exec on any SSH connection of this process from now on (asyncssh's
    ``create_session``: each agent request, presence and connector runs one)."""
    import asyncssh

    seen: list[str] = []
    real = asyncssh.SSHClientConnection.create_session

    async def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(str(args[1] if len(args) > 1 else kwargs.get("command")))
        return await real(self, *args, **kwargs)

    monkeypatch.setattr(asyncssh.SSHClientConnection, "create_session", counted)
    return seen


def test_the_keeper_takes_its_standby_through_its_relay_else_by_the_agent(
    standby_profile: dict[str, Any], ssh_host: SSHTestHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 17 item 1: the process that launched a standby takes it with no remote exec
    (a CLAIM to its relay renames the mark); one it remembers that another taker took, or
    that was discarded, falls back to the agent's claim (one exec), which takes another
    standby if there is one, else the start is a cold one."""
    seen = execs(monkeypatch)

    async def go(agent: AgentClient, manager: RemoteManager) -> dict[str, Any]:
        keeper, profile, out = Standbys.of(manager), Store().get_profile("p"), {}
        await keeper.stop("p", "box")  # the fixture's standby: launched by another process
        await keeper.ensure(profile)
        [mine] = standby_ids(ssh_host)
        seen.clear()
        out["clean"] = (mine, await keeper.take(profile, "/tmp", agent=agent), len(seen))
        out["marked"] = sorted(p.name for p in (kernels_dir(ssh_host) / mine).iterdir())
        await agent.stop(mine, timeout=1.0)
        await keeper.ensure(profile)  # remembered, then taken by another process (the CLI)
        [second] = standby_ids(ssh_host)
        other = await agent.call(claim_request())
        seen.clear()
        out["taken"] = (second, other, await keeper.take(profile, "/tmp", agent=agent), len(seen))
        await agent.stop(second, timeout=1.0)
        await keeper.ensure(profile)  # remembered, then discarded; another process's is there
        [third] = standby_ids(ssh_host)
        await agent.call({"op": "discard", "kernel_id": third, "timeout": 1.0})
        await Standbys(manager).ensure(profile)
        [fourth] = standby_ids(ssh_host)
        seen.clear()
        out["discarded"] = (fourth, await keeper.take(profile, "/tmp", agent=agent), len(seen))
        return out

    out = with_agent(go)
    mine, taken, execs_seen = out["clean"]
    assert execs_seen == 0, "the keeper's take ran a remote exec"
    assert taken is not None and taken["kernel_id"] == mine and taken["relay"]
    assert taken["key"] and taken["signature_scheme"] == "hmac-sha256" and taken["pid"] > 0
    assert "claimed" in out["marked"] and "standby" not in out["marked"]  # as by claim
    second, other, taken, execs_seen = out["taken"]
    assert other["kernel_id"] == second  # the other taker got it, once
    assert taken is None and execs_seen == 1  # the relay said no; the agent found none
    fourth, taken, execs_seen = out["discarded"]
    assert taken is not None and taken["kernel_id"] == fourth and execs_seen == 1
    assert (kernels_dir(ssh_host) / fourth / "claimed").exists()
