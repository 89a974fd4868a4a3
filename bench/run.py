"""``make bench``: set up the bench hosts, run every metric, write bench/RESULTS.md.

    python -m bench.run [--quick] [--only 1,3] [--no-profile]

Root only (network namespaces, dedicated remote users ``jrbench``/``jrbenchn``). Peers
are installed by the Makefile into bench/.venv-peers. Raw results go to
bench/.out/results.json and worker logs to bench/.out/logs/.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from pathlib import Path

from bench import meta as meta_mod
from bench.drivers import METRICS
from bench.drivers_core import Ctx, Sizes
from bench.hosts import PEERS_VENV, BenchHosts
from bench.report import losses, per_section, render
from bench.results import Results

HERE = Path(__file__).resolve().parent
OUT = HERE / ".out"


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny sizes, to try the harness")
    p.add_argument("--only", default="", help="comma-separated metric numbers (default: all)")
    p.add_argument("--no-profile", action="store_true", help="skip profiling where we lose")
    p.add_argument("--results", default=str(HERE / "RESULTS.md"), help="where to write")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if os.geteuid() != 0:
        print("make bench needs root (network namespaces, test users)", file=sys.stderr)
        return 2
    if not (PEERS_VENV / "bin" / "python").exists():
        print(f"no {PEERS_VENV}: run `make bench` (it installs the peers)", file=sys.stderr)
        return 2
    only = [int(x) for x in args.only.split(",") if x.strip()] or sorted(METRICS)
    sizes = Sizes.quick() if args.quick else Sizes()
    started = time.monotonic()
    results = Results()
    durations: dict[str, float] = {}  # "setup", metric numbers, "profiles": seconds each
    print("== jupyterlab-remote benchmarks: setting up hosts", flush=True)
    hosts = BenchHosts()
    ctx = Ctx(hosts=hosts, peers={}, sizes=sizes, results=results, started=started)
    failed = False
    try:
        hosts.register_ours()
        ctx.peers = hosts.register_peers()
        durations["setup"] = time.monotonic() - started
        ctx.say(f"hosts up; peers registered: {json.dumps(ctx.peers)[:300]}")
        for number in only:
            t0 = time.monotonic()
            try:
                METRICS[number](ctx)
            except Exception:
                failed = True
                traceback.print_exc()
                ctx.say(f"metric {number} aborted (see the traceback above)")
            ctx.between_metrics()
            durations[str(number)] = time.monotonic() - t0
            ctx.say(f"metric {number} took {meta_mod.minutes(durations[str(number)])}")
        if not args.no_profile:
            from bench.profiling import profile_losses, start_profiles

            t0 = time.monotonic()
            starts = start_profiles(ctx) if 1 in only else []
            lost = [x for x in losses(results) if not (starts and x["metric"] == 1)]
            results.profiles = starts + profile_losses(ctx, lost)
            durations["profiles"] = time.monotonic() - t0
        results.meta = meta_mod.collect(hosts, ctx.peers, sizes, args, time.monotonic() - started)
    finally:
        hosts.close()
    results.meta["wall"] = meta_mod.minutes(time.monotonic() - started)
    results.meta["durations"] = durations
    print(f"== per section: {per_section(durations)}", flush=True)
    OUT.mkdir(exist_ok=True)
    (OUT / "results.json").write_text(json.dumps(results.to_json(), indent=1))
    Path(args.results).write_text(render(results))
    print(f"== wrote {args.results} ({results.meta['wall']})", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
