"""Review s27 F2: the relay's bound holds while a client reads, but more slowly than the
kernel writes. Until s29 such a client counted as absent only once one wait for its link
lasted 5 s, so on a link faster than ~0.63 MB/s and slower than the kernel nothing unsent
was evicted and the relay grew without bound (the review's model: 93 MB held against a
1 MiB bound). Now unsent output goes, oldest first, while the buffer is over its bound
and the pump waits for the link; the client gets a GAP counting what went. A client that
keeps up never gets one. A real ipykernel and its relay in a thread (test_relay's
harness), the local side (``RelayedChannels``) over a unix socket read at full speed,
then a little at a time.
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

from tests.harness.unix_link import UnixChannel, UnixLink
from tests.test_gap_notices import dropped_in
from tests.test_relay import (  # noqa: F401 (kernel_factory: the fixture)
    joined,
    kernel_factory,
)
from tests.test_relay_bound import until_quiet, until_running

BOUND = 1 << 20
#: the slow client reads at most CHUNK bytes, then waits PAUSE s: ~1.6 MB/s at most, over
#: the 0.63 MB/s (3 MiB in 5 s) that counted as stalled before s29, under the kernel's
CHUNK, PAUSE = 16 * 1024, 0.01
LINES, WIDTH = 400, 100_000  # 40 MB of output, as fast as the kernel prints it
PRINTS = f"for i in range({LINES}):\n    print(f'{{i:04d}} ' + 'x' * {WIDTH}, flush=True)"
MB = re.compile(r"\(([\d.]+) MB\)")
LINE = re.compile(rf"^\d{{4}} x{{{WIDTH}}}$", re.M)


class SlowChannel(UnixChannel):
    """A link that reads CHUNK bytes at a time, then waits PAUSE s (the link's own pauses,
    if any, are kept: it resumes only what it paused itself)."""

    def connection_made(self, transport: Any) -> None:
        transport.max_size = CHUNK  # asyncio's selector transport: bytes per recv
        self.link_paused = False
        super().connection_made(transport)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if not self.transport.is_closing():
            self.transport.pause_reading()
            asyncio.get_running_loop().call_later(PAUSE, self._resume)

    def _resume(self) -> None:
        if not self.link_paused and not self.transport.is_closing():
            self.transport.resume_reading()

    def pause_reading(self) -> None:
        self.link_paused = True
        super().pause_reading()

    def resume_reading(self) -> None:
        self.link_paused = False
        super().resume_reading()


class SlowLink(UnixLink):
    async def create_unix_connection(self, factory: Any, path: str, **ssh_options: Any) -> Any:
        session = factory()
        loop = asyncio.get_running_loop()
        _, chan = await loop.create_unix_connection(lambda: SlowChannel(session), path)
        return chan, session


async def cell_output(kc: Any, cell: str, timeout: float = 120) -> tuple[list[int], int, list[str]]:
    """The numbers of the lines ``cell`` printed that reached the client whole, the bytes
    of its output that did, and the GAP notices it was shown, until its idle status (a
    line may come in two messages: ipykernel's stream flushes on its own too)."""
    text = ""
    notices: list[str] = []
    deadline = time.monotonic() + timeout
    while True:
        msg = await kc.get_iopub_msg(timeout=max(0.1, deadline - time.monotonic()))
        if msg["parent_header"].get("msg_id") != cell:
            continue
        if msg["msg_type"] == "stream":
            if dropped_in(msg["content"]["text"]):
                notices.append(msg["content"]["text"])
            else:
                text += msg["content"]["text"]
        elif msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            return [int(line[:4]) for line in LINE.findall(text)], len(text), notices


async def test_a_client_slower_than_the_kernel_keeps_the_relay_within_its_bound(
    kernel_factory: Any,  # noqa: F811
) -> None:
    """40 MB printed as fast as the kernel can, bound 1 MiB. Read at full speed: every
    line arrives, in order, no GAP. Read ~16 KiB every 10 ms (~1.6 MB/s): the relay's
    buffer stays within its bound and its link's queue within the pump's 4 MiB (the old
    code held ~40 MB: nothing unsent was evicted while the client read); the client gets
    the lines kept, in order, the last among them, and GAP notices counting every
    message dropped and its bytes, saying the client read too slowly (the GAP's "behind");
    every seq once."""
    async with joined(kernel_factory, buffer_bytes=BOUND) as (kernel, channels, kc):
        relay = kernel.relay
        numbers, _, notices = await cell_output(kc, kc.execute(PRINTS))
        assert numbers == list(range(LINES)) and not notices, (numbers[:3], notices)
        assert channels.gaps == 0 and relay.dropped == 0, (channels.gaps, relay.dropped)

        channels.detach()
        await channels.attach(SlowLink(), kernel.path)
        peak = [0, 0]  # the relay's buffer, its client's queue

        async def watch() -> None:
            while True:
                client = relay.client
                peak[0] = max(peak[0], relay.buf_bytes)
                peak[1] = max(peak[1], client.get_write_buffer_size() if client else 0)
                await asyncio.sleep(0.002)

        watcher = asyncio.ensure_future(watch())
        try:
            cell = kc.execute(PRINTS)
            await until_running(relay)
            await until_quiet(relay)
            print(f"slow client: peak buffer {peak[0]:,} B, link queue {peak[1]:,} B")
            assert peak[0] <= BOUND + WIDTH + 1024, peak  # the old code: ~40 MB
            assert peak[1] <= 4 * 1024 * 1024 + 256 * 1024 + 2 * WIDTH, peak
            numbers, nbytes, notices = await cell_output(kc, cell)
        finally:
            watcher.cancel()
        dropped = sum(dropped_in(text) for text in notices)
        megabytes = sum(float(m) for text in notices for m in MB.findall(text))
        print(
            f"got {len(numbers)} lines, {len(notices)} notices: {dropped} dropped, {megabytes} MB"
        )
        assert numbers == sorted(set(numbers)) and numbers[-1] == LINES - 1, numbers[-3:]
        assert dropped == relay.dropped and dropped >= LINES // 2, (dropped, relay.dropped)
        assert all("the client read more slowly than the kernel wrote" in t for t in notices)
        assert len(numbers) + dropped >= LINES * 0.9, (len(numbers), dropped)
        # the bytes told: the output that did not arrive, + each message's header frames
        lost = (LINES * (WIDTH + 6) - nbytes) / 1e6
        slack = 0.05 * len(notices)  # each notice's MB is rounded to 0.1
        assert lost - slack <= megabytes <= lost * 1.02 + slack, (lost, megabytes)
        assert channels.last_in == relay.seq  # every seq, each once (a message or a GAP)


def test_a_gap_s_behind_flag_is_checked() -> None:
    """``relay_records.gap_record``: "behind" (review s27 F2) is a bool, or the GAP is
    malformed (told as such, no figure believed), as "statuses" is."""
    import json

    from jupyter_remote.kernels.gap_notices import gap_text
    from jupyter_remote.kernels.relay_records import gap_record

    info = {"count": 3, "bytes": 300_000, "bound": BOUND}
    for behind, told in ((True, True), (False, False)):
        gap, problem = gap_record(1, [json.dumps({**info, "behind": behind}).encode(), b"{}"])
        assert gap is not None and problem is None and bool(gap.info.get("behind")) == told
        text = gap_text(gap.info)
        assert ("more slowly" in text) == told and ("link was down" in text) != told, text
    for behind in ("yes", 1, None, [True]):
        gap, problem = gap_record(1, [json.dumps({**info, "behind": behind}).encode(), b"{}"])
        assert gap is None and problem and "behind" in problem, (behind, problem)
