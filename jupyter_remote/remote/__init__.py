"""Scripts that run ON the remote host, and how they get there.

Nothing is installed remotely: a script travels on the stdin of one exec
request. The command line holds only the interpreter and
:data:`protocol.BOOTSTRAP` (fixed text), never user data or secrets, because
``ps`` shows command lines to every user of the host (invariants 4 and 5). The
bootstrap reads a length-prefixed script from stdin and runs it; the script then
reads its JSON request from the rest of stdin.

A script is made of parts, each a module of this package that reads like an
ordinary module (stdlib only, Python 3.8): :data:`SCRIPTS` lists them in order.
Each part's ``# <local-imports>`` block (imports of the parts before it, for local
use, tests and type checking) is left out when the parts are joined, so on the
remote the earlier parts' names are plain globals. ``kernel_launcher`` (with ``peer``)
is not sent to run: the agent writes it into the kernel's directory as the kernel's
entry point.
"""

from __future__ import annotations

import json
import re
import shlex
from functools import cache
from importlib.resources import files
from typing import Any

from .protocol import BOOTSTRAP, CODE_CACHE_DIR

#: The parts of each script, in order.
SCRIPTS = {
    "agent": (
        "protocol",
        "state",
        "pid_files",
        "kernel_dirs",
        "kernel_stop",
        "zmtp_frames",
        "zmtp_discard",
        "zmtp_pool",
        "zmtp_read",
        "zmtp",
        "zmtp_connect",
        "relay_answers",
        "relay_buffer",
        "relay_kernel",
        "relay_start",
        "standby",
        "peer",
        "relay_gate",
        "relay_writer",
        "relay",
        "kernel_guard",
        "supervisor_end",
        "supervisor_start",
        "supervisor_idle",
        "supervisor",
        "slurm",
        "launch",
        "connector",
        "agent",
    ),
    "job": ("protocol", "state", "pid_files", "kernel_dirs", "kernel_stop", "kernel_guard", "job"),
    "connect": ("protocol", "state", "connector", "connect_main"),
    "probe": (
        "protocol",
        "interpreters",
        "bounded_run",
        "tools",
        "gpus",
        "slurm_probe",
        "kernelspec_scan",
        "probe",
    ),
    "envcreate": ("protocol", "tools", "envcreate"),
    "kernel_launcher": ("peer", "kernel_launcher"),
    "bootcache": ("bootcache",),
}
_LOCAL_IMPORTS = re.compile(r"^# <local-imports>.*?^# </local-imports>\n", re.M | re.S)


def part_text(name: str) -> str:
    """Source of one part shipped in this package, as it is on disk."""
    return files(__name__).joinpath(f"{name}.py").read_text(encoding="utf-8")


@cache
def script_text(name: str) -> str:
    """The script ``name`` of :data:`SCRIPTS` as sent: its parts joined, local imports out.

    Called once per process per script by the agent client, discovery and the
    provisioner."""
    parts = [_LOCAL_IMPORTS.sub("", part_text(part)) for part in SCRIPTS[name]]
    return "\n\n".join(parts)


#: Finds python3 (or python) on the login PATH and runs the bootstrap with it.
FIND_PYTHON = (
    "for p in python3 python; do "
    'if command -v "$p" >/dev/null 2>&1; then exec "$p" -c "$0"; fi; '
    "done; echo 'jupyter-remote: no python3 on the login PATH' >&2; exit 127"
)


def stdin_payload(script: str, request: dict[str, Any]) -> bytes:
    """What to write on the exec's stdin: the framed script, then the JSON request."""
    body = script.encode("utf-8")
    return str(len(body)).encode() + b"\n" + body + json.dumps(request).encode("utf-8") + b"\n"


def stdin_payload_cached(name: str, request: dict[str, Any]) -> bytes:
    """:func:`stdin_payload` for script ``name`` of :data:`SCRIPTS` behind the bytecode
    cache's loader (bootcache.py): the framed loader, the framed script, the request.
    The agent client sends every agent request so (issue 17 item 2)."""
    return framed_loader(name) + stdin_payload(script_text(name), request)


@cache
def framed_loader(name: str) -> bytes:
    """The loader of :func:`stdin_payload_cached`, framed for the bootstrap, set to cache
    the script that follows as ``name``."""
    head = f"CODE_CACHE_DIR = {CODE_CACHE_DIR!r}\nSCRIPT_NAME = {name!r}\n"
    body = (head + script_text("bootcache")).encode("utf-8")
    return str(len(body)).encode() + b"\n" + body


#: Runs "$1" with the remaining arguments; a leading ~/ in "$1" means the login's $HOME.
#: User data (the interpreter path) travels as a positional argument, never spliced.
RUN_EXPANDED = 'p=$1; shift; case $p in "~/"*) p="$HOME/${p#"~/"}" ;; esac; exec "$p" "$@"'


def command_python(python: str, *args: str) -> str:
    """Command line running ``python args...`` on the remote, quoted, ``~/`` expanded."""
    return shlex.join(argv_python(python, *args))


def argv_python(python: str, *args: str) -> list[str]:
    """The argv of :func:`command_python`, to put behind another command (``srun ...``)."""
    return ["sh", "-c", RUN_EXPANDED, "sh", python, *args]


def argv_on_path() -> list[str]:
    """The argv of :func:`command_on_path`."""
    return ["sh", "-c", FIND_PYTHON, BOOTSTRAP]


def command_with(python: str) -> str:
    """Command line running the bootstrap with a given interpreter (quoted)."""
    return command_python(python, "-c", BOOTSTRAP)


def command_on_path() -> str:
    """Command line running the bootstrap with the login PATH's python3."""
    return shlex.join(["sh", "-c", FIND_PYTHON, BOOTSTRAP])
