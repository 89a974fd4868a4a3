"""Local loopback ports forwarded to remote sockets over a pooled connection.

The provisioner opens one forward per kernel channel; after a reconnect or a
kernel restart it re-opens them on the SAME local ports so ZMQ clients of the
Jupyter server reconnect by themselves.
"""

from __future__ import annotations

import contextlib
import socket
from typing import Any

import asyncssh

from ..errors import SSHConnectError

Target = str | int  # a remote unix socket path, or a port on the remote's 127.0.0.1


def free_local_ports(count: int) -> list[int]:
    """``count`` distinct free ports on 127.0.0.1 (bound then released)."""
    socks = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


class Forwards:
    """A set of local-port -> remote-target listeners on one connection."""

    def __init__(self) -> None:
        self._listeners: dict[int, asyncssh.SSHListener] = {}
        self.targets: dict[int, Target] = {}

    async def open(self, conn: Any, targets: dict[int, Target]) -> None:
        """Listen on each local port and forward to its target; replaces what was open."""
        self.close()
        try:
            for port, target in targets.items():
                if isinstance(target, int):
                    listener = await conn.forward_local_port("127.0.0.1", port, "127.0.0.1", target)
                else:
                    listener = await conn.forward_local_port_to_path("127.0.0.1", port, target)
                self._listeners[port] = listener
        except (OSError, asyncssh.Error) as exc:
            self.close()
            raise SSHConnectError(f"Cannot forward local port to the kernel: {exc}") from None
        self.targets = dict(targets)

    def close(self) -> None:
        for listener in self._listeners.values():
            with contextlib.suppress(Exception):
                listener.close()
        self._listeners.clear()

    @property
    def is_open(self) -> bool:
        return bool(self._listeners)
