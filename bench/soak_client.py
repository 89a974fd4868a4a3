"""The soak's kernel client: the JupyterLab websocket protocol, the one printing cell, and
every line it prints recorded as it arrives."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

from bench.soak_record import PERIOD, Record, log

#: the cell: numbered lines with the kernel's wall clock, every PERIOD s, until END
CELL = """\
import time as _t
_soak_n = 0
_soak_t0 = _t.monotonic()
while _t.time() < {end!r}:
    print(_soak_n, '%.3f' % _t.time(), flush=True)
    _soak_n += 1
    _t.sleep(max(0.0, _soak_t0 + _soak_n * {period!r} - _t.monotonic()))
"""


def message(msg_type: str, content: dict[str, Any]) -> tuple[str, str]:
    msg_id = uuid.uuid4().hex
    return msg_id, json.dumps(
        {
            "header": {
                "msg_id": msg_id,
                "msg_type": msg_type,
                "username": "soak",
                "session": "soak",
                "version": "5.3",
                "date": "",
            },
            "parent_header": {},
            "metadata": {},
            "channel": "shell",
            "content": content,
        }
    )


class KernelClient:
    def __init__(self, ws: Any, record: Record) -> None:
        self.ws = ws
        self.record = record
        self.cell_id = ""
        self.replies: dict[str, asyncio.Future[dict[str, Any]]] = {}

    async def read_loop(self) -> None:
        while True:
            raw = await self.ws.read_message()
            if raw is None:
                log("kernel websocket closed")
                return
            now = time.time()
            msg = json.loads(raw)
            parent = msg.get("parent_header", {}).get("msg_id")
            if parent == self.cell_id and msg["msg_type"] == "stream":
                self._stream(msg["content"]["text"], now)
            elif parent == self.cell_id and msg["msg_type"] == "execute_reply":
                self.record.reply = msg["content"]
            elif parent == self.cell_id and msg["msg_type"] == "error":
                self.record.garbage.append(f"error: {msg['content'].get('ename')}")
            if msg["msg_type"].endswith("_reply") and parent in self.replies:
                fut = self.replies.pop(parent)
                if not fut.done():
                    fut.set_result(msg["content"])

    def _stream(self, text: str, now: float) -> None:
        text = self.record.partial + text
        *complete, self.record.partial = text.split("\n")
        for line in complete:
            parts = line.split()
            if len(parts) == 2 and parts[0].isdigit():
                self.record.lines.append((int(parts[0]), float(parts[1]), now))
            else:
                self.record.garbage.append(line[:200])

    async def request(self, msg_type: str, content: dict[str, Any], timeout: float) -> Any:
        msg_id, raw = message(msg_type, content)
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.replies[msg_id] = fut
        await self.ws.write_message(raw)
        try:
            return await asyncio.wait_for(fut, timeout)
        finally:
            self.replies.pop(msg_id, None)

    async def ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                await self.request("kernel_info_request", {}, 10)
                return
            except asyncio.TimeoutError:
                if time.monotonic() > deadline:
                    raise

    async def start_cell(self, end: float) -> None:
        self.cell_id, raw = message(
            "execute_request",
            {
                "code": CELL.format(end=end, period=PERIOD),
                "silent": False,
                "store_history": True,
                "user_expressions": {},
                "allow_stdin": False,
                "stop_on_error": True,
            },
        )
        await self.ws.write_message(raw)

    async def count(self, timeout: float = 120) -> int:
        """The kernel's own count of printed lines (asked again until the link answers)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                reply = await self.request(
                    "execute_request",
                    {
                        "code": "",
                        "silent": True,
                        "store_history": False,
                        "user_expressions": {"n": "_soak_n"},
                        "allow_stdin": False,
                    },
                    15,
                )
                return int(reply["user_expressions"]["n"]["data"]["text/plain"])
            except asyncio.TimeoutError:
                if time.monotonic() > deadline:
                    raise
