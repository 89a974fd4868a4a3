"""Creating an environment for Jupyter on a server (a venv, or with uv or conda), with
ipykernel, its progress streamed. Called through RemoteManager by
``POST /remote/servers/{name}/environments`` (NDJSON) and ``jupyter remote env create``.

What works where pip refuses a system Python (PEP 668, ``externally-managed-environment``):
the user picks a base interpreter, ``remote/envcreate.py`` runs with it (sent on stdin,
the request too: name and tool are data, never part of a command line), makes
``~/.virtualenvs/NAME`` (or ``~/.conda/envs/NAME``), installs ipykernel and checks it
imports; a failed step leaves nothing behind. The server's cached environments are then
dropped, so the next listing shows the new one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from ..context import RemoteContext
from ..errors import ConflictError, RemoteCommandError, ValidationError
from ..remote import command_with, script_text, stdin_payload
from ..remote.protocol import ENVCREATE_MARKER
from ..ssh.exec import stream
from ..store import validate_remote_path
from ..text import RemoteJSONError, parse_remote_json, printable
from .discovery import Discovery

TOOLS = ("venv", "uv", "conda")
NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,63}")
TIMEOUT = 1800.0
_SCRIPT = script_text("envcreate")


def validated(python: Any, name: Any, tool: Any) -> tuple[str, str | None, str]:
    """The request's base interpreter, name (None: ``jupyter-X.Y`` chosen remotely) and
    tool, or a ValidationError naming the field."""
    base = validate_remote_path(python, "python", allow_empty=False)
    assert base is not None
    if name in (None, ""):
        name = None
    elif not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise ValidationError(
            "An environment name is 1 to 64 letters, digits, dots, dashes or underscores, "
            "not starting with a dot or a dash.",
            field="name",
        )
    tool = tool or "venv"
    if tool not in TOOLS:
        raise ValidationError(f"tool must be one of {', '.join(TOOLS)}.", field="tool")
    return base, name, tool


async def create_environment(
    ctx: RemoteContext,
    server: str,
    *,
    python: Any,
    env_name: Any = None,
    tool: Any = "venv",
    on_output: Callable[[str], None],
) -> dict[str, Any]:
    """A new environment with ipykernel on ``server`` from base ``python`` (venv, uv or
    conda), each line of its output streamed to ``on_output``; the server's cached
    environments are dropped. ``{"python", "path", "tool", "name"}`` of the new
    environment, or a RemoteError with a fix. ``RemoteManager.create_environment``."""
    base, name, how = validated(python, env_name, tool)
    endpoint = await ctx.endpoint(server)
    answers: list[str] = []

    def watch(line: str) -> None:
        if line.startswith(ENVCREATE_MARKER):
            answers.append(line[len(ENVCREATE_MARKER) :])
        elif line or answers == []:
            on_output(line)

    request = {"name": name, "tool": how}
    async with ctx.pool.connection(endpoint) as conn:
        status = await stream(
            conn,
            command_with(base),
            watch,
            stdin=stdin_payload(_SCRIPT, request),
            timeout=TIMEOUT,
        )
    await Discovery.of(ctx).forget(server)
    return _result(answers[-1] if answers else "", status, server=server, base=base)


def _result(line: str, status: int, *, server: str, base: str) -> dict[str, Any]:
    """The script's answer as a result, or the error it reported (with its hint)."""
    try:
        answer = parse_remote_json(line) if line else None
    except RemoteJSONError:
        answer = None
    if not isinstance(answer, dict):
        raise RemoteCommandError(
            f"Creating an environment with {base} on {server} gave no answer "
            f"(exit status {status}).",
            hint="See the output above; the base interpreter must be Python >= 3.8.",
        )
    if answer.get("ok") is not True:
        error = printable(str(answer.get("error") or "the creation failed")[:2000])
        hint = printable(str(answer.get("hint") or "")[:2000])
        if "already exists" in error:
            raise ConflictError(error, hint=hint, field="name")
        raise RemoteCommandError(error, hint=hint or "See the output above.")
    python, path = answer.get("python"), answer.get("path")
    if not isinstance(python, str) or not python.startswith("/") or not isinstance(path, str):
        raise RemoteCommandError(f"The environment creation on {server} answered nonsense.")
    return {
        "python": printable(python[:4096]),
        "path": printable(path[:4096]),
        "tool": printable(str(answer.get("tool"))[:16]),
        "name": printable(path.rstrip("/").rsplit("/", 1)[-1][:64]),
    }
