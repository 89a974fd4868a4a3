"""What our processes in a Slurm job hold in memory, read from /proc (root).

Called by tests/test_slurm_memory.py. The compute node shares this machine's process
table (harness gotcha 10): every process whose environment says ``SLURM_JOB_ID=J`` is
one of the job's, and the ``slurmstepd: [J.S]`` above it names its step. RSS is what
jobacct_gather/linux sums per step (shared pages in each process), PSS what a
cgroup's memory.usage is closer to.
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path

#: slurmstepd's title: "slurmstepd: [J.S]", cut short where its argv area ends ("[1.bat")
STEP_RE = re.compile(r"\[[0-9]+\.([a-z0-9]+)")


@dataclass
class JobProcess:
    pid: int
    ppid: int
    step: str
    role: str
    rss_kb: int
    pss_kb: int
    command: str


def _read(path: str) -> str:
    try:
        return Path(path).read_text(errors="replace")
    except OSError:
        return ""


def _ppid_and_comm(pid: int) -> tuple[int, str]:
    stat = _read(f"/proc/{pid}/stat")
    if not stat:
        return 0, ""
    comm = stat[stat.find("(") + 1 : stat.rfind(")")]
    return int(stat[stat.rfind(")") + 2 :].split()[1]), comm


def _kb(text: str, key: str) -> int:
    for line in text.splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def _command(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()[:120]


def job_processes(job_id: str) -> list[JobProcess]:
    """The job's processes (not slurmstepd), each with its step, role and memory."""
    needle = f"SLURM_JOB_ID={job_id}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if needle not in environ:
            continue
        ppid, comm = _ppid_and_comm(pid)
        if comm.startswith("slurmstepd"):
            continue
        step, parent_role = _step_of(ppid)
        rss = _kb(_read(f"/proc/{pid}/status"), "VmRSS")
        pss = _kb(_read(f"/proc/{pid}/smaps_rollup"), "Pss")
        if not rss:
            continue  # ended meanwhile, or a zombie
        command = _command(pid)
        role = _role(step, parent_role)
        found.append(JobProcess(pid, ppid, step, role, rss, pss, command))
    return found


def _step_of(pid: int) -> tuple[str, int]:
    """The step (``batch``, ``0``...) of the slurmstepd above PID, and how many
    processes lie between (0: PID is the step's first task)."""
    depth = 0
    while pid > 1:
        _, comm = _ppid_and_comm(pid)
        command = _command(pid)
        if comm.startswith("slurmstepd"):
            m = STEP_RE.search(command)
            if m:
                step = m.group(1)
                return ("batch" if "batch".startswith(step) else step), depth
        else:
            depth += 1
        pid, _ = _ppid_and_comm(pid)
    return "?", depth


def _role(step: str, depth: int) -> str:
    if step == "batch":
        return {0: "holder", 1: "supervisor+relay"}.get(depth, "kernel")
    return "srun step"


class Sampler:
    """Samples the job's processes every INTERVAL s in a thread; keeps each role's and
    each step's peak (a short agent step is seen only while it runs)."""

    def __init__(self, job_id: str, interval: float = 0.02) -> None:
        self.job_id = job_id
        self.interval = interval
        self.peak_rss: dict[str, int] = {}
        self.peak_step_rss: dict[str, int] = {}
        self.peak_total_rss = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            procs = job_processes(self.job_id)
            self.samples += 1
            steps: dict[str, int] = {}
            for p in procs:
                key = p.role if p.step == "batch" else f"step {p.step}"
                self.peak_rss[key] = max(self.peak_rss.get(key, 0), p.rss_kb)
                steps[p.step] = steps.get(p.step, 0) + p.rss_kb
            for step, rss in steps.items():
                self.peak_step_rss[step] = max(self.peak_step_rss.get(step, 0), rss)
            self.peak_total_rss = max(self.peak_total_rss, sum(steps.values()))
