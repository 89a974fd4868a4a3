"""Review s22 F1, as the attacker: another user of the host stands in for a kernel's relay
at the address it had, once the kernel ended (its idle timeout, a reboot, a /tmp cleaner:
here the agent's stop or its idle timeout while the link is down). Its socket directory
``/tmp/jr-…`` is gone then, and any user can make it again (or bind its TCP port).

``jrattacker`` runs tests/impostor_relay.py there: it answers a CLAIM "ok", a HELLO with
a well-formed greeting, and echoes heartbeats, but it has not the kernel's key, so it
cannot give the proof (``relay_proof``, remote/protocol.py) that the local side asks of
every CLAIM and HELLO answer. A start of the profile whose standby the Jupyter server
remembers (the keeper's take through its relay), on unix channels and on TCP ones, and a
session re-attaching after an outage must all see through it: no attach, nothing of the
notebook written to it, and the start falls back to the agent's claim or a cold start.

Own remote user: ``jrstandby`` (as tests/test_standby.py; tests run one at a time).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jupyter_remote.kernels.agent_client import AgentClient
from jupyter_remote.kernels.standby import Standbys
from jupyter_remote.manager import RemoteManager
from jupyter_remote.sessions import registry
from jupyter_remote.store import Store
from tests.harness.clients import execute, started_kernel
from tests.harness.fixtures import own_user_host
from tests.harness.remote_state import (
    clean_remote,
    no_kernel_processes_left,
    remote_kernel_processes,
    standby_ids,
)
from tests.harness.servers import setup_profile
from tests.harness.sshd_host import IS_ROOT, SSHTestHost, ensure_user
from tests.harness.waiting import eventually, eventually_async
from tests.test_standby import WHO, _ready, _standby, _start
from tests.test_standby_guards import with_agent
from tests.test_standby_take import execs

pytestmark = pytest.mark.skipif(not IS_ROOT, reason="needs two remote users (root)")

USER, ATTACKER = "jrstandby", "jrattacker"
SCRIPT = Path(__file__).with_name("impostor_relay.py")


@pytest.fixture(scope="module")
def ssh_host() -> Iterator[SSHTestHost]:
    ensure_user(ATTACKER)
    yield from own_user_host("standby", USER)


class Impostor:
    """tests/impostor_relay.py as ``jrattacker``, listening at ``where`` (a unix socket
    path or a TCP port); :meth:`seen` ends it and gives what it received."""

    def __init__(self, mode: str, where: str) -> None:
        self.mode, self.where = mode, where
        argv = ["runuser", "-u", ATTACKER, "--", "/usr/bin/python3", str(SCRIPT), mode, where]
        self.proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd="/tmp"
        )
        assert self.proc.stdout is not None
        first = self.proc.stdout.readline()
        assert json.loads(first or "null") == "ready", self.proc.stderr.read()  # type: ignore[union-attr]

    def seen(self) -> list[dict[str, Any]]:
        """Every record it received, in order (it is stopped, its directory removed)."""
        self.proc.terminate()
        out, _ = self.proc.communicate(timeout=30)
        if self.mode == "unix":
            shutil.rmtree(Path(self.where).parent, ignore_errors=True)
        return [json.loads(line) for line in out.splitlines() if line.strip()]


def kinds(records: list[dict[str, Any]]) -> list[str]:
    return [r["kind"] for r in records]


def _keeper_remembers() -> Any:
    """The Jupyter server's keeper's remembered standby of profile p (a Launched), or None."""
    for keeper in list(Standbys._instances.values()):
        if keeper.background and keeper._launched.get("p") is not None:
            return keeper._launched["p"]
    return None


async def _start_and_run(jp_fetch: Any, jp_ws_fetch: Any) -> tuple[str, str, str]:
    """A start of profile p, then who runs its cells (``WHO``) and a sum: (kernel id, who,
    sum), or what went wrong (the old code: the impostor had the kernel's channels, and no
    kernel_info or reply ever came)."""
    kid = ""
    try:
        kid, ws = await _start(jp_fetch, jp_ws_fetch)
        reply, who = await ws.execute(WHO, timeout=60)
        assert reply["status"] == "ok", who
        reply, out = await ws.execute("print(6 * 7)")
        return kid, who, out.strip()
    except Exception as exc:  # asserted after what the impostor saw
        return kid, repr(exc), ""


def _keeper_settled() -> bool:
    """The keeper remembers the standby and watches no start any more."""
    keepers = [k for k in list(Standbys._instances.values()) if k.background]
    return _keeper_remembers() is not None and not any(k._watches for k in keepers)


async def test_a_start_never_attaches_to_an_impostor_at_an_ended_standbys_socket(
    jp_fetch: Any, jp_ws_fetch: Any, ssh_host: SSHTestHost
) -> None:
    """The Jupyter server launched the standby and remembers its relay's socket path. The
    standby ends; the attacker re-makes its directory and listens there. The next start
    CLAIMs through that path (the keeper is not told of the end), gets "ok" without the
    proof, and so falls back to the agent's claim (none left) and a cold start: the
    impostor got the CLAIM (its nonce, nothing of the notebook) and not one HELLO or
    message, and the cell runs. On the old code the start attached to the impostor, and
    every cell went to it."""
    clean_remote(ssh_host)
    await asyncio.to_thread(setup_profile, ssh_host, cwd="/tmp")
    await jp_fetch("remote", "profiles", "p", method="PATCH", body=json.dumps({"standby": True}))
    first = await _ready(jp_fetch)
    # warm, and the keeper's watch of its start over: nothing asks the agent about it now
    await eventually_async(lambda: _standby(jp_fetch), lambda s: s.get("warm") is True)
    await eventually_async(lambda: _standby(jp_fetch), lambda _: _keeper_settled())
    kept = _keeper_remembers()
    path = str(kept.connection["relay"])
    assert kept.connection["kernel_id"] == first["kernel_id"] and path.startswith("/tmp/jr-")

    def stop(agent: AgentClient, _: RemoteManager) -> Any:
        return agent.stop(first["kernel_id"], timeout=1.0)

    await asyncio.to_thread(with_agent, stop)  # it ends: its directory goes with it
    await eventually_async(lambda: Path(path).parent.exists(), lambda there: not there)
    impostor = await asyncio.to_thread(Impostor, "unix", path)
    try:
        assert _keeper_remembers() is kept  # so the start CLAIMs through the impostor
        kid, who, answer = await _start_and_run(jp_fetch, jp_ws_fetch)
    finally:
        seen = await asyncio.to_thread(impostor.seen)
    assert kinds(seen) == ["CLAIM"], seen  # no HELLO, no message: never attached
    assert seen[0]["fields"] == ["fingerprint", "nonce", "profile", "server"]
    assert who.split()[0] != str(first["pid"]) and answer == "42"  # a cold start: it runs
    assert "key" not in repr(kept) and kept.connection["key"] not in repr(kept)  # minor note
    await jp_fetch("api", "kernels", kid, method="DELETE")
    await jp_fetch("remote", "profiles", "p", method="PATCH", body=json.dumps({"standby": False}))
    await eventually_async(
        lambda: remote_kernel_processes(ssh_host), lambda left: not left, timeout=15, interval=0.2
    )


@pytest.fixture
def standby_profile(isolated_home: Path, ssh_host: SSHTestHost) -> Iterator[dict[str, Any]]:
    """Profile p with the option on, its standby running (saved as the CLI saves it)."""
    clean_remote(ssh_host)
    yield setup_profile(ssh_host, cwd="/tmp", standby=True)
    clean_remote(ssh_host)


def test_the_keepers_take_never_trusts_an_impostor_at_an_ended_standbys_port(
    standby_profile: dict[str, Any], ssh_host: SSHTestHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same over the "tcp" channel transport: the attacker binds the ended standby's
    port on 127.0.0.1 and answers the keeper's CLAIM "ok" (he learns the ended kernel's
    relay token, which opens nothing now). Without the proof the take is the agent's
    claim (one exec), which finds no standby: a cold start follows."""
    seen_execs = execs(monkeypatch)

    async def go(agent: AgentClient, manager: RemoteManager) -> tuple[Any, ...]:
        await manager.update_server("box", {"channel_transport": "tcp"})
        keeper, profile = Standbys.of(manager), Store().get_profile("p")
        await keeper.stop("p", "box")
        await keeper.ensure(profile)  # launched on TCP: remembered with its port
        [standby] = standby_ids(ssh_host)
        port = int(keeper._launched["p"].connection["relay_port"])  # type: ignore[union-attr]
        await agent.stop(standby, timeout=1.0)
        impostor = await asyncio.to_thread(Impostor, "tcp", str(port))
        try:
            seen_execs.clear()
            taken = await keeper.take(profile, "/tmp", agent=agent)
            n_execs = len(seen_execs)
        finally:
            seen = await asyncio.to_thread(impostor.seen)
        return taken, n_execs, seen

    taken, n_execs, seen = with_agent(go)
    assert taken is None and n_execs == 1  # the agent's claim: none left, a cold start next
    assert kinds(seen) == ["CLAIM"], seen
    assert "nonce" in seen[0]["fields"]


def test_a_reattach_never_attaches_to_an_impostor_at_the_ended_kernels_socket(
    isolated_home: Path, ssh_host: SSHTestHost
) -> None:
    """The laptop case: the link is down, the kernel's idle timeout ends it and its
    directory goes; the attacker re-makes it and listens there. When the link is back the
    session's HELLO gets a greeting without the proof: it never attaches, writes nothing
    more (no request, no heartbeat), and the session ends as a kernel stopped while away.
    What the impostor got is that one HELLO, with nothing in it but the resume numbers
    and the nonce. On the old code the session attached to it and ran on "running"."""
    clean_remote(ssh_host)
    profile = setup_profile(ssh_host, cwd="/tmp", idle_timeout=3)
    with started_kernel(profile["kernel_name"]) as (km, kc):
        execute(kc, "x = 1")
        session = registry.sessions[str(km.kernel_id)]
        path = str(session.relay_path)
        assert path.startswith("/tmp/jr-")
        impostor = None
        try:
            with ssh_host.outage():
                no_kernel_processes_left(ssh_host, timeout=30, interval=0.5)
                eventually(lambda: Path(path).parent.exists(), lambda there: not there)
                impostor = Impostor("unix", path)
            eventually(km.is_alive, lambda alive: not alive, timeout=90, interval=0.3)
            reason = km.provisioner.exit_reason  # type: ignore[union-attr]
            assert reason.startswith("stopped by its idle timeout"), reason
        finally:
            seen = impostor.seen() if impostor is not None else []
    assert set(kinds(seen)) <= {"HELLO"}, seen  # no MSG, no HB: nothing after a HELLO
    for hello in seen:
        assert hello["fields"] == ["epoch", "last", "nonce", "twin"], hello


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))
