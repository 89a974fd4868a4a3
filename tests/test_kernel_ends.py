"""How remote kernels end, and what is said and left behind (issue 13 items 1, 2, 6).

Against a real sshd and real ipykernels, as the remote user ``jrfirst`` (this group's
own): a restart never makes the session look degraded; a kernel that ends by a shutdown
request leaves nothing on the remote; a crashed one is reported once with its reason,
then forgotten (or after ENDED_KEPT); a kernel stopped from the sidebar, from outside
this server or by its idle timeout while the link was down says so.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jupyter_client import KernelManager
from jupyter_client.blocking import BlockingKernelClient

from jupyter_remote.kernels.agent_client import AgentClient
from jupyter_remote.manager import RemoteManager
from jupyter_remote.remote.state import ENDED_KEPT
from jupyter_remote.sessions import registry
from jupyter_remote.sessions.kernel import STOPPED_ELSEWHERE
from jupyter_remote.store import Store
from jupyter_remote.web.sessions import SIDEBAR_STOP
from tests.harness.clients import execute, started_kernel
from tests.harness.remote_state import (
    STATE_DIR,
    clean_remote,
    no_kernel_processes_left,
    remote_kernel_processes,
    remote_state_files,
)
from tests.harness.servers import setup_profile
from tests.harness.sshd_host import SSHTestHost
from tests.harness.waiting import eventually, eventually_async

#: This group's remote user (README, Development) is ``jrfirst``: the harness's
#: ``first_host`` (tests/harness/fixtures.py).


@pytest.fixture
def profile(isolated_home: Path, first_host: SSHTestHost) -> Iterator[dict[str, Any]]:
    clean_remote(first_host)
    yield setup_profile(first_host, cwd="/tmp")
    clean_remote(first_host)


@pytest.fixture
def fast_health() -> Iterator[None]:
    """Health checks every 0.2 s instead of 10 s: a false Degraded cannot slip between two.
    A slow agent round trip is not what these tests look at (a busy CI machine makes one
    now and then), so its floor is out of reach here."""
    policy = registry.reconnect
    saved = policy.health_interval, policy.slow_floor_ms
    policy.health_interval, policy.slow_floor_ms = 0.2, 60_000.0
    yield
    policy.health_interval, policy.slow_floor_ms = saved


def states_of(events: list[dict[str, Any]], kernel_id: str) -> list[str]:
    return [
        e["session"]["state"]
        for e in events
        if e["type"] == "session" and e["session"]["id"] == kernel_id
    ]


def notices_of(events: list[dict[str, Any]], kernel_id: str) -> list[str]:
    return [e["message"] for e in events if e["type"] == "notice" and e["kernel_id"] == kernel_id]


def remote_kernels(report: bool = True) -> list[dict[str, Any]]:
    """The agent's listing of server `box` (``report``: as `kernel list` asks it)."""

    async def go() -> list[dict[str, Any]]:
        manager = RemoteManager(Store())
        try:
            endpoint = await manager.endpoint("box")
            async with manager.pool.connection(endpoint) as conn:
                return await AgentClient(conn).list(report=report)
        finally:
            await manager.close()

    return asyncio.run(go())


def kernel_pid(kc: BlockingKernelClient) -> int:
    return int(execute(kc, "import os; print(os.getpid())")[1])


def stop_from_outside(kernel_id: str) -> None:
    """`jupyter remote kernel stop` (or another server's sidebar): a manager of its own."""

    async def stop() -> None:
        manager = RemoteManager(Store())
        try:
            await manager.stop_remote_kernel("box", kernel_id)
        finally:
            await manager.close()

    asyncio.run(stop())


def leave_running(km: KernelManager) -> None:
    """This process lets go of the kernel (as a Jupyter server that went away would):
    the kernel runs on, with nobody polling it."""
    session = km.provisioner._session  # type: ignore[union-attr]
    assert session is not None
    from jupyter_remote import runtime

    assert runtime._loop is not None
    asyncio.run_coroutine_threadsafe(session.close(), runtime._loop).result(10)
    km.provisioner._session = None  # type: ignore[union-attr]
    km.provisioner._launched = False  # type: ignore[union-attr]


# ------------------------------------------------------------------ item 1


def test_restarts_never_show_degraded(
    profile: dict[str, Any], events: list[dict[str, Any]], fast_health: None
) -> None:
    """The old kernel's relay goes away during a restart: that is no health problem."""
    with started_kernel(profile["kernel_name"]) as (km, kc):
        kid = str(km.kernel_id)
        execute(kc, "x = 1")
        for now in (False, False, True):
            km.restart_kernel(now=now)
            kc.wait_for_ready(timeout=60)
            time.sleep(1)  # several health checks of the new kernel
            assert execute(kc, "print(6 * 7)")[1].strip() == "42"
            assert registry.sessions[kid].state == "running"
    states = states_of(events, kid)
    assert "running" in states
    why = [e["session"].get("reason") for e in events if e["type"] == "session"]
    assert "degraded" not in states, (states, why)
    assert notices_of(events, kid) == []  # a restart is no end to report


# ------------------------------------------------------------------ item 2


def test_a_clients_shutdown_request_leaves_nothing(
    profile: dict[str, Any], first_host: SSHTestHost, events: list[dict[str, Any]]
) -> None:
    """`exit` in `jupyter console`: the client's shutdown_request, obeyed (exit 0)."""
    with started_kernel(profile["kernel_name"]) as (km, kc):
        kid = str(km.kernel_id)
        execute(kc, "x = 1")
        kc.shutdown()  # a shutdown_request on the control channel, as the console sends
        eventually(km.is_alive, lambda alive: not alive, timeout=30, interval=0.2)
        assert km.provisioner.exit_reason == "ended on request"  # type: ignore[union-attr]
        assert remote_state_files(first_host) == []
        assert remote_kernel_processes(first_host) == []
        assert remote_kernels() == []
    assert notices_of(events, kid) == []


def test_a_crash_is_reported_once_to_its_kernel_manager_then_forgotten(
    profile: dict[str, Any], first_host: SSHTestHost, events: list[dict[str, Any]]
) -> None:
    with started_kernel(profile["kernel_name"]) as (km, kc):
        kid = str(km.kernel_id)
        first_host.run_as_user(["kill", "-9", str(kernel_pid(kc))])
        eventually(km.is_alive, lambda alive: not alive, timeout=30, interval=0.2)
        reason = km.provisioner.exit_reason  # type: ignore[union-attr]
        assert "SIGKILL" in reason
        assert notices_of(events, kid) == [f"The kernel ended on the remote: {reason}."]
        # reported: nothing is left on the remote, and the answer stays the same
        assert remote_state_files(first_host) == []
        assert remote_kernel_processes(first_host) == []
        assert not km.is_alive() and km.provisioner.exit_reason == reason  # type: ignore[union-attr]
        assert len(notices_of(events, kid)) == 1


def test_a_crash_nobody_polls_is_listed_once_then_gone(
    profile: dict[str, Any], first_host: SSHTestHost
) -> None:
    with started_kernel(profile["kernel_name"]) as (km, kc):
        kid = str(km.kernel_id)
        pid = kernel_pid(kc)
        kc.stop_channels()
        leave_running(km)
    first_host.run_as_user(["kill", "-9", str(pid)])
    # the kernel's record waits for its report...
    eventually(
        lambda: [k["state"] for k in remote_kernels(report=False)],
        lambda states: states == ["dead"],
        timeout=15,
        interval=0.3,
    )
    # ...`kernel list` says it once, with its reason, and it is gone
    listed = remote_kernels()
    assert [(k["kernel_id"], k["state"]) for k in listed] == [(kid, "dead")]
    assert "SIGKILL" in listed[0]["reason"]
    assert remote_kernels() == []
    assert remote_state_files(first_host) == []
    assert remote_kernel_processes(first_host) == []


def test_an_unreported_crash_is_forgotten_after_ended_kept(
    profile: dict[str, Any], first_host: SSHTestHost
) -> None:
    """The bound: a record older than ENDED_KEPT goes at the next list or launch, reported
    or not; a younger one stays until reported."""
    kids = []
    for _ in range(2):
        with started_kernel(profile["kernel_name"]) as (km, kc):
            kids.append(str(km.kernel_id))
            pid = kernel_pid(kc)
            kc.stop_channels()
            leave_running(km)
        first_host.run_as_user(["kill", "-9", str(pid)])
    kernels = first_host.home / STATE_DIR / "kernels"
    eventually(
        lambda: sorted(p.parent.name for p in kernels.glob("*/ended.json")),
        lambda ended: ended == sorted(kids),
        timeout=15,
        interval=0.3,
    )
    old = kernels / kids[0] / "ended.json"
    record = json.loads(old.read_text())
    record["ended"] -= ENDED_KEPT + 60
    old.write_text(json.dumps(record))  # as root: owner and mode stay the user's
    assert [k["kernel_id"] for k in remote_kernels(report=False)] == [kids[1]]
    assert not (kernels / kids[0]).exists()
    assert (kernels / kids[1] / "ended.json").exists()


# ------------------------------------------------------------------ item 6: saying why


def test_stopped_from_outside_this_server_says_so(
    profile: dict[str, Any], first_host: SSHTestHost, events: list[dict[str, Any]]
) -> None:
    """`jupyter remote kernel stop` (or another server's sidebar) while we are attached."""
    with started_kernel(profile["kernel_name"]) as (km, kc):
        kid = str(km.kernel_id)
        execute(kc, "x = 1")
        stop_from_outside(kid)
        eventually(km.is_alive, lambda alive: not alive, timeout=30, interval=0.2)
        assert km.provisioner.exit_reason == STOPPED_ELSEWHERE  # type: ignore[union-attr]
        assert notices_of(events, kid) == [f"The kernel ended on the remote: {STOPPED_ELSEWHERE}."]
    assert remote_state_files(first_host) == []


def test_an_idle_timeout_while_away_says_so(
    isolated_home: Path, first_host: SSHTestHost, events: list[dict[str, Any]]
) -> None:
    """Idle timeout 3 s; the link is down for longer: the kernel stops itself remotely,
    and once the link is back the notebook learns that its idle timeout stopped it."""
    clean_remote(first_host)
    profile = setup_profile(first_host, cwd="/tmp", idle_timeout=3)
    with started_kernel(profile["kernel_name"]) as (km, kc):
        kid = str(km.kernel_id)
        execute(kc, "x = 1")
        with first_host.outage():
            no_kernel_processes_left(first_host, timeout=30, interval=0.5)
        eventually(km.is_alive, lambda alive: not alive, timeout=60, interval=0.3)
        reason = km.provisioner.exit_reason  # type: ignore[union-attr]
        assert reason.startswith("stopped by its idle timeout (3s with no client)"), reason
        assert notices_of(events, kid) == [f"The kernel ended on the remote: {reason}."]
    assert remote_state_files(first_host) == []


async def test_stop_from_the_sidebar_says_so(
    jp_fetch: Any, jp_ws_fetch: Any, first_host: SSHTestHost
) -> None:
    """DELETE /remote/sessions/ID (the card's Stop): the stopped event carries the reason
    the notebook shows."""
    clean_remote(first_host)
    await asyncio.to_thread(setup_profile, first_host, cwd="/tmp")
    events_ws = await jp_ws_fetch("remote", "events")
    json.loads(await events_ws.read_message())  # hello
    resp = await jp_fetch("api", "kernels", method="POST", body=json.dumps({"name": "remote-p"}))
    kid = json.loads(resp.body)["id"]
    await jp_fetch("remote", "sessions", kid, method="DELETE")
    stopped: list[dict[str, Any]] = []

    async def next_stopped() -> list[dict[str, Any]]:
        event = json.loads(await asyncio.wait_for(events_ws.read_message(), 30))
        if event["type"] == "session" and event["session"]["state"] == "stopped":
            stopped.append(event["session"])
        return stopped

    await eventually_async(next_stopped, lambda found: bool(found), timeout=60, interval=0)
    assert stopped[0]["id"] == kid and stopped[0]["reason"] == SIDEBAR_STOP
    assert remote_state_files(first_host) == []


# ------------------------------------------------------------------ review s20 F6

#: as the remote user: rewrite pid files as an older agent wrote them (the pid alone),
#: dated 10 s before their process started, as a +10 s step of the wall clock after the
#: start makes them look (/proc/stat's btime moves with the clock; the file's time not)
OLD_PID_FILES = r"""
import os, sys
hz = os.sysconf("SC_CLK_TCK")
boot = [int(line.split()[1]) for line in open("/proc/stat") if line.startswith("btime ")][0]
for path in sys.argv[1:]:
    pid = int(open(path).read().split()[0])
    ticks = int(open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()[19])
    when = boot + ticks / hz - 10
    with open(path + ".t", "w") as f:
        f.write(str(pid))
    os.utime(path + ".t", (when, when))
    os.replace(path + ".t", path)
"""


def test_a_clock_step_never_makes_an_older_agents_kernel_look_dead(
    profile: dict[str, Any], first_host: SSHTestHost
) -> None:
    """A kernel still running from before the upgrade (pid files without identity) after
    a forward step of the clock: listed running, its files kept, and stopping it stops
    it (before: "dead", its directory removed while it ran, Stop signalled nothing)."""
    with started_kernel(profile["kernel_name"]) as (km, kc):
        kid = str(km.kernel_id)
        kdir = first_host.home / STATE_DIR / "kernels" / kid
        pid = kernel_pid(kc)
        pid_files = [str(kdir / "kernel.pid"), str(kdir / "supervisor.pid")]
        done = first_host.run_as_user([first_host.remote_python, "-c", OLD_PID_FILES, *pid_files])
        assert done.returncode == 0, done.stderr
        assert (kdir / "kernel.pid").read_text() == str(pid)

        listed = {k["kernel_id"]: k for k in remote_kernels(report=True)}
        assert listed[kid]["state"] == "running", listed[kid]
        assert listed[kid]["pid"] == pid
        assert (kdir / "connection.json").exists()
        assert execute(kc, "print(1 + 1)")[1].strip() == "2"
        stop_from_outside(kid)
        eventually(km.is_alive, lambda alive: not alive, timeout=30, interval=0.2)
    eventually(lambda: remote_kernel_processes(first_host), lambda left: left == [], timeout=10)
    assert remote_state_files(first_host) == []
