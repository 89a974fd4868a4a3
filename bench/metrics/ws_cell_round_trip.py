"""Metric 10: a trivial cell through a Jupyter server's kernel websocket, as JupyterLab runs it.

``run(variant, count)`` returns ``count`` samples in ms: an ``execute_request`` (``pass``)
written on the kernel's websocket (``/api/kernels/ID/channels``, subprotocol
``v1.kernel.websocket.jupyter.org``, the binary framing JupyterLab speaks), timed until
both its ``execute_reply`` and the iopub ``idle`` status have come back on it.

One real ``jupyter server`` with our extension per value of ``nodelay`` (our fix, on by
default: ``RemoteExtensionApp.kernel_websocket_nodelay``), each running two kernels:

- ``remote``: our kernelspec ``remote-lo`` (relay, SSH link, remote ipykernel on loopback);
- ``local``: the server's own ``python3`` ipykernel, the floor (no SSH).

Variants are ``<kernel>-<nodelay|nagle>``: ``nagle`` is a server started with our fix
turned off, i.e. jupyter_server as shipped.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import websocket  # websocket-client: TCP_NODELAY on its side, as browsers do

from jupyter_remote.jupyter import V1, decode_v1, encode_v1
from tests.harness.live_server import LiveServer

TIMEOUT = 30.0
KERNELS = {"remote": "remote-lo", "local": "python3"}


def _part(value: Any) -> bytes:
    return json.dumps(value).encode("utf-8")


class _KernelSocket:
    """One kernel started through the server's REST API, and its v1 websocket."""

    def __init__(self, server: LiveServer, kernel_name: str) -> None:
        self.server = server
        kernel = server.json("POST", "/api/kernels", {"name": kernel_name}, expect=201)
        self.kernel_id = kernel["id"]
        self.session = uuid.uuid4().hex
        url = (
            f"ws://127.0.0.1:{server.port}/api/kernels/{self.kernel_id}/channels"
            f"?session_id={self.session}"
        )
        self.ws = websocket.create_connection(
            url,
            header=[f"Authorization: token {server.token}"],
            subprotocols=[V1],
            timeout=TIMEOUT,
        )
        if self.ws.getsubprotocol() != V1:
            raise RuntimeError(f"the server chose {self.ws.getsubprotocol()!r}, not {V1}")
        self.cell()  # the kernel answers: it is ready

    def cell(self) -> float:
        """Seconds for one ``pass``: request written -> reply and iopub idle read."""
        msg_id = uuid.uuid4().hex
        header = {
            "msg_id": msg_id,
            "msg_type": "execute_request",
            "session": self.session,
            "username": "bench",
            "date": "2026-01-01T00:00:00.000000Z",
            "version": "5.3",
        }
        content = {"code": "pass", "silent": False, "store_history": False,
                   "user_expressions": {}, "allow_stdin": False, "stop_on_error": True}  # fmt: skip
        frame = encode_v1("shell", [_part(header), b"{}", b"{}", _part(content)])
        started = time.perf_counter()
        self.ws.send_binary(frame)
        replied = idle = False
        while not (replied and idle):
            data = self.ws.recv()
            if not isinstance(data, bytes):
                continue
            channel, parts = decode_v1(data)
            parent = json.loads(parts[1]) if parts[1] else {}
            if parent.get("msg_id") != msg_id:
                continue
            msg_type = json.loads(parts[0]).get("msg_type")
            if channel == "shell" and msg_type == "execute_reply":
                replied = True
            elif channel == "iopub" and msg_type == "status":
                idle = idle or json.loads(parts[3]).get("execution_state") == "idle"
        return time.perf_counter() - started

    def close(self) -> None:
        self.ws.close()
        self.server.request("DELETE", f"/api/kernels/{self.kernel_id}")


class WsRttBench:
    def __init__(self, task: dict[str, Any]) -> None:
        self.servers: list[LiveServer] = []
        self.sockets: dict[str, _KernelSocket] = {}
        bench_dirs = {k: os.environ[k] for k in ("HOME", "JUPYTER_DATA_DIR")}
        try:
            for mode, nodelay in (("nodelay", True), ("nagle", False)):
                root = Path(tempfile.mkdtemp(prefix="ws-rtt-", dir=os.environ["JRBENCH_WORKDIR"]))
                config = {"RemoteExtensionApp": {"kernel_websocket_nodelay": nodelay}}
                server = LiveServer(root, env=bench_dirs, config=config).start()
                self.servers.append(server)
                for kernel, name in KERNELS.items():
                    self.sockets[f"{kernel}-{mode}"] = _KernelSocket(server, name)
        except BaseException:
            self.close()
            raise
        self.info: dict[str, Any] = {"variants": sorted(self.sockets)}

    def run(self, variant: str, count: int) -> list[float]:
        sock = self.sockets[variant]
        return [sock.cell() * 1000 for _ in range(count)]

    def close(self) -> None:
        for sock in self.sockets.values():
            with contextlib.suppress(Exception):
                sock.close()
        for server in self.servers:
            server.stop()


def make(task: dict[str, Any]) -> WsRttBench:
    return WsRttBench(task)
