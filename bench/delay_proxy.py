"""A userspace TCP delay proxy: every byte waits DELAY seconds in each direction.

This kernel has no netem, so the "slow link" host is an sshd in a network namespace
reached through this proxy: ``127.0.0.1:PORT`` (root namespace) forwards to the
namespace's sshd, holding each chunk it reads for ``--delay`` seconds before writing
it on (order preserved; 25 ms each way = 50 ms round trips). The TCP handshake of a
new connection is not delayed (the proxy accepts at once); everything after it is.

Run as a script (stdlib only)::

    python -m bench.delay_proxy --target 10.231.3.2:22 --delay 0.025 --control SOCK

It prints ``READY <port>`` once listening. The control socket takes one line
commands and answers ``ok``: ``cut`` stops forwarding (data already in flight is held,
as TCP would hold it while a link is down) and closes the listener (new connections
are refused at once, like an unreachable route); ``restore`` undoes both.
:class:`DelayProxy` starts and drives it from another process.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

from bench.common import wait_or_kill

CHUNK = 64 * 1024
MAX_QUEUED = 4 * 1024 * 1024  # bytes in flight per direction before we stop reading


class Link:
    """Shared state: up (forwarding) or cut, and the listener to close/reopen."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.up = asyncio.Event()
        self.up.set()
        self.pipes = 0


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, link: Link) -> None:
    """Copy reader -> writer, each chunk delivered ``link.delay`` after it was read."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[float, Optional[bytes]]] = asyncio.Queue()
    queued = 0
    room = asyncio.Event()
    room.set()

    async def read_side() -> None:
        nonlocal queued
        while True:
            await link.up.wait()
            await room.wait()
            try:
                data = await reader.read(CHUNK)
            except (ConnectionError, OSError):
                data = b""
            queue.put_nowait((loop.time() + link.delay, data or None))
            if not data:
                return
            queued += len(data)
            if queued >= MAX_QUEUED:
                room.clear()

    async def write_side() -> None:
        nonlocal queued
        while True:
            due, data = await queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            await link.up.wait()
            if data is None:
                with contextlib.suppress(OSError, RuntimeError):
                    if writer.can_write_eof():
                        writer.write_eof()
                return
            writer.write(data)
            await writer.drain()
            queued -= len(data)
            if queued < MAX_QUEUED:
                room.set()

    reading = asyncio.ensure_future(read_side())
    try:
        await write_side()
    finally:
        reading.cancel()
        with contextlib.suppress(BaseException):
            await reading


async def _serve_one(
    client_r: asyncio.StreamReader,
    client_w: asyncio.StreamWriter,
    target: tuple[str, int],
    link: Link,
) -> None:
    try:
        up_r, up_w = await asyncio.wait_for(asyncio.open_connection(*target), 10)
    except (OSError, asyncio.TimeoutError):
        client_w.close()
        return
    link.pipes += 1
    try:
        await asyncio.gather(
            _pump(client_r, up_w, link), _pump(up_r, client_w, link), return_exceptions=True
        )
    finally:
        link.pipes -= 1
        for w in (client_w, up_w):
            with contextlib.suppress(Exception):
                w.close()


async def _main(args: argparse.Namespace) -> None:
    host, port_text = args.target.rsplit(":", 1)
    target = (host, int(port_text))
    link = Link(args.delay)
    lhost, lport_text = args.listen.rsplit(":", 1)

    def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> asyncio.Future[None]:
        return asyncio.ensure_future(_serve_one(r, w, target, link))

    server = await asyncio.start_server(handler, lhost, int(lport_text), reuse_address=True)
    port = server.sockets[0].getsockname()[1]

    async def control(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        nonlocal server
        line = (await r.readline()).decode().strip()
        if line == "cut":
            link.up.clear()
            server.close()
            await server.wait_closed()
        elif line == "restore":
            if not server.is_serving():
                server = await asyncio.start_server(handler, lhost, port, reuse_address=True)
            link.up.set()
        w.write(f"ok {link.pipes}\n".encode())
        await w.drain()
        w.close()

    ctl = await asyncio.start_unix_server(control, args.control)
    print(f"READY {port}", flush=True)
    async with ctl:
        await asyncio.Event().wait()


class DelayProxy:
    """The proxy as a child process (its own CPU: it must not share the measuring GIL)."""

    def __init__(self, target: tuple[str, int], delay: float, workdir: Path) -> None:
        self.control_path = workdir / "delay-proxy.sock"
        with contextlib.suppress(FileNotFoundError):
            self.control_path.unlink()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.delay_proxy",
                "--target",
                f"{target[0]}:{target[1]}",
                "--delay",
                str(delay),
                "--control",
                str(self.control_path),
            ],
            stdout=subprocess.PIPE,
            text=True,
            cwd=str(Path(__file__).resolve().parent.parent),
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().split()
        if len(line) != 2 or line[0] != "READY":
            self.close()
            raise RuntimeError(f"delay proxy did not start: {line}")
        self.port = int(line[1])
        self.delay = delay

    def _command(self, what: str) -> str:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(10)
            s.connect(str(self.control_path))
            s.sendall(what.encode() + b"\n")
            return s.makefile().readline().strip()

    def cut(self) -> None:
        """Stop forwarding and refuse new connections."""
        self._command("cut")

    def restore(self) -> None:
        """Forward again (held data flows on) and accept new connections."""
        self._command("restore")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            wait_or_kill(self.proc, 5, 5)
        with contextlib.suppress(FileNotFoundError):
            self.control_path.unlink()


def one_way_ms(port: int, count: int = 5) -> float:
    """Median ms from connect to the sshd's first banner byte: one crossing of the proxy."""
    times = []
    for _ in range(count):
        t0 = time.perf_counter()
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.recv(64)
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return times[len(times) // 2]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", default="127.0.0.1:0")
    parser.add_argument("--target", required=True)
    parser.add_argument("--delay", type=float, default=0.025)
    parser.add_argument("--control", required=True)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_main(parser.parse_args()))
