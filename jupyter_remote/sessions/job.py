"""The Slurm job of a kernel session: submit, queue, run, notice, end, cancel.

A profile with Slurm settings runs its kernel inside a job submitted from the server
(the cluster's login node). :class:`JobLink` is what a :class:`~.kernel.KernelSession`
knows of its job; the functions here are what the provisioner (``kernels/provisioner.py``)
and the session's health loop call:

- :func:`ensure_running`: submit a job when there is none (or it ended), then wait while
  it is queued (the session's state is ``queued``, its reason Slurm's, with the
  estimated start) until it runs; Stop meanwhile cancels it and the start fails;
- :func:`job_problem`: the running job's health (every health interval): its time left,
  a notice ``notice_minutes`` before the limit, its end;
- :func:`end_of`: for the provisioner's poll when the relay's stream is gone: did the
  scheduler end the job (TIMEOUT, OUT_OF_MEMORY, NODE_FAIL, CANCELLED...)? Then the
  session is ``dead`` with that reason and exit code, never "reconnecting";
- :func:`ends_with_kernel`: for the provisioner's poll when the agent says the kernel
  was killed (SIGKILL): the holder ends the job when the job's memory limit killed it,
  so wait a moment for the job to end, then its end (OUT_OF_MEMORY) is the session's;
- :func:`cancel`: scancel, and wait until the queue no longer shows it.

Every query is one exec on the login node's pooled connection (``kernels/slurm.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import RemoteCommandError, RemoteError, SSHConnectError
from ..kernels import slurm, slurm_memory
from ..kernels.slurm import SlurmJob
from ..remote import script_text
from ..ssh.exec import peer
from ..store.slurm import SlurmRequest

if TYPE_CHECKING:
    from .kernel import KernelSession

log = logging.getLogger(__name__)

#: The job script: the holder (``remote/job.py``) behind its interpreter line.
JOB_SCRIPT = "#!/usr/bin/env python3\n" + script_text("job")
#: Seconds between queue checks while a job waits (squeue is one small exec).
QUEUE_POLL = 3.0
#: Seconds a job whose kernel was killed may keep RUNNING before the kill is the
#: kernel's alone (the holder ends an out-of-memory job within a second), and how
#: long its end may take to be final (COMPLETING, then sacct's record).
KILLED_RUNS_ON = 5.0
KILLED_ENDING = 30.0
#: Seconds Stop or shutdown waits for the login node to forget an ended job.
CANCEL_TIMEOUT = 60.0


class SlurmJobError(RemoteCommandError):
    """The kernel's job cannot run (refused, cancelled, ended): the start fails."""

    reason = "slurm_job"


@dataclass
class JobLink:
    """A kernel session's Slurm job: the last view of it and what was said about it."""

    job: SlurmJob
    request: SlurmRequest
    noticed: bool = False
    ended: SlurmJob | None = None
    #: the login node forgetting the ended job (mark_dead): cancel waits for it
    forgetting: asyncio.Future[None] | None = None

    def wrap(self) -> list[str]:
        """``srun`` into the job, for the agent's operations there; only while it runs."""
        if not self.job.running:
            raise SlurmJobError(
                f"The kernel's Slurm job {self.job.job_id} is not running ({self.job.state})."
            )
        return slurm.srun_prefix(self.job)

    def to_json(self) -> dict[str, Any]:
        data = (self.ended or self.job).to_json()
        data["notice_minutes"] = self.request.notice_minutes
        return data


def _where(session: KernelSession) -> str:
    assert session.lease is not None
    return peer(session.lease.conn)


async def _current(session: KernelSession) -> SlurmJob:
    """The job's state now (one squeue, or sacct/scontrol once it is over)."""
    assert session.job is not None
    if session.lease is None or session.lease.lost:
        raise SSHConnectError(f"The link to {session.server} is down.")
    job = await slurm.current(session.lease.conn, session.job.job, where=_where(session))
    session.job.job = job
    return job


async def submit(session: KernelSession, request: SlurmRequest, profile: str) -> JobLink:
    """sbatch the kernel's job from the login node (the agent's ``submit``): refused when
    its memory cannot hold a kernel at all; told (a notice) when it leaves it too little."""
    partition = await slurm_memory.partition_of(session.manager, session.server, request)
    refused = slurm_memory.cannot_start(request, partition)
    if refused:
        raise SlurmJobError(
            refused,
            hint=f"Ask at least {slurm_memory.WARN_BELOW_MB}M: the profile's Slurm memory "
            f"(`jupyter remote profile edit {profile} --mem {slurm_memory.WARN_BELOW_MB}M`).",
        )
    warning = slurm_memory.warning(request, partition)
    session.progress("submitting job", _request_text(request))
    if warning:
        log.warning("remote kernel %s: %s", session.kernel_id, warning)
        session.notice(warning)
    job_id = await session.login_agent().submit(
        {
            "kernel_id": session.kernel_id,
            "args": request.sbatch_args(),
            "script": JOB_SCRIPT,
            "profile": profile,
            "server": session.server,
        }
    )
    session.job = JobLink(SlurmJob(job_id=slurm.check_job_id(job_id)), request)
    log.info("remote kernel %s: Slurm job %s submitted", session.kernel_id, job_id)
    return session.job


def _request_text(request: SlurmRequest) -> str:
    parts = [f"partition {request.partition}" if request.partition else "default partition"]
    if request.time:
        parts.append(f"time {request.time}")
    if request.memory:
        parts.append(f"memory {request.memory}")
    if request.gres:
        parts.append(request.gres)
    return ", ".join(parts)


async def ensure_running(session: KernelSession, request: SlurmRequest, profile: str) -> None:
    """Until the session's job runs: submit one if needed, wait while it is queued."""
    if session.job is None or session.job.ended is not None or session.job.job.ended:
        session.job = None
        await submit(session, request, profile)
    assert session.job is not None
    while True:
        if session._closing or session.state == "stopped":
            raise SlurmJobError(
                f"The kernel's Slurm job {session.job.job.job_id} was cancelled while it "
                "was queued (Stop).",
                hint="Start the kernel again to queue a new job.",
            )
        try:
            job = await _current(session)
        except (SSHConnectError, RemoteCommandError) as exc:  # link or controller: retry
            log.info("remote kernel %s: job state unknown: %s", session.kernel_id, exc)
            await asyncio.sleep(QUEUE_POLL)
            continue
        if job.running:
            session.progress("starting kernel", f"in Slurm job {job.job_id} on {job.node}")
            session._set("running")
            return
        if job.ended:
            session.job.ended = job
            raise SlurmJobError(job.end_text(), hint="Start the kernel again to queue a new job.")
        if job.queued:
            session.progress("queued", f"Slurm job {job.job_id}: {job.queue_text()}")
            session._set("queued", job.queue_text())
        await asyncio.sleep(QUEUE_POLL)


async def job_problem(session: KernelSession) -> str:
    """The running job's health: '' when fine. Sends the time-left notice once, takes the
    relay back when only its connector ended, marks the session dead when the job ended."""
    try:
        job = await _current(session)
    except RemoteError:
        return ""  # link trouble (the watcher handles it) or a busy controller
    assert session.job is not None
    if job.ended:
        mark_dead(session, job)
        return ""
    _notice_time_left(session, job)
    if job.state == "SUSPENDED":
        return f"the Slurm job {job.job_id} is suspended"
    channels = session.channels
    if channels is not None and not channels.attached and not await session._attach_relay():
        return "the kernel's relay does not answer through srun; its status is being checked"
    return ""


def _notice_time_left(session: KernelSession, job: SlurmJob) -> None:
    assert session.job is not None
    minutes = session.job.request.notice_minutes
    if session.job.noticed or not minutes or not job.end:
        return
    left = job.end - time.time()
    if left > minutes * 60:
        return
    session.job.noticed = True
    text = (
        f"The Slurm job {job.job_id} reaches its time limit in {max(0, round(left / 60))} "
        f"min ({time.strftime('%H:%M', time.localtime(job.end))}): save your work; the "
        "kernel ends with the job."
    )
    session.notice(text)


async def end_of(session: KernelSession) -> SlurmJob | None:
    """For the provisioner's poll (the relay's stream is gone): the job if the scheduler
    ended it, else None (running: the agent is asked next; unknown: still alive)."""
    assert session.job is not None
    if session.job.ended is not None:
        return session.job.ended
    job = await _job_now(session)
    return job if job is not None and job.ended else None


async def ends_with_kernel(session: KernelSession, status: dict[str, Any]) -> bool:
    """For the provisioner's poll when the agent says the kernel ended: True when it was
    killed (SIGKILL) and its job ends too (the holder ends a job whose memory limit killed
    its kernel): the session is then dead with the job's end (OUT_OF_MEMORY). False when
    the job runs on: the kernel's own end stands."""
    if session.job is None or status.get("returncode") != -9:
        return False
    started = time.monotonic()
    while time.monotonic() - started < KILLED_ENDING:
        job = await _job_now(session)
        if job is None:
            return False
        if job.ended:
            return True
        if job.running and time.monotonic() - started > KILLED_RUNS_ON:
            return False
        await asyncio.sleep(0.5)
    return False


async def _job_now(session: KernelSession) -> SlurmJob | None:
    """The job as the login node sees it now, the session marked dead if the scheduler
    ended it; None when the login node does not answer."""
    try:
        job = await _current(session)
    except RemoteError:
        return None
    if job.ended:
        mark_dead(session, job)
    return job


def mark_dead(session: KernelSession, job: SlurmJob) -> None:
    """The scheduler ended the job: the session is dead with its words (state, reason,
    exit code); nothing reconnects it."""
    assert session.job is not None
    if session.job.ended is not None:
        return
    session.job.ended = job
    log.warning("remote kernel %s: %s", session.kernel_id, job.end_text())
    session._set("dead", job.end_text())
    _letting_go.add(task := asyncio.ensure_future(_let_go(session)))
    task.add_done_callback(_letting_go.discard)
    session.job.forgetting = task


_letting_go: set[asyncio.Future[None]] = set()


async def _let_go(session: KernelSession) -> None:
    """A dead session needs no link: no reconnecting, no health checks (it stays listed,
    dead, until Stop or its kernel manager's cleanup closes it). The login node first
    forgets the job (its record, and what a holder killed with its node left)."""
    await session._stop_watching()
    assert session.job is not None
    with contextlib.suppress(RemoteError):
        await session.login_agent().cancel(session.kernel_id, session.job.job.job_id)
    await session._drop_lease()


async def cancel(session: KernelSession) -> None:
    """scancel the session's job (Stop, shutdown); waits until squeue no longer lists it."""
    link = session.job
    if link is not None and link.forgetting is not None:  # ended: until the node forgot it
        await asyncio.wait([link.forgetting], timeout=CANCEL_TIMEOUT)
    if link is None or link.ended is not None or session.lease is None or session.lease.lost:
        return
    job_id = link.job.job_id
    try:
        answer = await session.login_agent().cancel(session.kernel_id, job_id)
    except RemoteError as exc:
        log.warning("remote kernel %s: scancel %s failed: %s", session.kernel_id, job_id, exc)
        return
    if not answer.get("gone"):
        log.warning(
            "remote kernel %s: job %s still queued after scancel", session.kernel_id, job_id
        )
    link.ended = dataclasses.replace(link.job, state="CANCELLED", seen=time.time())


async def adopt(session: KernelSession, request: SlurmRequest) -> bool:
    """For an attach: find this kernel's job from the login node's record; True if it runs."""
    entries = await session.login_agent().list()
    found = next(
        (e for e in entries if e.get("kernel_id") == session.kernel_id and e.get("job_id")),
        None,
    )
    if found is None:
        return False
    session.job = JobLink(SlurmJob(job_id=slurm.check_job_id(found["job_id"])), request)
    job = await _current(session)
    return job.running
