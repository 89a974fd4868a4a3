"""Back-pressure from the local iopub subscribers to the relay link (kernels/link_flow.py):
a real kernel and its relay (test_relay's), the local side on a unix socket link. A
subscriber that reads slowly gets everything in order while this side's buffer for it
stays bounded (the rest waits on the remote); one that never reads does not hold the
others' output back."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
import zmq
import zmq.asyncio

from jupyter_remote.kernels import link_flow
from tests.test_relay import cell_lines, joined, relay_kernels

#: 300 lines of 64 KiB (~20 MB), each flushed: far more than the pause threshold below
PRINT_BIG = "for i in range(300):\n    print(f'{i:03d} ' + 'x' * 65536, flush=True)"


@pytest.fixture
def kernel_factory() -> Iterator[Any]:
    yield from relay_kernels()


@pytest.fixture
def small_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(link_flow, "PAUSE_ABOVE", 1024 * 1024)
    monkeypatch.setattr(link_flow, "RESUME_BELOW", 256 * 1024)
    monkeypatch.setattr(link_flow, "STUCK_AFTER", 0.5)


def slow_subscriber(port: int) -> Any:
    """A libzmq SUB that takes little at a time (receive HWM 4, a 4 KiB socket buffer)."""
    sub = zmq.asyncio.Context.instance().socket(zmq.SUB)
    sub.linger, sub.rcvhwm, sub.rcvbuf = 0, 4, 4096
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.connect(f"tcp://127.0.0.1:{port}")
    return sub


def stream_text(frames: list[bytes]) -> str:
    """The text of a stream message's frames ('' for any other message)."""
    at = frames.index(b"<IDS|MSG>")
    if json.loads(frames[at + 2])["msg_type"] != "stream":
        return ""
    return str(json.loads(frames[at + 5])["text"])


async def subscribed(channels: Any, count: int) -> None:
    pub = channels._pub
    for _ in range(500):
        if sum(1 for p in pub.peers if p.subscriptions) >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the subscriber never subscribed")


async def test_a_slow_subscriber_gets_everything_and_the_local_buffer_stays_bounded(
    kernel_factory: Any, small_bounds: None
) -> None:
    async with joined(kernel_factory) as (_kernel, channels, kc):
        sub = slow_subscriber(channels.ports["iopub"])
        pub, most = channels._pub, 0
        assert pub is not None

        async def sample() -> None:
            nonlocal most
            while True:
                most = max([most, *(behind for _, behind, _ in pub.backlogs())])
                await asyncio.sleep(0.002)

        sampler = asyncio.ensure_future(sample())
        try:
            await subscribed(channels, 2)
            msg_id = kc.execute(PRINT_BIG)
            text = ""
            while text.count("\n") < 300:
                frames = await asyncio.wait_for(sub.recv_multipart(), 60)
                text += stream_text(frames)
                await asyncio.sleep(0.003)  # slower than the kernel writes
            assert [int(line[:3]) for line in text.splitlines()] == list(range(300))
            assert len(await cell_lines(kc, msg_id)) == 300  # the fast client too
            # a pause lets through at most the packet in hand and one record
            assert most < link_flow.PAUSE_ABOVE + 2 * 1024 * 1024, most
            assert channels.flow.pauses > 0 and channels.gaps == 0
        finally:
            sampler.cancel()
            sub.close()


async def test_a_subscriber_that_never_reads_does_not_stop_the_others(
    kernel_factory: Any, small_bounds: None
) -> None:
    async with joined(kernel_factory) as (_kernel, channels, kc):
        stuck = slow_subscriber(channels.ports["iopub"])  # never reads
        try:
            await subscribed(channels, 2)
            lines = await cell_lines(kc, kc.execute(PRINT_BIG), timeout=60)
            assert [int(line[:3]) for line in lines] == list(range(300))
            assert channels.flow.pauses > 0  # it did pause the link, for a while
            assert not channels.flow.paused
            # and a cell after it still runs: the stuck one no longer holds the link
            assert await cell_lines(kc, kc.execute("print('after')")) == ["after"]
        finally:
            stuck.close()
