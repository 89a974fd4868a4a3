"""Metric 6: link restored until the session is usable again, against OpenSSH's floor."""

from __future__ import annotations

from bench.drivers_core import LINKS, Contender, Ctx, round_robin
from bench.results import Row, Table


def metric_reconnect(ctx: Ctx) -> None:
    for link in ("veth", "slow"):
        where = LINKS[link]
        ctx.say(f"metric 6, {where}: cut, wait for reconnecting, restore x {ctx.sizes.runs}")
        table = Table(f"m6-{link}", 6, f"Link restored → usable again, {where}", where, "s",
                      "ssh", kind="reconnect")  # fmt: skip
        ssh_row = table.add(Row("ssh", "OpenSSH: new `ssh host true` succeeds (floor)"))
        running = table.add(Row("ours-running", "jupyterlab-remote: session `running`", ours=True))
        reply = table.add(Row("ours-reply", "jupyterlab-remote: first cell reply", ours=True))
        detect = Row("detect", "detect")
        task = {"metric": "reconnect_time", "target": link}
        ours = Contender(running, {**task, "variant": "ours"})
        ssh = Contender(ssh_row, {**task, "variant": "ssh"}, value=lambda v: v["running"])

        def split(v: dict[str, float], reply: Row = reply, detect: Row = detect) -> float:
            reply.samples.append(v["first_reply"])
            detect.samples.append(v["detect"])
            return v["running"]

        ours.value = split
        # one after the other: the floor's cuts would otherwise hit our idle session too
        round_robin(ctx, [ours], ctx.sizes.runs, f"M6 {link}")
        round_robin(ctx, [ssh], ctx.sizes.runs, f"M6 {link}")
        if ours.worker is None and running.errors:
            reply.errors = list(running.errors)
        det = sorted(detect.values())
        table.notes.append(
            "SSH keepalives 1 s x 2 as in tests/test_network_faults.py (the drop was noticed "
            f"after {det[len(det) // 2]:.1f} s, median); the reconnect policy has the product's "
            "defaults (a TCP probe every 0.15 s for the first 10 s of an outage, then every "
            "1 s; then the handshake). The cut is held 1 to 2 s "
            "(random, seeded) after `reconnecting`, so the restore lands at any phase of the "
            "probe timer; times start when the restore returns."
            if det
            else "No successful run."
        )
        ctx.results.tables.append(table)
