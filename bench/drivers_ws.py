"""Metric 10: a trivial cell through a Jupyter server's kernel websocket (JupyterLab's path).

Registered in drivers.py's METRICS table.
"""

from __future__ import annotations

import statistics

from bench.drivers_core import Ctx
from bench.results import Row, Table
from bench.runner import WorkerError

ROWS = (
    ("local-nodelay", "local ipykernel on the same server", False),
    ("remote-nodelay", "jupyterlab-remote (remote-lo)", True),
    ("local-nagle", "local ipykernel, server without our TCP_NODELAY fix", False),
    ("remote-nagle", "jupyterlab-remote (remote-lo), server without the fix", False),
)


def metric_kernel_websocket(ctx: Ctx) -> None:
    """Blocks of cells alternate over four websockets of two real Jupyter servers (one with
    our kernel-websocket TCP_NODELAY, one as jupyter_server ships), the first discarded."""
    cells, block = ctx.sizes.rtt_cells, ctx.sizes.rtt_block
    where = "loopback"
    ctx.say(f"metric 10, {where}: {cells} cells each through the kernel websocket")
    table = Table("m10-lo", 10, f"Trivial cell through the Jupyter server's kernel websocket, "
                  f"{where}", where, "ms", "local-nodelay", kind="rtt")  # fmt: skip
    rows = {key: table.add(Row(key, name, ours=ours)) for key, name, ours in ROWS}
    worker = ctx.table_worker(
        table, rows.values(), {"metric": "ws_cell_round_trip"}, label="ws-rtt"
    )
    if worker is None:
        return
    try:
        for variant in rows:
            worker.run(variant=variant, count=20, timeout=600)  # warm-up, discarded
        blocks = max(1, cells // block)
        nagle_blocks = max(1, ctx.sizes.nagle_cells // block)  # ~45 ms a cell: fewer of them
        for b in range(blocks):
            for variant, row in rows.items():
                if variant.endswith("-nagle") and b >= nagle_blocks:
                    continue
                try:
                    row.samples += worker.run(variant=variant, count=block, timeout=900)
                except WorkerError as exc:
                    row.errors.append(str(exc))
            ctx.say(f"  M10 block {b + 1}/{blocks}: " + ", ".join(
                f"{k} {statistics.median(r.samples):.2f} ms" for k, r in rows.items()
                if r.samples))  # fmt: skip
    finally:
        worker.close()
    _notes(table, rows)
    ctx.results.tables.append(table)


def _notes(table: Table, rows: dict[str, Row]) -> None:
    med = {k: statistics.median(r.values()) for k, r in rows.items() if r.values()}
    if "remote-nodelay" in med and "local-nodelay" in med:
        gap = med["remote-nodelay"] - med["local-nodelay"]
        rows["remote-nodelay"].note = f"median {gap:+.2f} ms against the local kernel"
    for kernel in ("local", "remote"):
        before, after = med.get(f"{kernel}-nagle"), med.get(f"{kernel}-nodelay")
        if before and after:
            rows[f"{kernel}-nagle"].note = f"{before / after:.1f}{chr(0xD7)} the same with the fix"
    table.notes.append(
        "A cell is `pass`, sent as JupyterLab sends it: an execute_request on "
        "`/api/kernels/ID/channels` (subprotocol v1.kernel.websocket.jupyter.org, binary "
        "frames), timed until its execute_reply and iopub `idle` are read from the same "
        "websocket (websocket-client, TCP_NODELAY on the client side as browsers do). Two "
        "real `jupyter server`s with our extension, each with a remote-lo kernel and a local "
        "python3 kernel; *without the fix* is one started with "
        "`RemoteExtensionApp.kernel_websocket_nodelay = False` (jupyter_server as shipped). "
        "Blocks of 100 cells alternate (the rows without the fix, ~45 ms a cell, take part "
        "in the first blocks only: see *cells*); 20 warm-up cells each are not counted."
    )
