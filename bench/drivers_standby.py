"""Metric 11: start to first result taking a profile's standby kernel (issue 17, item 1).

Kept apart from drivers.py (already long); registered in its METRICS table. The target is
at most 0.3x a local ipykernel's start in the same run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bench.results import Row, Table

if TYPE_CHECKING:
    from bench.drivers import Ctx

TARGET = 0.3


def metric_standby(ctx: Ctx) -> None:
    """A local ipykernel's start and a start taking remote-lo's standby, round-robin."""
    from bench.drivers import Contender, round_robin

    where = "loopback"
    table = Table("m11-lo", 11, f"Start to first result taking the profile's standby kernel, "
                  f"{where}", where, "s", "local")  # fmt: skip
    task = {"metric": "standby_start"}
    local = Contender(Row("local", "local ipykernel (jupyter_client)"),
                      {**task, "variant": "local", "kernel_name": "python3"})  # fmt: skip
    ours = Contender(Row("standby", "jupyterlab-remote (remote-lo), standby taken", ours=True),
                     {**task, "variant": "standby", "kernel_name": "remote-lo"})  # fmt: skip
    ctx.say(f"metric 11, {where}: 2 contenders x {ctx.sizes.runs} runs")
    round_robin(ctx, [local, ours], ctx.sizes.runs, "M11 lo")
    table.add(local.row)
    table.add(ours.row)
    stages = Contender(Row("stages", "one take, by stage"), {**ours.task}, {"stages": True})
    round_robin(ctx, [stages], 2, "M11 lo stages")  # the second: the process warmed up
    for sample in stages.row.samples[-1:]:
        shown = ", ".join(f"{k[3:]} {v:.3f}" for k, v in sample["phases"].items())
        table.notes.append(
            f"Stages of one take, in a process that has started one before (seconds since "
            f"KernelManager(): its events, then the result): {shown}."
        )
    table.notes += [f"Stage breakdown failed: {e}" for e in stages.row.errors]
    table.notes.append(
        "Before each sample of ours, untimed, the profile's standby is made ready (as the "
        "Jupyter server does in the background after each take); the timed part is "
        "KernelManager.start_kernel() to the result of 1+1, and a sample counts only if the "
        f"kernel is the standby. Target: at most {TARGET}x the local start."
    )
    ctx.results.tables.append(table)
