"""Byte streams to a kernel's relay on the remote, over a pooled connection.

Called by the local side of a kernel's relay (``kernels/relay_link.py``) after each
(re)connect. The target says how the stream gets there:

- a unix socket path: a unix-socket forward (``direct-streamlocal``) to the relay's
  private socket (the default);
- a port: a TCP forward to the relay's port on the remote's 127.0.0.1 (a server's
  explicit "tcp" channel transport);
- an :class:`ExecTarget`: an exec channel running the agent's ``connect`` operation,
  which pipes its stdin/stdout to the relay's socket (``remote/connector.py``). For a
  server whose sshd forbids all forwarding ("exec" channel transport), and for a kernel
  in a Slurm job, where the command is ``srun --jobid=J --overlap ...`` on the login
  node and the bytes cross Slurm's own step I/O to the compute node.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any

from ..errors import RemoteCommandError, SSHConnectError
from ..remote.protocol import STREAM_MARKER
from ..text import RemoteJSONError, parse_remote_json, printable

#: SSH flow-control window of a relay stream: asyncssh's default (2 MiB) allows only
#: ~2 MiB per round trip, 20 MB/s on a 50 ms link; 16 MiB lifts that ceiling ~8x
RELAY_WINDOW = 16 * 1024 * 1024
#: Login noise (startup files that print) tolerated before the connector's answer line.
MAX_NOISE = 64 * 1024
STDERR_KEEP = 4096


@dataclass(frozen=True)
class ExecTarget:
    """A relay reached through a command: its line (fixed text and quoted values) and
    what to write on its stdin first (the agent script and its ``connect`` request)."""

    command: str
    stdin: bytes
    where: str = "the remote host"


async def open_stream(
    conn: Any, target: str | int | ExecTarget, *, window: int = RELAY_WINDOW
) -> Any:
    """(reader, writer) to ``target`` on the remote: a unix socket path, a port of the
    remote's 127.0.0.1, or an :class:`ExecTarget`. Raises what the connection raises (the
    caller maps it), or RemoteCommandError when a connector answers that it cannot."""
    if isinstance(target, ExecTarget):
        return await _open_exec(conn, target, window)
    if isinstance(target, int):
        return await conn.open_connection("127.0.0.1", target, window=window)
    return await conn.open_unix_connection(target, window=window)


async def _open_exec(conn: Any, target: ExecTarget, window: int) -> Any:
    """Run the connector; once it says it reached the relay, its stdout and stdin are
    the stream (what it sent after its answer line is read first)."""
    writer, reader, stderr = await conn.open_session(target.command, encoding=None, window=window)
    errors = _StderrTail(stderr)
    try:
        writer.write(target.stdin)
        answer, rest = await _answer(reader, errors, target.where)
    except BaseException:
        writer.close()
        raise
    if (error := refused(answer)) is not None:
        writer.close()
        raise error
    return _Prefixed(reader, rest), writer


async def _answer(reader: Any, errors: _StderrTail, where: str) -> tuple[dict[str, Any], bytes]:
    """The connector's JSON answer after the marker, and the stream bytes read past it."""
    data = b""
    while (found := find_answer(data, where)) is None:
        chunk = await reader.read(65536)
        if not chunk:
            await asyncio.sleep(0.1)  # let stderr's last words arrive
            raise no_answer(where, errors.text())
        data += chunk
    return found


def no_answer(where: str, stderr: str) -> SSHConnectError:
    """The connector's stdout ended before its answer line (``stderr``: its last words)."""
    return SSHConnectError(
        f"The relay connector on {where} ended without answering: {stderr or 'no message'}"
    )


def find_answer(data: bytes, where: str) -> tuple[dict[str, Any], bytes] | None:
    """A connector's JSON answer after the marker in what its stdout gave so far, and the
    stream bytes past its line; None until the line is whole. Raises RemoteCommandError
    for a bad answer or more than MAX_NOISE bytes of login noise before it."""
    marker = STREAM_MARKER.encode()
    at = data.find(marker)
    end = data.find(b"\n", at) if at >= 0 else -1
    if end < 0:
        if len(data) > MAX_NOISE:
            raise RemoteCommandError(
                f"The relay connector on {where} did not answer (too much other output).",
                hint="The login's startup files (~/.profile, ~/.bashrc) should print nothing "
                "on a non-interactive login.",
            )
        return None
    line = data[at + len(marker) : end].decode("utf-8", "replace")
    try:
        answer = parse_remote_json(line, max_depth=4, max_items=100)
    except RemoteJSONError as exc:
        raise RemoteCommandError(f"The relay connector on {where} answered badly: {exc}") from None
    if not isinstance(answer, dict):
        raise RemoteCommandError(f"The relay connector on {where} answered badly.")
    return answer, data[end + 1 :]


def refused(answer: dict[str, Any]) -> RemoteCommandError | None:
    """The connector's answer said it cannot reach the relay: why, and the fix."""
    if answer.get("ok"):
        return None
    return RemoteCommandError(
        printable(str(answer.get("error") or "the relay connector failed")[:500]),
        hint=printable(str(answer.get("hint") or "")[:500]),
    )


class _StderrTail:
    """Reads a channel's stderr to its end (an unread stream would stall the channel),
    keeping its last bytes for an error message."""

    def __init__(self, stderr: Any) -> None:
        self._tail = b""
        self._task = asyncio.ensure_future(self._drain(stderr))

    async def _drain(self, stderr: Any) -> None:
        with contextlib.suppress(Exception):
            while chunk := await stderr.read(65536):
                self._tail = (self._tail + chunk)[-STDERR_KEEP:]

    def text(self) -> str:
        return printable(self._tail.decode("utf-8", "replace").strip(), keep_newlines=True)


class _Prefixed:
    """A reader that gives ``prefix`` before what ``reader`` reads next."""

    def __init__(self, reader: Any, prefix: bytes) -> None:
        self._reader = reader
        self._prefix = prefix

    async def read(self, n: int = -1) -> bytes:
        if self._prefix:
            data = self._prefix if n < 0 else self._prefix[:n]
            self._prefix = self._prefix[len(data) :]
            return data
        return bytes(await self._reader.read(n))
