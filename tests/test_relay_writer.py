"""The relay's own write path (remote/relay_writer.py's LinkWriter): records' pieces sent
with sendmsg, partial sends and a full socket handled, order kept, nothing copied.

Real sockets: a unix socket pair with a small send buffer, read by a slow thread."""

from __future__ import annotations

import asyncio
import os
import random
import socket
import threading
import time

from jupyter_remote.remote.relay_writer import DRAINED, LinkWriter


def _slow_reader(sock: socket.socket, into: bytearray, done: threading.Event) -> None:
    """Reads a few KiB at a time with pauses, until EOF."""
    try:
        while True:
            chunk = sock.recv(random.choice((1, 700, 4096, 30000)))
            if not chunk:
                break
            into.extend(chunk)
            if random.random() < 0.05:
                time.sleep(0.002)
    finally:
        done.set()


async def _writer_over(sock: socket.socket) -> tuple[asyncio.StreamReader, LinkWriter]:
    reader, writer = await asyncio.open_connection(sock=sock)
    return reader, LinkWriter(writer)


def test_every_byte_arrives_in_order_through_a_small_send_buffer() -> None:
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    theirs.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    got, done = bytearray(), threading.Event()
    thread = threading.Thread(target=_slow_reader, args=(theirs, got, done), daemon=True)
    thread.start()
    rng = random.Random(17)
    expected = bytearray()
    stats = {"queued": 0}

    async def main() -> None:
        _, link = await _writer_over(ours)
        for i in range(400):
            pieces: list = []
            for _ in range(rng.randint(1, 6)):
                data = os.urandom(rng.choice((0, 1, 17, 900, 5000, 70_000)))
                kind = rng.randrange(3)  # bytes, a view of a larger buffer, a bytearray
                piece = (
                    data
                    if kind == 0
                    else memoryview(b"\0" + data + b"\0")[1 : 1 + len(data)]
                    if kind == 1
                    else bytearray(data)
                )
                pieces.append(piece)
                expected.extend(data)
            if i % 3:
                link.writelines(pieces)
            else:
                for piece in pieces:
                    link.write(piece)
            if link.get_write_buffer_size():
                stats["queued"] += 1
            if link.get_write_buffer_size() > 4 * DRAINED:
                await link.drain()
                assert link.get_write_buffer_size() <= DRAINED
        while link.get_write_buffer_size():
            await asyncio.sleep(0.01)
        assert not link.watching  # all sent: the loop no longer watches the socket
        link.close()
        link.writer.close()

    asyncio.run(main())
    assert done.wait(60)
    # the socket was full most of the time: the queue was used, and the 70 KB pieces
    # (over the socket's buffer) can only have gone in parts
    assert stats["queued"] > 50
    assert len(got) == len(expected)
    assert got == expected


def test_a_peer_gone_ends_the_connection_and_later_writes_are_dropped() -> None:
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)

    async def main() -> None:
        reader, link = await _writer_over(ours)
        link.write(b"x" * 200_000)  # more than the socket takes: some waits
        assert link.get_write_buffer_size() > 0
        theirs.close()  # the peer goes with bytes unread: the next send fails
        for _ in range(200):
            if link.closed:
                break
            await asyncio.sleep(0.01)
        assert link.closed and link.get_write_buffer_size() == 0
        link.writelines([b"after", b"the end"])  # dropped, no error
        assert link.get_write_buffer_size() == 0
        await asyncio.wait_for(link.drain(), 1)  # returns: the connection is gone
        assert await asyncio.wait_for(reader.read(), 5) == b""  # the transport ended too
        assert link.sock.fileno() == -1  # its duplicate descriptor is closed

    asyncio.run(main())
