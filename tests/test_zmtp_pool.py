"""The relay's big frames read into buffers used again (``remote/zmtp_pool.py``): a frame
still held anywhere (the relay's buffer, a writer's queued views) keeps its bytes while
later frames are read; what is let go is used again; nothing is kept once idle.

A real libzmq ROUTER sends to our DEALER (the relay's kind of read: ``eager_limit`` None).
"""

from __future__ import annotations

import asyncio
import struct
from pathlib import Path
from typing import Any

import zmq
import zmq.asyncio

from jupyter_remote.remote.zmtp_pool import FramePool, pool_for_this_loop
from tests.test_zmtp import (  # noqa: F401 (ctx, sockdir: the fixtures)
    Recorder,
    connect,
    ctx,
    endpoint,
    libzmq,
    sockdir,
)


def body(n: int) -> bytes:
    """Message ``n``'s big frame: its number all through, sizes that differ a little (a
    used buffer is resized within its allocation)."""
    return struct.pack("!I", n) * (64 * 1024 - 7 * (n % 5))


async def test_big_frames_held_keep_their_bytes_and_the_rest_are_used_again(
    ctx: Any,  # noqa: F811
    sockdir: Path,  # noqa: F811
) -> None:
    pool = pool_for_this_loop()
    reused = pool.reused
    addr = endpoint("ipc", sockdir, "router")
    router = libzmq(ctx, zmq.ROUTER)
    router.bind(addr)
    got = Recorder()
    conn, _dealer = await connect(addr, lambda: got.stream(b"DEALER", identity=b"relay-1"))
    held: dict[int, Any] = {}  # as the relay's buffer keeps a message until its ACK
    views: dict[int, memoryview] = {}  # as a LinkWriter's queue keeps a piece's rest
    try:
        await asyncio.wait_for(got.ready.wait(), 10)
        for n in range(90):
            await router.send_multipart([b"relay-1", b"%d" % n, body(n)])
            frames = await got.next_message()
            assert frames == [b"%d" % n, body(n)]
            if n % 3 == 0:
                held[n] = frames[1]
            elif n % 3 == 1:
                views[n] = memoryview(frames[1])[5:]
            del frames  # n % 3 == 2: let go at once
            if n % 9 == 8:  # some held ones let go later, out of order
                held.pop(n - 8 + 3 * (n % 2), None)
                views.pop(n - 7, None)
        for n, frame in held.items():
            assert frame == body(n), n
        for n, view in views.items():
            assert view == body(n)[5:], n
        # the frames let go were read into again (~37 of ~88 read into the pool's buffers;
        # one buffer per frame before, and 18 when a take looked at one held buffer only)
        assert pool.reused - reused >= 30
    finally:
        conn.close()
        router.close()


async def test_the_pool_is_bounded_and_lets_go_of_everything_once_idle() -> None:
    pool = FramePool(max_bytes=10 * 100_000, idle_after=0.05)
    first = pool.take(100_000)
    first[:4] = b"used"
    first_id = id(first)
    del first
    again = pool.take(99_990)  # nobody holds it: used again, resized, not zeroed
    assert id(again) == first_id and len(again) == 99_990 and again[:4] == b"used"
    assert pool.take(200_001) is not again  # does not fit in its allocation: a new one
    held = [pool.take(100_000) for _ in range(30)]  # all held: new ones, the oldest forgotten
    assert len({id(b) for b in held}) == 30 and pool.kept_bytes <= 10 * 100_000
    assert pool.reused == 1
    del held, again
    await asyncio.sleep(0.3)
    assert pool.kept_bytes == 0


def test_each_event_loop_has_its_own_pool_and_its_idle_timer_runs() -> None:
    """A thread runs one loop after another (tests do; a relay restarted in its thread
    could): a pool whose idle timer was armed on a loop now closed would keep its buffers
    for ever and count the last loop's frames in the next one's."""

    async def one_loop() -> tuple[FramePool, int]:
        pool = pool_for_this_loop()
        assert pool is pool_for_this_loop()
        buf = pool.take(100_000)
        del buf
        kept = pool.kept_bytes
        return pool, kept

    first, kept = asyncio.run(one_loop())
    assert kept == 100_000  # the loop was closed with its buffer kept, its timer pending

    async def next_loop() -> tuple[FramePool, int]:
        pool, _ = await one_loop()
        await asyncio.sleep(1.3)  # IDLE_AFTER (1 s) passes on this loop
        return pool, pool.kept_bytes

    second, kept_after_idle = asyncio.run(next_loop())
    assert second is not first and second.reused == 0 and second.taken == 1
    assert kept_after_idle == 0
