"""Slurm jobs seen from here: their state, how they ended, and how to reach into one.

Called by the job side of a kernel session (``sessions/job.py``) and the remote kernels
list (``remote_kernels.py``), over the login node's pooled connection. Each query is
one exec of a fixed command line with validated job ids (digits) as its only values:

- live state: ``squeue -t all -j IDS`` (pending with its reason and estimated start,
  running with its node and end, recently ended);
- how a job ended: ``sacct`` first (the accounting database keeps every job), then
  ``scontrol show job`` when accounting is off (slurmctld keeps a finished job for
  MinJobAge seconds, 300 by default). sacct lags slurmctld by a second or two, so a
  state it does not know as final yet is asked again of scontrol. sacct's line of the
  job itself says 0:0 for a job its time limit ended: the signal (0:15) is on the line
  of its batch step, which is read too. That line lags: while the batch script is
  still ending (the holder stops its kernel on SIGTERM) it reads TIMEOUT 0:0, and
  slurmdbd may record the step's end after slurmctld has finished the job. So a job
  the scheduler ended (not COMPLETED) that sacct gives no exit signal is asked of
  scontrol as well, which says what slurmctld itself recorded.

A job its memory limit ended is told as such with that limit (``slurm_memory.py``):
OUT_OF_MEMORY (task/cgroup), or, where jobacct_gather's OverMemoryKill killed it, FAILED
with exit code 0:9, its batch step's peak RSS (sacct's MaxRSS) at the limit; the limit
is the job's allocated ``mem`` (sacct's AllocTRES, scontrol's TRES).

Times come as epoch seconds (``SLURM_TIME_FORMAT=%s``): no time zone to guess. Every
word a remote says is bounded and escaped before it reaches a record.
"""

from __future__ import annotations

import asyncio
import re
import shlex
import time
from dataclasses import asdict, dataclass
from typing import Any

from ..errors import RemoteCommandError
from ..remote.protocol import JOB_NAME
from ..ssh.exec import ExecResult, run
from ..store.slurm import key_values
from ..text import ascii_digits, printable
from . import slurm_memory

#: squeue's columns, in order: id, state, reason, batch host, partition, start, end.
SQUEUE_FORMAT = "%i|%T|%r|%B|%P|%S|%e"
SACCT_FIELDS = "JobID,State,ExitCode,Reason,NodeList,Partition,Start,End,AllocTRES,MaxRSS"
JOB_ID_RE = re.compile(r"[0-9]{1,12}")
NODE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
QUEUED_STATES = frozenset(
    {"PENDING", "CONFIGURING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESV_DEL_HOLD"}
)
RUNNING_STATES = frozenset({"RUNNING", "SUSPENDED", "SIGNALING", "STAGE_OUT", "RESIZING"})
#: What each way of ending means, for people.
END_WORDS = {
    "TIMEOUT": "it reached its time limit",
    "OUT_OF_MEMORY": "it ran out of memory (the job's memory limit)",
    "NODE_FAIL": "its compute node failed",
    "CANCELLED": "it was cancelled",
    "PREEMPTED": "it was preempted by another job",
    "FAILED": "its script failed (is python3 >= 3.8 on the compute node's PATH?)",
    "BOOT_FAIL": "its node did not boot",
    "DEADLINE": "it reached its deadline",
    "COMPLETED": "its kernel ended and no other came (idle timeout, or stopped)",
    "UNKNOWN": "Slurm no longer knows the job: it ended while nobody asked",
}
#: squeue and scontrol say so for a job slurmctld no longer keeps (not a failure).
PURGED = "Invalid job id"
#: Why a job waits, in a few words (squeue's reason code follows in brackets).
QUEUE_WORDS = {
    "Priority": "other jobs come first",
    "Resources": "waiting for free resources",
    "Dependency": "waiting for another job",
    "BeginTime": "its start time has not come",
    "ReqNodeNotAvail": "the nodes it needs are unavailable",
    "PartitionDown": "the partition is down",
    "QOSMaxJobsPerUserLimit": "too many jobs of yours run in this QOS",
    "AssocMaxJobsLimit": "too many jobs of your account run",
    "JobHeldUser": "held by you (scontrol release)",
    "JobHeldAdmin": "held by an administrator",
}
QUERY_TIMEOUT = 30.0
#: sacct asked again (1 s apart) for the peak RSS of a killed job's batch step
PEAK_TRIES = 5


@dataclass
class SlurmJob:
    """One job as the last query saw it; ``state`` is Slurm's JobState."""

    job_id: str
    state: str = "PENDING"
    reason: str = ""
    node: str = ""
    partition: str = ""
    start: float | None = None
    end: float | None = None
    exit_code: str = ""
    #: its memory limit as Slurm writes it ('300M'), and its batch step's peak RSS
    #: ('510500K'), once it ended: from sacct (or the limit from scontrol)
    memory: str = ""
    max_rss: str = ""
    seen: float = 0.0

    @property
    def queued(self) -> bool:
        return self.state in QUEUED_STATES

    @property
    def running(self) -> bool:
        return self.state in RUNNING_STATES and bool(self.node)

    @property
    def ended(self) -> bool:
        """Over for good (COMPLETING is not yet: its final state is still to come)."""
        return not (self.queued or self.state in RUNNING_STATES or self.state == "COMPLETING")

    def queue_text(self) -> str:
        """Why it waits and when it may start: 'waiting for free resources (Resources)'."""
        code = self.reason.split(",")[0]
        if code:
            text = f"{QUEUE_WORDS.get(code, 'queued')} ({self.reason})"
        else:
            text = "submitted: the scheduler has not looked at it yet"
        if self.start:
            text += ", estimated start " + time.strftime(
                "%Y-%m-%d %H:%M", time.localtime(self.start)
            )
        return text

    def end_text(self) -> str:
        """'The Slurm job 12 ended: TIMEOUT (it reached its time limit), exit code 0:15.'"""
        state = self.state.split()[0] if self.state else "UNKNOWN"
        words = END_WORDS.get(state, "")
        if state == "CANCELLED" and " by " in self.state:
            words = f"it was cancelled by uid {self.state.rsplit(' ', 1)[-1]}"
        memory = slurm_memory.end_words(state, self.exit_code, self.memory, self.max_rss)
        signal = self.exit_code.partition(":")[2]
        if memory:
            words = memory
        elif state == "FAILED" and ascii_digits(signal) and int(signal):
            words = f"its script was killed by signal {signal}"
        detail = f" ({words})" if words else ""
        code = f", exit code {self.exit_code}" if self.exit_code else ""
        fix = f" {slurm_memory.FIX}" if memory else ""
        return f"The Slurm job {self.job_id} ended: {state}{detail}{code}.{fix}"

    def exit_status(self) -> int:
        """An exit code for jupyter_client: minus the signal, else the status (never 0)."""
        status, _, signal = self.exit_code.partition(":")
        if ascii_digits(signal) and int(signal):
            return -int(signal)
        return int(status) if ascii_digits(status) and int(status) else -9

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for internal in ("seen", "memory", "max_rss"):  # said in end_text's words
            data.pop(internal)
        data["id"] = data.pop("job_id")
        return data


def check_job_id(value: Any) -> str:
    text = str(value or "")
    if not JOB_ID_RE.fullmatch(text):
        raise ValueError(f"not a Slurm job id: {text[:20]!r}")
    return text


def srun_prefix(job: SlurmJob) -> list[str]:
    """``srun`` into the running job, on its batch host (where the holder and the kernel
    are): one task, overlapping the job's resources (required since Slurm 20.11 to enter
    a job whose CPUs are taken), stdout unbuffered (the relay's stream is binary)."""
    argv = ["srun", f"--jobid={check_job_id(job.job_id)}", "--overlap", "--nodes=1"]
    if NODE_RE.fullmatch(job.node):
        argv.append(f"--nodelist={job.node}")
    return [*argv, "--ntasks=1", "--mpi=none", "--quiet", "--unbuffered", f"--job-name={JOB_NAME}"]


def _command(*argv: str) -> str:
    """A Slurm command with epoch-second times, quoted (values are checked job ids)."""
    return shlex.join(["env", "SLURM_TIME_FORMAT=%s", "LC_ALL=C", *argv])


def _time(value: str) -> float | None:
    return float(value) if ascii_digits(value) and int(value) > 0 else None


def _word(value: str, limit: int = 200) -> str:
    text = printable(value.strip()[:limit])
    return "" if text in ("None", "(null)", "N/A", "n/a", "Unknown") else text


async def query(conn: Any, job_ids: list[str], *, where: str) -> dict[str, SlurmJob]:
    """The jobs squeue still knows (pending, running, or ended within MinJobAge)."""
    ids = [check_job_id(j) for j in job_ids]
    if not ids:
        return {}
    command = _command("squeue", "-h", "-t", "all", "-j", ",".join(ids), "-o", SQUEUE_FORMAT)
    result = await run(conn, command, timeout=QUERY_TIMEOUT, what="squeue's answer", where=where)
    _check(result, "squeue", where)
    jobs = {}
    now = time.time()
    for line in result.stdout.splitlines():
        cells = line.split("|")
        if len(cells) != 7 or cells[0] not in ids:
            continue
        job_id, state, reason, node, partition, start, end = cells
        jobs[job_id] = SlurmJob(
            job_id=job_id,
            state=_word(state, 40) or "UNKNOWN",
            reason=_word(reason),
            node=_word(node, 64),
            partition=_word(partition, 64),
            start=_time(start),
            end=_time(end),
            seen=now,
        )
    return jobs


async def how_it_ended(
    conn: Any, job: SlurmJob, *, where: str, peak_tries: int = 0
) -> SlurmJob | None:
    """The job's final state and exit code: sacct, else (or for the signal sacct does
    not have yet) scontrol; None while slurmctld is still ending it, or if neither knows
    it as final yet (ask again shortly). Called by :func:`current` (the session's end:
    ``peak_tries`` PEAK_TRIES) and :func:`with_jobs` (a listing: none, review s29 S2)."""
    job_id = check_job_id(job.job_id)
    accounted, final, batch = await _from_sacct(conn, job, job_id, where)
    for _ in range(peak_tries):  # killed (0:9): its batch step's peak says if memory did it
        if accounted is None or accounted.exit_code != "0:9" or batch:
            break  # a batch row without MaxRSS (no accounting of it) will not get one
        await asyncio.sleep(1.0)  # slurmdbd records the batch step a moment after the job
        accounted, final, batch = await _from_sacct(conn, job, job_id, where)
    if final:
        return accounted
    try:
        kept = await _from_scontrol(conn, job, job_id, where)
    except RemoteCommandError:
        if accounted is None:
            raise
        return accounted  # sacct's words, without the signal, rather than none
    if kept is not None and not kept.ended:
        return None  # slurmctld is still ending it: its exit code is to come
    if accounted is None:
        return kept
    if kept is not None and kept.exit_code:
        accounted.exit_code = kept.exit_code
    accounted.memory = accounted.memory or (kept.memory if kept is not None else "")
    return accounted


async def _from_sacct(
    conn: Any, job: SlurmJob, job_id: str, where: str
) -> tuple[SlurmJob | None, bool, bool]:
    """The job as sacct has it once ended (None: not yet, or no accounting), whether that
    is final (its exit code known), and whether sacct has its batch step's row yet.
    Called by :func:`how_it_ended`."""
    sacct = _command("sacct", "-n", "-P", "-j", job_id, "-o", SACCT_FIELDS)
    result = await run(conn, sacct, timeout=QUERY_TIMEOUT, what="sacct's answer", where=where)
    rows = {cells[0]: cells for cells in map(_cells, result.stdout.splitlines()) if cells}
    if job_id not in rows:
        return None, False, False
    ended = _from_cells(job, rows[job_id])
    batch = rows.get(f"{job_id}.batch")
    if ended.exit_code in ("", "0:0") and batch:  # the job line leaves out the signal
        ended.exit_code = _word(batch[2], 20) or ended.exit_code
    if batch:  # the processes' peak: the job line has none
        ended.max_rss = _word(batch[9], 20)
    if not ended.ended:
        return None, False, batch is not None
    # else the batch step's end may not be recorded yet: slurmctld knows
    final = ended.exit_code not in ("", "0:0") or ended.state == "COMPLETED"
    return ended, final, batch is not None


async def _from_scontrol(conn: Any, job: SlurmJob, job_id: str, where: str) -> SlurmJob | None:
    """The job as slurmctld keeps it (MinJobAge seconds after its end, ended or not);
    None once it no longer knows it. Called by :func:`how_it_ended`."""
    show = _command("scontrol", "-o", "show", "job", job_id)
    result = await run(conn, show, timeout=QUERY_TIMEOUT, what="scontrol's answer", where=where)
    _check(result, "scontrol", where)
    fields = key_values(result.stdout)
    if fields.get("JobId") != job_id:
        return None
    return SlurmJob(
        job_id=job_id,
        state=_word(fields.get("JobState", ""), 40) or "UNKNOWN",
        reason=_word(fields.get("Reason", "")),
        node=_word(fields.get("BatchHost", ""), 64) or job.node,
        partition=_word(fields.get("Partition", ""), 64) or job.partition,
        start=_time(fields.get("StartTime", "")) or job.start,
        end=_time(fields.get("EndTime", "")),
        exit_code=_word(fields.get("ExitCode", ""), 20),
        memory=_memory(fields.get("TRES", "")) or job.memory,
        seen=time.time(),
    )


def _memory(tres: str) -> str:
    """The ``mem=`` of a TRES list as Slurm writes it ('300M'), or ''."""
    for item in tres.split(","):
        key, _, value = item.partition("=")
        if key == "mem":
            return _word(value, 20)
    return ""


def _check(result: ExecResult, tool: str, where: str) -> None:
    """A failed query is an error to retry (slurmctld busy or down), unless it only
    says the job is no longer known."""
    if result.exit_status == 0 or PURGED in result.stderr + result.stdout:
        return
    detail = (result.stderr or result.stdout).strip()[-300:]
    raise RemoteCommandError(
        f"{tool} on {where} failed (exit status {result.exit_status}): {detail}",
        hint="Slurm's controller may be busy or restarting; this is asked again shortly.",
    )


def _cells(line: str) -> list[str] | None:
    cells = line.split("|")
    return cells if len(cells) == 10 else None


def _from_cells(job: SlurmJob, cells: list[str]) -> SlurmJob:
    _, state, exit_code, reason, node, partition, start, end, tres, _max_rss = cells
    return SlurmJob(
        job_id=job.job_id,
        state=_word(state, 60) or "UNKNOWN",
        reason=_word(reason),
        node=_word(node, 64) or job.node,
        partition=_word(partition, 64) or job.partition,
        start=_time(start) or job.start,
        end=_time(end),
        exit_code=_word(exit_code, 20),
        memory=_memory(tres) or job.memory,
        seen=time.time(),
    )


async def current(conn: Any, job: SlurmJob, *, where: str) -> SlurmJob:
    """The job now: squeue's view while it lives, how it ended once it is over (squeue's
    word while sacct and scontrol catch up; UNKNOWN when nothing knows it any more)."""
    found = (await query(conn, [job.job_id], where=where)).get(job.job_id)
    if found is not None and not found.ended:
        return found
    ended = await how_it_ended(conn, found or job, where=where, peak_tries=PEAK_TRIES)
    if ended is not None:
        return ended
    if found is not None:
        return found
    return SlurmJob(**{**asdict(job), "state": "UNKNOWN", "seen": time.time()})


async def with_jobs(
    conn: Any, entries: list[dict[str, Any]], *, where: str
) -> list[dict[str, Any]]:
    """``kernel list`` entries with the kernels in Slurm jobs said as their job stands
    (the agent lists those from the login node's records with state "job"): queued,
    running (its node and end) or dead (how the job ended). One squeue for all of them,
    then sacct/scontrol for each one squeue no longer shows as alive."""
    in_jobs = [
        e for e in entries if e.get("state") == "job" and JOB_ID_RE.fullmatch(str(e.get("job_id")))
    ]
    if not in_jobs:
        return entries
    alive = await query(conn, [str(e["job_id"]) for e in in_jobs], where=where)
    for entry in in_jobs:
        job = alive.get(str(entry["job_id"])) or SlurmJob(job_id=str(entry["job_id"]))
        if job.ended or job.job_id not in alive:
            job = await how_it_ended(conn, job, where=where) or SlurmJob(
                **{**asdict(job), "state": job.state if job.ended else "UNKNOWN"}
            )
        entry["job"] = job.to_json()
        if job.queued:
            entry.update(state="queued", reason=job.queue_text())
        elif job.running:
            entry.update(state="running", reason="")
        elif job.ended:
            entry.update(state="dead", reason=job.end_text())
        else:
            entry.update(state="running", reason=f"the job is {job.state}")
    return entries
