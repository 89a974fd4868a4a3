"""Run one command on a pooled connection, feeding stdin; the only exec helper.

Callers (discovery, the kernel agent client, server test) pass a command line
built with shlex from fixed text and quoted values; data goes on stdin.
Whatever the remote answers is read in chunks and kept only up to a limit the
caller gives (a hostile or broken remote can send without end), and text that
reaches the caller has its control characters escaped where it is not parsed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import asyncssh

from ..errors import RemoteCommandError, SSHConnectError, SSHTimeoutError
from ..text import printable

T = TypeVar("T")

#: Output limits of :func:`run` (``max_output``): a remote (or whatever answers in its
#: place) can send without end, and whatever we keep is held in memory.
KIB = 1024
MIB = 1024 * KIB
SMALL_OUTPUT = 64 * KIB  # short commands: server test, interpreter checks
PROBE_OUTPUT = 8 * MIB  # the environment probe's answer
AGENT_OUTPUT = 16 * MIB  # one answer of the remote agent
STDERR_TAIL = 16 * KIB  # stderr is kept as its last bytes only
MAX_LINE = 16 * KIB  # :func:`stream` splits longer lines
CHUNK = 64 * KIB

TOO_MUCH_HINT = (
    "The remote side sent far more than this command ever answers. Check that the "
    "interpreter is a real Python and that the login's startup files (~/.profile, "
    "~/.bashrc) print nothing on a non-interactive login."
)


@dataclass(frozen=True)
class ExecResult:
    exit_status: int | None
    stdout: str
    stderr: str  # the last STDERR_TAIL bytes, control characters escaped


def peer(conn: Any) -> str:
    """``host:port`` of a connection, naming the remote in errors when the caller has no name."""
    try:
        host, port = conn.get_extra_info("host"), conn.get_extra_info("port")
    except Exception:  # any object standing in for a connection
        return "the remote host"
    if not host:
        return "the remote host"
    return printable(f"{host}:{port}" if port else str(host))


async def run(
    conn: Any,
    command: str,
    *,
    stdin: bytes = b"",
    timeout: float = 60.0,
    max_output: int = SMALL_OUTPUT,
    what: str = "the output of a remote command",
    where: str | None = None,
) -> ExecResult:
    """One exec request: write ``stdin``, close it, collect output, within ``timeout``.

    Called by discovery (the probe), the agent client, ``RemoteManager.test_server``
    and ``check_python``. Stdout is read in chunks and kept up to ``max_output``
    bytes; one byte more closes the channel and raises RemoteCommandError naming
    ``what`` overflowed on ``where`` (default: the connection's host:port). Stderr is
    drained alongside (an unread stream would stall the other) and only its last
    :data:`STDERR_TAIL` bytes are kept. Memory stays bounded whatever the remote sends.
    """
    where = where or peer(conn)
    procs: list[Any] = []

    async def exchange() -> tuple[int | None, bytearray, bytes]:
        proc = await _started_with_stdin(conn, command, stdin, procs)
        stderr_tail = asyncio.ensure_future(_read_tail(proc.stderr, STDERR_TAIL))
        stderr_tail.add_done_callback(_retrieve)  # its error may go unawaited (stdout failed)
        try:
            out = await _read_bounded(proc.stdout, max_output)
            if out is None:
                raise RemoteCommandError(
                    f"{_capital(what)} from {where} exceeded {_size(max_output)}; "
                    "stopped reading and closed the channel.",
                    hint=TOO_MUCH_HINT,
                )
            err = await stderr_tail
        finally:
            stderr_tail.cancel()
        await proc.wait_closed()
        return proc.exit_status, out, err

    status, out, err = await _guarded(exchange(), procs, timeout=timeout, where=where)
    return ExecResult(
        status,
        out.decode("utf-8", "replace"),
        printable(err.decode("utf-8", "replace"), keep_newlines=True),
    )


class _StdinAfterExec(asyncssh.SSHClientProcess[bytes]):
    """A process whose stdin goes out right after its exec request, as OpenSSH sends it:
    asyncssh's ``create_process`` awaits the exec request's reply first, one round trip
    more for every agent call. The data follows the request on the same channel, so the
    server reads it only once the command runs; a refused exec closes the channel and
    the data is dropped with it (``create_session`` raises ChannelOpenError)."""

    def __init__(self, data: bytes) -> None:
        super().__init__()
        self._early = data

    def connection_made(self, chan: Any) -> None:
        """asyncssh, once the channel is open and just before it sends the exec request
        (no await in between): our write is scheduled to follow that request."""
        super().connection_made(chan)
        asyncio.get_running_loop().call_soon(self._send_early, chan)

    def _send_early(self, chan: Any) -> None:
        with contextlib.suppress(OSError):  # closed meanwhile (exec refused, link gone)
            if self._early:
                chan.write(self._early)
            chan.write_eof()
        self._early = b""


async def _started_with_stdin(conn: Any, command: str, stdin: bytes, procs: list[Any]) -> Any:
    """``command`` running with ``stdin`` sent (and closed) without waiting for the exec
    reply; the process is added to ``procs`` (closed by :func:`_guarded`)."""
    _, proc = await conn.create_session(lambda: _StdinAfterExec(stdin), command, encoding=None)
    procs.append(proc)
    await proc.redirect(None, asyncssh.PIPE, asyncssh.PIPE, CHUNK, True, True)
    return proc


async def _guarded(work: Awaitable[T], procs: list[Any], *, timeout: float, where: str) -> T:
    """``work`` within ``timeout``, its link failures mapped to our errors, and every
    process it opened closed whatever happens (run and stream share this)."""
    try:
        return await asyncio.wait_for(work, timeout)
    except asyncio.TimeoutError:
        raise SSHTimeoutError(
            f"The remote command on {where} did not finish within {timeout:.0f} s."
        ) from None
    except (asyncssh.ChannelOpenError, asyncssh.DisconnectError, ConnectionError, OSError) as exc:
        raise SSHConnectError(
            f"The SSH connection to {where} failed while running a command: {printable(str(exc))}"
        ) from None
    finally:
        for proc in procs:
            with contextlib.suppress(Exception):
                proc.close()


async def _read_bounded(reader: Any, limit: int) -> bytearray | None:
    """All of ``reader`` if it holds at most ``limit`` bytes, else None (stops at once)."""
    data = bytearray()
    while True:
        chunk = await reader.read(CHUNK)
        if not chunk:
            return data
        if len(data) + len(chunk) > limit:
            return None
        data += chunk


async def _read_tail(reader: Any, keep: int) -> bytes:
    """Drain ``reader`` to its end, keeping only its last ``keep`` bytes."""
    tail = b""
    while True:
        chunk = await reader.read(CHUNK)
        if not chunk:
            return tail
        tail = (tail + chunk)[-keep:]


def _retrieve(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()


def _size(n: int) -> str:
    return f"{n // MIB} MiB" if n >= MIB and n % MIB == 0 else f"{n // KIB} KiB"


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


async def stream(
    conn: Any,
    command: str,
    on_line: Callable[[str], None],
    *,
    timeout: float = 900.0,
    stdin: bytes = b"",
) -> int:
    """Run ``command`` fed ``stdin``, calling ``on_line`` for each line of stdout+stderr;
    exit status.

    Called by ``RemoteManager.install_ipykernel`` (pip's output, shown live) and by
    environment creation (``kernels/environments.py``, its script on stdin). Lines
    reach ``on_line`` with control characters escaped, split every
    :data:`MAX_LINE` characters, so a line without end never piles up in memory.
    """
    procs: list[Any] = []

    async def pump() -> int | None:
        proc = await conn.create_process(command, stderr=asyncssh.STDOUT, encoding=None)
        procs.append(proc)
        if stdin:
            proc.stdin.write(stdin)
        proc.stdin.write_eof()
        pending = b""
        while True:
            chunk = await proc.stdout.read(CHUNK)
            if not chunk:
                break
            *lines, pending = (pending + chunk).split(b"\n")
            for line in lines:
                for start in range(0, max(len(line), 1), MAX_LINE):
                    on_line(_line(line[start : start + MAX_LINE]))
            while len(pending) > MAX_LINE:
                on_line(_line(pending[:MAX_LINE]))
                pending = pending[MAX_LINE:]
        if pending:
            on_line(_line(pending))
        await proc.wait_closed()
        return proc.exit_status

    status = await _guarded(pump(), procs, timeout=timeout, where=peer(conn))
    return int(status if status is not None else 255)


def _line(raw: bytes) -> str:
    return printable(raw.decode("utf-8", "replace").rstrip("\r"))


async def _first_line(reader: Any, limit: int = MAX_LINE) -> bytes:
    """Bytes up to the first newline (at most ``limit``; b"" if the stream ends first)."""
    data = b""
    while b"\n" not in data and len(data) < limit:
        chunk = await reader.read(CHUNK)
        if not chunk:
            return b""
        data += chunk
    return data[:limit]


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
            line = await asyncio.wait_for(_first_line(proc.stdout), timeout)
        except (asyncio.TimeoutError, asyncssh.Error, OSError) as exc:
            raise SSHConnectError(
                f"Could not start a remote helper: {printable(str(exc) or type(exc).__name__)}"
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
