"""Cells through a kernel, ours against ``ssh -L`` and a direct client: metric 2 (a
trivial cell's round trip) and metric 3 (200 MB of output)."""

from __future__ import annotations

from bench.drivers_core import LINKS, Ctx
from bench.results import Row, Table
from bench.runner import WorkerError


def metric_rtt(ctx: Ctx) -> None:
    s = ctx.sizes
    direct = Row("direct", "direct to the same kernel (no SSH)")
    for link in ("lo", "slow"):
        where = LINKS[link]
        cells = s.rtt_cells if link == "lo" else s.rtt_cells_slow
        ctx.say(f"metric 2, {where}: {cells} cells each for direct, ours, ssh -L")
        table = Table(f"m2-{link}", 2, f"Trivial cell round trip, {where}", where, "ms", "direct",
                      kind="rtt")  # fmt: skip
        table.add(direct)
        rows = {
            "ours": table.add(Row("ours", f"jupyterlab-remote (remote-{link})", ours=True)),
            "tunnel": table.add(Row("tunnel", "OpenSSH ssh -L (hand-made)", peer=True)),
        }
        if link == "lo":  # no network on the direct path either way: measured once
            rows = {"direct": direct, **rows}
        else:
            table.notes.append("The *direct* row is the loopback table's (same run): a direct "
                               "client crosses no network on either link.")  # fmt: skip
        try:
            task = {"metric": "cell_round_trip", "target": link}
            worker = ctx.worker(task, label=f"rtt-{link}")
        except WorkerError as exc:
            for row in rows.values():
                row.errors.append(f"set-up: {exc}")
            ctx.results.tables.append(table)
            continue
        try:
            for variant in rows:
                worker.run(variant=variant, count=20)  # warm-up, discarded
            blocks = max(1, cells // s.rtt_block)
            for b in range(blocks):
                for variant, row in rows.items():
                    try:
                        v = worker.run(variant=variant, count=s.rtt_block, timeout=600)
                        row.samples += v["ms"]
                        row.cpu.append(v["cpu_s"] / s.rtt_block)
                        row.link_cpu.append(v["link_cpu_s"] / s.rtt_block)
                    except WorkerError as exc:
                        row.errors.append(str(exc))
                ctx.say(f"  M2 {link} block {b + 1}/{blocks}: " + ", ".join(
                    f"{k} {sorted(r.samples)[len(r.samples) // 2]:.2f} ms"
                    for k, r in rows.items() if r.samples))  # fmt: skip
        finally:
            worker.close()
        table.notes.append(
            "A cell is `pass`; timed from execute_request sent to both execute_reply and the "
            "iopub `idle` status received. Blocks of 100 cells alternate between contenders; "
            "20 warm-up cells each are not counted. *direct* is a client on the very kernel "
            "*ours* runs, connected to its own ipc sockets (same machine). *Local CPU*: user + "
            "system CPU seconds of this machine's side per 1,000 cells (median of the blocks): "
            "the worker process (client; for ours also its SSH thread, relay link and local "
            "sockets), plus for `ssh -L` its ssh client process; after the slash, the part "
            "outside the client's own thread (the link, and the client's libzmq I/O thread). "
            "*direct*'s includes our link relaying the iopub messages of its cells (one kernel)."
        )
        ctx.results.tables.append(table)


def metric_output(ctx: Ctx) -> None:
    direct: dict[str, Row] = {}
    for link in ("lo", "slow"):
        where = LINKS[link]
        tables = {}
        for kind, what in (("stream", "stream output"), ("image", "image/png display_data")):
            t = Table(f"m3-{link}-{kind}", 3, f"200 MB of {what}, {where}", where, "s", "direct",
                      kind="output")  # fmt: skip
            if link == "lo":
                direct[kind] = t.add(Row("direct", "direct to the same kernel (no SSH)"))
            else:  # no network on the direct path either way: measured once, on loopback
                t.add(direct[kind])
                t.notes.append("The *direct* row is the loopback table's (same run): a direct "
                               "client crosses no network on either link.")  # fmt: skip
            t.add(Row("ours", f"jupyterlab-remote (remote-{link})", ours=True))
            t.add(Row("tunnel", "OpenSSH ssh -L (hand-made)", peer=True))
            tables[kind] = t
        ctx.say(f"metric 3, {where}: 2 kinds x 3 contenders x {ctx.sizes.output_runs} runs")
        try:
            task = {"metric": "output_throughput", "target": link}
            worker = ctx.worker(task, label=f"output-{link}")
        except WorkerError as exc:
            for t in tables.values():
                for row in t.rows:
                    row.errors.append(f"set-up: {exc}")
            ctx.results.tables += tables.values()
            continue
        try:
            for i in range(ctx.sizes.output_runs):
                for kind, t in tables.items():
                    for row in t.rows:
                        if link != "lo" and row.key == "direct":
                            continue
                        try:
                            v = worker.run(variant=row.key, kind=kind, timeout=900)
                        except WorkerError as exc:
                            row.errors.append(str(exc))
                            continue
                        row.samples.append(v)
                        lost = "" if v["complete"] else f" LOST {1 - v['bytes'] / 200e6:.0%}"
                        ctx.say(f"  M3 {link} {kind} run {i + 1}: {row.key} {v['seconds']:.2f} s "
                                f"({v['mb_s']:.0f} MB/s){lost}")  # fmt: skip
        finally:
            worker.close()
        for t in tables.values():
            t.notes.append(
                "200 chunks of 1,000,000 bytes (stream: flushed per chunk; images: one "
                "incompressible PNG, ~1 MB of base64, displayed 200 times), timed from "
                "execute_request to iopub idle with every byte counted on the client. "
                "*complete* counts runs where all 200 MB arrived. *Local CPU*: user + system "
                "CPU ms of this machine's side per MB delivered (median of the runs): the "
                "worker process, plus for `ssh -L` its ssh client process; after the slash, "
                "the part outside the client's own thread. *direct*'s includes our link "
                "relaying its output (one kernel)."
            )
        ctx.results.tables += tables.values()
