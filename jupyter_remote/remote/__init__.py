"""Scripts that run ON the remote host, and how they get there.

Nothing is installed remotely: a script travels on the stdin of one exec
request. The command line holds only the interpreter and :data:`BOOTSTRAP`
(fixed text), never user data or secrets, because ``ps`` shows command lines
to every user of the host (invariants 4 and 5). The bootstrap reads a
length-prefixed script from stdin and runs it; the script then reads its JSON
request from the rest of stdin.

The scripts themselves (``probe.py``, ``agent.py``) are stdlib-only and
Python 3.8 compatible.
"""

from __future__ import annotations

import json
import shlex
from importlib.resources import files
from typing import Any

#: Runs a script sent on stdin as ``<decimal length>\\n<script bytes>``; the script's
#: bytes stay in the global ``_jr_src`` (the agent re-sends itself to its supervisor).
BOOTSTRAP = (
    "import sys;n=int(sys.stdin.buffer.readline());_jr_src=sys.stdin.buffer.read(n);"
    "exec(compile(_jr_src,'<jupyter-remote>','exec'))"
)

#: Finds python3 (or python) on the login PATH and runs the bootstrap with it.
FIND_PYTHON = (
    "for p in python3 python; do "
    'if command -v "$p" >/dev/null 2>&1; then exec "$p" -c "$0"; fi; '
    "done; echo 'jupyter-remote: no python3 on the login PATH' >&2; exit 127"
)


def script_text(name: str) -> str:
    """Source of a remote script shipped in this package (``probe``, ``agent``)."""
    return files(__name__).joinpath(f"{name}.py").read_text(encoding="utf-8")


def stdin_payload(script: str, request: dict[str, Any]) -> bytes:
    """What to write on the exec's stdin: the framed script, then the JSON request."""
    body = script.encode("utf-8")
    return str(len(body)).encode() + b"\n" + body + json.dumps(request).encode("utf-8") + b"\n"


#: Runs "$1" with the remaining arguments; a leading ~/ in "$1" means the login's $HOME.
#: User data (the interpreter path) travels as a positional argument, never spliced.
RUN_EXPANDED = 'p=$1; shift; case $p in "~/"*) p="$HOME/${p#"~/"}" ;; esac; exec "$p" "$@"'


def command_python(python: str, *args: str) -> str:
    """Command line running ``python args...`` on the remote, quoted, ``~/`` expanded."""
    return shlex.join(["sh", "-c", RUN_EXPANDED, "sh", python, *args])


def command_with(python: str) -> str:
    """Command line running the bootstrap with a given interpreter (quoted)."""
    return command_python(python, "-c", BOOTSTRAP)


def command_on_path() -> str:
    """Command line running the bootstrap with the login PATH's python3."""
    return shlex.join(["sh", "-c", FIND_PYTHON, BOOTSTRAP])
