"""Remote kernels end to end: real sshd, real ipykernel, jupyter_client's own managers."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jupyter_client import KernelManager
from jupyter_client.blocking import BlockingKernelClient
from traitlets.config import Config

from jupyter_remote.manager import RemoteManager
from jupyter_remote.sessions import registry
from jupyter_remote.store import Store
from tests.harness.clients import WSKernel, execute, started_kernel, until_printed
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


@pytest.fixture
def remote_profile(isolated_home: Path, ssh_host: SSHTestHost) -> Iterator[dict[str, Any]]:
    clean_remote(ssh_host)  # a failed earlier test must not decide this one
    yield setup_profile(ssh_host, cwd="/tmp", env={"JR_TEST": "it's $(not) expanded; `ok`"})
    clean_remote(ssh_host)


@pytest.fixture
def kernel(remote_profile: dict[str, Any]) -> Iterator[tuple[KernelManager, BlockingKernelClient]]:
    with started_kernel(remote_profile["kernel_name"]) as started:
        yield started


def test_kernelspec_is_listed(remote_profile: dict[str, Any]) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "jupyter_client.kernelspecapp", "list", "--json"],
        capture_output=True,
        text=True,
        check=True,
        env=os.environ.copy(),
    ).stdout
    specs = json.loads(out)["kernelspecs"]
    spec = specs["remote-p"]["spec"]
    assert spec["metadata"]["kernel_provisioner"] == {
        "provisioner_name": "ssh-provisioner",
        "config": {"profile": "p"},
    }
    # the profile's name and working directory tell profiles of one environment apart
    assert spec["display_name"].startswith("Python 3.")
    assert spec["display_name"].endswith("— box (p, /tmp)")


def test_runs_remotely_as_the_user_in_the_env(
    kernel: tuple[KernelManager, BlockingKernelClient], ssh_host: SSHTestHost
) -> None:
    _, kc = kernel
    reply, out = execute(
        kc,
        "import getpass, sys, os\n"
        "print(getpass.getuser()); print(sys.executable); print(os.getcwd());"
        "print(os.environ['JR_TEST'])",
    )
    assert reply["content"]["status"] == "ok"
    user, exe, cwd, env_value = out.splitlines()
    assert user == ssh_host.user
    assert exe == ssh_host.remote_python
    assert cwd == "/tmp"
    assert env_value == "it's $(not) expanded; `ok`"

    msg_id = kc.complete("import o", 8)
    matches = kc.get_shell_msg(timeout=15)
    assert matches["parent_header"]["msg_id"] == msg_id
    assert "os" in matches["content"]["matches"]
    kc.inspect("len", 3)
    inspected = kc.get_shell_msg(timeout=15)
    assert inspected["content"]["found"] is True


def test_interrupt_restart_shutdown_leave_nothing(
    kernel: tuple[KernelManager, BlockingKernelClient], ssh_host: SSHTestHost
) -> None:
    km, kc = kernel
    execute(kc, "x = 41")
    msg_id = kc.execute("import time; print('sleeping', flush=True); time.sleep(60)")
    assert until_printed(kc, msg_id).startswith("sleeping")  # running: SIGINT not ignored
    started = time.monotonic()
    km.interrupt_kernel()
    while True:
        reply = kc.get_shell_msg(timeout=20)
        if reply["parent_header"].get("msg_id") == msg_id:
            break
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "KeyboardInterrupt"
    assert time.monotonic() - started < 10
    reply, out = execute(kc, "print(x + 1)")
    assert out.strip() == "42", reply

    km.restart_kernel(now=False)
    kc.wait_for_ready(timeout=60)
    reply, out = execute(kc, "x")
    assert reply["content"]["status"] == "error" and "NameError" in out

    km.shutdown_kernel(now=False)
    kc.stop_channels()
    assert remote_kernel_processes(ssh_host) == []
    assert remote_state_files(ssh_host) == []


def test_sigkill_is_reported_dead_and_restart_works(
    kernel: tuple[KernelManager, BlockingKernelClient], ssh_host: SSHTestHost
) -> None:
    km, kc = kernel
    pid = int(execute(kc, "import os; print(os.getpid())")[1])
    ssh_host.run_as_user(["kill", "-9", str(pid)])
    eventually(km.is_alive, lambda alive: not alive, timeout=15, interval=0.3)
    assert "SIGKILL" in km.provisioner.exit_reason  # type: ignore[union-attr]
    km.restart_kernel(now=True)
    kc.wait_for_ready(timeout=60)
    new_pid = int(execute(kc, "import os; print(os.getpid())")[1])
    assert new_pid != pid
    assert execute(kc, "print(6 * 7)")[1].strip() == "42"


def test_no_key_on_command_lines_and_private_files(
    kernel: tuple[KernelManager, BlockingKernelClient], ssh_host: SSHTestHost
) -> None:
    km, _ = kernel
    key = km.session.key.decode()
    assert len(key) >= 16
    ps = subprocess.run(
        ["ps", "-ww", "-eo", "args"], capture_output=True, text=True, check=True
    ).stdout
    assert "launch.py -f" in ps  # ipykernel through our launcher (remote/kernel_launcher.py)
    assert key not in ps
    root = ssh_host.home / STATE_DIR
    dirs = [root, *[p for p in root.rglob("*") if p.is_dir()]]
    assert dirs and all(stat.S_IMODE(d.stat().st_mode) == 0o700 for d in dirs)
    files = [p for p in root.rglob("*") if p.is_file()]
    assert {"connection.json", "info.json", "kernel.log", "launch.py"} <= {f.name for f in files}
    for f in files:  # the debugger's adapter wrapper must be executable, by us only
        mode = 0o700 if f.name == "debug-python" else 0o600
        assert stat.S_IMODE(f.stat().st_mode) == mode, f
    # the sockets: in a short private directory of their own, whatever the home's length
    info = json.loads(next(f for f in files if f.name == "info.json").read_text())
    sockdir = Path(info["sockdir"])
    assert sockdir.parent == Path("/tmp") and sockdir.name.startswith("jr-")
    assert sockdir.stat().st_uid == ssh_host.uid
    assert stat.S_IMODE(sockdir.stat().st_mode) == 0o700
    sockets = [p for p in sockdir.iterdir() if stat.S_ISSOCK(p.lstat().st_mode)]
    # ipc transport: five channels and the relay's socket, no TCP port on the remote
    # (and "pipe": forked children's output, moved off a TCP port by our launcher)
    assert sorted(p.name for p in sockets) == ["k-1", "k-2", "k-3", "k-4", "k-5", "pipe", "relay"]
    assert not any(stat.S_ISSOCK(p.lstat().st_mode) for p in root.rglob("*"))
    # once the kernel has read its connection file, the key is scrubbed from it:
    # it lives on only in the memory of the kernel and its relay
    connection = next(f for f in files if f.name == "connection.json")
    assert json.loads(connection.read_text())["key"] == ""
    for f in files:
        assert key not in f.read_text(errors="replace"), f


def test_forked_children_print_through_the_private_pipe(
    kernel: tuple[KernelManager, BlockingKernelClient],
) -> None:
    """ipykernel carries a forked child's output over its pipe, which our launcher moved
    from a TCP port to an ipc socket in the private directory: it must still arrive."""
    _, kc = kernel
    code = (
        "import os, sys\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    print('from the child', os.getpid()); sys.stdout.flush(); os._exit(0)\n"
        "os.waitpid(pid, 0)\n"
        "import time; time.sleep(0.5)\n"
    )
    reply, out = execute(kc, code)
    assert reply["content"]["status"] == "ok"
    assert "from the child" in out


def test_without_the_relay_channels_are_plain_forwards(
    remote_profile: dict[str, Any], ssh_host: SSHTestHost
) -> None:
    """use_relay=False (and remotes without pyzmq next to the agent): direct forwards."""
    config = Config({"SSHProvisioner": {"use_relay": False}})
    with started_kernel(remote_profile["kernel_name"], config) as (km, kc):
        assert execute(kc, "print(6 * 7)")[1].strip() == "42"
        session = registry.sessions[str(km.kernel_id)]
        assert session.to_json()["relayed"] is False
        info = json.loads(next((ssh_host.home / STATE_DIR).rglob("info.json")).read_text())
        sockets = sorted(p.name for p in Path(info["sockdir"]).iterdir() if p.is_socket())
        assert sockets == ["k-1", "k-2", "k-3", "k-4", "k-5", "pipe"]
    assert remote_kernel_processes(ssh_host) == []


def test_remote_kernel_list_and_stop(
    kernel: tuple[KernelManager, BlockingKernelClient], ssh_host: SSHTestHost
) -> None:
    km, _ = kernel

    async def go() -> None:
        manager = RemoteManager(Store())
        try:
            listed = await manager.remote_kernels("box")
            assert [k["kernel_id"] for k in listed] == [km.kernel_id]
            assert listed[0]["state"] == "running" and listed[0]["profile"] == "p"
            await manager.stop_remote_kernel("box", km.kernel_id)
            assert await manager.remote_kernels("box") == []
        finally:
            await manager.close()

    asyncio.run(go())
    eventually(km.is_alive, lambda alive: not alive, timeout=10, interval=0.2)
    assert remote_kernel_processes(ssh_host) == []


def test_papermill_runs_a_notebook_remotely(
    remote_profile: dict[str, Any], ssh_host: SSHTestHost, tmp_path: Path
) -> None:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("import getpass, sys\nwho = getpass.getuser()"),
        nbformat.v4.new_code_cell("print(who, sys.executable)"),
    ]
    src, dst = tmp_path / "in.ipynb", tmp_path / "out.ipynb"
    nbformat.write(nb, src)
    result = subprocess.run(
        [sys.executable, "-m", "papermill", str(src), str(dst), "-k", "remote-p"],
        capture_output=True,
        text=True,
        timeout=240,
        env=os.environ.copy(),
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    out = nbformat.read(dst, as_version=4)
    text = "".join(o.get("text", "") for o in out.cells[1].outputs)
    assert text.strip() == f"{ssh_host.user} {ssh_host.remote_python}"
    assert remote_kernel_processes(ssh_host) == []


# ------------------------------------------------------------ through the Jupyter server


async def test_server_api_kernels_websocket_and_outage(
    jp_fetch: Any, jp_ws_fetch: Any, jp_serverapp: Any, ssh_host: SSHTestHost
) -> None:
    """/api/kernels starts a remote kernel; sshd down 20 s: no restart, variables intact."""
    await asyncio.to_thread(setup_profile, ssh_host, cwd="/tmp")
    resp = await jp_fetch("api", "kernels", method="POST", body=json.dumps({"name": "remote-p"}))
    kid = json.loads(resp.body)["id"]
    try:
        ws = WSKernel(await jp_ws_fetch("api", "kernels", kid, "channels"))
        reply, out = await ws.execute(
            "import getpass, os; x = 42; print(getpass.getuser(), os.getpid())"
        )
        assert reply["status"] == "ok"
        user, pid = out.split()
        assert user == ssh_host.user
        km = jp_serverapp.kernel_manager.get_kernel(kid)
        restarts: list[str] = []
        km.add_restart_callback(lambda: restarts.append("restart"), "restart")
        km.add_restart_callback(lambda: restarts.append("dead"), "dead")
        from jupyter_remote.sessions import registry

        with ssh_host.outage():
            await asyncio.sleep(3)
            assert registry.sessions[kid].state == "reconnecting"
            await asyncio.sleep(17)
            assert await km.is_alive()
        await eventually_async(
            lambda: registry.sessions[kid].state, lambda s: s == "running", timeout=15, interval=0.1
        )
        reply, out = await asyncio.wait_for(ws.execute("print(x, os.getpid())"), 60)
        assert out.split() == ["42", pid]
        assert restarts == []
    finally:
        await jp_fetch("api", "kernels", kid, method="DELETE")
    await eventually_async(
        lambda: remote_kernel_processes(ssh_host), lambda left: not left, timeout=10, interval=0.2
    )
    assert remote_state_files(ssh_host) == []


async def test_sessions_rest_and_events_websocket(
    jp_fetch: Any, jp_ws_fetch: Any, ssh_host: SSHTestHost
) -> None:
    """Start reports its stages as events; the session is listed; Stop ends it everywhere."""
    await asyncio.to_thread(setup_profile, ssh_host, cwd="/tmp")
    events_ws = await jp_ws_fetch("remote", "events")
    hello = json.loads(await events_ws.read_message())
    assert hello["type"] == "hello" and hello["sessions"] == []
    resp = await jp_fetch("api", "kernels", method="POST", body=json.dumps({"name": "remote-p"}))
    kid = json.loads(resp.body)["id"]

    stages: list[str] = []
    states: list[str] = []

    async def read_until(predicate: Any) -> None:
        while not predicate():
            event = json.loads(await asyncio.wait_for(events_ws.read_message(), 30))
            if event["type"] == "progress" and event["kernel_id"] == kid:
                stages.append(event["stage"])
            if event["type"] == "session" and event["session"]["kernel_id"] == kid:
                states.append(event["session"]["state"])

    await read_until(lambda: "ready" in stages)
    assert stages == ["connecting", "authenticating", "starting kernel", "forwarding", "ready"]
    assert "running" in states

    sessions = json.loads((await jp_fetch("remote", "sessions")).body)
    mine = [s for s in sessions if s["id"] == kid]
    assert mine and mine[0]["state"] == "running" and mine[0]["server"] == "box"
    assert len(mine[0]["local_ports"]) == 5

    resp = await jp_fetch("remote", "sessions", kid, method="DELETE")
    assert resp.code == 204
    await read_until(lambda: "stopped" in states)
    kernels = json.loads((await jp_fetch("api", "kernels")).body)
    assert kid not in [k["id"] for k in kernels]
    assert json.loads((await jp_fetch("remote", "sessions")).body) == []
    assert remote_kernel_processes(ssh_host) == []
    assert remote_state_files(ssh_host) == []
    with pytest.raises(Exception, match="404"):
        await jp_fetch("remote", "sessions", kid, method="DELETE")


def test_idle_timeout_stops_the_kernel_with_no_client(
    isolated_home: Path, ssh_host: SSHTestHost
) -> None:
    """Idle timeout 5 s: the kernel ends on the remote by itself, leaving nothing."""
    clean_remote(ssh_host)
    profile = setup_profile(ssh_host, cwd="/tmp", idle_timeout=5)
    km = KernelManager(kernel_name=profile["kernel_name"])
    km.start_kernel()
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=60)
    # connected and busy: the timeout does not count
    execute(kc, "import time; time.sleep(7)", timeout=30)
    assert remote_kernel_processes(ssh_host), "the kernel must survive while busy"
    # the laptop goes away: no client left
    kc.stop_channels()
    session = km.provisioner._session  # type: ignore[union-attr]
    assert session is not None
    asyncio.run_coroutine_threadsafe(session.close(), _ssh_loop()).result(10)
    no_kernel_processes_left(ssh_host, timeout=30, interval=0.5)
    assert remote_state_files(ssh_host) == []


def _ssh_loop() -> asyncio.AbstractEventLoop:
    from jupyter_remote import runtime

    assert runtime._loop is not None
    return runtime._loop


def test_health_checks_of_a_relayed_kernel_start_no_remote_process(
    kernel: tuple[KernelManager, BlockingKernelClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A healthy kernel's health checks ride its relay link (one heartbeat ping each):
    no agent request, i.e. no SSH exec and no remote Python, however many checks run
    (before, each check was one; 64 idle kernels started 384 remote Pythons a minute)."""
    from jupyter_remote.kernels.agent_client import AgentClient
    from jupyter_remote.sessions import kernel_health

    km, kc = kernel
    session = registry.sessions[km.kernel_id]
    assert getattr(session, "relay_path", None), "the kernel runs behind its relay"
    agent_ops: list[str] = []
    checks: list[str | None] = []
    real_call, real_relay_health = AgentClient.call, kernel_health.relay_health

    async def counted_call(self: AgentClient, request: dict[str, Any], **kw: Any) -> Any:
        agent_ops.append(str(request.get("op")))
        return await real_call(self, request, **kw)

    async def counted_relay_health(*args: Any) -> str | None:
        verdict = await real_relay_health(*args)
        checks.append(verdict)
        return verdict

    monkeypatch.setattr(AgentClient, "call", counted_call)
    monkeypatch.setattr(kernel_health, "relay_health", counted_relay_health)
    policy = registry.reconnect
    saved = policy.health_interval
    policy.health_interval = 0.2  # picked up after the monitor's current sleep
    try:
        eventually(lambda: len(checks), lambda n: n >= 5, timeout=30, interval=0.2)
    finally:
        policy.health_interval = saved
    assert set(checks) == {""}, checks  # healthy every time
    assert agent_ops == [], agent_ops
    assert session.state == "running"
    assert execute(kc, "print(1 + 1)")[1].strip() == "2"


def test_degraded_when_the_kernel_stops_answering(
    kernel: tuple[KernelManager, BlockingKernelClient], ssh_host: SSHTestHost
) -> None:
    """Link up but the kernel frozen (SIGSTOP): degraded with the reason; SIGCONT: running."""
    from jupyter_remote.sessions import registry

    km, kc = kernel
    policy = registry.reconnect
    saved = policy.health_interval
    policy.health_interval = 0.5
    session = registry.sessions[km.kernel_id]
    try:
        # the monitor picks the shorter interval up after its current sleep
        pid = int(execute(kc, "import os; print(os.getpid())")[1])
        ssh_host.run_as_user(["kill", "-STOP", str(pid)])
        eventually(lambda: session.state, lambda s: s == "degraded", timeout=30, interval=0.2)
        assert "heartbeat" in session.reason
        assert km.is_alive()  # degraded is not dead
        ssh_host.run_as_user(["kill", "-CONT", str(pid)])
        eventually(lambda: session.state, lambda s: s == "running", timeout=30, interval=0.2)
        assert execute(kc, "print(1 + 1)")[1].strip() == "2"
    finally:
        policy.health_interval = saved
        ssh_host.run_as_user(["kill", "-CONT", str(pid)])


#: a host name our fake resolver answers (test_probes_never_fill_the_default_executor)
SLOW_DNS_NAME = "jr-slow-dns.test"
#: names whose name server never answers there (a VPN still down): review s21 F4
HUNG_DNS_NAMES = ("jr-vpn-1.test", "jr-vpn-2.test")


def test_probes_never_fill_the_default_executor(
    isolated_home: Path, ssh_host: SSHTestHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review s20 F4: in the first 10 s of an outage a session probes its host every
    0.15 s. Each probe resolved the host's name on the event loop's default executor,
    where a resolver that does not answer (a name server unreachable, as in a Wi-Fi roam)
    held a worker per probe: the pool filled within a second and every asyncio.to_thread
    of the server (REST store reads, files, starts) waited. A stand-in resolver for one
    name (it never answers while the "name server" is down): during the outage a job on
    the default executor still runs, and one resolution of the name is under way at
    most. Review s21 F4: two other names whose resolutions never answer (a VPN down)
    held the probes' two shared resolver threads, and this host's name waited behind
    them: it is resolved, and the session back, while they still hang."""
    from jupyter_remote import runtime
    from jupyter_remote.ssh.probe import tcp_reachable
    from jupyter_remote.store import Server
    from tests.harness.servers import server_input, trust_host

    dns_down, dns_back = threading.Event(), threading.Event()
    under_way: list[str] = []  # the threads waiting for the name server
    most: list[list[str]] = [[]]
    count = threading.Lock()
    real_getaddrinfo = socket.getaddrinfo
    vpn_back, vpn_waiting = threading.Event(), set[str]()

    def resolver(host: Any, port: Any, *args: Any, **kw: Any) -> Any:
        if host in HUNG_DNS_NAMES:
            vpn_waiting.add(host)
            vpn_back.wait(120)
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        if host != SLOW_DNS_NAME:
            return real_getaddrinfo(host, port, *args, **kw)
        if dns_down.is_set():
            with count:
                under_way.append(threading.current_thread().name)
                most[0] = max(most[0], list(under_way), key=len)
            try:
                dns_back.wait(120)
                raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
            finally:
                with count:
                    under_way.remove(threading.current_thread().name)
        return real_getaddrinfo(ssh_host.host, port, *args, **kw)

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    clean_remote(ssh_host)
    store = Store()
    trust_host(store, ssh_host, as_name=SLOW_DNS_NAME)
    store.save_server(Server.from_input({**server_input(ssh_host), "host": SLOW_DNS_NAME}))
    profile = setup_profile_on_saved_server(ssh_host)
    try:
        with started_kernel(profile["kernel_name"]) as (km, kc):
            session = registry.sessions[km.kernel_id]
            assert session.endpoint is not None and session.endpoint.host == SLOW_DNS_NAME
            assert runtime._loop is not None
            for name in HUNG_DNS_NAMES:  # other hosts' probes: their resolutions hang
                probe = tcp_reachable(name, ssh_host.port, timeout=0.2)
                asyncio.run_coroutine_threadsafe(probe, runtime._loop).result(timeout=10)
            eventually(lambda: set(vpn_waiting), lambda w: w == set(HUNG_DNS_NAMES))
            dns_down.set()
            with ssh_host.outage():
                # s21 F4: this name's resolution does not queue behind the hung names'
                eventually(lambda: most[0], bool, timeout=30)
                time.sleep(1.5)  # ten probes later: before, six held the whole pool
                assert session.state == "reconnecting"
                job = asyncio.run_coroutine_threadsafe(
                    asyncio.to_thread(lambda: "ran"), runtime._loop
                )
                assert job.result(timeout=5) == "ran"  # well before the probes stop
                assert len(most[0]) == 1, f"resolutions of one name at once: {most[0]}"
                dns_down.clear()
                dns_back.set()
            eventually(lambda: session.state, lambda s: s == "running", timeout=60, interval=0.2)
            assert execute(kc, "print(1 + 1)")[1].strip() == "2"
            assert not vpn_back.is_set()  # back while the other names still hang
    finally:
        vpn_back.set()
        dns_down.clear()
        dns_back.set()
        clean_remote(ssh_host)


def test_a_closed_loops_probe_state_is_dropped() -> None:
    """Review s21 minor note: ssh/probe.py keeps each event loop's probes in a
    WeakKeyDictionary, but their futures hold the loop, so no loop was ever let go (five
    asyncio.run, five loops kept). Now a new loop's first probe drops closed loops'."""
    import gc
    import weakref

    from jupyter_remote.ssh import probe

    loops: list[weakref.ref[asyncio.AbstractEventLoop]] = []
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]

        async def one_probe() -> bool:
            loops.append(weakref.ref(asyncio.get_running_loop()))
            return await probe.tcp_reachable("localhost", port, timeout=5)

        for _ in range(5):
            assert asyncio.run(one_probe())  # a name: resolved, its addresses kept
    gc.collect()
    alive = [ref for ref in loops if ref() is not None]
    assert alive in ([], loops[-1:]), f"{len(alive)} of 5 closed loops still held"


def setup_profile_on_saved_server(host: SSHTestHost) -> dict[str, Any]:
    """Profile p on the already saved server `box` (kernelspec remote-p)."""

    async def go() -> dict[str, Any]:
        manager = RemoteManager(Store())
        try:
            return await manager.add_profile(
                {"name": "p", "server": "box", "python": host.remote_python, "cwd": "/tmp"}
            )
        finally:
            await manager.close()

    return asyncio.run(go())


def test_an_unanswered_heartbeat_is_never_blamed_on_the_link(
    kernel: tuple[KernelManager, BlockingKernelClient], ssh_host: SSHTestHost
) -> None:
    """Review s20 F7: when the heartbeat across the relay gets no answer, the agent is
    asked (one exec: several round trips and a Python start) and its round trip was
    compared with the ping's baseline, so a frozen kernel read "round trip N ms, far
    above its usual" (the link blamed). No floor here, so any exec is far above a ping,
    as it is on a real link of 100 ms; the reason must still be the heartbeat's."""
    from jupyter_remote.sessions.kernel_health import NO_HEARTBEAT

    km, kc = kernel
    policy = registry.reconnect
    saved = policy.health_interval, policy.slow_floor_ms
    policy.health_interval, policy.slow_floor_ms = 0.5, 0.0
    session = registry.sessions[km.kernel_id]
    assert getattr(session, "relay_path", None), "the kernel runs behind its relay"
    pid = int(execute(kc, "import os; print(os.getpid())")[1])
    try:
        eventually(lambda: session._baseline_ms, lambda b: b is not None, timeout=30)
        ssh_host.run_as_user(["kill", "-STOP", str(pid)])
        eventually(lambda: session.reason, lambda r: r == NO_HEARTBEAT, timeout=30, interval=0.1)
        time.sleep(2 * policy.health_interval + 1)  # more verdicts while it is frozen
        assert (session.state, session.reason) == ("degraded", NO_HEARTBEAT)
    finally:
        policy.health_interval, policy.slow_floor_ms = saved
        ssh_host.run_as_user(["kill", "-CONT", str(pid)])
    eventually(lambda: session.state, lambda s: s == "running", timeout=30, interval=0.2)
