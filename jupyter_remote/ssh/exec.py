"""Run one command on a pooled connection, feeding stdin; the only exec helper.

Callers (discovery, the kernel agent client, server test) pass a command line
built with shlex from fixed text and quoted values; data goes on stdin.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import asyncssh

from ..errors import RemoteCommandError, SSHConnectError, SSHTimeoutError


@dataclass(frozen=True)
class ExecResult:
    exit_status: int | None
    stdout: str
    stderr: str


async def run(conn: Any, command: str, *, stdin: bytes = b"", timeout: float = 60.0) -> ExecResult:
    """One exec request: write ``stdin``, close it, collect output, within ``timeout``."""
    try:
        result = await asyncio.wait_for(
            conn.run(command, input=stdin, encoding=None, check=False), timeout=timeout
        )
    except asyncio.TimeoutError:
        raise SSHTimeoutError(
            f"The remote command did not finish within {timeout:.0f} s."
        ) from None
    except (asyncssh.ChannelOpenError, asyncssh.DisconnectError, ConnectionError, OSError) as exc:
        raise SSHConnectError(f"The SSH connection failed while running a command: {exc}") from None
    out = result.stdout or b""
    err = result.stderr or b""
    return ExecResult(
        result.exit_status,
        out.decode("utf-8", "replace") if isinstance(out, bytes) else str(out),
        err.decode("utf-8", "replace") if isinstance(err, bytes) else str(err),
    )


async def stream(
    conn: Any, command: str, on_line: Callable[[str], None], *, timeout: float = 900.0
) -> int:
    """Run ``command``, calling ``on_line`` for each line of stdout+stderr; exit status."""
    try:
        async with conn.create_process(command, stderr=asyncssh.STDOUT) as proc:
            proc.stdin.write_eof()

            async def pump() -> None:
                async for line in proc.stdout:
                    on_line(str(line).rstrip("\n"))

            await asyncio.wait_for(pump(), timeout=timeout)
            completed = await proc.wait()
    except asyncio.TimeoutError:
        raise SSHTimeoutError(
            f"The remote command did not finish within {timeout:.0f} s."
        ) from None
    except (asyncssh.ChannelOpenError, asyncssh.DisconnectError, ConnectionError, OSError) as exc:
        raise SSHConnectError(f"The SSH connection failed while running a command: {exc}") from None
    return int(completed.exit_status if completed.exit_status is not None else 255)


class HeldProcess:
    """A remote process kept open for as long as we hold it (see AgentClient.hold_presence)."""

    def __init__(self, proc: Any) -> None:
        self._proc = proc

    @classmethod
    async def start(
        cls, conn: Any, command: str, stdin: bytes, *, timeout: float = 30.0
    ) -> HeldProcess:
        """Start ``command``, write ``stdin`` without closing it, wait for its first line."""
        try:
            proc = await conn.create_process(command, encoding=None)
            proc.stdin.write(stdin)
            line = await asyncio.wait_for(proc.stdout.readline(), timeout)
        except (asyncio.TimeoutError, asyncssh.Error, OSError) as exc:
            raise SSHConnectError(
                f"Could not start a remote helper: {exc or type(exc).__name__}"
            ) from None
        if not line:
            raise RemoteCommandError("A remote helper exited at once.")
        return cls(proc)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._proc.stdin.write_eof()
        with contextlib.suppress(Exception):
            self._proc.close()


def is_connection_error(exc: BaseException) -> bool:
    """True when ``exc`` means the link, not the remote, failed (tunnel down != kernel dead)."""
    return isinstance(exc, (SSHConnectError, asyncssh.Error, ConnectionError, OSError)) and not (
        isinstance(exc, RemoteCommandError)
    )
