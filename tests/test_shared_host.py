"""Invariant 10, as an attacker: another unprivileged user of the same remote host.

The victim (``jrvictim``) has a home path of more than 60 characters (longer than a
socket path can bear: the case that used to fall back silently to TCP) and a
world-readable home, as on many shared boxes. While the victim's kernel runs, while
JupyterLab's debugger is attached to it, and after the debugger was switched off,
the attacker (``jrattacker``) tries every socket, port and file of the kernel, its
relay and its debugger: the test finds them as root in /proc (the victim processes'
own socket inodes, in /proc/net/unix and /proc/net/tcp) and in the file system, and
tests/attacker_probe.py, run as the attacker, connects to each, sends what a
debugger or relay client would send, and reads what comes back. Nothing may answer,
nothing may run (a canary file), nothing may be read. After stop nothing of the
kernel is left in the remote's /tmp or home. Root on the remote is out of scope.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import stat
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jupyter_client import BlockingKernelClient, KernelManager

from jupyter_remote.kernels.discovery import Discovery
from jupyter_remote.manager import RemoteManager
from jupyter_remote.sessions import registry
from jupyter_remote.store import Store
from tests.harness.clients import execute, started_kernel
from tests.harness.remote_state import STATE_DIR, clean_remote, remote_kernel_processes
from tests.harness.servers import setup_profile
from tests.harness.sshd_host import IS_ROOT, SSHTestHost, ensure_user
from tests.harness.waiting import eventually

pytestmark = pytest.mark.skipif(not IS_ROOT, reason="needs two remote users (root)")

VICTIM, ATTACKER = "jrvictim", "jrattacker"
LONG_HOME = "/home/jrvictim-whose-home-directory-path-is-longer-than-any-socket"
PROBE = Path(__file__).with_name("attacker_probe.py")


@pytest.fixture(scope="module")
def victim_host() -> Iterator[SSHTestHost]:
    assert len(LONG_HOME) >= 60
    host = SSHTestHost(name="victim", user=VICTIM, home=LONG_HOME)
    os.chmod(LONG_HOME, 0o755)  # noqa: S103 - a world-readable home: only our 0700 dirs protect
    ensure_user(ATTACKER)
    try:
        yield host
    finally:
        clean_remote(host)
        host.close()


@pytest.fixture
def victim_kernel(
    isolated_home: Path, victim_host: SSHTestHost
) -> Iterator[tuple[KernelManager, BlockingKernelClient]]:
    clean_remote(victim_host)
    setup_profile(victim_host, cwd=LONG_HOME)
    with started_kernel("remote-p") as started:
        yield started


# ---------------------------------------------------------------- what the victim has


def _uid_pids(uid: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    pids.append(int(entry))
            except OSError:
                continue
    return pids


def _kernel_processes(uid: int) -> list[str]:
    """The victim's processes other than its sshd sessions: ``pid command line`` each."""
    found = []
    for pid in _uid_pids(uid):
        try:
            stat_line = Path(f"/proc/{pid}/stat").read_text()
            args = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        comm = stat_line[stat_line.find("(") + 1 : stat_line.rfind(")")]
        state = stat_line[stat_line.rfind(")") + 2]
        if comm != "sshd" and state != "Z":
            found.append(f"{pid} {comm} {args}")
    return found


def _socket_inodes(pids: list[int]) -> set[str]:
    inodes = set()
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if link.startswith("socket:["):
                inodes.add(link[8:-1])
    return inodes


def _tcp_listeners(inodes: set[str]) -> list[tuple[str, int]]:
    found = []
    for table, v6 in (("/proc/net/tcp", False), ("/proc/net/tcp6", True)):
        with open(table) as f:
            next(f)
            for line in f:
                fields = line.split()
                if fields[3] == "0A" and fields[9] in inodes:
                    host = "::1" if v6 else "127.0.0.1"
                    found.append((host, int(fields[1].split(":")[1], 16)))
    return found


def _unix_sockets(inodes: set[str], uid: int) -> list[str]:
    found = set()
    with open("/proc/net/unix") as f:
        next(f)
        for line in f:
            fields = line.split()
            if len(fields) >= 8 and fields[6] in inodes:
                found.add(fields[7])
    for tmp in _victim_tmp(uid):  # also sockets no process holds right now
        for p in Path(tmp).rglob("*"):
            if p.is_socket():
                found.add(str(p))
    return sorted(found)


def _victim_tmp(uid: int) -> list[str]:
    return sorted(
        str(p)
        for p in Path("/tmp").iterdir()
        if p.name.startswith(("jr-", "ipykernel_", "debugpy")) and p.lstat().st_uid == uid
    )


def targets(host: SSHTestHost, canary: str) -> dict[str, Any]:
    """Every listener, socket, file and directory of the victim's kernel, as root sees them."""
    inodes = _socket_inodes(_uid_pids(host.uid))
    roots = [host.home / STATE_DIR, *map(Path, _victim_tmp(host.uid))]
    files, dirs = [], []
    for root in roots:
        if root.exists():
            dirs.append(str(root))
            for p in root.rglob("*"):
                if p.is_dir():
                    dirs.append(str(p))
                elif p.is_file():
                    files.append(str(p))
    return {
        "canary": canary,
        "tcp": _tcp_listeners(inodes),
        "unix": _unix_sockets(inodes, host.uid),
        "files": files,
        "dirs": dirs,
    }


def python_as(user: str, args: list[str], *, stdin: str = "", timeout: float) -> Any:
    """The system python3 run as ``user`` in /tmp with ``args`` (and ``stdin``): what it
    printed, as JSON; fails the test with its stderr when it does not exit 0."""
    proc = subprocess.run(
        ["runuser", "-u", user, "--", "/usr/bin/python3", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd="/tmp",
        timeout=timeout,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def attack(host: SSHTestHost, *, as_user: str = ATTACKER) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run the probe as the attacker against everything of the victim's; (targets, report)."""
    canary = f"/tmp/jr-pwned-{secrets.token_hex(4)}"
    found = targets(host, canary)
    if as_user != ATTACKER:  # the control run: the victim itself, on the ports only
        found = {"canary": canary, "tcp": found["tcp"], "gentle": True}
    report = python_as(as_user, [str(PROBE)], stdin=json.dumps(found), timeout=300)
    assert not os.path.exists(canary), "the attacker ran code in the victim's kernel"
    return found, report


def assert_nothing_reached(found: dict[str, Any], report: dict[str, Any]) -> None:
    assert found["unix"] and found["files"] and found["dirs"]  # the search does find them
    for result in report["tcp"]:
        assert result["received"] == 0, result  # accepted at most, then closed unanswered
    for result in report["unix"]:
        assert not result["connected"], result
    for result in report["files"]:
        assert not result["read"], result
    for result in report["dirs"]:
        assert not result["listed"], result


# ---------------------------------------------------------------- the debugger


def debug_request(kc: BlockingKernelClient, command: str, **arguments: Any) -> dict[str, Any]:
    """One DAP request on the control channel, as JupyterLab's debugger sends it."""
    content = {"seq": int(time.monotonic() * 1000) % 100000, "type": "request"}
    content.update(command=command, arguments=arguments)
    msg = kc.session.msg("debug_request", content)
    kc.control_channel.send(msg)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        reply = kc.get_control_msg(timeout=60)
        if reply["parent_header"].get("msg_id") == msg["header"]["msg_id"]:
            return dict(reply["content"])
    raise AssertionError(f"no debug_reply to {command}")


def kernel_log(host: SSHTestHost) -> str:
    return "".join(p.read_text() for p in (host.home / STATE_DIR).rglob("kernel.log"))


# ---------------------------------------------------------------- tests


def test_another_user_reaches_nothing_of_a_kernel_with_a_long_home(
    victim_kernel: tuple[KernelManager, BlockingKernelClient], victim_host: SSHTestHost
) -> None:
    km, kc = victim_kernel
    session = registry.sessions[str(km.kernel_id)]
    assert session.to_json()["relayed"] is True  # a 60+ character home keeps the relay
    assert session.to_json()["channel_transport"] == "unix"
    _, cwd = execute(kc, "import os; print(os.getcwd())")
    assert cwd.strip() == LONG_HOME

    # the kernel's own files get the login's umask (shared project dirs stay readable)
    login_umask = int(victim_host.run_as_user(["sh", "-c", "umask"]).stdout.strip(), 8)
    execute(kc, "open('made-by-the-kernel.txt', 'w').write('x')")
    made = Path(LONG_HOME, "made-by-the-kernel.txt")
    assert stat.S_IMODE(made.stat().st_mode) == 0o666 & ~login_umask

    found, report = attack(victim_host)  # the kernel and its relay, no debugger yet
    assert_nothing_reached(found, report)
    assert not found["tcp"], found["tcp"]  # no TCP listener at all without the debugger

    # JupyterLab's debugger: initialize, attach, ask for threads through debugpy
    init = debug_request(
        kc,
        "initialize",
        clientID="jupyterlab",
        adapterID="python",
        pathFormat="path",
        linesStartAt1=True,
        columnsStartAt1=True,
    )
    assert init["success"], init
    attach = debug_request(kc, "attach")
    assert attach["success"], attach
    threads = debug_request(kc, "threads")
    assert threads["success"] and threads["body"]["threads"], threads

    found, report = attack(victim_host)  # while the debugger is on
    assert found["tcp"], "debugpy listens on TCP: the attacker must have had a port to try"
    assert_nothing_reached(found, report)
    # control: the same probe run by the victim's own user gets debugpy's answers, so the
    # attacker's silence is the guard's doing (not a probe that cannot hear)
    _, control = attack(victim_host, as_user=VICTIM)
    assert any(r["received"] > 0 for r in control["tcp"]), control
    assert "refused a debugger connection" in kernel_log(victim_host)
    assert debug_request(kc, "threads")["success"]  # ours still works

    assert debug_request(kc, "disconnect", restart=False, terminateDebuggee=False)["success"]
    found, report = attack(victim_host)  # and after it was switched off
    assert_nothing_reached(found, report)
    assert execute(kc, "print(6 * 7)")[1].strip() == "42"

    pid = int(execute(kc, "import os; print(os.getpid())")[1])
    kc.stop_channels()
    km.shutdown_kernel(now=True)
    made.unlink()
    eventually(lambda: remote_kernel_processes(victim_host), lambda left: left == [], timeout=15)
    # the debugger's adapter too
    eventually(lambda: _kernel_processes(victim_host.uid), lambda left: not left, timeout=15)
    assert _victim_tmp(victim_host.uid) == [], f"left in /tmp after stop (kernel pid {pid})"
    assert not (victim_host.home / STATE_DIR).exists()


def test_tcp_channels_only_by_choice_and_only_with_the_token(
    isolated_home: Path, victim_host: SSHTestHost
) -> None:
    """A server whose sshd forbids socket forwarding may choose TCP channels explicitly:
    the relay then also listens on the remote's 127.0.0.1, where another user can connect,
    but it answers nothing without the kernel's token; the choice is shown as a warning."""
    clean_remote(victim_host)
    setup_profile(victim_host, cwd=LONG_HOME)

    async def choose_tcp() -> dict[str, Any]:
        manager = RemoteManager(Store())
        try:
            return await manager.update_server("box", {"channel_transport": "tcp"})
        finally:
            await manager.close()

    saved = asyncio.run(choose_tcp())
    assert saved["channel_transport"] == "tcp" and "TCP port" in saved["warnings"][0]
    km = KernelManager(kernel_name="remote-p")
    km.start_kernel(kernel_id=str(uuid.uuid4()))
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        assert execute(kc, "print(6 * 7)")[1].strip() == "42"
        shown = registry.sessions[str(km.kernel_id)].to_json()
        assert shown["channel_transport"] == "tcp" and "TCP port" in shown["warnings"][0]
        found, report = attack(victim_host)
        relay_port = registry.sessions[str(km.kernel_id)].relay_port
        assert relay_port in [port for _, port in found["tcp"]]  # ours goes through it
        assert_nothing_reached(found, report)
        assert execute(kc, "print(7 * 6)")[1].strip() == "42"  # ours is still served
        flood = _flood(relay_port)  # review s21: silent connections, as many as it likes
        assert flood["opened"] == FLOOD and flood["received"] == 0, flood
        assert flood["open_at_once"] <= 16, flood  # before: all 64, each for 30 s
        assert flood["left_open"] == 0, flood  # no HELLO within the deadline: closed
        assert execute(kc, "print(6 * 7)")[1].strip() == "42"
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    eventually(lambda: _kernel_processes(victim_host.uid), lambda left: not left, timeout=15)
    assert _victim_tmp(victim_host.uid) == []


#: connections the attacker opens to a TCP relay and never writes to
FLOOD = 64
FLOOD_SCRIPT = """
import json, socket, sys, time
port, count = int(sys.argv[1]), int(sys.argv[2])
socks, reset = [], 0
for _ in range(count):
    try:
        socks.append(socket.create_connection(("127.0.0.1", port), timeout=5))
    except ConnectionResetError:  # refused as accepted: the reset can beat connect's return
        reset += 1
def still_open():
    n, got = 0, 0
    for s in socks:
        s.setblocking(False)
        try:
            data = s.recv(1, socket.MSG_PEEK)
        except BlockingIOError:
            n += 1
            continue
        except OSError:
            continue
        got += len(data)
    return n, got
time.sleep(1)
at_once, received = still_open()
deadline = time.monotonic() + 20
while still_open()[0] and time.monotonic() < deadline:
    time.sleep(0.2)
print(json.dumps({"opened": len(socks) + reset, "open_at_once": at_once,
                  "left_open": still_open()[0], "received": received}))
"""


def _flood(port: int) -> dict[str, Any]:
    """As the attacker: open FLOOD silent TCP connections to ``port``; how many the
    relay kept open at once, and whether it closed them all within 20 s."""
    return dict(python_as(ATTACKER, ["-c", FLOOD_SCRIPT, str(port), str(FLOOD)], timeout=120))


def test_a_flooded_tcp_relay_still_takes_its_own_client(
    isolated_home: Path, victim_host: SSHTestHost
) -> None:
    """Review s22 F3: another user connecting to a TCP relay's port in a loop (64 at once,
    each again the moment it is dropped) never keeps the victim's own client from showing
    its token: the relay closes another user's connection as it accepts it (the kernel
    says who owns the peer socket), before it counts against the 16 that may wait for the
    token. While the flood runs the SSH connection drops; the session re-attaches through
    the relay's port and a cell runs. Before: each new connection beyond 16 evicted the
    oldest, the victim's HELLO never got in and the session never came back."""
    clean_remote(victim_host)
    setup_profile(victim_host, cwd=LONG_HOME)
    asyncio.run(_choose_tcp())
    with started_kernel("remote-p") as (km, kc):
        session = registry.sessions[str(km.kernel_id)]
        assert session.channel_transport == "tcp"
        with _sustained_flood(session.relay_port) as flood:
            time.sleep(2)  # the flood at full speed
            with victim_host.outage():
                time.sleep(1)
            reply, out = execute(kc, "print(6 * 7)", timeout=90)
        assert reply["content"]["status"] == "ok" and out.strip() == "42"
        assert session.reconnects >= 1 and session.relay_port  # re-attached, flooded
    stats = flood.result
    assert stats["received"] == 0, stats  # no byte answered
    assert stats["connects"] > 1000, stats  # it flooded the whole time (here: ~10^4)


async def _choose_tcp() -> None:
    manager = RemoteManager(Store())
    try:
        await manager.update_server("box", {"channel_transport": "tcp"})
    finally:
        await manager.close()


#: as the attacker: 64 connections to the port at once, each made again as soon as it
#: ends, until stdin closes; then how many were made and how many bytes came back
SUSTAINED_FLOOD = """
import asyncio, json, sys
port = int(sys.argv[1])
stats = {"connects": 0, "received": 0}
async def one(stop):
    while not stop.is_set():
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except ConnectionResetError:  # made, and reset as the relay accepted it
            stats["connects"] += 1
            continue
        except OSError:
            await asyncio.sleep(0.01)
            continue
        stats["connects"] += 1
        try:
            stats["received"] += len(await asyncio.wait_for(reader.read(1), 6))
        except (OSError, asyncio.TimeoutError):
            pass
        writer.close()
async def main():
    stop = asyncio.Event()
    asyncio.get_running_loop().add_reader(sys.stdin.fileno(), stop.set)
    await asyncio.gather(*(one(stop) for _ in range(64)))
asyncio.run(main())
print(json.dumps(stats))
"""


class _Flood:
    result: dict[str, Any]


@contextlib.contextmanager
def _sustained_flood(port: int) -> Iterator[_Flood]:
    """:data:`SUSTAINED_FLOOD` as the attacker on ``port`` for the block's length."""
    flood = _Flood()
    proc = subprocess.Popen(
        ["runuser", "-u", ATTACKER, "--", "/usr/bin/python3", "-c", SUSTAINED_FLOOD, str(port)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd="/tmp",
    )
    try:
        yield flood
    finally:
        out, err = proc.communicate(timeout=30)  # closes stdin: the flood stops
        assert proc.returncode == 0, err
        flood.result = dict(json.loads(out))


def _plant_venv(directory: Path, owner: str) -> Path:
    """A project directory whose ``.venv`` python leaves a mark when it runs (then acts
    as the real python), everything owned by ``owner``; returns the mark's path."""
    mark = Path(f"{directory}-ran")
    venv = directory / ".venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "pyvenv.cfg").write_text("home = /usr/bin\nversion = 3.11.2\n")
    python = venv / "bin" / "python"
    python.write_text(f'#!/bin/sh\ntouch {mark}\nexec /usr/bin/python3 "$@"\n')
    python.chmod(0o755)
    subprocess.run(["chown", "-R", f"{owner}:{owner}", str(directory)], check=True)
    for path in (directory, venv, venv / "bin"):
        path.chmod(0o755)
    return mark


def test_an_environment_another_user_planted_is_never_run(
    isolated_home: Path, victim_host: SSHTestHost
) -> None:
    """Another user plants a project with a ``.venv`` in a directory of theirs; the victim's
    environment discovery is pointed at it (a working directory, or ``?cwd=`` in a link):
    its python is never run, and the listing says why. Control: the same project owned by
    the victim is run and listed."""
    clean_remote(victim_host)
    setup_profile(victim_host, cwd=LONG_HOME)
    tag = secrets.token_hex(4)
    planted_dir = Path(f"/tmp/jr-planted-{tag}")
    own_dir = Path(LONG_HOME) / f"proj-{tag}"
    planted_mark = _plant_venv(planted_dir, ATTACKER)
    own_mark = _plant_venv(own_dir, VICTIM)

    async def discover() -> dict[str, Any]:
        manager = RemoteManager(Store())
        try:
            return await Discovery.of(manager).lookup(
                "box", refresh=True, cwds=[str(planted_dir), str(own_dir)]
            )
        finally:
            await manager.close()

    try:
        found = asyncio.run(discover())
        paths = [env["path"] for env in found["envs"]]
        assert str(own_dir / ".venv") in paths and own_mark.exists(), "control: it is run"
        assert str(planted_dir / ".venv") not in paths
        assert not planted_mark.exists(), "the planted python ran as the victim"
        [why] = [e for e in found["errors"] if str(planted_dir) in e]
        assert "not run" in why and "another user" in why, why
    finally:
        subprocess.run(["rm", "-rf", str(planted_dir), str(own_dir)], check=False)
        planted_mark.unlink(missing_ok=True)
        own_mark.unlink(missing_ok=True)
