"""Metric 5: N (64) kernels started concurrently in one process on one server.

One worker process per sample (memory does not go back to the OS between runs, so a
second run in the same process would under-count): set-up imports what the first start
would, then ``run()`` starts ONE kernel alone (its start-to-ready time is the "one
start" the N are compared with; the SSH connection is opened by it, for ours) and stops
it, then starts N AsyncKernelManagers at once and waits until every client is ready.
Reported: seconds until all ready, that time / one start, the process's RSS growth
divided by N, ESTABLISHED connections at the sshd (``ss``), the kernel processes per
kernel (remote: the remote user's processes, supervisor + kernel; local: this
process's children) while all N run, and (``idle`` seconds, ours) the SSH exec
requests (each one remote Python: the agent) the N idle kernels cost per kernel per
minute, counted in the sshd's DEBUG1 log: the restarter's polls and the health checks.
``local`` (N local ipykernels) is the baseline.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import zmq
from jupyter_client import AsyncKernelManager

from bench.kernels import targets
from bench.netutil import established

READY_TIMEOUT = 180.0  # per kernel (64 boot at once on 2 cores); a silent one is retried
EXEC_LINE = re.compile(r"session_input_channel_req: session \d+ req exec")

PRELOAD = {
    "ours": ("jupyter_remote.kernels.provisioner", "jupyter_remote.sessions", "zmq.asyncio"),
    "local": ("jupyter_client.provisioning.local_provisioner", "zmq.asyncio"),
}


def rss_bytes() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


class ConcurrentBench:
    def __init__(self, task: dict[str, Any]) -> None:
        self.n = int(task.get("n", 64))
        self.target = targets()[task["target"]] if task["variant"] == "ours" else None
        self.kernel_name = task["kernel_name"]
        self.loop = asyncio.new_event_loop()
        for module in PRELOAD.get(task["variant"], ()):  # imports are not per-kernel memory
            __import__(module)
        self.info: dict[str, Any] = {}
        self.ipc_dir = tempfile.mkdtemp(prefix="jrbench-ipc-")  # local kernels' sockets

    async def _start_ready(self) -> tuple[AsyncKernelManager, Any, int]:
        """One kernel started and ready. A start that fails, or a kernel that dies or
        stays silent before it is ready (both happen: with many starts at once, ports picked
        early are sometimes taken before they are bound), is retried with a new manager,
        as a user would; the failures are counted so the table shows them."""
        failures = 0
        while True:
            # local kernels on ipc sockets: 64 jupyter_clients picking TCP ports at once
            # race for them ('Address already in use'), and a kernel that lost one could
            # stay silent for the whole READY_TIMEOUT (s29's run: one took 190 s); ours
            # start as the product starts them (no failed start in any run)
            if self.target is None:
                km = AsyncKernelManager(
                    kernel_name=self.kernel_name,
                    transport="ipc",
                    ip=os.path.join(self.ipc_dir, uuid.uuid4().hex[:12]),  # one path each
                )
            else:
                km = AsyncKernelManager(kernel_name=self.kernel_name)
            kc = None
            try:
                await km.start_kernel()
                kc = km.client()
                kc.start_channels()
                # jupyter_client sends synchronously: on a port another kernel took in the
                # race (a peer of the wrong type), a send would block the whole loop
                kc.shell_channel.socket.setsockopt(zmq.SNDTIMEO, 1000)
                await asyncio.wait_for(kc.wait_for_ready(timeout=READY_TIMEOUT), READY_TIMEOUT)
                return km, kc, failures
            except Exception as exc:
                failures += 1
                self.errors.append(f"{type(exc).__name__}: {exc}"[:300])
                if kc is not None:
                    kc.stop_channels()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(km.shutdown_kernel(now=True), 30)
                if failures >= 5:
                    raise

    def _processes(self) -> int:
        """Kernel processes now: the remote user's (ours), or this process's children."""
        if self.target is not None:
            argv = ["pgrep", "-c", "-u", self.target["user"]]
        else:
            argv = ["pgrep", "-c", "-P", str(os.getpid())]
        out = subprocess.run(argv, capture_output=True, text=True, check=False).stdout
        return int(out.strip() or 0)

    def _execs(self) -> int:
        if self.target is None:
            return 0
        text = Path(self.target["log_path"]).read_text(errors="replace")
        return len(EXEC_LINE.findall(text))

    async def _one_start(self) -> float:
        """One kernel alone, start to ready (then stopped): what the N are compared with."""
        t0 = time.perf_counter()
        km, kc, _ = await self._start_ready()
        seconds = time.perf_counter() - t0
        kc.stop_channels()
        await km.shutdown_kernel(now=True)
        return seconds

    async def _cycle(self, n: int, stop: bool, idle: float) -> dict[str, Any]:
        self.errors: list[str] = []
        one = await self._one_start()
        await asyncio.sleep(1.0)  # the stopped kernel's processes are gone
        procs0 = self._processes()
        rss0 = rss_bytes()
        t0 = time.perf_counter()
        started = await asyncio.gather(*(self._start_ready() for _ in range(n)))
        seconds = time.perf_counter() - t0
        rss1 = rss_bytes()
        conns = established(self.target) if self.target else 0
        procs = (self._processes() - procs0) / n
        execs_per_min = None
        if idle > 0:
            await asyncio.sleep(2.0)  # the starts' own execs are logged
            execs0 = self._execs()
            await asyncio.sleep(idle)
            execs_per_min = (self._execs() - execs0) / n / (idle / 60)
        if stop:
            for _, kc, _ in started:
                kc.stop_channels()
            await asyncio.gather(*(km.shutdown_kernel(now=True) for km, _, _ in started))
        return {
            "seconds": seconds,
            "one_start": one,
            "rss_per_kernel_mb": (rss1 - rss0) / n / 1e6,
            "connections": conns,
            "processes_per_kernel": procs,
            "idle_execs_per_kernel_min": execs_per_min,
            "start_failures": sum(f for _, _, f in started),
            "errors": sorted(set(self.errors))[:3],
        }

    def run(self, stop: bool = True, idle: float = 0.0) -> dict[str, Any]:
        """``stop=False``: leave the kernels up (the orchestrator kills the process and
        cleans the remote: stopping 64 remote kernels one by one is not measured).
        ``idle``: seconds to count the idle kernels' remote execs for (after all ready)."""
        return self.loop.run_until_complete(self._cycle(self.n, stop, idle))

    def close(self) -> None:
        self.loop.close()
        shutil.rmtree(self.ipc_dir, ignore_errors=True)


def make(task: dict[str, Any]) -> ConcurrentBench:
    return ConcurrentBench(task)
