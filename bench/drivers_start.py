"""Metric 1 (start to first result, cold and warm, against the peers) and metric 5 (N
kernels started at once in one process)."""

from __future__ import annotations

from typing import Any

from bench.drivers_core import LINKS, Contender, Ctx, round_robin
from bench.results import Row, Table
from bench.runner import WorkerError


def metric_start(ctx: Ctx) -> None:
    local: Contender | None = None
    for link, rik_target in (("lo", "veth"), ("slow", "slow")):
        where = LINKS[link]
        rows: dict[str, Contender] = {}

        def add(
            key: str,
            name: str,
            task: dict[str, Any],
            venv: bool = False,
            rows: dict[str, Contender] = rows,
            **kw: Any,
        ) -> None:
            task = {"metric": "start_to_first_result", **task}
            rows[key] = Contender(Row(key, name, **kw), task, peers=venv)

        if local is None:  # no SSH in it: measured once, with the loopback group
            add("local", "local ipykernel (jupyter_client)",
                {"variant": "local", "kernel_name": "python3"})  # fmt: skip
            local = rows["local"]
        for mode in ("cold", "warm"):
            add(f"ours-{mode}", f"jupyterlab-remote (remote-{link})",
                {"variant": "ours", "target": link, "mode": mode,
                 "kernel_name": f"remote-{link}"}, ours=True)  # fmt: skip
            kernel = ctx.peers.get(f"{'sshpykc' if mode == 'cold' else 'sshpyk'}-{link}")
            if isinstance(kernel, str):
                add(f"sshpyk-{mode}", "sshpyk", {"variant": "sshpyk", "target": link,
                    "mode": mode, "kernel_name": kernel}, venv=True, peer=True)  # fmt: skip
            add(f"tunnel-{mode}", "OpenSSH ssh -L (hand-made)",
                {"variant": "tunnel", "target": link, "mode": mode}, peer=True)  # fmt: skip
        rik = ctx.peers.get(f"rik-{rik_target}")
        if isinstance(rik, str):
            note = "" if rik_target == link else "† on the namespace host over its veth"
            add("rik-cold", "remote_ikernel", {"variant": "rik", "target": rik_target,
                "mode": "cold", "kernel_name": rik}, venv=True, peer=True, note=note)  # fmt: skip
        ctx.say(f"metric 1, {where}: {len(rows)} contenders x {ctx.sizes.runs} runs")
        round_robin(ctx, list(rows.values()), ctx.sizes.runs, f"M1 {link}")
        assert local is not None
        for mode in ("cold", "warm"):
            what = "new SSH connection" if mode == "cold" else "connection already open"
            table = Table(f"m1-{link}-{mode}", 1, f"{mode.capitalize()} start ({what}), {where}",
                          where, "s", "local")  # fmt: skip
            table.add(local.row)
            if link != "lo":
                table.notes.append("The local baseline row is the loopback table's (same run).")
            for key in (f"ours-{mode}", f"sshpyk-{mode}", "rik-cold", f"tunnel-{mode}"):
                if key == "rik-cold" and mode == "warm":
                    if "rik-cold" in rows:
                        table.add(Row("rik-warm", "remote_ikernel", note="n/a: opens new SSH "
                                      "connections for every kernel (no reuse)"))  # fmt: skip
                    continue
                if key in rows:
                    table.add(rows[key].row)
            _peer_failures(ctx, table, link, mode)
            ctx.results.tables.append(table)


def _peer_failures(ctx: Ctx, table: Table, link: str, mode: str) -> None:
    """Peers that could not even be installed or registered still get a row saying why."""
    for key, name in ((f"{'sshpykc' if mode == 'cold' else 'sshpyk'}-{link}", "sshpyk"),
                      (f"rik-{'veth' if link == 'lo' else link}", "remote_ikernel")):  # fmt: skip
        value = ctx.peers.get(key)
        if isinstance(value, dict):
            table.add(Row(key, name, errors=[f"not registered: {value.get('error')}"]))


IDLE_WINDOW = 30.0  # s of N idle remote kernels whose remote execs are counted


def metric_concurrent(ctx: Ctx) -> None:
    s = ctx.sizes
    ctx.say(f"metric 5, loopback: {s.concurrent_n} kernels at once x {s.concurrent_runs} runs "
            "(a fresh process per run)")  # fmt: skip
    table = Table("m5", 5, f"{s.concurrent_n} kernels started at once in one process, loopback",
                  LINKS["lo"], "s", "local", kind="concurrent")  # fmt: skip
    rows = {
        "local": table.add(Row("local", f"{s.concurrent_n} local ipykernels (jupyter_client)")),
        "ours": table.add(Row("ours", f"{s.concurrent_n} x remote-lo", ours=True)),
    }
    tasks = {
        "local": {"metric": "concurrent_kernels", "variant": "local", "kernel_name": "python3"},
        "ours": {"metric": "concurrent_kernels", "variant": "ours", "target": "lo",
                 "kernel_name": "remote-lo"},
    }  # fmt: skip
    for i in range(s.concurrent_runs):
        for key, row in rows.items():
            try:
                w = ctx.worker({**tasks[key], "n": s.concurrent_n}, label=f"concurrent-{key}")
            except WorkerError as exc:
                row.errors.append(f"set-up: {exc}")
                continue
            try:
                idle = IDLE_WINDOW if key == "ours" and i == 0 else 0.0
                v = w.run(timeout=600, stop=key == "local", idle=idle)
                row.samples.append(v)
                ctx.say(f"  M5 run {i + 1}: {key} all ready in {v['seconds']:.1f} s (one start "
                        f"{v['one_start']:.2f} s), {v['rss_per_kernel_mb']:.2f} MB/kernel, "
                        f"{v['processes_per_kernel']:.1f} processes/kernel, "
                        f"{v['idle_execs_per_kernel_min']} idle execs/kernel/min, "
                        f"{v['connections']} SSH connection(s), "
                        f"{v['start_failures']} failed start(s)")  # fmt: skip
            except WorkerError as exc:
                row.errors.append(str(exc))
            finally:
                if key == "ours":  # its 64 remote kernels: killed below, not stopped one by one
                    w.kill()
                else:
                    w.close(timeout=300)
        ctx.hosts.clean_remote()
    for row in rows.values():
        errors = sorted({e for r in row.samples for e in r.get("errors", [])})
        if errors:
            row.note = "failed starts were retried; e.g. `" + errors[0].replace("|", "/") + "`"
    table.notes.append(
        "AsyncKernelManager.start_kernel for all N at once (local kernels on ipc sockets: "
        "on TCP, 64 clients picking ports at once race for them), then every client's "
        "wait_for_ready. RSS per kernel = growth of the managing process's RSS / N (the kernels "
        "themselves are other processes, here or remote). SSH connections = ESTABLISHED TCP "
        "connections at the sshd (`ss`) while all N run. A start that fails, or a kernel that "
        "dies or stays silent before it is ready, is retried with a new KernelManager and "
        "counted as a failed start. *One start*: one kernel started alone and ready in the same "
        "process just before (then stopped). *Processes per kernel*: the remote user's new "
        "processes / N (ours: supervisor with the relay, kernel, and the `sh` watcher in "
        "the kernel's group), this process's children "
        f"/ N (local). *Remote execs per kernel per minute, idle*: over {IDLE_WINDOW:.0f} s "
        "(in the first run only) "
        "with all N idle and the product's default health interval, the SSH exec requests in "
        "the sshd's DEBUG1 log / N / minutes: each is one remote Python (the agent) started "
        "by the restarter's poll or the health check."
    )
    ctx.results.tables.append(table)
