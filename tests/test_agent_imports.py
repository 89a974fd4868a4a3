"""What one agent exec imports (issue 17 item 1): every request (a standby's claim, the
provisioner's status polls, ``list``) starts a remote Python with the whole agent script,
but only the relay, inside a kernel's supervisor, needs asyncio; importing it at the top
of the script cost every exec 25-45 ms. The script is run here exactly as the remote
runs it: the fixed bootstrap on the command line, the framed script and the request on
stdin, a private HOME."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from jupyter_remote.remote import script_text, stdin_payload
from jupyter_remote.remote.protocol import BOOTSTRAP

#: modules only the relay and the supervisor need; an exec that answers a request does not
RELAY_ONLY = ("asyncio", "zmq")


def _imported(home: Path, request: dict[str, object]) -> tuple[dict[str, object], set[str]]:
    """The agent's answer to ``request`` and every module its exec imported."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", BOOTSTRAP],
        input=stdin_payload(script_text("agent"), request),
        capture_output=True,
        env={"HOME": str(home), "PATH": "/usr/bin:/bin"},
        timeout=60,
        check=False,
    )
    modules = {
        line.rsplit("|", 1)[1].strip()
        for line in done.stderr.decode().splitlines()
        if line.startswith("import time:") and "|" in line
    }
    return json.loads(done.stdout.decode().splitlines()[-1]), modules


@pytest.mark.parametrize(
    "request_",
    [
        {"op": "claim", "profile": "p", "server": "box", "fingerprint": "f"},
        {"op": "status", "kernel_id": "k"},
        {"op": "list", "report": False},
    ],
    ids=lambda r: str(r["op"]),
)
def test_an_agent_exec_imports_nothing_only_the_relay_needs(
    tmp_path: Path, request_: dict[str, object]
) -> None:
    answer, modules = _imported(tmp_path, request_)
    assert answer["ok"] is True, answer  # the op ran (no standby, no kernel: nothing found)
    assert "json" in modules, "importtime output was read"
    for name in RELAY_ONLY:
        assert name not in modules, f"an agent exec imported {name}"
