"""Terminals across link faults, and persistent (tmux) terminals: a real sshd in a network
namespace whose link is cut (veth down) or silently dropped (nftables).

A plain terminal says the link is lost, reconnects by itself and says that this is a new
shell; the old shell is really gone (the remote never noticed the silent cut: our
reconnect hangs its pty's session up). A persistent terminal reattaches to its tmux
session: the same shell, with what it printed (its scrollback) and what it printed
while the link was down. Closing it for good ends the tmux session. The tmux socket is
in tmux's per-user 0700 directory, where another user of the host cannot attach.

Remote users of their own: ``jrtermnet`` (the namespace host), ``jrtermmux`` and the
attacker ``jrtermevil`` (loopback hosts).
"""

from __future__ import annotations

import asyncio
import os
import re
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jupyter_remote.errors import ConflictError
from jupyter_remote.manager import RemoteManager
from jupyter_remote.sessions import registry
from jupyter_remote.sessions import terminal as terminals
from jupyter_remote.sessions.roster import Reconnect
from jupyter_remote.sessions.terminal import TerminalSession, open_terminal
from jupyter_remote.store import Store
from jupyter_remote.store.secrets import SecretStore
from tests.harness.netns_host import NetnsHost, netns_unavailable
from tests.harness.remote_state import clean_user, user_processes
from tests.harness.servers import server_input, trust_host
from tests.harness.sshd_host import IS_ROOT, SSHTestHost, as_user_argv, ensure_user
from tests.harness.terminals import Screen
from tests.harness.waiting import eventually_async

pytestmark = pytest.mark.skipif(not IS_ROOT, reason="needs remote users of its own (root)")

ATTACKER = "jrtermevil"


@pytest.fixture(scope="module")
def nhost() -> Iterator[NetnsHost]:
    reason = netns_unavailable()
    if reason:
        pytest.skip(reason)
    with NetnsHost(name="termnet", user="jrtermnet", remote_env=False) as host:
        clean_user(host)
        yield host
        clean_user(host)


@pytest.fixture(scope="module")
def mux_host() -> Iterator[SSHTestHost]:
    host = SSHTestHost(name="termmux", user="jrtermmux", remote_env=False)
    clean_user(host)
    ensure_user(ATTACKER)
    try:
        yield host
    finally:
        clean_user(host)
        host.close()


@pytest.fixture
def fast(isolated_home: Path, jp_asyncio_loop: Any) -> Iterator[RemoteManager]:
    """A manager with short keepalives (a silent link is noticed within 6 s) and quick
    reconnects; every terminal closed after."""
    manager = RemoteManager(
        Store(),
        secrets=SecretStore(use_keyring=False),
        keepalive_interval=2,
        keepalive_count_max=2,
        connect_timeout=5,
    )
    saved = registry.reconnect
    registry.reconnect = Reconnect(first_delay=0.2, max_delay=1.0, tcp_probe_interval=0.3)
    try:
        yield manager
    finally:
        jp_asyncio_loop.run_until_complete(terminals.stop_all())
        jp_asyncio_loop.run_until_complete(manager.close())
        registry.reconnect = saved


async def box_on(manager: RemoteManager, host: SSHTestHost) -> None:
    trust_host(manager.store, host)
    await manager.add_server(server_input(host))


async def opened(manager: RemoteManager, **kw: Any) -> tuple[TerminalSession, Screen]:
    session = await open_terminal(manager, "box", **kw)
    screen = Screen()
    replay, _detach = session.attach(screen.output, screen.ended)
    screen.text += replay
    return session, screen


async def shell_pid(session: TerminalSession, screen: Screen) -> int:
    """The pid of the shell now on the terminal (asked with a fresh marker)."""
    tag = os.urandom(4).hex()
    session.write(f"echo {tag}=$$\r")
    return int((await screen.wait_for(rf"{tag}=(\d+)[^\d]")).group(1))  # tmux adds escapes


def alive(pid: int) -> bool:
    try:
        return "zombie" not in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False


async def test_link_cut_says_so_and_reattaches_with_a_new_shell(
    fast: RemoteManager, nhost: NetnsHost
) -> None:
    await box_on(fast, nhost)
    session, screen = await opened(fast)
    old = await shell_pid(session, screen)
    session.write("sleep 4747 &\r")
    await eventually_async(
        lambda: [p for p in user_processes(nhost.uid) if "sleep 4747" in p], lambda p: len(p) == 1
    )
    mark = len(screen.text)
    with nhost.link_cut():
        await screen.wait_for("The link to box was lost; reconnecting", since=mark, timeout=20)
        assert session.state == "reconnecting"
        session.write("echo typed-while-down\r")  # dropped, not run later by surprise
        assert alive(old), "the remote has not noticed the cut"
    await screen.wait_for("This is a new shell", since=mark, timeout=30)
    assert session.state == "running" and session.reconnects == 1
    new = await shell_pid(session, screen)
    assert new != old
    await eventually_async(lambda: alive(old), lambda a: not a, timeout=10, what="old shell gone")
    await eventually_async(
        lambda: [p for p in user_processes(nhost.uid) if "sleep 4747" in p],
        lambda p: not p,
        timeout=10,
        what="the old shell's job gone",
    )
    assert "typed-while-down" not in screen.text[screen.text.index("This is a new shell") :]
    session.write("stty size\r")
    await screen.wait_for(r"24 80\r\n", since=screen.text.index("This is a new shell"))
    await session.stop()
    assert screen.ended_with == [None]


async def test_persistent_terminal_survives_a_silent_drop_with_its_scrollback(
    fast: RemoteManager, nhost: NetnsHost
) -> None:
    await box_on(fast, nhost)
    session, screen = await opened(fast, persistent=True)
    assert session.multiplexer == "tmux" and re.fullmatch(r"jr-[0-9a-f]{16}", session.mux_name)
    assert session.mux_name not in str(session.to_json()) and session.mux_name not in repr(session)
    old = await shell_pid(session, screen)
    session.write("seq 1 500; echo seq-$((2*3)); (sleep 3; echo printed-while-down) &\r")
    await screen.wait_for("seq-6")  # tmux draws: lines come with escapes of its own
    mark = len(screen.text)
    with nhost.dropped():
        await screen.wait_for("The link to box was lost; reconnecting", since=mark, timeout=20)
        await asyncio.sleep(4)  # the job prints while the link is down
    await screen.wait_for("Reconnected to the persistent session", since=mark, timeout=30)
    assert await shell_pid(session, screen) == old, "the same shell"
    history = capture_pane(nhost, session.mux_name)
    # A command typed before the shell's prompt is echoed first and its output follows
    # the prompt on one line ("$ 1"): the prompt is not part of what we look for.
    lines = [line.removeprefix("$ ") for line in history.splitlines()]
    assert "1" in lines and "500" in lines, lines[:20]  # the scrollback, from its start
    assert any(line.endswith("printed-while-down") for line in lines), lines[-20:]
    await eventually_async(
        lambda: screen.text[mark:], lambda t: "printed-while-down" in t, timeout=10
    )

    name = session.mux_name
    await session.stop()
    await eventually_async(lambda: alive(old), lambda a: not a, timeout=10, what="shell gone")
    assert not has_session(nhost, name), "closed for good: the tmux session is gone"
    await eventually_async(
        lambda: [p for p in user_processes(nhost.uid) if "tmux" in p], lambda p: not p
    )


def tmux_as(user: str, host: SSHTestHost, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        as_user_argv(user, ["tmux", *args]),
        capture_output=True,
        text=True,
        check=False,
        timeout=20,
        cwd="/",
    )


def capture_pane(host: SSHTestHost, name: str) -> str:
    result = tmux_as(host.user, host, "capture-pane", "-p", "-S", "-", "-t", f"={name}:")
    assert result.returncode == 0, result.stderr
    return result.stdout


def has_session(host: SSHTestHost, name: str) -> bool:
    return tmux_as(host.user, host, "has-session", "-t", f"={name}").returncode == 0


async def test_another_user_cannot_reach_a_persistent_terminal(
    fast: RemoteManager, mux_host: SSHTestHost
) -> None:
    await box_on(fast, mux_host)
    session, screen = await opened(fast, persistent=True)
    prefix = f"only-mine-{os.urandom(6).hex()}"
    session.write(f"echo {prefix}-$((6*7))\r")
    secret_line = f"{prefix}-42"  # on the screen, not in the command line
    await screen.wait_for(secret_line)
    socket_dir = Path(f"/tmp/tmux-{mux_host.uid}")
    socket = socket_dir / "default"
    info = socket_dir.stat()
    assert info.st_uid == mux_host.uid and stat.S_IMODE(info.st_mode) == 0o700
    assert stat.S_ISSOCK(socket.stat().st_mode)

    # control: the owner reaches it so
    assert has_session(mux_host, session.mux_name)
    # the attacker knows the socket's path and the session's name (ps shows it) ...
    target = f"={session.mux_name}:"
    for args in (
        ("-S", str(socket), "attach", "-t", f"={session.mux_name}"),
        ("-S", str(socket), "capture-pane", "-p", "-t", target),
        ("-S", str(socket), "send-keys", "-t", target, "touch /tmp/pwned", "Enter"),
        ("-S", str(socket), "list-sessions"),
        ("attach", "-t", f"={session.mux_name}"),  # its own default server: another one
    ):
        result = tmux_as(ATTACKER, mux_host, *args)
        assert result.returncode != 0, (args, result.stdout)
        assert secret_line not in result.stdout + result.stderr
    listing = subprocess.run(
        as_user_argv(ATTACKER, ["ls", str(socket_dir)]), capture_output=True, text=True, check=False
    )
    assert listing.returncode != 0 and "Permission denied" in listing.stderr
    assert not Path("/tmp/pwned").exists()
    await session.stop()
    assert not has_session(mux_host, session.mux_name)


async def test_persistent_needs_tmux_and_says_how_to_get_it(
    fast: RemoteManager, jp_asyncio_loop: Any
) -> None:
    bare = SSHTestHost(
        name="termbare",
        user="jrtermmux",
        remote_env=False,
        extra_config={"SetEnv": "PATH=/nonexistent"},
    )
    try:
        await box_on(fast, bare)
        with pytest.raises(ConflictError) as info:
            await open_terminal(fast, "box", persistent=True)
        assert "tmux" in info.value.message and "Install tmux" in info.value.hint
        assert not [s for s in registry.sessions.values() if isinstance(s, TerminalSession)]
        await eventually_async(bare.established_connections, lambda n: n == 0, timeout=10)
    finally:
        bare.close()


@pytest.fixture
def screen_only_host(tmp_path: Path) -> Iterator[SSHTestHost]:
    """A loopback host whose login PATH has screen (and pkill) but no tmux."""
    if not Path("/usr/bin/screen").exists():
        pytest.skip("screen is not installed (scripts/system-deps.sh)")
    bin_dir = Path("/tmp") / f"jrterm-screen-bin-{os.getpid()}"
    bin_dir.mkdir(exist_ok=True)
    for tool in ("screen", "pkill"):
        link = bin_dir / tool
        if not link.exists():
            link.symlink_to(f"/usr/bin/{tool}")
    os.chmod(bin_dir, 0o755)  # noqa: S103 - the remote user runs them
    host = SSHTestHost(
        name="termscreen",
        user="jrtermmux",
        remote_env=False,
        extra_config={"SetEnv": f"PATH={bin_dir}"},
    )
    try:
        yield host
    finally:
        clean_user(host)
        host.close()


async def test_persistent_terminal_with_screen_when_there_is_no_tmux(
    fast: RemoteManager, screen_only_host: SSHTestHost
) -> None:
    host = screen_only_host
    await box_on(fast, host)
    session, screen = await opened(fast, persistent=True)
    assert session.multiplexer == "screen"
    old = await shell_pid(session, screen)
    socket_dir = Path(f"/run/screen/S-{host.user}")
    assert socket_dir.stat().st_uid == host.uid
    assert stat.S_IMODE(socket_dir.stat().st_mode) == 0o700
    mark = len(screen.text)
    with host.outage():
        await screen.wait_for("The link to box was lost; reconnecting", since=mark, timeout=20)
    await screen.wait_for("Reconnected to the persistent session", since=mark, timeout=30)
    assert await shell_pid(session, screen) == old, "the same shell"
    as_attacker = subprocess.run(
        as_user_argv(ATTACKER, ["screen", "-ls", f"{host.user}/"]),
        capture_output=True,
        text=True,
        check=False,
        cwd="/",
    )
    assert session.mux_name not in as_attacker.stdout + as_attacker.stderr
    await session.stop()
    await eventually_async(lambda: alive(old), lambda a: not a, timeout=10, what="shell gone")
    assert not [p for p in os.listdir(socket_dir) if session.mux_name in p], "screen ended"
