"""A private local end for a TCP port the SSH host reaches (a Jupyter server ``--via``).

Called by the Jupyter-server side (``kernels/jupyter_servers.py``, the Jupyter kernel
session) on a pooled connection: :class:`PrivateTunnel` listens on a unix socket in a
fresh 0700 directory of this machine (never a TCP port: another local user could connect
to one) and carries each accepted connection to ``host:port`` as seen FROM the SSH host,
over a ``direct-tcpip`` channel of that connection. The HTTP client connects to the
socket as if it were the server (``jupyter/client.py``, ``tunnel_path``); TLS and the
Host header are still those of the URL. When the SSH link drops, :meth:`close` aborts every carried
connection at once, so the client sees the drop instead of a silent half-open socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import shutil
import tempfile
from typing import Any

import asyncssh

from ..errors import JupyterConnectError, SSHConnectError
from .forwards import pipe

#: SSH flow-control window of a tunnelled connection (kernel output can be large)
TUNNEL_WINDOW = 8 * 1024 * 1024


def _refused(exc: asyncssh.ChannelOpenError, host: str, port: int, via: str) -> Exception:
    """The SSH server could not open host:port: say what that means for a Jupyter URL."""
    if exc.code == asyncssh.OPEN_ADMINISTRATIVELY_PROHIBITED:
        return SSHConnectError(
            f"The SSH server {via} refuses to forward connections (AllowTcpForwarding no).",
            hint="Ask its administrator to allow TCP forwarding, or reach the Jupyter server "
            "another way.",
        )
    return JupyterConnectError(
        f"{via} could not reach {host}:{port}: {exc.reason or 'connection refused'}.",
        hint=f"Is the Jupyter server running on {via} at that address? With --via, the "
        "URL's host and port are as seen from the SSH host (e.g. http://127.0.0.1:8888/).",
    )


async def open_tcp_channel(conn: Any, host: str, port: int, via: str) -> tuple[Any, Any]:
    """(reader, writer) of one direct-tcpip channel to ``host:port`` from the SSH host."""
    try:
        return await conn.open_connection(host, port, window=TUNNEL_WINDOW)
    except asyncssh.ChannelOpenError as exc:
        raise _refused(exc, host, port, via) from None
    except (OSError, asyncssh.Error) as exc:
        raise SSHConnectError(f"The SSH link to {via} broke: {exc}") from None


class PrivateTunnel:
    """A unix socket in a private directory, carried to ``host:port`` from the SSH host."""

    def __init__(self, conn: Any, host: str, port: int, *, via: str) -> None:
        self._conn = conn
        self.host, self.port, self.via = host, port, via
        self._dir = tempfile.mkdtemp(prefix="jr-tunnel-")  # 0700, ours alone
        self.path = os.path.join(self._dir, "s")
        self._server: asyncio.AbstractServer | None = None
        self._writers: set[Any] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> PrivateTunnel:
        """Listen; the caller connects to :attr:`path`."""
        self._server = await asyncio.start_unix_server(self._accepted, path=self.path)
        os.chmod(self.path, 0o600)
        return self

    async def _accepted(self, local_reader: Any, local_writer: Any) -> None:
        self._writers.add(local_writer)
        try:
            remote_reader, remote_writer = await open_tcp_channel(
                self._conn, self.host, self.port, self.via
            )
        except Exception:
            local_writer.close()
            self._writers.discard(local_writer)
            return
        self._writers.add(remote_writer)
        pumps = [
            asyncio.ensure_future(pipe(local_reader, remote_writer)),
            asyncio.ensure_future(pipe(remote_reader, local_writer)),
        ]
        self._tasks.update(pumps)
        try:
            await asyncio.gather(*pumps, return_exceptions=True)  # cancelled by close()
        finally:
            self._tasks.difference_update(pumps)
            self._writers.discard(local_writer)
            self._writers.discard(remote_writer)

    async def check(self) -> None:
        """Open and close one channel: raises the clear error if host:port is not there."""
        _, writer = await open_tcp_channel(self._conn, self.host, self.port, self.via)
        writer.close()

    def close(self) -> None:
        """Stop listening and abort every carried connection; the directory goes."""
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            with contextlib.suppress(Exception):
                transport = getattr(writer, "transport", None)
                if transport is not None:
                    transport.abort()
                else:
                    writer.close()
        self._writers.clear()
        for task in list(self._tasks):
            task.cancel()
        with contextlib.suppress(OSError):
            os.unlink(self.path)
        shutil.rmtree(self._dir, ignore_errors=True)


def is_refused(exc: BaseException) -> bool:
    """True for a connect error that means "nothing listens there" (not a link problem)."""
    return isinstance(exc, OSError) and exc.errno in (errno.ECONNREFUSED, errno.ENOENT)
