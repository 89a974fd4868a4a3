"""A Slurm job's memory: our own share of it, the warning for a request that leaves the
kernel too little, and the words for a job its memory limit ended.

A kernel's job holds, besides the kernel, jupyter-remote's own processes: the job's
holder (``remote/job.py``), the supervisor with the relay, the relay's ``srun``
connector step, and now and then an agent step (an interrupt, a status). Slurm counts
them against the job's memory: task/cgroup in the job's memory cgroup, or
jobacct_gather/linux with OverMemoryKill summing each step's RSS (every process's
shared pages counted again). The figures below are the ONE definition of that share;
``tests/test_slurm_memory.py`` measures it on the test cluster and fails when it grows
past :data:`OUR_SHARE_MB`.

Who calls: ``kernels/profiles.py`` (a profile's ``warnings``: REST, CLI), the job side
of a kernel session (``sessions/job.py``: the start's notice, the refusal), and
``kernels/slurm.py`` (the end of a job its memory limit killed).
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import ValidationError
from .discovery import Discovery

#: RSS (MB) of jupyter-remote's processes in a kernel's job, rounded up: holder 15.6,
#: supervisor+relay 24.1, the relay's srun connector 12.2, an agent step while it runs
#: 17.7 (s29, Python 3.11; was 19.1 + 30.4 + 18.0 + 17.3 = 85 MB before s29's cuts): the
#: test measured 65.9-68.6 MB in 6 runs; 80 leaves room for another Python's sizes.
OUR_SHARE_MB = 80
#: What the kernel should have after our share: an idle ipykernel holds ~52 MB, and
#: importing numpy and pandas ~100 MB more.
KERNEL_FLOOR_MB = 256
#: A request under this gets the warning (and the suggestion to ask at least this).
WARN_BELOW_MB = OUR_SHARE_MB + KERNEL_FLOOR_MB
#: Under this a kernel cannot start at all: our share and an idle kernel alone (~70 +
#: ~52 MB) pass it, so the job would be killed at its first cell. Refused at the start.
REFUSE_BELOW_MB = 128
#: Past this share of its limit a job Slurm killed with SIGKILL ran out of memory.
KILLED_AT_SHARE = 0.9

#: Slurm sizes: sbatch --mem (no unit: MB), sacct's MaxRSS ("510500K"), ReqMem ("4Gn").
SIZE_RE = re.compile(r"([0-9]{1,12}(?:\.[0-9]{1,6})?)([KMGTP]?)[nc]?")
UNITS = {"K": 1 / 1024, "": 1, "M": 1, "G": 1024, "T": 1024**2, "P": 1024**3}
FIX = (
    "Ask for more memory (the profile's Slurm memory, sbatch --mem): jupyter-remote's own "
    f"processes in the job use ~{OUR_SHARE_MB} MB of it."
)


def size_mb(text: Any, *, default_unit: str = "M") -> float | None:
    """A Slurm size in MB (binary units), or None when it is not one."""
    m = SIZE_RE.fullmatch(str(text or "").strip())
    if m is None:
        return None
    return float(m.group(1)) * UNITS[m.group(2) or default_unit]


def tres_mb(tres: str) -> float | None:
    """The memory of a TRES list ('billing=1,cpu=1,mem=300M,node=1') in MB."""
    for item in tres.split(","):
        key, _, value = item.partition("=")
        if key == "mem":
            return size_mb(value)
    return None


#: sbatch options (in a profile's extra) that give a job memory in a way ``requested``
#: does not sum (per GPU, whole nodes, CPUs of several tasks): with one of them and no
#: --mem the request is unknown, so neither warned about nor refused (review s29 S1)
OTHER_SHAPES = ("--mem-per-gpu", "--exclusive", "--ntasks", "--mincpus", "--nodes")
SHORT_SHAPES = ("-n", "-N")


def requested(slurm: Any, partition: dict[str, Any] | None = None) -> tuple[float, str] | None:
    """The job's memory in MB and how it was asked ('--mem=100M'), from a profile's Slurm
    settings (a SlurmRequest, or its JSON) and, when it asks none, the partition's default
    as the probe saw it; None when unknown."""
    get = slurm.get if isinstance(slurm, dict) else lambda k: getattr(slurm, k, None)
    cpus = get("cpus") or 1
    options: dict[str, Any] = {"mem": get("memory")}
    other_shape = False
    for option in get("extra") or ():
        name, _, value = str(option).partition("=")
        if name in ("--mem", "--mem-per-cpu"):
            options[name[2:]] = value
        elif name.startswith(OTHER_SHAPES) or name in SHORT_SHAPES or name[:2] in SHORT_SHAPES:
            other_shape = True
    if options.get("mem"):
        mb = size_mb(options["mem"])
        return (mb, f"--mem={options['mem']}") if mb else None
    if other_shape:  # review s29 S1: memory per GPU, whole nodes, more tasks: not ours to sum
        return None
    if options.get("mem-per-cpu"):
        mb = size_mb(options["mem-per-cpu"])
        per = f"--mem-per-cpu={options['mem-per-cpu']}"
        return (mb * cpus, per + (f" x {cpus} CPUs" if cpus > 1 else "")) if mb else None
    if partition:
        where = partition.get("name")
        if partition.get("def_mem_per_node_mb"):
            node_mb = float(partition["def_mem_per_node_mb"])
            return node_mb, f"partition {where}'s default, {node_mb:.0f} MB a node"
        if partition.get("def_mem_per_cpu_mb"):
            cpu_mb = float(partition["def_mem_per_cpu_mb"])
            return cpu_mb * cpus, f"partition {where}'s default, {cpu_mb:.0f} MB a CPU"
    return None


def warning(slurm: Any, partition: dict[str, Any] | None = None) -> str | None:
    """The warning for a request that leaves the kernel under KERNEL_FLOOR_MB, or None."""
    asked = requested(slurm, partition)
    if asked is None or asked[0] >= WARN_BELOW_MB:
        return None
    mb, how = asked
    left = max(0.0, mb - OUR_SHARE_MB)
    return (
        f"The Slurm job asks {_mb(mb)} of memory ({how}); jupyter-remote's own processes in "
        f"the job use ~{OUR_SHARE_MB} MB of it, which leaves the kernel ~{_mb(left)}: Slurm "
        f"kills the job once a cell needs more. Ask at least {WARN_BELOW_MB}M."
    )


def cannot_start(slurm: Any, partition: dict[str, Any] | None = None) -> str | None:
    """Why a job with this request cannot run a kernel at all, or None (None too when the
    request gives memory in a way ``requested`` does not sum: review s29 S1)."""
    asked = requested(slurm, partition)
    if asked is None or asked[0] >= REFUSE_BELOW_MB:
        return None
    return (
        f"The Slurm job would have {_mb(asked[0])} of memory ({asked[1]}): jupyter-remote's "
        f"own processes (~{OUR_SHARE_MB} MB) and an idle kernel (~52 MB) alone need more, "
        "so Slurm would kill it at once."
    )


def end_words(state: str, exit_code: str, memory: str, max_rss: str) -> str | None:
    """How a job its memory limit ended, in words with its limit; None for other ends.
    OUT_OF_MEMORY (task/cgroup's OOM kill), or killed by SIGKILL (exit code 0:9, as
    jobacct_gather's OverMemoryKill ends a job: FAILED, its batch step CANCELLED) with its
    batch step's peak RSS near or past the limit; killed without a known peak: likely."""
    limit = size_mb(memory)
    said = f" of {memory}" if limit else ""
    if state == "OUT_OF_MEMORY":
        return f"it ran out of memory: it needed more than the job's memory limit{said}"
    if exit_code != "0:9" or state not in ("FAILED", "CANCELLED"):
        return None
    peak = size_mb(max_rss, default_unit="K")
    if peak is not None and limit and peak >= KILLED_AT_SHARE * limit:
        return (
            f"it ran out of memory: its processes used {_mb(peak)}, past the job's memory "
            f"limit{said}, and Slurm killed them"
        )
    if state == "FAILED" and peak is None:
        return (
            "it was killed by SIGKILL, most likely because it ran out of memory "
            f"(the job's memory limit{said})"
        )
    return None


def _mb(mb: float) -> str:
    return f"{mb / 1024:.1f} GB" if mb >= 10240 else f"{mb:.0f} MB"


async def partition_of(ctx: Any, server: str, slurm: Any) -> dict[str, Any] | None:
    """The partition a request runs in (its own, else the cluster's default) as the
    server's last probe saw it (never a new probe), or None when it is not known."""
    entry = await Discovery.of(ctx).last_probe(server)
    cluster = entry.get("slurm") if isinstance(entry, dict) else None
    if not isinstance(cluster, dict):
        return None
    get = slurm.get if isinstance(slurm, dict) else lambda k: getattr(slurm, k, None)
    wanted = get("partition")
    for partition in cluster.get("partitions") or []:
        if (partition.get("name") == wanted) if wanted else partition.get("default"):
            return dict(partition)
    return None


async def check_profile(ctx: Any, profile: Any, *, refuse: bool = True) -> list[str]:
    """For a profile being saved (``kernels/profiles.py``): its warnings (the REST
    answer's ``warnings``, printed by the CLI); with ``refuse``, a request that cannot
    start a kernel at all is refused (ValidationError on ``slurm.memory``)."""
    if not profile.slurm:
        return []
    partition = await partition_of(ctx, profile.server, profile.slurm)
    refused = cannot_start(profile.slurm, partition)
    if refused and refuse:
        raise ValidationError(refused, field="slurm.memory", hint=f"Ask at least {WARN_BELOW_MB}M.")
    said = warning(profile.slurm, partition)
    return [said] if said else []
