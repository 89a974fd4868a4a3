"""Local loopback ports forwarded to remote sockets over a pooled connection.

The provisioner opens one forward per kernel channel; after a reconnect or a
kernel restart the session re-opens them on the SAME local ports so the ZMQ
sockets of the Jupyter server reconnect by themselves.

We run the listeners ourselves (asyncio servers) instead of asyncssh's
built-in forwarder so that every accepted local connection is tracked: when
the SSH link drops, :meth:`Forwards.close` aborts them all at once. A local
peer left half-open would never notice the link died, and a ZMQ SUB socket in
that state never reconnects nor resubscribes.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from typing import Any

import asyncssh

from ..errors import SSHConnectError

Target = str | int  # a remote unix socket path, or a port on the remote's 127.0.0.1
CHUNK = 256 * 1024


#: ports handed out by free_local_ports and not released yet (this process), each with
#: its probe socket still bound so nothing else (another pick, an outgoing connection's
#: ephemeral port) can take it before its owner listens on it
_held: dict[int, socket.socket | None] = {}
_held_lock = threading.Lock()


def free_local_ports(count: int) -> list[int]:
    """``count`` free ports on 127.0.0.1, held for the caller until it listens on them
    (:func:`unhold_local_port`) and reserved until :func:`release_local_ports`.

    The provisioner picks its kernel's ports in ``pre_launch`` and listens on them
    only in ``launch_kernel``, seconds later: kernels starting meanwhile, and the
    Jupyter server's own outgoing connections, must not get them.
    """
    ports: list[int] = []
    with _held_lock:
        while len(ports) < count:
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
            if port in _held:
                s.close()
                continue
            _held[port] = s
            ports.append(port)
    return ports


def unhold_local_port(port: int) -> None:
    """Just before listening on a picked port: let go of its probe socket."""
    with _held_lock:
        sock = _held.get(port)
        if sock is not None:
            sock.close()
            _held[port] = None


def take_held_socket(port: int) -> socket.socket | None:
    """Just before listening on a picked port: its probe socket itself (bound; the caller
    makes it listen), so the port is never free for a moment; None if nothing holds it.
    The port stays reserved until :func:`release_local_ports`."""
    with _held_lock:
        sock = _held.get(port)
        if sock is not None:
            _held[port] = None
        return sock


def release_local_ports(ports: list[int] | None) -> None:
    """The ports' owner (a kernel or forward session) is done with them."""
    with _held_lock:
        for port in ports or ():
            sock = _held.pop(port, None)
            if sock is not None:
                sock.close()


async def pipe(reader: Any, writer: Any) -> None:
    """Copy one direction of a byte stream until it ends, then close ``writer``.

    Called twice per connection (one per direction) by ``Forwards`` and by
    ``tunnel.PrivateTunnel``; a broken side just ends the copy."""
    try:
        while True:
            data = await reader.read(CHUNK)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except (OSError, asyncssh.Error, asyncio.IncompleteReadError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


class Forwards:
    """A set of local-port -> remote-target listeners on one connection."""

    def __init__(self) -> None:
        self._servers: dict[int, asyncio.AbstractServer] = {}
        self._local: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._conn: Any = None
        self._joined: dict[int, int] = {}  # port -> local clients connected through to the remote
        self._before: dict[int, int] = {}  # the same, when the forwards were last closed
        self._first: frozenset[int] = frozenset()
        self._gate = asyncio.Event()
        self._gate_task: asyncio.Task[bool] | None = None
        self.targets: dict[int, Target] = {}

    async def open(
        self,
        conn: Any,
        targets: dict[int, Target],
        *,
        first: frozenset[int] = frozenset(),
        rejoin_timeout: float = 5.0,
    ) -> None:
        """Listen on each local port and forward to its target; replaces what was open.

        After a re-open, connections to ports other than ``first`` (the kernel's
        iopub) wait until the clients of ``first`` that were there before are
        back, so no request reaches the kernel before its output has listeners.
        """
        self.close()
        self._conn = conn
        self._first = first
        self._gate = asyncio.Event()
        if any(self._before.get(p, 0) for p in first):
            self._gate_task = asyncio.ensure_future(self._open_gate(rejoin_timeout))
        else:
            self._gate.set()
        try:
            for port, target in targets.items():
                unhold_local_port(port)
                self._servers[port] = await asyncio.start_server(
                    self._acceptor(port, target), "127.0.0.1", port
                )
        except OSError as exc:
            self.close()
            raise SSHConnectError(f"Cannot listen on local port for the kernel: {exc}") from None
        self.targets = dict(targets)

    async def _open_gate(self, timeout: float) -> bool:
        try:
            return await self.wait_rejoined(timeout, ports=self._first)
        finally:
            self._gate.set()

    def _acceptor(self, port: int, target: Target) -> Any:
        def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.ensure_future(self._serve(reader, writer, port, target, self._conn))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

        return accept

    async def _serve(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        port: int,
        target: Target,
        conn: Any,
    ) -> None:
        self._local.add(writer)
        if port not in self._first:
            await self._gate.wait()
        try:
            if isinstance(target, int):
                r_reader, r_writer = await conn.open_connection("127.0.0.1", target)
            else:
                r_reader, r_writer = await conn.open_unix_connection(target)
        except (OSError, asyncssh.Error):
            self._local.discard(writer)
            writer.close()
            return
        self._joined[port] = self._joined.get(port, 0) + 1
        try:
            await asyncio.gather(pipe(reader, r_writer), pipe(r_reader, writer))
        finally:
            self._joined[port] = max(0, self._joined.get(port, 0) - 1)
            self._local.discard(writer)
            with contextlib.suppress(Exception):
                writer.close()
            with contextlib.suppress(Exception):
                r_writer.close()

    def close(self) -> None:
        """Stop listening and abort every accepted local connection (peers see a reset)."""
        if any(self._joined.values()):
            self._before = dict(self._joined)
        self._joined = {}
        for server in self._servers.values():
            server.close()
        self._servers.clear()
        for writer in list(self._local):
            with contextlib.suppress(Exception):
                writer.transport.abort()
        self._local.clear()
        for task in list(self._tasks):
            task.cancel()
        if self._gate_task is not None:
            self._gate_task.cancel()
            self._gate_task = None
        self._conn = None

    async def wait_rejoined(self, timeout: float, *, ports: frozenset[int] | None = None) -> bool:
        """After a re-open: until every local client connected before is connected again.

        ZMQ subscribers drop what is published before they re-subscribe, so the
        session reports ``running`` only once they are back (bounded by ``timeout``).
        """
        deadline = asyncio.get_running_loop().time() + timeout
        watched = {p: n for p, n in self._before.items() if ports is None or p in ports}
        while any(self._joined.get(p, 0) < n for p, n in watched.items()):
            if asyncio.get_running_loop().time() > deadline:
                return False
            await asyncio.sleep(0.02)
        return True

    @property
    def is_open(self) -> bool:
        return bool(self._servers)

    @property
    def connections(self) -> int:
        return len(self._local)
