"""Stdlib-only helpers shared by the orchestrator and the workers (both venvs).

Workers talk to the orchestrator over their stdio with JSON lines prefixed ``@@ ``:
``progress`` (printed), ``result`` (collected), ``rpc`` (the orchestrator acts, e.g.
cuts a link, and answers one JSON line on the worker's stdin). Anything else a worker
prints goes to its log file.
"""

from __future__ import annotations

import json
import math
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

PREFIX = "@@ "
T = TypeVar("T")

# The real stdout: libraries that print must not corrupt the protocol, so workers
# point sys.stdout at stderr (the log) and write protocol lines here.
_proto = sys.stdout


def use_protocol_stdout() -> None:
    """Worker start-up: protocol lines keep the real stdout, stray prints go to stderr."""
    global _proto
    _proto = sys.stdout
    sys.stdout = sys.stderr


def emit(kind: str, **fields: Any) -> None:
    _proto.write(PREFIX + json.dumps({"t": kind, **fields}) + "\n")
    _proto.flush()


def progress(message: str) -> None:
    emit("progress", msg=message)


def result(**fields: Any) -> None:
    emit("result", **fields)


def rpc(op: str, **args: Any) -> Any:
    """Ask the orchestrator to do ``op`` (e.g. cut a link); returns its answer."""
    emit("rpc", op=op, args=args)
    line = sys.stdin.readline()
    answer = json.loads(line)
    if "error" in answer:
        raise RuntimeError(f"rpc {op} failed: {answer['error']}")
    return answer.get("value")


def timed(func: Callable[[], T]) -> tuple[float, T]:
    """(seconds, value) of one call."""
    t0 = time.perf_counter()
    value = func()
    return time.perf_counter() - t0, value


def wait_or_kill(proc: subprocess.Popen[Any], timeout: float, after_kill: float) -> None:
    """A process told to end (stopped, terminated, its kernel shut down): waited for up to
    ``timeout`` s, then killed and waited for again (``after_kill`` s)."""
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(after_kill)


# ------------------------------------------------------------------ statistics


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty sequence."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def summary(values: Iterable[float]) -> dict[str, float]:
    vals = [float(v) for v in values]
    if not vals:
        return {"n": 0}
    return {
        "n": len(vals),
        "median": statistics.median(vals),
        "min": min(vals),
        "max": max(vals),
        "p99": percentile(vals, 99),
    }
