"""Terminals on the remote (issue 14 item 3): a shell on an SSH pty, over the one pooled
connection; REST and the websocket JupyterLab's terminal widget speaks; the CLI.

Against a real OpenSSH sshd, as the remote user ``jrterm`` (these tests kill that user's
leftover processes and tmux sessions). What a shell prints is read from the terminal
itself (a client attached to the session, or the websocket); what is left on the remote
is read as root from /proc (the test host is this machine). Link cuts and persistent
terminals across them: tests/test_terminal_faults.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pty
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError

from jupyter_remote.manager import RemoteManager
from jupyter_remote.sessions import registry
from jupyter_remote.sessions import terminal as terminals
from jupyter_remote.sessions.terminal import TerminalSession, open_terminal
from tests.harness.cli import CLI, add_box
from tests.harness.remote_state import clean_user, user_processes
from tests.harness.rest import call, expect_error_body, save_box
from tests.harness.servers import server_input, trust_host
from tests.harness.sshd_host import IS_ROOT, SSHTestHost
from tests.harness.terminals import Screen
from tests.harness.waiting import eventually, eventually_async

pytestmark = pytest.mark.skipif(not IS_ROOT, reason="needs a remote user of its own (root)")
USER = "jrterm"


@pytest.fixture(scope="module")
def term_host() -> Iterator[SSHTestHost]:
    host = SSHTestHost(name="term", user=USER, remote_env=False)
    clean_user(host)
    try:
        yield host
    finally:
        clean_user(host)
        host.close()


def processes(host: SSHTestHost, needle: str) -> list[str]:
    """The remote user's processes whose command line holds NEEDLE."""
    return [p for p in user_processes(host.uid) if needle in p.split(" ", 1)[1]]


@pytest.fixture
def box(manager: RemoteManager, term_host: SSHTestHost, jp_asyncio_loop: Any) -> Iterator[str]:
    """Server `box` for the test host in the manager's store; every terminal closed after."""
    trust_host(manager.store, term_host)
    jp_asyncio_loop.run_until_complete(manager.add_server(server_input(term_host)))
    yield "box"
    jp_asyncio_loop.run_until_complete(terminals.stop_all())


@pytest.fixture
def rest_box(jp_fetch: Any, term_host: SSHTestHost, jp_asyncio_loop: Any) -> Iterator[str]:
    """Server `box` saved over REST; every terminal closed after."""
    jp_asyncio_loop.run_until_complete(save_box(jp_fetch, term_host))
    yield "box"
    jp_asyncio_loop.run_until_complete(terminals.stop_all())


async def opened(manager: RemoteManager, **kw: Any) -> tuple[TerminalSession, Screen]:
    session = await open_terminal(manager, "box", **kw)
    screen = Screen()
    replay, _detach = session.attach(screen.output, screen.ended)
    screen.text += replay
    return session, screen


async def test_shell_on_a_pty_runs_commands_and_follows_the_size(
    manager: RemoteManager, box: str, term_host: SSHTestHost
) -> None:
    session, screen = await opened(manager, rows=24, cols=80)
    try:
        assert session.state == "running" and session.to_json()["kind"] == "terminal"
        assert session.id in registry.sessions
        session.write("whoami; echo $TERM; stty size\r")
        await screen.wait_for(rf"{term_host.user}\r\nxterm-256color\r\n24 80\r\n")
        session.resize(31, 101)
        session.write("stty size\r")
        await screen.wait_for(r"31 101\r\n")
        assert session.to_json()["rows"] == 31 and session.to_json()["cols"] == 101
        session.write("printf '\\033[31mred\\033[0m\\n'\r")  # colours pass as they are
        await screen.wait_for("\x1b\\[31mred\x1b\\[0m")
        assert "jr-pty" not in screen.text, "the session-leader marker is taken out"
        assert manager.pool.open_count() == 1 and term_host.established_connections() == 1
    finally:
        await session.stop()
    assert session.state == "stopped" and session.id not in registry.sessions
    await eventually_async(term_host.established_connections, lambda n: n == 0, timeout=10)


async def test_two_terminals_share_the_one_connection(
    manager: RemoteManager, box: str, term_host: SSHTestHost
) -> None:
    (one, a), (two, b) = await asyncio.gather(opened(manager), opened(manager))
    try:
        one.write("echo one-$((40+1))\r")
        two.write("echo two-$((40+2))\r")
        await a.wait_for("one-41")
        await b.wait_for("two-42")
        assert "two-42" not in a.text and "one-41" not in b.text
        assert term_host.established_connections() == 1
    finally:
        await one.stop()
        await two.stop()


async def test_close_ends_the_shell_and_everything_it_started(
    manager: RemoteManager, box: str, term_host: SSHTestHost
) -> None:
    session, screen = await opened(manager)
    session.write("sleep 4242 & sleep 4343 & echo shell=$$\r")
    shell = int((await screen.wait_for(r"shell=(\d+)\r\n")).group(1))
    session.write("sleep 4444\r")  # and one in the foreground
    await eventually_async(lambda: processes(term_host, "sleep 4"), lambda p: len(p) == 3)
    assert Path(f"/proc/{shell}").exists()
    await session.stop()
    await eventually_async(
        lambda: processes(term_host, "sleep 4") or Path(f"/proc/{shell}").exists(),
        lambda left: not left,
        timeout=10,
        what="the shell and its jobs gone",
    )
    await eventually_async(  # the sshd's own session processes go with the connection
        lambda: user_processes(term_host.uid), lambda left: not left, timeout=10
    )
    assert "[Finished" not in screen.text and screen.ended_with == [None]


async def test_exit_ends_the_terminal_with_the_shells_status(
    manager: RemoteManager, box: str, term_host: SSHTestHost
) -> None:
    session, screen = await opened(manager)
    session.write("exit 7\r")
    assert await asyncio.wait_for(session.wait_ended(), 10) == 7
    assert session.state == "stopped" and "status 7" in session.reason
    assert session.id not in registry.sessions and screen.ended_with == [7]
    assert "The shell exited with status 7." in screen.text
    await eventually_async(term_host.established_connections, lambda n: n == 0, timeout=10)


async def test_hostile_input_is_refused_and_opens_nothing(
    manager: RemoteManager, box: str, term_host: SSHTestHost
) -> None:
    from jupyter_remote.errors import NotFoundError, ValidationError

    for kw in (
        {"rows": 0},
        {"cols": 10**6},
        {"rows": "24"},
        {"persistent": "yes"},
        {"rows": True},
    ):
        with pytest.raises(ValidationError):
            await open_terminal(manager, "box", **kw)
    with pytest.raises(ValidationError):
        await open_terminal(manager, "")
    with pytest.raises(NotFoundError):
        await open_terminal(manager, "nope")
    assert not [s for s in registry.sessions.values() if isinstance(s, TerminalSession)]
    assert term_host.established_connections() == 0


# ------------------------------------------------------------------ REST and websocket


async def test_rest_and_the_websocket_as_jupyterlabs_terminal_widget_uses_them(
    jp_fetch: Any, jp_ws_fetch: Any, rest_box: str, term_host: SSHTestHost
) -> None:
    created = await call(
        jp_fetch, "POST", "remote", "servers", "box", "terminals", body={"rows": 20, "cols": 70}
    )
    assert created.code == 201
    term = json.loads(created.body)
    tid = term["id"]
    assert term["kind"] == "terminal" and term["server"] == "box" and not term["persistent"]
    assert re.fullmatch(r"term-[0-9a-f]{12}", tid)
    listed = json.loads((await call(jp_fetch, "GET", "remote", "servers", "box", "terminals")).body)
    assert [t["id"] for t in listed] == [tid]
    sessions = json.loads((await call(jp_fetch, "GET", "remote", "sessions")).body)
    assert tid in [s["id"] for s in sessions]

    ws = await jp_ws_fetch("remote", "servers", "box", "terminals", tid, "websocket")
    assert json.loads(await ws.read_message()) == ["setup", {}]
    ws.write_message(json.dumps(["set_size", 33, 99, 600, 800]))
    ws.write_message(json.dumps(["stdin", "stty size; whoami\r"]))
    seen = await read_until(ws, rf"33 99\r\n{term_host.user}\r\n")
    ws.close()

    # a reloaded page connects again and gets the screen so far (then the output)
    again = await jp_ws_fetch("remote", "servers", "box", "terminals", tid, "websocket")
    assert json.loads(await again.read_message()) == ["setup", {}]
    replay = json.loads(await again.read_message())
    assert replay[0] == "stdout" and seen in replay[1]
    again.write_message(json.dumps(["stdin", "echo after-$((1+1))\r"]))
    await read_until(again, "after-2")
    # junk on the socket changes nothing
    for junk in ("not json", "[]", '["set_size", -1, "x"]', '["stdin", 5]', '{"a": 1}'):
        again.write_message(junk)
    again.write_message(json.dumps(["stdin", "echo still-$((2+1))\r"]))
    await read_until(again, "still-3")

    assert (
        await call(jp_fetch, "DELETE", "remote", "servers", "box", "terminals", tid)
    ).code == 204
    assert await read_messages_until_closed(again) == ["disconnect", 1]
    body = await expect_error_body(
        jp_fetch, 404, "GET", "remote", "servers", "box", "terminals", tid
    )
    assert body["reason"] == "not_found" and body["hint"]
    with pytest.raises(HTTPClientError) as info:
        await jp_ws_fetch("remote", "servers", "box", "terminals", tid, "websocket")
    assert info.value.code == 404
    await eventually_async(term_host.established_connections, lambda n: n == 0, timeout=10)


async def test_rest_refuses_hostile_bodies(jp_fetch: Any, rest_box: str) -> None:
    for body in ({"rows": -1}, {"server": "x"}, {"persistent": 1}, [1], {"cols": "80"}, " \n\t "):
        answer = await expect_error_body(
            jp_fetch, 400, "POST", "remote", "servers", "box", "terminals", body=body
        )
        assert answer["message"] and "reason" in answer
    await expect_error_body(jp_fetch, 404, "POST", "remote", "servers", "nope", "terminals")
    await expect_error_body(jp_fetch, 404, "GET", "remote", "servers", "nope", "terminals")
    await expect_error_body(jp_fetch, 400, "GET", "remote", "servers", "%0F", "terminals")
    await expect_error_body(jp_fetch, 404, "DELETE", "remote", "servers", "box", "terminals", "x")
    assert not [s for s in registry.sessions.values() if isinstance(s, TerminalSession)]


async def test_stop_on_the_session_card_closes_the_terminal(
    jp_fetch: Any, jp_ws_fetch: Any, rest_box: str, term_host: SSHTestHost
) -> None:
    tid = json.loads((await call(jp_fetch, "POST", "remote", "servers", "box", "terminals")).body)[
        "id"
    ]
    ws = await jp_ws_fetch("remote", "servers", "box", "terminals", tid, "websocket")
    assert json.loads(await ws.read_message()) == ["setup", {}]
    assert (await call(jp_fetch, "DELETE", "remote", "sessions", tid)).code == 204
    assert await read_messages_until_closed(ws) == ["disconnect", 1]
    assert tid not in registry.sessions


async def read_until(ws: Any, pattern: str, timeout: float = 15) -> str:
    """Read stdout messages until their text matches PATTERN; the text."""
    text = ""
    deadline = time.monotonic() + timeout
    while not re.search(pattern, text):
        left = deadline - time.monotonic()
        assert left > 0, f"waited for {pattern!r}; saw {text[-2000:]!r}"
        message = await asyncio.wait_for(ws.read_message(), left)
        assert message is not None, f"the websocket closed; saw {text[-2000:]!r}"
        kind, *content = json.loads(message)
        if kind == "stdout":
            text += content[0]
    return text


async def read_messages_until_closed(ws: Any, timeout: float = 10) -> Any:
    """The last message before the websocket closed."""
    last = None
    while True:
        message = await asyncio.wait_for(ws.read_message(), timeout)
        if message is None:
            return last
        last = json.loads(message)


# ------------------------------------------------------------------ the CLI


def test_cli_terminal_is_an_interactive_pty_that_exits_with_the_shells_status(
    cli_env: dict[str, str], term_host: SSHTestHost
) -> None:
    add_box(cli_env, term_host)
    subprocess.run(
        [CLI, "server", "test", "box", "--trust"], env=cli_env, check=True, capture_output=True
    )
    controller, terminal = pty.openpty()
    os.set_blocking(controller, False)
    proc = subprocess.Popen(
        [CLI, "terminal", "box"], env=cli_env, stdin=terminal, stdout=terminal, stderr=terminal
    )
    os.close(terminal)
    seen = b""

    def read() -> bytes:
        nonlocal seen
        with contextlib.suppress(BlockingIOError, OSError):
            seen += os.read(controller, 65536)
        return seen

    try:
        os.write(controller, b"whoami; stty size; echo $((6*7))\r")
        eventually(read, lambda s: b"42\r\n" in s, timeout=20)
        assert f"{term_host.user}\r\n".encode() in seen
        os.write(controller, b"exit 5\r")
        assert proc.wait(timeout=20) == 5
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(controller)
    eventually(term_host.established_connections, lambda n: n == 0, timeout=10)
