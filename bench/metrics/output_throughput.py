"""Metric 3: output throughput, 200 MB of stream text and 200 MB of image/png display_data.

The kernel writes 200 chunks of 1,000,000 bytes (stream: flushed per chunk; images:
one real, incompressible PNG whose base64 is ~1 MB, displayed 200 times). A run is the
time from execute_request to iopub idle, with every byte counted on the client, and the
CPU seconds this machine's side spent (``Contenders.local_cpu``); it starts once the
contender's client has everything sent before (a trivial cell's round trip, untimed).
"""

from __future__ import annotations

import time
from typing import Any

from bench.contenders import Contenders
from bench.kernels import roundtrip

CHUNKS = 200
SETUP = r"""
import base64 as _b64, os as _os, struct as _st, sys as _sys, zlib as _z
def _png(w, h):
    def chunk(tag, data):
        body = tag + data
        return _st.pack(">I", len(data)) + body + _st.pack(">I", _z.crc32(body) & 0xffffffff)
    rows = b"".join(b"\0" + _os.urandom(w * 3) for _ in range(h))
    ihdr = _st.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", _z.compress(rows, 0))
            + chunk(b"IEND", b""))
_img = _b64.b64encode(_png(500, 500)).decode()
_txt = "x" * 999999 + "\n"
"""
CODE = {
    "stream": f"for _ in range({CHUNKS}):\n    _sys.stdout.write(_txt); _sys.stdout.flush()\n",
    "image": (
        "from IPython.display import display as _d\n"
        f"for _ in range({CHUNKS}):\n    _d({{'image/png': _img}}, raw=True)\n"
    ),
}


class OutputBench:
    def __init__(self, task: dict[str, Any]) -> None:
        self.contenders = Contenders(task["target"], setup_code=SETUP)
        self.info = self.contenders.info

    def run(self, variant: str, kind: str, timeout: float = 600) -> dict[str, float]:
        kc = self.contenders.client(variant)
        # ours' client also gets what the kernel printed for *direct*'s run, relayed over
        # our link; a cell's idle is behind all of it (one ordered link): without this
        # wait, whatever of direct's 200 MB had not crossed yet was timed as ours' (traced:
        # 138-173 MB in one run of three, the "first run 2-3x slower" of s22-s24)
        roundtrip(kc, timeout=timeout)
        cpu0, link0 = self.contenders.local_cpu(variant)
        t0 = time.perf_counter()
        msg_id = kc.execute(CODE[kind], store_history=False)
        received = 0
        deadline = time.monotonic() + timeout
        while True:
            msg = kc.get_iopub_msg(timeout=max(0.1, deadline - time.monotonic()))
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind_ = msg["msg_type"]
            if kind_ == "stream":
                received += len(msg["content"]["text"])
            elif kind_ == "display_data":
                received += len(msg["content"]["data"].get("image/png", ""))
            elif kind_ == "error":
                raise RuntimeError(msg["content"]["ename"])
            elif kind_ == "status" and msg["content"]["execution_state"] == "idle":
                break
        seconds = time.perf_counter() - t0
        cpu1, link1 = self.contenders.local_cpu(variant)
        return {
            "cpu_s": cpu1 - cpu0,  # this machine's side
            "link_cpu_s": link1 - link0,  # ... outside the client's thread
            "seconds": seconds,
            "bytes": received,
            "mb_s": received / seconds / 1e6,
            "complete": received >= CHUNKS * 1_000_000,  # lost output is reported, not hidden
        }

    def close(self) -> None:
        self.contenders.close()


def make(task: dict[str, Any]) -> OutputBench:
    return OutputBench(task)
