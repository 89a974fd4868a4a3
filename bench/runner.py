"""Orchestrator side of the worker protocol (see bench/worker.py and bench/common.py)."""

from __future__ import annotations

import contextlib
import json
import selectors
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import PREFIX, wait_or_kill

ROOT = Path(__file__).resolve().parent.parent
RpcHandler = Callable[[str, dict[str, Any]], Any]


class WorkerError(RuntimeError):
    """A worker failed to set up, to measure, or timed out."""


class Worker:
    """One ``python -m bench.worker`` process and its line protocol."""

    def __init__(
        self,
        task: dict[str, Any],
        *,
        python: str,
        env: dict[str, str],
        log_dir: Path,
        rpc: RpcHandler | None = None,
        label: str = "",
        timeout: float = 300,
    ) -> None:
        self.task = task
        self.label = label or f"{task['metric']}-{task.get('variant', '')}"
        self.rpc = rpc
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = log_dir / f"{self.label}.log"
        self._log = open(self.log_path, "a")  # noqa: SIM115 - closed in close()
        self._log.write(f"\n===== {time.strftime('%H:%M:%S')} {json.dumps(task)}\n")
        self._log.flush()
        self.proc = subprocess.Popen(
            [python, "-m", "bench.worker", json.dumps(task)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            cwd=str(ROOT),
            env=env,
            bufsize=1,
        )
        self._sel = selectors.DefaultSelector()
        assert self.proc.stdout is not None
        self._sel.register(self.proc.stdout, selectors.EVENT_READ)
        self.info: dict[str, Any] = {}
        self.error: str | None = None
        msg = self._next(("ready", "error"), timeout)
        if msg["t"] == "error":
            self.error = msg["error"]
            self.close()
            raise WorkerError(self.error)
        self.info = msg.get("info") or {}

    def _readline(self, deadline: float) -> str:
        assert self.proc.stdout is not None
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise WorkerError(f"{self.label}: timed out (log: {self.log_path})")
            if self._sel.select(min(left, 1.0)):
                line = self.proc.stdout.readline()
                if not line:
                    raise WorkerError(
                        f"{self.label}: exited ({self.proc.poll()}); log: {self.log_path}"
                    )
                return line
            if self.proc.poll() is not None:
                rc = self.proc.poll()
                raise WorkerError(f"{self.label}: exited ({rc}); log: {self.log_path}")

    def _next(self, kinds: tuple[str, ...], timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            line = self._readline(deadline)
            if not line.startswith(PREFIX):
                self._log.write(line)
                continue
            msg = json.loads(line[len(PREFIX) :])
            if msg["t"] == "progress":
                print(f"      {self.label}: {msg['msg']}", flush=True)
            elif msg["t"] == "rpc":
                self._answer(msg)
            elif msg["t"] in kinds:
                return msg
            else:
                self._log.write(line)

    def _answer(self, msg: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        try:
            if self.rpc is None:
                raise WorkerError("no rpc handler")
            answer = {"value": self.rpc(msg["op"], msg.get("args") or {})}
        except Exception as exc:
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        self.proc.stdin.write(json.dumps(answer) + "\n")
        self.proc.stdin.flush()

    def run(self, timeout: float = 300, **args: Any) -> Any:
        """One measurement; returns the worker's value or raises WorkerError."""
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(json.dumps({"cmd": "run", "args": args}) + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            raise WorkerError(f"{self.label}: worker is gone ({exc})") from exc
        msg = self._next(("sample", "error"), timeout)
        if msg["t"] == "error":
            raise WorkerError(msg["error"])
        return msg["value"]

    def kill(self) -> None:
        """End the worker at once (its kernels are the caller's to clean up)."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.close()

    def close(self, timeout: float = 120) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(Exception):
                assert self.proc.stdin is not None
                self.proc.stdin.write(json.dumps({"cmd": "stop"}) + "\n")
                self.proc.stdin.flush()
                self.proc.stdin.close()
            with contextlib.suppress(Exception):
                self._next(("done",), timeout)
            wait_or_kill(self.proc, 10, 10)
        with contextlib.suppress(Exception):
            assert self.proc.stdout is not None
            rest = self.proc.stdout.read()
            if rest:
                self._log.write(rest)
        self._sel.close()
        self._log.close()


def product_python() -> str:
    """The product venv's interpreter (the orchestrator runs in it)."""
    return sys.executable


__all__ = ["Worker", "WorkerError", "product_python"]
