"""What the Slurm kernel tests share: a login node, a clean start, and "nothing left" on
both nodes.

Called by tests/test_slurm_kernels.py, test_slurm_jobs.py and test_supervisor_death_slurm.py
(each with its own user and its own module-scoped cluster from ``slurm_cluster.py``). The compute
node shares this machine's file system and process table (harness gotcha 10), so the
user's state, /tmp directories and processes are read here directly.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from jupyter_remote import runtime

from .remote_state import STATE_DIR
from .servers import setup_profile
from .slurm_cluster import SlurmTestCluster
from .sshd_host import SSHTestHost
from .waiting import eventually


def clean(cluster: SlurmTestCluster, host: SSHTestHost, user: str) -> None:
    """No job, process or state of USER from an earlier test."""
    cluster.run_as(user, ["scancel", "-u", user])
    eventually(lambda: cluster.squeue(user), lambda jobs: jobs == [], timeout=30, interval=0.2)
    host.run_as_user(["rm", "-rf", str(host.home / STATE_DIR), *user_tmp(host.uid)])


def login_node(cluster: SlurmTestCluster, name: str, user: str) -> Iterator[SSHTestHost]:
    """The cluster's login node for USER: an sshd whose sessions reach the cluster's
    commands (a test module's module-scoped ``login`` fixture yields from it)."""
    with SSHTestHost(name=name, user=user, extra_config=cluster.sshd_config()) as host:
        yield host


def clean_profile(
    cluster: SlurmTestCluster, login: SSHTestHost, user: str, slurm: dict[str, Any]
) -> Iterator[dict[str, Any]]:
    """A Slurm profile on LOGIN with nothing of USER's before or after the test (a test
    module's ``profile`` fixture yields from it)."""
    clean(cluster, login, user)
    yield setup_profile(login, cwd="/tmp", slurm=slurm)
    clean(cluster, login, user)


def user_tmp(uid: int) -> list[str]:
    """Our private directories of the user in /tmp (the node's /tmp is this machine's)."""
    return sorted(
        str(p)
        for p in Path("/tmp").iterdir()
        if p.name.startswith("jr-") and p.lstat().st_uid == uid
    )


def leftovers(cluster: SlurmTestCluster, host: SSHTestHost, user: str) -> dict[str, Any]:
    """What of USER is left on the login and compute nodes (one file system here)."""
    state = host.home / STATE_DIR
    return {
        "jobs": [(j.job_id, j.state) for j in cluster.squeue(user)],
        "state": sorted(str(p) for p in state.rglob("*")) if state.exists() else [],
        "tmp": user_tmp(host.uid),
        "processes": live_processes(host.uid),
    }


def live_processes(uid: int) -> list[str]:
    """The user's processes (not zombies, not sshd's session processes)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.stat(f"/proc/{entry}").st_uid != uid:
                continue
            stat = Path(f"/proc/{entry}/stat").read_text()
            args = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        comm = stat[stat.find("(") + 1 : stat.rfind(")")]
        if stat[stat.rfind(")") + 2] != "Z" and comm != "sshd":
            found.append(f"{entry} {args[:120]}")
    return found


def nothing_left(
    cluster: SlurmTestCluster, host: SSHTestHost, user: str, timeout: float = 30
) -> None:
    """Eventually no job, state file, /tmp directory or process of USER."""
    empty: dict[str, list[Any]] = {"jobs": [], "state": [], "tmp": [], "processes": []}
    eventually(
        lambda: leftovers(cluster, host, user),
        lambda left: left == empty,
        timeout=timeout,
        interval=0.3,
        what="nothing of the user left on the login and compute nodes",
    )


def on_ssh_loop(coro_factory: Any, timeout: float = 60) -> Any:
    """Run a coroutine on the extension's SSH loop (where sessions live) from a test."""
    assert runtime._loop is not None
    return asyncio.run_coroutine_threadsafe(coro_factory(), runtime._loop).result(timeout)
