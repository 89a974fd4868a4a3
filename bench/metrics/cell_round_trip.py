"""Metric 2: round trip of a trivial cell (``pass``): reply and iopub idle both in.

``run(variant, count)`` returns ``count`` samples in ms on that client; the
orchestrator alternates blocks of ours / direct / tunnel until each has 1,000.
"""

from __future__ import annotations

from typing import Any

from bench.contenders import Contenders
from bench.kernels import roundtrip


class RttBench:
    def __init__(self, task: dict[str, Any]) -> None:
        self.contenders = Contenders(task["target"])
        self.info = self.contenders.info

    def run(self, variant: str, count: int) -> list[float]:
        kc = self.contenders.client(variant)
        return [roundtrip(kc) * 1000 for _ in range(count)]

    def close(self) -> None:
        self.contenders.close()


def make(task: dict[str, Any]) -> RttBench:
    return RttBench(task)
