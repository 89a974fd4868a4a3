"""Load (issue #7, item 5): many remote kernels on ONE Jupyter server, one SSH connection.

32 kernels of one profile are started through ``/api/kernels`` of a real Jupyter
server (pytest-jupyter's, with the extension on) against a real sshd as the
dedicated user ``jrload``. Each kernel gets its own websocket (the protocol
JupyterLab speaks) and runs 1,000 executions; all kernels run at once. Every
execution prints its index and returns the kernel's own execution counter, so

- every ``execute_reply`` is counted (status ok, execution_count i + 1);
- every ``stream`` line is counted: the lines of a kernel, in arrival order, must
  be exactly 0..999 (nothing missing, nothing twice, nothing out of order), and
  each one must come with the execution that printed it;
- every ``execute_result`` is counted (the kernel's counter i + 1: no execution
  was run twice or skipped by the kernel).

While it runs, ``ss`` on the sshd's port must show exactly ONE established
connection (and the sshd log one login). After every kernel is stopped through
``DELETE /api/kernels/ID``, no process of ``jrload`` and no file under its
``~/.local/share/jupyter-remote`` may remain, and the connection is closed.

The figures (elapsed, executions/s, latencies, counts, server memory) are
printed even when the test passes. Smaller runs for development:
``JR_LOAD_KERNELS=4 JR_LOAD_EXECUTIONS=100 pytest tests/test_load.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import resource
import statistics
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from jupyter_server.services.kernels.connection.base import (
    deserialize_msg_from_ws_v1,
    serialize_msg_to_ws_v1,
)

from jupyter_remote.sessions import registry
from jupyter_remote.ssh import forwards
from tests.harness.remote_state import clean_user, remote_state_files, user_processes
from tests.harness.servers import setup_profile
from tests.harness.sshd_host import IS_ROOT, SSHTestHost, claim_user
from tests.harness.waiting import NeverHappened, eventually_async

N_KERNELS = int(os.environ.get("JR_LOAD_KERNELS", "32"))
N_EXECUTIONS = int(os.environ.get("JR_LOAD_EXECUTIONS", "1000"))
#: executions sent ahead per kernel before the previous one completed (1: cell by cell)
WINDOW = int(os.environ.get("JR_LOAD_WINDOW", "2"))
LOAD_USER = "jrload"
#: after the last execution of a kernel completed, how long late stream output may trail
STREAM_GRACE = 10.0
#: the kernel websocket protocol JupyterLab 4 negotiates (no JSON re-encoding in the server)
WS_PROTOCOL = "v1.kernel.websocket.jupyter.org"
#: no execution of a kernel completed for this long: give up on it (and fail)
STALL = 60.0
#: the code of execution I: prints I, returns how many times this kernel ran it so far
CODE = "print({i})\n_jr_n = globals().get('_jr_n', 0) + 1\n_jr_n"

pytestmark = pytest.mark.skipif(not IS_ROOT, reason="the load test needs its own remote user")


# ------------------------------------------------------------------ fixtures


#: IPython of the remote user keeps its history in memory (see load_host)
IPYTHON_CONFIG = 'c.HistoryManager.hist_file = ":memory:"\n'


@pytest.fixture(scope="module")
def load_host() -> Iterator[SSHTestHost]:
    """A sshd of our own, remote user jrload (nobody else's kernels are touched).

    The user is claimed (an flock, as NetnsHost does): a second run of this module at
    the same time gets jrload2, so the leftover cleanup of one run (pkill -u) can
    never kill the kernels of another.

    32 kernels of one account share IPython's ~/.ipython history.sqlite: their
    history threads then wait on the sqlite lock (up to seconds: the main thread
    stalls with them) and IPython prints "The history saving thread hit an
    unexpected error (OperationalError('database is locked'))" into the cell's
    stdout. That is IPython's behaviour, the same with 32 local kernels, and not
    what this test measures: the remote user's kernels keep history in memory.
    """
    user, claim = claim_user(LOAD_USER)
    with claim, SSHTestHost(name="load", user=user) as host:
        profile_dir = host.home / ".ipython" / "profile_default"
        host.run_as_user(["mkdir", "-p", str(profile_dir)])
        host.run_as_user(
            ["sh", "-c", 'cat > "$1"', "sh", str(profile_dir / "ipython_kernel_config.py")],
            input=IPYTHON_CONFIG,
        )
        yield host


def remote_commands(host: SSHTestHost) -> int:
    """Commands sshd ran for the user so far (its log says "Starting session: command")."""
    return host.log_text().count("Starting session: command for ")


def rss_mib() -> float:
    """This process's (the Jupyter server's) resident memory now, MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# ------------------------------------------------------------- the client side


def _message(msg_type: str, channel: str, content: dict[str, Any]) -> tuple[str, bytes]:
    """A request in the websocket protocol JupyterLab 4 speaks (v1: binary, parts as JSON)."""
    msg_id = uuid.uuid4().hex
    header = {
        "msg_id": msg_id,
        "msg_type": msg_type,
        "username": "load",
        "session": "load",
        "version": "5.3",
        "date": "",
    }
    parts = [json.dumps(header).encode(), b"{}", b"{}", json.dumps(content).encode()]
    return msg_id, serialize_msg_to_ws_v1(parts, channel)


def _parse(raw: bytes) -> dict[str, Any]:
    channel, parts = deserialize_msg_from_ws_v1(raw)
    header = json.loads(parts[0])
    return {
        "channel": channel,
        "msg_type": header["msg_type"],
        "parent_header": json.loads(parts[1]),
        "content": json.loads(parts[3]),
    }


@dataclass
class Execution:
    index: int
    sent: float = 0.0
    done_at: float = 0.0
    replies: list[dict[str, Any]] = field(default_factory=list)
    results: list[str] = field(default_factory=list)
    idle: int = 0
    #: channel/msg_type of every message that came back for it, in arrival order
    kinds: list[str] = field(default_factory=list)
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def describe(self) -> str:
        return f"#{self.index} sent {time.monotonic() - self.sent:.0f} s ago, got {self.kinds}"


@dataclass
class KernelLoad:
    """One kernel's websocket, what was sent on it, and everything that came back."""

    kernel_id: str
    ws: Any
    executions: dict[str, Execution] = field(default_factory=dict)
    #: (index of the execution the message belongs to, text), in arrival order (stdout)
    streams: list[tuple[int, str]] = field(default_factory=list)
    #: anything on stderr (index, text): a remote kernel should print nothing there
    stderr: list[tuple[int, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    other: int = 0
    closed: bool = False
    #: executions still incomplete when the kernel made no progress for STALL seconds
    stalled: list[str] = field(default_factory=list)
    #: every message whose parent is a kernel_info of ready(), by that request's msg_id
    _waiting: dict[str, asyncio.Queue[dict[str, Any]]] = field(default_factory=dict)

    async def read_loop(self) -> None:
        while True:
            raw = await self.ws.read_message()
            if raw is None:
                self.closed = True
                return
            msg = _parse(raw)
            parent = msg.get("parent_header", {}).get("msg_id")
            waiter = self._waiting.get(parent)
            if waiter is not None:
                waiter.put_nowait(msg)
                continue
            ex = self.executions.get(parent)
            if ex is None:
                self.other += 1  # the server's nudges, our kernel_info
                continue
            kind = msg["msg_type"]
            ex.kinds.append(f"{msg.get('channel')}/{kind}")
            if kind == "execute_reply":
                ex.replies.append(msg["content"])
            elif kind == "stream" and msg["content"].get("name") == "stdout":
                self.streams.append((ex.index, msg["content"]["text"]))
            elif kind == "stream":
                self.stderr.append((ex.index, msg["content"]["text"]))
            elif kind == "execute_result":
                ex.results.append(msg["content"]["data"].get("text/plain", ""))
            elif kind == "status" and msg["content"]["execution_state"] == "idle":
                ex.idle += 1
            elif kind == "error":
                self.errors.append(f"{ex.index}: {msg['content']['ename']}")
            if ex.replies and ex.idle and not ex.done.is_set():
                ex.done_at = time.monotonic()
                ex.done.set()

    async def ready(self, timeout: float = 120) -> None:
        """kernel_info until its reply AND its iopub status arrive: iopub is subscribed."""
        deadline = time.monotonic() + timeout
        while True:
            msg_id, raw = _message("kernel_info_request", "shell", {})
            arrived: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
            self._waiting[msg_id] = arrived
            await self.ws.write_message(raw, binary=True)
            try:
                await asyncio.wait_for(self._reply_and_status(arrived), 12)
                return
            except asyncio.TimeoutError:
                if time.monotonic() > deadline:
                    raise
            finally:
                self._waiting.pop(msg_id, None)

    @staticmethod
    async def _reply_and_status(arrived: asyncio.Queue[dict[str, Any]]) -> None:
        """Until a request's shell reply and one of its iopub statuses have both come, in
        whichever order: the channels are separate streams (the protocol orders messages
        within a channel only), so its busy and idle may reach the websocket before its
        reply. The status proves iopub is live."""
        channels: set[str] = set()
        while not {"shell", "iopub"} <= channels:
            msg = await arrived.get()
            if msg.get("channel") == "shell" or msg["msg_type"] == "status":
                channels.add(msg.get("channel", ""))

    async def run(self, count: int, window: int) -> None:
        """COUNT executions, at most WINDOW of them in flight.

        Gives up (and records what is missing in ``stalled``) when no execution
        completes for STALL seconds: a lost reply must fail the test, not hang it.
        """
        slots = asyncio.Semaphore(window)

        def complete(_: asyncio.Future[Any]) -> None:
            slots.release()

        for i in range(count):
            try:
                await asyncio.wait_for(slots.acquire(), STALL)
            except asyncio.TimeoutError:
                self._stall()
                return
            msg_id, raw = _message(
                "execute_request",
                "shell",
                {
                    "code": CODE.format(i=i),
                    "silent": False,
                    "store_history": True,
                    "user_expressions": {},
                    "allow_stdin": False,
                    "stop_on_error": True,
                },
            )
            ex = Execution(i, sent=time.monotonic())
            self.executions[msg_id] = ex
            asyncio.ensure_future(ex.done.wait()).add_done_callback(complete)
            await self.ws.write_message(raw, binary=True)
        for _ in range(window):
            try:
                await asyncio.wait_for(slots.acquire(), STALL)
            except asyncio.TimeoutError:
                self._stall()
                return

    def _stall(self) -> None:
        self.stalled = [ex.describe() for ex in self.executions.values() if not ex.done.is_set()]

    async def settle(self, expected_lines: int) -> None:
        """Let trailing stream output arrive (ipykernel may flush after idle)."""
        with contextlib.suppress(NeverHappened):  # the audit says what did not arrive
            await eventually_async(
                self._lines, lambda n: n >= expected_lines, timeout=STREAM_GRACE, interval=0.1
            )

    def _lines(self) -> int:
        return sum(text.count("\n") for _, text in self.streams)

    # -------------------------------------------------------------- verdict

    def audit(self, count: int) -> dict[str, Any]:
        by_index = sorted(self.executions.values(), key=lambda e: e.index)
        replies = [r for ex in by_index for r in ex.replies]
        bad_replies = [
            ex.index
            for ex in by_index
            if len(ex.replies) != 1
            or ex.replies[0].get("status") != "ok"
            or ex.replies[0].get("execution_count") != ex.index + 1
        ]
        bad_results = [ex.index for ex in by_index if ex.results != [str(ex.index + 1)]]
        # a print may arrive split over several stream messages ("7" then "\n"):
        # a kernel's output is the concatenation, in arrival order
        lines = "".join(text for _, text in self.streams).splitlines()
        per_execution: dict[int, str] = {}
        for index, text in self.streams:
            per_execution[index] = per_execution.get(index, "") + text
        misattributed = [(i, text) for i, text in sorted(per_execution.items()) if text != f"{i}\n"]
        expected = [str(i) for i in range(count)]
        expected_set = set(expected)
        seen: dict[str, int] = {}
        for line in lines:
            seen[line] = seen.get(line, 0) + 1
        numbers = [int(line) for line in lines if line.isdigit()]
        return {
            "executions_sent": len(by_index),
            "execute_replies": len(replies),
            "replies_ok": sum(1 for r in replies if r.get("status") == "ok"),
            "lost_replies": sum(1 for ex in by_index if not ex.replies),
            "bad_replies": bad_replies[:10],
            "execute_results": sum(len(ex.results) for ex in by_index),
            "bad_results": bad_results[:10],
            "stream_messages": len(self.streams),
            "stream_lines": len(lines),
            "lost_lines": sum(1 for line in expected if line not in seen),
            "duplicated_lines": sum(n - 1 for n in seen.values() if n > 1),
            "unexpected_lines": sum(1 for line in seen if line not in expected_set),
            "out_of_order": sum(1 for a, b in itertools.pairwise(numbers) if b < a),
            "misattributed": len(misattributed),
            "misattributed_examples": misattributed[:5],
            "stderr": self.stderr[:5],
            "in_order_exactly_once": lines == expected,
            "errors": self.errors[:10],
            "stalled": self.stalled[:10],
        }


# ---------------------------------------------------------------------- test


class PortClashes(logging.Handler):
    """Counts log records of a kernel start that lost its local port ("Address already in use")."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            text += str(record.exc_info[1])
        if "Address already in use" in text:
            self.count += 1


async def sample_loop_lag(lags: list[float], stop: asyncio.Event) -> None:
    """How late a 100 ms sleep wakes up on the server's event loop (invariant 6)."""
    while not stop.is_set():
        t = time.monotonic()
        await asyncio.sleep(0.1)
        lags.append(time.monotonic() - t - 0.1)


async def report_progress(
    kernels: list[KernelLoad], t0: float, lags: list[float], capsys: pytest.CaptureFixture[str]
) -> None:
    """A line every 30 s on the terminal: a slow run shows where it is."""
    total = N_KERNELS * N_EXECUTIONS
    while True:
        await asyncio.sleep(30)
        done = sum(1 for k in kernels for ex in k.executions.values() if ex.done.is_set())
        t = time.monotonic() - t0
        lag = max(lags[-300:], default=0.0)
        with capsys.disabled():
            print(
                f"\nload: {t:.0f} s, {done}/{total} executions, {done / t:.0f}/s, "
                f"loop lag max {1000 * lag:.0f} ms (last 30 s)",
                flush=True,
            )


async def sample_connections(host: SSHTestHost, samples: list[int], stop: asyncio.Event) -> None:
    while not stop.is_set():
        samples.append(await asyncio.to_thread(host.established_connections))
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.5)


@pytest.mark.timeout(1200)
async def test_32_kernels_1000_executions_one_connection(
    jp_fetch: Any,
    jp_ws_fetch: Any,
    jp_serverapp: Any,
    load_host: SSHTestHost,
    capsys: pytest.CaptureFixture[str],
) -> None:
    host = load_host
    await asyncio.to_thread(clean_user, host)
    assert user_processes(host.uid) == [], "leftovers of the remote user before the run"
    await asyncio.to_thread(setup_profile, host, cwd="/tmp")
    logins_before = host.accepted_logins()
    commands_before = remote_commands(host)
    rss_start = rss_mib()

    events: list[tuple[str, str, str]] = []

    def on_event(event: dict[str, Any]) -> None:
        if event.get("type") == "session":
            s = event["session"]
            events.append((s["kernel_id"], s["state"], s.get("reason", "")))

    unsubscribe = registry.subscribe(on_event)
    conn_samples: list[int] = []
    sampling = asyncio.Event()
    sampler = asyncio.ensure_future(sample_connections(host, conn_samples, sampling))
    lags: list[float] = []
    lag_sampler = asyncio.ensure_future(sample_loop_lag(lags, sampling))
    kernels: list[KernelLoad] = []
    readers: list[asyncio.Task[None]] = []
    kernel_ids: list[str] = []
    figures: dict[str, Any] = {}
    try:
        # ---- start the kernels one after the other; a start that loses its local
        # ports ("Address already in use") is counted and must not happen: picked ports
        # stay held until the kernel listens on them (ssh/forwards.free_local_ports)
        port_clashes = PortClashes()
        logging.getLogger().addHandler(port_clashes)
        jp_serverapp.log.addHandler(port_clashes)
        t0 = time.monotonic()

        async def start_one() -> str:
            body = json.dumps({"name": "remote-p"})
            resp = await jp_fetch("api", "kernels", method="POST", body=body, request_timeout=300)
            kid = str(json.loads(resp.body)["id"])
            kernel_ids.append(kid)
            return kid

        for _ in range(N_KERNELS):
            await start_one()
        for kid in kernel_ids:
            ws = await jp_ws_fetch("api", "kernels", kid, "channels", subprotocols=[WS_PROTOCOL])
            assert ws.selected_subprotocol == WS_PROTOCOL
            k = KernelLoad(kid, ws)
            kernels.append(k)
            readers.append(asyncio.ensure_future(k.read_loop()))
        await asyncio.gather(*(k.ready() for k in kernels))
        started = time.monotonic() - t0
        rss_started = rss_mib()
        samples_before_run = len(conn_samples)
        commands_at_run_start = remote_commands(host)
        lags.clear()

        # ---- every kernel runs its executions, all at once
        t1 = time.monotonic()
        progress = asyncio.ensure_future(report_progress(kernels, t1, lags, capsys))
        try:
            await asyncio.gather(*(k.run(N_EXECUTIONS, WINDOW) for k in kernels))
        finally:
            progress.cancel()
        elapsed = time.monotonic() - t1
        await asyncio.gather(*(k.settle(N_EXECUTIONS) for k in kernels))
        run_samples = conn_samples[samples_before_run:]
        commands_during_run = remote_commands(host) - commands_at_run_start
        run_lags = sorted(lags)
        rss_end = rss_mib()
        logins_during = host.accepted_logins() - logins_before
        pool = jp_serverapp.web_app.settings["remote_manager"].pool
        pool_open = pool.open_count()

        audits = {k.kernel_id: k.audit(N_EXECUTIONS) for k in kernels}
        latencies = sorted(
            ex.done_at - ex.sent for k in kernels for ex in k.executions.values() if ex.done_at
        )
        total = N_KERNELS * N_EXECUTIONS

        def tot(key: str) -> int:
            return sum(int(a[key]) for a in audits.values())

        figures = {
            "kernels": N_KERNELS,
            "executions_per_kernel": N_EXECUTIONS,
            "window": WINDOW,
            "starts_that_lost_a_port": port_clashes.count,
            "start_all_s": round(started, 1),
            "elapsed_s": round(elapsed, 1),
            "executions_per_s": round(total / elapsed, 1),
            "latency_ms_p50": round(1000 * statistics.median(latencies), 1) if latencies else None,
            "latency_ms_p99": round(1000 * latencies[int(0.99 * (len(latencies) - 1))], 1)
            if latencies
            else None,
            "executions_sent": tot("executions_sent"),
            "execute_replies": tot("execute_replies"),
            "replies_ok": tot("replies_ok"),
            "lost_replies": tot("lost_replies"),
            "execute_results": tot("execute_results"),
            "stream_messages": tot("stream_messages"),
            "stream_lines": tot("stream_lines"),
            "lost_lines": tot("lost_lines"),
            "duplicated_lines": tot("duplicated_lines"),
            "out_of_order": tot("out_of_order"),
            "misattributed": tot("misattributed"),
            "stderr_messages": sum(len(k.stderr) for k in kernels),
            "kernels_stalled": sum(1 for k in kernels if k.stalled),
            "kernels_in_order_exactly_once": sum(
                1 for a in audits.values() if a["in_order_exactly_once"]
            ),
            "event_loop_lag_ms_p50_p99_max": [
                round(1000 * run_lags[int(q * (len(run_lags) - 1))]) for q in (0.5, 0.99, 1.0)
            ]
            if run_lags
            else None,
            "ssh_connections_sampled": sorted(set(run_samples)),
            "connection_samples": len(run_samples),
            "ssh_logins": logins_during,
            # every agent call (poll, health check, start, stop) is one remote command
            "remote_commands_start": commands_at_run_start - commands_before,
            "remote_commands_run": commands_during_run,
            "remote_commands_run_per_s": round(commands_during_run / elapsed, 1),
            "session_states_seen": sorted({state for _, state, _ in events}),
            "server_rss_mib": [round(rss_start), round(rss_started), round(rss_end)],
            "server_maxrss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        }

        # ---- stop every kernel through the API
        t2 = time.monotonic()
        stopping = asyncio.Semaphore(8)  # the test client queues more than ~10 requests

        async def stop_one(kid: str) -> None:
            async with stopping:
                await jp_fetch("api", "kernels", kid, method="DELETE", request_timeout=300)

        await asyncio.gather(*(stop_one(kid) for kid in kernel_ids))
        stopped_ids = list(kernel_ids)
        kernel_ids.clear()
        with contextlib.suppress(NeverHappened):  # the figures and the verdict say what is left
            await eventually_async(
                lambda: (
                    user_processes(host.uid)
                    or remote_state_files(host)
                    or host.established_connections()
                ),
                lambda left: not left,
                timeout=30,
                interval=0.2,
            )
        figures["stop_all_s"] = round(time.monotonic() - t2, 1)
        leftover_procs = user_processes(host.uid)
        leftover_files = remote_state_files(host)
        figures["remote_processes_after_stop"] = len(leftover_procs)
        figures["remote_files_after_stop"] = len(leftover_files)
        figures["ssh_connections_after_stop"] = host.established_connections()
        with capsys.disabled():
            print("\n\nLOAD " + json.dumps(figures, indent=1), flush=True)

        # ---- the verdict
        bad = {kid: a for kid, a in audits.items() if not a["in_order_exactly_once"]}
        for kid, a in list(audits.items()):
            if a["lost_replies"] or a["bad_replies"] or a["bad_results"] or a["errors"]:
                bad[kid] = a
            if a["stalled"] or a["executions_sent"] != N_EXECUTIONS:
                bad[kid] = a
            if a["misattributed"] or a["stderr"]:
                bad[kid] = a
        assert not bad, json.dumps(bad, indent=1)[:6000]
        assert figures["executions_sent"] == total
        assert figures["execute_replies"] == total and figures["replies_ok"] == total
        assert figures["lost_replies"] == 0
        assert figures["execute_results"] == total
        assert figures["stream_lines"] == total and figures["lost_lines"] == 0
        assert figures["duplicated_lines"] == 0 and figures["out_of_order"] == 0
        assert figures["misattributed"] == 0
        assert not any(k.closed for k in kernels), "a kernel websocket closed during the run"
        assert len(run_samples) >= 2 and set(run_samples) == {1}, run_samples
        assert logins_during == 1, "one SSH login for all kernels"
        assert pool_open == 1
        # load is not an outage: never reconnecting or disconnected
        assert {s for _, s, _ in events} <= {"running", "degraded", "stopped"}, events
        assert set(stopped_ids) == {kid for kid, s, _ in events if s == "stopped"}
        assert figures["starts_that_lost_a_port"] == 0
        assert leftover_procs == [], leftover_procs
        assert leftover_files == [], leftover_files
        assert figures["ssh_connections_after_stop"] == 0
    finally:
        with contextlib.suppress(Exception):
            logging.getLogger().removeHandler(port_clashes)
            jp_serverapp.log.removeHandler(port_clashes)
        sampling.set()
        for task in (sampler, lag_sampler):
            with contextlib.suppress(BaseException):
                await task
        unsubscribe()
        for task in readers:
            task.cancel()
        for k in kernels:
            with contextlib.suppress(Exception):
                k.ws.close()
        for kid in kernel_ids:  # a failure above: do not leave kernels running
            with contextlib.suppress(Exception):
                await jp_fetch("api", "kernels", kid, method="DELETE", request_timeout=120)
        await asyncio.to_thread(clean_user, host)


# --------------------------------------------------- many kernels starting at once

ROUNDS = 10


async def test_concurrent_starts_get_distinct_local_ports(
    isolated_home: Path, load_host: SSHTestHost
) -> None:
    """32 kernels starting at once in one process (a server restoring a workspace) must
    each get five local ports of their own. jupyter_client's LocalProvisioner keeps a
    port cache for exactly this; ours must not hand one port to two kernels either.

    Only the provisioner's pre_launch runs here (KernelManager.pre_start_kernel): the
    ports are chosen there, nothing is started remotely.
    """
    from jupyter_client.manager import AsyncKernelManager

    await asyncio.to_thread(setup_profile, load_host, cwd="/tmp")
    collisions = []
    picked: set[int] = set()
    for _ in range(ROUNDS):
        managers = [AsyncKernelManager(kernel_name="remote-p") for _ in range(N_KERNELS)]
        try:
            await asyncio.gather(*(km.pre_start_kernel() for km in managers))
            ports = [port for km in managers for port in km.ports]
            picked.update(ports)
            if len(set(ports)) != len(ports):
                collisions.append(sorted(p for p in set(ports) if ports.count(p) > 1))
        finally:
            for km in managers:
                km.cleanup_connection_file()
                if km.provisioner is not None:  # lets go of the held ports
                    await km.provisioner.cleanup(restart=False)
    assert collisions == [], f"ports handed to two kernels in {len(collisions)} of {ROUNDS}"
    assert not picked & set(forwards._held), "ports still held after every kernel let go"
