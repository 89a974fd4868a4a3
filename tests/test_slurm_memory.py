"""A kernel's Slurm job and its memory limit, on a real Slurm cluster.

Our own processes in the job (holder, supervisor+relay, the relay's srun connector, agent
steps) are measured from /proc (``harness/job_memory.py``) against the share the warning
names (``kernels/slurm_memory.py``); a small request is warned about when saved and at
the start, a hopeless one refused; and a job jobacct_gather's OverMemoryKill killed (this
cluster has no cgroups: Slurm records FAILED 0:9, not OUT_OF_MEMORY) ends "out of memory"
with its limit. test_slurm_jobs covers task/cgroup's OUT_OF_MEMORY.

Own remote user: ``jrslurmmem``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jupyter_remote.kernels import slurm_memory
from jupyter_remote.sessions import registry
from tests.harness.cli import add_box, run_cli
from tests.harness.clients import execute, started_kernel
from tests.harness.job_memory import Sampler, job_processes
from tests.harness.servers import setup_profile
from tests.harness.slurm_cluster import SlurmTestCluster, slurm_unavailable
from tests.harness.slurm_sessions import clean, clean_profile, login_node
from tests.harness.sshd_host import SSHTestHost, ensure_user
from tests.harness.waiting import eventually

pytestmark = pytest.mark.skipif(bool(slurm_unavailable()), reason=str(slurm_unavailable()))

USER = "jrslurmmem"
SLURM = {"partition": "main", "time": "10"}


@pytest.fixture(scope="module")
def cluster() -> Iterator[SlurmTestCluster]:
    ensure_user(USER)
    with SlurmTestCluster(name="jrmemory", accounting=True) as c:
        yield c


@pytest.fixture(scope="module")
def login(cluster: SlurmTestCluster) -> Iterator[SSHTestHost]:
    yield from login_node(cluster, "slurm-memory", USER)


@pytest.fixture
def profile(
    isolated_home: Path, cluster: SlurmTestCluster, login: SSHTestHost
) -> Iterator[dict[str, Any]]:
    yield from clean_profile(cluster, login, USER, SLURM)


def test_our_share_of_a_jobs_memory_is_within_what_the_warning_says(
    profile: dict[str, Any], cluster: SlurmTestCluster
) -> None:
    """The RSS of our processes in a kernel's job (holder, supervisor+relay, the relay's
    srun connector, the biggest agent step seen during three interrupts) stays within
    slurm_memory.OUR_SHARE_MB, the figure the warning and the end's fix give."""
    with started_kernel(profile["kernel_name"], ready_timeout=90) as (km, kc):
        [job] = cluster.squeue(USER)
        execute(kc, "x = 1")
        time.sleep(1)
        steady = sorted(job_processes(job.job_id), key=lambda p: (p.step, p.pid))
        for p in steady:
            print(f"{p.step:6} {p.role:17} rss {p.rss_kb:6} kB pss {p.pss_kb:6} kB {p.command}")
        [connector_step] = {p.step for p in steady if p.role == "srun step"}
        with Sampler(job.job_id) as sampler:
            for _ in range(3):
                kc.execute("import time; time.sleep(5)")
                time.sleep(1)
                km.interrupt_kernel()  # an agent step (signal) while the connector runs
                time.sleep(1.5)
        peaks = sampler.peak_rss
        print(f"peaks (kB): {peaks}; steps {sampler.peak_step_rss}; {sampler.samples} samples")
        connector = peaks[f"step {connector_step}"]
        agent_steps = [
            v for k, v in peaks.items() if k.startswith("step ") and k != f"step {connector_step}"
        ]
        assert peaks["holder"] and peaks["supervisor+relay"] and agent_steps
        agent_step = max(agent_steps)
        ours = peaks["holder"] + peaks["supervisor+relay"] + connector + agent_step
        print(f"ours: {ours / 1024:.1f} MB (<= {slurm_memory.OUR_SHARE_MB} MB)")
        assert ours <= slurm_memory.OUR_SHARE_MB * 1024


def test_a_kernel_past_the_jobs_memory_is_dead_with_out_of_memory_and_its_limit(
    isolated_home: Path, cluster: SlurmTestCluster, login: SSHTestHost
) -> None:
    """No cgroups here: jobacct_gather's OverMemoryKill kills the batch step once its
    processes' RSS passes --mem, and Slurm records the job FAILED 0:9 (no OUT_OF_MEMORY).
    The end says out of memory with the job's limit and the fix, never that the script
    failed (the old words: "is python3 >= 3.8 on the compute node's PATH?")."""
    clean(cluster, login, USER)
    profile = setup_profile(login, cwd="/tmp", slurm={**SLURM, "memory": "300M"})
    with started_kernel(profile["kernel_name"], ready_timeout=90) as (km, kc):
        [job] = cluster.squeue(USER)
        execute(kc, "x = 1")
        kc.execute("hog = b'x' * (400 * 1024 * 1024)")  # past --mem=300M
        eventually(km.is_alive, lambda alive: not alive, timeout=90, interval=0.5)
        reason = km.provisioner.exit_reason  # type: ignore[union-attr]
        session = registry.sessions[str(km.kernel_id)]
        print(f"reason {reason!r}; sacct {cluster.sacct(job.job_id, USER)}")
        # sacct's batch step: its peak RSS (MaxRSS) past the limit; if slurmdbd has not
        # recorded it within PEAK_TRIES s, "killed by SIGKILL, most likely ... out of memory"
        assert f"job {job.job_id} ended: FAILED (" in reason, reason
        assert "ran out of memory" in reason and "memory limit of 300M" in reason
        assert "Ask for more memory" in reason
        assert "python3" not in reason
        assert session.state == "dead" and session.reason == reason
    clean(cluster, login, USER)


def test_a_small_memory_request_is_warned_when_saved_and_a_hopeless_one_refused(
    cli_env: dict[str, str], cluster: SlurmTestCluster, login: SSHTestHost
) -> None:
    """profile add (the CLI over the manager the REST handlers call): a request that
    leaves the kernel under the floor after our share is saved with the warning and its
    fix; one that cannot hold a kernel at all is refused; enough memory says nothing."""
    add_box(cli_env, login)
    assert run_cli(cli_env, "server", "test", "box", "--trust").returncode == 0
    base = ["--server", "box", "--python", login.remote_python, "--partition", "main"]
    share, least = slurm_memory.OUR_SHARE_MB, slurm_memory.WARN_BELOW_MB

    small = run_cli(cli_env, "profile", "add", "small", *base, "--mem", "200M", "--json")
    print(small.stderr)
    assert small.returncode == 0, small.stderr
    assert (
        "warning: The Slurm job asks 200 MB of memory (--mem=200M); jupyter-remote's own "
        f"processes in the job use ~{share} MB of it, which leaves the kernel ~{200 - share} MB"
    ) in small.stderr
    assert f"Ask at least {least}M." in small.stderr
    assert json.loads(small.stdout)["warnings"] == [small.stderr.strip()[len("warning: ") :]]

    per_cpu = ["--cpus", "2", "--sbatch-option=--mem-per-cpu=100M"]
    shared = run_cli(cli_env, "profile", "add", "percpu", *base, *per_cpu)
    assert shared.returncode == 0, shared.stderr
    assert "asks 200 MB of memory (--mem-per-cpu=100M x 2 CPUs)" in shared.stderr

    refused = run_cli(cli_env, "profile", "add", "tiny", *base, "--mem", "100M")
    print(refused.stderr)
    assert refused.returncode != 0
    assert "would have 100 MB of memory (--mem=100M)" in refused.stderr
    assert f"Ask at least {least}M" in refused.stderr

    fine = run_cli(cli_env, "profile", "add", "fine", *base, "--mem", "1G")
    assert fine.returncode == 0 and "warning" not in fine.stderr, fine.stderr
    listed = json.loads(run_cli(cli_env, "profile", "list", "--json").stdout)
    assert sorted(p["name"] for p in listed) == ["fine", "percpu", "small"]


def test_a_kernel_started_with_too_little_memory_is_told_so(
    isolated_home: Path, cluster: SlurmTestCluster, login: SSHTestHost
) -> None:
    """The save's answer (what REST replies) carries the warning, and the kernel's start
    tells the notebook (a notice) before the job is queued; the kernel still runs."""
    clean(cluster, login, USER)
    notices: list[str] = []
    unsubscribe = registry.subscribe(
        lambda e: notices.append(e["message"]) if e["type"] == "notice" else None
    )
    try:
        profile = setup_profile(login, cwd="/tmp", slurm={**SLURM, "memory": "250M"})
        print(profile.get("warnings"))
        assert "asks 250 MB of memory (--mem=250M)" in profile["warnings"][0]
        with started_kernel(profile["kernel_name"], ready_timeout=90) as (_km, kc):
            assert execute(kc, "print(6 * 7)")[1].strip() == "42"
            print(notices)
            assert [n for n in notices if "asks 250 MB of memory" in n] == [profile["warnings"][0]]
    finally:
        unsubscribe()
    clean(cluster, login, USER)
