"""The ROUTER and PUB sockets every kernel of ours shows on 127.0.0.1, served from the
event loop in ZMTP 3.0 (``remote/zmtp.py``'s codec): no libzmq socket of ours on the
message path, so a message crosses no I/O thread of ours (an eventfd signal and a thread
wake-up each way; bench/analysis.md, issue 17 item 3). Local clients (jupyter_client,
jupyter_server, papermill, nbclient) still speak libzmq to these ports, unchanged.

Here: a listening port and its peers (``ZmtpServer``, ``Peer``), who gets in and what
bounds them; the socket types' patterns over it, ROUTER (identity routing with handover)
and PUB (prefix subscriptions), are ``zmtp_patterns.py``'s.

Another user's connection (any local user can connect to loopback ports; SECURITY.md's
laptop-side paragraph) is reset as it is accepted, before anything is allocated for it
(``remote/peer.py``'s uid lookup, as the remote's relay gate does; where the OS cannot
tell, macOS, the bounds below are all there is, and at most MAX_UNKNOWN_OWNER such
connections per port: past it a newcomer is refused, the ones served go on).
Bounds: a peer's message at most
MAX_REQUEST bytes (iopub peers: MAX_SUBSCRIPTION); the handshake done within
HANDSHAKE_TIMEOUT s, at most MAX_HANDSHAKING connections in it at once per port (a new one
evicts the oldest: a flood cannot keep a new client out); a peer more than MAX_BEHIND
bytes behind in reading is cut once it has read nothing for ``stall_after`` s, or at once
past MAX_BEHIND_HARD (libzmq with sndhwm 0 kept everything for it), so one that never
reads costs bounded memory and never holds up the others, and one that reads slowly
loses nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import socket
import struct
import time
from collections.abc import Callable
from typing import Any

from ..remote.peer import peer_uid
from ..remote.relay_writer import LinkWriter
from ..remote.zmtp import Frames, ZmtpStream

#: a handshake (greeting and READY) not done by then is cut
HANDSHAKE_TIMEOUT = 5.0
#: connections still in their handshake, per port; a new one past it evicts the oldest
MAX_HANDSHAKING = 64
#: largest message a client may send on shell/control/stdin: 1 GiB (a comm's upload may
#: be big; jupyter_server's own websocket takes any size)
MAX_REQUEST = 1 << 30
#: heartbeat pings are a few bytes (jupyter_client's: b"ping")
MAX_PING = 1024
#: a big frame's buffer before its bytes arrive (remote/zmtp.py's eager_limit, review F1)
EAGER_LIMIT = 1 << 20
#: messages taken from a peer per loop turn (remote/zmtp.py's max_batch, review F3)
MAX_BATCH = 256
#: iopub clients send subscriptions only
MAX_SUBSCRIPTION = 64 * 1024
#: distinct subscriptions one iopub peer may hold
MAX_SUBSCRIPTIONS = 256
#: bytes written to a peer and not yet read by it: twice the relay's default output bound
#: (128 MiB, what a replay after a reconnect delivers at once); beyond, the peer is cut
#: once it makes no progress (its backlog has not shrunk) for ``stall_after`` s
MAX_BEHIND = 256 * 1024 * 1024
#: beyond this backlog a peer is cut even if it reads (a reader slower than the kernel
#: writes, for ever): what one subscriber of the user's can make us hold
MAX_BEHIND_HARD = 1 << 30
#: seconds a peer over MAX_BEHIND may go without its backlog shrinking
STALL_AFTER = 30.0

#: completed connections per port whose owner the OS cannot tell (no netlink nor /proc:
#: macOS); past it a newcomer is reset (``ZmtpServer.joined``): clients already served go
#: on (evicting the oldest or idlest would let a flood cut them: an iopub SUB never sends)
MAX_UNKNOWN_OWNER = 256

OnMessage = Callable[[Frames], None]


def is_ours(conn: socket.socket) -> bool | None:
    """The peer of an accepted loopback connection is our own uid's (True); another user's,
    or one already gone (False: ``remote/peer.py``, the relay gate's check); None when its
    owner cannot be told (no netlink nor /proc, e.g. macOS: then the bounds alone)."""
    uid = peer_uid(conn)
    return None if uid is None else uid == os.getuid()


def reset(conn: socket.socket) -> None:
    """Cut a refused connection with a TCP reset (SO_LINGER 0, as relay_gate._reset): its
    peer learns at once, nothing of ours lingers."""
    with contextlib.suppress(OSError):
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


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

    def __init__(self, server: ZmtpServer, unknown_owner: bool = False) -> None:
        super().__init__(
            server.socket_type,
            as_server=True,
            max_message=server.max_message,
            on_lost=server.left,
            eager_limit=EAGER_LIMIT,  # memory as bytes arrive, not as a header declares
            max_batch=MAX_BATCH,  # a flood of tiny messages yields the loop every turn
        )
        self.server = server
        self.unknown_owner = unknown_owner  # the OS could not tell whose it is
        self.route = b""  # a ROUTER's name for this peer
        self.subscriptions: dict[bytes, int] = {}  # a PUB's: prefix -> times subscribed
        self._timer: asyncio.TimerHandle | None = None
        self.sent = 0  # bytes handed to the transport (what it drained: sent - backlog)
        #: over MAX_BEHIND: (bytes drained, since when), None below it
        self.stalled: tuple[int, float] | None = None

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self._timer = asyncio.get_running_loop().call_later(HANDSHAKE_TIMEOUT, self._no_handshake)
        self.server.arrived(self)

    def make_writer(self, transport: Any) -> Any:
        """Writes by ``sendmsg`` of the frames themselves (``LinkWriter``): asyncio's
        ``writelines`` (Python < 3.12) joined each message, then copied what the socket
        did not take into its buffer, two copies of every 1 MB output per client; the
        transport where that cannot be had."""
        try:
            return LinkWriter(transport)
        except (AttributeError, OSError, ValueError):
            return transport

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
        self._handshaking: dict[Peer, None] = {}  # oldest first
        #: seconds a peer over MAX_BEHIND may go without reading (tests shorten it)
        self.stall_after = STALL_AFTER
        self.refused = 0  # connections of another user reset at accept
        self.unknown: set[Peer] = set()  # served peers whose owner the OS cannot tell
        self.refused_unknown = 0  # such connections refused past MAX_UNKNOWN_OWNER
        self._listener: socket.socket | None = listen(port, held)
        self._start = asyncio.ensure_future(self._serve(self._listener))

    async def _serve(self, sock: socket.socket) -> None:
        """Accept connections until closed: another user's is reset before any protocol,
        buffer or handshake slot is made for it."""
        loop = asyncio.get_running_loop()
        while True:
            try:
                conn, _ = await loop.sock_accept(sock)
            except OSError:  # out of fds (EMFILE) or the like: try again shortly
                await asyncio.sleep(0.1)
                continue
            ours = is_ours(conn)
            if ours is False:
                self.refused += 1
                reset(conn)
                continue
            if ours is None and self._unknown_full():
                reset(conn)  # before anything is made for it
                continue
            # asyncio sets TCP_NODELAY only on sockets made with proto IPPROTO_TCP, not on
            # accepted ones: without it Nagle's algorithm held a cell's second iopub
            # message until the client's delayed ACK (+15 ms a cell; libzmq sets it)
            with contextlib.suppress(OSError):
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            try:
                await loop.connect_accepted_socket(
                    functools.partial(Peer, self, ours is None), conn
                )
            except OSError:
                conn.close()

    def close(self) -> None:
        """Stop listening (the port is free again) and cut every peer; also when the loop
        has closed meanwhile (the port is let go all the same)."""
        listener, self._listener = self._listener, None
        with contextlib.suppress(Exception):
            self._start.cancel()
            if listener is not None:  # now: its fd number may be reused at once
                asyncio.get_running_loop().remove_reader(listener.fileno())
        if listener is not None:
            listener.close()
        for peer in [*self._handshaking, *self.peers]:
            with contextlib.suppress(Exception):
                peer.abort("closed")

    def arrived(self, peer: Peer) -> None:
        if self._listener is None:
            peer.abort("closed")
            return
        if len(self._handshaking) >= MAX_HANDSHAKING:  # the oldest goes, not the newcomer
            next(iter(self._handshaking)).abort("too many connections in their handshake")
        self._handshaking[peer] = None

    def _unknown_full(self) -> bool:
        """MAX_UNKNOWN_OWNER peers whose owner cannot be told are served: a newcomer of
        unknown owner is refused (counted in ``refused_unknown``)."""
        if len(self.unknown) < MAX_UNKNOWN_OWNER:
            return False
        self.refused_unknown += 1
        return True

    def joined(self, peer: Peer) -> None:
        self._handshaking.pop(peer, None)
        if peer.unknown_owner:  # (more may have been in their handshake at once)
            if self._unknown_full():
                peer.abort(f"more than {MAX_UNKNOWN_OWNER} connections of unknown owner")
                return
            self.unknown.add(peer)
        self.peers.add(peer)

    def left(self, stream: ZmtpStream, reason: str) -> None:
        assert isinstance(stream, Peer)
        stream.stop_timer()
        self._handshaking.pop(stream, None)
        self.peers.discard(stream)
        self.unknown.discard(stream)

    def received(self, peer: Peer, frames: Frames) -> None:
        """A message from ``peer`` (the pattern's to route)."""

    def command(self, peer: Peer, name: bytes, data: bytes) -> None:
        """A command other than READY/PING/ERROR from ``peer``: ignored unless a pattern
        wants it."""

    def keeps_up(self, peer: Peer) -> bool:
        """False (and ``peer`` cut) if it is more than MAX_BEHIND bytes behind and its
        backlog has not shrunk for ``stall_after`` s, or more than MAX_BEHIND_HARD: a
        client that reads, however slowly (jupyter_server's own SUB takes a message a loop
        turn; a paused nbclient), keeps everything."""
        behind = peer.write_buffer_size()
        if behind <= MAX_BEHIND:
            peer.stalled = None
            return True
        now = time.monotonic()
        if behind > MAX_BEHIND_HARD:
            peer.abort(f"more than {MAX_BEHIND_HARD} bytes behind")
            return False
        drained = peer.sent - behind
        if peer.stalled is None or drained > peer.stalled[0]:
            peer.stalled = (drained, now)  # it read since: the wait starts again
            return True
        if now - peer.stalled[1] < self.stall_after:
            return True
        peer.abort(f"more than {MAX_BEHIND} bytes behind, nothing read for {self.stall_after:g} s")
        return False

    def left_behind(self, peer: Peer) -> bool:
        """``peer`` is over MAX_BEHIND and does not keep up (``keeps_up``: then cut): what
        a PUB skips it for (``zmtp_patterns.PubServer.publish``)."""
        return peer.write_buffer_size() > MAX_BEHIND and not self.keeps_up(peer)


def close_all(servers: list[ZmtpServer]) -> None:
    """Close each of ``servers`` (the ports are free again)."""
    for server in servers:
        with contextlib.suppress(Exception):
            server.close()
