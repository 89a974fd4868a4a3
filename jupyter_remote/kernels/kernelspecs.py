"""Profiles as real kernelspecs: ``jupyter_data_dir()/kernels/remote-<profile>/``.

Written when a profile is saved, removed with it (manager.add_profile /
remove_profile), so any Jupyter client finds remote kernels with no server
extension running: the spec's ``metadata.kernel_provisioner`` names our
``ssh-provisioner`` entry point with the profile in its config.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from jupyter_core.paths import jupyter_data_dir

from ..store import Profile

PREFIX = "remote-"
PROVISIONER = "ssh-provisioner"


def spec_name(profile: str) -> str:
    return f"{PREFIX}{profile}".lower()


def kernels_dir() -> Path:
    return Path(jupyter_data_dir()) / "kernels"


def display_name(profile: Profile, *, version: str | None, env_name: str | None) -> str:
    """'Python 3.11 · torch — gpu-box', or the profile's own display name."""
    if profile.display_name:
        return profile.display_name
    if profile.kernelspec and not profile.python:
        return f"{profile.kernelspec} — {profile.server}"
    short = ".".join((version or "").split(".")[:2])
    lang = f"Python {short}" if short else "Python"
    env = f" · {env_name}" if env_name else ""
    return f"{lang}{env} — {profile.server}"


def kernelspec_json(profile: Profile, *, display: str, language: str = "python") -> dict[str, Any]:
    message = (
        f"{spec_name(profile.name)} runs on a remote host through the jupyterlab-remote "
        "package's ssh-provisioner; install jupyterlab-remote in this environment."
    )
    return {
        # never run: the provisioner starts the kernel remotely. If someone runs it,
        # it explains what is missing instead of failing obscurely.
        "argv": [sys.executable, "-c", f"raise SystemExit({message!r})", "{connection_file}"],
        "display_name": display,
        "language": language,
        "interrupt_mode": "signal",
        "metadata": {
            "kernel_provisioner": {
                "provisioner_name": PROVISIONER,
                "config": {"profile": profile.name},
            },
            "jupyter_remote": {"profile": profile.name, "server": profile.server},
            "debugger": True,
        },
    }


def write_kernelspec(profile: Profile, *, display: str, language: str = "python") -> Path:
    """Create or replace the kernelspec directory atomically. Blocking: call in a thread."""
    root = kernels_dir()
    root.mkdir(parents=True, exist_ok=True)
    target = root / spec_name(profile.name)
    tmp = Path(tempfile.mkdtemp(dir=root, prefix=f".{target.name}."))
    try:
        (tmp / "kernel.json").write_text(
            json.dumps(kernelspec_json(profile, display=display, language=language), indent=2)
            + "\n",
            encoding="utf-8",
        )
        os.chmod(tmp, 0o755)  # noqa: S103 - kernelspecs are public, like any kernelspec
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def remove_kernelspec(profile: str) -> bool:
    target = kernels_dir() / spec_name(profile)
    if target.is_dir():
        shutil.rmtree(target)
        return True
    return False
