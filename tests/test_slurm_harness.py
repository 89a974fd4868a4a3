"""Self-test of the Slurm test cluster (tests/harness/slurm_cluster.py): real slurmctld, slurmd
in a network namespace, munged, Debian's Slurm 22.05 client commands as a test user."""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import asyncssh
import pytest

from tests.harness.slurm_cluster import (
    WORK_ROOT,
    SlurmTestCluster,
    cgroups_unavailable,
    slurm_unavailable,
)
from tests.harness.sshd_host import SSHTestHost, ensure_user
from tests.harness.waiting import eventually

#: A user of its own: no other test group kills or counts its processes.
USER = "jrslurm"

pytestmark = pytest.mark.skipif(bool(slurm_unavailable()), reason=str(slurm_unavailable()))


@pytest.fixture(scope="module")
def user() -> str:
    ensure_user(USER)
    return USER


@pytest.fixture(scope="module")
def cluster(user: str) -> Iterator[SlurmTestCluster]:
    started = time.monotonic()
    with SlurmTestCluster(name="jrharness", accounting=True) as c:
        print(f"cluster up in {time.monotonic() - started:.2f} s: {c}")
        yield c


@pytest.fixture(scope="module")
def expiring_job(cluster: SlurmTestCluster) -> str:
    """A root job pushed over its time limit at once; slurmctld's 30 s time-limit sweep
    ends it while the other tests run (test_time_limit_ends_the_job_as_timeout, last)."""
    job = cluster.sbatch("root", ["-p", "main", "-t", "5", "-J", "expiring", "--wrap", "sleep 600"])
    cluster.wait_job_state(job, ["RUNNING"])
    cluster.expire(job)
    return job


def _running_job(cluster: SlurmTestCluster, user: str, *args: str) -> str:
    job = cluster.sbatch(user, [*args, "-t", "5", "--wrap", "sleep 600"])
    cluster.wait_job_state(job, ["RUNNING"])
    return job


def test_batch_job_runs_on_the_compute_node(
    cluster: SlurmTestCluster, user: str, expiring_job: str
) -> None:
    node = cluster.nodes[0]
    out = Path(f"/home/{user}/jr-harness-{secrets.token_hex(4)}.out")
    script = (
        'echo "host=$(hostname) job=$SLURM_JOB_ID node=$SLURMD_NODENAME user=$(id -un)"; '
        "ip -o -4 addr show scope global"
    )
    job = cluster.sbatch(user, ["-o", str(out), "--wrap", script])
    try:
        assert cluster.wait_job_state(job, ["COMPLETED", "FAILED"]) == "COMPLETED"
        text = out.read_text()
    finally:
        out.unlink(missing_ok=True)
    print(text)
    assert f"host={node.name} job={job} node={node.name} user={user}" in text
    # the job saw the node's own address, which this (login) machine does not have
    assert re.search(rf"\b{re.escape(node.veth_peer)}\s+inet {re.escape(node.address)}/30", text)
    login = subprocess.run(["ip", "-o", "-4", "addr"], capture_output=True, text=True).stdout
    assert f"{node.address}/" not in login
    assert f"{node.host_address}/" in login
    info = cluster.job_info(job)
    assert (info["UserId"].split("(")[0], info["NodeList"], info["Partition"]) == (
        user,
        node.name,
        "main",
    )


def test_tiny_partition_keeps_a_second_job_pending_and_scancel_empties_squeue(
    cluster: SlurmTestCluster, user: str
) -> None:
    first = _running_job(cluster, user, "-p", "tiny")
    second = cluster.sbatch(user, ["-p", "tiny", "-t", "5", "--wrap", "sleep 600"])
    eventually(
        lambda: cluster.squeue(user),
        lambda jobs: (
            {j.job_id: (j.state, j.reason) for j in jobs}.get(second) == ("PENDING", "Resources")
        ),
        timeout=20,
        interval=0.1,
        what=f"job {second} pending for Resources",
    )
    jobs = {j.job_id: j for j in cluster.squeue(user)}
    print(jobs)
    assert (jobs[first].state, jobs[first].partition, jobs[first].nodes) == (
        "RUNNING",
        "tiny",
        cluster.nodes[0].name,
    )
    # the main partition still has CPUs: tiny's single CPU is what keeps it waiting
    assert int(cluster.job_info(first)["NumCPUs"]) == 1

    cluster.run_as(user, ["scancel", first, second], check=True)
    eventually(lambda: cluster.squeue(user), lambda jobs: jobs == [], timeout=20, interval=0.1)
    assert cluster.job_info(second)["JobState"] == "CANCELLED"


def test_srun_overlap_from_the_login_node_carries_stdin_and_stdout(
    cluster: SlurmTestCluster, user: str
) -> None:
    job = _running_job(cluster, user)
    try:
        data = secrets.token_bytes(256 * 1024)
        argv = ["srun", f"--jobid={job}", "--overlap", "sh", "-c"]
        step = 'echo "node=$(hostname) job=$SLURM_JOB_ID step=$SLURM_STEP_ID" >&2; exec cat'
        proc = cluster.run_as(user, [*argv, step], input=data, text=False)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout == data
        assert f"node={cluster.nodes[0].name} job={job}" in proc.stderr.decode()

        # interactive: each line comes back before stdin closes (how a kernel will talk)
        srun = cluster.popen_as(
            user,
            ["srun", f"--jobid={job}", "--overlap", "--unbuffered", "cat"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert srun.stdin is not None and srun.stdout is not None
        for i in range(3):
            line = f"ping {i} {secrets.token_hex(8)}\n".encode()
            srun.stdin.write(line)
            srun.stdin.flush()
            assert srun.stdout.readline() == line
        srun.stdin.close()
        assert srun.wait(30) == 0, srun.stderr.read() if srun.stderr else ""
        srun.stdout.close()
        if srun.stderr:
            srun.stderr.close()
    finally:
        cluster.run_as(user, ["scancel", job], check=True)


def test_commands_over_ssh_find_the_cluster(cluster: SlurmTestCluster, user: str) -> None:
    """An sshd with ``SetEnv SLURM_CONF=...`` (cluster.sshd_config()): sbatch, squeue and
    ``srun --overlap`` in SSH sessions of the test user, as the product will run them."""
    with SSHTestHost(
        name="slurm-login", user=user, remote_env=False, extra_config=cluster.sshd_config()
    ) as host:

        async def main() -> tuple[str, str, bytes]:
            known = asyncssh.import_known_hosts(host.known_hosts_entry() + "\n")
            async with asyncssh.connect(
                host.host,
                host.port,
                username=host.user,
                known_hosts=known,
                client_keys=[str(host.user_key)],
                agent_path=None,
                config=[],
                connect_timeout=10,
            ) as conn:
                submit = await conn.run(
                    "sbatch --parsable -t 5 --wrap 'sleep 600'", check=True, timeout=30
                )
                job = str(submit.stdout).strip()
                await asyncio.to_thread(cluster.wait_job_state, job, ["RUNNING"])
                queue = await conn.run("squeue --me -h -o '%i %T'", check=True, timeout=30)
                step = await conn.run(
                    shlex.join(["srun", f"--jobid={job}", "--overlap", "cat"]),
                    input=b"\x00over ssh\xff\n",
                    encoding=None,
                    check=True,
                    timeout=30,
                )
                await conn.run(f"scancel {job}", check=True, timeout=30)
                assert isinstance(step.stdout, bytes)
                return job, str(queue.stdout), step.stdout

        job, queue, echoed = asyncio.run(main())
    assert f"{job} RUNNING" in queue
    assert echoed == b"\x00over ssh\xff\n"
    assert cluster.wait_job_state(job, ["CANCELLED"]) == "CANCELLED"


@pytest.mark.skipif(bool(cgroups_unavailable()), reason=str(cgroups_unavailable()))
def test_out_of_memory_and_node_fail_with_cgroups(user: str) -> None:
    with SlurmTestCluster(name="jrcgroups", cgroups=True, accounting=True) as c:
        node = c.nodes[0]
        hog = "python3 -c 'b = bytearray(400 * 1024 * 1024); import time; time.sleep(60)'"
        oom = c.sbatch(user, ["-t", "5", "--mem=50M", "--wrap", hog])
        assert c.wait_job_state(oom, ["OUT_OF_MEMORY", "FAILED", "COMPLETED"]) == "OUT_OF_MEMORY"
        assert c.job_info(oom)["Reason"] == "OutOfMemory"

        doomed = _running_job(c, user)
        c.kill_node(node.name)
        assert c.wait_job_state(doomed, ["NODE_FAIL", "FAILED", "CANCELLED"]) == "NODE_FAIL"
        assert c.job_info(doomed)["Reason"] == "NodeDown"
        for job, state in ((oom, "OUT_OF_MEMORY"), (doomed, "NODE_FAIL")):
            eventually(
                lambda j=job: c.sacct(j, user).get("State"),
                lambda found, s=state: found == s,
                timeout=20,
                interval=0.1,
                what=f"sacct state {state} of job {job}",
            )
        c.restart_node(node.name)
        after = c.sbatch(user, ["-t", "5", "--wrap", "true"])
        assert c.wait_job_state(after, ["COMPLETED", "FAILED"]) == "COMPLETED"
        cgroup_dirs = list(Path("/sys/fs/cgroup").glob(f"*/slurm_{node.name}"))
        assert cgroup_dirs
    assert not [p for p in cgroup_dirs if p.exists()]


_CRASHING_RUN = """
import os
from tests.harness.slurm_cluster import SlurmTestCluster
from tests.harness.waiting import eventually
c = SlurmTestCluster(name="jrcrash")
job = c.sbatch("root", ["-t", "5", "--wrap", "sleep 600"])
c.wait_job_state(job, ["RUNNING"])
pids = eventually(
    lambda: [p for p in c.daemon_pids() if open(f"/proc/{p}/comm").read().strip() == "sleep"],
    timeout=10,
)
print(c.workdir, c.nodes[0].netns, *pids, flush=True)
os._exit(1)  # no close(), no atexit: as if killed
"""


def _alive(pid: object) -> bool:
    """Not gone and not a zombie (orphans may wait a while for PID 1 to reap them)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2 :].split()[0] != "Z"


def _comms(pids: set[int]) -> set[str]:
    names = set()
    for pid in pids:
        with contextlib.suppress(OSError):
            names.add(Path(f"/proc/{pid}/comm").read_text().strip())
    return names


def _netns_names() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def test_crashed_run_is_swept_and_close_leaves_nothing(user: str) -> None:
    crashed = subprocess.run(
        [sys.executable, "-c", _CRASHING_RUN],
        capture_output=True,
        text=True,
        cwd=Path(__file__).parent.parent,  # the repository root: tests.harness imports
        timeout=60,
    )
    workdir, netns, *job_pids = crashed.stdout.split()
    assert job_pids, crashed.stderr
    # what a crash leaves: the namespace with the job still running in it, the work dir
    assert netns in _netns_names()
    assert Path(workdir).is_dir()
    assert all(_alive(pid) for pid in job_pids)

    with SlurmTestCluster(name="jrclose", accounting=True) as c:
        assert netns not in _netns_names()
        assert not Path(workdir).exists()
        assert not any(_alive(pid) for pid in job_pids)

        job = _running_job(c, user)
        client = c.popen_as(
            user,
            ["srun", f"--jobid={job}", "--overlap", "sleep", "600"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        expected = {"munged", "mariadbd", "slurmdbd", "slurmctld", "slurmd", "slurmstepd", "srun"}
        expected.add("sleep")
        eventually(
            lambda: _comms(c.daemon_pids()),
            lambda comms: expected <= comms,
            timeout=20,
            interval=0.1,
        )
        pids = c.daemon_pids()
        print(sorted(_comms(pids)))
        node = c.nodes[0]
    client.wait(10)
    left = [p for p in pids if _alive(p)]
    assert left == [], [Path(f"/proc/{p}/comm").read_text() for p in left]
    assert node.netns not in _netns_names()
    link = subprocess.run(["ip", "link", "show", node.veth_host], capture_output=True)
    assert link.returncode != 0
    assert not c.workdir.exists()
    assert c.workdir.parent == WORK_ROOT


def test_time_limit_ends_the_job_as_timeout(cluster: SlurmTestCluster, expiring_job: str) -> None:
    state = cluster.wait_job_state(expiring_job, ["TIMEOUT", "CANCELLED", "FAILED"], timeout=45)
    info = cluster.job_info(expiring_job)
    print({k: info[k] for k in ("JobState", "Reason", "ExitCode", "RunTime", "TimeLimit")})
    assert (state, info["Reason"]) == ("TIMEOUT", "TimeLimit")
    # slurmdbd has it for sacct (any user sees it), and so has the jobcomp file (sacct -c)
    eventually(
        lambda: cluster.sacct(expiring_job, USER).get("State"),
        lambda found: found == "TIMEOUT",
        timeout=20,
        interval=0.1,
    )
    print(cluster.sacct(expiring_job, USER))
    eventually(
        lambda: cluster.completion(expiring_job).get("State"),
        lambda found: found == "TIMEOUT",
        timeout=20,
        interval=0.1,
    )
