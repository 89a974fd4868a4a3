"""Metric 7: keystroke echo of a remote terminal, ours against ``ssh -tt``."""

from __future__ import annotations

from bench.drivers_core import LINKS, Ctx
from bench.results import Row, Table
from bench.runner import WorkerError


def metric_terminal_echo(ctx: Ctx) -> None:
    """Keystroke echo of a remote terminal on loopback: ours (JupyterLab's websocket path)
    against OpenSSH ``ssh -tt``; blocks alternate in one worker, the first discarded."""
    keys, block = max(100, ctx.sizes.rtt_cells), ctx.sizes.rtt_block
    where = LINKS["lo"]
    ctx.say(f"metric 7, {where}: {keys} keystrokes each for ours and ssh -tt")
    table = Table("m7-lo", 7, f"Terminal keystroke echo, {where}", where, "ms", "ssh", kind="rtt")
    rows = {
        "ours": table.add(Row("ours", "jupyterlab-remote terminal (websocket)", ours=True)),
        "ssh": table.add(Row("ssh", "OpenSSH ssh -tt", peer=True)),
    }
    worker = ctx.table_worker(
        table, rows.values(), {"metric": "terminal_echo"}, label="terminal-echo"
    )
    if worker is None:
        return
    try:
        for variant in rows:
            worker.run(variant=variant, count=20)  # warm-up, discarded
        for _ in range(max(1, keys // block)):
            for variant, row in rows.items():
                try:
                    row.samples += worker.run(variant=variant, count=block, timeout=600)
                except WorkerError as exc:
                    row.errors.append(str(exc))
    finally:
        worker.close()
    ours, ssh = sorted(rows["ours"].samples), sorted(rows["ssh"].samples)
    if ours and ssh:
        gap = ours[len(ours) // 2] - ssh[len(ssh) // 2]
        rows["ours"].note = f"median {gap:+.2f} ms against ssh -tt (issue 14: within 2 ms)"
    table.notes.append(
        "One key (`a`) written, timed until its echo comes back from the remote pty (the "
        "login shell's tty echoes it), then erased with a backspace (not timed). *ours* is a "
        "websocket client of a real `jupyter server` with the extension, as JupyterLab's "
        "terminal widget is; *ssh* is `ssh -tt` on pipes. Blocks of 100 keys alternate; 20 "
        "warm-up keys each are not counted."
    )
    ctx.results.tables.append(table)
