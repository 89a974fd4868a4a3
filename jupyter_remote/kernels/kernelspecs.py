"""Profiles as real kernelspecs: ``jupyter_data_dir()/kernels/remote-<profile>/``.

Written when a profile is saved or edited, removed with it (manager.add_profile /
update_profile / remove_profile), so any Jupyter client finds remote kernels with no
server extension running: the spec's ``metadata.kernel_provisioner`` names our
``ssh-provisioner`` entry point with the profile in its config. Each spec carries our
logo (``logo/``: a Python-like mark with a cloud badge, so the launcher shows the kernel
runs elsewhere; the PNGs are the SVG rendered by chromium at 64 and 32 pixels), and a
display name that tells profiles apart (``display_name``).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterable
from importlib.resources import files
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


LOGOS = ("logo-svg.svg", "logo-64x64.png", "logo-32x32.png")


def display_name(profile: Profile) -> str:
    """The profile's own display name, else 'Python 3.11 · torch — gpu-box (NAME, CWD)'.

    The automatic name says the profile's name (unless it is the server's) and its
    working directory, so two profiles of one environment differ in the launcher and
    the kernel picker: profile names are unique, and at most one equals the server's.
    """
    if profile.display_name:
        return profile.display_name
    if profile.kernelspec and not profile.python:
        base = f"{profile.kernelspec} — {profile.server}"
    else:
        short = ".".join((profile.python_version or "").split(".")[:2])
        lang = f"Python {short}" if short else "Python"
        env = f" · {profile.env_name}" if profile.env_name else ""
        base = f"{lang}{env} — {profile.server}"
    apart = [profile.name] if profile.name != profile.server else []
    if profile.cwd:
        apart.append(profile.cwd)
    return f"{base} ({', '.join(apart)})" if apart else base


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
    logos = files(__package__).joinpath("logo")
    write_spec_dir(
        target,
        kernelspec_json(profile, display=display, language=language),
        {logo: logos.joinpath(logo).read_bytes() for logo in LOGOS},
    )
    return target


def write_spec_dir(
    target: Path, spec: dict[str, Any], extra: dict[str, bytes] | None = None
) -> None:
    """Replace the kernelspec directory ``target`` atomically: kernel.json and ``extra``
    files (logos) written in a private temporary directory beside it, made public
    (0755, like any kernelspec), then renamed over it. Blocking: called in a thread by
    write_kernelspec and by jupyter_servers.sync_kernelspecs."""
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    try:
        (tmp / "kernel.json").write_text(json.dumps(spec, indent=2) + "\n", encoding="utf-8")
        for name, data in (extra or {}).items():
            (tmp / name).write_bytes(data)
        os.chmod(tmp, 0o755)  # noqa: S103 - kernelspecs are public, like any kernelspec
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def sync_kernelspecs(profiles: Iterable[Profile]) -> list[str]:
    """Rewrite the kernelspecs whose kernel.json or logo differ from their profile's
    (display names after an upgrade, the logo); returns their names. Blocking: the
    extension calls it in a thread at start."""
    rewritten = []
    for profile in profiles:
        target = kernels_dir() / spec_name(profile.name)
        try:
            current = json.loads((target / "kernel.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            current = None
        language = "python"
        if isinstance(current, dict) and isinstance(current.get("language"), str):
            language = current["language"]
        wanted = kernelspec_json(profile, display=display_name(profile), language=language)
        fresh = isinstance(current, dict) and {**current, "argv": wanted["argv"]} == wanted
        if fresh and all((target / logo).is_file() for logo in LOGOS):
            continue
        write_kernelspec(profile, display=wanted["display_name"], language=language)
        rewritten.append(target.name)
    return rewritten


def remove_kernelspec(profile: str) -> bool:
    target = kernels_dir() / spec_name(profile)
    if target.is_dir():
        shutil.rmtree(target)
        return True
    return False
