"""The relay's start and who gets what it kept (review s25 F1, F4, F5): what a relay keeps
of the messages too long to relay that its kernel sends while it starts, that the local
side which stays gets the start's GAP even when an earlier attach died during the start,
and that a connection reset while its HELLO waited changes nothing. Harness of
tests/test_relay.py: a real ipykernel, the relay in a thread, the local side over a plain
unix socket (a bare Relay where only its bookkeeping is tested).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.asynchronous import AsyncKernelClient

from jupyter_remote.kernels.relay_link import RelayedChannels
from jupyter_remote.remote import relay as relay_mod
from jupyter_remote.remote.protocol import HELLO, RecordParser
from jupyter_remote.remote.relay_kernel import PARENT_KEPT
from jupyter_remote.remote.state import CLAIMED
from jupyter_remote.ssh.forwards import free_local_ports
from tests.harness.unix_link import UnixLink
from tests.test_relay import RelayedKernel, cell_lines, stop_relay, write_connection

#: a display of 65,536 buffers (6 + 65,536 frames: over MAX_FRAMES) with ``text`` bytes of
#: text/plain in its content frame (one of the head frames a drop's discard keeps)
SEND_OVERSIZED = (
    "k.session.send(k.iopub_socket, 'display_data', "
    "{{'data': {{'text/plain': 'x' * {text}}}, 'metadata': {{}}}}, buffers=[b'.'] * 65536)"
)


@contextlib.contextmanager
def starting_kernel(exec_line: str) -> Iterator[RelayedKernel]:
    """A real ipykernel whose start runs ``exec_line`` (IPKernelApp.exec_lines: after its
    sockets are bound, before it answers anything, so within the relay's start-up nudge),
    and its relay, handed over as soon as the relay runs (its start not waited for)."""
    kdir = Path("/tmp") / f"jr-start-{os.getpid()}"
    kdir.mkdir(mode=0o700)
    key = write_connection(kdir)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", str(kdir / "connection.json")]
    proc = subprocess.Popen(
        [*argv, f"--IPKernelApp.exec_lines={exec_line}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    relay = relay_mod.start_relay(str(kdir), relay_mod.DEFAULT_BUFFER_BYTES, 60)
    try:
        assert relay is not None and relay.listening.wait(30)
        yield RelayedKernel(kdir, proc, relay, key)
    finally:
        if relay is not None:
            stop_relay(relay)
        proc.kill()
        proc.wait(10)
        subprocess.run(["rm", "-rf", str(kdir)], check=False)


@contextlib.asynccontextmanager
async def attached(
    kernel: RelayedKernel, told: list[str]
) -> AsyncIterator[tuple[RelayedChannels, Any]]:
    """A local side attached to ``kernel``'s relay (its HELLO waits for the start), its GAP
    notices (``on_gap``) into ``told``, and a kernel client on it, ready."""
    names = (*relay_mod.RELAYED, "hb")
    ports = dict(zip(names, free_local_ports(len(names)), strict=True))
    channels = RelayedChannels(
        ports, key=kernel.key.encode(), signature_scheme="hmac-sha256", on_gap=told.append
    )
    await channels.attach(UnixLink(), kernel.path, ready_timeout=60)
    kc = AsyncKernelClient()
    info: dict[str, Any] = {f"{n}_port": p for n, p in ports.items()}
    info.update(transport="tcp", ip="127.0.0.1", key=kernel.key, signature_scheme="hmac-sha256")
    kc.load_connection_info(info)  # type: ignore[arg-type]
    kc.start_channels(hb=False)
    try:
        await kc.wait_for_ready(timeout=60)
        yield channels, kc
    finally:
        kc.stop_channels()
        channels.close()


def kept_bytes(obj: Any) -> int:
    """Bytes of the frames ``obj`` (an entry of the relay's ``_early``) holds."""
    if isinstance(obj, bytes | bytearray):
        return len(obj)
    if isinstance(obj, memoryview):
        return obj.nbytes
    if isinstance(obj, list | tuple):
        return sum(kept_bytes(item) for item in obj)
    return 0


#: messages too long to relay that the start sends, each with 1 MB in its content frame
DROPS = 6
DROPS_AT_START = (
    "import time; time.sleep(1.5); k = get_ipython().kernel; "
    f"_ = [{SEND_OVERSIZED.format(text=1_000_000)} for _ in range({DROPS})]; time.sleep(1)"
)


async def test_messages_too_long_to_relay_during_the_start_keep_one_entry(
    tmp_path: Path,
) -> None:
    """Review s25 F1: a start sending 6 messages too long to relay (1 MB of content each)
    before the kernel answers anything: until the start ends the relay keeps one entry for
    them, a few hundred bytes (the old code: each message's 8 head frames, 6 entries and
    6 MB here, unbounded); the first local side still gets one GAP counting all 6."""
    with starting_kernel(DROPS_AT_START) as kernel:
        relay = kernel.relay
        peak = {"entries": 0, "bytes": 0}

        def sample() -> None:  # the relay's _early until the nudge's answer, every 5 ms
            while not relay.ready.is_set():
                nudged = getattr(relay, "_nudged", None)
                if nudged is not None and not nudged.is_set():
                    early = list(getattr(relay, "_early", ()))
                    peak["entries"] = max(peak["entries"], len(early))
                    peak["bytes"] = max(peak["bytes"], sum(kept_bytes(e[1]) for e in early))
                relay.ready.wait(0.005)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        told: list[str] = []
        async with attached(kernel, told) as (channels, kc):
            sampler.join(10)
            assert await cell_lines(kc, kc.execute("print(6 * 7)")) == ["42"]
            assert peak["entries"] == 1, peak
            assert 0 < peak["bytes"] <= PARENT_KEPT, peak
            assert channels.gaps == 1 and len(told) == 1, told
            assert told[0].startswith(
                f"[jupyter-remote] {DROPS} output messages ({DROPS * 65_542:,} parts, "
            ), told
            assert relay._early == [] and relay._early_drops == {}


#: the kernel publishes its message too long to relay 3 s into its start
DROP_LATE_IN_START = (
    f"import time; time.sleep(3); k = get_ipython().kernel; {SEND_OVERSIZED.format(text=10)}"
)


async def test_an_attach_retried_during_a_slow_start_gets_the_starts_gap(
    tmp_path: Path,
) -> None:
    """Review s25 F4: the local side's first attach gives up while the kernel starts (its
    HELLO still waits in the relay) and it attaches again: the dead HELLO is answered first
    when the start ends, and the old code took its client for "the relay's first" one
    (generation 1), so the live one started at seq + 1 and never got the start's GAP. Now
    a new local side starts at first_seq while no client was handed anything."""
    with starting_kernel(DROP_LATE_IN_START) as kernel:
        gave_up = RelayedChannels(
            dict(zip((*relay_mod.RELAYED, "hb"), free_local_ports(5), strict=True)),
            key=kernel.key.encode(),
            signature_scheme="hmac-sha256",
        )
        try:
            await gave_up.attach(UnixLink(), kernel.path, ready_timeout=1)
        except TimeoutError:
            pass
        else:
            raise AssertionError("the kernel was ready within 1 s: no retry tested")
        finally:
            gave_up.close()
        assert not kernel.relay.ready.is_set()
        told: list[str] = []
        async with attached(kernel, told) as (channels, kc):
            assert await cell_lines(kc, kc.execute("print(6 * 7)")) == ["42"]
            assert kernel.relay.generation == 2  # the dead attach was taken first
            assert channels.gaps == 1 and len(told) == 1, told
            assert told[0].startswith("[jupyter-remote] 1 output message (65,542 parts, "), told


async def test_a_connection_reset_while_its_hello_waited_changes_nothing(
    tmp_path: Path,
) -> None:
    """Review s25 F5: a connection whose transport closed while its HELLO waited for the
    start (a TCP reset) cannot be wrapped (os.dup of a closed socket: EBADF). The old code
    had already aborted the previous client, counted a generation and unlinked CLAIMED:
    the relay kept an aborted client for its present one (no eviction of unsent output, no
    idle stop). Now _take_client raises before it changes anything."""
    relay = relay_mod.Relay(str(tmp_path), {"ip": str(tmp_path / "kernel-ipc"), "key": ""})
    (tmp_path / CLAIMED).write_text("")

    async def connection(*, reset: bool) -> tuple[Any, socket.socket]:
        ours, theirs = socket.socketpair()
        _, writer = await asyncio.open_unix_connection(sock=ours)
        if reset:
            writer.transport.abort()
            await asyncio.sleep(0.01)  # its socket is closed with connection_lost
            assert writer.get_extra_info("socket").fileno() == -1
        return writer, theirs

    dead, dead_peer = await connection(reset=True)
    with pytest.raises(OSError):
        relay._take_client(dead, {})
    dead_peer.close()
    assert (relay.generation, relay.client) == (0, None)
    assert (tmp_path / CLAIMED).exists()  # a standby taken is not attached yet

    live, peer = await connection(reset=False)
    assert relay._take_client(live, {}) == 1
    client = relay.client
    assert client is not None and not (tmp_path / CLAIMED).exists()
    records: list[Any] = []
    parser = RecordParser(lambda kind, _c, _s, parts: records.append((kind, parts)))
    peer.setblocking(False)
    await asyncio.sleep(0.01)
    parser.feed(peer.recv(65536))
    assert records[0][0] == HELLO and json.loads(bytes(records[0][1][0]))["start"] == 1

    dead, dead_peer = await connection(reset=True)
    with pytest.raises(OSError):
        relay._take_client(dead, {})
    dead_peer.close()
    assert relay.generation == 1 and relay.client is client
    assert not client.closed and not live.transport.is_closing()
    client.close()
    live.close()
    peer.close()
