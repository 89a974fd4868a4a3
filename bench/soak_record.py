"""What the soak's parts share: the printing period, the log line, and the record of a run
(every line received, the session events, the server's memory) and of each fault."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

PERIOD = 0.1  # seconds between two printed lines


def log(text: str) -> None:
    print(f"[soak {time.strftime('%H:%M:%S')}] {text}", flush=True)


@dataclass
class Fault:
    kind: str  # "cut" | "drop"
    start: float  # wall clock
    planned: float  # seconds
    end: float = 0.0
    reconnecting_after: float | None = None  # s after start
    running_after_restore: float | None = None  # s after end
    lines_printed: int = 0  # by the kernel between start and end
    lines_missing: int = 0
    lines_missing_after: int = 0  # printed after the restore (before the next fault), lost
    backlog_delivered_after: float | None = None  # s after end: last line of the outage in


@dataclass
class Record:
    lines: list[tuple[int, float, float]] = field(default_factory=list)  # n, kernel t, recv t
    garbage: list[str] = field(default_factory=list)
    partial: str = ""
    reply: dict[str, Any] | None = None
    events: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    rss: list[tuple[float, int]] = field(default_factory=list)  # wall clock, KiB
