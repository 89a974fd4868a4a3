"""Profiles of our side (py-spy, from bench/.venv-peers).

- starts (metric 1, in every run that measures starts): a stage breakdown of cold
  starts, from the session registry's progress events and the remote processes'
  creation times (/proc);
- round trips and throughput (metrics 2, 3): py-spy (CPU samples, idle excluded) on the
  local worker process and on the remote kernel's supervisor (our relay) and kernel,
  for one measurement of ours, wherever we lose by > 20 %; summarised as the heaviest
  functions per process.

Each profile becomes a code block in RESULTS.md under "Where we lose".
"""

from __future__ import annotations

import collections
import contextlib
import re
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from bench.drivers_core import Ctx
from bench.hosts import PEERS_VENV
from bench.runner import WorkerError

PY_SPY = PEERS_VENV / "bin" / "py-spy"
BUDGET_END = 15.5 * 60  # no profile is started after this many seconds of the run
MAX_PROFILES = 3
TOP = 12
#: leaf frames where a thread waits (py-spy --nonblocking cannot tell them from work)
WAITING = (
    "EpollSelector.select", "Poller.poll", "Condition.wait", "Event.wait", "poll (", "select (",
)  # fmt: skip


def start_profiles(ctx: Ctx) -> list[dict[str, Any]]:
    """Metric 1's stage breakdown on each link, lost or not (issue 17 item 2: RESULTS.md
    keeps where a start's time goes); :func:`profile_losses` then leaves metric 1 out."""
    profiles = []
    for link in ("lo", "slow"):
        ctx.say(f"profiling metric 1 on {link} ...")
        try:
            profiles.append(_start_breakdown(ctx, link))
        except Exception as exc:  # a profile must never cost the results
            profiles.append({"title": f"metric 1, {link}", "how": f"failed: {exc}", "lines": []})
        ctx.between_metrics()
    return profiles


def profile_losses(ctx: Ctx, found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One profile per (metric, link) we lose on; metrics 1-3 only."""
    done: set[tuple[int, str]] = set()
    profiles: list[dict[str, Any]] = []
    ranked = sorted(found, key=lambda x: -x["factor"])
    firsts: dict[int, dict[str, Any]] = {}
    for loss in ranked:
        firsts.setdefault(loss["metric"], loss)
    for loss in [*firsts.values(), *ranked]:  # the worst loss of each metric first, then the others
        key = (loss["metric"], loss["table"].split("-")[1])
        if key in done or loss["metric"] not in (1, 2, 3) or len(done) >= MAX_PROFILES:
            continue
        done.add(key)
        if time.monotonic() - ctx.started > BUDGET_END:
            profiles.append({"title": f"metric {key[0]}, {key[1]}", "how": "skipped: the "
                             "run is near its 20 minute budget", "lines": []})  # fmt: skip
            continue
        ctx.say(f"profiling metric {key[0]} on {key[1]} ...")
        try:
            if key[0] == 1:
                profiles.append(_start_breakdown(ctx, key[1]))
            else:
                profiles.append(_spy_profile(ctx, key[0], key[1], loss["table"]))
        except Exception as exc:  # a profile must never cost the results
            profiles.append({"title": f"metric {key[0]}, {key[1]}", "how": f"failed: {exc}",
                             "lines": []})  # fmt: skip
        ctx.between_metrics()
    return profiles


# ------------------------------------------------------------------ starts


def _start_breakdown(ctx: Ctx, link: str) -> dict[str, Any]:
    task = {"metric": "start_to_first_result", "variant": "ours", "target": link, "mode": "cold",
            "kernel_name": f"remote-{link}", "stages": True}  # fmt: skip
    worker = ctx.worker(task, label=f"profile-start-{link}")
    rows = []
    try:
        for _ in range(3):
            rows.append(worker.run(timeout=120))
    finally:
        worker.close()
    phases = list(rows[0]["phases"])
    lines = [f"{'phase':<58} " + " ".join(f"run {i + 1:>2}" for i in range(len(rows)))]
    for phase in phases:
        vals = " ".join(f"{r['phases'].get(phase, float('nan')):6.3f}" for r in rows)
        lines.append(f"{phase:<58} {vals}")
    return {
        "title": f"cold start stages, {link} (seconds since KernelManager.start_kernel)",
        "how": "Three cold starts of remote-" + link + ": the session registry's progress "
        "events (local clock), the remote supervisor's and kernel's process creation "
        "times (/proc/PID/stat, 10 ms resolution), when the kernel bound its shell socket "
        "and when the relay listened (file times), each as seconds after start_kernel().",
        "lines": lines,
    }


# ------------------------------------------------------------------ py-spy


def _spy(pid: int, out: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [str(PY_SPY), "record", "--pid", str(pid), "--rate", "250", "--format", "raw",
         "--output", str(out), "--nonblocking", "--threads"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def _stop(spy: subprocess.Popen[bytes]) -> None:
    if spy.poll() is None:
        spy.send_signal(signal.SIGINT)
    try:
        spy.wait(60)
    except subprocess.TimeoutExpired:
        spy.kill()


def _remote_pids(ctx: Ctx, link: str, kernel_id: str) -> dict[str, int]:
    target = ctx.hosts.targets[link]
    root = Path(target.remote_home) / ".local" / "share" / "jupyter-remote"
    pids = {}
    for name in ("supervisor", "kernel"):
        for path in root.rglob(f"{name}.pid"):
            if path.parent.name == kernel_id:
                with contextlib.suppress(ValueError, IndexError, OSError):
                    pids[f"remote {name}"] = int(path.read_text().split()[0])  # "PID identity"
    return pids


def _spy_profile(ctx: Ctx, metric: int, link: str, table_id: str) -> dict[str, Any]:
    name = "cell_round_trip" if metric == 2 else "output_throughput"
    worker = ctx.worker({"metric": name, "target": link}, label=f"profile-{name}-{link}")
    out_dir = ctx.hosts.log_dir.parent / "profiles"
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        pids = {"local worker (client + our SSH loop thread)": worker.proc.pid}
        pids.update(_remote_pids(ctx, link, worker.info.get("kernel_id", "")))
        files = {label: out_dir / f"{table_id}-{i}.txt" for i, label in enumerate(pids)}
        spies = [_spy(pid, files[label]) for label, pid in pids.items()]
        time.sleep(1.0)  # py-spy attaches
        t0 = time.perf_counter()
        try:
            if metric == 2:
                worker.run(variant="ours", count=500 if link == "lo" else 100, timeout=600)
                what = f"{500 if link == 'lo' else 100} trivial cells"
            else:
                kind = table_id.rsplit("-", 1)[1]
                worker.run(variant="ours", kind=kind, timeout=900)
                what = f"one 200 MB {kind} run"
        finally:
            wall = time.perf_counter() - t0
            for spy in spies:
                _stop(spy)
    except WorkerError as exc:
        return {"title": f"{table_id}", "how": f"failed: {exc}", "lines": []}
    finally:
        worker.close()
    lines = []
    for label, path in files.items():
        lines += summarize(path, label, wall)
        lines.append("")
    return {
        "title": f"{table_id}: py-spy of ours during {what}",
        "how": f"py-spy record (250 Hz, --nonblocking) on each process during {what} "
        f"({wall:.1f} s wall). Per process: the CPU seconds sampled (stacks whose top frame "
        "waits in select/poll/wait are left out), then the functions with the most of them "
        "at the top of the stack (self) and anywhere in it (total). Raw stacks: "
        "bench/.out/profiles/.",
        "lines": lines,
    }


_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")


def _short(frame: str) -> str:
    m = _FRAME.match(frame.strip())
    if not m:
        return frame.strip()
    parts = m.group("file").split("/")
    return f"{m.group('func')} ({'/'.join(parts[-2:])})"


def summarize(path: Path, label: str, wall: float, rate: int = 250) -> list[str]:
    """Top self/total functions of a py-spy raw file (``frames;... count`` lines)."""
    if not path.exists():
        return [f"{label}: no samples (py-spy could not attach?)"]
    self_counts: collections.Counter[str] = collections.Counter()
    total_counts: collections.Counter[str] = collections.Counter()
    threads: collections.Counter[str] = collections.Counter()
    total = waiting = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        if frames and frames[0].startswith("thread ("):
            threads[frames[0].split(":", 1)[-1].strip() or "?"] += count
            frames = frames[1:]
        if not frames:
            continue
        short = [_short(f) for f in frames]
        if short[-1].startswith(WAITING):
            waiting += count
            continue
        total += count
        self_counts[short[-1]] += count
        for f in set(short):
            total_counts[f] += count
    if not total:
        return [f"{label}: no CPU samples"]
    out = [
        f"== {label}: {total / rate:.2f} CPU s in {wall:.1f} s wall (+{waiting / rate:.2f} s "
        "in select/poll/wait, left out); threads: "
        + ", ".join(f"{t} {c / (total + waiting):.0%}" for t, c in threads.most_common(4))
    ]
    out.append("   self%  function")
    out += [f"   {c / total:5.1%}  {f}" for f, c in self_counts.most_common(TOP)]
    boring = ("<module>", "_run_module_as_main", "_run_code", "run_forever", "_run_once",
              "_bootstrap", "Thread.run", "main (", "Handle._run")  # fmt: skip
    out.append("   total%  function")
    ranked = [(f, c) for f, c in total_counts.most_common(80) if not f.startswith(boring)]
    out += [f"   {c / total:5.1%}  {f}" for f, c in ranked[:TOP]]
    return out
