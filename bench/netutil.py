"""Counting SSH connections the way the tests do: ``ss`` on the sshd's side."""

from __future__ import annotations

import subprocess
from typing import Any


def established(target: dict[str, Any]) -> int:
    """ESTABLISHED TCP connections to the target's sshd (inside its namespace if any)."""
    argv = ["ss", "-Htn", "state", "established", f"( sport = :{target['sshd_port']} )"]
    if target.get("netns"):
        argv = ["ip", "netns", "exec", target["netns"], *argv]
    out = subprocess.run(argv, capture_output=True, text=True, check=False).stdout
    return sum(1 for line in out.splitlines() if line.strip())
