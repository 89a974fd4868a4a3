"""Metric 11: start to first result taking a profile's standby kernel (issue 17, item 1).

Registered in drivers.py's METRICS table. The target is
at most 0.3x a local ipykernel's start in the same run.
"""

from __future__ import annotations

from bench.drivers_core import Contender, Ctx, round_robin
from bench.results import Row, Table
from bench.runner import WorkerError

TARGET = 0.3


def metric_standby(ctx: Ctx) -> None:
    """A local ipykernel's start and a start taking remote-lo's standby, round-robin."""
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
        "Jupyter server does in the background after each take) and waited for until it is "
        "warm (its kernel has answered its relay); the timed part is "
        "KernelManager.start_kernel() to the result of 1+1, and a sample counts only if the "
        f"kernel is the standby. Target: at most {TARGET}x the local start."
    )
    ctx.results.tables.append(table)


WS_ROWS = (
    ("local", "local ipykernel on the same Jupyter server", False),
    ("standby", "jupyterlab-remote (remote-lo), standby taken", True),
)


def metric_standby_ws(ctx: Ctx) -> None:
    """Metric 12: the same take as JupyterLab starts a kernel (a session through a real
    Jupyter server, its kernel websocket) against the server's local python3, alternating
    in one worker; one warm-up start each, not counted."""
    where = "loopback"
    table = Table("m12-lo", 12, f"Start to first result through the Jupyter server, standby "
                  f"taken, {where}", where, "s", "local")  # fmt: skip
    rows = {key: table.add(Row(key, name, ours=ours)) for key, name, ours in WS_ROWS}
    ctx.say(f"metric 12, {where}: 2 contenders x {ctx.sizes.runs} runs through a Jupyter server")
    worker = ctx.table_worker(
        table, rows.values(), {"metric": "standby_ws_start"}, label="ws-start"
    )
    if worker is None:
        return
    try:
        for variant, row in rows.items():
            try:
                worker.run(variant=variant, timeout=300)  # warm-up, discarded
            except WorkerError as exc:
                row.errors.append(f"warm-up: {exc}")
        for i in range(ctx.sizes.runs):
            for variant, row in rows.items():
                try:
                    row.samples.append(worker.run(variant=variant, timeout=300))
                except WorkerError as exc:
                    row.errors.append(str(exc))
                    ctx.say(f"  M12 run {i + 1}: {variant} FAILED {str(exc)[:200]}")
    finally:
        worker.close()
    table.notes.append(
        "As JupyterLab starts a kernel: `POST /api/sessions` (a notebook, the kernelspec "
        "named) on one real `jupyter server` with our extension, the kernel's websocket "
        "opened (`/api/kernels/ID/channels`, subprotocol v1.kernel.websocket.jupyter.org), "
        "`1+1` executed, timed until its execute_result is read. Before every sample of "
        "either row, untimed, the server is asked until the profile's standby is warm (its "
        "kernel has answered; no replacement starting in the background during a timed "
        "start), and a sample "
        "of ours counts only if its kernel is that standby. Unlike metric 11 no "
        "`BlockingKernelClient.wait_for_ready()` is in the path: its final iopub flush "
        "(0.2 s with nothing received) is paid by every kernel in metric 11, and is not "
        f"part of what a JupyterLab user waits for. Target: at most {TARGET}x the local start."
    )
    ctx.results.tables.append(table)
