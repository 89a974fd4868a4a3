"""Render bench/RESULTS.md from a Results object (``python -m bench.report JSON`` re-renders)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from bench.common import percentile
from bench.report_tables import NA, X, fmt, med, primary, ratio, render_table
from bench.results import Results

HERE = Path(__file__).resolve().parent
LOSS = 1.20  # we "lose" when our median is more than 20 % worse than a peer's

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
