"""A program on a remote pseudo-terminal, over a pooled connection.

Called by the terminal sessions (``sessions/terminal.py``): one SSH session channel
with a pty (``term_type``, ``term_size``), opened with asyncssh's ``create_process``
on the server's ONE pooled connection (invariant 1). The command line is fixed text
built by ``sessions/terminal_shell.py``; what the user types travels as data on the
channel, never on a command line. The window follows the user's terminal through
``change_terminal_size`` (SSH's "window-change" request).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any

import asyncssh

from ..errors import SSHConnectError
from ..text import printable

#: bytes read from the pty at a time: what one websocket message carries at most
READ_CHUNK = 64 * 1024
#: the SSH window of a terminal channel: enough for a screenful of fast output, small
#: enough that a remote `yes` stops when the browser cannot keep up (flow control)
PTY_WINDOW = 512 * 1024
TERM_TYPE = "xterm-256color"


@dataclass(frozen=True)
class PtyEnd:
    """How a remote pty program ended: ``status`` (its exit code), ``signal`` (the name of
    the signal that killed it), or neither (the channel closed without saying: the link
    or the remote's sshd)."""

    status: int | None
    signal: str | None

    @property
    def said(self) -> bool:
        """True when the remote said how the program ended (it really ended)."""
        return self.status is not None or self.signal is not None


class Pty:
    """A remote program on a pty: write keystrokes, read its screen output, resize."""

    def __init__(self, proc: Any) -> None:
        self._proc = proc

    @classmethod
    async def open(cls, conn: Any, command: str, *, cols: int, rows: int) -> Pty:
        """Start ``command`` (fixed text) on a new pty of ``cols`` x ``rows``.

        Raises SSHConnectError when the channel cannot be opened (link down, the sshd
        refuses a pty or a session)."""
        try:
            proc = await conn.create_process(
                command,
                term_type=TERM_TYPE,
                term_size=(cols, rows),
                encoding=None,
                window=PTY_WINDOW,
            )
        except (asyncssh.Error, OSError) as exc:
            raise SSHConnectError(
                f"Could not open a terminal: {printable(str(exc) or type(exc).__name__)}",
                hint="Check that the server's sshd allows a pty (PermitTTY yes).",
            ) from None
        return cls(proc)

    async def read(self) -> bytes:
        """The next output of the program (b"" once the channel is closed)."""
        try:
            return bytes(await self._proc.stdout.read(READ_CHUNK))
        except (asyncssh.Error, OSError):
            return b""

    def write(self, data: bytes) -> None:
        """Keystrokes (or pasted text) to the program; dropped when the channel is gone."""
        with contextlib.suppress(Exception):
            self._proc.stdin.write(data)

    async def drain(self) -> None:
        """Until what was written has left (flow control for large pastes)."""
        with contextlib.suppress(Exception):
            await self._proc.stdin.drain()

    def resize(self, cols: int, rows: int) -> None:
        """The user's terminal changed size: tell the remote pty (SIGWINCH there)."""
        with contextlib.suppress(Exception):
            self._proc.change_terminal_size(cols, rows)

    def close(self) -> None:
        """Close the channel: the remote pty hangs up (SIGHUP to its session leader)."""
        with contextlib.suppress(Exception):
            self._proc.close()

    async def wait_end(self, timeout: float = 5.0) -> PtyEnd:
        """Until the channel is closed; how the program ended."""
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._proc.wait_closed(), timeout)
        signal = self._proc.exit_signal
        if signal:  # asyncssh then reports the status as -1
            return PtyEnd(None, str(signal[0]))
        return PtyEnd(self._proc.exit_status, None)
