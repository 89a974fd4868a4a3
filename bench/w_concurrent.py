"""Metric 5: N (32) kernels started concurrently in one process on one server.

One worker process per sample (memory does not go back to the OS between runs, so a
second run in the same process would under-count): set-up imports what the first start
would, then ``run()`` starts N AsyncKernelManagers at once (the SSH connection included,
for ours) and waits until every client is ready. Reported: seconds until all ready, the
process's RSS growth divided by N, and ESTABLISHED connections at the sshd (``ss``)
while all N run. ``local`` (N local ipykernels) is the baseline.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from jupyter_client import AsyncKernelManager

from bench.kernels import READY_TIMEOUT, targets
from bench.netutil import established

PRELOAD = {
    "ours": ("jupyter_remote.provisioner", "jupyter_remote.sessions", "zmq.asyncio"),
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
        self.n = int(task.get("n", 32))
        self.target = targets()[task["target"]] if task["variant"] == "ours" else None
        self.kernel_name = task["kernel_name"]
        self.loop = asyncio.new_event_loop()
        for module in PRELOAD.get(task["variant"], ()):  # imports are not per-kernel memory
            __import__(module)
        self.info: dict[str, Any] = {}

    async def _start(self) -> tuple[AsyncKernelManager, int]:
        """One kernel, started again (new manager) when a start fails: a user would
        retry, and the failures are counted so the table shows them."""
        failures = 0
        while True:
            km = AsyncKernelManager(kernel_name=self.kernel_name)
            try:
                await km.start_kernel()
                return km, failures
            except Exception as exc:
                failures += 1
                self.errors.append(f"{type(exc).__name__}: {exc}"[:300])
                if failures >= 5:
                    raise

    async def _cycle(self, n: int, stop: bool) -> dict[str, Any]:
        self.errors: list[str] = []
        rss0 = rss_bytes()
        t0 = time.perf_counter()
        started = await asyncio.gather(*(self._start() for _ in range(n)))
        kms = [km for km, _ in started]
        kcs = [km.client() for km in kms]
        for kc in kcs:
            kc.start_channels()
        await asyncio.gather(*(kc.wait_for_ready(timeout=READY_TIMEOUT) for kc in kcs))
        seconds = time.perf_counter() - t0
        rss1 = rss_bytes()
        conns = established(self.target) if self.target else 0
        if stop:
            for kc in kcs:
                kc.stop_channels()
            await asyncio.gather(*(km.shutdown_kernel(now=True) for km in kms))
        return {
            "seconds": seconds,
            "rss_per_kernel_mb": (rss1 - rss0) / n / 1e6,
            "connections": conns,
            "start_failures": sum(f for _, f in started),
            "errors": sorted(set(self.errors))[:3],
        }

    def run(self, stop: bool = True) -> dict[str, Any]:
        """``stop=False``: leave the kernels up (the orchestrator kills the process and
        cleans the remote: stopping 32 remote kernels one by one is not measured)."""
        return self.loop.run_until_complete(self._cycle(self.n, stop))

    def close(self) -> None:
        self.loop.close()


def make(task: dict[str, Any]) -> ConcurrentBench:
    return ConcurrentBench(task)
