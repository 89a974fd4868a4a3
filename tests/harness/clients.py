"""Kernel clients for tests: start a kernel, run a cell and collect what it printed.

Called by tests that drive a remote kernel: ``started_kernel`` and ``execute`` through
jupyter_client's own manager and blocking client (as papermill or a console would),
``WSKernel`` through a Jupyter server's kernel websocket (as JupyterLab does).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import queue
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from jupyter_client import KernelManager
from jupyter_client.blocking import BlockingKernelClient
from traitlets.config import Config


@contextlib.contextmanager
def started_kernel(
    kernel_name: str, config: Config | None = None, ready_timeout: float = 60
) -> Iterator[tuple[KernelManager, BlockingKernelClient]]:
    """A kernel started by jupyter_client's own KernelManager, its client ready.

    Called by kernel fixtures; on the way out the client stops and the kernel, if the
    test left it running, is shut down at once.
    """
    km = KernelManager(kernel_name=kernel_name, config=config or Config())
    km.start_kernel()
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=ready_timeout)
        yield km, kc
    finally:
        kc.stop_channels()
        if km.has_kernel:
            km.shutdown_kernel(now=True)


def execute(kc: BlockingKernelClient, code: str, timeout: float = 30) -> tuple[dict[str, Any], str]:
    """Run CODE and wait for its reply: (the execute_reply, the text of its outputs).

    Outputs are streams, text/plain of results and displays, and error names.
    """
    out: list[str] = []

    def hook(msg: dict[str, Any]) -> None:
        if msg["msg_type"] == "stream":
            out.append(msg["content"]["text"])
        elif msg["msg_type"] in ("execute_result", "display_data"):
            out.append(msg["content"]["data"].get("text/plain", ""))
        elif msg["msg_type"] == "error":
            out.append(msg["content"]["ename"])

    reply = kc.execute_interactive(code, output_hook=hook, timeout=timeout)
    read_late_output(kc, reply, hook)
    return reply, "".join(out)


def stream_lines(kc: BlockingKernelClient, msg_id: str, timeout: float) -> list[str]:
    """Every stream line of request MSG_ID until its status idle, within TIMEOUT s.

    Called by the tests that check a printing cell lost nothing (a link cut, a Slurm
    job's link, an exec channel) line by line."""
    text, deadline = "", time.monotonic() + timeout
    while True:
        msg = kc.get_iopub_msg(timeout=max(0.1, deadline - time.monotonic()))
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "stream":
            text += msg["content"]["text"]
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            return text.splitlines()


def until_printed(kc: BlockingKernelClient, msg_id: str, timeout: float = 60) -> str:
    """The first stream text of request MSG_ID (other iopub messages are skipped).

    Called by the interrupt tests before they interrupt: ipykernel ignores SIGINT
    between requests, so a cell is interrupted once it runs, which its first print
    proves (a fixed wait may end before a slow link or a loaded machine delivered it)."""
    deadline = time.monotonic() + timeout
    while True:
        msg = kc.get_iopub_msg(timeout=max(0.1, deadline - time.monotonic()))
        if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "stream":
            return str(msg["content"]["text"])


def read_late_output(
    kc: BlockingKernelClient,
    reply: dict[str, Any],
    hook: Callable[[dict[str, Any]], None],
    seconds: float = 1.0,
) -> None:
    """Pass HOOK the iopub messages of REPLY's request that come within SECONDS.

    Called right after ``execute_interactive``: ipykernel may flush a stream just after
    its idle status.
    """
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            msg = kc.get_iopub_msg(timeout=max(0.05, deadline - time.monotonic()))
        except queue.Empty:
            break
        if msg["parent_header"].get("msg_id") == reply["parent_header"]["msg_id"]:
            hook(msg)


def execute_request(code: str, msg_id: str, *, username: str = "t", session: str = "s") -> str:
    """An execute_request for CODE as the JSON text a kernel websocket carries."""
    return json.dumps(
        {
            "header": {
                "msg_id": msg_id,
                "msg_type": "execute_request",
                "username": username,
                "session": session,
                "version": "5.3",
                "date": "",
            },
            "parent_header": {},
            "metadata": {},
            "channel": "shell",
            "content": {
                "code": code,
                "silent": False,
                "store_history": True,
                "user_expressions": {},
                "allow_stdin": False,
            },
        }
    )


class WSKernel:
    """A minimal websocket Jupyter client (the protocol JupyterLab speaks)."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws

    async def execute(self, code: str, timeout: float = 60) -> tuple[dict[str, Any], str]:
        """Run CODE: (the execute_reply's content, the text it streamed) once idle."""
        msg_id = uuid.uuid4().hex
        await self.ws.write_message(execute_request(code, msg_id))
        out: list[str] = []
        reply: dict[str, Any] | None = None
        idle = False
        deadline = time.monotonic() + timeout
        while True:
            raw = await asyncio.wait_for(self.ws.read_message(), deadline - time.monotonic())
            assert raw is not None, "websocket closed"
            msg = json.loads(raw)
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "stream":
                out.append(msg["content"]["text"])
            if msg["channel"] == "shell" and msg["msg_type"] == "execute_reply":
                reply = msg["content"]
            if msg["channel"] == "iopub" and msg["msg_type"] == "status":
                idle = msg["content"]["execution_state"] == "idle"
            if reply is not None and idle:
                return reply, "".join(out)
