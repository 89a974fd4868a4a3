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
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tests.harness.netns_host import NetnsHost, netns_unavailable
from tests.harness.remote_state import STATE_DIR, clean_user, user_processes
from tests.harness.sshd_host import claim_user, free_port
from tests.harness.waiting import NeverHappened, eventually_async

ROOT = Path(__file__).resolve().parent.parent
USER = "jrsoak"
PERIOD = 0.1  # seconds between two printed lines
#: the cell: numbered lines with the kernel's wall clock, every PERIOD s, until END
CELL = """\
import time as _t
_soak_n = 0
_soak_t0 = _t.monotonic()
while _t.time() < {end!r}:
    print(_soak_n, '%.3f' % _t.time(), flush=True)
    _soak_n += 1
    _t.sleep(max(0.0, _soak_t0 + _soak_n * {period!r} - _t.monotonic()))
"""


def log(text: str) -> None:
    print(f"[soak {time.strftime('%H:%M:%S')}] {text}", flush=True)


# ------------------------------------------------------------------ data


@dataclass
class Fault:
    kind: str  # "cut" | "drop"
    start: float  # wall clock
    planned: float  # seconds
    end: float = 0.0
    reconnecting_after: float | None = None  # s after start
    running_after_restore: float | None = None  # s after end
    lines_printed: int = 0  # by the kernel between start and end
    lines_missing: int = 0
    lines_missing_after: int = 0  # printed after the restore (before the next fault), lost
    backlog_delivered_after: float | None = None  # s after end: last line of the outage in


@dataclass
class Record:
    lines: list[tuple[int, float, float]] = field(default_factory=list)  # n, kernel t, recv t
    garbage: list[str] = field(default_factory=list)
    partial: str = ""
    reply: dict[str, Any] | None = None
    events: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    rss: list[tuple[float, int]] = field(default_factory=list)  # wall clock, KiB


# ---------------------------------------------------------- the server


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def save_profile(host: NetnsHost) -> None:
    """Server `box` and profile `p` (kernelspec remote-p), as `jupyter remote` would."""
    from jupyter_remote.manager import RemoteManager
    from jupyter_remote.store import Store
    from tests.harness.servers import server_input, trust_host

    manager = RemoteManager(Store())
    try:
        trust_host(manager.store, host)
        await manager.add_server(server_input(host))
        await manager.add_profile({"name": "p", "server": "box", "python": host.remote_python})
    finally:
        await manager.close()


class Server:
    """`jupyter server` with the extension, in a subprocess of ours."""

    def __init__(self, workdir: Path, env: dict[str, str], args: argparse.Namespace) -> None:
        self.port = free_port()
        self.token = uuid.uuid4().hex
        self.log_path = workdir / "server.log"
        (workdir / "notebooks").mkdir(exist_ok=True)
        argv = [
            sys.executable,
            "-m",
            "jupyter_server",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            f"--IdentityProvider.token={self.token}",
            "--ServerApp.open_browser=False",
            "--ServerApp.allow_root=True",
            f"--ServerApp.root_dir={workdir / 'notebooks'}",
            "--MappingKernelManager.cull_idle_timeout=0",
        ]
        config: dict[str, Any] = {"ServerApp": {"jpserver_extensions": {"jupyter_remote": True}}}
        remote: dict[str, Any] = {}
        if args.keepalive_interval is not None:
            remote["keepalive_interval"] = args.keepalive_interval
        if args.keepalive_count_max is not None:
            remote["keepalive_count_max"] = args.keepalive_count_max
        if remote:
            config["RemoteExtensionApp"] = remote
        config_dir = Path(env["JUPYTER_CONFIG_DIR"])
        config_dir.mkdir(parents=True, exist_ok=True)
        (config_dir / "jupyter_server_config.json").write_text(json.dumps(config))
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen(
                argv,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=str(workdir),
                start_new_session=True,
            )

    @property
    def base(self) -> str:
        return f"127.0.0.1:{self.port}"

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"token {self.token}"}

    async def fetch(self, path: str, method: str = "GET", body: Any = None) -> Any:
        from tornado.httpclient import AsyncHTTPClient

        resp = await AsyncHTTPClient().fetch(
            f"http://{self.base}/{path}",
            method=method,
            headers=self.headers(),
            body=None if body is None else json.dumps(body),
            request_timeout=300,
            allow_nonstandard_methods=True,
        )
        return json.loads(resp.body) if resp.body else None

    async def websocket(self, path: str) -> Any:
        from tornado.httpclient import HTTPRequest
        from tornado.websocket import websocket_connect

        req = HTTPRequest(f"ws://{self.base}/{path}", headers=self.headers())
        return await websocket_connect(req, max_message_size=64 * 1024 * 1024)

    async def wait_up(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter server exited: see {self.log_path}")
            try:
                await self.fetch("api/status")
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.3)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


# ------------------------------------------------------- kernel client


def message(msg_type: str, content: dict[str, Any]) -> tuple[str, str]:
    msg_id = uuid.uuid4().hex
    return msg_id, json.dumps(
        {
            "header": {
                "msg_id": msg_id,
                "msg_type": msg_type,
                "username": "soak",
                "session": "soak",
                "version": "5.3",
                "date": "",
            },
            "parent_header": {},
            "metadata": {},
            "channel": "shell",
            "content": content,
        }
    )


class KernelClient:
    def __init__(self, ws: Any, record: Record) -> None:
        self.ws = ws
        self.record = record
        self.cell_id = ""
        self.replies: dict[str, asyncio.Future[dict[str, Any]]] = {}

    async def read_loop(self) -> None:
        while True:
            raw = await self.ws.read_message()
            if raw is None:
                log("kernel websocket closed")
                return
            now = time.time()
            msg = json.loads(raw)
            parent = msg.get("parent_header", {}).get("msg_id")
            if parent == self.cell_id and msg["msg_type"] == "stream":
                self._stream(msg["content"]["text"], now)
            elif parent == self.cell_id and msg["msg_type"] == "execute_reply":
                self.record.reply = msg["content"]
            elif parent == self.cell_id and msg["msg_type"] == "error":
                self.record.garbage.append(f"error: {msg['content'].get('ename')}")
            if msg["msg_type"].endswith("_reply") and parent in self.replies:
                fut = self.replies.pop(parent)
                if not fut.done():
                    fut.set_result(msg["content"])

    def _stream(self, text: str, now: float) -> None:
        text = self.record.partial + text
        *complete, self.record.partial = text.split("\n")
        for line in complete:
            parts = line.split()
            if len(parts) == 2 and parts[0].isdigit():
                self.record.lines.append((int(parts[0]), float(parts[1]), now))
            else:
                self.record.garbage.append(line[:200])

    async def request(self, msg_type: str, content: dict[str, Any], timeout: float) -> Any:
        msg_id, raw = message(msg_type, content)
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.replies[msg_id] = fut
        await self.ws.write_message(raw)
        try:
            return await asyncio.wait_for(fut, timeout)
        finally:
            self.replies.pop(msg_id, None)

    async def ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                await self.request("kernel_info_request", {}, 10)
                return
            except asyncio.TimeoutError:
                if time.monotonic() > deadline:
                    raise

    async def start_cell(self, end: float) -> None:
        self.cell_id, raw = message(
            "execute_request",
            {
                "code": CELL.format(end=end, period=PERIOD),
                "silent": False,
                "store_history": True,
                "user_expressions": {},
                "allow_stdin": False,
                "stop_on_error": True,
            },
        )
        await self.ws.write_message(raw)

    async def count(self, timeout: float = 120) -> int:
        """The kernel's own count of printed lines (asked again until the link answers)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                reply = await self.request(
                    "execute_request",
                    {
                        "code": "",
                        "silent": True,
                        "store_history": False,
                        "user_expressions": {"n": "_soak_n"},
                        "allow_stdin": False,
                    },
                    15,
                )
                return int(reply["user_expressions"]["n"]["data"]["text/plain"])
            except asyncio.TimeoutError:
                if time.monotonic() > deadline:
                    raise


# ----------------------------------------------------------------- faults


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


# ---------------------------------------------------------------- analysis


def analyse(record: Record, expected: int, faults: list[Fault], kernel_id: str) -> dict[str, Any]:
    numbers = [n for n, _, _ in record.lines]
    seen: dict[int, int] = {}
    for n in numbers:
        seen[n] = seen.get(n, 0) + 1
    missing = [n for n in range(expected) if n not in seen]
    out_of_order = 0
    high = -1
    for n in numbers:
        if n < high:
            out_of_order += 1
        high = max(high, n)

    # kernel time of every line (received, or interpolated for the missing ones)
    printed_at = {n: t for n, t, _ in record.lines}
    recv_at = {n: r for n, _, r in record.lines}
    t0 = min(printed_at.values()) if printed_at else 0.0
    first_n = min(printed_at) if printed_at else 0

    def when(n: int) -> float:
        return printed_at.get(n, t0 + (n - first_n) * PERIOD)

    states = [
        (t, e["session"]["state"], e["session"].get("reason", ""))
        for t, e in record.events
        if e.get("type") == "session" and e["session"].get("kernel_id") == kernel_id
    ]
    notices = [e.get("message", "") for _, e in record.events if e.get("type") == "notice"]
    for i, f in enumerate(faults):
        until = faults[i + 1].start if i + 1 < len(faults) else float("inf")
        during = [n for n in range(expected) if f.start <= when(n) < f.end]
        after = [n for n in range(expected) if f.end <= when(n) < until]
        f.lines_printed = len(during)
        f.lines_missing = sum(1 for n in during if n not in seen)
        f.lines_missing_after = sum(1 for n in after if n not in seen)
        got = [recv_at[n] for n in during if n in recv_at]
        if got:
            f.backlog_delivered_after = round(max(0.0, max(got) - f.end), 2)
        # this fault's own states: before the next fault starts
        rec = next((t for t, s, _ in states if s == "reconnecting" and f.start <= t < until), None)
        if rec is not None:
            f.reconnecting_after = round(rec - f.start, 2)
            back = next((t for t, s, _ in states if s == "running" and rec <= t < until), None)
            if back is not None:
                f.running_after_restore = round(back - f.end, 2)
    delays = [r - t for _, t, r in record.lines]
    recoveries = [f.running_after_restore for f in faults if f.running_after_restore is not None]
    unattributed = [n for n in missing if not faults or when(n) < faults[0].start]
    rss = [kib for _, kib in record.rss]
    return {
        "lines_expected": expected,
        "lines_received": len(numbers),
        "lines_missing": len(missing),
        "missing_ranges": ranges(missing)[:50],
        "lines_missing_during_outages": sum(f.lines_missing for f in faults),
        "lines_missing_after_restore": sum(f.lines_missing_after for f in faults),
        "lines_missing_before_first_fault": len(unattributed),
        "lines_duplicated": sum(c - 1 for c in seen.values() if c > 1),
        "lines_out_of_order": out_of_order,
        "lines_unexpected": len([n for n in seen if n >= expected]),
        "garbage_lines": record.garbage[:20],
        "cell_reply": (record.reply or {}).get("status"),
        "delivery_delay_s_p50_p99_max": [round(q, 3) for q in quantiles(delays, (0.5, 0.99, 1.0))],
        "faults": len(faults),
        "faults_cut": sum(1 for f in faults if f.kind == "cut"),
        "faults_drop": sum(1 for f in faults if f.kind == "drop"),
        "faults_seen_as_reconnecting": sum(1 for f in faults if f.reconnecting_after is not None),
        "recovery_s_p50_max": [round(q, 2) for q in quantiles(recoveries, (0.5, 1.0))],
        "session_states": [s for _, s, _ in states],
        "notices": notices[:20],
        "server_rss_mib_start_end_max": [
            round(rss[0] / 1024, 1) if rss else None,
            round(rss[-1] / 1024, 1) if rss else None,
            round(max(rss) / 1024, 1) if rss else None,
        ],
        "fault_log": [asdict(f) for f in faults],
    }


def ranges(numbers: list[int]) -> list[str]:
    out: list[str] = []
    for n in numbers:
        if out and int(out[-1].split("-")[-1]) == n - 1:
            out[-1] = f"{out[-1].split('-')[0]}-{n}"
        else:
            out.append(str(n))
    return out


def quantiles(values: list[float], qs: tuple[float, ...]) -> list[float]:
    if not values:
        return []
    ordered = sorted(values)
    return [ordered[int(q * (len(ordered) - 1))] for q in qs]


def markdown(result: dict[str, Any]) -> str:
    r = result
    lines = [
        f"# Soak run {r['started']}",
        "",
        f"{r['label']}",
        "",
        "| figure | value |",
        "| --- | --- |",
    ]
    keys = [
        "commit",
        "duration_s",
        "keepalive",
        "lines_expected",
        "lines_received",
        "lines_missing",
        "lines_missing_during_outages",
        "lines_missing_after_restore",
        "lines_missing_before_first_fault",
        "lines_duplicated",
        "lines_out_of_order",
        "faults",
        "faults_cut",
        "faults_drop",
        "faults_seen_as_reconnecting",
        "reconnects",
        "recovery_s_p50_max",
        "delivery_delay_s_p50_p99_max",
        "server_rss_mib_start_end_max",
        "remote_processes_after_stop",
        "remote_files_after_stop",
    ]
    for k in keys:
        lines.append(f"| {k} | {r.get(k)} |")
    lines += [
        "",
        "| # | kind | outage s | reconnecting after s | running after restore s "
        "| lines printed in outage | missing | missing after restore | backlog in after s |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for i, f in enumerate(r["fault_log"], 1):
        lines.append(
            f"| {i} | {f['kind']} | {f['end'] - f['start']:.1f} | {f['reconnecting_after']} "
            f"| {f['running_after_restore']} | {f['lines_printed']} | {f['lines_missing']} "
            f"| {f['lines_missing_after']} | {f['backlog_delivered_after']} |"
        )
    if r.get("missing_ranges"):
        lines += ["", f"Missing lines: {', '.join(r['missing_ranges'])}"]
    if r.get("notices"):
        lines += ["", "Notices: " + "; ".join(r["notices"])]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ main


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
