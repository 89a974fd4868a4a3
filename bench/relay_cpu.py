"""Laptop-side CPU per relayed iopub message: record parsing + local publish (issue 17 item 3).

    python -m bench.relay_cpu

No hosts, no root: one process, a PUB socket on a free loopback port and a SUB client
draining it on another thread. For records of 50 B, 1 kB and 1 MB of stream text, the
CPU time (``time.thread_time``) of the relay link's loop thread per message, on two paths:

- ``before``: the path up to git 145a3e7, written out here: a bytearray reader that copies
  each record's body before slicing its parts, and ``await`` zmq.asyncio's
  ``send_multipart``;
- ``now``: the product's ``RecordReader`` and libzmq's frame send on a sync twin of the PUB
  socket (``send_now`` below: the product's path from b5bf23d until the local side
  served ZMTP itself from its event loop, ``kernels/zmtp_server.py``, which
  ``bench.relay_wakeups`` measures).

Medians of 5 runs, alternated. Prints one line per size.
"""

from __future__ import annotations

import asyncio
import statistics
import struct
import threading
import time
from typing import Any

import zmq
import zmq.asyncio

from bench.kernels import free_ports
from jupyter_remote.remote.protocol import MSG, RecordReader, decode_body, encode_record

_LEN = struct.Struct("!I")
RUNS = 5
_SNDMORE = int(zmq.SNDMORE)
_send_frame: Any = getattr(getattr(zmq, "backend", None), "Socket", zmq.Socket).send


def send_now(sock: zmq.Socket[Any], parts: list[bytes]) -> None:
    """One multipart message with libzmq's frame send, without pyzmq's Python wrapper."""
    last = len(parts) - 1
    for i, part in enumerate(parts):
        _send_frame(sock, part, _SNDMORE if i < last else 0)


def sync_twin(sock: zmq.asyncio.Socket) -> zmq.Socket[Any]:
    """The same libzmq socket without the asyncio wrapper, for :func:`send_now`."""
    return zmq.Socket.shadow(sock.underlying)


class _Bytes:
    """An asyncio-style reader over bytes, in chunks as the SSH channel delivers them."""

    def __init__(self, data: bytes, chunk: int = 256 * 1024) -> None:
        self.data, self.pos, self.chunk = data, 0, chunk

    async def read(self, n: int) -> bytes:
        await asyncio.sleep(0)
        out = self.data[self.pos : self.pos + min(n, self.chunk)]
        self.pos += len(out)
        return out


class _BeforeReader:
    """The record reader as it was: body copied out of a bytearray, then sliced."""

    def __init__(self, reader: _Bytes) -> None:
        self.reader, self.buf, self.pos = reader, bytearray(), 0

    async def next(self) -> tuple[int, int, int, list[bytes]] | None:
        while True:
            available = len(self.buf) - self.pos
            n = 0
            if available >= 4:
                (n,) = _LEN.unpack_from(self.buf, self.pos)
                if available >= 4 + n:
                    start = self.pos + 4
                    body = bytes(self.buf[start : start + n])
                    self.pos = start + n
                    return decode_body(body)
            if self.pos:
                del self.buf[: self.pos]
                self.pos = 0
            data = await self.reader.read(max(256 * 1024, 4 + n))
            if not data:
                return None
            self.buf += data


def _records(text_bytes: int, count: int) -> bytes:
    parts = [
        b"stream",
        b"<IDS|MSG>",
        b"0" * 64,
        b'{"msg_id":"x","msg_type":"stream","session":"s","username":"u","date":"2026-11-29'
        b'T00:00:00Z","version":"5.3"}',
        b'{"msg_id":"p","msg_type":"execute_request"}',
        b"{}",
        b'{"name":"stdout","text":"' + b"a" * text_bytes + b'"}',
    ]
    return b"".join(encode_record(MSG, 3, i + 1, parts) for i in range(count))


def _drain(port: int, count: int, ready: threading.Event) -> None:
    sub: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.rcvhwm = 0
    sub.connect(f"tcp://127.0.0.1:{port}")
    ready.set()
    for _ in range(count):
        sub.recv_multipart()
    sub.close(linger=0)


async def _one(path: str, data: bytes, count: int, pub: Any, port: int) -> float:
    """Microseconds of this thread's CPU per message."""
    ready = threading.Event()
    drainer = threading.Thread(target=_drain, args=(port, count, ready))
    drainer.start()
    ready.wait()
    await asyncio.sleep(0.3)  # the subscription reaches the PUB socket
    twin = sync_twin(pub)
    reader: Any = _BeforeReader(_Bytes(data)) if path == "before" else RecordReader(_Bytes(data))
    cpu = time.thread_time()
    for _ in range(count):
        record = await reader.next()
        assert record is not None
        if path == "before":
            await pub.send_multipart(record[3])
        else:
            send_now(twin, record[3])
    cpu = time.thread_time() - cpu
    drainer.join()
    return cpu / count * 1e6


async def main() -> None:
    (port,) = free_ports(1)
    pub = zmq.asyncio.Context.instance().socket(zmq.PUB)
    pub.sndhwm = 0
    pub.bind(f"tcp://127.0.0.1:{port}")
    try:
        for text_bytes, count in ((50, 20000), (1000, 20000), (1_000_000, 100)):
            data = _records(text_bytes, count)
            us: dict[str, list[float]] = {"before": [], "now": []}
            for _ in range(RUNS):
                for path in us:
                    us[path].append(await _one(path, data, count, pub, port))
            before, now = statistics.median(us["before"]), statistics.median(us["now"])
            print(
                f"iopub message with {text_bytes:>7} bytes of text: before {before:7.1f} us CPU, "
                f"now {now:7.1f} us ({now / before:.2f}x)",
                flush=True,
            )
    finally:
        pub.close(linger=0)


if __name__ == "__main__":
    asyncio.run(main())
