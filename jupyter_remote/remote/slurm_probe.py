"""Slurm on the probed host, as the probe collects it (raw: parsed locally).

Part of the probe script (see ``jupyter_remote/remote/__init__.py``). Stdlib only,
Python >= 3.8. ``collect_slurm`` answers ``{"found": False}`` when ``sinfo`` is not on
the login PATH; else the exit status and bounded output of four queries, run in
parallel, each with ``bounded_run.run_bounded``: the version, the partitions with
their limits (``scontrol -o show partition``), the nodes of each partition with their
state and size (``sinfo``), and the user's accounts and QOS (``sacctmgr``, which needs
the accounting daemon: its failure is reported, not fatal). ``kernels/slurm_info.py``
parses them on the local side, where every remote string is bounded and escaped.
"""

import getpass
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, List

# <local-imports> removed when the script is sent: the parts before it define these
from jupyter_remote.remote.bounded_run import run_bounded

# </local-imports>

#: The node listing, exactly as ``kernels/slurm_info.py`` parses it.
NODE_FORMAT = "%R|%N|%t|%c|%m|%G"
MAX_SLURM_OUTPUT = 1 << 18
SLURM_TIMEOUT = 8.0


def _queries(user: str) -> Dict[str, List[str]]:
    return {
        "version": ["sinfo", "--version"],
        "partitions": ["scontrol", "-o", "show", "partition"],
        "nodes": ["sinfo", "-h", "-N", "-o", NODE_FORMAT],
        "accounts": [
            "sacctmgr",
            "-n",
            "-P",
            "show",
            "assoc",
            "user=" + user,
            "format=Account,Partition,QOS",
        ],
    }


def _run_query(argv: List[str]) -> Dict[str, Any]:
    """One query: exit status (None: timed out or did not start) and its output."""
    return run_bounded(argv, argv[0], SLURM_TIMEOUT, MAX_SLURM_OUTPUT)


def collect_slurm() -> Dict[str, Any]:
    """``{"found": False}`` without Slurm's commands, else each query's raw answer."""
    if shutil.which("sinfo") is None or shutil.which("sbatch") is None:
        return {"found": False}
    try:
        user = getpass.getuser()
    except Exception:  # no name for our uid: sacctmgr then reports nothing
        user = str(os.getuid())
    queries = _queries(user)
    with ThreadPoolExecutor(max_workers=len(queries)) as pool:
        answers = dict(zip(queries, pool.map(_run_query, queries.values())))
    found = {"found": True, "user": user}  # type: Dict[str, Any]
    found.update(answers)
    return found
