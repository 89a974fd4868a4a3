"""The remote's GPUs and tools, as the probe collects them (raw: parsed locally).

Part of the probe script (protocol, interpreters, gpus, probe: see
``jupyter_remote/remote/__init__.py``). Stdlib only, Python >= 3.8. ``collect_gpus``
runs ``nvidia-smi`` twice when it is on the login PATH (devices, then compute
processes), each in its own session with a timeout, and hands back their exit status
and output, bounded, as text: ``kernels/gpus.py`` parses it on the local side, where
every remote string is bounded and escaped. ``find_tools`` says where ``uv`` and
``conda`` (or ``mamba``/``micromamba``) are, for creating environments.
"""

import os
import shutil
import subprocess
from typing import Any, Dict, List, Optional

#: The two queries, exactly as ``kernels/gpus.py`` parses their CSV.
GPU_QUERY = [
    "--query-gpu=index,uuid,name,memory.used,memory.total,utilization.gpu",
    "--format=csv,noheader,nounits",
]
APPS_QUERY = ["--query-compute-apps=gpu_uuid,pid", "--format=csv,noheader"]
MAX_SMI_OUTPUT = 1 << 16
SMI_TIMEOUT = 10.0
CONDA_NAMES = ("conda", "mamba", "micromamba")
CONDA_PLACES = ("~/miniconda3", "~/miniforge3", "~/mambaforge", "~/anaconda3", "/opt/conda")


def _run_smi(smi: str, args: List[str]) -> Dict[str, Any]:
    """One nvidia-smi query: exit status (None: timed out or did not start) and output."""
    try:
        proc = subprocess.Popen(
            [smi] + args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd="/",
            close_fds=True,
            start_new_session=True,
        )
    except OSError as exc:
        return {"status": None, "output": "cannot run nvidia-smi: %s" % (exc.strerror or exc)}
    try:
        out, _ = proc.communicate(timeout=SMI_TIMEOUT)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, 9)
        except OSError:
            pass
        proc.wait()
        return {"status": None, "output": "nvidia-smi timed out after %.0f s" % SMI_TIMEOUT}
    text = out[:MAX_SMI_OUTPUT].decode("utf-8", "replace")
    return {"status": proc.returncode, "output": text}


def collect_gpus() -> Dict[str, Any]:
    """``{"found": False}`` without nvidia-smi, else its two answers, raw."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return {"found": False}
    gpus = _run_smi(smi, GPU_QUERY)
    apps = _run_smi(smi, APPS_QUERY) if gpus["status"] == 0 else {"status": None, "output": ""}
    return {"found": True, "gpus": gpus, "apps": apps}


def _tool(names: List[str], places: List[str]) -> Optional[str]:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    for place in places:
        for name in names:
            path = os.path.join(os.path.expanduser(place), "bin", name)
            if os.path.isfile(path) and os.access(path, os.X_OK):
                return path
    return None


def find_tools() -> Dict[str, Optional[str]]:
    """Where ``uv`` and a conda-like tool are (login PATH, then their usual homes)."""
    return {
        "uv": _tool(["uv"], ["~/.local", "~/.cargo"]),
        "conda": _tool(list(CONDA_NAMES), list(CONDA_PLACES)),
    }
