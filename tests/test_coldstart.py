"""A cold start's fixed costs: what the first remote kernel of a process pays before its
SSH connection."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

FIRST_EVENT = """
import sys, time
from jupyter_remote import runtime
from jupyter_remote.sessions import registry
runtime.current_context()
started = time.perf_counter()
registry.emit({"type": "progress", "kernel_id": "k", "server": "s",
               "stage": "connecting", "message": "to server s"})
print("jsonschema" in sys.modules, round(time.perf_counter() - started, 3))
"""


def test_a_standalone_clients_first_progress_event_imports_no_jsonschema(
    isolated_home: Path,
) -> None:
    """papermill, nbclient, `jupyter execute`: the first kernel start's first progress
    event was checked against its schema, which imported jsonschema (0.87 s, measured
    between 'connecting' and 'authenticating' of the first start of every process).
    Those events never leave the process: like the CLI's, they are not checked there."""
    out = subprocess.run(
        [sys.executable, "-c", FIRST_EVENT],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=True,
    ).stdout.split()
    print("jsonschema imported, emit seconds:", out)
    assert out[0] == "False"
