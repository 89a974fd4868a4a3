"""Where ``uv`` and a conda-like tool are on the remote: runs ON the remote.

A part of two scripts (see ``jupyter_remote/remote/__init__.py``): the probe reports
``find_tools()`` (what the Create environment form offers) and ``envcreate`` runs the
tool ``find_tool`` finds, so both look in the same places: the login PATH first, then
the tools' usual homes. Stdlib only, Python >= 3.8.
"""

import os
import shutil
from typing import Dict, List, Optional

CONDA_NAMES = ("conda", "mamba", "micromamba")
CONDA_PLACES = ("~/miniconda3", "~/miniforge3", "~/mambaforge", "~/anaconda3", "/opt/conda")
UV_PLACES = ("~/.local", "~/.cargo")


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
        "uv": find_tool("uv"),
        "conda": find_tool("conda"),
    }


def find_tool(name: str) -> Optional[str]:
    """``uv``, or for ``conda`` the first conda-like tool (conda, mamba, micromamba)."""
    if name == "uv":
        return _tool(["uv"], list(UV_PLACES))
    return _tool(list(CONDA_NAMES), list(CONDA_PLACES))
