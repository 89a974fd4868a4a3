"""One table of bench/RESULTS.md: the numbers it compares (medians, ratios, local CPU) and
its markdown, a header and a line a row by the table's kind (rtt, output, discovery,
concurrent, or plain). bench/report.py renders the document around them."""

from __future__ import annotations

import statistics

from bench.common import percentile
from bench.results import Row, Table

X = "\u00d7"  # multiplication sign
NA = "\u2013"  # en dash: no value


# ------------------------------------------------------------------ numbers


def primary(table: Table, row: Row) -> list[float]:
    """The values a table compares (seconds for dict samples; for output, seconds per
    200 MB actually delivered, so a run that lost output does not look faster)."""
    if table.kind == "output":
        return [
            float(s["seconds"]) * 200e6 / max(1, s["bytes"])
            for s in row.samples
            if isinstance(s, dict)
        ]
    if table.kind in ("discovery", "concurrent"):
        return row.values("seconds")
    return row.values()


def med(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def fmt(value: float | None, unit: str) -> str:
    if value is None:
        return NA
    if unit == "ms":
        return f"{value:.2f}" if value < 10 else f"{value:.1f}"
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.3f}" if value < 1 else f"{value:.2f}"


def _present(row: Row, name: str) -> list[float]:
    """A field's values in the samples that have it (older or local ones may not)."""
    return [float(s[name]) for s in row.samples if isinstance(s, dict) and s.get(name) is not None]


def ratio(value: float | None, base: float | None) -> str:
    if value is None or not base:
        return NA
    return f"{value / base:.2f}{X}"


# ------------------------------------------------------------------ tables


def _errors(row: Row) -> str:
    if not row.errors:
        return ""
    first = row.errors[0].replace("|", "/").replace("\n", " ")[:300]
    more = f" (+{len(row.errors) - 1} more)" if len(row.errors) > 1 else ""
    return f"{len(row.errors)} failed: `{first}`{more}"


def render_table(table: Table) -> list[str]:
    """A table's markdown (render, for every table of the run): title, header, a line a
    row, then its notes."""
    base_row = table.row(table.baseline)
    base = med(primary(table, base_row)) if base_row else None
    rtt = table.kind == "rtt"
    base_p99 = percentile(primary(table, base_row), 99) if rtt and base_row and base else None
    out = [f"#### {table.title}", "", *_head(table.kind, table.unit)]
    out += [_line(table, row, base, base_p99) for row in table.rows]
    out.append("")
    out += [f"- {n}" for n in table.notes]
    if table.notes:
        out.append("")
    return out


def _head(kind: str, u: str) -> list[str]:
    """The header and alignment lines of a table of this kind, in unit ``u``."""
    if kind == "rtt":
        return [
            f"| contender | median {u} | p99 {u} | min {u} | max {u} | cells | "
            "ratio (median) | ratio (p99) | local CPU s per 1,000 cells: all / link | notes |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
    if kind == "output":
        return [
            f"| contender | median {u} per 200 MB delivered | min {u} | max {u} | "
            "MB/s (median) | complete | runs | ratio | local CPU ms per MB: all / link | notes |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
    if kind == "discovery":
        return [
            f"| how | median {u} | min {u} | max {u} | runs | ratio | SSH exec requests | "
            "SSH logins | envs found | notes |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
    if kind == "concurrent":
        return [
            f"| contender | all ready, median {u} | min {u} | max {u} | runs | ratio | "
            f"one start, median {u} | all ready ÷ one start | "
            "RSS per kernel (MB, median) | processes per kernel | "
            "remote execs per kernel per minute, idle | SSH connections (max) | "
            "failed starts | notes |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
    return [
        f"| contender | median {u} | min {u} | max {u} | runs | ratio | notes |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]


def _line(table: Table, row: Row, base: float | None, base_p99: float | None) -> str:
    """One row's line, in the columns of ``_head`` for the table's kind."""
    u = table.unit
    vals = primary(table, row)
    m = med(vals)
    lo, hi = (min(vals), max(vals)) if vals else (None, None)
    name = f"**{row.name}**" if row.ours else row.name
    if row.key == table.baseline:
        name += " (baseline)"
    notes = "; ".join(x for x in (row.note, _errors(row)) if x)
    r = ratio(m, base)
    if table.kind == "rtt":
        p99 = percentile(vals, 99) if vals else None
        return (
            f"| {name} | {fmt(m, u)} | {fmt(p99, u)} | {fmt(lo, u)} | {fmt(hi, u)} | "
            f"{len(vals)} | {r} | {ratio(p99, base_p99)} | "
            f"{_cpu(row.cpu, row.link_cpu, 1000)} | {notes} |"
        )
    if table.kind == "output":
        complete = sum(1 for s in row.samples if isinstance(s, dict) and s.get("complete"))
        if vals and complete < len(vals):
            lost = [1 - s["bytes"] / 200e6 for s in row.samples if not s.get("complete")]
            notes = "; ".join(
                x for x in (f"**lost up to {max(lost):.0%} of the output**", notes) if x
            )
        mbs = med(row.values("mb_s"))
        return (
            f"| {name} | {fmt(m, u)} | {fmt(lo, u)} | {fmt(hi, u)} | "
            f"{fmt(mbs, 'MB/s') if mbs else NA} | {complete}/{len(vals)} | {len(vals)} | "
            f"{r} | {_cpu(*_per_mb_cpu(row), 1000)} | {notes} |"
        )
    lead = f"| {name} | {fmt(m, u)} | {fmt(lo, u)} | {fmt(hi, u)} | {len(vals)} | {r} | "
    if table.kind == "discovery":
        counts = (_int(med(row.values(k))) for k in ("execs", "logins", "envs"))
        return lead + " | ".join(counts) + f" | {notes} |"
    if table.kind == "concurrent":
        return lead + _concurrent_cells(row, m, u, bool(vals)) + f" | {notes} |"
    return lead + f"{notes} |"


def _concurrent_cells(row: Row, m: float | None, u: str, measured: bool) -> str:
    """Metric 5's columns after the ratio: one start, all ready ÷ one start, RSS,
    processes, idle remote execs, SSH connections, failed starts."""
    one = med(_present(row, "one_start"))
    rss = med(row.values("rss_per_kernel_mb"))
    procs = med(_present(row, "processes_per_kernel"))
    idle = med(_present(row, "idle_execs_per_kernel_min"))
    conns = max(row.values("connections"), default=None)
    failed = sum(row.values("start_failures"))
    return (
        f"{fmt(one, u)} | {ratio(m, one)} | "
        f"{fmt(rss, 'MB') if rss is not None else NA} | "
        f"{f'{procs:.1f}' if procs is not None else NA} | "
        f"{f'{idle:.2f}' if idle is not None else NA} | {_int(conns)} | "
        f"{_int(failed) if measured else NA}"
    )


def _cpu(whole: list[float], link: list[float], scale: float) -> str:
    """Local CPU seconds per unit (medians), shown per ``scale`` units: all of this
    machine's side / the part outside the client's thread."""
    if not whole:
        return NA
    text = f"{statistics.median(whole) * scale:.3g}"
    return f"{text} / {statistics.median(link) * scale:.3g}" if link else text


def _per_mb_cpu(row: Row) -> tuple[list[float], list[float]]:
    """Metric 3: the local side's CPU seconds per MB delivered (all / outside the client's
    thread), of the runs that have them."""
    runs = [s for s in row.samples if isinstance(s, dict) and s.get("cpu_s") is not None]
    per_mb = [float(s["cpu_s"]) / (s["bytes"] / 1e6) for s in runs if s.get("bytes")]
    link = [float(s["link_cpu_s"]) / (s["bytes"] / 1e6) for s in runs if s.get("bytes")]
    return per_mb, link


def _int(value: float | None) -> str:
    return NA if value is None else f"{value:g}"
