"""Result tables: what the orchestrator fills and the report renders (JSON round-trip)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Row:
    """One contender in one table: its samples (numbers or dicts) and any errors."""

    key: str
    name: str
    samples: list[Any] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    note: str = ""
    ours: bool = False
    peer: bool = False  # a contender we must not lose to by more than 20 %
    cpu: list[float] = field(default_factory=list)  # metric 2: this machine's CPU s per cell
    link_cpu: list[float] = field(default_factory=list)  # ... outside the client's thread

    def values(self, field_name: str | None = None) -> list[float]:
        if field_name is None:
            return [float(s) for s in self.samples if isinstance(s, (int, float))]
        return [float(s[field_name]) for s in self.samples if isinstance(s, dict)]


@dataclass
class Table:
    id: str
    metric: int
    title: str
    link: str
    unit: str
    baseline: str  # key of the baseline row
    kind: str = "time"  # time | rtt | output | discovery | concurrent | reconnect
    lower_is_better: bool = True
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def row(self, key: str) -> Row | None:
        return next((r for r in self.rows if r.key == key), None)

    def add(self, row: Row) -> Row:
        self.rows.append(row)
        return row


@dataclass
class Results:
    meta: dict[str, Any] = field(default_factory=dict)
    tables: list[Table] = field(default_factory=list)
    profiles: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Results:
        tables = []
        for t in data.get("tables", []):
            rows = [Row(**r) for r in t.pop("rows", [])]
            tables.append(Table(**t, rows=rows))
        return cls(meta=data.get("meta", {}), tables=tables, profiles=data.get("profiles", []))
