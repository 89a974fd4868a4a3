"""The ROUTER and PUB sockets every kernel of ours shows on 127.0.0.1, served from the
event loop in ZMTP 3.0 (``remote/zmtp.py``'s codec): no libzmq socket of ours on the
message path, so a message crosses no I/O thread of ours (an eventfd signal and a thread
wake-up each way; bench/analysis.md, issue 17 item 3). Local clients (jupyter_client,
jupyter_server, papermill, nbclient) still speak libzmq to these ports, unchanged.

What libzmq's sockets did and these do: a ROUTER prefixes each message with the peer's
identity (its READY's Identity, or a generated 5-byte one), routes what it sends by the
first frame and drops a message for an unknown identity; a new connection with an
identity already taken takes it over (ROUTER_HANDOVER). A PUB keeps each peer's
subscriptions (ZMTP 3.0 messages ``\\x01topic``/``\\x00topic``, 3.1's SUBSCRIBE/CANCEL)
and sends a message to every peer with a matching prefix, never blocking.

Bounds (any local user can connect to loopback ports; SECURITY.md's laptop-side
paragraph): a peer's message at most MAX_REQUEST bytes (iopub peers: MAX_SUBSCRIPTION);
the handshake done within HANDSHAKE_TIMEOUT s, at most MAX_HANDSHAKING connections in it
at once per port; a peer more than MAX_BEHIND bytes behind in reading is disconnected
(libzmq with sndhwm 0 kept everything for it), so one that never reads costs bounded
memory and never holds up the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import struct
from collections.abc import Callable
from typing import Any

from ..remote.zmtp import Frames, ZmtpStream, message_pieces

#: a handshake (greeting and READY) not done by then is cut
HANDSHAKE_TIMEOUT = 5.0
#: connections still in their handshake, per port; more are cut at once
MAX_HANDSHAKING = 64
#: largest message a client may send on shell/control/stdin: 1 GiB (a comm's upload may
#: be big; jupyter_server's own websocket takes any size)
MAX_REQUEST = 1 << 30
#: heartbeat pings are a few bytes
MAX_PING = 1 << 20
#: iopub clients send subscriptions only
MAX_SUBSCRIPTION = 64 * 1024
#: distinct subscriptions one iopub peer may hold
MAX_SUBSCRIPTIONS = 256
#: bytes written to a peer and not yet read by it: twice the relay's default output bound
#: (128 MiB, what a replay after a reconnect delivers at once); beyond, the peer is cut
MAX_BEHIND = 256 * 1024 * 1024

OnMessage = Callable[[Frames], None]


def listen(port: int, held: socket.socket | None = None) -> socket.socket:
    """A listening TCP socket on 127.0.0.1:``port``: ``held`` (a socket already bound to
    it, so the port was never free for a moment) or a new one (OSError if it cannot be
    had)."""
    sock = held or socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        # as libzmq binds; on a held socket too: accepted connections inherit it, and their
        # TIME_WAIT then never keeps the port from being bound again after a close
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if held is None:
            sock.bind(("127.0.0.1", port))
        sock.listen(128)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


class Peer(ZmtpStream):
    """One accepted connection of a server: its events go to the server."""

    def __init__(self, server: ZmtpServer) -> None:
        super().__init__(
            server.socket_type,
            as_server=True,
            max_message=server.max_message,
            on_lost=server.left,
        )
        self.server = server
        self.route = b""  # a ROUTER's name for this peer
        self.subscriptions: dict[bytes, int] = {}  # a PUB's: prefix -> times subscribed
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: Any) -> None:
        # asyncio sets TCP_NODELAY only on sockets made with proto IPPROTO_TCP, not on
        # accepted ones: without it Nagle's algorithm held a cell's second iopub message
        # until the client's delayed ACK (+15 ms a cell; libzmq sets it on its own)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)
        self._timer = asyncio.get_running_loop().call_later(HANDSHAKE_TIMEOUT, self._no_handshake)
        self.server.arrived(self)

    def _no_handshake(self) -> None:
        if not self.is_ready:
            self.abort(f"no handshake within {HANDSHAKE_TIMEOUT:g} s")

    def became_ready(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self.server.joined(self)

    def received(self, frames: Frames) -> None:
        self.server.received(self, frames)

    def command_received(self, name: bytes, data: Any) -> None:
        self.server.command(self, name, bytes(data))

    def stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


class ZmtpServer:
    """A listening port and its peers; subclasses add the socket type's pattern. Bound at
    once (OSError if the port cannot be had); served from the next loop turn on."""

    socket_type = b""
    max_message = MAX_REQUEST

    def __init__(self, port: int, held: socket.socket | None = None) -> None:
        self.port = port
        self.peers: set[Peer] = set()  # handshake done
        self._handshaking: set[Peer] = set()
        self._listener: socket.socket | None = listen(port, held)
        self._server: asyncio.AbstractServer | None = None
        self._start = asyncio.ensure_future(self._serve(self._listener))

    async def _serve(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        # without start_serving, nothing is awaited: close() always finds the server
        self._server = await loop.create_server(lambda: Peer(self), sock=sock, start_serving=False)
        await self._server.start_serving()

    def close(self) -> None:
        """Stop listening (the port is free again) and cut every peer; also when the loop
        has closed meanwhile (the port is let go all the same)."""
        with contextlib.suppress(Exception):
            if self._server is not None:
                self._server.close()
            else:
                self._start.cancel()
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        for peer in [*self._handshaking, *self.peers]:
            with contextlib.suppress(Exception):
                peer.abort("closed")

    def arrived(self, peer: Peer) -> None:
        if len(self._handshaking) >= MAX_HANDSHAKING:
            peer.abort("too many connections in their handshake")
            return
        self._handshaking.add(peer)

    def joined(self, peer: Peer) -> None:
        self._handshaking.discard(peer)
        self.peers.add(peer)

    def left(self, stream: ZmtpStream, reason: str) -> None:
        assert isinstance(stream, Peer)
        stream.stop_timer()
        self._handshaking.discard(stream)
        self.peers.discard(stream)

    def received(self, peer: Peer, frames: Frames) -> None:
        """A message from ``peer`` (the pattern's to route)."""

    def command(self, peer: Peer, name: bytes, data: bytes) -> None:
        """A command other than READY/PING/ERROR from ``peer``: ignored unless a pattern
        wants it."""

    @staticmethod
    def keeps_up(peer: Peer) -> bool:
        """False (and ``peer`` cut) if it is more than MAX_BEHIND bytes behind."""
        if peer.write_buffer_size() <= MAX_BEHIND:
            return True
        peer.abort(f"more than {MAX_BEHIND} bytes behind")
        return False


class RouterServer(ZmtpServer):
    """libzmq's ROUTER with ROUTER_HANDOVER: ``on_message([identity, *frames])``;
    :meth:`send` routes by the first frame."""

    socket_type = b"ROUTER"

    def __init__(
        self,
        port: int,
        on_message: OnMessage,
        max_message: int = MAX_REQUEST,
        held: socket.socket | None = None,
    ) -> None:
        self.max_message = max_message
        self._on_message = on_message
        self._routes: dict[bytes, Peer] = {}
        self._next_id = struct.unpack("!I", os.urandom(4))[0]  # libzmq starts at random
        super().__init__(port, held)

    def joined(self, peer: Peer) -> None:
        super().joined(peer)
        identity = peer.peer_props.get(b"identity") or self._generated_id()
        peer.route = identity
        old = self._routes.get(identity)
        self._routes[identity] = peer
        if old is not None:  # handover: the new connection takes the identity over
            old.abort("its identity was taken over")

    def _generated_id(self) -> bytes:
        """A 5-byte identity as libzmq gives a peer without one (zero, then a counter)."""
        while True:
            self._next_id = (self._next_id + 1) & 0xFFFFFFFF
            identity = b"\0" + struct.pack("!I", self._next_id)
            if identity not in self._routes:
                return identity

    def left(self, stream: ZmtpStream, reason: str) -> None:
        super().left(stream, reason)
        assert isinstance(stream, Peer)
        if self._routes.get(stream.route) is stream:
            del self._routes[stream.route]

    def received(self, peer: Peer, frames: Frames) -> None:
        self._on_message([peer.route, *frames])

    def send(self, frames: Frames) -> None:
        """One message to the peer named by its first frame (dropped if it is unknown)."""
        peer = self._routes.get(bytes(frames[0]))
        if peer is not None and self.keeps_up(peer):
            peer.send(frames[1:])


class PubServer(ZmtpServer):
    """libzmq's PUB: :meth:`publish` sends to every peer subscribed to a prefix of the
    message's first frame; what peers send is their subscriptions."""

    socket_type = b"PUB"
    max_message = MAX_SUBSCRIPTION

    def received(self, peer: Peer, frames: Frames) -> None:
        first = frames[0]
        if len(frames) == 1 and first[:1] in (b"\x00", b"\x01"):  # ZMTP 3.0's form
            self._subscribe(peer, bytes(first[1:]), first[0] == 1)

    def command(self, peer: Peer, name: bytes, data: bytes) -> None:
        if name in (b"SUBSCRIBE", b"CANCEL"):  # ZMTP 3.1's form
            self._subscribe(peer, data, name == b"SUBSCRIBE")

    def _subscribe(self, peer: Peer, prefix: bytes, on: bool) -> None:
        subs = peer.subscriptions
        if on:
            if prefix not in subs and len(subs) >= MAX_SUBSCRIPTIONS:
                peer.abort(f"more than {MAX_SUBSCRIPTIONS} subscriptions")
                return
            subs[prefix] = subs.get(prefix, 0) + 1
        elif prefix in subs:
            subs[prefix] -= 1
            if not subs[prefix]:
                del subs[prefix]

    def publish(self, frames: Frames) -> None:
        """One message to every subscribed peer; never blocks (a peer too far behind is
        cut, the others go on)."""
        topic = bytes(frames[0])
        pieces: list[Any] | None = None
        behind: list[Peer] = []
        for peer in self.peers:
            subs = peer.subscriptions
            if b"" in subs or any(topic.startswith(prefix) for prefix in subs):
                if peer.write_buffer_size() > MAX_BEHIND:
                    behind.append(peer)  # cut after the loop (it changes self.peers)
                    continue
                if pieces is None:
                    pieces = message_pieces(frames)
                peer.send_pieces(pieces)
        for peer in behind:
            self.keeps_up(peer)


def close_all(servers: list[ZmtpServer]) -> None:
    """Close each of ``servers`` (the ports are free again)."""
    for server in servers:
        with contextlib.suppress(Exception):
            server.close()
