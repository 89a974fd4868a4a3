"""kernels/slurm_memory's words and sizes, in-process (no cluster): the partition's default
memory, --mem-per-cpu times the CPUs, and how each end by memory is told.
test_slurm_memory.py runs the same on the real cluster."""

from __future__ import annotations

from jupyter_remote.kernels import slurm_memory
from jupyter_remote.kernels.slurm import SlurmJob
from jupyter_remote.kernels.slurm_info import parse
from jupyter_remote.store.slurm import SlurmRequest


def test_sizes_are_read_as_slurm_writes_them() -> None:
    assert slurm_memory.size_mb("300M") == 300
    assert slurm_memory.size_mb("2G") == 2048
    assert slurm_memory.size_mb("4000") == 4000  # sbatch --mem: MB
    assert slurm_memory.size_mb("510500K", default_unit="K") == 510500 / 1024
    assert slurm_memory.size_mb("4Gn") == 4096  # older sacct ReqMem
    assert slurm_memory.size_mb("lots") is None and slurm_memory.size_mb("") is None


def test_a_partitions_default_memory_from_the_probe_is_what_a_request_without_mem_gets() -> None:
    raw = {
        "found": True,
        "version": {"status": 0, "output": "slurm 22.05.8"},
        "partitions": {
            "status": 0,
            "output": "PartitionName=small Default=YES DefMemPerCPU=100 MaxMemPerNode=UNLIMITED\n"
            "PartitionName=big DefMemPerNode=8000\n",
        },
        "nodes": {"status": 0, "output": ""},
        "accounts": {"status": 1, "output": "off"},
    }
    cluster = parse(raw)
    assert cluster is not None
    small, big = cluster["partitions"]
    assert (small["def_mem_per_cpu_mb"], small["def_mem_per_node_mb"]) == (100, None)
    request = SlurmRequest(cpus=2)
    said = slurm_memory.warning(request, small)
    assert (
        said is not None
        and "asks 200 MB of memory (partition small's default, 100 MB a CPU)" in said
    )
    assert slurm_memory.warning(SlurmRequest(), big) is None
    assert slurm_memory.cannot_start(SlurmRequest(), small)  # 100 MB: refused
    assert slurm_memory.warning(SlurmRequest(memory="1G"), small) is None  # its own --mem


def test_each_end_by_memory_names_the_limit_and_the_fix() -> None:
    oom = SlurmJob("7", state="OUT_OF_MEMORY", exit_code="0:125", memory="400M")
    assert oom.end_text().startswith(
        "The Slurm job 7 ended: OUT_OF_MEMORY (it ran out of memory: it needed more than the "
        "job's memory limit of 400M), exit code 0:125. Ask for more memory"
    )
    killed = SlurmJob("8", state="FAILED", exit_code="0:9", memory="300M", max_rss="510500K")
    assert (
        "FAILED (it ran out of memory: its processes used 499 MB, past the job's memory "
        "limit of 300M, and Slurm killed them)" in killed.end_text()
    )
    unknown = SlurmJob("9", state="FAILED", exit_code="0:9", memory="300M")
    assert "most likely because it ran out of memory (the job's memory limit of 300M)" in (
        unknown.end_text()
    )
    small_peak = SlurmJob("10", state="FAILED", exit_code="0:9", memory="4G", max_rss="20000K")
    assert (
        small_peak.end_text() == "The Slurm job 10 ended: FAILED (its script was killed by "
        "signal 9), exit code 0:9."
    )
    timeout = SlurmJob("11", state="TIMEOUT", exit_code="0:15", memory="1G")
    assert (
        timeout.end_text() == "The Slurm job 11 ended: TIMEOUT (it reached its time limit), "
        "exit code 0:15."
    )


def test_memory_given_another_way_is_neither_refused_nor_warned_about() -> None:
    """Review s29 S1: with no --mem, a request falling back on the partition's default was
    wrong when extra gives memory another way (per GPU, whole nodes, several tasks), and
    such a valid profile was refused at save and at every start. Now that request is
    unknown (no warning, no refusal); a bare request on that partition still is."""
    partition = {"name": "gpu", "def_mem_per_cpu_mb": 100}
    for extra in (["--mem-per-gpu=16G"], ["--ntasks=8", "--mem-per-cpu=100M"], ["--exclusive"]):
        request = SlurmRequest(extra=extra)
        assert slurm_memory.requested(request, partition) is None, extra
        assert slurm_memory.cannot_start(request, partition) is None, extra
        assert slurm_memory.warning(request, partition) is None, extra
    bare = SlurmRequest()
    assert slurm_memory.warning(bare, partition) is not None  # 100 MB a CPU, one CPU
    assert slurm_memory.cannot_start(bare, partition) is not None


def test_digits_int_cannot_take_are_no_numbers() -> None:
    """Review s29 S3: str.isdigit() accepts '²' and int('²') raises, so a cluster whose
    sacct or scontrol printed one made the job's end text, its exit status and the whole
    Slurm probe raise. Now they are no numbers."""
    job = SlurmJob("7", state="FAILED", exit_code="0:²")
    assert "ended: FAILED" in job.end_text()
    assert job.exit_status() == -9
    raw = {
        "found": True,
        "version": {"status": 0, "output": "slurm 22.05.8"},
        "partitions": {"status": 0, "output": "PartitionName=p Default=YES DefMemPerCPU=²\n"},
        "nodes": {"status": 0, "output": ""},
        "accounts": {"status": 1, "output": "off"},
    }
    cluster = parse(raw)
    assert cluster is not None and cluster["partitions"][0]["def_mem_per_cpu_mb"] is None
