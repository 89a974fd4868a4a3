"""Block transfers on an open SFTP file handle, many requests in flight: what makes
SFTP fast on a long link (one request per round trip would crawl at 50 ms).

``ssh/sftp.py``'s :class:`~jupyter_remote.ssh.sftp.SFTPLink` calls these for its
reads (``iter_read``) and writes (``write_at``, ``write_stream``); ``block`` is the
largest request the server takes. Reads come back in file order; writes report
progress in file order, so a resumed transfer knows the last byte surely written.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import Any

from ..errors import RemoteFileError
from .sftp_errors import errors_of, shown

#: Requests in flight per transfer: 64 x 255 KiB covers a 50 ms link at 300 MB/s
#: (OpenSSH's sftp keeps 64 of 32 KiB).
WINDOW = 64

Progress = Callable[[int], None]


async def pipelined_reads(
    handle: Any, path: bytes, block: int, offset: int, limit: int | None
) -> AsyncGenerator[bytes, None]:
    """The file's bytes from ``offset`` in order, ``WINDOW`` reads of ``block`` bytes in
    flight; refused once more than ``limit`` bytes came (the file grew)."""
    pending: deque[asyncio.Task[bytes]] = deque()
    next_offset, done, total = offset, False, 0
    try:
        while True:
            while not done and len(pending) < WINDOW:
                pending.append(asyncio.ensure_future(handle.read(block, next_offset)))
                next_offset += block
            if not pending:
                return
            with errors_of(path, "read"):
                data = await pending.popleft()
            if len(data) < block:
                done = True  # short read: end of file (later requests read nothing)
            if data:
                total += len(data)
                if limit is not None and total > limit:
                    raise RemoteFileError(f"{shown(path)} grew past {limit:,} bytes.")
                yield data
            if done and not data:
                return
    finally:
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)


async def write_at(handle: Any, path: bytes, block: int, data: bytes, offset: int) -> None:
    """Write ``data`` at ``offset``, up to ``WINDOW`` blocks in flight together."""
    view = memoryview(data)
    with errors_of(path, "write"):
        for start in range(0, len(view), block * WINDOW):
            await asyncio.gather(
                *(
                    handle.write(bytes(view[pos : pos + block]), offset + pos)
                    for pos in range(start, min(len(view), start + block * WINDOW), block)
                )
            )


async def write_stream(
    handle: Any,
    path: bytes,
    block: int,
    chunks: AsyncIterator[bytes],
    progress: Progress,
    start: int = 0,
) -> int:
    """Write an ordered stream of chunks from offset ``start``, ``WINDOW`` writes in
    flight; returns the end offset. ``progress(n)`` counts bytes written, in order."""
    pending: deque[tuple[asyncio.Task[Any], int]] = deque()
    offset = start
    try:
        async for chunk in chunks:
            for pos in range(0, len(chunk), block):
                piece = chunk[pos : pos + block]
                pending.append((asyncio.ensure_future(handle.write(piece, offset)), len(piece)))
                offset += len(piece)
                while len(pending) >= WINDOW:
                    await _settle(*pending.popleft(), path, progress)
        while pending:
            await _settle(*pending.popleft(), path, progress)
    finally:
        for task, _ in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*(t for t, _ in pending), return_exceptions=True)
    return offset


async def _settle(task: Awaitable[Any], size: int, path: bytes, progress: Progress) -> None:
    """Wait for the oldest write; ``progress`` hears of bytes now on the remote, in order."""
    with errors_of(path, "write"):
        await task
    progress(size)
