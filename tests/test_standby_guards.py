"""Standby kernels (issue 17) under failure and attack (review s19, F5, F6, F8, F9).

- F5: a claim answer that is not as our agent sends it (a hostile remote) is a clear
  error, never used, and the kernel it took is stopped.
- F6: the keeper stopping a standby never stops a kernel a start has just taken (the
  agent's ``discard`` renames the mark first; a take after it starts cold).
- F8: a taken standby is never orphaned: a start that fails after the take stops it,
  and one taken but never attached is stopped by the agent once CLAIM_GRACE has passed.
- F9: a pid in a kernel's directory that now names another process of the user (the
  remote rebooted, the pid was reused) is never signalled: the kernel counts as gone.

Own remote user: ``jrstandby`` (as tests/test_standby.py; tests run one at a time).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from jupyter_client import KernelManager

from jupyter_remote.errors import RemoteCommandError
from jupyter_remote.kernels import provisioner
from jupyter_remote.kernels.agent_client import AgentClient
from jupyter_remote.kernels.launch_request import fingerprint
from jupyter_remote.kernels.standby import Standbys
from jupyter_remote.manager import RemoteManager
from jupyter_remote.remote.standby import CLAIM_GRACE
from jupyter_remote.store import Store
from tests.harness.fixtures import own_user_host
from tests.harness.remote_state import (
    clean_remote,
    kernels_dir,
    remote_kernel_processes,
    remote_state_files,
    standby_ids,
)
from tests.harness.servers import setup_profile
from tests.harness.sshd_host import SSHTestHost
from tests.harness.waiting import eventually

USER = "jrstandby"


@pytest.fixture(scope="module")
def ssh_host() -> Iterator[SSHTestHost]:
    yield from own_user_host("standby", USER)


def with_agent(fn: Callable[[AgentClient, RemoteManager], Awaitable[Any]]) -> Any:
    """``fn(agent, manager)`` on a connection to server `box`, as the keeper has it."""

    async def go() -> Any:
        manager = RemoteManager(Store())
        try:
            endpoint = await manager.endpoint("box")
            async with manager.pool.connection(endpoint) as conn:
                return await fn(AgentClient(conn), manager)
        finally:
            await manager.close()

    return asyncio.run(go())


def claim_request() -> dict[str, Any]:
    profile = Store().get_profile("p")
    return {"op": "claim", "profile": "p", "server": "box", "fingerprint": fingerprint(profile)}


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"


# ------------------------------------------------------------ F5


BAD_ANSWERS = {
    "pid": {"pid": "1\n\x1b]0;forged\x07"},
    "key": {"key": "é" * 40},
    "signature_scheme": {"signature_scheme": "none"},
    "kernel_id": {"kernel_id": "k" * (1 << 20)},
}


@pytest.mark.parametrize("field", sorted(BAD_ANSWERS))
def test_a_bad_claim_answer_is_an_error_and_the_taken_kernel_goes(
    standby_profile: dict[str, Any],
    ssh_host: SSHTestHost,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    field: str,
) -> None:
    [taken] = standby_ids(ssh_host)
    real_call = AgentClient.call

    async def hostile(self: AgentClient, request: dict[str, Any], **kw: Any) -> dict[str, Any]:
        answer = await real_call(self, request, **kw)
        if request.get("op") == "claim" and answer.get("kernel_id"):
            answer.update(BAD_ANSWERS[field])  # the remote really took it, then lied
        return answer

    monkeypatch.setattr(AgentClient, "call", hostile)
    km = KernelManager(kernel_name=standby_profile["kernel_name"])
    with pytest.raises(RemoteCommandError) as caught:
        km.start_kernel()
    assert f"answered claim with an invalid {field}" in caught.value.message
    assert "\x1b" not in caplog.text and "forged" not in caplog.text
    assert "é" not in caplog.text and "k" * 100 not in caplog.text
    if field == "kernel_id":  # not nameable: the agent stops it once CLAIM_GRACE passed
        assert (kernels_dir(ssh_host) / taken / "claimed").exists()
        return
    assert remote_kernel_processes(ssh_host) == []  # the taken kernel was stopped
    assert remote_state_files(ssh_host) == []


# ------------------------------------------------------------ F6


def test_stopping_a_standby_never_stops_a_kernel_a_start_just_took(
    standby_profile: dict[str, Any], ssh_host: SSHTestHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    [standby] = standby_ids(ssh_host)
    taken: dict[str, Any] = {}
    listed = Standbys._standbys_of

    async def list_then_a_start_takes_it(
        self: Standbys, agent: AgentClient, profile: str, server: str
    ) -> list[dict[str, Any]]:
        found = await listed(self, agent, profile, server)
        taken.update(await agent.call(claim_request()))  # between the keeper's list and stop
        return found

    monkeypatch.setattr(Standbys, "_standbys_of", list_then_a_start_takes_it)

    async def stop(agent: AgentClient, manager: RemoteManager) -> int:
        return await Standbys.of(manager).stop("p", "box")

    assert with_agent(stop) == 1  # it saw one standby ...
    assert taken["kernel_id"] == standby
    assert alive(int(taken["pid"]))  # ... and left the kernel the start took running
    assert (kernels_dir(ssh_host) / standby / "kernel.pid").exists()


def test_a_take_after_a_discard_finds_nothing_and_starts_cold(
    standby_profile: dict[str, Any], ssh_host: SSHTestHost
) -> None:
    [standby] = standby_ids(ssh_host)

    async def discard_then_claim(agent: AgentClient, _: RemoteManager) -> tuple[Any, Any]:
        gone = await agent.call({"op": "discard", "kernel_id": standby, "timeout": 1.0})
        return gone, await agent.call(claim_request())

    gone, claim = with_agent(discard_then_claim)
    assert gone == {"stopped": True} and claim["kernel_id"] is None
    assert remote_kernel_processes(ssh_host) == []

    async def discard_taken(agent: AgentClient, manager: RemoteManager) -> tuple[Any, Any]:
        await Standbys.of(manager).ensure(Store().get_profile("p"))
        claim = await agent.call(claim_request())
        gone = await agent.call({"op": "discard", "kernel_id": claim["kernel_id"]})
        return claim, gone

    claim, gone = with_agent(discard_taken)
    assert gone["stopped"] is False and alive(int(claim["pid"]))


def test_a_standby_is_warm_only_once_its_kernel_has_answered(
    standby_profile: dict[str, Any], ssh_host: SSHTestHost
) -> None:
    """``warm`` (what the bench waits for before a timed take): the kernel answered its
    relay, which then scrubbed the key from its connection file. One whose file still
    holds the key, as while it boots, is ready (a start takes it: it boots ahead of a
    cold start) but not warm."""
    [standby] = standby_ids(ssh_host)
    conn_file = kernels_dir(ssh_host) / standby / "connection.json"

    async def status(_: AgentClient, manager: RemoteManager) -> Any:
        return await Standbys.of(manager).status(Store().get_profile("p"))

    eventually(lambda: with_agent(status), lambda s: s["warm"] is True, timeout=30, interval=0.2)
    conn = json.loads(conn_file.read_text())
    assert conn["key"] == ""
    conn_file.write_text(json.dumps({**conn, "key": "as-before-the-kernel-answered"}))
    shown = with_agent(status)
    assert shown["state"] == "ready" and shown["warm"] is False

    async def claim(agent: AgentClient, _: RemoteManager) -> Any:
        return await agent.call(claim_request())

    assert with_agent(claim)["kernel_id"] == standby


# ------------------------------------------------------------ F8


def test_a_start_that_fails_after_the_take_leaves_nothing(
    standby_profile: dict[str, Any], ssh_host: SSHTestHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert len(standby_ids(ssh_host)) == 1

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise OSError("no local port today")

    monkeypatch.setattr(provisioner, "local_connection", broken)
    km = KernelManager(kernel_name=standby_profile["kernel_name"])
    with pytest.raises(OSError, match="no local port today"):
        km.start_kernel()
    assert standby_ids(ssh_host) == []  # it was taken ...
    assert remote_kernel_processes(ssh_host) == []  # ... and stopped, not left running
    assert remote_state_files(ssh_host) == []


def test_a_taken_standby_nobody_attached_to_is_stopped_later(
    standby_profile: dict[str, Any], ssh_host: SSHTestHost
) -> None:
    async def claim(agent: AgentClient, _: RemoteManager) -> dict[str, Any]:
        return await agent.call(claim_request())

    taken = with_agent(claim)  # the taker then failed without a word (killed, cut off)
    claimed = kernels_dir(ssh_host) / taken["kernel_id"] / "claimed"
    assert claimed.exists() and alive(int(taken["pid"]))

    async def listing(agent: AgentClient, _: RemoteManager) -> list[dict[str, Any]]:
        return await agent.list()

    assert [k["kernel_id"] for k in with_agent(listing)] == [taken["kernel_id"]]  # in grace
    then = time.time() - CLAIM_GRACE - 5
    os.utime(claimed, (then, then))
    assert with_agent(listing) == []
    assert not alive(int(taken["pid"]))
    assert remote_kernel_processes(ssh_host) == [] and remote_state_files(ssh_host) == []


def test_a_taken_kernel_its_taker_works_in_is_never_swept(
    standby_profile: dict[str, Any], ssh_host: SSHTestHost
) -> None:
    """Review s20 F2: a relay of an older agent never removes ``claimed``; the sweep asks
    the relay, and a kernel with a client loses the mark, never its life."""
    [standby] = standby_ids(ssh_host)
    km = KernelManager(kernel_name=standby_profile["kernel_name"])
    km.start_kernel()
    try:
        kdir = kernels_dir(ssh_host) / standby
        claimed = kdir / "claimed"
        eventually(lambda: not claimed.exists(), what="the relay removes 'claimed' at attach")
        claimed.touch()  # what an older relay leaves, past its grace
        os.chown(claimed, kdir.stat().st_uid, kdir.stat().st_gid)
        then = time.time() - CLAIM_GRACE - 5
        os.utime(claimed, (then, then))

        async def listing(agent: AgentClient, _: RemoteManager) -> list[dict[str, Any]]:
            return await agent.list()

        assert standby in [k["kernel_id"] for k in with_agent(listing)]
        assert not claimed.exists()  # the mark went, the kernel stays
        client = km.client()
        client.start_channels()
        try:
            client.wait_for_ready(timeout=30)
            reply = client.execute_interactive("x = 6 * 7", timeout=30)
            assert reply["content"]["status"] == "ok"
        finally:
            client.stop_channels()
    finally:
        km.shutdown_kernel(now=True)


# ------------------------------------------------------------ F9


@pytest.mark.parametrize("written_by", ["this agent", "an older agent"])
def test_a_stale_pid_after_a_reboot_is_never_signalled(
    isolated_home: Path, ssh_host: SSHTestHost, written_by: str
) -> None:
    clean_remote(ssh_host)
    setup_profile(ssh_host, cwd="/tmp")
    # a process group leader of the user's, under the pid a kernel had before a reboot
    started = ssh_host.run_as_user(["sh", "-c", "setsid sleep 300 >/dev/null 2>&1 & echo $!"])
    victim = int(started.stdout.strip())
    try:
        eventually(lambda: Path(f"/proc/{victim}/cmdline").read_bytes().startswith(b"sleep"))
        assert os.getpgid(victim) == victim
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        kernel_id = str(uuid.uuid4())
        kdir = kernels_dir(ssh_host) / kernel_id
        # this agent records the process's start (not the sleep's); an older one wrote the
        # pid alone, an hour before the "reboot" (the file's time)
        pid_file = f"{victim} {boot} 1" if written_by == "this agent" else f"{victim}"
        files = {
            "kernel.pid": pid_file,
            "supervisor.pid": pid_file,
            "info.json": json.dumps({"profile": "p", "server": "box", "started": 1.0}),
            "relay.json": json.dumps({"path": "/nonexistent/relay"}),
            "standby": json.dumps(
                {"profile": "p", "server": "box", "fingerprint": claim_request()["fingerprint"]}
            ),
        }
        script = (
            "import json,os,sys,time\nd,files=sys.argv[1],json.loads(sys.argv[2])\n"
            "os.makedirs(d,mode=0o700)\n"
            "for n,t in files.items():\n    open(os.path.join(d,n),'w').write(t)\n"
            "    os.utime(os.path.join(d,n),(time.time()-3600,)*2)\n"
        )
        made = ssh_host.run_as_user([ssh_host.remote_python, "-c", script, str(kdir),
                                     json.dumps(files)])  # fmt: skip
        assert made.returncode == 0, made.stderr

        async def claim_list_stop(agent: AgentClient, _: RemoteManager) -> tuple[Any, ...]:
            claim = await agent.call(claim_request())
            listed = await agent.list()
            return claim, listed, await agent.stop(kernel_id, timeout=1.0)

        claim, listed, stopped = with_agent(claim_list_stop)
        assert claim["kernel_id"] is None  # not a running standby
        assert [(k["kernel_id"], k["state"]) for k in listed] == [(kernel_id, "dead")]
        assert stopped["stopped"] is True and not kdir.exists()
        assert alive(victim), "the user's process under the stale pid was signalled"
    finally:
        os.kill(victim, signal.SIGKILL)


# ------------------------------------------------------------ s21: the sweep's clock


@pytest.mark.parametrize("ours_off_by", [+3600.0, -3600.0])
def test_a_taken_standby_is_aged_by_the_clock_that_stamped_its_mark(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ours_off_by: float
) -> None:
    """Review s21: the sweep compared OUR clock with the mark's mtime, which the file
    server sets (an NFS home's clock may be an hour off the host's). Ours an hour ahead,
    a kernel taken a second ago was stopped under its taker; an hour behind, one never
    attached stayed two hours. The agent's own functions on a real directory, its clock
    (time.time) off by ``ours_off_by`` while the files keep the real one."""
    from jupyter_remote.remote import standby as remote_standby
    from jupyter_remote.remote import state as remote_state

    kernels = tmp_path / "kernels"
    fresh, stale = str(uuid.uuid4()), str(uuid.uuid4())
    for name in (fresh, stale):
        (kernels / name).mkdir(parents=True)
        (kernels / name / "claimed").write_text("")
    then = time.time() - CLAIM_GRACE - 5
    os.utime(kernels / stale / "claimed", (then, then))
    stopped: list[str] = []
    monkeypatch.setattr(remote_state, "KERNELS", str(kernels))
    monkeypatch.setattr(remote_standby, "KERNELS", str(kernels))
    monkeypatch.setattr(remote_standby, "_stop_dir", lambda kdir, _: stopped.append(kdir))
    real_time = time.time
    monkeypatch.setattr(remote_standby.time, "time", lambda: real_time() + ours_off_by)
    remote_standby.sweep_unattached()
    assert stopped == [str(kernels / stale)]  # the one past its grace, by the files' clock
    assert (kernels / fresh / "claimed").exists()
    assert sorted(os.listdir(kernels)) == sorted([fresh, stale])  # no clock file left
