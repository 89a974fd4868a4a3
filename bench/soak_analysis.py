"""The soak's figures from its record: missing, duplicated and out-of-order lines, each
fault's detection, recovery and backlog; and the markdown of the result."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from bench.soak_record import PERIOD, Fault, Record


def analyse(record: Record, expected: int, faults: list[Fault], kernel_id: str) -> dict[str, Any]:
    numbers = [n for n, _, _ in record.lines]
    seen: dict[int, int] = {}
    for n in numbers:
        seen[n] = seen.get(n, 0) + 1
    missing = [n for n in range(expected) if n not in seen]
    out_of_order = 0
    high = -1
    for n in numbers:
        if n < high:
            out_of_order += 1
        high = max(high, n)

    # kernel time of every line (received, or interpolated for the missing ones)
    printed_at = {n: t for n, t, _ in record.lines}
    recv_at = {n: r for n, _, r in record.lines}
    t0 = min(printed_at.values()) if printed_at else 0.0
    first_n = min(printed_at) if printed_at else 0

    def when(n: int) -> float:
        return printed_at.get(n, t0 + (n - first_n) * PERIOD)

    states = [
        (t, e["session"]["state"], e["session"].get("reason", ""))
        for t, e in record.events
        if e.get("type") == "session" and e["session"].get("kernel_id") == kernel_id
    ]
    notices = [e.get("message", "") for _, e in record.events if e.get("type") == "notice"]
    for i, f in enumerate(faults):
        until = faults[i + 1].start if i + 1 < len(faults) else float("inf")
        during = [n for n in range(expected) if f.start <= when(n) < f.end]
        after = [n for n in range(expected) if f.end <= when(n) < until]
        f.lines_printed = len(during)
        f.lines_missing = sum(1 for n in during if n not in seen)
        f.lines_missing_after = sum(1 for n in after if n not in seen)
        got = [recv_at[n] for n in during if n in recv_at]
        if got:
            f.backlog_delivered_after = round(max(0.0, max(got) - f.end), 2)
        # this fault's own states: before the next fault starts
        rec = next((t for t, s, _ in states if s == "reconnecting" and f.start <= t < until), None)
        if rec is not None:
            f.reconnecting_after = round(rec - f.start, 2)
            back = next((t for t, s, _ in states if s == "running" and rec <= t < until), None)
            if back is not None:
                f.running_after_restore = round(back - f.end, 2)
    delays = [r - t for _, t, r in record.lines]
    recoveries = [f.running_after_restore for f in faults if f.running_after_restore is not None]
    unattributed = [n for n in missing if not faults or when(n) < faults[0].start]
    rss = [kib for _, kib in record.rss]
    return {
        "lines_expected": expected,
        "lines_received": len(numbers),
        "lines_missing": len(missing),
        "missing_ranges": ranges(missing)[:50],
        "lines_missing_during_outages": sum(f.lines_missing for f in faults),
        "lines_missing_after_restore": sum(f.lines_missing_after for f in faults),
        "lines_missing_before_first_fault": len(unattributed),
        "lines_duplicated": sum(c - 1 for c in seen.values() if c > 1),
        "lines_out_of_order": out_of_order,
        "lines_unexpected": len([n for n in seen if n >= expected]),
        "garbage_lines": record.garbage[:20],
        "cell_reply": (record.reply or {}).get("status"),
        "delivery_delay_s_p50_p99_max": [round(q, 3) for q in quantiles(delays, (0.5, 0.99, 1.0))],
        "faults": len(faults),
        "faults_cut": sum(1 for f in faults if f.kind == "cut"),
        "faults_drop": sum(1 for f in faults if f.kind == "drop"),
        "faults_seen_as_reconnecting": sum(1 for f in faults if f.reconnecting_after is not None),
        "recovery_s_p50_max": [round(q, 2) for q in quantiles(recoveries, (0.5, 1.0))],
        "session_states": [s for _, s, _ in states],
        "notices": notices[:20],
        "server_rss_mib_start_end_max": [
            round(rss[0] / 1024, 1) if rss else None,
            round(rss[-1] / 1024, 1) if rss else None,
            round(max(rss) / 1024, 1) if rss else None,
        ],
        "fault_log": [asdict(f) for f in faults],
    }


def ranges(numbers: list[int]) -> list[str]:
    out: list[str] = []
    for n in numbers:
        if out and int(out[-1].split("-")[-1]) == n - 1:
            out[-1] = f"{out[-1].split('-')[0]}-{n}"
        else:
            out.append(str(n))
    return out


def quantiles(values: list[float], qs: tuple[float, ...]) -> list[float]:
    if not values:
        return []
    ordered = sorted(values)
    return [ordered[int(q * (len(ordered) - 1))] for q in qs]


def markdown(result: dict[str, Any]) -> str:
    r = result
    lines = [
        f"# Soak run {r['started']}",
        "",
        f"{r['label']}",
        "",
        "| figure | value |",
        "| --- | --- |",
    ]
    keys = [
        "commit",
        "duration_s",
        "keepalive",
        "lines_expected",
        "lines_received",
        "lines_missing",
        "lines_missing_during_outages",
        "lines_missing_after_restore",
        "lines_missing_before_first_fault",
        "lines_duplicated",
        "lines_out_of_order",
        "faults",
        "faults_cut",
        "faults_drop",
        "faults_seen_as_reconnecting",
        "reconnects",
        "recovery_s_p50_max",
        "delivery_delay_s_p50_p99_max",
        "server_rss_mib_start_end_max",
        "remote_processes_after_stop",
        "remote_files_after_stop",
    ]
    for k in keys:
        lines.append(f"| {k} | {r.get(k)} |")
    lines += [
        "",
        "| # | kind | outage s | reconnecting after s | running after restore s "
        "| lines printed in outage | missing | missing after restore | backlog in after s |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for i, f in enumerate(r["fault_log"], 1):
        lines.append(
            f"| {i} | {f['kind']} | {f['end'] - f['start']:.1f} | {f['reconnecting_after']} "
            f"| {f['running_after_restore']} | {f['lines_printed']} | {f['lines_missing']} "
            f"| {f['lines_missing_after']} | {f['backlog_delivered_after']} |"
        )
    if r.get("missing_ranges"):
        lines += ["", f"Missing lines: {', '.join(r['missing_ranges'])}"]
    if r.get("notices"):
        lines += ["", "Notices: " + "; ".join(r["notices"])]
    return "\n".join(lines) + "\n"
