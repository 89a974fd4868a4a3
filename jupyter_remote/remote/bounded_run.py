"""One command run ON the remote with a timeout and bounded output: the probe's helper.

Part of the probe script (see ``jupyter_remote/remote/__init__.py``), before the parts
that call it: ``gpus.py`` (nvidia-smi's two queries) and ``slurm_probe.py`` (sinfo,
scontrol, sacctmgr). Stdlib only, Python >= 3.8. The command runs in its own session
from ``/``, stdin closed, stderr folded into stdout; on timeout its whole process
group is killed. The answer is raw (parsed on the local side).
"""

import os
import subprocess
from typing import Any, Dict, List


def run_bounded(argv: List[str], label: str, timeout: float, limit: int) -> Dict[str, Any]:
    """Exit status (None: timed out or did not start) and at most ``limit`` bytes of
    output as text; ``label`` names the command in the messages."""
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd="/",
            close_fds=True,
            start_new_session=True,
        )
    except OSError as exc:
        return {"status": None, "output": "cannot run %s: %s" % (label, exc.strerror or exc)}
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, 9)
        except OSError:
            pass
        proc.wait()
        return {"status": None, "output": "%s timed out after %.0f s" % (label, timeout)}
    return {"status": proc.returncode, "output": out[:limit].decode("utf-8", "replace")}
