"""The local ZMQ endpoints every kernel of ours shows on 127.0.0.1, defined once.

Both ways a kernel reaches this machine present it as a local kernel: ROUTER sockets for
shell, control, stdin (and the heartbeat), a PUB socket for iopub, on fixed loopback
ports that stay bound while the link behind them comes and goes. Subclassed by
:class:`~jupyter_remote.kernels.relay_link.RelayedChannels` (fed by a relay over SSH) and
:class:`~jupyter_remote.kernels.jupyter_bridge.BridgedChannels` (fed by a remote Jupyter
server's websocket), which own their link: ``detach`` drops it, ``close`` ends all.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import zmq
import zmq.asyncio

from ..errors import SSHConnectError
from ..ssh.forwards import unhold_local_port

#: Channels whose clients are routed by identity (a reconnecting client takes its identity
#: over: ROUTER_HANDOVER).
REQUEST_CHANNELS = ("shell", "control", "stdin")
_SNDMORE = int(zmq.SNDMORE)
#: libzmq's send of one frame, without pyzmq's Python-level wrapper (issue 17 item 3)
_send_frame: Any = getattr(getattr(zmq, "backend", None), "Socket", zmq.Socket).send


def send_now(sock: zmq.Socket[Any], parts: list[bytes]) -> None:
    """One multipart message on a socket whose sends never block (a PUB socket without a
    high-water mark), without asyncio: ~1 us for a Jupyter message where pyzmq's
    ``send_multipart`` takes ~9 us (its per-frame flag arithmetic on enums costs more
    than libzmq's send). The relay's every iopub message goes this way."""
    last = len(parts) - 1
    for i, part in enumerate(parts):
        _send_frame(sock, part, _SNDMORE if i < last else 0)


def sync_twin(sock: zmq.asyncio.Socket) -> zmq.Socket[Any]:
    """The same libzmq socket without the asyncio wrapper, for :func:`send_now`; only for a
    socket nothing receives on through the wrapper (its receives rely on its own view of
    the fd's events, which a send behind its back could consume), or one whose wrapper is
    never used (``RelayedChannels`` reads its request sockets from readiness callbacks)."""
    return zmq.Socket.shadow(sock.underlying)


def bind_local_sockets(ports: Mapping[str, int]) -> dict[str, zmq.asyncio.Socket]:
    """A bound socket per channel on 127.0.0.1 (ports held since they were picked are let
    go just before); SSHConnectError, nothing left bound, if one cannot listen."""
    ctx = zmq.asyncio.Context.instance()
    socks: dict[str, zmq.asyncio.Socket] = {}
    try:
        for name, port in ports.items():
            sock = ctx.socket(zmq.PUB if name == "iopub" else zmq.ROUTER)
            sock.linger = 0
            sock.sndhwm = 0  # a replay after a reconnect must not hit a high-water mark
            if name in REQUEST_CHANNELS:
                sock.setsockopt(zmq.ROUTER_HANDOVER, 1)
            unhold_local_port(port)
            sock.bind(f"tcp://127.0.0.1:{port}")
            socks[name] = sock
    except zmq.ZMQError as exc:
        for sock in socks.values():
            sock.close(linger=0)
        raise SSHConnectError(f"Cannot listen on a local port for the kernel: {exc}") from None
    return socks


class LocalChannels:
    """Bound local sockets and the tasks serving them; subclasses add the link."""

    def __init__(self, ports: Mapping[str, int]) -> None:
        self.ports = dict(ports)
        self._socks = bind_local_sockets(self.ports)
        self._tasks: list[asyncio.Future[None]] = []

    def detach(self) -> None:
        """The link is gone (or replaced): stop using it; local sockets stay."""
        raise NotImplementedError

    def close(self) -> None:
        """End of the session: detach, stop serving the local sockets and unbind them."""
        self.detach()
        for task in self._tasks:
            task.cancel()
        for sock in self._socks.values():
            sock.close(linger=0)
        self._socks = {}
