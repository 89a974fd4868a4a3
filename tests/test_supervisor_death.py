"""A remote kernel never outlives its supervisor (issue 17's leftover: orphaned kernels).

Against a real sshd and real ipykernels, as the remote user ``jrorphan`` (this group's
own: every process of that user is ours to look at). The supervisor of a kernel whose
cell started a child process (``sleep``) gets SIGTERM, or SIGKILL as the OOM killer
sends it: within seconds nothing of the user runs any more, the kernel's state keeps
only its end record (no sockets, no cell files) until that end is reported, and the
notebook's notice or ``kernel list`` says that the supervisor was terminated or killed.
On the code before this test's change each of them failed: the kernel and its child
ran on as orphans.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.harness.clients import execute, started_kernel
from tests.harness.fixtures import own_user_host
from tests.harness.remote_state import (
    STATE_DIR,
    clean_remote,
    remote_state_files,
    user_processes,
)
from tests.harness.servers import setup_profile
from tests.harness.sshd_host import SSHTestHost
from tests.harness.waiting import eventually
from tests.test_kernel_ends import leave_running, remote_kernels

USER = "jrorphan"
#: a cell that starts a child in the kernel's process group and says the kernel's pid
CHILD = "import os, subprocess; p = subprocess.Popen(['sleep', '1000']); print(os.getpid(), p.pid)"
#: a cell that starts a child in a process group of its own (as a shell with job control
#: or a library's worker pool does: review s25 F6), still in the supervisor's session
LONER = (
    "import os, subprocess; print(subprocess.Popen(['sleep', '1001'], preexec_fn=os.setpgrp).pid)"
)


@pytest.fixture(scope="module")
def host() -> Iterator[SSHTestHost]:
    yield from own_user_host("orphan", USER)


@pytest.fixture
def profile(isolated_home: Path, host: SSHTestHost) -> Iterator[dict[str, Any]]:
    clean_remote(host)
    yield setup_profile(host, cwd="/tmp")
    clean_remote(host)
    host.run_as_user(["pkill", "-9", "-u", USER, "sleep"])


def kernel_dir(host: SSHTestHost, kernel_id: str) -> Path:
    return host.home / STATE_DIR / "kernels" / kernel_id


def pid_in(path: Path) -> int:
    return int(path.read_text().split()[0])


def running(host: SSHTestHost) -> list[str]:
    """The user's processes but sshd's own (the pooled SSH connection's session)."""
    return [p for p in user_processes(host.uid) if not p.split(" ", 1)[1].startswith("sshd")]


def nothing_runs(host: SSHTestHost, timeout: float = 8) -> None:
    eventually(lambda: running(host), lambda left: not left, timeout=timeout, interval=0.1)


def start_child(kc: Any) -> tuple[int, int]:
    """The kernel's pid and its cell's child's, which runs in the kernel's group."""
    kernel, child = execute(kc, CHILD)[1].split()
    return int(kernel), int(child)


def stat_of(pid: int) -> list[str]:
    """/proc/PID/stat's fields after the name (state, ppid, pgrp, session...); [] if gone."""
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return []


def start_loner(kc: Any, sup: int) -> int:
    """The pid of a cell's child in a process group of its own, in the supervisor's session."""
    loner = int(execute(kc, LONER)[1])
    fields = stat_of(loner)
    assert (int(fields[2]), int(fields[3])) == (loner, sup), fields
    return loner


def group_of(pid: int) -> list[int]:
    """Live processes of ``pid``'s process group (read from /proc as root)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[2]) == pid:
            found.append(int(stat.parent.name))
    return found


def test_sigterm_to_the_supervisor_stops_the_kernel_and_the_notebook_is_told(
    profile: dict[str, Any], host: SSHTestHost, events: list[dict[str, Any]]
) -> None:
    with started_kernel(profile["kernel_name"]) as (km, kc):
        kid = str(km.kernel_id)
        kernel, child = start_child(kc)
        assert child in group_of(kernel)
        sup = pid_in(kernel_dir(host, kid) / "supervisor.pid")
        host.run_as_user(["kill", "-TERM", str(sup)])
        nothing_runs(host)
        assert group_of(kernel) == []
        eventually(km.is_alive, lambda alive: not alive, timeout=30, interval=0.2)
        reason = km.provisioner.exit_reason  # type: ignore[union-attr]
        assert reason == (
            f"the kernel's supervisor on {host_name()} was terminated (SIGTERM); "
            "the kernel was stopped"
        ), reason
        notices = [e["message"] for e in events if e["type"] == "notice"]
        assert notices == [f"The kernel ended on the remote: {reason}."]
        assert remote_state_files(host) == []  # reported: nothing is kept
        assert running(host) == []


def test_sigkill_of_the_supervisor_takes_the_kernel_and_its_children_at_once(
    profile: dict[str, Any], host: SSHTestHost
) -> None:
    """Nobody polls the kernel: it goes with its supervisor all the same (the parent-death
    signal, the watcher for its group); `kernel list` says why, once, and nothing is
    left."""
    with started_kernel(profile["kernel_name"]) as (km, kc):
        kid = str(km.kernel_id)
        kernel, _child = start_child(kc)
        kc.stop_channels()
        leave_running(km)
    kdir = kernel_dir(host, kid)
    sockdir = Path(json.loads((kdir / "info.json").read_text())["sockdir"])
    assert sockdir.exists()
    started = time.monotonic()
    host.run_as_user(["kill", "-KILL", str(pid_in(kdir / "supervisor.pid"))])
    nothing_runs(host)
    assert time.monotonic() - started < 5
    assert group_of(kernel) == []
    listed = remote_kernels()
    assert [(k["kernel_id"], k["state"], k.get("reason")) for k in listed] == [
        (kid, "dead", killed_text())
    ]
    assert not sockdir.exists()  # the kernel's and relay's sockets went with it
    assert remote_kernels() == []
    assert remote_state_files(host) == []


def test_supervisor_and_watcher_killed_the_next_exec_reports_and_stops_the_rest(
    profile: dict[str, Any], host: SSHTestHost
) -> None:
    """The watcher killed first, then the supervisor: the kernel goes by its parent-death
    signal; what its cell started is stopped by the next agent exec, which reports it."""
    with started_kernel(profile["kernel_name"]) as (km, kc):
        kid = str(km.kernel_id)
        kernel, child = start_child(kc)
        kc.stop_channels()
        leave_running(km)
    kdir = kernel_dir(host, kid)
    sup = pid_in(kdir / "supervisor.pid")
    watchers = [str(p) for p in group_of(kernel) if p not in (kernel, child)]
    host.run_as_user(["kill", "-KILL", *watchers, str(sup)])
    eventually(lambda: group_of(kernel), lambda left: left == [child], timeout=5, interval=0.1)
    assert len(watchers) == 1, watchers
    listed = remote_kernels()
    assert [(k["kernel_id"], k["state"]) for k in listed] == [(kid, "dead")]
    assert group_of(kernel) == []
    nothing_runs(host, timeout=3)
    assert remote_kernels() == []
    assert remote_state_files(host) == []


def test_sigkill_while_attached_is_told_to_the_notebook(
    profile: dict[str, Any], host: SSHTestHost, events: list[dict[str, Any]]
) -> None:
    with started_kernel(profile["kernel_name"]) as (km, kc):
        kid = str(km.kernel_id)
        start_child(kc)
        host.run_as_user(["kill", "-KILL", str(pid_in(kernel_dir(host, kid) / "supervisor.pid"))])
        nothing_runs(host)
        eventually(km.is_alive, lambda alive: not alive, timeout=30, interval=0.2)
        reason = km.provisioner.exit_reason  # type: ignore[union-attr]
        assert reason == killed_text(), reason
        notices = [e["message"] for e in events if e["type"] == "notice"]
        assert notices == [f"The kernel ended on the remote: {reason}."]
        assert remote_state_files(host) == []


def host_name() -> str:
    import socket

    return socket.gethostname()  # the test host is this machine


def killed_text() -> str:
    return (
        f"the kernel's supervisor on {host_name()} was killed (kill -9, or the out-of-memory "
        "killer); the kernel was stopped"
    )


def test_a_kernel_left_running_by_a_dead_supervisor_is_stopped_by_the_next_exec(
    profile: dict[str, Any], host: SSHTestHost
) -> None:
    """A kernel without the parent-death signal (as on macOS, or started by an older
    agent) whose supervisor and watcher were killed runs on unsupervised: the next
    `kernel list` says it is dead, and why, and stops it and what its cell started."""
    with started_kernel(profile["kernel_name"]) as (km, kc):
        kid = str(km.kernel_id)
        kernel, child = start_child(kc)
        execute(kc, "import ctypes; ctypes.CDLL(None).prctl(1, 0, 0, 0, 0)")  # PDEATHSIG off
        kc.stop_channels()
        leave_running(km)
    sup = pid_in(kernel_dir(host, kid) / "supervisor.pid")
    watchers = [str(p) for p in group_of(kernel) if p not in (kernel, child)]
    host.run_as_user(["kill", "-KILL", *watchers, str(sup)])
    time.sleep(1)
    assert sorted(group_of(kernel)) == sorted([kernel, child])  # orphans, unsupervised
    listed = remote_kernels()
    assert [(k["kernel_id"], k["state"], k.get("reason")) for k in listed] == [
        (kid, "dead", killed_text())
    ]
    assert group_of(kernel) == []
    nothing_runs(host, timeout=3)
    assert remote_kernels() == []
    assert remote_state_files(host) == []


@pytest.mark.parametrize("end", ["stop", "sigterm", "sigkill"])
def test_a_cells_child_in_a_process_group_of_its_own_goes_with_the_kernel(
    profile: dict[str, Any], host: SSHTestHost, end: str
) -> None:
    """Review s25 F6: a cell's child that left the kernel's process group (still in the
    supervisor's session) goes too: at a Stop, at SIGTERM to the supervisor, and after
    its SIGKILL by the next agent exec (the watcher stops the kernel's group only).
    On the code before, it ran on in each case."""
    with started_kernel(profile["kernel_name"]) as (km, kc):
        kid = str(km.kernel_id)
        kdir = kernel_dir(host, kid)
        sup = pid_in(kdir / "supervisor.pid")
        kernel, _child = start_child(kc)
        loner = start_loner(kc, sup)
        if end == "stop":
            km.shutdown_kernel(now=True)
        else:
            kc.stop_channels()
            leave_running(km)
            host.run_as_user(["kill", "-TERM" if end == "sigterm" else "-KILL", str(sup)])
            eventually(lambda: group_of(kernel), lambda left: left == [], timeout=8, interval=0.1)
    if end == "sigkill":
        assert stat_of(loner), "the watcher stops the group only: the next exec does the rest"
        assert [(k["kernel_id"], k.get("reason")) for k in remote_kernels()] == [
            (kid, killed_text())
        ]
    nothing_runs(host)
    if end == "sigterm":
        assert [k["kernel_id"] for k in remote_kernels()] == [kid]  # reported once
    assert remote_kernels() == []
    assert remote_state_files(host) == []
