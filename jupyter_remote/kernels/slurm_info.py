"""A cluster's Slurm as the probe saw it: partitions, their limits, idle nodes, accounts.

The environment probe (``remote/slurm_probe.py``) hands over the raw answers of four
queries, in the same round trip as the environments: ``sinfo --version``,
``scontrol -o show partition`` (one line of ``Key=Value`` per partition),
``sinfo -h -N -o "%R|%N|%t|%c|%m|%G"`` (one line per node and partition) and
``sacctmgr -n -P show assoc user=U format=Account,Partition,QOS`` (which fails where
accounting is off: then no accounts are known, and that is said). Parsed here, on the
local side, bounded and escaped; the wizard offers "run in a Slurm job" when the server
has Slurm. Called by ``discovery.py``; ``RemoteManager.slurm_cluster`` serves it (REST,
CLI).
"""

from __future__ import annotations

import re
from typing import Any

from ..store.slurm import SLURM_NAME_RE, TIME_RE, key_values, time_minutes
from ..text import ascii_digits, printable

MAX_PARTITIONS = 200
MAX_NODE_LINES = 20_000
MAX_ACCOUNTS = 500
MAX_TEXT = 300
#: Node states (sinfo %t) that can start a job now.
IDLE_STATES = {"idle"}
VERSION_RE = re.compile(r"(\d+\.\d+(?:\.\d+)?)")


def parse(raw: Any) -> dict[str, Any] | None:
    """The cluster, or None when the server has no Slurm commands on its login PATH."""
    if not isinstance(raw, dict) or raw.get("found") is not True:
        return None
    errors: list[str] = []
    version = VERSION_RE.search(_output(raw.get("version"), "sinfo --version", errors))
    partitions = _partitions(_output(raw.get("partitions"), "scontrol show partition", errors))
    _add_nodes(partitions, _output(raw.get("nodes"), "sinfo", errors))
    accounts: list[dict[str, Any]] = []
    answer = raw.get("accounts")
    if isinstance(answer, dict) and _ok(answer):
        accounts = _accounts(str(answer.get("output") or ""))
    else:
        said = answer.get("output") if isinstance(answer, dict) else None
        errors.append(
            f"your accounts are unknown (sacctmgr: {_cut(str(said or 'no answer'))}); "
            "type one if the cluster needs it"
        )
    return {
        "version": version.group(1) if version else "",
        "user": _cut(str(raw.get("user") or "")),
        "partitions": list(partitions.values()),
        "accounts": accounts,
        "errors": errors,
    }


def _ok(answer: Any) -> bool:
    return isinstance(answer, dict) and answer.get("status") == 0


def _output(answer: Any, what: str, errors: list[str]) -> str:
    """The output of a query that worked; '' (and an error naming ``what``) otherwise."""
    if not isinstance(answer, dict) or not isinstance(answer.get("output"), str):
        errors.append(f"{what}: no answer")
        return ""
    if answer.get("status") != 0:
        errors.append(f"{what} failed: {_cut(answer['output'])}")
        return ""
    return str(answer["output"])


def _cut(text: str) -> str:
    return printable(text.strip()[:MAX_TEXT])


def _partitions(text: str) -> dict[str, dict[str, Any]]:
    partitions: dict[str, dict[str, Any]] = {}
    for line in text.splitlines():
        fields = key_values(line)
        name = fields.get("PartitionName", "")
        if not SLURM_NAME_RE.fullmatch(name) or len(partitions) >= MAX_PARTITIONS:
            continue
        partitions[name] = {
            "name": name,
            "default": fields.get("Default") == "YES",
            "state": _cut(fields.get("State", "")),
            "max_time": _time_text(fields.get("MaxTime", "")),
            "max_minutes": _minutes(fields.get("MaxTime", "")),
            "default_time": _time_text(fields.get("DefaultTime", "")),
            "max_cpus_per_node": _int(fields.get("MaxCPUsPerNode", "")),
            "max_memory_mb_per_node": _int(fields.get("MaxMemPerNode", "")),
            # a job asking no memory gets these (slurm_memory.requested)
            "def_mem_per_cpu_mb": _int(fields.get("DefMemPerCPU", "")),
            "def_mem_per_node_mb": _int(fields.get("DefMemPerNode", "")),
            "nodes": _int(fields.get("TotalNodes", "")) or 0,
            "cpus": _int(fields.get("TotalCPUs", "")) or 0,
            "idle_nodes": 0,
            "cpus_per_node": 0,
            "memory_mb_per_node": 0,
            "gres": [],
        }
    return partitions


def _add_nodes(partitions: dict[str, dict[str, Any]], text: str) -> None:
    """Idle nodes, and the largest node's CPUs, memory and GRES, per partition."""
    for line in text.splitlines()[:MAX_NODE_LINES]:
        cells = line.split("|")
        if len(cells) != 6:
            continue
        name, _node, state, cpus, memory, gres = cells
        partition = partitions.get(name.rstrip("*"))
        if partition is None:
            continue
        if state.strip().rstrip("*~#!%$@^-") in IDLE_STATES and not state.endswith(("*", "~")):
            partition["idle_nodes"] += 1
        partition["cpus_per_node"] = max(partition["cpus_per_node"], _int(cpus) or 0)
        partition["memory_mb_per_node"] = max(partition["memory_mb_per_node"], _int(memory) or 0)
        for item in gres.split(","):
            item = _cut(item)
            if item and item != "(null)" and item not in partition["gres"]:
                partition["gres"] = [*partition["gres"], item][:20]


def _accounts(text: str) -> list[dict[str, Any]]:
    accounts: dict[str, dict[str, Any]] = {}
    for line in text.splitlines():
        cells = line.split("|")
        if len(cells) != 3 or not SLURM_NAME_RE.fullmatch(cells[0]):
            continue
        entry = accounts.setdefault(cells[0], {"account": cells[0], "partitions": [], "qos": []})
        if SLURM_NAME_RE.fullmatch(cells[1]) and cells[1] not in entry["partitions"]:
            entry["partitions"].append(cells[1])
        for qos in cells[2].split(","):
            if SLURM_NAME_RE.fullmatch(qos) and qos not in entry["qos"]:
                entry["qos"].append(qos)
        if len(accounts) >= MAX_ACCOUNTS:
            break
    return list(accounts.values())


def _int(text: str) -> int | None:
    return int(text) if ascii_digits(text) and len(text) < 12 else None


def _time_text(text: str) -> str:
    """A partition's time as Slurm says it (UNLIMITED, 1-00:00:00, ...), or ''."""
    return text if text == "UNLIMITED" or TIME_RE.fullmatch(text) else ""


def _minutes(text: str) -> int | None:
    return time_minutes(text) if TIME_RE.fullmatch(text) else None
