"""The local ZMQ endpoints every kernel of ours shows on 127.0.0.1, defined once.

Both ways a kernel reaches this machine present it as a local kernel: ROUTER sockets for
shell, control, stdin (and the heartbeat), a PUB socket for iopub, on fixed loopback
ports that stay bound while the link behind them comes and goes. Subclassed by
:class:`~jupyter_remote.kernels.relay_link.RelayedChannels` (fed by a relay over SSH) and
:class:`~jupyter_remote.kernels.jupyter_bridge.BridgedChannels` (fed by a remote Jupyter
server's websocket), which own their link: ``detach`` drops it, ``close`` ends all. The
sockets are ZMTP servers on the event loop (``zmtp_server.py``): what a client sends
arrives in :meth:`LocalChannels.from_client` as it is read, and what goes to clients is
written at once (:meth:`~LocalChannels.send_local`, :meth:`~LocalChannels.publish`).
"""

from __future__ import annotations

import asyncio
import functools
import hmac
from collections.abc import Callable, Mapping
from typing import Any

from jupyter_client.session import Session

from ..errors import SSHConnectError
from ..ssh.forwards import take_held_socket
from .zmtp_patterns import PubServer, RouterServer
from .zmtp_server import MAX_PING, ZmtpServer, close_all

#: Channels whose clients are routed by identity (a reconnecting client takes its identity
#: over: ROUTER_HANDOVER).
REQUEST_CHANNELS = ("shell", "control", "stdin")
#: where a Jupyter message's identities end and its signed parts begin
DELIM = b"<IDS|MSG>"


def verified(session: Session, frames: list[Any]) -> tuple[list[Any], list[Any]] | None:
    """(identities, parts) of a signed client message; None if it is malformed or its
    signature is wrong (any local user can send frames to these ports): both links check
    each request with it before it goes further."""
    try:
        cut = frames.index(DELIM)
    except ValueError:
        return None
    if len(frames) < cut + 6:  # the signature and the four signed parts
        return None
    idents, signature, parts = frames[:cut], frames[cut + 1], frames[cut + 2 :]
    if session.auth is not None:
        expected = session.sign(parts[:4])
        if not hmac.compare_digest(expected, bytes(signature)):
            return None
    return idents, parts


def bind_local_servers(
    ports: Mapping[str, int], on_message: Callable[[str, list[Any]], None]
) -> tuple[dict[str, RouterServer], PubServer | None]:
    """A ZMTP server per channel on 127.0.0.1 (a port held since it was picked listens on
    its holding socket itself: never free for a moment, so nothing takes it): ROUTERs
    calling ``on_message(name, frames)``, the iopub PUB. Served from the event loop
    (``zmtp_server.py``), no libzmq socket of ours. SSHConnectError, nothing left bound,
    if one cannot listen."""
    routers: dict[str, RouterServer] = {}
    pub: PubServer | None = None
    try:
        for name, port in ports.items():
            held = take_held_socket(port)
            if name == "iopub":
                pub = PubServer(port, held)
            else:
                bound = MAX_PING if name == "hb" else RouterServer.max_message
                handler = functools.partial(on_message, name)
                routers[name] = RouterServer(port, handler, bound, held)
    except OSError as exc:
        close_all([*routers.values(), *([pub] if pub is not None else [])])
        raise SSHConnectError(f"Cannot listen on a local port for the kernel: {exc}") from None
    return routers, pub


class LocalChannels:
    """Bound local servers and the tasks serving them; subclasses add the link and take
    each client message in :meth:`from_client`."""

    def __init__(self, ports: Mapping[str, int]) -> None:
        self.ports = dict(ports)
        self._routers, self._pub = bind_local_servers(self.ports, self.from_client)
        self._tasks: list[asyncio.Future[None]] = []

    def from_client(self, name: str, frames: list[Any]) -> None:
        """One message a local client sent on ``name`` (its identity first), called from
        the event loop as it is read."""
        raise NotImplementedError

    def send_local(self, name: str, frames: list[Any]) -> None:
        """One message to the client named by its first frame (dropped if it is gone);
        never blocks."""
        router = self._routers.get(name)
        if router is not None:
            router.send(frames)

    def publish(self, frames: list[Any]) -> None:
        """One iopub message to every subscribed client; never blocks."""
        if self._pub is not None:
            self._pub.publish(frames)

    def detach(self) -> None:
        """The link is gone (or replaced): stop using it; local sockets stay."""
        raise NotImplementedError

    def close(self) -> None:
        """End of the session: detach, stop serving the local ports and unbind them."""
        self.detach()
        for task in self._tasks:
            task.cancel()
        servers: list[ZmtpServer] = [*self._routers.values()]
        if self._pub is not None:
            servers.append(self._pub)
        close_all(servers)
        self._routers, self._pub = {}, None
