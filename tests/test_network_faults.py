"""Sessions survive the network (issue 4): a real sshd in a network namespace whose
link we cut (veth down), drop silently (nftables) and restore.

Standalone jupyter_client KernelManager on a profile pointing at the namespace
host; the session state comes from ``registry.sessions[kernel_id]`` (and its
events, for timings). Keepalives are shortened for these tests (2 s x 2), so a
silent link is noticed within interval * (count_max + 1) = 6 s plus slack: asyncssh
gives up when a keepalive would be the (count_max + 1)-th unanswered one.

No output lost: the outages hit a cell that prints a line a second for 30 s;
every line must arrive once, in order, with the execute reply, whatever the
outage's length (the relay beside the kernel keeps what the kernel sends while
the link is down and the local side resumes from the last message it has).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from jupyter_client import KernelManager
from jupyter_client.blocking import BlockingKernelClient
from traitlets.config import Config

from jupyter_remote import runtime
from jupyter_remote.sessions import registry
from jupyter_remote.sessions.roster import Reconnect
from tests.harness.clients import stream_lines
from tests.harness.netns_host import NetnsHost, netns_unavailable
from tests.harness.remote_state import clean_remote, remote_kernel_processes
from tests.harness.servers import setup_profile
from tests.harness.waiting import eventually

KEEPALIVE_INTERVAL = 2.0
KEEPALIVE_COUNT_MAX = 2
#: asyncssh closes the link on the (count_max + 1)-th silent keepalive tick
KEEPALIVE_WINDOW = KEEPALIVE_INTERVAL * (KEEPALIVE_COUNT_MAX + 1)
DETECT_SLACK = 2.0
RECOVER_WITHIN = 3.0  # running again within 3 s of the link's return (issue 4)


def report(line: str) -> None:
    """Measured times: printed (pytest -s) and collected for the summary at the end."""
    print(line, flush=True)
    _measurements.append(line)


_measurements: list[str] = []


# ------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def nhost() -> Iterator[NetnsHost]:
    reason = netns_unavailable()
    if reason:
        pytest.skip(reason)
    with NetnsHost(name="netns") as host:
        yield host
    if _measurements:
        print("\n" + "\n".join(_measurements))


@pytest.fixture
def short_keepalives() -> Iterator[None]:
    """Short SSH keepalives for connections opened inside the test; restored after."""
    pool = runtime.current_context().pool
    saved = pool.settings
    pool.settings = dataclasses.replace(
        saved, keepalive_interval=KEEPALIVE_INTERVAL, keepalive_count_max=KEEPALIVE_COUNT_MAX
    )
    saved_policy = registry.reconnect
    registry.reconnect = Reconnect(**vars(saved_policy))  # a copy: tuning it here cannot leak
    try:
        yield
    finally:
        pool.settings = saved
        registry.reconnect = saved_policy


@dataclass
class Timeline:
    """Session state changes of one kernel, as the registry emits them (SSH loop thread)."""

    kernel_id: str
    events: list[tuple[float, str, str]] = field(default_factory=list)
    cond: threading.Condition = field(default_factory=threading.Condition)

    def __call__(self, event: dict[str, Any]) -> None:
        if event.get("type") != "session":
            return
        session = event["session"]
        if session.get("kernel_id") != self.kernel_id:
            return
        with self.cond:
            self.events.append((time.monotonic(), session["state"], session.get("reason", "")))
            self.cond.notify_all()

    def wait_for(
        self, states: set[str], after: float, timeout: float, label: str = ""
    ) -> tuple[float, str]:
        """First (time, reason) of a change into STATES at or after AFTER; fails naming
        every change seen since AFTER (seconds after it, state, reason)."""
        changes = eventually(
            lambda: [(t - after, s, r) for t, s, r in self.events if t >= after],
            lambda seen: any(s in states for _, s, _ in seen),
            timeout=timeout,
            wake=self.cond,
            what=f"{label}{': ' if label else ''}a change into {' or '.join(sorted(states))}",
        )
        t, reason = next((t, r) for t, s, r in changes if s in states)
        return after + t, reason

    def since(self, after: float) -> list[str]:
        with self.cond:
            return [f"{t - after:+.2f}s {s} {r}".strip() for t, s, r in self.events if t >= after]


class AliveWatch:
    """Samples km.is_alive() once a second in a thread: invariant 3 says it stays True."""

    def __init__(self, km: KernelManager) -> None:
        self.km = km
        self.samples: list[tuple[float, bool]] = []
        self.errors: list[BaseException] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="alive-watch", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.samples.append((time.monotonic(), self.km.is_alive()))
            except BaseException as exc:
                self.errors.append(exc)
            self._stop.wait(1.0)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(60)

    @property
    def dead_samples(self) -> list[float]:
        return [t for t, alive in self.samples if not alive]


@dataclass
class Kernel:
    km: KernelManager
    kc: BlockingKernelClient
    timeline: Timeline
    host: NetnsHost

    @property
    def kernel_id(self) -> str:
        return str(self.km.kernel_id)

    @property
    def session(self) -> Any:
        return registry.sessions.get(self.kernel_id)

    def state(self) -> str:
        session = self.session
        return session.state if session is not None else "gone"

    def on_ssh_loop(self, coro_factory: Callable[[], Any], timeout: float = 30) -> Any:
        assert runtime._loop is not None
        return asyncio.run_coroutine_threadsafe(coro_factory(), runtime._loop).result(timeout)


@pytest.fixture
def provisioner_config() -> dict[str, Any]:
    """SSHProvisioner traits for the kernel of ``nkernel`` (a test may override this)."""
    return {}


@pytest.fixture
def nkernel(
    isolated_home: Path,
    nhost: NetnsHost,
    short_keepalives: None,
    provisioner_config: dict[str, Any],
) -> Iterator[Kernel]:
    clean_remote(nhost)  # nhost's user is ours alone: this touches no one else's kernels
    profile = setup_profile(nhost, cwd="/tmp")
    km = KernelManager(
        kernel_name=profile["kernel_name"],
        config=Config({"SSHProvisioner": provisioner_config}),
    )
    km.start_kernel()
    unsubscribe = registry.subscribe(timeline := Timeline(str(km.kernel_id)))
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        assert registry.sessions[str(km.kernel_id)].state == "running"
        yield Kernel(km, kc, timeline, nhost)
    finally:
        unsubscribe()
        kc.stop_channels()
        nhost.undrop()
        nhost.restore()
        nhost.ensure_pristine()  # original host key, sshd running
        with contextlib.suppress(Exception):
            if km.has_kernel:
                km.shutdown_kernel(now=True)
        clean_remote(nhost)


# ------------------------------------------------------------------- helpers


def reply_to(kc: BlockingKernelClient, code: str, timeout: float = 60, **exprs: str) -> Any:
    """Execute CODE; the shell reply's content with ``user_expressions`` EXPRS evaluated.

    Reads only the shell channel (output is checked by ``cell_output``).
    """
    msg_id = kc.execute(code, user_expressions=exprs)
    deadline = time.monotonic() + timeout
    while True:
        reply = kc.get_shell_msg(timeout=max(0.1, deadline - time.monotonic()))
        if reply["parent_header"].get("msg_id") == msg_id:
            content = reply["content"]
            assert content["status"] == "ok", content
            return {
                name: value.get("data", {}).get("text/plain", value)
                for name, value in content["user_expressions"].items()
            }


def define_x(k: Kernel) -> str:
    """x = 42 in the kernel; returns the kernel's pid."""
    return str(reply_to(k.kc, "import os; x = 42", pid="os.getpid()")["pid"])


def until_running(kc: BlockingKernelClient, msg_id: str, timeout: float = 60) -> float:
    """Read iopub until the kernel's execute_input of request MSG_ID (the kernel has
    taken the request and runs it); returns when it arrived. Other messages are skipped:
    called before the cell prints anything."""
    deadline = time.monotonic() + timeout
    while True:
        msg = kc.get_iopub_msg(timeout=max(0.1, deadline - time.monotonic()))
        if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "execute_input":
            return time.monotonic()


def assert_x_intact(k: Kernel, pid: str) -> None:
    values = reply_to(k.kc, "", x="x", pid="os.getpid()")
    assert values == {"x": "42", "pid": pid}, "variables lost or kernel replaced"


PRINTING_CELL = """
import time
for i in range(30):
    print(f"line {i}", flush=True)
    time.sleep(1)
y = 7
"""
EXPECTED_LINES = [f"line {i}" for i in range(30)]


def cell_output(kc: BlockingKernelClient, msg_id: str, timeout: float) -> tuple[list[str], Any]:
    """Every stream line of MSG_ID until its status idle, and its execute reply."""
    deadline = time.monotonic() + timeout
    lines = stream_lines(kc, msg_id, timeout)
    while True:
        reply = kc.get_shell_msg(timeout=max(0.1, deadline - time.monotonic()))
        if reply["parent_header"].get("msg_id") == msg_id:
            return lines, reply["content"]


def outage_then_recover(
    k: Kernel,
    *,
    start: Callable[[], None],
    end: Callable[[], None],
    seconds: float,
    label: str,
    printing: bool = True,
) -> tuple[float, float]:
    """Fault for SECONDS, restore; returns (detection, recovery) times in seconds.

    With PRINTING, the fault starts 3 s into a cell that prints a line a second
    for 30 s; afterwards every line must have arrived once, in order, and the reply.
    """
    pid = define_x(k)
    watch = AliveWatch(k.km)
    try:
        msg_id = k.kc.execute(PRINTING_CELL) if printing else ""
        time.sleep(3 if printing else 0)
        t_fault = time.monotonic()
        start()
        hit = k.timeline.wait_for({"reconnecting"}, t_fault, KEEPALIVE_WINDOW + 30, label)
        detected = hit[0] - t_fault
        assert k.state() == "reconnecting", k.timeline.since(t_fault)
        time.sleep(max(0.0, t_fault + seconds - time.monotonic()))
        assert k.state() == "reconnecting", k.timeline.since(t_fault)
        t_back = time.monotonic()
        end()
        hit = k.timeline.wait_for({"running", "disconnected"}, t_back, 60, label)
        recovered = hit[0] - t_back
        report(
            f"{label}: reconnecting {detected:.2f} s after the fault, "
            f"running {recovered:.2f} s after restore; timeline {k.timeline.since(t_fault)}"
        )
        assert k.state() == "running", k.timeline.since(t_fault)
        if printing:
            lines, reply = cell_output(k.kc, msg_id, timeout=60)
            report(f"{label}: {len(lines)} of 30 lines after the outage, reply {reply['status']}")
            assert lines == EXPECTED_LINES, "output lost, repeated or out of order"
            assert reply["status"] == "ok", reply
            assert reply_to(k.kc, "", y="y") == {"y": "7"}
        assert_x_intact(k, pid)
    finally:
        watch.stop()
    assert watch.errors == [], watch.errors
    assert watch.dead_samples == [], "is_alive() was False during a mere outage"
    assert len(watch.samples) >= seconds / 2
    assert k.km.is_alive()
    return detected, recovered


# --------------------------------------------------------------------- tests


def test_link_cut_10s_during_printing_cell(nkernel: Kernel) -> None:
    host = nkernel.host
    detected, recovered = outage_then_recover(
        nkernel, start=host.cut, end=host.restore, seconds=10, label="link cut 10 s"
    )
    assert detected <= KEEPALIVE_WINDOW + DETECT_SLACK
    assert recovered <= RECOVER_WITHIN


def test_silent_drop_15s_during_printing_cell(nkernel: Kernel) -> None:
    host = nkernel.host
    detected, recovered = outage_then_recover(
        nkernel, start=host.drop, end=host.undrop, seconds=15, label="silent drop 15 s"
    )
    assert detected <= KEEPALIVE_WINDOW + DETECT_SLACK
    assert recovered <= RECOVER_WITHIN


def test_link_cut_120s_during_printing_cell(nkernel: Kernel) -> None:
    host = nkernel.host
    detected, recovered = outage_then_recover(
        nkernel, start=host.cut, end=host.restore, seconds=120, label="link cut 120 s"
    )
    assert detected <= KEEPALIVE_WINDOW + DETECT_SLACK
    assert recovered <= RECOVER_WITHIN


def test_sshd_restarted_recovers(nkernel: Kernel) -> None:
    host = nkernel.host
    pid = define_x(nkernel)
    t0 = time.monotonic()
    host.stop()
    hit = nkernel.timeline.wait_for({"reconnecting"}, t0, KEEPALIVE_WINDOW + DETECT_SLACK)
    detected = hit[0] - t0
    t_back = time.monotonic()
    host.start()
    hit = nkernel.timeline.wait_for({"running", "disconnected"}, t_back, 60)
    recovered = hit[0] - t_back
    report(
        f"sshd restart: reconnecting {detected:.2f} s after stop, running {recovered:.2f} s "
        f"after start; timeline {nkernel.timeline.since(t0)}"
    )
    assert nkernel.state() == "running"
    assert recovered <= RECOVER_WITHIN
    assert_x_intact(nkernel, pid)
    assert nkernel.km.is_alive()


def test_kernel_killed_on_remote_is_dead_not_reconnecting(nkernel: Kernel) -> None:
    host = nkernel.host
    pid = define_x(nkernel)
    t0 = time.monotonic()
    host.run_as_user(["kill", "-9", pid])
    eventually(nkernel.km.is_alive, lambda alive: not alive, timeout=30, interval=0.2)
    dead_after = time.monotonic() - t0
    report(f"kernel killed: is_alive() False {dead_after:.2f} s after kill -9")
    assert "SIGKILL" in nkernel.km.provisioner.exit_reason  # type: ignore[union-attr]
    assert nkernel.state() != "reconnecting"
    assert not [s for _, s, _ in nkernel.timeline.events if s == "reconnecting"]
    assert remote_kernel_processes(host) == []


def test_impostor_host_key_at_reconnect(nkernel: Kernel) -> None:
    """Cut, swap in a new host key, restore: disconnected (host key), no retry storm."""
    host = nkernel.host
    pid = define_x(nkernel)
    t0 = time.monotonic()
    host.cut()
    hit = nkernel.timeline.wait_for({"reconnecting"}, t0, KEEPALIVE_WINDOW + DETECT_SLACK)
    host.restart_with_new_host_key()
    log_mark = host.log_size()
    t_back = time.monotonic()
    host.restore()
    hit = nkernel.timeline.wait_for({"disconnected", "running"}, t_back, 30)
    refused_after, reason = hit[0] - t_back, hit[1]
    time.sleep(max(0.0, t_back + 10 - time.monotonic()))
    tcp, ssh = host.connection_attempts(log_mark), host.ssh_attempts(log_mark)
    report(
        f"impostor key: disconnected {refused_after:.2f} s after restore "
        f"({reason!r}); in 10 s sshd saw {tcp} TCP connections, {ssh} SSH handshakes; "
        f"timeline {nkernel.timeline.since(t0)}"
    )
    assert nkernel.state() == "disconnected", nkernel.timeline.since(t0)
    assert "host key" in reason.lower(), reason
    assert ssh <= 2, host.log_text()[-3000:]
    assert tcp <= 3, host.log_text()[-3000:]
    assert nkernel.km.is_alive(), "disconnected is not dead (invariant 3)"

    # the user removes the doubt (here: the real key comes back) and presses Retry
    host.restore_original_host_key()
    t_retry = time.monotonic()
    session = nkernel.session
    nkernel.on_ssh_loop(session.retry)
    hit = nkernel.timeline.wait_for({"running"}, t_retry, 30)
    report(f"impostor key: Retry with the real key back: running {hit[0] - t_retry:.2f} s later")
    assert_x_intact(nkernel, pid)


def test_silent_drop_undropped_at_the_probes_worst_phase(nkernel: Kernel) -> None:
    """Undrop at the worst moment for the reconnect loop's TCP probe.

    While reconnecting, the session first probes every 0.15 s for 10 s (one SYN each:
    linked.FAST_PROBE_*), then with a 3 s connect timeout, sleeping
    ``tcp_probe_interval`` between probes: that later phase has a worst moment, looked
    for here (its pattern appears after the fast phase). Under a silent drop Linux
    sends a probe's SYN at p, p+1 and p+3 s; the next probe starts near p+4. Undropping just after
    the p+1 retransmit leaves the probe to the p+3 one, which lands right on its
    3 s timeout: if the SYN-ACK wins, running ~2 s after undrop; if the timeout
    wins, only after the next probe, ~3.2 s (over the 3 s bound).
    """
    host = nkernel.host
    pid = define_x(nkernel)
    t0 = time.monotonic()
    host.drop()
    hit = nkernel.timeline.wait_for({"reconnecting"}, t0, KEEPALIVE_WINDOW + DETECT_SLACK)
    syn_times: list[float] = []
    seen = host.syns_dropped()
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        n = host.syns_dropped()
        if n != seen:
            syn_times.extend([time.monotonic()] * (n - seen))
            seen = n
            gaps = [b - a for a, b in itertools.pairwise(syn_times)]
            # ... p+3 (2 s gap) | p' (1 s) | p'+1 (1 s): now
            if len(gaps) >= 3 and gaps[-3] > 1.6 and gaps[-2] < 1.4 and gaps[-1] < 1.4:
                break
        time.sleep(0.01)
    syns = [round(t - t0, 2) for t in syn_times]
    assert time.monotonic() < deadline, f"no probe pattern in the dropped SYNs at {syns}"
    time.sleep(0.1)
    t_back = time.monotonic()
    host.undrop()
    hit = nkernel.timeline.wait_for({"running", "disconnected"}, t_back, 30)
    recovered = hit[0] - t_back
    report(
        f"silent drop, undrop 0.1 s after a probe's first SYN retransmit: dropped SYNs at "
        f"{syns} s; running {recovered:.2f} s after undrop"
    )
    assert nkernel.state() == "running"
    assert_x_intact(nkernel, pid)
    assert recovered <= RECOVER_WITHIN


@pytest.mark.parametrize("provisioner_config", [{"output_buffer_mb": 1}])
def test_output_over_the_buffer_bound_leaves_a_visible_marker(nkernel: Kernel) -> None:
    """4 MB printed while the link is down, 1 MB kept: the oldest output is dropped,
    the notebook gets a marker saying so, the newest output and the reply arrive."""
    host = nkernel.host
    pid = define_x(nkernel)
    sent = time.monotonic()
    msg_id = nkernel.kc.execute(
        "import time\ntime.sleep(4)\n"
        "for i in range(400):\n    print(f'{i:03d} ' + 'x' * 10000, flush=True)"
    )
    # cut once the kernel runs the cell (a fixed wait could end while the request was
    # still on its way: it would run after the link's return, nothing dropped)
    t0 = until_running(nkernel.kc, msg_id)
    host.cut()  # the cell prints about 4 s later, into the cut link
    nkernel.timeline.wait_for({"reconnecting"}, t0, KEEPALIVE_WINDOW + DETECT_SLACK)
    time.sleep(max(0.0, t0 + 12 - time.monotonic()))
    host.restore()
    nkernel.timeline.wait_for({"running"}, t0, 60)
    text, stderr, deadline = "", "", time.monotonic() + 60
    while True:
        msg = nkernel.kc.get_iopub_msg(timeout=max(0.1, deadline - time.monotonic()))
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "stream":
            if msg["content"]["name"] == "stderr":
                stderr += msg["content"]["text"]
            else:
                text += msg["content"]["text"]
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            break
    numbers = [int(line[:3]) for line in text.splitlines()]
    report(
        f"buffer bound: running {t0 - sent:.3f} s after the request; {len(numbers)} of 400 "
        f"lines kept; marker {stderr.strip()!r}"
    )
    assert numbers == sorted(set(numbers)), "kept output out of order or repeated"
    assert numbers and numbers[-1] == 399, "the newest output must be kept"
    assert len(numbers) < 400
    assert "were dropped while the link was down" in stderr
    assert_x_intact(nkernel, pid)


def test_request_sent_while_link_is_down_runs_once_after(nkernel: Kernel) -> None:
    """A cell run while reconnecting waits for the link, then runs exactly once."""
    host = nkernel.host
    define_x(nkernel)
    reply_to(nkernel.kc, "n = 0")
    t0 = time.monotonic()
    host.cut()
    nkernel.timeline.wait_for({"reconnecting"}, t0, KEEPALIVE_WINDOW + DETECT_SLACK)
    msg_id = nkernel.kc.execute("n += 1\nprint('ran', n)")
    time.sleep(3)
    host.restore()
    lines, reply = cell_output(nkernel.kc, msg_id, timeout=60)
    assert lines == ["ran 1"]
    assert reply["status"] == "ok"
    assert reply_to(nkernel.kc, "", n="n") == {"n": "1"}
