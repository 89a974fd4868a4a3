"""Worker process: ``python -m bench.worker TASK_JSON`` (product venv or peers venv).

Loads ``bench.metrics.<metric>`` (bench/metrics/), builds its bench object
(``make(task)``: hosts, kernels, whatever stays up between measurements), says
``ready``, then runs one measurement per ``{"cmd": "run", "args": {...}}`` line on
stdin until ``{"cmd": "stop"}``. The orchestrator interleaves the workers of a table
row by row, so drift on this shared machine spreads over every contender instead of
favouring one.
"""

from __future__ import annotations

import importlib
import json
import sys
import traceback

from bench.common import emit, use_protocol_stdout


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".strip()[:2000]


def main() -> int:
    use_protocol_stdout()
    task = json.loads(sys.argv[1])
    try:
        module = importlib.import_module(f"bench.metrics.{task['metric']}")
        bench = module.make(task)
    except BaseException as exc:  # set-up failed: say why, the table records it
        traceback.print_exc()
        emit("error", error=_error_text(exc))
        return 1
    emit("ready", info=getattr(bench, "info", {}))
    try:
        for line in sys.stdin:
            cmd = json.loads(line)
            if cmd.get("cmd") == "stop":
                break
            try:
                value = bench.run(**cmd.get("args", {}))
            except BaseException as exc:
                traceback.print_exc()
                emit("error", error=_error_text(exc))
                continue
            emit("sample", value=value)
    finally:
        try:
            bench.close()
        except BaseException:
            traceback.print_exc()
    emit("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
