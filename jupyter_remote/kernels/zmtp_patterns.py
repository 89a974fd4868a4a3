"""The socket types' patterns of the local servers (``zmtp_server.py``): libzmq's ROUTER
(identity routing, ROUTER_HANDOVER) and PUB (prefix subscriptions), on the laptop.

A ROUTER prefixes each message with the peer's identity (its READY's Identity, or a
generated 5-byte one), routes what it sends by the first frame and drops a message for an
unknown identity; a new connection with an identity already taken takes it over. A PUB
keeps each peer's subscriptions (ZMTP 3.0 messages ``\\x01topic``/``\\x00topic``, 3.1's
SUBSCRIBE/CANCEL) and sends a message to every peer with a matching prefix, never
blocking. Who gets in, the bounds and a peer's backlog are ``ZmtpServer``'s.
"""

from __future__ import annotations

import os
import socket
import struct
from typing import Any

from ..remote.zmtp import Frames, ZmtpStream, message_pieces
from .zmtp_server import (
    MAX_REQUEST,
    MAX_SUBSCRIPTION,
    MAX_SUBSCRIPTIONS,
    OnMessage,
    Peer,
    ZmtpServer,
)


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
        if peer.closed:  # refused (MAX_UNKNOWN_OWNER): it takes no identity over
            return
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
            pieces = message_pieces(frames[1:])
            peer.sent += sum(map(len, pieces))
            peer.send_pieces(pieces)


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
        """One message to every subscribed peer; never blocks (a peer far behind that no
        longer reads is cut, the others go on)."""
        topic = bytes(frames[0])
        pieces: list[Any] | None = None
        size = 0
        for peer in list(self.peers):  # keeps_up may cut one (it changes self.peers)
            subs = peer.subscriptions
            if b"" in subs or any(topic.startswith(prefix) for prefix in subs):
                if self.left_behind(peer):
                    continue
                if pieces is None:
                    pieces = message_pieces(frames)
                    size = sum(map(len, pieces))
                peer.sent += size
                peer.send_pieces(pieces)
