"""The remote's GPUs from nvidia-smi's CSV, parsed on the local side, bounded and escaped.

The environment probe (``remote/gpus.py``) and ``server test`` hand over what
``nvidia-smi`` printed for two queries, raw::

    nvidia-smi --query-gpu=index,uuid,name,memory.used,memory.total,utilization.gpu \\
               --format=csv,noheader,nounits
    0, GPU-6e1c2b3a-0f3e-d7a1-5c4e-7b2f9a8d1c01, NVIDIA A100-SXM4-80GB, 10541, 81920, 87
    1, GPU-..., NVIDIA A100-SXM4-80GB, 4, 81920, [N/A]

    nvidia-smi --query-compute-apps=gpu_uuid,pid --format=csv,noheader
    GPU-6e1c2b3a-0f3e-d7a1-5c4e-7b2f9a8d1c01, 48211

(no line at all when nothing runs). A value the device does not report is ``[N/A]``
(``[Not Supported]`` on older drivers): we keep None, never a guess. Without a driver
nvidia-smi exits non-zero (9: "NVIDIA-SMI has failed because it couldn't communicate
with the NVIDIA driver...", 6: "No devices were found"): that text, escaped and cut,
becomes ``error``. Called by ``discovery.py`` and ``RemoteManager.test_server``.
"""

from __future__ import annotations

import re
from typing import Any

from ..text import ascii_digits, printable

MAX_GPUS = 64
MAX_APP_LINES = 10_000
MAX_NAME = 128
MAX_ERROR = 300
UNREPORTED = {"[n/a]", "n/a", "[not supported]", "not supported", "[unknown error]", ""}
UUID_RE = re.compile(r"(?:GPU|MIG)-[0-9A-Za-z-]{1,64}")


def parse(raw: Any) -> dict[str, Any] | None:
    """``{"devices": [...], "error": str | None}`` from the raw answer, or None when the
    remote has no nvidia-smi. Each device: index, uuid, name, memory_used_mib,
    memory_total_mib, utilization_percent (None when not reported) and processes."""
    if not isinstance(raw, dict) or raw.get("found") is not True:
        return None
    gpus, apps = _answer(raw.get("gpus")), _answer(raw.get("apps"))
    if gpus["status"] != 0:
        return {"devices": [], "error": _error_text(gpus)}
    devices = [d for d in map(_device, gpus["output"].splitlines()[: MAX_GPUS * 4]) if d]
    devices = devices[:MAX_GPUS]
    counts = _process_counts(apps["output"]) if apps["status"] == 0 else {}
    for device in devices:
        device["processes"] = counts.get(device["uuid"], 0)
    error = None if apps["status"] == 0 else f"processes not listed: {_error_text(apps)}"
    if not devices and gpus["output"].strip():
        error = f"nvidia-smi answered something else than its CSV: {_cut(gpus['output'])}"
    return {"devices": devices, "error": error}


def _answer(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        return {"status": None, "output": ""}
    status = value.get("status")
    output = value.get("output")
    return {
        "status": status if isinstance(status, int) and not isinstance(status, bool) else None,
        "output": output[: 1 << 16] if isinstance(output, str) else "",
    }


def _cut(text: str) -> str:
    line = " ".join(text.split())
    return printable(line[:MAX_ERROR] + ("…" if len(line) > MAX_ERROR else ""))


def _error_text(answer: dict[str, Any]) -> str:
    words = _cut(answer["output"]) or "no output"
    status = answer["status"]
    return (
        f"nvidia-smi failed ({'no exit status' if status is None else f'exit {status}'}): {words}"
    )


def _number(text: str, *, limit: int) -> int | None:
    """A reported whole number in 0..limit, or None (``[N/A]``, garbage, out of range)."""
    text = text.strip()
    if text.lower() in UNREPORTED or not ascii_digits(text) or len(text) > 12:
        return None
    value = int(text)
    return value if value <= limit else None


def _device(line: str) -> dict[str, Any] | None:
    """One CSV line of the device query, or None when it is not one."""
    fields = [f.strip() for f in line.split(",")]
    if len(fields) < 6:
        return None
    # a model name may hold a comma: index and uuid lead, the three numbers close
    index, uuid, numbers = fields[0], fields[1], fields[-3:]
    name = ", ".join(fields[2:-3])
    if not ascii_digits(index) or len(index) > 4 or not UUID_RE.fullmatch(uuid):
        return None
    return {
        "index": int(index),
        "uuid": uuid,
        "name": printable(name[:MAX_NAME]) or "GPU",
        "memory_used_mib": _number(numbers[0], limit=1 << 24),
        "memory_total_mib": _number(numbers[1], limit=1 << 24),
        "utilization_percent": _number(numbers[2], limit=100),
        "processes": 0,
    }


def _process_counts(output: str) -> dict[str, int]:
    """Compute processes per GPU uuid from ``gpu_uuid, pid`` lines."""
    counts: dict[str, int] = {}
    for line in output.splitlines()[:MAX_APP_LINES]:
        uuid, _, pid = (part.strip() for part in line.partition(","))
        if UUID_RE.fullmatch(uuid) and ascii_digits(pid):
            counts[uuid] = counts.get(uuid, 0) + 1
    return counts


def summary(devices: list[dict[str, Any]]) -> str:
    """One line per device for people: ``0 NVIDIA A100 · 10.3/80.0 GiB · 87% · 2 processes``."""
    lines = []
    for d in devices:
        used, total = d["memory_used_mib"], d["memory_total_mib"]
        memory = (
            f"{_gib(used)}/{_gib(total)} GiB"
            if used is not None and total is not None
            else "memory n/a"
        )
        util = "n/a" if d["utilization_percent"] is None else f"{d['utilization_percent']}%"
        procs = d["processes"]
        lines.append(
            f"{d['index']} {d['name']} · {memory} · {util} busy · "
            f"{procs} process{'es' if procs != 1 else ''}"
        )
    return "\n".join(lines)


def _gib(mib: int) -> str:
    return f"{mib / 1024:.1f}"
