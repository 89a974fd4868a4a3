"""A fork server ("zygote") for kernels: what it would give, measured (issue 17 item 6).

    flock /tmp/jr-tests.lock .venv/bin/python -m bench.zygote_start [--runs 7] [--many 64]
        [--many-runs 2] [--json OUT] [--product-launcher]

An experiment, no product code, no hosts (like ``bench.relay_cpu``). Kernels start two
ways on this machine and one lean client times them (raw ZMQ on ipc sockets, as the
product's kernels use, one thread, 10 ms reconnects): ``fresh`` is ``python -m
ipykernel_launcher -f conn.json``; ``forkA`` / ``forkB`` are children of a zygote
(``bench/zygote_fork.py --zygote``) that imported ``ipykernel.kernelapp`` (A) or every
module a booted kernel has (B, the list read from a first kernel). Each kernel is sent
a kernel_info_request at launch and, on its reply, one execute_request whose user
expression returns its own CPU (``getrusage``: after a fork it counts the child only),
pid, threads, a random draw, argv, cwd, an environment mark set per kernel, sys.path,
signal handlers, tempdir, Session id and IPython history session. With
``--product-launcher`` every kernel runs through the product's ``launch.py``
(``remote/kernel_launcher.py``: its debugger and iopub-pipe guards first), fresh as the
supervisor starts it, forked as a product zygote's child would run it (``runpy``).

Printed: one kernel (medians of ``--runs``, modes alternated) to kernel_info and to the
execute's reply, the child's CPU and the parent's share (the measurer's Popen, the
zygote's fork), then a shutdown_request and whether its history session was closed
(atexit ran); ``--many`` kernels at once each way (all answered, total CPU, the
machine's busy core-s from /proc/stat, RSS / PSS / USS per kernel from smaps_rollup);
initialize() per step fresh and forked, and the forked child's cProfile; what a zygote
holds at fork; what the pre-imported modules read at import (``--envaudit``); how a
forked kernel's state differs from a fresh one's.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import importlib.util
import io
import json
import os
import pstats
import secrets
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

import zmq
from jupyter_client.session import Session

from bench.zygote_fork import _cpu

FORK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "zygote_fork.py")
LAUNCHER = str(importlib.util.find_spec("ipykernel_launcher").origin)  # type: ignore[union-attr]
TIMEOUT = 240.0
RECONNECT_MS = 10  # the client's ipc reconnect while a kernel has not bound yet (zmq: 100)
PRODUCT_LAUNCHER: list[str] = []  # the product's launch.py text, with --product-launcher
PORTS = {"shell_port": 1, "iopub_port": 2, "stdin_port": 3, "control_port": 4, "hb_port": 5}
FIRST_CELL = """
def _jr_state():
    import json, os, random, resource, signal, sys, tempfile
    u = resource.getrusage(resource.RUSAGE_SELF)
    sigs = {}
    for s in signal.valid_signals():
        try:
            h = signal.getsignal(s)
        except (ValueError, OSError):
            continue
        sigs[int(s)] = getattr(h, '__qualname__', None) or str(h)
    sh = get_ipython()
    return json.dumps(dict(
        cpu=u.ru_utime + u.ru_stime, pid=os.getpid(), threads=len(os.listdir('/proc/self/task')),
        rnd=random.random(), argv=sys.argv, cwd=os.getcwd(), mark=os.environ.get('JR_MARK'),
        path=sys.path, signals=sigs, modules=len(sys.modules), tmpdir=tempfile.gettempdir(),
        session=sh.kernel.session.session, hist=sh.history_manager.session_number,
        hash=hash('jupyter-remote'), addr=id(json),
        cmdline=open('/proc/self/cmdline').read().split(chr(0))[:3]))
"""
STATE = {"s": "_jr_state()"}
MODULES = {"m": "__import__('json').dumps(sorted(__import__('sys').modules))"}


def busy_core_s() -> float:
    """The machine's busy CPU so far (all processes), in core-seconds."""
    with open("/proc/stat") as f:
        ticks = [int(x) for x in f.readline().split()[1:]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def smaps(pid: int) -> dict[str, float]:
    """Rss, Pss and Uss (private clean + dirty) of a process, MB."""
    out = {"rss": 0.0, "pss": 0.0, "uss": 0.0}
    with contextlib.suppress(OSError), open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            key, _, rest = line.partition(":")
            kb = float(rest.split()[0]) / 1024 if rest.strip() else 0.0
            if key in ("Rss", "Pss"):
                out[key.lower()] += kb
            elif key in ("Private_Clean", "Private_Dirty"):
                out["uss"] += kb
    return out


class Probe:
    """One kernel under test: its directory and connection file, client sockets, times."""

    def __init__(self, ctx: zmq.Context[Any], root: str, i: int) -> None:
        self.dir = tempfile.mkdtemp(prefix=f"k{i}-", dir=root)
        self.conn = os.path.join(self.dir, "conn.json")
        key = secrets.token_hex(16)
        info = {"transport": "ipc", "ip": os.path.join(self.dir, "k"), "key": key,
                "signature_scheme": "hmac-sha256", "kernel_name": "", **PORTS}  # fmt: skip
        with open(self.conn, "w") as f:
            json.dump(info, f)
        self.session = Session(key=key.encode(), signature_scheme="hmac-sha256", username="b")
        self.mark = f"kernel-{i}"
        self.sockets = {}
        for name, kind in (("shell", zmq.DEALER), ("iopub", zmq.SUB), ("control", zmq.DEALER)):
            sock = ctx.socket(kind)
            sock.setsockopt(zmq.LINGER, 0)
            sock.setsockopt(zmq.RECONNECT_IVL, RECONNECT_MS)
            if kind == zmq.SUB:
                sock.setsockopt(zmq.SUBSCRIBE, b"")
            sock.connect(f"ipc://{self.dir}/k-{PORTS[name + '_port']}")
            self.sockets[name] = sock
        self.t0 = self.t_info = self.t_exec = 0.0
        self.pid = 0
        self.state: dict[str, Any] = {}
        self.modules: list[str] = []
        self.want_modules = False

    def launch_time(self) -> None:
        self.t0 = time.perf_counter()
        self.session.send(self.sockets["shell"], "kernel_info_request", {})

    def on_shell(self) -> None:
        """A shell reply: kernel_info's starts the execute; the execute's ends the probe."""
        _, msg = self.session.recv(self.sockets["shell"], mode=zmq.NOBLOCK)
        if msg is None:
            return
        kind, now = msg["header"]["msg_type"], time.perf_counter()
        if kind == "kernel_info_reply" and not self.t_info:
            self.t_info = now
            exprs = {**STATE, **(MODULES if self.want_modules else {})}
            content = {"code": FIRST_CELL, "silent": False, "store_history": True,
                       "user_expressions": exprs, "allow_stdin": False}  # fmt: skip
            self.session.send(self.sockets["shell"], "execute_request", content)
        elif kind == "execute_reply":
            self.t_exec = now
            values = msg["content"].get("user_expressions", {})
            self.state = json.loads(ast.literal_eval(values["s"]["data"]["text/plain"]))
            if "m" in values:
                self.modules = json.loads(ast.literal_eval(values["m"]["data"]["text/plain"]))

    def close(self) -> None:
        for sock in self.sockets.values():
            sock.close(0)
        shutil.rmtree(self.dir, ignore_errors=True)


class Zygote:
    """A ``zygote_fork.py --zygote`` process: its boot report, then one fork per ask."""

    def __init__(self, env: dict[str, str], modules_file: str | None) -> None:
        argv = [sys.executable, FORK, "--zygote", *([modules_file] if modules_file else [])]
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     env=env, cwd="/", bufsize=0)  # fmt: skip
        assert self.proc.stdout is not None and self.proc.stdin is not None
        self.out, self.inp = self.proc.stdout, self.proc.stdin
        self.boot = json.loads(self.out.readline())

    def ask(self, req: dict[str, Any]) -> None:
        self.inp.write(json.dumps(req).encode() + b"\n")

    def answer(self) -> dict[str, Any]:
        answer: dict[str, Any] = json.loads(self.out.readline())
        return answer

    def close(self) -> None:
        self.inp.close()
        self.proc.wait(10)


def launch(mode: str, probes: list[Probe], env: dict[str, str], zygote: Zygote | None,
           logdir: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
    """Start every probe's kernel: Popen (fresh, or ``--kernel`` with steps/profile) or one
    request each to the zygote; with ``PRODUCT_LAUNCHER`` through the product's launch.py
    in the kernel's directory. Returns the parent's CPU and the started processes."""
    cpu, procs, fork_cpu = _cpu(), [], 0.0
    for p in probes:
        penv = {**env, "JR_MARK": p.mark, "TMPDIR": p.dir}
        log = os.path.join(logdir, os.path.basename(p.dir) + ".log")
        script = os.path.join(p.dir, "launch.py") if PRODUCT_LAUNCHER else ""
        if script:
            with open(script, "w") as f:
                f.write(PRODUCT_LAUNCHER[0])
        p.launch_time()
        if zygote is not None:
            zygote.ask({"conn": p.conn, "log": log, "cwd": p.dir, "env": penv, "script": script,
                        "launcher": LAUNCHER, **(extra or {})})  # fmt: skip
            continue
        argv = [sys.executable, "-m", "ipykernel_launcher", "-f", p.conn]
        if script:
            argv = [sys.executable, script, "-f", p.conn]
        if extra:
            argv = [sys.executable, FORK, "--kernel", extra["steps"], extra["prof"], "-f", p.conn]
        with open(log, "ab") as out:
            proc = subprocess.Popen(argv, cwd=p.dir, env=penv, stdin=subprocess.DEVNULL,
                                    stdout=out, stderr=out, start_new_session=True)  # fmt: skip
        p.pid = proc.pid
        procs.append(proc)
    if zygote is not None:
        for p in probes:
            answer = zygote.answer()
            p.pid, fork_cpu = answer["pid"], fork_cpu + answer["fork_cpu"]
    return {"parent_cpu": _cpu() - cpu + fork_cpu, "fork_cpu": fork_cpu, "procs": procs}


def wait_all(probes: list[Probe]) -> None:
    """Serve every probe's shell (and drain iopub) until each answered its execute."""
    poller = zmq.Poller()
    by_socket: dict[Any, tuple[Probe, str]] = {}
    for p in probes:
        for name in ("shell", "iopub"):
            poller.register(p.sockets[name], zmq.POLLIN)
            by_socket[p.sockets[name]] = (p, name)
    deadline = time.perf_counter() + TIMEOUT
    while any(not p.t_exec for p in probes) and time.perf_counter() < deadline:
        for sock, _ in poller.poll(500):
            p, name = by_socket[sock]
            if name == "shell":
                p.on_shell()
            else:
                with contextlib.suppress(zmq.Again):
                    while True:
                        sock.recv_multipart(zmq.NOBLOCK)


def stop(probes: list[Probe], procs: list[subprocess.Popen[bytes]], polite: bool) -> None:
    """End the kernels: a shutdown_request on control (``polite``), else SIGKILL to the
    kernel's session; wait until each pid is gone (the zygote reaps its children)."""
    probes = [p for p in probes if p.pid > 0]
    for p in probes:
        if polite:
            p.session.send(p.sockets["control"], "shutdown_request", {"restart": False})
        else:
            with contextlib.suppress(OSError):
                os.killpg(p.pid, signal.SIGKILL)
    deadline = time.monotonic() + 15
    for proc in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(max(0.1, deadline - time.monotonic()))
    for p in probes:
        while time.monotonic() < deadline:
            try:
                os.kill(p.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.02)
        else:
            with contextlib.suppress(OSError):
                os.killpg(p.pid, signal.SIGKILL)


def batch(ctx: zmq.Context[Any], root: str, env: dict[str, str], mode: str, n: int,
          zygote: Zygote | None, polite: bool = False, modules: bool = False,
          extra: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
    """N kernels at once one way: times, CPU, memory, states; then ended."""
    probes = [Probe(ctx, root, i) for i in range(n)]
    for p in probes:
        p.want_modules = modules
    busy, t0 = busy_core_s(), time.perf_counter()
    started: dict[str, Any] = {"procs": []}
    try:
        started = launch(mode, probes, env, zygote, root, extra)
        wait_all(probes)
        busy = busy_core_s() - busy
        out = _figures(probes, started, t0, busy, modules)
        out["mode"] = mode
        if zygote is not None:
            out["zygote_mem"] = smaps(zygote.proc.pid)
    finally:
        stop(probes, started["procs"], polite)
        for p in probes:
            if not p.t_exec:
                _tell_log(root, p)
    if polite:
        out["history_closed"] = [_history_closed(env, s.get("hist")) for s in out["states"]]
    for p in probes:
        p.close()
    return out


def _figures(probes: list[Probe], started: dict[str, Any], t0: float, busy: float,
             modules: bool) -> dict[str, Any]:  # fmt: skip
    done = [p for p in probes if p.t_exec]
    mem = [smaps(p.pid) for p in done]
    return {
        "n": len(probes), "answered": len(done),
        "all_answered_s": max((p.t_exec for p in done), default=t0) - t0,
        "info_s": [p.t_info - p.t0 for p in done], "exec_s": [p.t_exec - p.t0 for p in done],
        "child_cpu": [p.state["cpu"] for p in done], "parent_cpu": started["parent_cpu"],
        "fork_cpu": started["fork_cpu"], "machine_busy_core_s": busy,
        "rss": _median(m["rss"] for m in mem), "pss": _median(m["pss"] for m in mem),
        "uss": _median(m["uss"] for m in mem), "states": [p.state for p in done],
        "modules": done[0].modules if done and modules else [],
    }  # fmt: skip


def _tell_log(root: str, p: Probe) -> None:
    """A kernel that never answered: the end of its log on stderr."""
    log = os.path.join(root, os.path.basename(p.dir) + ".log")
    with contextlib.suppress(OSError), open(log) as f:
        sys.stderr.write(f"no answer from {p.mark} (pid {p.pid}):\n{f.read()[-2000:]}\n")


def _median(values: Any) -> float:
    values = list(values)
    return statistics.median(values) if values else 0.0


def _history_closed(env: dict[str, str], session: int | None) -> bool | None:
    """Did the kernel's atexit close its IPython history session (``end`` set)?"""
    path = os.path.join(env["IPYTHONDIR"], "profile_default", "history.sqlite")
    for _ in range(50):
        with contextlib.closing(sqlite3.connect(path, timeout=5)) as db:
            row = db.execute("SELECT end FROM sessions WHERE session=?", (session,)).fetchone()
        if row and row[0]:
            return True
        time.sleep(0.05)
    return False


def _steps_table(steps: dict[str, list[Any]]) -> list[str]:
    """initialize() per step, ms wall / ms CPU, one column per mode (depth indents)."""
    modes = list(steps)
    rows: dict[str, dict[str, tuple[float, float]]] = {}
    depth: dict[str, int] = {}
    for mode, record in steps.items():
        for label, d, wall, cpu in record:
            rows.setdefault(label, {}).setdefault(mode, (wall * 1e3, cpu * 1e3))
            depth.setdefault(label, d)
    lines = ["| step | " + " | ".join(f"{m} wall / CPU ms" for m in modes) + " |",
             "|---|" + "---:|" * len(modes)]  # fmt: skip
    for label, by_mode in rows.items():
        cells = [f"{by_mode[m][0]:.1f} / {by_mode[m][1]:.1f}" if m in by_mode else "-"
                 for m in modes]  # fmt: skip
        lines.append(f"| {'  ' * depth[label]}{label} | " + " | ".join(cells) + " |")
    return lines


def _profile_text(path: str, top: int = 30) -> str:
    out = io.StringIO()
    stats = pstats.Stats(path, stream=out)
    stats.strip_dirs().sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(15)
    return out.getvalue()


def _diff_states(fresh: dict[str, Any], forked: dict[str, Any]) -> dict[str, Any]:
    """Where a forked kernel's state differs from a fresh one's (per-kernel values out)."""
    diff: dict[str, Any] = {}
    for key in ("threads", "modules", "cwd_ok", "mark_ok", "tmp_ok"):
        if fresh.get(key) != forked.get(key):
            diff[key] = (fresh.get(key), forked.get(key))
    for key in ("argv", "cmdline"):  # the kernel's own directory in them differs
        one, other = ([x.replace(s["cwd"], "DIR") for x in s[key]] for s in (fresh, forked))
        if one != other:
            diff[key] = (one, other)
    strip = [fresh.get("cwd"), forked.get("cwd")]
    paths = [[x for x in s.get("path", []) if x not in strip] for s in (fresh, forked)]
    if paths[0] != paths[1]:
        diff["sys.path"] = paths
    sigs = [s.get("signals", {}) for s in (fresh, forked)]
    changed = {k: (sigs[0].get(k), sigs[1].get(k)) for k in set(sigs[0]) | set(sigs[1])
               if sigs[0].get(k) != sigs[1].get(k)}  # fmt: skip
    if changed:
        diff["signals"] = changed
    return diff


def report(res: dict[str, Any]) -> list[str]:
    """The printed summary (medians; every run's figure where there are few)."""
    lines = [f"## one kernel (medians of {len(res['one']['fresh'])} runs, modes alternated)",
             "| mode | kernel_info s | execute reply s | child CPU s | parent CPU ms | "
             "machine busy core-s | RSS / PSS / USS MB | history closed |",
             "|---|---:|---:|---:|---:|---:|---:|---|"]  # fmt: skip
    for mode, runs in res["one"].items():
        med = {k: _median(r[k][0] if isinstance(r[k], list) else r[k] for r in runs)
               for k in ("info_s", "exec_s", "child_cpu", "parent_cpu", "machine_busy_core_s",
                         "rss", "pss", "uss")}  # fmt: skip
        closed = sum(all(r.get("history_closed") or [False]) for r in runs)
        lines.append(f"| {mode} | {med['info_s']:.3f} | {med['exec_s']:.3f} | "
                     f"{med['child_cpu']:.3f} | {med['parent_cpu'] * 1e3:.1f} | "
                     f"{med['machine_busy_core_s']:.2f} | {med['rss']:.0f} / {med['pss']:.0f}"
                     f" / {med['uss']:.0f} | {closed}/{len(runs)} |")  # fmt: skip
    one = {m: _median(r["exec_s"][0] for r in runs) for m, runs in res["one"].items()}
    lines += ["", f"## {res['many_n']} kernels at once",
              "| mode | all answered s (each run) | / own one start | sum child CPU s | "
              "parent CPU s | machine busy core-s | RSS / PSS / USS MB a kernel | "
              "distinct random / session / history / hash() / id(json) | answered |",
              "|---|---|---:|---:|---:|---:|---:|---|---|"]  # fmt: skip
    for mode, runs in res["many"].items():
        walls = [r["all_answered_s"] for r in runs]
        sums = _median(sum(r["child_cpu"]) for r in runs)
        st = runs[-1]["states"]
        distinct = [len({s[k] for s in st}) for k in ("rnd", "session", "hist", "hash", "addr")]
        lines.append(f"| {mode} | {', '.join(f'{w:.2f}' for w in walls)} | "
                     f"{_median(walls) / one[mode]:.1f}x | {sums:.1f} | "
                     f"{_median(r['parent_cpu'] for r in runs):.2f} | "
                     f"{_median(r['machine_busy_core_s'] for r in runs):.1f} | "
                     f"{_median(r['rss'] for r in runs):.1f} / "
                     f"{_median(r['pss'] for r in runs):.1f} / "
                     f"{_median(r['uss'] for r in runs):.1f} | "
                     f"{'/'.join(map(str, distinct))} of {len(st)} | "
                     f"{min(r['answered'] for r in runs)}/{res['many_n']} |")  # fmt: skip
    for mode, runs in res["many"].items():
        if "zygote_mem" in runs[-1]:
            z = runs[-1]["zygote_mem"]
            lines.append(f"- {mode} zygote itself: RSS {z['rss']:.0f} / PSS {z['pss']:.0f} MB")
    lines += ["", "## initialize() per step (one kernel, steps timed, no profiler)"]
    lines += _steps_table(res["steps"])
    lines += ["", "## zygotes at fork time"]
    for mode, boot in res["boot"].items():
        lines.append(f"- {mode}: " + json.dumps(boot))
    lines += ["", "## forked vs fresh state (one-kernel runs)"]
    fresh = res["one"]["fresh"][0]["states"][0]
    for mode in ("forkA", "forkB"):
        forked = res["one"][mode][0]["states"][0]
        lines.append(f"- {mode}: " + json.dumps(_diff_states(fresh, forked)))
    lines += ["", "## read while the warm set imports (--envaudit)", json.dumps(res["audit"])]
    return lines


def lazy_configure(text: str) -> str:
    """launch.py with ``debugpy.configure`` called in its ``listen`` wrapper (once, when a
    debug session starts) instead of at every kernel start: debugpy's ``configure`` starts
    its logging, whose ``describe_environment`` reads every installed distribution's
    metadata, logged or not."""
    eager = "    debugpy.configure(python=wrapper)\n    real_listen = debugpy.listen\n"
    guard = "        socket.socket.accept = _guarded_accept(loopback_only=True)"
    if eager not in text or text.count(guard) != 1:
        raise SystemExit("launch.py is not the one this variant was written for")
    text = text.replace(eager, "    real_listen = debugpy.listen\n")
    once = (
        "        if not getattr(listen, 'configured', False):\n"
        "            debugpy.configure(python=wrapper)\n"
        "            listen.configured = True\n"
    )
    return text.replace(guard, once + guard)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--many", type=int, default=64)
    parser.add_argument("--many-runs", type=int, default=2)
    parser.add_argument("--json", default="")
    parser.add_argument(
        "--product-launcher",
        action="store_true",
        help="kernels through jupyter_remote's launch.py (kernel_launcher)",
    )
    parser.add_argument(
        "--lazy-configure",
        action="store_true",
        help="--product-launcher with debugpy.configure moved into its listen wrapper",
    )
    args = parser.parse_args()
    if args.product_launcher or args.lazy_configure:
        from jupyter_remote.remote import script_text

        text = script_text("kernel_launcher")
        PRODUCT_LAUNCHER.append(lazy_configure(text) if args.lazy_configure else text)
    root = tempfile.mkdtemp(prefix="jr-zygote-")
    env = {k: v for k, v in os.environ.items() if k != "JR_MARK"}
    env["IPYTHONDIR"] = os.path.join(root, "ipython")
    ctx: zmq.Context[Any] = zmq.Context()
    zygotes: dict[str, Zygote] = {}
    res: dict[str, Any] = {"many_n": args.many, "one": {}, "many": {}, "steps": {}}
    try:
        first = batch(ctx, root, env, "fresh", 1, None, modules=True)
        warm = [m for m in first["modules"] if m != "__main__"]
        modules_file = os.path.join(root, "warm.json")
        with open(modules_file, "w") as f:
            json.dump(warm, f)
        audit = subprocess.run([sys.executable, FORK, "--envaudit", modules_file], env=env,
                               cwd="/", capture_output=True, text=True, check=True)  # fmt: skip
        res["audit"] = json.loads(audit.stdout)
        zygotes = {"forkA": Zygote(env, None), "forkB": Zygote(env, modules_file)}
        res["boot"] = {m: z.boot for m, z in zygotes.items()}
        for mode, z in zygotes.items():  # each zygote's first child: not counted
            batch(ctx, root, env, mode, 1, z)
        modes = ["fresh", *zygotes]
        for _ in range(args.runs):
            for mode in modes:
                one = batch(ctx, root, env, mode, 1, zygotes.get(mode), polite=True)
                for p_state in one["states"]:
                    p_state["cwd_ok"] = os.path.basename(p_state["cwd"]).startswith("k0-")
                    p_state["mark_ok"] = p_state["mark"] == "kernel-0"
                    p_state["tmp_ok"] = p_state["tmpdir"] == p_state["cwd"]
                res["one"].setdefault(mode, []).append(one)
        for mode in modes if not PRODUCT_LAUNCHER else ():  # steps, then profiled apart
            steps, prof = os.path.join(root, f"{mode}.steps"), os.path.join(root, f"{mode}.prof")
            batch(ctx, root, env, mode, 1, zygotes.get(mode), extra={"steps": steps, "prof": ""})
            with open(steps) as f:
                res["steps"][mode] = json.load(f)
            if mode in ("fresh", "forkB"):
                batch(ctx, root, env, mode, 1, zygotes.get(mode), extra={"steps": "", "prof": prof})
                res[f"profile_{mode}"] = _profile_text(prof)
        for _ in range(args.many_runs):
            for mode in modes:
                time.sleep(1.0)
                many = batch(ctx, root, env, mode, args.many, zygotes.get(mode))
                res["many"].setdefault(mode, []).append(many)
                print(f"{mode} x{args.many}: {many['all_answered_s']:.2f} s", flush=True)
    finally:
        for z in zygotes.values():
            z.close()
        ctx.term()
        shutil.rmtree(root, ignore_errors=True)
    print("\n".join(report(res)))
    for mode in ("fresh", "forkB"):
        if f"profile_{mode}" in res:
            print(f"\n## cProfile of a {mode} kernel's initialize()\n" + res[f"profile_{mode}"])
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1, default=str)


if __name__ == "__main__":
    main()
