"""Metric 7: terminal keystroke echo on loopback, ours against OpenSSH ``ssh -tt``.

``run(variant, count)`` returns ``count`` samples in ms: one key (``a``) written, timed
until its echo comes back from the remote pty; then a backspace erases it (its echo
awaited, not timed) so the line never grows. Both shells are the remote user's login
shell on a pty of the same sshd; the tty driver on the remote echoes.

- ``ours``: as JupyterLab's terminal widget does it, a websocket client of a real
  ``jupyter server`` (with our extension) on ``/remote/servers/lo/terminals/ID/websocket``:
  browser side -> Jupyter -> the server's pooled SSH connection -> the pty, and back;
- ``ssh``: ``ssh -F <bench config> -tt bench-lo``, keys on its stdin, echo on its stdout.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import websocket  # websocket-client

from tests.harness.live_server import LiveServer

KEY, ERASE = "a", "\x7f"
TIMEOUT = 10.0


class _SshPty:
    """``ssh -tt`` to the loopback target: bytes in, bytes out (unbuffered pipes)."""

    def __init__(self) -> None:
        argv = ["ssh", "-F", os.environ["JRBENCH_SSH_CONFIG"], "-tt", "bench-lo"]
        pipe = subprocess.PIPE
        self.proc = subprocess.Popen(
            argv, stdin=pipe, stdout=pipe, stderr=subprocess.DEVNULL, bufsize=0
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self._in, self._out = self.proc.stdin, self.proc.stdout.fileno()
        self.read_until("$ ")

    def send(self, text: str) -> None:
        self._in.write(text.encode())

    def read_until(self, wanted: str) -> str:
        seen = ""
        deadline = time.monotonic() + TIMEOUT
        while wanted not in seen:
            ready, _, _ = select.select([self._out], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                raise TimeoutError(f"ssh -tt: no {wanted!r} in {seen[-200:]!r}")
            chunk = os.read(self._out, 65536)
            if not chunk:
                raise EOFError("ssh -tt ended")
            seen += chunk.decode(errors="replace")
        return seen

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait(10)


class _OursPty:
    """A terminal of a real Jupyter server with our extension, through its websocket."""

    def __init__(self) -> None:
        root = Path(tempfile.mkdtemp(prefix="term-echo-", dir=os.environ["JRBENCH_WORKDIR"]))
        bench_dirs = {k: os.environ[k] for k in ("HOME", "JUPYTER_DATA_DIR")}
        self.server = LiveServer(root, env=bench_dirs).start()
        term = self.server.json("POST", "/remote/servers/lo/terminals", {}, expect=201)
        url = (
            f"ws://127.0.0.1:{self.server.port}/remote/servers/lo/terminals/{term['id']}/websocket"
        )
        self.ws = websocket.create_connection(
            url, header=[f"Authorization: token {self.server.token}"], timeout=TIMEOUT
        )
        assert json.loads(self.ws.recv()) == ["setup", {}]
        self.read_until("$ ")

    def send(self, text: str) -> None:
        self.ws.send(json.dumps(["stdin", text]))

    def read_until(self, wanted: str) -> str:
        seen = ""
        while wanted not in seen:
            kind, *content = json.loads(self.ws.recv())
            if kind == "stdout":
                seen += content[0]
            elif kind == "disconnect":
                raise EOFError("the terminal ended")
        return seen

    def close(self) -> None:
        self.ws.close()
        self.server.stop()


class EchoBench:
    def __init__(self, task: dict[str, Any]) -> None:
        self.ptys: dict[str, Any] = {"ours": _OursPty(), "ssh": _SshPty()}
        self.info: dict[str, Any] = {}

    def run(self, variant: str, count: int) -> list[float]:
        pty = self.ptys[variant]
        samples = []
        for _ in range(count):
            started = time.perf_counter()
            pty.send(KEY)
            pty.read_until(KEY)
            samples.append((time.perf_counter() - started) * 1000)
            pty.send(ERASE)
            pty.read_until("\b")
        return samples

    def close(self) -> None:
        for pty in self.ptys.values():
            pty.close()


def make(task: dict[str, Any]) -> EchoBench:
    return EchoBench(task)
