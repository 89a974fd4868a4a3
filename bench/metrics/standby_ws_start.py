"""Metric 12: start to first result as JupyterLab starts a kernel, standby taken vs local.

``run(variant)`` returns seconds: ``POST /api/sessions`` (a notebook's session, the
kernelspec named) on one real ``jupyter server`` with our extension, the kernel's
websocket opened (``/api/kernels/ID/channels``, subprotocol
``v1.kernel.websocket.jupyter.org``, binary frames), an ``execute_request`` of ``1+1``
written, timed until its ``execute_result`` is read. The session is deleted afterwards
(untimed). Variants:

- ``local``: the server's own ``python3`` ipykernel (the floor, same server, same run);
- ``standby``: kernelspec ``remote-lo`` whose profile keeps a standby (issue 17, item
  1): switched on through the REST API when the worker starts, off when it ends.

Before every sample of either variant, untimed, the server is asked until it says the
standby is warm (``GET /remote/profiles/lo/standby``: its kernel has answered), so no
replacement starting in the background shares the CPU with a timed start; a standby
sample fails unless its kernel really is that standby (``GET /remote/sessions``: its
remote kernel id).
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

TIMEOUT = 60.0
PROFILE = "lo"
KERNELS = {"local": "python3", "standby": f"remote-{PROFILE}"}


def _part(value: Any) -> bytes:
    return json.dumps(value).encode("utf-8")


def _execute(session: str, code: str) -> tuple[str, bytes]:
    """An execute_request as JupyterLab writes it: (its msg_id, the v1 frame)."""
    msg_id = uuid.uuid4().hex
    header = {"msg_id": msg_id, "msg_type": "execute_request", "session": session,
              "username": "bench", "date": "2026-01-01T00:00:00.000000Z",
              "version": "5.3"}  # fmt: skip
    content = {"code": code, "silent": False, "store_history": True,
               "user_expressions": {}, "allow_stdin": False, "stop_on_error": True}  # fmt: skip
    return msg_id, encode_v1("shell", [_part(header), b"{}", b"{}", _part(content)])


def _first_result(ws: Any, msg_id: str) -> Any:
    """Read the websocket until the execute_result of ``msg_id``; its data."""
    while True:
        data = ws.recv()
        if not isinstance(data, bytes):
            continue
        channel, parts = decode_v1(data)
        parent = json.loads(parts[1]) if parts[1] else {}
        if channel != "iopub" or parent.get("msg_id") != msg_id:
            continue
        msg_type = json.loads(parts[0]).get("msg_type")
        if msg_type == "execute_result":
            return json.loads(parts[3])["data"]
        if msg_type == "error":
            raise RuntimeError(f"1+1 failed: {parts[3][:300]!r}")


class WsStartBench:
    """One server, both kernelspecs; ``run(variant)`` -> seconds to the first result."""

    def __init__(self, task: dict[str, Any]) -> None:
        bench_dirs = {k: os.environ[k] for k in ("HOME", "JUPYTER_DATA_DIR")}
        root = Path(tempfile.mkdtemp(prefix="ws-start-", dir=os.environ["JRBENCH_WORKDIR"]))
        self.server = LiveServer(root, env=bench_dirs).start()
        self.standby_on = False
        try:
            self._standby(True)
            self.standby_on = True
            self._ready()
        except BaseException:
            self.close()
            raise
        self.info: dict[str, Any] = {"kernels": KERNELS}

    def _standby(self, on: bool) -> None:
        self.server.json("PATCH", f"/remote/profiles/{PROFILE}", {"standby": on})

    def _ready(self) -> str:
        """Wait (untimed) until the server says the profile's standby is warm; its id."""
        deadline = time.monotonic() + TIMEOUT * 2
        while True:
            status = self.server.json("GET", f"/remote/profiles/{PROFILE}/standby")
            if status.get("warm") and status.get("current"):
                return str(status["kernel_id"])
            if time.monotonic() > deadline:
                raise RuntimeError(f"the standby did not become warm: {status}")
            time.sleep(0.05)

    def run(self, variant: str) -> float:
        standby_id = self._ready()
        path = f"bench-{uuid.uuid4().hex[:8]}.ipynb"
        body = {"path": path, "type": "notebook", "name": path,
                "kernel": {"name": KERNELS[variant]}}  # fmt: skip
        session = uuid.uuid4().hex
        started = time.perf_counter()
        model = self.server.json("POST", "/api/sessions", body, expect=201)
        kernel_id = model["kernel"]["id"]
        try:
            url = (
                f"ws://127.0.0.1:{self.server.port}/api/kernels/{kernel_id}/channels"
                f"?session_id={session}"
            )
            ws = websocket.create_connection(
                url, header=[f"Authorization: token {self.server.token}"],
                subprotocols=[V1], timeout=TIMEOUT,
            )  # fmt: skip
            try:
                msg_id, frame = _execute(session, "1+1")
                ws.send_binary(frame)
                data = _first_result(ws, msg_id)
                seconds = time.perf_counter() - started
            finally:
                ws.close()
            if data.get("text/plain") != "2":
                raise RuntimeError(f"1+1 gave {data!r}")
            if variant == "standby":
                self._check_taken(kernel_id, standby_id)
        finally:
            self.server.request("DELETE", f"/api/sessions/{model['id']}")
        return seconds

    def _check_taken(self, kernel_id: str, standby_id: str) -> None:
        """The kernel the session got is the standby that was ready (not a cold start)."""
        sessions = self.server.json("GET", "/remote/sessions")
        if isinstance(sessions, dict):
            sessions = sessions.get("sessions", [])
        mine = [s for s in sessions if s.get("kernel_id") == kernel_id]
        remote = mine[0].get("remote_kernel_id") if mine else None
        if remote != standby_id:
            raise RuntimeError(f"the start did not take the standby {standby_id} ({remote})")

    def close(self) -> None:
        with contextlib.suppress(Exception):
            if self.standby_on:
                self._standby(False)  # the server discards its standby: nothing left
        self.server.stop()


def make(task: dict[str, Any]) -> WsStartBench:
    return WsStartBench(task)
