"""Creating a Python environment with ipykernel ON the remote, for a user whose Python
refuses packages (PEP 668) or has none: sent over stdin, never installed.

Script "envcreate" (protocol, envcreate: see ``jupyter_remote/remote/__init__.py``),
run by the BASE interpreter the user chose (``remote.command_with(base)``), so a venv
gets that Python. Stdlib only, Python >= 3.8. REQUEST, one JSON line::

    {"name": "torch",             # [A-Za-z0-9._-], validated locally too; null: jupyter-X.Y
     "tool": "venv"}              # venv | uv | conda (found here, as the probe does)

Where: venv and uv under ``~/.virtualenvs/NAME``, conda under ``~/.conda/envs/NAME`` (both
places the probe scans). An existing directory is refused, never reused or replaced.
Every command is an argv list (no shell); its output streams as it comes, each step
announced by a ``$ command`` line. What this made is removed again when a step fails.
The umask is the login's. The last line is :data:`ENVCREATE_MARKER` + JSON::

    {"ok": true, "python": "/home/u/.virtualenvs/jupyter-3.11/bin/python", "path": ...}
    {"ok": false, "error": "...", "hint": "..."}
"""

import json
import os
import re
import shutil
import subprocess
import sys
from typing import Any, Dict, List

# <local-imports> removed when the script is sent: the parts before it define these
from jupyter_remote.remote.protocol import ENVCREATE_MARKER
from jupyter_remote.remote.tools import find_tool

# </local-imports>

NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,63}")
TOOLS = ("venv", "uv", "conda")
PACKAGES = ["ipykernel"]
STEP_TIMEOUT = 1800


class CreateError(Exception):
    """A step failed: message and hint for the user."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message, self.hint = message, hint


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _step(argv: List[str], what: str, hint: str) -> None:
    """Run one command, its output streamed; CreateError when it fails."""
    _say("$ " + " ".join(argv))
    try:
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
    except OSError as exc:
        raise CreateError(
            "%s: cannot run %s: %s" % (what, argv[0], exc.strerror or exc), hint
        ) from None
    assert proc.stdout is not None
    for raw in iter(proc.stdout.readline, b""):
        _say(raw.decode("utf-8", "replace").rstrip("\r\n"))
    status = proc.wait(timeout=STEP_TIMEOUT)
    if status != 0:
        raise CreateError(
            "%s failed (exit status %d); see the output above." % (what, status), hint
        )


def _plan(tool: str, target: str) -> List[Any]:
    """The steps as (argv, what, hint) for ``tool``."""
    python = os.path.join(target, "bin", "python")
    version = "%d.%d" % sys.version_info[:2]
    if tool == "venv":
        return [
            (
                [sys.executable, "-m", "venv", target],
                "Creating the virtual environment",
                "This Python lacks venv/ensurepip (Debian: apt install python3-venv); "
                "or create it with uv or conda.",
            ),
            (
                [python, "-m", "pip", "install", "--disable-pip-version-check"] + PACKAGES,
                "Installing ipykernel",
                "pip needs to reach a package index (or a configured mirror) from the remote.",
            ),
        ]
    found = find_tool(tool)
    if found is None:
        raise CreateError(
            "%s is not on the login PATH of the remote." % tool,
            "Choose venv, or install %s there first." % tool,
        )
    if tool == "uv":
        return [
            ([found, "venv", "--python", sys.executable, target], "Creating the environment", ""),
            ([found, "pip", "install", "--python", python] + PACKAGES, "Installing ipykernel", ""),
        ]
    return [
        (
            [found, "create", "-y", "-p", target, "python=" + version] + PACKAGES,
            "Creating the conda environment",
            "conda needs to reach its channels from the remote.",
        )
    ]


def _target(request: Dict[str, Any]) -> str:
    name = request.get("name") or "jupyter-%d.%d" % sys.version_info[:2]
    tool = request.get("tool")
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise CreateError("%r is not a valid environment name." % (name,))
    if tool not in TOOLS:
        raise CreateError("tool must be one of %s." % ", ".join(TOOLS))
    home = "~/.conda/envs" if tool == "conda" else "~/.virtualenvs"
    target = os.path.join(os.path.expanduser(home), name)
    if os.path.lexists(target):
        raise CreateError(
            "%s already exists on the remote." % target,
            "Pick it in the environment list, or give another name.",
        )
    return target


def create(request: Dict[str, Any]) -> Dict[str, Any]:
    """Make the environment; remove what was made when a step fails."""
    target = _target(request)
    steps = _plan(str(request["tool"]), target)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    try:
        for argv, what, hint in steps:
            _step(argv, what, hint)
        python = os.path.join(target, "bin", "python")
        _step([python, "-c", "import ipykernel"], "Checking ipykernel", "")
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    return {"ok": True, "python": python, "path": target, "tool": request["tool"]}


def main() -> int:
    line = sys.stdin.buffer.readline().decode("utf-8", "replace")
    try:
        request = json.loads(line)
        if not isinstance(request, dict):
            raise ValueError("not an object")
        answer = create(request)
    except CreateError as exc:
        answer = {"ok": False, "error": exc.message, "hint": exc.hint}
    except (ValueError, OSError, subprocess.SubprocessError) as exc:
        answer = {"ok": False, "error": "%s: %s" % (type(exc).__name__, exc), "hint": ""}
    _say("\n" + ENVCREATE_MARKER + json.dumps(answer))
    return 0 if answer.get("ok") else 1


if __name__ == "__main__":
    sys.exit(main())
