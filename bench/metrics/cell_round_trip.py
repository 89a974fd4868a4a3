"""Metric 2: round trip of a trivial cell (``pass``): reply and iopub idle both in.

``run(variant, count)`` returns ``count`` samples in ms on that client and the CPU
seconds this machine spent on them; the orchestrator alternates blocks of ours / direct /
tunnel until each has 1,000.
"""

from __future__ import annotations

from typing import Any

from bench.contenders import Contenders
from bench.kernels import roundtrip


class RttBench:
    def __init__(self, task: dict[str, Any]) -> None:
        self.contenders = Contenders(task["target"])
        self.info = self.contenders.info

    def run(self, variant: str, count: int) -> dict[str, Any]:
        """``count`` round trips in ms, and the local side's CPU seconds over them
        (``Contenders.local_cpu``: this process, plus ``ssh -L``'s for the tunnel; and
        the part outside the client's thread)."""
        kc = self.contenders.client(variant)
        cpu0, link0 = self.contenders.local_cpu(variant)
        samples = [roundtrip(kc) * 1000 for _ in range(count)]
        cpu1, link1 = self.contenders.local_cpu(variant)
        return {"ms": samples, "cpu_s": cpu1 - cpu0, "link_cpu_s": link1 - link0}

    def close(self) -> None:
        self.contenders.close()


def make(task: dict[str, Any]) -> RttBench:
    return RttBench(task)
