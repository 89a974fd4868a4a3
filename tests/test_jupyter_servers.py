"""Kernels of a Jupyter server that already runs elsewhere (issue 15).

Two real `jupyter server`s, started here with a token and none of our extensions:
``direct`` on this machine's 127.0.0.1, and ``behind`` running as our own remote test
user (jrjupyter) on the 127.0.0.1 of a network namespace whose only way in is its sshd,
reached ``--via`` that saved SSH server. On each: kernelspecs listed and on disk, a
jupyter_kernel_test-style protocol check through jupyter_client (execute, stdin,
interrupt, restart, complete, inspect, comms), papermill; then errors that say what to
do, a link cut while a cell prints, widget comms, running kernels.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from jupyter_client import KernelManager
from jupyter_client.blocking import BlockingKernelClient

from jupyter_remote import runtime
from jupyter_remote.errors import (
    JupyterAuthError,
    JupyterCertificateError,
    JupyterConnectError,
    JupyterTooOldError,
    RemoteError,
    ValidationError,
)
from jupyter_remote.manager import RemoteManager
from jupyter_remote.sessions import registry
from jupyter_remote.sessions.roster import Reconnect
from jupyter_remote.store import Store
from tests.harness.clients import execute, started_kernel
from tests.harness.fixtures import run_on_runtime
from tests.harness.jupyter_servers import PlainJupyter, make_tls
from tests.harness.netns_host import NetnsHost, netns_unavailable
from tests.harness.servers import server_input, trust_host
from tests.harness.waiting import eventually

REMOTE_USER = "jrjupyter"


# ------------------------------------------------------------------ the servers


@pytest.fixture(scope="module")
def direct() -> Iterator[PlainJupyter]:
    with PlainJupyter() as server:
        yield server


@pytest.fixture(scope="module")
def gate() -> Iterator[NetnsHost]:
    reason = netns_unavailable()
    if reason:
        pytest.skip(reason)
    with NetnsHost(name="jupyter", user=REMOTE_USER, remote_env=False) as host:
        yield host


@pytest.fixture(scope="module")
def behind(gate: NetnsHost) -> Iterator[PlainJupyter]:
    """On the namespace's own 127.0.0.1:8888, as the remote user: only its sshd reaches it.
    It pings its kernel websockets every 2 s and drops one silent for 4 s, so it notices a
    dropped client within seconds (jupyter_server's kernel websockets follow its own
    ``ws_ping_interval``/``ws_ping_timeout`` tornado settings, in milliseconds, by default
    30 s and 90 s; ServerApp.websocket_ping_interval does not reach them)."""
    app = {"tornado_settings": {"ws_ping_interval": 2000, "ws_ping_timeout": 4000}}
    with PlainJupyter(netns=gate.netns, user=REMOTE_USER, server_app=app) as server:
        yield server


run = run_on_runtime


@pytest.fixture
def manager(runtime_manager: RemoteManager) -> RemoteManager:
    """The runtime's manager (tests/harness/fixtures.py), as kernels of this process see it."""
    return runtime_manager


def add(manager: RemoteManager, **data: Any) -> dict[str, Any]:
    return run(manager.add_server(data))


@pytest.fixture
def direct_server(manager: RemoteManager, direct: PlainJupyter) -> str:
    add(manager, name="lab", url=direct.url, token=direct.token)
    return "lab"


@pytest.fixture
def behind_server(manager: RemoteManager, gate: NetnsHost, behind: PlainJupyter) -> str:
    trust_host(manager.store, gate)
    add(manager, **server_input(gate, name="gate"))
    add(manager, name="behind", url=behind.url, token=behind.token, via="gate")
    return "behind"


@pytest.fixture(params=["direct", "behind"])
def any_server(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue(f"{request.param}_server"))


# ------------------------------------------------------------------ kernelspecs


def test_kernelspecs_listed_and_written_as_ours(manager: RemoteManager, any_server: str) -> None:
    rows = run(manager.jupyter_kernelspecs(any_server))
    assert [r["name"] for r in rows] == ["python3"]
    row = rows[0]
    assert row["display_name"] == f"Python 3 (ipykernel) — {any_server} (Jupyter)"
    assert row["kernel_name"] == f"remote-{any_server}--python3" and row["default"]
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec(row["kernel_name"])
    provisioner = spec.metadata["kernel_provisioner"]
    assert provisioner == {
        "provisioner_name": "jupyter-server-provisioner",
        "config": {"server": any_server, "kernel_name": "python3"},
    }
    assert spec.display_name == row["display_name"]
    test = run(manager.test_server(any_server))
    assert test["kind"] == "jupyter" and test["kernelspecs"] == ["python3"]


def test_kernelspecs_follow_the_remote(manager: RemoteManager, direct_server: str) -> None:
    """A kernelspec the remote drops goes; one it adds appears (read on each listing)."""
    from jupyter_remote.kernels import jupyter_servers as js

    server = run(js.jupyter_server(manager, direct_server))
    remote = {"python3": {"spec": {"display_name": "Python 3", "language": "python"}}}
    js.sync_kernelspecs(server, {**remote, "julia": {"spec": {"display_name": "Julia"}}})
    kernels = Path(manager.store.root).parent / "kernels"
    assert (kernels / "remote-lab--julia").is_dir()
    run(manager.jupyter_kernelspecs(direct_server))
    assert not (kernels / "remote-lab--julia").exists()
    assert (kernels / "remote-lab--python3" / "kernel.json").is_file()


# ------------------------------------------------------------------ the protocol


def _reply(kc: BlockingKernelClient, msg_id: str, timeout: float = 30) -> dict[str, Any]:
    while True:
        msg = kc.get_shell_msg(timeout=timeout)
        if msg["parent_header"].get("msg_id") == msg_id:
            return msg


def _iopub_until_idle(kc: BlockingKernelClient, msg_id: str) -> list[dict[str, Any]]:
    seen = []
    while True:
        msg = kc.get_iopub_msg(timeout=30)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        seen.append(msg)
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            return seen


def check_protocol(km: KernelManager, kc: BlockingKernelClient) -> None:
    """What jupyter_kernel_test checks, written with jupyter_client."""
    info = kc.kernel_info(reply=True, timeout=30)
    assert info["content"]["status"] == "ok"
    assert info["content"]["language_info"]["name"] == "python"

    reply, out = execute(kc, "print('hello from afar')\n6 * 7")
    assert reply["content"]["status"] == "ok" and out == "hello from afar\n42"

    # stdin: input() asks the client, the answer travels back
    msg_id = kc.execute("answer = input('prompt> ')", allow_stdin=True)
    request = kc.get_stdin_msg(timeout=30)
    assert request["msg_type"] == "input_request"
    assert request["content"]["prompt"] == "prompt> "
    assert request["parent_header"]["msg_id"] == msg_id
    kc.input("forty-two")
    assert _reply(kc, msg_id)["content"]["status"] == "ok"
    assert execute(kc, "print(answer)")[1] == "forty-two\n"

    # complete and inspect
    msg_id = kc.complete("import o", 8)
    matches = _reply(kc, msg_id)["content"]["matches"]
    assert "os" in matches
    msg_id = kc.inspect("print", 5)
    inspected = _reply(kc, msg_id)["content"]
    assert inspected["found"] and "print" in inspected["data"]["text/plain"]

    # comms: the kernel echoes on a comm the client opens, then closes it
    execute(
        kc,
        "def _target(comm, msg):\n"
        "    comm.send({'echo': msg['content']['data']})\n"
        "    @comm.on_msg\n"
        "    def _(m): comm.send({'echo': m['content']['data']})\n"
        "get_ipython().kernel.comm_manager.register_target('jr_echo', _target)",
    )
    comm_id = "c0ffee"
    open_msg = kc.session.msg(
        "comm_open", {"comm_id": comm_id, "target_name": "jr_echo", "data": {"n": 1}}
    )
    kc.shell_channel.send(open_msg)
    echoes = [
        m
        for m in _iopub_until_idle(kc, open_msg["header"]["msg_id"])
        if m["msg_type"] == "comm_msg"
    ]
    assert echoes[0]["content"]["data"] == {"echo": {"n": 1}}
    msg = kc.session.msg("comm_msg", {"comm_id": comm_id, "data": {"n": 2}})
    kc.shell_channel.send(msg)
    echoes = [
        m for m in _iopub_until_idle(kc, msg["header"]["msg_id"]) if m["msg_type"] == "comm_msg"
    ]
    assert echoes[0]["content"] == {"comm_id": comm_id, "data": {"echo": {"n": 2}}}
    kc.shell_channel.send(kc.session.msg("comm_close", {"comm_id": comm_id, "data": {}}))
    msg_id = kc.comm_info()
    assert comm_id not in _reply(kc, msg_id)["content"]["comms"]

    # interrupt a sleeping cell
    msg_id = kc.execute("import time; time.sleep(60)")
    eventually(lambda: kc.get_iopub_msg(timeout=30)["msg_type"] == "execute_input", timeout=30)
    time.sleep(0.5)
    km.interrupt_kernel()
    interrupted = _reply(kc, msg_id)["content"]
    assert interrupted["status"] == "error" and interrupted["ename"] == "KeyboardInterrupt"

    # restart: same kernel object, fresh namespace
    execute(kc, "marker = 1")
    km.restart_kernel()
    kc.wait_for_ready(timeout=60)
    _until_iopub_live(kc)
    assert execute(kc, "print('marker' in globals())")[1] == "False\n"


def _until_iopub_live(kc: BlockingKernelClient, timeout: float = 60) -> None:
    """kernel_info until its status comes on iopub, as JupyterLab's nudge does after a
    restart: ``wait_for_ready`` proves only shell, and output published before the
    client's SUB is subscribed again is lost (seen under CPU load, s27)."""
    deadline = time.monotonic() + timeout
    while True:
        msg_id = kc.kernel_info()
        end = min(deadline, time.monotonic() + 2)
        while time.monotonic() < end:
            try:
                msg = kc.get_iopub_msg(timeout=max(0.05, end - time.monotonic()))
            except Exception:  # queue.Empty: nothing this round
                break
            if msg["parent_header"].get("msg_id") == msg_id:
                return
        assert time.monotonic() < deadline, "iopub never came back after the restart"


def test_protocol_on_a_kernel_of_each(manager: RemoteManager, any_server: str) -> None:
    run(manager.jupyter_kernelspecs(any_server))
    with started_kernel(f"remote-{any_server}--python3") as (km, kc):
        remote_id = registry.sessions[str(km.kernel_id)].remote_id
        assert remote_id in {k["kernel_id"] for k in run(manager.remote_kernels(any_server))}
        check_protocol(km, kc)
        kc.stop_channels()
        km.shutdown_kernel()
        assert not km.is_alive()
    ids = {k["kernel_id"] for k in run(manager.remote_kernels(any_server))}
    assert remote_id not in ids, "shutdown left the kernel running on the remote server"


# ------------------------------------------------------------------ notebooks, widgets


def test_papermill_runs_a_notebook_on_each(
    manager: RemoteManager, any_server: str, tmp_path: Path
) -> None:
    import papermill

    run(manager.jupyter_kernelspecs(any_server))
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("import socket, getpass\nwho = getpass.getuser()"),
        nbformat.v4.new_code_cell("print('ran as', who)"),
    ]
    source, output = tmp_path / "in.ipynb", tmp_path / "out.ipynb"
    nbformat.write(nb, source)
    papermill.execute_notebook(
        str(source), str(output), kernel_name=f"remote-{any_server}--python3", progress_bar=False
    )
    done = nbformat.read(output, as_version=4)
    text = done.cells[1].outputs[0]["text"]
    expected = REMOTE_USER if any_server == "behind" else None
    assert text.startswith("ran as ")
    if expected:
        assert text.strip() == f"ran as {expected}"  # it ran on the far side of the tunnel


def test_widget_comm_messages_round_trip(manager: RemoteManager, direct_server: str) -> None:
    """An ipywidgets slider: its comm_open arrives, the client's update changes the value in
    the kernel, and the kernel's change comes back as a comm_msg."""
    run(manager.jupyter_kernelspecs(direct_server))
    with started_kernel(f"remote-{direct_server}--python3") as (_km, kc):
        msg_id = kc.execute("import ipywidgets as w\ns = w.IntSlider(value=1)\ndisplay(s)")
        seen = _iopub_until_idle(kc, msg_id)
        opened = [m for m in seen if m["msg_type"] == "comm_open"]
        slider = next(
            m
            for m in opened
            if m["content"]["data"]["state"].get("_model_name") == "IntSliderModel"
        )
        comm_id = slider["content"]["comm_id"]
        assert slider["content"]["target_name"] == "jupyter.widget"
        update = kc.session.msg(
            "comm_msg",
            {
                "comm_id": comm_id,
                "data": {"method": "update", "state": {"value": 5}, "buffer_paths": []},
            },
        )
        kc.shell_channel.send(update)
        _iopub_until_idle(kc, update["header"]["msg_id"])
        assert execute(kc, "print(s.value)")[1] == "5\n"
        msg_id = kc.execute("s.value = 9")
        echoed = [m for m in _iopub_until_idle(kc, msg_id) if m["msg_type"] == "comm_msg"]
        assert any(m["content"]["data"].get("state", {}).get("value") == 9 for m in echoed)
        assert all(m["content"]["comm_id"] == comm_id for m in echoed)


# ------------------------------------------------------------------ errors that say what to do


def test_wrong_token_is_a_422_that_says_so(manager: RemoteManager, direct: PlainJupyter) -> None:
    add(manager, name="wrong", url=direct.url, token="not-the-token")
    with pytest.raises(JupyterAuthError) as err:
        run(manager.test_server("wrong"))
    assert err.value.status == 422 and "refused the token" in err.value.message
    assert "token" in err.value.hint
    with pytest.raises(JupyterAuthError):
        run(manager.jupyter_kernelspecs("wrong"))
    assert "not-the-token" not in json.dumps(err.value.to_json())


def test_a_failed_start_says_why_and_what_to_do(
    manager: RemoteManager, direct: PlainJupyter
) -> None:
    """A kernel whose server refuses the token: the start fails with that error, and the
    session's last event (its card) is stopped with the reason and the fix."""
    add(manager, name="badtoken", url=direct.url, token=direct.token)
    run(manager.jupyter_kernelspecs("badtoken"))
    run(manager.update_server("badtoken", {"token": "not-the-token"}))
    events: list[dict[str, Any]] = []
    unsubscribe = registry.subscribe(
        lambda e: events.append(e["session"]) if e.get("type") == "session" else None
    )
    try:
        with pytest.raises(JupyterAuthError):
            KernelManager(kernel_name="remote-badtoken--python3").start_kernel()
    finally:
        unsubscribe()
    last = events[-1]
    assert last["state"] == "stopped" and last["start_failed"] is True
    assert "refused the token" in last["reason"] and "token" in last["hint"]
    assert "not-the-token" not in json.dumps(events)


def test_wrong_url_and_base_path(manager: RemoteManager, direct: PlainJupyter) -> None:
    from tests.harness.sshd_host import free_port

    add(manager, name="nowhere", url=f"http://127.0.0.1:{free_port()}/", token="x")
    with pytest.raises(JupyterConnectError) as err:
        run(manager.test_server("nowhere"))
    assert err.value.status == 502 and "Cannot reach" in err.value.message
    assert "URL" in err.value.hint
    add(manager, name="badpath", url=direct.url + "user/alice/", token=direct.token)
    with pytest.raises(JupyterTooOldError) as too_old:
        run(manager.test_server("badpath"))
    assert "base path" in too_old.value.hint


def test_a_token_in_the_url_is_refused_with_the_way_to_give_it(manager: RemoteManager) -> None:
    with pytest.raises(ValidationError) as err:
        add(manager, name="leaky", url="http://127.0.0.1:8888/lab?token=abc123")
    assert "--token" in err.value.hint and "abc123" not in err.value.message


def test_expired_tunnel_and_a_closed_remote_port(
    manager: RemoteManager, behind_server: str, gate: NetnsHost, behind: PlainJupyter
) -> None:
    add(manager, name="closed", url="http://127.0.0.1:8899/", token="x", via="gate")
    with pytest.raises(JupyterConnectError) as err:
        run(manager.test_server("closed"))
    assert "gate could not reach 127.0.0.1:8899" in err.value.message
    assert "as seen from the SSH host" in err.value.hint
    with gate.outage(), pytest.raises(RemoteError) as down:
        run(manager.test_server(behind_server))
    assert down.value.status in (502, 504)
    assert "The SSH tunnel to the Jupyter server behind through gate is down" in down.value.message


def test_https_certificates_are_validated_and_a_ca_file_trusted(
    manager: RemoteManager, tmp_path: Path
) -> None:
    ca, cert, key = make_tls(tmp_path / "tls")
    with PlainJupyter(tls=(cert, key)) as server:
        add(manager, name="tls", url=server.url, token=server.token)
        with pytest.raises(JupyterCertificateError) as err:
            run(manager.test_server("tls"))
        assert "certificate" in err.value.message and "--ca-file" in err.value.hint
        add(manager, name="tls-ca", url=server.url, token=server.token, ca_file=str(ca))
        assert run(manager.test_server("tls-ca"))["kernelspecs"] == ["python3"]


def test_password_login(manager: RemoteManager) -> None:
    with PlainJupyter(password="correct horse") as server:
        add(manager, name="pw", url=server.url, auth="password", password="correct horse")
        assert run(manager.test_server("pw"))["kernelspecs"] == ["python3"]
        run(manager.jupyter_kernelspecs("pw"))
        with started_kernel("remote-pw--python3") as (_km, kc):
            assert execute(kc, "print(1 + 1)")[1] == "2\n"
        add(manager, name="pw-bad", url=server.url, auth="password", password="wrong")
        with pytest.raises(JupyterAuthError):
            run(manager.test_server("pw-bad"))


def test_old_servers_json_loads_as_ssh_servers(isolated_home: Path) -> None:
    store = Store()
    store.root.mkdir(parents=True, exist_ok=True)
    (store.root / "servers.json").write_text(
        json.dumps({"old": {"name": "old", "host": "gpu-box", "port": 22, "user": "alice"}})
    )
    (server,) = store.list_servers()
    assert type(server).__name__ == "Server" and server.host == "gpu-box"
    assert store.get_ssh_server("old") is server or store.get_ssh_server("old") == server


# ------------------------------------------------------------------ the network


@pytest.fixture
def quick_reconnects() -> Iterator[None]:
    """Short SSH keepalives and backoff for links opened inside the test; restored after."""
    import dataclasses

    pool = runtime.current_context().pool
    saved, saved_policy = pool.settings, registry.reconnect
    pool.settings = dataclasses.replace(saved, keepalive_interval=2.0, keepalive_count_max=2)
    registry.reconnect = Reconnect(**{**vars(saved_policy), "max_delay": 2.0})
    try:
        yield
    finally:
        pool.settings, registry.reconnect = saved, saved_policy


def test_link_cut_while_a_cell_prints(
    manager: RemoteManager, behind_server: str, gate: NetnsHost, quick_reconnects: None
) -> None:
    """The tunnel's link goes down for 20 s under a cell printing twice a second: the kernel
    keeps running on the remote server, the session reconnects by itself with the same
    websocket session, the lines the remote server kept for us arrive (in order, once
    each), the cell finishes, and the notebook is told what may be missing."""
    run(manager.jupyter_kernelspecs(behind_server))
    states: list[tuple[float, str]] = []
    with started_kernel(f"remote-{behind_server}--python3") as (km, kc):
        kid = str(km.kernel_id)
        unsubscribe = registry.subscribe(
            lambda e: (
                states.append((time.time(), e["session"]["state"]))
                if e.get("type") == "session" and e["session"].get("kernel_id") == kid
                else None
            )
        )
        lines: list[tuple[int, float]] = []
        errors: list[str] = []
        done = threading.Event()
        code = (
            "import time\nfor i in range(70):\n"
            "    print(i, time.time(), flush=True)\n    time.sleep(0.5)"
        )

        def hook(msg: dict[str, Any]) -> None:
            if msg["msg_type"] == "stream" and msg["content"]["name"] == "stdout":
                for line in msg["content"]["text"].splitlines():
                    i, at = line.split()
                    lines.append((int(i), float(at)))
            elif msg["msg_type"] == "stream":
                errors.append(msg["content"]["text"])

        result: dict[str, Any] = {}

        def cell() -> None:
            try:
                result["reply"] = kc.execute_interactive(code, output_hook=hook, timeout=150)
            except Exception as exc:  # the assertions below say what went wrong
                result["error"] = repr(exc)
            finally:
                done.set()

        thread = threading.Thread(target=cell, daemon=True)
        thread.start()
        try:
            eventually(lambda: len(lines) >= 6, timeout=60)
            cut_at = time.time()
            with gate.link_cut():
                eventually(
                    lambda: registry.sessions[kid].state, lambda s: s == "reconnecting", timeout=30
                )
                assert km.is_alive(), "a kernel out of reach is not dead (invariant 3)"
                time.sleep(15)
            restored_at = time.time()
            assert done.wait(160), "the cell never finished"
        finally:
            # the client's sockets are not thread-safe: never close them under the cell
            thread.join(170)
            unsubscribe()
        assert "error" not in result, f"{result.get('error')}; states {states}; lines {lines}"
    numbers = [i for i, _ in lines]
    assert numbers == sorted(set(numbers)), "lines out of order or twice"
    assert numbers[-1] == 69 and result["reply"]["content"]["status"] == "ok"
    kept = [i for i, at in lines if cut_at + 1 < at < restored_at - 1]
    assert kept, f"nothing the remote server kept arrived: {numbers}"
    missing = sorted(set(range(70)) - set(numbers))
    if missing:
        assert any("[jupyter-remote] The link to the Jupyter server" in e for e in errors)
    seen = [s for _, s in states if s in ("reconnecting", "running")]
    changes = [s for i, s in enumerate(seen) if i == 0 or seen[i - 1] != s]  # reason updates
    assert changes[-2:] == ["reconnecting", "running"], states
    print(f"\nlink cut {restored_at - cut_at:.0f} s: {len(kept)} kept lines came, lost {missing}")


# ------------------------------------------------------------------ running kernels, the CLI


def test_running_kernels_listed_attached_and_stopped(
    manager: RemoteManager, direct_server: str, direct: PlainJupyter
) -> None:
    """A kernel someone started on the remote server: listed, attached to a new kernel
    manager (its state intact), stopped."""
    from jupyter_client.multikernelmanager import AsyncMultiKernelManager

    from jupyter_remote.jupyter import JupyterAPI

    api = JupyterAPI("lab", direct.url, "token", direct.token)
    remote_id = run(api.start_kernel("python3"))["id"]
    listed = {k["kernel_id"]: k for k in run(manager.remote_kernels(direct_server))}
    assert listed[remote_id]["kernel_name"] == "python3"
    run(manager.jupyter_kernelspecs(direct_server))
    mkm = AsyncMultiKernelManager()
    model = run(manager.attach_remote_kernel(mkm, direct_server, remote_id))
    km = mkm.get_kernel(model["id"])
    kc = km.blocking_client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=30)
        execute(kc, "attached_here = 42")
        assert registry.sessions[model["id"]].remote_id == remote_id
    finally:
        kc.stop_channels()
    run(mkm.shutdown_kernel(model["id"]))
    assert remote_id not in {k["kernel_id"] for k in run(manager.remote_kernels(direct_server))}
    other = run(api.start_kernel("python3"))["id"]
    assert run(manager.stop_remote_kernel(direct_server, other))["stopped"]
    assert run(api.kernel(other)) is None


def test_cli_server_add_reads_the_token_from_stdin(
    cli_env: dict[str, str], direct: PlainJupyter
) -> None:
    cli = [sys.executable, "-m", "jupyter_remote.cli.main"]
    add = subprocess.run(
        [*cli, "server", "add", "lab", "--url", direct.url, "--token", "--json"],
        input=direct.token + "\n",
        capture_output=True,
        text=True,
        env=cli_env,
        timeout=120,
    )
    assert add.returncode == 0, add.stderr
    answer = json.loads(add.stdout)
    assert answer["kind"] == "jupyter" and answer["kernelspecs"][0]["name"] == "python3"
    assert direct.token not in add.stdout + add.stderr
    usage = subprocess.run(
        [*cli, "server", "add", "x", "--url", "http://h:1/?token=secret"],
        capture_output=True,
        text=True,
        env=cli_env,
        timeout=60,
    )
    assert usage.returncode == 2 and "--token" in usage.stderr
