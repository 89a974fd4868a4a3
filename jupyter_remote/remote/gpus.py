"""The remote's GPUs and tools, as the probe collects them (raw: parsed locally).

Part of the probe script (protocol, interpreters, bounded_run, gpus, probe: see
``jupyter_remote/remote/__init__.py``). Stdlib only, Python >= 3.8. ``collect_gpus``
runs ``nvidia-smi`` twice when it is on the login PATH (devices, then compute
processes), each with ``bounded_run.run_bounded``, and hands back their exit status
and output, bounded, as text: ``kernels/gpus.py`` parses it on the local side, where
every remote string is bounded and escaped.
"""

import shutil
from typing import Any, Dict, List

# <local-imports> removed when the script is sent: the parts before it define these
from jupyter_remote.remote.bounded_run import run_bounded

# </local-imports>

#: The two queries, exactly as ``kernels/gpus.py`` parses their CSV.
GPU_QUERY = [
    "--query-gpu=index,uuid,name,memory.used,memory.total,utilization.gpu",
    "--format=csv,noheader,nounits",
]
APPS_QUERY = ["--query-compute-apps=gpu_uuid,pid", "--format=csv,noheader"]
MAX_SMI_OUTPUT = 1 << 16
SMI_TIMEOUT = 10.0


def _run_smi(smi: str, args: List[str]) -> Dict[str, Any]:
    """One nvidia-smi query: exit status (None: timed out or did not start) and output."""
    return run_bounded([smi] + args, "nvidia-smi", SMI_TIMEOUT, MAX_SMI_OUTPUT)


def collect_gpus() -> Dict[str, Any]:
    """``{"found": False}`` without nvidia-smi, else its two answers, raw."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return {"found": False}
    gpus = _run_smi(smi, GPU_QUERY)
    apps = _run_smi(smi, APPS_QUERY) if gpus["status"] == 0 else {"status": None, "output": ""}
    return {"found": True, "gpus": gpus, "apps": apps}
