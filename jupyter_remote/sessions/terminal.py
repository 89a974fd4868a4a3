"""A terminal on the remote: a shell on an SSH pty, as a session like kernels and forwards.

Opened by the REST handlers (``web/terminals.py``, for JupyterLab's terminal widget
over ``/remote/servers/NAME/terminals/ID/websocket``) and by ``jupyter remote terminal``.
A :class:`TerminalSession` holds a lease on the server's ONE pooled connection and runs
the user's login shell on a pty there (``ssh/pty.py``); what the shell prints goes to
every attached client (a browser tab, the CLI) and into a bounded replay buffer, so a
reloaded page gets its screen back, as Jupyter's own terminals do.

When the link drops (``LinkedSession``'s state machine): the terminal says so, and when
the session reconnects it opens a new pty and says that the old shell is gone (and
hangs up what that shell left, should the remote not have noticed the drop). A
*persistent* terminal runs in a tmux (or, without tmux, screen) session of its own
instead (a random name, on the tool's per-user socket in a 0700 directory), which
survives the drop: the new pty
reattaches to it. Closing the terminal for good (the tab, Stop, DELETE) ends the shell
and everything it started on that pty (the tmux or screen session too).
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import logging
import secrets
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from ..context import RemoteContext
from ..errors import ConflictError, RemoteError, ValidationError
from ..ssh.exec import run
from ..ssh.pty import Pty, PtyEnd
from . import terminal_shell as sh
from .linked import LinkedSession
from .roster import registry, session_fields

log = logging.getLogger(__name__)

KIND = "terminal"
#: output kept for a client that attaches later (a reloaded page), in characters
REPLAY_CHARS = 256 * 1024
MAX_SIZE = 1000  # rows or columns: more is a broken client
#: a client is told the terminal's output; it returns once it took it (flow control)
OutputSink = Callable[[str], Awaitable[None]]
#: a client is told the terminal ended, with the shell's exit status (None: unknown)
EndSink = Callable[[int | None], None]
CLEANUP_TIMEOUT = 10.0


def notice(text: str) -> str:
    """A line of ours in the terminal, set apart from the shell's output (dim, own line)."""
    return f"\r\n\x1b[2m[jupyter-remote] {text}\x1b[0m\r\n"


def validate_size(rows: Any, cols: Any) -> tuple[int, int]:
    """(rows, cols) as ints in 1..MAX_SIZE."""
    size = []
    for what, value in (("rows", rows), ("cols", cols)):
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_SIZE:
            raise ValidationError(
                f"{what} must be a whole number from 1 to {MAX_SIZE}.", field=what
            )
        size.append(value)
    return size[0], size[1]


@dataclass(eq=False)
class _Client:
    output: OutputSink
    ended: EndSink


@dataclass
class TerminalSession(LinkedSession):
    """One remote terminal: lease, pty, clients, replay; reconnects (see LinkedSession)."""

    persistent: bool = False
    rows: int = 24
    cols: int = 80
    id: str = field(default_factory=lambda: f"term-{secrets.token_hex(6)}")
    #: the Jupyter user who opened it (for the record; every request is authorized anyway)
    owner: Any = field(default=None, repr=False, compare=False)
    multiplexer: str = ""
    mux_name: str = field(default="", repr=False)
    exit_status: int | None = None
    _pty: Pty | None = None
    _sid: int | None = None  # the session id of the current pty on the remote
    _stale_sid: int | None = None  # that of a pty lost with the link, to hang up
    _reader: asyncio.Task[None] | None = None
    _clients: list[_Client] = field(default_factory=list)
    _replay: deque[str] = field(default_factory=deque)
    _replay_chars: int = 0
    _ended: asyncio.Event = field(default_factory=asyncio.Event)
    _notices: set[asyncio.Future[None]] = field(default_factory=set)

    lost_reason = "the SSH connection was lost; reconnecting"

    # ------------------------------------------------------------ view

    def to_json(self) -> dict[str, Any]:
        return {
            **session_fields(self, id=self.id, kind=KIND),
            "persistent": self.persistent,
            "multiplexer": self.multiplexer,
            "rows": self.rows,
            "cols": self.cols,
            "exit_status": self.exit_status,
        }

    def _set(self, state: str, reason: str = "") -> None:
        who = f"terminal {self.id} on {self.server}"
        if registry.set_state(self, log, who, state, reason) and state == "disconnected":
            self._say(f"Disconnected: {reason} Use Retry on the session card to try again.")

    # ------------------------------------------------------------ clients

    def attach(self, output: OutputSink, ended: EndSink) -> tuple[str, Callable[[], None]]:
        """A client (a websocket, the CLI) joins: what the terminal showed so far (the
        replay) and a function that detaches it. Called by TerminalSocket.open."""
        client = _Client(output, ended)
        self._clients.append(client)

        def detach() -> None:
            with contextlib.suppress(ValueError):
                self._clients.remove(client)

        return "".join(self._replay), detach

    def write(self, text: str) -> None:
        """Keystrokes from a client; dropped while the link is down (the terminal says so)."""
        if self._pty is not None and self.link_up:
            self._pty.write(text.encode("utf-8", "replace"))

    def resize(self, rows: Any, cols: Any) -> None:
        """A client's terminal changed size (JupyterLab's ``set_size``): the pty follows."""
        self.rows, self.cols = validate_size(rows, cols)
        if self._pty is not None:
            self._pty.resize(self.cols, self.rows)

    async def wait_ended(self) -> int | None:
        """Until the terminal ended (shell exited or closed); the shell's exit status."""
        await self._ended.wait()
        return self.exit_status

    def _keep(self, text: str) -> None:
        self._replay.append(text)
        self._replay_chars += len(text)
        while self._replay_chars > REPLAY_CHARS and len(self._replay) > 1:
            self._replay_chars -= len(self._replay.popleft())

    async def _show(self, text: str) -> None:
        """Output to every client (and the replay); returns once each took it."""
        if not text:
            return
        self._keep(text)
        clients = list(self._clients)
        if clients:
            await asyncio.gather(*(c.output(text) for c in clients), return_exceptions=True)

    def _say(self, text: str) -> None:
        """A notice of ours in the terminal (link lost, reattached, the shell is new)."""
        task = asyncio.ensure_future(self._show(notice(text)))
        self._notices.add(task)
        task.add_done_callback(self._notices.discard)

    # ------------------------------------------------------------ open / close

    async def open(self) -> TerminalSession:
        """Connect, start the shell; errors propagate (nothing stays open or registered)."""
        self.rows, self.cols = validate_size(self.rows, self.cols)
        self.endpoint = await self.manager.endpoint(self.server)  # 400/404 before anything
        registry.sessions[self.id] = self
        registry.emit({"type": "session", "session": self.to_json()})
        try:
            self.lease = await self.manager.pool.acquire(self.endpoint)
            if self.persistent:
                await self._choose_multiplexer()
            await self._start_pty()
        except BaseException as exc:
            await self._drop_lease()
            registry.sessions.pop(self.id, None)
            self._closing = True
            self._set("stopped", exc.message if isinstance(exc, RemoteError) else "cancelled")
            self._ended.set()
            raise
        self._set("running")
        self._watch_in_background()
        return self

    async def _choose_multiplexer(self) -> None:
        assert self.lease is not None
        found = await available_multiplexers(self.lease.conn)
        if not found:
            raise ConflictError(
                f"A persistent terminal needs tmux or screen on {self.server}; neither is "
                "on the login PATH there.",
                hint="Install tmux (or screen) on the remote (e.g. apt install tmux), or "
                "open a plain terminal.",
            )
        self.multiplexer, self.mux_name = found[0], sh.new_mux_name()

    def _command(self) -> str:
        if self.persistent:
            return sh.attach_command(self.multiplexer, self.mux_name)
        return sh.shell_command()

    async def _start_pty(self) -> None:
        """A new pty on the current lease, and the task that reads it."""
        assert self.lease is not None
        pty = await Pty.open(self.lease.conn, self._command(), cols=self.cols, rows=self.rows)
        self._pty, self._sid = pty, None
        self._reader = asyncio.ensure_future(self._read(pty))

    async def _read(self, pty: Pty) -> None:
        """Pump the pty's output to the clients until it ends; then see why it ended."""
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        marker = sh.MarkerFilter()
        while True:
            data = await pty.read()
            if not data:
                break
            shown = marker.feed(data)
            if marker.sid is not None and self._pty is pty:
                self._sid = marker.sid
            await self._show(decoder.decode(shown))
        await self._show(decoder.decode(marker.flush(), final=True))
        end = await pty.wait_end()
        if self._pty is pty and not self._closing:
            await self._pty_ended(end)

    async def _pty_ended(self, end: PtyEnd) -> None:
        """The pty's channel closed: the shell exited, or the link went (the watch then
        reconnects), or the remote closed it without saying why."""
        if not end.said:
            await asyncio.sleep(1.0)  # the pool hears of a lost link a moment later
            if self._closing or self.lease is None or self.lease.lost:
                return
        self.exit_status = end.status
        how = f"with status {end.status}" if end.signal is None else f"on signal {end.signal}"
        if not end.said:
            how = "without an exit status (the remote closed it)"
        self._say(f"The shell exited {how}.")
        await self._finish(f"the shell exited {how}")

    async def stop(self) -> None:
        """Close for good (the tab, Stop, DELETE): the shell and what it started end, a
        persistent terminal's tmux or screen session too; the lease is released."""
        if self._closing:
            await self._ended.wait()
            return
        await self._finish("closed")

    close = stop

    async def _finish(self, reason: str) -> None:
        self._closing = True
        await self._stop_watching()
        pty, self._pty = self._pty, None
        if pty is not None:
            pty.close()
        await self._clean_remote(self._sid, self._stale_sid)
        await self._drop_lease()
        registry.sessions.pop(self.id, None)
        self._set("stopped", reason)
        if self._notices:  # the last words reach the clients before the end does
            await asyncio.wait(set(self._notices), timeout=CLEANUP_TIMEOUT)
        self._ended.set()
        for client in list(self._clients):
            with contextlib.suppress(Exception):
                client.ended(self.exit_status)
        self._clients.clear()

    async def _clean_remote(self, *sids: int | None) -> None:
        """Hang up what is left of our ptys' sessions; end the tmux or screen session. Best
        effort: with the link down there is nothing to reach (that session then stays)."""
        if self.lease is None or self.lease.lost:
            return
        commands = [sh.hangup_command(sid) for sid in sids if sid]
        if self.persistent and self.mux_name:
            commands.insert(0, sh.kill_session_command(self.multiplexer, self.mux_name))
        for command in commands:
            with contextlib.suppress(RemoteError, OSError):
                await run(self.lease.conn, command, timeout=CLEANUP_TIMEOUT, where=self.server)

    # ------------------------------------------------------------ reconnect

    async def _on_link_lost(self) -> None:
        pty, self._pty = self._pty, None
        if pty is not None:
            pty.close()
        self._stale_sid = self._sid or self._stale_sid
        if self.persistent:
            self._say(
                f"The link to {self.server} was lost; reconnecting. The shell keeps running there."
            )
        else:
            self._say(f"The link to {self.server} was lost; reconnecting.")

    async def _on_reconnected(self) -> None:
        assert self.lease is not None
        stale, kept = self._stale_sid, True
        if stale:  # the remote may not have noticed: hang the old pty up now
            await run(self.lease.conn, sh.hangup_command(stale), timeout=CLEANUP_TIMEOUT)
            self._stale_sid = None
        if self.persistent:
            kept = await self._mux_session_exists()
        await self._start_pty()
        if not self.persistent:
            self._say("Reconnected. This is a new shell: the previous one ended with the link.")
        elif kept:
            self._say("Reconnected to the persistent session.")
        else:
            self._say("Reconnected, but the persistent session was gone; this is a new one.")

    async def _mux_session_exists(self) -> bool:
        assert self.lease is not None
        result = await run(
            self.lease.conn,
            sh.has_session_command(self.multiplexer, self.mux_name),
            timeout=CLEANUP_TIMEOUT,
        )
        return result.exit_status == 0


# ---------------------------------------------------------------- helpers for callers


async def available_multiplexers(conn: Any) -> list[str]:
    """Which of tmux and screen the remote has on its login PATH, preferred first (one exec)."""
    result = await run(conn, sh.multiplexers_command(), timeout=30.0)
    lines = {line.strip() for line in result.stdout.splitlines()}
    return [name for name in sh.MULTIPLEXERS if name in lines]


async def open_terminal(
    manager: RemoteContext,
    server: Any,
    *,
    persistent: Any = False,
    rows: Any = 24,
    cols: Any = 80,
    owner: Any = None,
) -> TerminalSession:
    """Validate, connect and start the shell; the session is registered once it runs.

    Called by TerminalsHandler.post (``owner`` = the Jupyter user asking) and the CLI.
    """
    if not isinstance(server, str) or not server:
        raise ValidationError("server must be the name of a saved server.", field="server")
    if not isinstance(persistent, bool):
        raise ValidationError("persistent must be true or false.", field="persistent")
    rows, cols = validate_size(rows, cols)
    session = TerminalSession(
        manager, server, persistent=persistent, rows=rows, cols=cols, owner=owner
    )
    return await session.open()


def terminal_sessions(server: str | None = None) -> list[TerminalSession]:
    """The terminals of this process (of ``server`` only, when given)."""
    return [
        s
        for s in list(registry.sessions.values())
        if isinstance(s, TerminalSession) and (server is None or s.server == server)
    ]


def get_terminal(session_id: str, server: str | None = None) -> TerminalSession | None:
    session = registry.sessions.get(session_id)
    if not isinstance(session, TerminalSession):
        return None
    return session if server is None or session.server == server else None


async def stop_all(manager: RemoteContext | None = None) -> None:
    """Close every terminal (of ``manager``): server shutdown."""
    for session in terminal_sessions():
        if manager is None or session.manager is manager:
            with contextlib.suppress(Exception):
                await session.stop()
