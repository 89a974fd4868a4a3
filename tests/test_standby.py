"""Standby kernels (issue 17, item 1): a profile with ``standby`` keeps one kernel ready.

A start of the profile takes it (it is the standby: its pid, its remote id in the
kernel's environment, started before the request), a new one replaces it inside the
Jupyter server, the idle timeout stops it, and nothing is left when the option is
switched off, the profile and its server are removed, or the Jupyter server stops. The
kernel handed out passes the same protocol checks as a cold-started one (tests of
tests/test_kernels.py run here on a taken standby), and another user of the host
reaches none of the standby's sockets or files.

Own remote user: ``jrstandby`` (the other user trying its sockets: ``jrattacker``).
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

from jupyter_remote.errors import ValidationError
from jupyter_remote.kernels.agent_client import AgentClient
from jupyter_remote.kernels.launch_request import fingerprint
from jupyter_remote.kernels.standby import Standbys
from jupyter_remote.manager import RemoteManager
from jupyter_remote.remote.protocol import CLAIM, encode_record, json_part
from jupyter_remote.sessions import registry
from jupyter_remote.store import Profile, Store
from tests.harness.cli import add_box, run_cli
from tests.harness.clients import WSKernel, started_kernel
from tests.harness.fixtures import own_user_host
from tests.harness.live_server import live_server
from tests.harness.remote_state import (
    STATE_DIR,
    clean_remote,
    kernels_dir,
    no_kernel_processes_left,
    remote_kernel_processes,
    remote_state_files,
    standby_ids,
)
from tests.harness.servers import server_input, setup_profile
from tests.harness.sshd_host import SSHTestHost
from tests.harness.waiting import eventually, eventually_async

# the protocol checks of a cold-started kernel, run here on a taken standby (the
# fixtures `remote_profile` and `kernel` below give them one)
from tests.test_kernels import (  # noqa: F401
    test_degraded_when_the_kernel_stops_answering,
    test_forked_children_print_through_the_private_pipe,
    test_interrupt_restart_shutdown_leave_nothing,
    test_no_key_on_command_lines_and_private_files,
    test_runs_remotely_as_the_user_in_the_env,
    test_sigkill_is_reported_dead_and_restart_works,
)
from tests.test_shared_host import assert_nothing_reached, attack, python_as
from tests.test_standby_guards import with_agent
from tests.test_standby_take import execs

USER = "jrstandby"


@pytest.fixture(scope="module")
def ssh_host() -> Iterator[SSHTestHost]:
    yield from own_user_host("standby", USER)


@pytest.fixture
def remote_profile(isolated_home: Path, ssh_host: SSHTestHost) -> Iterator[dict[str, Any]]:
    """Profile p with the option on, saved as the CLI saves it (its standby started)."""
    clean_remote(ssh_host)
    yield setup_profile(
        ssh_host, cwd="/tmp", env={"JR_TEST": "it's $(not) expanded; `ok`"}, standby=True
    )
    clean_remote(ssh_host)


@pytest.fixture
def kernel(
    remote_profile: dict[str, Any], ssh_host: SSHTestHost
) -> Iterator[tuple[KernelManager, BlockingKernelClient]]:
    """A kernel of profile p started by jupyter_client: the standby, taken."""
    ready = standby_ids(ssh_host)
    assert len(ready) == 1, ready
    with started_kernel(remote_profile["kernel_name"]) as (km, kc):
        session = registry.sessions[str(km.kernel_id)]
        assert session.remote_id == ready[0] != km.kernel_id
        assert session.to_json()["remote_kernel_id"] == ready[0]
        assert standby_ids(ssh_host) == []  # taken: no longer anybody's standby
        claimed = ssh_host.home / STATE_DIR / "kernels" / ready[0] / "claimed"
        assert not claimed.exists()  # attached: the relay's first client removed the record
        yield km, kc


# ------------------------------------------------------------ the option itself


def test_the_option_is_a_boolean_and_not_for_slurm_profiles() -> None:
    base = {"name": "p", "server": "box", "python": "/usr/bin/python3"}
    assert Profile.from_input(base).standby is False
    assert Profile.from_input({**base, "standby": True}).standby is True
    for bad in ("yes", 1, None, [], {}):
        with pytest.raises(ValidationError) as caught:
            Profile.from_input({**base, "standby": bad})
        assert caught.value.field == "standby"
    slurm = {"partition": "main", "time": "1:00:00"}
    with pytest.raises(ValidationError) as caught:
        Profile.from_input({**base, "standby": True, "slurm": slurm})
    assert caught.value.field == "standby" and "Slurm" in caught.value.message


# ------------------------------------------------------------ through the Jupyter server


async def _standby(jp_fetch: Any) -> dict[str, Any]:
    return dict(json.loads((await jp_fetch("remote", "profiles", "p", "standby")).body))


async def _ready(jp_fetch: Any, other_than: str | None = None) -> dict[str, Any]:
    """The profile's standby once one runs (not ``other_than``)."""
    found: dict[str, Any] = await eventually_async(
        lambda: _standby(jp_fetch),
        lambda s: s["state"] == "ready" and s["kernel_id"] != other_than,
        timeout=90,
        interval=0.5,
    )
    return found


async def _start(jp_fetch: Any, jp_ws_fetch: Any) -> tuple[str, WSKernel]:
    resp = await jp_fetch("api", "kernels", method="POST", body=json.dumps({"name": "remote-p"}))
    kid = json.loads(resp.body)["id"]
    return kid, WSKernel(await jp_ws_fetch("api", "kernels", kid, "channels"))


WHO = "import os; print(os.getpid(), os.environ['JUPYTER_REMOTE_KERNEL_ID'], os.getcwd())"


async def test_a_start_takes_the_standby_once_and_a_new_one_replaces_it(
    jp_fetch: Any, jp_ws_fetch: Any, ssh_host: SSHTestHost
) -> None:
    clean_remote(ssh_host)
    await asyncio.to_thread(setup_profile, ssh_host, cwd="/tmp")
    off = await _standby(jp_fetch)
    assert off["enabled"] is False and off["state"] == "none"

    patch = json.dumps({"standby": True})
    await jp_fetch("remote", "profiles", "p", method="PATCH", body=patch)
    first = await _ready(jp_fetch)
    assert first["enabled"] and first["current"]
    assert first["rss"] > 10 * 2**20, first  # a python with ipykernel loaded, and its relay
    # nobody's session yet: not listed, not a kernel of this server
    assert json.loads((await jp_fetch("remote", "sessions")).body) == []
    assert json.loads((await jp_fetch("api", "kernels")).body) == []
    asked = time.time()
    assert first["started"] < asked

    kid, ws = await _start(jp_fetch, jp_ws_fetch)
    reply, out = await ws.execute(WHO)
    assert reply["status"] == "ok", out
    pid, remote_id, cwd = out.split()
    # the standby: its process, and the id only its own start put in its environment
    assert (int(pid), remote_id, cwd) == (first["pid"], first["kernel_id"], "/tmp")
    assert remote_id != kid
    sessions = json.loads((await jp_fetch("remote", "sessions")).body)
    assert [s["id"] for s in sessions] == [kid]
    assert sessions[0]["remote_kernel_id"] == first["kernel_id"]
    assert sessions[0]["state"] == "running" and sessions[0]["relayed"] is True

    # replaced in the background; taken once: the next start gets the new one
    second = await _ready(jp_fetch, other_than=first["kernel_id"])
    kid2, ws2 = await _start(jp_fetch, jp_ws_fetch)
    reply, out = await ws2.execute(WHO)
    assert reply["status"] == "ok", out
    assert out.split()[:2] == [str(second["pid"]), second["kernel_id"]]
    reply, out = await ws.execute("print(6 * 7)")  # the first is untouched
    assert out.strip() == "42"

    for k in (kid, kid2):
        await jp_fetch("api", "kernels", k, method="DELETE")
    third = await _ready(jp_fetch, other_than=second["kernel_id"])
    assert third["kernel_id"] != first["kernel_id"]
    assert standby_ids(ssh_host) == [third["kernel_id"]]  # one standby, never more

    # the option switched off: the standby goes, nothing is left on the remote
    patch = json.dumps({"standby": False})
    await jp_fetch("remote", "profiles", "p", method="PATCH", body=patch)
    await eventually_async(
        lambda: remote_kernel_processes(ssh_host), lambda left: not left, timeout=15, interval=0.2
    )
    assert remote_state_files(ssh_host) == []
    assert (await _standby(jp_fetch))["state"] == "none"


async def test_the_process_that_launched_the_standby_takes_it_with_no_claim_exec(
    jp_fetch: Any, jp_ws_fetch: Any, ssh_host: SSHTestHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 17 item 1: the Jupyter server launched the standby, so a start there takes it
    through the standby's own relay, with no agent ``claim`` exec (a remote Python start);
    the kernel handed out then runs as a cold-started one."""
    clean_remote(ssh_host)
    await asyncio.to_thread(setup_profile, ssh_host, cwd="/tmp")
    await jp_fetch("remote", "profiles", "p", method="PATCH", body=json.dumps({"standby": True}))
    first = await _ready(jp_fetch)
    # the keeper (the server's, in the background) has the launch's answer: not a race
    keepers = [k for k in list(Standbys._instances.values()) if k.background]
    await eventually_async(
        lambda: _standby(jp_fetch), lambda _: any(k._launched.get("p") for k in keepers)
    )
    ops: list[str] = []
    real_call = AgentClient.call

    async def recorded(self: AgentClient, request: dict[str, Any], **kw: Any) -> dict[str, Any]:
        ops.append(str(request.get("op")))
        return await real_call(self, request, **kw)

    monkeypatch.setattr(AgentClient, "call", recorded)
    kid, ws = await _start(jp_fetch, jp_ws_fetch)
    reply, out = await ws.execute(WHO)
    assert reply["status"] == "ok", out
    assert out.split() == [str(first["pid"]), first["kernel_id"], "/tmp"]  # the standby
    assert "claim" not in ops, ops
    reply, out = await ws.execute("print(6 * 7)")
    assert reply["status"] == "ok" and out.strip() == "42"
    await jp_fetch("api", "kernels", kid, method="DELETE")
    patch = json.dumps({"standby": False})
    await jp_fetch("remote", "profiles", "p", method="PATCH", body=patch)
    await eventually_async(
        lambda: remote_kernel_processes(ssh_host), lambda left: not left, timeout=15, interval=0.2
    )
    assert remote_state_files(ssh_host) == []


async def test_nothing_left_when_the_profile_and_its_server_are_removed(
    jp_fetch: Any, ssh_host: SSHTestHost
) -> None:
    clean_remote(ssh_host)
    await asyncio.to_thread(setup_profile, ssh_host, cwd="/tmp")
    patch = json.dumps({"standby": True})
    await jp_fetch("remote", "profiles", "p", method="PATCH", body=patch)
    ready = await _ready(jp_fetch)
    # attaching it by hand is refused: only a start of its profile takes it
    with pytest.raises(Exception, match="409"):
        await jp_fetch(
            "remote",
            "servers",
            "box",
            "kernels",
            ready["kernel_id"],
            "attach",
            method="POST",
            body="",
        )
    listed = json.loads((await jp_fetch("remote", "servers", "box", "kernels")).body)
    assert [(k["kernel_id"], k["standby"]) for k in listed] == [(ready["kernel_id"], True)]

    await jp_fetch("remote", "profiles", "p", method="DELETE")
    assert remote_kernel_processes(ssh_host) == []  # stopped before the answer
    assert remote_state_files(ssh_host) == []
    resp = await jp_fetch("remote", "servers", "box", method="DELETE")
    assert resp.code == 204
    assert remote_kernel_processes(ssh_host) == []


def one_standby_ready_then_stop(server: Any, host: SSHTestHost) -> None:
    """Wait until the live server says profile p's standby is ready (one, on the host),
    then stop that server."""
    eventually(
        lambda: server.json("GET", "/remote/profiles/p/standby"),
        lambda s: s["state"] == "ready",
        timeout=90,
        interval=0.5,
    )
    assert len(standby_ids(host)) == 1
    server.stop()


def test_nothing_left_when_the_jupyter_server_stops_and_a_new_one_starts_one(
    tmp_path: Path, ssh_host: SSHTestHost
) -> None:
    clean_remote(ssh_host)
    with live_server(tmp_path) as server:
        server.json("POST", "/remote/servers", server_input(ssh_host), expect=201)
        trust = {"server": "box", "fingerprint": ssh_host.host_key_fingerprint}
        server.json("POST", "/remote/hostkeys", trust, expect=201)
        profile = {"name": "p", "server": "box", "python": ssh_host.remote_python}
        server.json("POST", "/remote/profiles", {**profile, "standby": True}, expect=201)
        one_standby_ready_then_stop(server, ssh_host)
        assert remote_kernel_processes(ssh_host) == []
        assert remote_state_files(ssh_host) == []
        # started again: the profile's standby is started with it, nobody asking
        server.start()
        one_standby_ready_then_stop(server, ssh_host)
    assert remote_kernel_processes(ssh_host) == []
    assert remote_state_files(ssh_host) == []


# ------------------------------------------------------------ as the CLI saves it


def test_the_idle_timeout_stops_the_standby(isolated_home: Path, ssh_host: SSHTestHost) -> None:
    clean_remote(ssh_host)
    setup_profile(ssh_host, cwd="/tmp", idle_timeout=5, standby=True)
    assert len(standby_ids(ssh_host)) == 1  # saving the profile started it
    no_kernel_processes_left(ssh_host, timeout=40, interval=0.5)
    assert remote_state_files(ssh_host) == []


def test_another_user_reaches_nothing_of_a_standby(
    remote_profile: dict[str, Any], ssh_host: SSHTestHost
) -> None:
    assert len(standby_ids(ssh_host)) == 1
    found, report = attack(ssh_host)
    assert_nothing_reached(found, report)
    assert not found["tcp"], found["tcp"]  # unix sockets in its private directory only


def test_the_cli_turns_it_on_shows_it_and_turns_it_off(
    cli_env: dict[str, str], ssh_host: SSHTestHost
) -> None:
    clean_remote(ssh_host)
    add_box(cli_env, ssh_host)
    assert run_cli(cli_env, "server", "test", "box", "--trust").returncode == 0
    python = ssh_host.remote_python
    added = run_cli(cli_env, "profile", "add", "p", "--server", "box", "--python", python,
                    "--cwd", "/tmp", "--standby")  # fmt: skip
    assert added.returncode == 0, added.stderr
    shown = run_cli(cli_env, "profile", "standby", "p", "--json")
    assert shown.returncode == 0, shown.stderr
    standby = json.loads(shown.stdout)
    assert standby["state"] == "ready" and standby["enabled"] is True
    assert [standby["kernel_id"]] == standby_ids(ssh_host) and standby["rss"] > 10 * 2**20
    text = run_cli(cli_env, "profile", "standby", "p").stdout
    assert f"Standby kernel {standby['kernel_id']}: ready, pid {standby['pid']}" in text
    assert "MiB on the remote" in text
    listed = run_cli(cli_env, "kernel", "list", "box").stdout
    assert "running (standby)" in listed
    assert run_cli(cli_env, "profile", "list", "--json").returncode == 0
    off = run_cli(cli_env, "profile", "edit", "p", "--no-standby")
    assert off.returncode == 0, off.stderr
    assert remote_kernel_processes(ssh_host) == []
    assert remote_state_files(ssh_host) == []
    slurm = run_cli(cli_env, "profile", "edit", "p", "--standby", "--partition", "main")
    assert slurm.returncode == 2 and "standby" in slurm.stderr


#: as a user of the remote host: send argv[2] (hex) to 127.0.0.1:argv[1]; what came back
#: before the relay closed (hex), or "reset" when it cut the connection
_SEND_ONE = """
import json, socket, sys
got = b""
try:  # a reset can come as early as the connect's own return
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=40)
    s.sendall(bytes.fromhex(sys.argv[2]))
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        got += chunk
except (ConnectionResetError, BrokenPipeError):
    got = None
print(json.dumps("reset" if got is None else got.hex()))
"""


def _claim_as(user: str, port: int, record: bytes) -> str:
    """``record`` sent to the relay's ``port`` as ``user``: its answer (hex) or "reset"."""
    return str(python_as(user, ["-c", _SEND_ONE, str(port), record.hex()], timeout=60))


def test_a_tcp_relay_refuses_a_claim_without_its_token_and_changes_nothing(
    remote_profile: dict[str, Any], ssh_host: SSHTestHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A standby's relay on a TCP port of 127.0.0.1 (the "tcp" channel transport), which
    every user of the host can reach: another user's connection is cut as it is accepted
    (review s22 F3); the relay's own user's CLAIM without the relay token, or with a wrong
    one, is closed unanswered; both leave the standby as it was. Its keeper's, with the
    token (over SSH), takes it with no exec."""
    seen = execs(monkeypatch)

    async def go(agent: AgentClient, manager: RemoteManager) -> tuple[Any, ...]:
        await manager.update_server("box", {"channel_transport": "tcp"})
        keeper, profile = Standbys.of(manager), Store().get_profile("p")
        await keeper.stop("p", "box")
        await keeper.ensure(profile)  # launched on TCP, with a relay token
        [standby] = standby_ids(ssh_host)
        port = json.loads((kernels_dir(ssh_host) / standby / "relay.json").read_text())["port"]
        claim = {"profile": "p", "server": "box", "fingerprint": fingerprint(profile)}
        answers = []
        for token in ({}, {"token": "wrong"}, {"token": ""}, {"token": ["x"]}):
            record = encode_record(CLAIM, 0, 0, [json_part({**claim, **token})])
            answers.append(await asyncio.to_thread(_claim_as, ssh_host.user, port, record))
        answers.append(await asyncio.to_thread(_claim_as, "root", port, record))
        left = (standby_ids(ssh_host), sorted(p.name for p in kernels_dir(ssh_host).iterdir()))
        seen.clear()
        taken = await keeper.take(profile, "/tmp", agent=agent)
        return standby, port, answers, left, taken, len(seen)

    standby, port, answers, left, taken, execs_seen = with_agent(go)
    assert answers == ["", "", "", "", "reset"]  # closed unanswered: nothing learnt
    assert left == ([standby], [standby])  # still the standby, nothing claimed
    assert taken is not None and taken["kernel_id"] == standby and taken["relay_port"] == port
    assert execs_seen == 0
