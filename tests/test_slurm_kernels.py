"""Kernels inside Slurm jobs (issue 16), on a real Slurm cluster (tests/harness/slurm_cluster.py).

The login node is an SSHTestHost on this machine with the cluster's environment
(``cluster.sshd_config()``); the compute node ``jrnode<N>`` is a slurmd in its own
network and UTS namespace. Kernels start from a profile with Slurm settings through
jupyter_client's own KernelManager (as papermill or a console would): the kernel, its
supervisor and relay run inside the job on the compute node, and the channels reach
this process through ``srun --jobid=J --overlap`` on the login node's one SSH connection.

The compute node shares this machine's file system (harness gotcha 10): nothing here
reaches the kernel through a socket path; the tests check that the only way in is
Slurm's own step I/O, and that another user of both nodes reaches nothing.

Own remote users: ``jrslurmk`` (the kernels' owner) and ``jrattacker`` (the other user).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jupyter_client import KernelManager
from jupyter_client.blocking import BlockingKernelClient

from jupyter_remote.errors import ValidationError
from jupyter_remote.manager import RemoteManager
from jupyter_remote.sessions import registry
from jupyter_remote.store import Store
from jupyter_remote.store.slurm import SlurmRequest
from tests.harness import slurm_sessions
from tests.harness.clients import execute, started_kernel, stream_lines, until_printed
from tests.harness.servers import setup_profile
from tests.harness.slurm_cluster import SlurmTestCluster, slurm_unavailable
from tests.harness.slurm_sessions import clean, on_ssh_loop
from tests.harness.sshd_host import SSHTestHost, ensure_user
from tests.harness.waiting import eventually

pytestmark = pytest.mark.skipif(bool(slurm_unavailable()), reason=str(slurm_unavailable()))

USER = "jrslurmk"
ATTACKER = "jrattacker"
WHO_AND_WHERE = "import os, socket; print(socket.gethostname(), os.environ['SLURM_JOB_ID'])"


@pytest.fixture(scope="module")
def cluster() -> Iterator[SlurmTestCluster]:
    ensure_user(USER)
    with SlurmTestCluster(name="jrkernels", accounting=True) as c:
        yield c


@pytest.fixture(scope="module")
def login(cluster: SlurmTestCluster) -> Iterator[SSHTestHost]:
    """The cluster's login node: sshd here, Slurm's commands find the cluster."""
    with SSHTestHost(name="slurm-login", user=USER, extra_config=cluster.sshd_config()) as host:
        yield host


def _clean(cluster: SlurmTestCluster, host: SSHTestHost) -> None:
    """No job, process or state of the user from an earlier test."""
    clean(cluster, host, USER)


@pytest.fixture
def profile(
    isolated_home: Path, cluster: SlurmTestCluster, login: SSHTestHost
) -> Iterator[dict[str, Any]]:
    _clean(cluster, login)
    # a notice 15 min before a 10 min limit: at the first health check of every kernel
    slurm = {"partition": "main", "time": "10", "notice_minutes": 15}
    yield setup_profile(login, cwd="/tmp", slurm=slurm)
    _clean(cluster, login)


def nothing_left(cluster: SlurmTestCluster, host: SSHTestHost) -> None:
    slurm_sessions.nothing_left(cluster, host, USER)


def session_of(km: KernelManager) -> Any:
    return registry.sessions[str(km.kernel_id)]


# ------------------------------------------------------------------------ tests


def test_kernel_runs_in_a_job_interrupt_restart_keep_the_allocation_stop_leaves_nothing(
    profile: dict[str, Any], cluster: SlurmTestCluster, login: SSHTestHost
) -> None:
    with started_kernel(profile["kernel_name"], ready_timeout=90) as (km, kc):
        node = cluster.nodes[0].name
        [job] = cluster.squeue(USER)
        assert (job.state, job.nodes, job.name) == ("RUNNING", node, "jupyter-remote")
        _, out = execute(kc, WHO_AND_WHERE)
        assert out.split() == [node, job.job_id]  # on the compute node, in the job
        shown = session_of(km).to_json()
        assert shown["state"] == "running" and shown["channel_transport"] == "srun"
        assert shown["job"]["id"] == job.job_id and shown["job"]["node"] == node
        assert shown["job"]["end"] and shown["job"]["end"] > time.time()
        listed = {k["kernel_id"]: k for k in _kernel_list()}[str(km.kernel_id)]
        assert listed["state"] == "running" and listed["job"]["node"] == node, listed

        execute(kc, "x = 41")
        msg_id = kc.execute("import time; print('sleeping', flush=True); time.sleep(60)")
        assert until_printed(kc, msg_id).startswith("sleeping")  # running: SIGINT not ignored
        km.interrupt_kernel()
        reply = _reply(kc, msg_id)
        assert reply["content"]["ename"] == "KeyboardInterrupt"
        assert execute(kc, "print(x + 1)")[1].strip() == "42"

        km.restart_kernel(now=False)
        kc.wait_for_ready(timeout=60)
        reply, out = execute(kc, "x")
        assert "NameError" in out  # a new kernel ...
        assert execute(kc, WHO_AND_WHERE)[1].split() == [node, job.job_id]  # ... same job
        assert [j.job_id for j in cluster.squeue(USER)] == [job.job_id]

        km.shutdown_kernel(now=False)
    nothing_left(cluster, login)
    assert cluster.job_info(job.job_id)["JobState"] == "CANCELLED"


def _kernel_list() -> list[dict[str, Any]]:
    """What `jupyter remote kernel list box` says (its own manager and connection)."""

    async def ask() -> list[dict[str, Any]]:
        manager = RemoteManager(Store())
        try:
            return await manager.remote_kernels("box")
        finally:
            await manager.close()

    return asyncio.run(ask())


def _reply(kc: BlockingKernelClient, msg_id: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        reply = kc.get_shell_msg(timeout=max(0.1, deadline - time.monotonic()))
        if reply["parent_header"].get("msg_id") == msg_id:
            return dict(reply)


def test_a_pending_job_is_queued_with_its_reason_and_stop_cancels_it(
    isolated_home: Path, cluster: SlurmTestCluster, login: SSHTestHost
) -> None:
    _clean(cluster, login)
    blocker = cluster.sbatch(USER, ["-p", "tiny", "-t", "5", "--wrap", "sleep 600"])
    cluster.wait_job_state(blocker, ["RUNNING"])
    profile = setup_profile(login, cwd="/tmp", slurm={"partition": "tiny", "time": "5"})
    km = KernelManager(kernel_name=profile["kernel_name"])
    km.kernel_id = kernel_id = str(uuid.uuid4())  # its session's key in the registry
    failure: list[BaseException] = []

    def start() -> None:
        try:
            km.start_kernel()
        except BaseException as exc:
            failure.append(exc)

    starter = threading.Thread(target=start)
    starter.start()
    try:
        session = eventually(
            lambda: registry.sessions.get(kernel_id),  # (other tests' sessions may linger)
            lambda s: s is not None and s.state == "queued" and "Resources" in s.reason,
            timeout=30,
            interval=0.1,
            what="the kernel's session queued for Resources",
        )
        assert session is not None
        shown = session.to_json()
        print(shown)
        assert shown["reason"] == "waiting for free resources (Resources)"
        job_id = shown["job"]["id"]
        assert {j.job_id: j.state for j in cluster.squeue(USER)}[job_id] == "PENDING"
        listed = {k["kernel_id"]: k for k in _kernel_list()}[kernel_id]  # `kernel list`
        assert listed["state"] == "queued" and "Resources" in listed["reason"], listed
        assert listed["job"]["id"] == job_id
        on_ssh_loop(session.stop)  # the card's Stop (DELETE /remote/sessions/ID)
        starter.join(60)
        assert failure and "cancelled while it was queued" in str(failure[0])
        assert [j.job_id for j in cluster.squeue(USER)] == [blocker]
        assert cluster.job_info(job_id)["JobState"] == "CANCELLED"
    finally:
        starter.join(60)
        cluster.run_as(USER, ["scancel", blocker])
    nothing_left(cluster, login)


def test_time_limit_reached_is_dead_with_timeout_not_a_network_problem(
    profile: dict[str, Any], cluster: SlurmTestCluster, login: SSHTestHost
) -> None:
    with started_kernel(profile["kernel_name"], ready_timeout=90) as (km, _kc):
        [job] = cluster.squeue(USER)
        session = session_of(km)
        states: list[str] = []
        notices: list[str] = []

        def seen(event: dict[str, Any]) -> None:
            if event["type"] == "session":
                states.append(event["session"]["state"])
            elif event["type"] == "notice" and event.get("kernel_id") == str(km.kernel_id):
                notices.append(event["message"])

        unsubscribe = registry.subscribe(seen)
        try:
            # the notebook is told before the time limit (notice_minutes), once
            eventually(lambda: notices, timeout=30, interval=0.5, what="the time-left notice")
            assert f"The Slurm job {job.job_id} reaches its time limit in" in notices[0]
            cluster.expire(job.job_id)  # over its limit now: TIMEOUT at the next 30 s sweep
            eventually(km.is_alive, lambda alive: not alive, timeout=60, interval=0.5)
        finally:
            unsubscribe()
        reason = km.provisioner.exit_reason  # type: ignore[union-attr]
        assert "TIMEOUT" in reason and "time limit" in reason and "0:15" in reason
        assert session.state == "dead" and "TIMEOUT" in session.reason
        assert session.to_json()["job"]["exit_code"] == "0:15"
        assert "reconnecting" not in states and "disconnected" not in states
        assert len([n for n in notices if "reaches its time limit" in n]) == 1
    nothing_left(cluster, login)


def test_the_only_way_in_is_slurm_and_another_user_reaches_nothing(
    profile: dict[str, Any], cluster: SlurmTestCluster, login: SSHTestHost
) -> None:
    ensure_user(ATTACKER)
    with started_kernel(profile["kernel_name"], ready_timeout=90) as (_km, kc):
        [job] = cluster.squeue(USER)
        srun = ["srun", f"--jobid={job.job_id}", "--overlap", "true"]
        attempt = cluster.run_as(ATTACKER, srun, timeout=30)
        print(attempt.stdout, attempt.stderr)
        assert attempt.returncode != 0
        assert cluster.run_as(ATTACKER, ["scancel", job.job_id]).returncode != 0
        script = cluster.run_as(ATTACKER, ["scontrol", "write", "batch_script", job.job_id, "-"])
        # scontrol exits 0 here, but says no and prints nothing of the script
        assert script.stdout == "" and "Invalid user id" in script.stderr, script
        from tests.test_shared_host import assert_nothing_reached, attack

        found, report = attack(login)  # every socket, port, file of the user's, as root sees
        assert_nothing_reached(found, report)
        # no TCP listener of ours: the only ones of the user are srun's (Slurm's own step
        # I/O and messages, which take only MUNGE-signed traffic; probed above)
        assert _tcp_listening_programs(login.uid) <= {"srun"}, found["tcp"]
        assert execute(kc, "print(6 * 7)")[1].strip() == "42"
        assert cluster.job_info(job.job_id)["JobState"] == "RUNNING"
    nothing_left(cluster, login)


def _tcp_listening_programs(uid: int) -> set[str]:
    """The names of the user's processes that listen on TCP (this machine's namespace)."""
    from tests.test_shared_host import _socket_inodes, _tcp_listeners, _uid_pids

    programs = set()
    for pid in _uid_pids(uid):
        if _tcp_listeners(_socket_inodes([pid])):
            with contextlib.suppress(OSError):
                programs.add(Path(f"/proc/{pid}/comm").read_text().strip())
    return programs


PRINTING_CELL = """
import time
for i in range(20):
    print(f"line {i}", flush=True)
    time.sleep(0.5)
"""


def test_a_link_cut_during_a_printing_cell_loses_nothing_and_keeps_the_job(
    profile: dict[str, Any], cluster: SlurmTestCluster, login: SSHTestHost
) -> None:
    with started_kernel(profile["kernel_name"], ready_timeout=90) as (km, kc):
        [job] = cluster.squeue(USER)
        execute(kc, "x = 41")
        session = session_of(km)
        states: list[str] = []
        unsubscribe = registry.subscribe(
            lambda e: states.append(e["session"]["state"]) if e["type"] == "session" else None
        )
        try:
            msg_id = kc.execute(PRINTING_CELL)
            time.sleep(2)
            with login.outage():  # the login node's sshd and every connection it serves
                eventually(lambda: session.state, lambda s: s != "running", timeout=20)
                time.sleep(4)  # the cell keeps printing into the relay meanwhile
                assert km.is_alive()  # out of reach is not dead
            eventually(lambda: session.state, lambda s: s == "running", timeout=60)
            lines = stream_lines(kc, msg_id, timeout=60)
        finally:
            unsubscribe()
        print(f"states {states}; {len(lines)} lines")
        assert "reconnecting" in states and "dead" not in states
        assert lines == [f"line {i}" for i in range(20)]  # every line once, in order
        assert execute(kc, "print(x + 1)")[1].strip() == "42"  # the same kernel
        assert [j.job_id for j in cluster.squeue(USER)] == [job.job_id]  # the same job
    nothing_left(cluster, login)


def test_the_probe_lists_partitions_with_their_limits_and_idle_nodes(
    profile: dict[str, Any], cluster: SlurmTestCluster
) -> None:
    async def ask() -> dict[str, Any]:
        manager = RemoteManager(Store())
        try:
            return await manager.slurm_cluster("box", refresh=True)
        finally:
            await manager.close()

    slurm = asyncio.run(ask())["slurm"]
    print(slurm)
    assert slurm["version"].startswith("22.") and slurm["user"] == USER
    parts = {p["name"]: p for p in slurm["partitions"]}
    assert sorted(parts) == ["main", "tiny"]
    assert parts["main"]["default"] and not parts["tiny"]["default"]
    assert parts["main"]["nodes"] == 1 and parts["main"]["idle_nodes"] == 1
    assert parts["tiny"]["max_cpus_per_node"] == 1
    assert parts["main"]["max_minutes"] == 60


@pytest.mark.parametrize(
    "settings",
    [
        {"partition": "main; rm -rf ~"},
        {"time": "$(reboot)"},
        {"time": "0"},
        {"gres": "gpu:1 --uid=0"},
        {"extra": ["--job-name=x"]},
        {"extra": ["--export=ALL,LD_PRELOAD=/tmp/x.so"]},
        {"extra": ["--partition=other"]},
        {"extra": ["--ou=/home/victim/.bashrc"]},  # getopt abbreviations of forbidden ones
        {"extra": ["--wra=touch /tmp/x"]},
        {"extra": ["--export-f=/tmp/env"]},
        {"extra": ["--parti=other"]},
        {"extra": ["-p x"]},
        {"extra": "--exclusive"},
        {"shell": "sh"},
    ],
)
def test_hostile_slurm_settings_are_refused_with_the_field_named(settings: dict[str, Any]) -> None:
    with pytest.raises(ValidationError) as caught:
        SlurmRequest.from_input(settings)
    assert (caught.value.field or "").startswith("slurm"), caught.value


def test_slurm_settings_become_one_sbatch_argument_each() -> None:
    request = SlurmRequest.from_input(
        {"partition": "gpu", "time": "1:30:00", "gres": "gpu:a100:2", "extra": ["--comment=a b"]}
    )
    assert request.sbatch_args() == [
        "--job-name=jupyter-remote",
        "--output=/dev/null",
        "--error=/dev/null",
        "--ntasks=1",
        "--partition=gpu",
        "--time=1:30:00",
        "--gres=gpu:a100:2",
        "--comment=a b",  # one argv element: sbatch runs without a shell
    ]
