"""Metric 4: environment discovery with 1, 10 and 50 environments on the remote."""

from __future__ import annotations

from bench.drivers_core import LINKS, Ctx
from bench.results import Row, Table
from bench.runner import WorkerError


def metric_discovery(ctx: Ctx) -> None:
    ctx.say("metric 4, loopback: discovery with " + ", ".join(map(str, ctx.sizes.discovery_envs))
            + " environments")  # fmt: skip
    ops = (
        ("ssh", "OpenSSH `ssh host true` (new connection, one exec)", False),
        ("api-cold", "Discovery.lookup(refresh=True): connect + probe", True),
        ("api-cached", "Discovery.lookup(): cached (memory)", True),
        ("cli-cold", "`jupyter remote env list --refresh` (new process)", True),
        ("cli-cached", "`jupyter remote env list` (new process, disk cache)", True),
    )
    try:
        worker = ctx.worker({"metric": "discovery_time", "target": "lo"}, label="discovery")
    except WorkerError as exc:
        table = Table("m4", 4, "Environment discovery", LINKS["lo"], "s", "ssh", kind="discovery")
        table.add(Row("ssh", "discovery", errors=[f"set-up: {exc}"]))
        ctx.results.tables.append(table)
        return
    try:
        for n in ctx.sizes.discovery_envs:
            table = Table(f"m4-{n}", 4, f"{n} environment{'s' if n > 1 else ''} on the remote, "
                          "loopback", LINKS["lo"], "s", "ssh", kind="discovery")  # fmt: skip
            cli = n == max(ctx.sizes.discovery_envs)  # a new process each: the largest N only
            rows = {
                op: table.add(Row(op, name, ours=ours))
                for op, name, ours in ops
                if cli or not op.startswith("cli")
            }
            worker.run(op="layout", n=n)
            for i in range(ctx.sizes.runs):
                for op, row in rows.items():
                    try:
                        row.samples.append(worker.run(op=op))
                    except WorkerError as exc:
                        row.errors.append(str(exc))
                ctx.say(f"  M4 n={n} run {i + 1}: " + ", ".join(
                    f"{op} {r.samples[-1]['seconds']:.2f} s" for op, r in rows.items()
                    if r.samples))  # fmt: skip
            table.notes.append(
                f"{n} fake venvs in ~/.virtualenvs (pyvenv.cfg, symlinked python, the real "
                "env's lib: each really runs and has ipykernel); *envs found* adds the system "
                "python3. SSH exec requests and logins are counted in the sshd's DEBUG1 log. "
                "The probe starts one interpreter per distinct Python binary (here the venvs' "
                "one and the system's) and reads the other venvs' ipykernel from their files."
                + ("" if cli else " The CLI (a new Python process each time) is measured in "
                   "the largest table only.")
            )  # fmt: skip
            ctx.results.tables.append(table)
    finally:
        worker.close()
