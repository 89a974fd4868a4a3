"""Render bench/RESULTS.md from a Results object (``python -m bench.report JSON`` re-renders)."""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path
from typing import Any

from bench.common import percentile
from bench.results import Results, Row, Table

HERE = Path(__file__).resolve().parent
LOSS = 1.20  # we "lose" when our median is more than 20 % worse than a peer's
X = "\u00d7"  # multiplication sign
NA = "\u2013"  # en dash: no value

METRIC_TITLES = {
    1: "Kernel start → first result (`1+1`)",
    2: "Execute round trip of a trivial cell",
    3: "Output throughput (200 MB)",
    4: "Environment discovery",
    5: "64 concurrent kernels on one server",
    6: "Reconnect: link restored → session running",
    7: "Terminal keystroke echo",
    8: "Remote files: 1 GiB upload and download",
    9: "Remote files: listing 10,000 entries",
    10: "A trivial cell through the Jupyter server's kernel websocket (as JupyterLab)",
    11: "Kernel start → first result taking the profile's standby (pre-warmed) kernel",
    12: "Kernel start → first result through the Jupyter server (as JupyterLab), standby taken",
}


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


def losses(results: Results) -> list[dict[str, Any]]:
    """Rows where ours is more than 20 % worse than a peer (medians; RTT p99 too)."""
    found = []
    for table in results.tables:
        ours = [r for r in table.rows if r.ours and primary(table, r)]
        peers = [r for r in table.rows if r.peer and primary(table, r)]
        for o in ours:
            for p in peers:
                checks = [("median", med(primary(table, o)), med(primary(table, p)))]
                if table.kind == "rtt":
                    op99 = percentile(primary(table, o), 99)
                    checks.append(("p99", op99, percentile(primary(table, p), 99)))
                for stat, ov, pv in checks:
                    if ov is not None and pv and ov > LOSS * pv:
                        found.append(
                            {
                                "table": table.id,
                                "metric": table.metric,
                                "title": table.title,
                                "link": table.link,
                                "ours": o.name,
                                "peer": p.name,
                                "stat": stat,
                                "ours_value": ov,
                                "peer_value": pv,
                                "unit": table.unit,
                                "factor": ov / pv,
                            }
                        )
    return found


# ------------------------------------------------------------------ tables


def _errors(row: Row) -> str:
    if not row.errors:
        return ""
    first = row.errors[0].replace("|", "/").replace("\n", " ")[:300]
    more = f" (+{len(row.errors) - 1} more)" if len(row.errors) > 1 else ""
    return f"{len(row.errors)} failed: `{first}`{more}"


def render_table(table: Table) -> list[str]:
    base_row = table.row(table.baseline)
    base = med(primary(table, base_row)) if base_row else None
    out = [f"#### {table.title}", ""]
    u = table.unit
    if table.kind == "rtt":
        out += [
            f"| contender | median {u} | p99 {u} | min {u} | max {u} | cells | "
            "ratio (median) | ratio (p99) | local CPU s per 1,000 cells: all / link | notes |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
        base_p99 = percentile(primary(table, base_row), 99) if base_row and base else None
    elif table.kind == "output":
        out += [
            f"| contender | median {u} per 200 MB delivered | min {u} | max {u} | "
            "MB/s (median) | complete | runs | ratio | local CPU ms per MB: all / link | notes |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
    elif table.kind == "discovery":
        out += [
            f"| how | median {u} | min {u} | max {u} | runs | ratio | SSH exec requests | "
            "SSH logins | envs found | notes |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
    elif table.kind == "concurrent":
        out += [
            f"| contender | all ready, median {u} | min {u} | max {u} | runs | ratio | "
            f"one start, median {u} | all ready ÷ one start | "
            "RSS per kernel (MB, median) | processes per kernel | "
            "remote execs per kernel per minute, idle | SSH connections (max) | "
            "failed starts | notes |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
    else:
        out += [
            f"| contender | median {u} | min {u} | max {u} | runs | ratio | notes |",
            "|---|---:|---:|---:|---:|---:|---|",
        ]
    for row in table.rows:
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
            out.append(
                f"| {name} | {fmt(m, u)} | {fmt(p99, u)} | {fmt(lo, u)} | {fmt(hi, u)} | "
                f"{len(vals)} | {r} | {ratio(p99, base_p99)} | "
                f"{_cpu(row.cpu, row.link_cpu, 1000)} | {notes} |"
            )
        elif table.kind == "output":
            mbs = med(row.values("mb_s"))
            complete = sum(1 for s in row.samples if isinstance(s, dict) and s.get("complete"))
            if vals and complete < len(vals):
                lost = [1 - s["bytes"] / 200e6 for s in row.samples if not s.get("complete")]
                notes = "; ".join(
                    x for x in (f"**lost up to {max(lost):.0%} of the output**", notes) if x
                )
            out.append(
                f"| {name} | {fmt(m, u)} | {fmt(lo, u)} | {fmt(hi, u)} | "
                f"{fmt(mbs, 'MB/s') if mbs else NA} | {complete}/{len(vals)} | {len(vals)} | "
                f"{r} | {_cpu(*_per_mb_cpu(row), 1000)} | {notes} |"
            )
        elif table.kind == "discovery":
            execs = med(row.values("execs"))
            logins = med(row.values("logins"))
            envs = med(row.values("envs"))
            out.append(
                f"| {name} | {fmt(m, u)} | {fmt(lo, u)} | {fmt(hi, u)} | {len(vals)} | {r} | "
                f"{_int(execs)} | {_int(logins)} | {_int(envs)} | {notes} |"
            )
        elif table.kind == "concurrent":
            rss = med(row.values("rss_per_kernel_mb"))
            conns = max(row.values("connections"), default=None)
            failed = sum(row.values("start_failures"))
            one = med(_present(row, "one_start"))
            procs = med(_present(row, "processes_per_kernel"))
            idle = med(_present(row, "idle_execs_per_kernel_min"))
            out.append(
                f"| {name} | {fmt(m, u)} | {fmt(lo, u)} | {fmt(hi, u)} | {len(vals)} | {r} | "
                f"{fmt(one, u)} | {ratio(m, one)} | "
                f"{fmt(rss, 'MB') if rss is not None else NA} | "
                f"{f'{procs:.1f}' if procs is not None else NA} | "
                f"{f'{idle:.2f}' if idle is not None else NA} | {_int(conns)} | "
                f"{_int(failed) if vals else NA} | {notes} |"
            )
        else:
            out.append(
                f"| {name} | {fmt(m, u)} | {fmt(lo, u)} | {fmt(hi, u)} | {len(vals)} | {r} | "
                f"{notes} |"
            )
    out.append("")
    out += [f"- {n}" for n in table.notes]
    if table.notes:
        out.append("")
    return out


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


# ------------------------------------------------------------------ document


def render(results: Results) -> str:
    meta = results.meta
    lines = [
        "# Benchmarks: jupyterlab-remote against its peers",
        "",
        *_header(meta),
        "",
        "How to read: each row gives median, min and max over its samples (the *runs* or "
        "*cells* column counts them: 5 for every one-kernel start, 1,000 cells for loopback "
        "round trips), "
        "and **ratio** = its median / the median of the table's *baseline* row, "
        "measured in the same run (so a slower or busier machine moves every row together). "
        "Lower is better everywhere. Our rows are **bold**.",
        "",
    ]
    lines += _summary(results)
    lines += _machine(meta)
    lines += _contenders(meta)
    lines += _losses(results)
    for metric in sorted({t.metric for t in results.tables}):
        first = next(t.title for t in results.tables if t.metric == metric)
        lines += [f"## {metric}. {METRIC_TITLES.get(metric, first)}", ""]
        intro = meta.get("intros", {}).get(str(metric))
        if intro:
            lines += [intro, ""]
        for table in (t for t in results.tables if t.metric == metric):
            lines += render_table(table)
    lines += _caveats(meta)
    return "\n".join(lines).rstrip() + "\n"


def _header(meta: dict[str, Any]) -> list[str]:
    """Who wrote the file, when, from which commit, and how long each section took."""
    commit = f" at git {meta['commit']}" if meta.get("commit") else ""
    per = per_section(meta.get("durations") or {})
    return [
        f"Written by `{meta.get('command', 'python -m bench.run')}` on "
        f"{meta.get('date', '?')}{commit}; the whole run took **{meta.get('wall', '?')}**"
        + (f" (per section: {per})" if per else "")
        + ". Every number below comes from that one run: regenerate them with the same "
        "command (the tables are rewritten, nothing is edited by hand except "
        "`bench/analysis.md`, which is included verbatim under *Why*)."
    ]


def per_section(durations: dict[str, float]) -> str:
    """run.py's timings as one line: set-up, each section (metric), profiles."""
    names = {"setup": "set-up", "profiles": "profiles"}
    return "; ".join(f"{names.get(k, f'section {k}')} {_span(v)}" for k, v in durations.items())


def _span(seconds: float) -> str:
    whole = round(seconds)
    return f"{whole} s" if whole < 60 else f"{whole // 60} min {whole % 60:02d} s"


def _summary(results: Results) -> list[str]:
    """One line per table: our median, its ratio to the baseline, and the best peer."""
    out = [
        "## Summary",
        "",
        "| table | ours (median) | ours ÷ baseline | best other contender | ours ÷ it |",
        "|---|---:|---:|---|---:|",
    ]
    for table in results.tables:
        base_row = table.row(table.baseline)
        base = med(primary(table, base_row)) if base_row else None
        u = table.unit
        for o in (r for r in table.rows if r.ours):
            om = med(primary(table, o))
            if om is None:
                out.append(f"| {table.title} ({o.name}) | failed | | | |")
                continue
            others = [
                (med(primary(table, r)), r.name) for r in table.rows if r.peer and primary(table, r)
            ]
            best = min((x for x in others if x[0] is not None), default=None)
            peer = f"{best[1]} {fmt(best[0], u)} {u}" if best else NA
            vs = ratio(om, best[0]) if best else NA
            several = sum(1 for r in table.rows if r.ours) > 1
            name = f"{table.title}: {o.name}" if several else table.title
            out.append(f"| {name} | {fmt(om, u)} {u} | {ratio(om, base)} | {peer} | {vs} |")
    return [*out, ""]


def _machine(meta: dict[str, Any]) -> list[str]:
    machine = meta.get("machine", {})
    out = ["## Machine and software", "", "| | |", "|---|---|"]
    out += [f"| {k} | {v} |" for k, v in machine.items()]
    return [*out, ""]


def _contenders(meta: dict[str, Any]) -> list[str]:
    out = ["## Contenders and how each is configured", ""]
    out += [f"- {line}" for line in meta.get("contenders", [])]
    out.append("")
    out += ["Links:", ""]
    out += [f"- {line}" for line in meta.get("links", [])]
    return [*out, ""]


def _losses(results: Results) -> list[str]:
    found = losses(results)
    out = ["## Where we lose by more than 20 %", ""]
    if not found and not any(
        not x.get("complete", True)
        for t in results.tables
        if t.kind == "output"
        for r in t.rows
        if r.ours
        for x in r.samples
    ):
        out += [f"Nowhere in this run: no median (or RTT p99) of ours is > 1.2{X} a peer's.", ""]
    for table in results.tables:
        if table.kind != "output":
            continue
        for o in (r for r in table.rows if r.ours and r.samples):
            incomplete = [x for x in o.samples if not x.get("complete")]
            if incomplete:
                worst = max(1 - x["bytes"] / 200e6 for x in incomplete)
                out.append(
                    f"- **{table.title}**: {o.name} **lost output** in {len(incomplete)} of "
                    f"{len(o.samples)} runs (up to {worst:.0%} of the 200 MB); the other "
                    "contenders delivered every byte."
                )
    for loss in found:
        u = loss["unit"]
        out.append(
            f"- **{loss['title']}**: {loss['ours']} {loss['stat']} "
            f"{fmt(loss['ours_value'], u)} {u} vs {loss['peer']} {fmt(loss['peer_value'], u)} "
            f"{u} (**{loss['factor']:.2f}{X}**)"
        )
    out.append("")
    for prof in results.profiles:
        out += [f"### Profile: {prof['title']}", "", prof.get("how", ""), ""]
        if prof.get("lines"):
            out += ["```", *prof["lines"], "```", ""]
    analysis = HERE / "analysis.md"
    if analysis.exists():
        out += ["### Why (analysis, `bench/analysis.md`)", ""]
        out += [analysis.read_text().strip(), ""]
    return out


def _caveats(meta: dict[str, Any]) -> list[str]:
    notes = meta.get("caveats", [])
    if not notes:
        return []
    return ["## Caveats", "", *[f"- {n}" for n in notes], ""]


def main() -> int:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / ".out" / "results.json"
    results = Results.from_json(json.loads(path.read_text()))
    (HERE / "RESULTS.md").write_text(render(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
