"""Kernels whose Slurm job the scheduler ends (issue 16 item 3), on a real Slurm cluster.

A job that ends by the scheduler's hand (its memory limit, its node failing, an admin's
scancel) makes the kernel dead with Slurm's word for it and its exit code, read from
the accounting (sacct) or scontrol: never "reconnecting" or "disconnected" (a network
problem), and nothing of the user is left on the login or compute node.

The cluster (tests/harness/slurm_cluster.py) has accounting and, where cgroup v1 is
mounted, task/cgroup with ConstrainRAMSpace: a cell allocating past the job's --mem is
killed by the kernel's OOM killer inside the job's cgroup, as on a real cluster.

Own remote user: ``jrslurmend``.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncssh
import pytest
from jupyter_client import KernelManager

from jupyter_remote.kernels import slurm
from jupyter_remote.sessions import registry
from tests.harness.cli import add_box, run_cli
from tests.harness.clients import execute, started_kernel
from tests.harness.servers import setup_profile
from tests.harness.slurm_cluster import SlurmTestCluster, cgroups_unavailable, slurm_unavailable
from tests.harness.slurm_sessions import clean, clean_profile, login_node, nothing_left
from tests.harness.sshd_host import SSHTestHost, ensure_user
from tests.harness.waiting import eventually

pytestmark = pytest.mark.skipif(bool(slurm_unavailable()), reason=str(slurm_unavailable()))

USER = "jrslurmend"
NO_CGROUPS = cgroups_unavailable()
#: --mem: the kernel's job has room for the kernel, not for a 600 MB cell
SLURM = {"partition": "main", "time": "10", "memory": "400M"}
#: seconds test_a_time_limit_is_told_... 's batch script takes to end after SIGTERM
SLOW_END = 6
WHO_AND_WHERE = "import os, socket; print(socket.gethostname(), os.environ['SLURM_JOB_ID'])"


@pytest.fixture(scope="module")
def cluster() -> Iterator[SlurmTestCluster]:
    ensure_user(USER)
    with SlurmTestCluster(
        name="jrends",
        accounting=True,
        cgroups=not NO_CGROUPS,
        kill_wait=SLOW_END + 6,  # Slurm's default is 30: room for a script slow to end
    ) as c:
        yield c


@pytest.fixture(scope="module")
def login(cluster: SlurmTestCluster) -> Iterator[SSHTestHost]:
    yield from login_node(cluster, "slurm-ends", USER)


@pytest.fixture
def profile(
    isolated_home: Path, cluster: SlurmTestCluster, login: SSHTestHost
) -> Iterator[dict[str, Any]]:
    yield from clean_profile(cluster, login, USER, SLURM)


class Watched:
    """The session states the kernel's session went through, from the registry's events."""

    def __init__(self, kernel_id: str) -> None:
        self.kernel_id = kernel_id
        self.states: list[str] = []
        self._unsubscribe = registry.subscribe(self._seen)

    def _seen(self, event: dict[str, Any]) -> None:
        if event["type"] == "session" and event["session"].get("kernel_id") == self.kernel_id:
            self.states.append(event["session"]["state"])

    def close(self) -> None:
        self._unsubscribe()


def ended_by_the_scheduler(km: KernelManager, watched: Watched, state: str) -> str:
    """Wait until the kernel is dead; check it says STATE, never a network problem."""
    eventually(km.is_alive, lambda alive: not alive, timeout=90, interval=0.5)
    watched.close()
    reason = km.provisioner.exit_reason  # type: ignore[union-attr]
    session = registry.sessions[str(km.kernel_id)]
    print(f"states {watched.states}; reason {reason!r}; job {session.to_json()['job']}")
    assert f"ended: {state}" in reason, reason
    assert session.state == "dead" and state in session.reason
    assert session.to_json()["job"]["state"].startswith(state)
    assert "reconnecting" not in watched.states and "disconnected" not in watched.states
    return str(reason)


def test_an_admins_scancel_is_dead_with_cancelled_by_root(
    profile: dict[str, Any], cluster: SlurmTestCluster, login: SSHTestHost
) -> None:
    with started_kernel(profile["kernel_name"], ready_timeout=90) as (km, kc):
        [job] = cluster.squeue(USER)
        execute(kc, "x = 1")
        watched = Watched(str(km.kernel_id))
        cluster.run(["scancel", job.job_id], check=True)  # root: the cluster's admin
        reason = ended_by_the_scheduler(km, watched, "CANCELLED")
        assert "cancelled by uid 0" in reason
        assert cluster.sacct(job.job_id, USER)["State"].startswith("CANCELLED")
    nothing_left(cluster, login, USER)


@pytest.mark.skipif(bool(NO_CGROUPS), reason=str(NO_CGROUPS))
def test_a_cell_past_the_jobs_memory_is_dead_with_out_of_memory(
    profile: dict[str, Any], cluster: SlurmTestCluster, login: SSHTestHost
) -> None:
    with started_kernel(profile["kernel_name"], ready_timeout=90) as (km, kc):
        [job] = cluster.squeue(USER)
        watched = Watched(str(km.kernel_id))
        kc.execute("hog = b'x' * (600 * 1024 * 1024)")  # past --mem=400M
        reason = ended_by_the_scheduler(km, watched, "OUT_OF_MEMORY")
        assert "ran out of memory" in reason
        assert cluster.sacct(job.job_id, USER)["State"] == "OUT_OF_MEMORY"
    nothing_left(cluster, login, USER)


def test_a_failed_node_is_dead_with_node_fail(
    profile: dict[str, Any], cluster: SlurmTestCluster, login: SSHTestHost
) -> None:
    node = cluster.nodes[0].name
    try:
        with started_kernel(profile["kernel_name"], ready_timeout=90) as (km, kc):
            [job] = cluster.squeue(USER)
            execute(kc, "x = 1")
            watched = Watched(str(km.kernel_id))
            cluster.kill_node(node)  # slurmd, the job's steps and the kernel: gone at once
            reason = ended_by_the_scheduler(km, watched, "NODE_FAIL")
            assert "compute node failed" in reason
            assert cluster.job_info(job.job_id)["Reason"] == "NodeDown"
        nothing_left(cluster, login, USER)
    finally:
        cluster.restart_node(node)


def test_a_lost_laptop_ends_the_job_by_its_idle_timeout_and_leaves_nothing(
    isolated_home: Path, cluster: SlurmTestCluster, login: SSHTestHost
) -> None:
    """The laptop goes away for good (every connection to the login node drops): nobody
    uses the kernel, so its idle timeout (3 s) stops it; the job waits for a restart
    as long as the idle timeout, at least RELAUNCH_FLOOR (15 s), then ends, and nothing
    of the user is left on either node while the laptop is still away."""
    clean(cluster, login, USER)
    profile = setup_profile(login, cwd="/tmp", idle_timeout=3, slurm=SLURM)
    with started_kernel(profile["kernel_name"], ready_timeout=90) as (km, kc):
        [job] = cluster.squeue(USER)
        execute(kc, "x = 1")
        with login.outage():  # the login node's sshd and every connection it served
            assert cluster.wait_job_state(job.job_id, ["COMPLETED"], timeout=90) == "COMPLETED"
            nothing_left(cluster, login, USER)
        # the laptop is back: the notebook learns how its kernel's job ended
        eventually(km.is_alive, lambda alive: not alive, timeout=90, interval=0.5)
        reason = km.provisioner.exit_reason  # type: ignore[union-attr]
        print(reason)
        assert f"job {job.job_id} ended: COMPLETED" in reason and "idle timeout" in reason
    nothing_left(cluster, login, USER)


async def test_a_local_restart_finds_the_jobs_kernel_again(
    isolated_home: Path, tmp_path: Path, cluster: SlurmTestCluster, login: SSHTestHost
) -> None:
    """A Jupyter server exits (its kernel has an idle timeout: the Slurm default, 1 h);
    the next one lists the job's kernel as running and re-attaches to it as to any
    other kernel: the same job on the same node, its variables intact."""
    from tests.test_reattach import ServerProcess

    await asyncio.to_thread(clean, cluster, login, USER)
    profile = await asyncio.to_thread(setup_profile, login, cwd="/tmp", slurm=SLURM)
    env = dict(os.environ)
    env.update(
        JUPYTER_CONFIG_DIR=str(tmp_path / "config"), JUPYTER_RUNTIME_DIR=str(tmp_path / "rt")
    )
    first = ServerProcess(env, tmp_path)
    second: ServerProcess | None = None
    try:
        await first.wait_ready()
        kid = (await first.request("POST", "api/kernels", {"name": profile["kernel_name"]}))["id"]
        ws = await first.kernel_ws(kid)
        _, out = await asyncio.wait_for(ws.execute(WHO_AND_WHERE + "; x = 42"), 90)
        node, job_id = out.split()
        ws.ws.close()
        first.stop()
        assert [j.job_id for j in await asyncio.to_thread(cluster.squeue, USER)] == [job_id]

        second = ServerProcess(env, tmp_path)
        await second.wait_ready()
        listed = await second.request("GET", "remote/servers/box/kernels")
        assert [(k["kernel_id"], k["state"], k["job"]["id"]) for k in listed] == [
            (kid, "running", job_id)
        ], listed
        model = await second.request("POST", f"remote/servers/box/kernels/{kid}/attach", {})
        assert model["id"] == kid
        ws = await second.kernel_ws(kid)
        _, out = await asyncio.wait_for(ws.execute("print(x); " + WHO_AND_WHERE), 90)
        assert out.split() == ["42", node, job_id]  # same kernel, same job, same node
        _, out = await asyncio.wait_for(ws.execute(PRINTING), 90)
        assert out.splitlines() == [f"line {i}" for i in range(10)]
        await second.request("DELETE", f"api/kernels/{kid}")
        await asyncio.to_thread(nothing_left, cluster, login, USER)
        assert (await asyncio.to_thread(cluster.job_info, job_id))["JobState"] == "CANCELLED"
    finally:
        first.stop()
        if second is not None:
            second.stop()
        await asyncio.to_thread(clean, cluster, login, USER)


PRINTING = (
    "import time\nfor i in range(10):\n    print(f'line {i}', flush=True)\n    time.sleep(0.2)"
)


def test_the_cli_saves_slurm_profiles_and_shows_the_cluster(
    cli_env: dict[str, str], cluster: SlurmTestCluster, login: SSHTestHost
) -> None:
    add_box(cli_env, login)
    assert run_cli(cli_env, "server", "test", "box", "--trust").returncode == 0
    options = ["--partition", "main", "--time", "1:30:00", "--cpus", "2", "--mem", "4G"]
    options += ["--gres", "gpu:1", "--sbatch-option=--comment=a b", "--notice-minutes", "5"]
    python = ["--server", "box", "--python", login.remote_python]
    added = run_cli(cli_env, "profile", "add", "hpc", *python, *options)
    assert added.returncode == 0, added.stderr
    [saved] = json.loads(run_cli(cli_env, "profile", "list", "--json").stdout)
    assert saved["slurm"] == {
        "partition": "main",
        "time": "1:30:00",
        "cpus": 2,
        "memory": "4G",
        "gres": "gpu:1",
        "account": None,
        "qos": None,
        "reservation": None,
        "extra": ["--comment=a b"],
        "notice_minutes": 5,
    }

    shown = run_cli(cli_env, "slurm", "show", "box")
    assert shown.returncode == 0, shown.stderr
    print(shown.stdout)
    lines = shown.stdout.splitlines()
    assert lines[0].startswith("Slurm 22.") and lines[0].endswith(f"on box, user {USER}")
    assert lines[1].split()[:2] == ["PARTITION", "STATE"]
    rows = {line.split()[0]: line.lower().split() for line in lines[2:] if line.strip()}
    assert rows["main"][1:3] == ["(default)", "up"] and rows["main"][4] == "1/1", rows
    assert rows["tiny"][1] == "up" and rows["tiny"][3] == "1/1", rows
    as_json = json.loads(run_cli(cli_env, "slurm", "show", "box", "--json").stdout)
    parts = {p["name"]: p for p in as_json["slurm"]["partitions"]}
    assert sorted(parts) == ["main", "tiny"] and parts["main"]["idle_nodes"] == 1

    for option, value, field in (
        ("--partition", "main;reboot", "slurm.partition"),
        ("--time", "$(id)", "slurm.time"),
        ("--gres", "gpu:1 --uid=0", "slurm.gres"),
        ("--sbatch-option", "--export=LD_PRELOAD=/tmp/x.so", "slurm.extra"),
    ):
        refused = run_cli(cli_env, "profile", "add", "bad", *python, f"{option}={value}", "--json")
        assert refused.returncode == 2, (option, refused.stderr)
        assert json.loads(refused.stdout)["error"]["field"] == field, refused.stdout
        assert f"field: {field}" in refused.stderr, refused.stderr  # the text names it too
    names = [p["name"] for p in json.loads(run_cli(cli_env, "profile", "list", "--json").stdout)]
    assert names == ["hpc"]  # nothing saved by the refused ones


#: A batch script that takes SLOW_END seconds to end after SIGTERM, then ends by it (as
#: the holder does once it has stopped its kernel): the window where slurmdbd already
#: says TIMEOUT 0:0 for the job and its batch step while slurmctld still ends the job.
SLOW_TO_END = f"""#!/usr/bin/env python3
import os, signal, time
def ending(signum, frame):
    time.sleep({SLOW_END})
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)
signal.signal(signal.SIGTERM, ending)
while True:
    time.sleep(1)
"""


async def _how_it_ended(login: SSHTestHost, job_id: str) -> Any:
    """kernels/slurm.how_it_ended over a real SSH connection to the login node."""
    async with asyncssh.connect(
        login.host,
        port=login.port,
        username=USER,
        client_keys=[str(login.user_key)],
        known_hosts=asyncssh.import_known_hosts(login.known_hosts_entry()),
    ) as conn:
        return await slurm.how_it_ended(conn, slurm.SlurmJob(job_id=job_id), where="login")


def test_a_time_limit_is_told_with_its_signal_even_while_the_batch_step_ends(
    cluster: SlurmTestCluster, login: SSHTestHost
) -> None:
    """sacct's lines of a timed-out job read TIMEOUT 0:0 until its batch script has ended
    (the signal comes later): until slurmctld has finished the job the answer is "not
    final yet", then TIMEOUT with 0:15 (stop 24's CI: a session told 0:0)."""
    clean(cluster, login, USER)
    where = Path(tempfile.mkdtemp(prefix="jr-slowend-"))  # pytest's tmp_path is root's only
    where.chmod(0o755)
    script = where / "slow-to-end.py"
    script.write_text(SLOW_TO_END)
    script.chmod(0o755)
    job_id = cluster.sbatch(USER, ["--time=5", "--partition=main", str(script)])
    try:
        cluster.wait_job_state(job_id, ["RUNNING"], timeout=60)
        cluster.expire(job_id)  # TIMEOUT at the next 30 s sweep; the script takes 6 s to end
        eventually(
            lambda: cluster.job_info(job_id).get("JobState"),
            lambda state: state == "COMPLETING",
            timeout=60,
            interval=0.2,
            what="slurmctld ending the job",
        )
        eventually(
            lambda: cluster.sacct(job_id, USER).get("State"),
            lambda state: state == "TIMEOUT",
            timeout=SLOW_END,
            interval=0.2,
            what="slurmdbd recording the job's TIMEOUT",
        )
        assert cluster.job_info(job_id)["JobState"] == "COMPLETING"  # still in the window
        assert asyncio.run(_how_it_ended(login, job_id)) is None  # ask again: 0:15 is to come
        cluster.wait_job_state(job_id, ["TIMEOUT"], timeout=30)
        ended = asyncio.run(_how_it_ended(login, job_id))
        assert ended is not None and ended.state == "TIMEOUT", ended
        assert ended.exit_code == "0:15", ended
        assert ended.end_text().endswith("TIMEOUT (it reached its time limit), exit code 0:15.")
    finally:
        cluster.run(["scancel", job_id])
        clean(cluster, login, USER)
        shutil.rmtree(where)
