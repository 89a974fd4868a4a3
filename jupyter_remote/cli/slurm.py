"""``jupyter remote slurm show`` and the Slurm options of ``profile add`` / ``profile edit``.

A profile runs its kernel in a Slurm job when it has Slurm settings: ``--slurm`` (all
defaults) or any of the options below, named as sbatch names them. Each value goes to
sbatch as one argv element (validated by ``store/slurm.py``), never through a shell.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from ..errors import ValidationError
from ..manager import RemoteManager
from ..text import printable
from .common import print_json, print_table, progress

#: option -> the profile's slurm field
OPTIONS = {
    "partition": "partition",
    "time": "time",
    "cpus": "cpus",
    "mem": "memory",
    "gres": "gres",
    "account": "account",
    "qos": "qos",
    "reservation": "reservation",
    "notice_minutes": "notice_minutes",
}


def add_options(p: argparse.ArgumentParser, *, edit: bool = False) -> None:
    """The Slurm options of ``profile add`` and ``profile edit``."""
    group = p.add_argument_group(
        "Slurm",
        "run the kernel inside a Slurm job submitted from this server (the cluster's login "
        "node); any of these options implies --slurm",
    )
    group.add_argument("--slurm", action="store_true", help="run in a Slurm job (defaults)")
    if edit:
        group.add_argument("--no-slurm", action="store_true", help="run on the server itself")
    group.add_argument("--partition", metavar="NAME", help="sbatch --partition")
    group.add_argument("--time", metavar="TIME", help="time limit: 90, 1:30:00, 2-00:00")
    group.add_argument("--cpus", type=int, metavar="N", help="sbatch --cpus-per-task")
    group.add_argument("--mem", metavar="SIZE", help="memory: 4G, 500M")
    group.add_argument("--gres", metavar="GRES", help="GPUs and other resources: gpu:1")
    group.add_argument("--account", metavar="NAME", help="sbatch --account")
    group.add_argument("--qos", metavar="NAME", help="sbatch --qos")
    group.add_argument("--reservation", metavar="NAME", help="sbatch --reservation")
    group.add_argument(
        "--sbatch-option",
        action="append",
        default=[],
        metavar="--OPTION[=VALUE]",
        help="another sbatch option, long form (repeatable): --sbatch-option=--constraint=a100",
    )
    group.add_argument(
        "--notice-minutes",
        type=int,
        metavar="N",
        help="tell the notebook N minutes before the time limit (default 10; 0: never)",
    )


def settings(args: Any, current: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """The profile's ``slurm`` field from the options (over ``current`` for an edit), or
    None when none was given (``profile add``: no Slurm; ``profile edit``: unchanged)."""
    given = {field: getattr(args, opt) for opt, field in OPTIONS.items()}
    given = {k: v for k, v in given.items() if v is not None}
    if args.sbatch_option:
        given["extra"] = list(args.sbatch_option)
    if not (given or args.slurm):
        return None
    return {**(current or {}), **given}


def print_warnings(profile: dict[str, Any]) -> None:
    """A saved profile's warnings (a Slurm job's memory too small: kernels/slurm_memory.py)
    on stderr, whatever the output format. Called by profile add and edit."""
    for text in profile.get("warnings") or []:
        print(printable(f"warning: {text}"), file=sys.stderr, flush=True)


def describe(slurm: dict[str, Any] | None) -> str:
    """A profile's Slurm settings in one cell: 'main, 1:00:00, gpu:1'."""
    if not slurm:
        return ""
    parts = [slurm.get("partition") or "default partition"]
    parts += [str(slurm[k]) for k in ("time", "gres", "account") if slurm.get(k)]
    return ", ".join(parts)


def job_text(kernel: dict[str, Any]) -> str:
    """A listed kernel's job in one cell: 'job 12 on node3, 41 min left' / 'job 13 queued'."""
    job = kernel.get("job")
    if not isinstance(job, dict):
        return ""
    text = f"job {job.get('id')}"
    if kernel.get("state") == "running":
        text += f" on {job.get('node')}"
        end = job.get("end")
        if isinstance(end, (int, float)):
            text += f", {max(0, round((end - time.time()) / 60))} min left"
    elif kernel.get("state") in ("queued", "dead"):
        text += f" {kernel['state']}: {kernel.get('reason') or job.get('state')}"
    return printable(text)


async def slurm_show(manager: RemoteManager, args: Any) -> int:
    """``slurm show SERVER``: partitions, their limits and idle nodes, your accounts."""
    progress(f"Asking {args.server} ...")
    answer = await manager.slurm_cluster(args.server, refresh=args.refresh)
    if args.json:
        print_json(answer)
        return 0
    slurm = answer.get("slurm")
    if not slurm:
        raise ValidationError(
            f"{args.server} has no Slurm: sinfo and sbatch are not on its login PATH.",
            hint="Is this the cluster's login node? If Slurm is there, put its commands on the "
            "PATH of a non-interactive login (~/.profile or ~/.bashrc), then --refresh.",
        )
    print(f"Slurm {slurm.get('version') or '?'} on {args.server}, user {slurm.get('user')}")
    rows = [
        [
            p["name"] + (" (default)" if p.get("default") else ""),
            p.get("state"),
            p.get("max_time") or "",
            f"{p.get('idle_nodes')}/{p.get('nodes')}",
            p.get("cpus_per_node"),
            p.get("memory_mb_per_node"),
            ",".join(p.get("gres") or []),
        ]
        for p in slurm.get("partitions") or []
    ]
    print_table(rows, ["partition", "state", "max time", "idle nodes", "cpus", "mem MB", "gres"])
    for account in slurm.get("accounts") or []:
        qos = ",".join(account.get("qos") or [])
        print(f"account {account['account']}" + (f" (qos {qos})" if qos else ""))
    for error in slurm.get("errors") or []:
        print(f"note: {error}")
    return 0


def add_group(top: Any, epilog: str) -> None:
    """``jupyter remote slurm show SERVER [--refresh] [--json]``."""
    group = top.add_parser("slurm", help="the Slurm cluster behind a server (its login node)")
    actions = group.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = actions.add_parser(
        "show",
        help="partitions with their limits and idle nodes, your accounts",
        epilog=epilog,
    )
    p.add_argument("server")
    p.add_argument("--refresh", action="store_true", help="probe again instead of the cache")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=slurm_show)
