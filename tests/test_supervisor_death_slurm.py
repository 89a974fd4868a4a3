"""A kernel in a Slurm job never outlives its supervisor (tests/test_supervisor_death.py's
Slurm side), on a real Slurm cluster (tests/harness/slurm_cluster.py).

The job's holder (remote/job.py) runs the supervisor on the compute node; the supervisor
killed there (SIGKILL, as the OOM killer sends it) must not leave the kernel, or what its
cells started, inside the job: the holder stops the kernel's group and tells how the
supervisor ended, and the session says so. On the code before this test's change the
kernel and its cell's child ran on in the job.

Own remote user: ``jrslurmorphan``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.harness.clients import execute, started_kernel
from tests.harness.slurm_cluster import SlurmTestCluster, slurm_unavailable
from tests.harness.slurm_sessions import clean_profile, live_processes, login_node, nothing_left
from tests.harness.sshd_host import SSHTestHost, ensure_user
from tests.harness.waiting import eventually
from tests.test_supervisor_death import CHILD, group_of, kernel_dir, pid_in, start_loner, stat_of

pytestmark = pytest.mark.skipif(bool(slurm_unavailable()), reason=str(slurm_unavailable()))

USER = "jrslurmorphan"
#: --mem: a cell's fork of the kernel (before its exec of sleep) counts twice for a moment
#: in jobacct_gather/linux's sum of RSS: the cluster's default 100 MB is too tight for it
SLURM = {"partition": "main", "time": "10", "memory": "400M"}


@pytest.fixture(scope="module")
def cluster() -> Iterator[SlurmTestCluster]:
    ensure_user(USER)
    with SlurmTestCluster(name="jrorphans", accounting=True) as c:
        yield c


@pytest.fixture(scope="module")
def login(cluster: SlurmTestCluster) -> Iterator[SSHTestHost]:
    yield from login_node(cluster, "slurm-orphans", USER)


@pytest.fixture
def profile(
    isolated_home: Path, cluster: SlurmTestCluster, login: SSHTestHost
) -> Iterator[dict[str, Any]]:
    yield from clean_profile(cluster, login, USER, SLURM)


@pytest.mark.parametrize("with_watcher", [True, False], ids=["supervisor", "supervisor+watcher"])
def test_a_killed_supervisor_leaves_nothing_of_the_kernel_in_the_job(
    profile: dict[str, Any], cluster: SlurmTestCluster, login: SSHTestHost, with_watcher: bool
) -> None:
    """SIGKILL to the supervisor (and first to whatever else is in the kernel's group but
    the cell's child: in a job the supervisor starts no watcher, its parent the holder
    sees it die): within seconds only the job's holder runs, a cell's child in a process
    group of its own gone too (the supervisor leads a session of its own, not the
    holder's); the session is dead and says how its supervisor was killed."""
    with started_kernel(profile["kernel_name"], ready_timeout=90) as (km, kc):
        [job] = cluster.squeue(USER)
        kernel, child = (int(p) for p in execute(kc, CHILD)[1].split())
        sup = pid_in(kernel_dir(login, str(km.kernel_id)) / "supervisor.pid")
        assert int(stat_of(sup)[3]) == sup  # it leads its own session, not the holder's
        start_loner(kc, sup)  # a child in a process group of its own (review s25 F6)
        doomed = [sup]
        if not with_watcher:
            doomed[:0] = [p for p in group_of(kernel) if p not in (kernel, child)]
        login.run_as_user(["kill", "-KILL", *map(str, doomed)])
        eventually(lambda: group_of(kernel), lambda left: left == [], timeout=8, interval=0.1)
        eventually(
            lambda: [p for p in live_processes(login.uid) if "sleep 100" in p or "launch.py" in p],
            lambda left: left == [],
            timeout=8,
            interval=0.1,
        )
        eventually(km.is_alive, lambda alive: not alive, timeout=60, interval=0.3)
        reason = km.provisioner.exit_reason  # type: ignore[union-attr]
        assert "the kernel's supervisor on" in reason and "was killed" in reason, reason
        if not with_watcher:  # the holder knows how
            assert "was killed by SIGKILL (kill -9, or the job's memory limit)" in reason
        assert [j.job_id for j in cluster.squeue(USER)] == [job.job_id]  # a restart may follow
    nothing_left(cluster, login, USER)
