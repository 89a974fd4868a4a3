"""Who gets into a relay: runs ON the remote, part of the agent script.

Mixed into ``Relay`` (``relay.py``, the next part): where the relay listens and what
each new connection may do with its first record. A unix socket ``relay`` next to the
kernel's sockets, in their private 0700 directory: INFO (what re-attaching needs),
HELLO (the local side attaches) or a standby's CLAIM. Only when the server's channel
transport is explicitly "tcp" (an sshd that forbids socket forwarding) also a TCP port
of 127.0.0.1, where other users of the host can connect: there the first record must be
a HELLO (or a standby's CLAIM) carrying the kernel's relay token (sent by the local side
over SSH, never on disk or a command line) within TCP_HELLO_WAIT s, else the connection
is closed unanswered; no INFO; another user's connection is closed as it is accepted
(its owner asked of the kernel: ``peer.py``), and at most MAX_UNPROVEN of ours wait for
that check at once. Stdlib, Python >= 3.8.
"""

import hmac
import json
import os
import socket
import struct
import sys
import time
from typing import Any, Awaitable, Callable, Dict, List, Optional, Set

# <local-imports> removed when the script is sent: the parts before it define these
from jupyter_remote.remote.peer import peer_uid
from jupyter_remote.remote.protocol import (
    CLAIM,
    HELLO,
    INFO,
    MAX_RECORD,
    RecordReader,
    encode_record,
    json_part,
)
from jupyter_remote.remote.relay_start import _write_json
from jupyter_remote.remote.standby import claim_here

# </local-imports>

#: on TCP (any local user may connect; another user's is closed at once): seconds for the
#: first record, and connections at once that have not shown the token yet (a new one
#: beyond drops the oldest)
TCP_HELLO_WAIT = 5.0
MAX_UNPROVEN = 16


class GateSide:
    """The relay's listeners and each connection's first record (a mixin: the state is
    Relay's; a proven HELLO hands the connection to ``Relay._take_client``)."""

    # Relay's state (and StartSide's), set in Relay.__init__, that this side reads or writes
    kdir: str
    key: bytes
    path: str
    tcp_token: Optional[str]
    tcp_port: Optional[int]
    unproven: List[Any]
    servers: List[Any]
    conns: Set[Any]
    client: Optional[Any]
    generation: int
    last_activity: float
    _settled_hello: Callable[[Any, Any], Awaitable[bool]]
    _take_client: Callable[[Any, Dict[str, Any]], int]
    _pump: Callable[[Any, int], Awaitable[None]]
    _from_client: Callable[[Any, int], Awaitable[None]]
    info: Callable[[], Dict[str, Any]]

    async def _listen(self):
        """Relay.run, while the kernel boots: the unix socket (0600), the TCP port if
        chosen, and relay.json saying where (the launch answers with it)."""
        import asyncio

        self.servers.append(await asyncio.start_unix_server(self._accept, path=self.path))
        os.chmod(self.path, 0o600)
        if self.tcp_token:
            server = await asyncio.start_server(self._accept_tcp, "127.0.0.1", 0)
            self.servers.append(server)
            self.tcp_port = server.sockets[0].getsockname()[1]
        _write_json(self.kdir, "relay.json", {"path": self.path, "port": self.tcp_port})

    async def _accept_tcp(self, reader, writer):
        """A TCP client must be our own user's and prove it knows the relay token in its
        HELLO; no INFO. Another user's connection is aborted as it is accepted, unread,
        before it counts against MAX_UNPROVEN (review s22 F3: one process reconnecting
        in a loop evicted our client's connection before its HELLO arrived, every time)."""
        if not _our_peer(writer):
            _reset(writer)
            return
        await self._accept(reader, writer, tcp=True)

    async def _accept(self, reader, writer, tcp=False):
        import asyncio

        generation = None
        self.conns.add(writer)
        if tcp:
            self._admit_unproven(writer)
        records = RecordReader(reader, max_record=64 * 1024 if tcp else MAX_RECORD)
        try:
            if tcp:
                record = await asyncio.wait_for(records.next(), TCP_HELLO_WAIT)
            else:
                record = await records.next()
            if record is None:
                return
            kind, _, _, parts = record
            if kind == INFO and not tcp:
                writer.write(encode_record(INFO, 0, 0, [json_part(self.info())]))
                await writer.drain()
                return
            if kind not in (HELLO, CLAIM):
                return
            hello = json.loads(bytes(parts[0]).decode("utf-8"))
            if tcp and not _token_ok(hello.get("token"), self.tcp_token):
                return
            if writer in self.unproven:  # proven: never dropped for a newer connection
                self.unproven.remove(writer)
            if kind == CLAIM:  # its keeper takes this standby (standby.py), then attaches
                answer = claim_here(self.kdir, hello, self.key)  # with its proof (F1)
                writer.write(encode_record(CLAIM, 0, 0, [json_part(answer)]))
                await writer.drain()
                return
            if not await self._settled_hello(writer, hello):
                return  # the start failed: this side was told why
            records.max_record = MAX_RECORD
            generation = self._take_client(writer, hello)  # self.client writes from here
            pump = asyncio.ensure_future(self._pump(self.client, generation))
            try:
                await self._from_client(records, generation)
            finally:
                pump.cancel()
        except Exception as exc:  # a malformed record ends that connection, not the relay
            sys.stderr.write("jupyter-remote: relay client: %r\n" % (exc,))
        finally:
            self.conns.discard(writer)
            if writer in self.unproven:
                self.unproven.remove(writer)
            if generation is not None and generation == self.generation:
                if self.client is not None:  # its LinkWriter (Relay._take_client)
                    self.client.close()
                self.client = None
                self.last_activity = time.time()
            writer.close()

    def _admit_unproven(self, writer):
        """A TCP connection of our user (or of a peer nobody can name: no netlink, no
        /proc) is in; many that never send a token would each hold an fd of the kernel's
        supervisor and up to 64 KiB: past MAX_UNPROVEN the oldest is aborted."""
        self.unproven.append(writer)
        while len(self.unproven) > MAX_UNPROVEN:
            _reset(self.unproven.pop(0))


def _reset(writer):
    """Cut a refused connection with a TCP reset, whatever it has sent yet: a plain close
    is a FIN when nothing is unread, which its peer cannot tell from a clean end."""
    try:
        writer.get_extra_info("socket").setsockopt(
            socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
        )
    except (OSError, AttributeError):
        pass  # already gone: the close below is all there is
    writer.transport.abort()


def _our_peer(writer):
    """The TCP peer's socket is our uid's (``peer.py``), or its owner cannot be told (no
    netlink nor /proc: then the token check and MAX_UNPROVEN alone); not when it is
    another user's, or already gone."""
    uid = peer_uid(writer.get_extra_info("socket"))
    return uid is None or uid == os.getuid()


def _token_ok(given, expected):
    if not isinstance(given, str) or not expected:
        return False
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))
