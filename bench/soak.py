"""Soak (issue #7, item 6): one remote kernel printing through an hour of network faults.

Run by hand (root: network namespaces), not in CI::

    make soak                                   # one hour
    SOAK_SECONDS=300 SOAK_FAULT_EVERY=60 make soak
    .venv/bin/python -m bench.soak --seconds 600 --fault-every 90 --seed 7

What it does, with the product as users run it:

1. a NetnsHost (tests/harness/netns_host.py: sshd in its own network namespace, remote user
   ``jrsoak``) and a REAL Jupyter server subprocess with the extension, in a
   throw-away HOME / JUPYTER_DATA_DIR, with the product's keepalive settings unless
   told otherwise (--keepalive-interval/--keepalive-count-max);
2. one remote kernel started through ``POST /api/kernels``; a websocket client
   (the JupyterLab protocol) runs ONE cell that prints a numbered, time-stamped line
   every 100 ms until the end of the run;
3. every few minutes (``--fault-every``, jittered +-50 %) a fault of random length
   (``--min-outage``..``--max-outage`` s): mostly a link cut (veth down), sometimes a
   silent drop (nftables, no RST/ICMP) (``--drop-share``); no fault starts in the
   last ``max-outage + 30`` s so the end is measured on a healthy link;
4. session states come from the server's ``/remote/events`` websocket, the reconnect
   count from ``/remote/sessions``, the server's memory from /proc;
5. at the end the kernel's own count of printed lines (``user_expressions``) says
   what was expected; the driver reports missing, duplicated and out-of-order lines,
   which fault each missing line belongs to, each fault's detection and recovery
   time and how long its backlog took to arrive; then stops the kernel and checks
   that nothing of ``jrsoak`` is left on the remote.

Results go to ``bench/soak-latest.json`` and ``bench/soak-latest.md`` (``--out``)
and are printed. Exit status 0 when no line was lost, duplicated or reordered and
the remote is clean, else 1.

Why ``bench/``: ARCHITECTURE.md puts measurements that are not timed tests there
(pytest would time it out, CI cannot afford an hour), and it drives the product
from outside like a user: nothing here is imported by the package or the tests.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.soak_analysis import analyse, markdown
from bench.soak_client import KernelClient
from bench.soak_record import Fault, Record, log
from bench.soak_server import Server, rss_kib, save_profile
from tests.harness.netns_host import NetnsHost, netns_unavailable
from tests.harness.remote_state import STATE_DIR, clean_user, user_processes
from tests.harness.sshd_host import claim_user
from tests.harness.waiting import NeverHappened, eventually_async

ROOT = Path(__file__).resolve().parent.parent
USER = "jrsoak"


async def inject_faults(
    host: NetnsHost, args: argparse.Namespace, rng: random.Random, stop_at: float
) -> list[Fault]:
    """Faults until STOP_AT (wall clock); every fault is undone before returning."""
    faults: list[Fault] = []
    while True:
        gap = args.fault_every * rng.uniform(0.5, 1.5)
        outage = rng.uniform(args.min_outage, args.max_outage)
        start = time.time() + gap
        if start + outage > stop_at:
            return faults
        await asyncio.sleep(start - time.time())
        kind = "drop" if rng.random() < args.drop_share else "cut"
        fault = Fault(kind, time.time(), round(outage, 1))
        faults.append(fault)
        log(f"fault {len(faults)}: {kind} for {outage:.1f} s")
        try:
            await asyncio.to_thread(host.drop if kind == "drop" else host.cut)
            await asyncio.sleep(outage)
        finally:
            await asyncio.to_thread(host.undrop if kind == "drop" else host.restore)
            fault.end = time.time()
        log(f"fault {len(faults)}: link back")


async def sample_memory(pid: int, record: Record, stop: asyncio.Event) -> None:
    while not stop.is_set():
        with contextlib.suppress(OSError):
            record.rss.append((time.time(), rss_kib(pid)))
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), 5)


async def read_events(ws: Any, record: Record) -> None:
    while True:
        raw = await ws.read_message()
        if raw is None:
            return
        record.events.append((time.time(), json.loads(raw)))


async def soak(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    rng = random.Random(args.seed)
    env = dict(os.environ)
    env.update(
        HOME=str(workdir / "home"),
        JUPYTER_DATA_DIR=str(workdir / "data"),
        JUPYTER_CONFIG_DIR=str(workdir / "config"),
        JUPYTER_RUNTIME_DIR=str(workdir / "runtime"),
    )
    env.pop("SSH_AUTH_SOCK", None)
    (workdir / "home" / ".ssh").mkdir(parents=True, mode=0o700)
    os.environ.update({k: env[k] for k in ("HOME", "JUPYTER_DATA_DIR", "JUPYTER_CONFIG_DIR")})

    # claimed (an flock): a second soak at the same time gets jrsoak2, so its cleanup
    # (pkill -u) never touches this one's kernel
    user, claim = claim_user(USER)
    try:
        host = NetnsHost(name="soak", user=user)
    except BaseException:
        claim.close()
        raise
    server: Server | None = None
    try:
        clean_user(host)
        await save_profile(host)
        server = Server(workdir, env, args)
        await server.wait_up()
        log(f"jupyter server pid {server.proc.pid} on {server.base}; host {host!r}")
        record = Record()
        events_ws = await server.websocket("remote/events")
        events_task = asyncio.ensure_future(read_events(events_ws, record))
        kernel = await server.fetch("api/kernels", "POST", {"name": "remote-p"})
        kernel_id = kernel["id"]
        ws = await server.websocket(f"api/kernels/{kernel_id}/channels")
        client = KernelClient(ws, record)
        reader = asyncio.ensure_future(client.read_loop())
        await client.ready()
        log(f"kernel {kernel_id} ready")

        stop_sampling = asyncio.Event()
        sampler = asyncio.ensure_future(sample_memory(server.proc.pid, record, stop_sampling))
        started = time.time()
        end = started + args.seconds
        await client.start_cell(end)
        faults = await inject_faults(
            host, args, rng, stop_at=end - args.max_outage - 30 if args.faults else started
        )
        # the link is healthy from here on: let the cell end and its output arrive
        while time.time() < end + 60 and record.reply is None:
            await asyncio.sleep(0.5)
        await asyncio.sleep(args.settle)
        expected = await client.count()
        stop_sampling.set()
        await sampler
        sessions = await server.fetch("remote/sessions")
        mine: dict[str, Any] = next((s for s in sessions if s.get("kernel_id") == kernel_id), {})
        result = analyse(record, expected, faults, kernel_id)

        await server.fetch(f"api/kernels/{kernel_id}", "DELETE")
        with contextlib.suppress(NeverHappened):  # the result says what was left
            await eventually_async(
                lambda: user_processes(host.uid) or any((host.home / STATE_DIR).rglob("*")),
                lambda left: not left,
                timeout=30,
                interval=0.3,
            )
        leftovers = [line[:130] for line in user_processes(host.uid)]
        files = [str(p) for p in (host.home / STATE_DIR).rglob("*")]
        reader.cancel()
        events_task.cancel()
        ws.close()
        events_ws.close()
        result.update(
            reconnects=mine.get("reconnects"),
            final_state=mine.get("state"),
            remote_processes_after_stop=len(leftovers),
            remote_files_after_stop=len(files),
            leftovers=(leftovers + files)[:10],
        )
        return result
    finally:
        if server is not None:
            server.stop()
            log(f"server log: {server.log_path}")
        with contextlib.suppress(Exception):
            host.undrop()
            host.restore()
        with contextlib.suppress(Exception):
            clean_user(host)
        host.close()
        claim.close()


def main(argv: list[str] | None = None) -> int:
    env = os.environ.get
    p = argparse.ArgumentParser(
        prog="python -m bench.soak",
        description=__doc__,
        formatter_class=argparse.RawTextHelpFormatter,
    )
    p.add_argument("--seconds", type=float, default=float(env("SOAK_SECONDS", "3600")))
    p.add_argument("--fault-every", type=float, default=float(env("SOAK_FAULT_EVERY", "180")))
    p.add_argument("--min-outage", type=float, default=float(env("SOAK_MIN_OUTAGE", "1")))
    p.add_argument("--max-outage", type=float, default=float(env("SOAK_MAX_OUTAGE", "60")))
    p.add_argument("--drop-share", type=float, default=float(env("SOAK_DROP_SHARE", "0.3")))
    p.add_argument("--no-faults", dest="faults", action="store_false", help="baseline run")
    p.add_argument("--keepalive-interval", type=float, default=None)
    p.add_argument("--keepalive-count-max", type=int, default=None)
    p.add_argument("--settle", type=float, default=15.0, help="wait after the cell ends")
    p.add_argument("--seed", type=int, default=int(env("SOAK_SEED", str(int(time.time())))))
    p.add_argument("--label", default=env("SOAK_LABEL", ""))
    p.add_argument("--out", default=env("SOAK_OUT", str(ROOT / "bench" / "soak-latest")))
    p.add_argument("--keep", action="store_true", help="keep the work dir (server log)")
    args = p.parse_args(argv)

    reason = netns_unavailable()
    if reason:
        print(f"soak: {reason}", file=sys.stderr)
        return 2
    if args.faults and args.seconds < args.max_outage + 60:
        print("soak: --seconds must leave room for one fault and the quiet end", file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="jr-soak-"))
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    log(f"{args.seconds:.0f} s, a fault every ~{args.fault_every:.0f} s, seed {args.seed}")
    t0, started = time.monotonic(), time.strftime("%Y-%m-%d %H:%M")
    try:
        result = asyncio.run(soak(args, workdir))
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    result = {
        "label": args.label or f"soak, {args.seconds:.0f} s",
        "started": started,
        "commit": commit,
        "duration_s": round(time.monotonic() - t0),
        "seed": args.seed,
        "keepalive": [args.keepalive_interval or "default", args.keepalive_count_max or "default"],
        "fault_every_s": args.fault_every,
        "outage_s": [args.min_outage, args.max_outage],
        **result,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n")
    out.with_suffix(".md").write_text(markdown(result))
    print(markdown(result))
    log(f"written {out.with_suffix('.json')} and {out.with_suffix('.md')}")
    clean = (
        result["lines_missing"] == 0
        and result["lines_duplicated"] == 0
        and result["lines_out_of_order"] == 0
        and result["remote_processes_after_stop"] == 0
        and result["remote_files_after_stop"] == 0
    )
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
