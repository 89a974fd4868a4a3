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

import asyncio
import contextlib
import json
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jupyter_remote.errors import RemoteCommandError
from jupyter_remote.kernels.agent_client import AgentClient
from jupyter_remote.kernels.standby import Standbys
from jupyter_remote.manager import RemoteManager
from jupyter_remote.store import Store
from tests.harness.fixtures import own_user_host
from tests.harness.remote_state import kernels_dir, standby_ids
from tests.harness.sshd_host import SSHTestHost
from tests.harness.waiting import eventually_async
from tests.test_standby_guards import claim_request, with_agent

USER = "jrstandby"


@pytest.fixture(scope="module")
def ssh_host() -> Iterator[SSHTestHost]:
    yield from own_user_host("standby", USER)


PAUSED_SPEC = "jr-paused"


@contextlib.contextmanager
def paused_launches(ssh_host: SSHTestHost) -> Iterator[Path]:
    """A kernelspec of the user whose kernel.json is a FIFO: a real launch naming it waits
    reading it with its kernel directory made and its supervisor not forked yet, until
    :func:`release` writes (or its agent is killed)."""
    spec = ssh_host.home / ".local/share/jupyter/kernels" / PAUSED_SPEC
    make = 'mkdir -p "$1" && mkfifo "$1/kernel.json"'
    made = ssh_host.run_as_user(["sh", "-c", make, "sh", str(spec)])
    assert made.returncode == 0, made.stderr
    try:
        yield spec / "kernel.json"
    finally:
        release(spec / "kernel.json")
        ssh_host.run_as_user(["rm", "-rf", str(spec)])


def release(fifo: Path) -> None:
    """A launch waiting on ``fifo`` reads an empty spec (no such kernelspec: it fails and
    removes its directory); with none waiting, nothing happens."""
    try:
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    except OSError:  # no reader
        return
    try:
        os.write(fd, b"{}")
    finally:
        os.close(fd)


async def launch_paused(agent: AgentClient, kdir: Path) -> asyncio.Task[dict[str, Any]]:
    """A real launch of kernel ``kdir.name`` that stops before its supervisor is forked."""
    request = {"kernel_id": kdir.name, "key": "k" * 32, "kernelspec": PAUSED_SPEC, "cwd": "/tmp"}
    task = asyncio.ensure_future(agent.launch(request, timeout=60))
    await eventually_async(kdir.exists, what="the launch's directory")
    return task


async def states(agent: AgentClient, report: bool = False) -> dict[str, str]:
    return {k["kernel_id"]: k["state"] for k in await agent.list(report=report)}


def test_a_list_while_a_launch_makes_the_kernel_never_records_it_dead(
    plain_profile: dict[str, Any], ssh_host: SSHTestHost
) -> None:
    """A ``list`` (the card's standby status, polled while the replacement starts) in the
    moment a launch has made the kernel's directory but not yet forked its supervisor sees
    it starting: recording it dead then failed the launch as "gone" (bench metric 12). The
    launch then ends as it would have (here: no such kernelspec, its directory removed)."""
    kdir = kernels_dir(ssh_host) / str(uuid.uuid4())

    async def go(agent: AgentClient, _: RemoteManager) -> tuple[str, bool, str]:
        task = await launch_paused(agent, kdir)
        seen = (await states(agent)).get(kdir.name, "not listed")
        recorded = (kdir / "ended.json").exists()
        release(fifo)
        with pytest.raises(RemoteCommandError) as failed:
            await task
        return seen, recorded, str(failed.value)

    with paused_launches(ssh_host) as fifo:
        seen, recorded, error = with_agent(go)
    assert seen == "starting" and not recorded
    assert f"no kernelspec named '{PAUSED_SPEC}'" in error
    assert not kdir.exists()


@pytest.mark.parametrize("skew", [-3600, 3600])
def test_a_launch_is_starting_while_its_agent_runs_whatever_the_file_clock(
    plain_profile: dict[str, Any], ssh_host: SSHTestHost, skew: int
) -> None:
    """Review s22 F4: a kernel directory with no supervisor yet is "starting" exactly while
    the agent launching it runs, whatever the clock that stamped its files (an NFS server's
    an hour behind or ahead of ours: here every file of the directory dated so); once
    that agent is killed it is dead at the next list, and a reporting list removes it
    with its socket directory and the key's file. A killed launch's temporary directory
    (from before its rename) goes at the next launch. Before: the file's mtime against
    our clock, 30 s of grace: behind, the live launch was recorded dead; ahead, the
    killed one was "starting" for an hour with its key kept."""
    kdir = kernels_dir(ssh_host) / str(uuid.uuid4())
    unborn = kernels_dir(ssh_host) / ".launching-99999999-x"  # above any pid_max: no agent
    made = ssh_host.run_as_user(["mkdir", "-p", str(unborn)])
    assert made.returncode == 0, made.stderr

    async def go(agent: AgentClient, _: RemoteManager) -> dict[str, Any]:
        out: dict[str, Any] = {}
        task = await launch_paused(agent, kdir)
        out["unborn"] = unborn.exists()
        info = kdir / "info.json"  # made with the directory: its socket directory named
        out["sockdir"] = json.loads(info.read_text()).get("sockdir") if info.exists() else None
        then = time.time() + skew
        for path in [kdir, *kdir.iterdir()]:
            os.utime(path, (then, then))
        out["running"] = (await states(agent)).get(kdir.name, "not listed")
        killed = ssh_host.run_as_user(["pkill", "-9", "-u", ssh_host.user, "-f", "_jr_src"])
        assert killed.returncode == 0, "no launching agent found to kill"
        with pytest.raises(RemoteCommandError):
            await task
        out["killed"] = (await states(agent)).get(kdir.name, "not listed")
        out["reported"] = (await states(agent, report=True)).get(kdir.name, "not listed")
        return out

    with paused_launches(ssh_host):
        out = with_agent(go)
    assert out["running"] == "starting"
    assert out["killed"] == "dead" and out["reported"] == "dead"
    assert out["sockdir"] and not Path(out["sockdir"]).exists() and not kdir.exists()
    assert not out["unborn"]


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
