"""The real `jupyter remote` CLI, run as a user runs it, in an isolated environment.

Called by tests of the CLI: ``cli_environment`` builds the environment (the
``cli_env`` fixture of tests/harness/fixtures.py wraps it), ``run_cli`` runs one
command in a new process, ``add_box`` saves a harness host as server `box`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .sshd_host import SSHTestHost

#: The console script of the venv the tests run in.
CLI = str(Path(sys.executable).parent / "jupyter-remote")


def cli_environment(home: Path, tmp_path: Path) -> dict[str, str]:
    """This process's environment without Jupyter's variables, HOME and Jupyter's
    directories fresh under TMP_PATH, no ssh-agent."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER")}
    env.update(
        HOME=str(home),
        JUPYTER_DATA_DIR=str(tmp_path / "data"),
        JUPYTER_CONFIG_DIR=str(tmp_path / "config"),
        JUPYTER_PLATFORM_DIRS="1",
    )
    env.pop("SSH_AUTH_SOCK", None)
    return env


def run_cli(
    env: dict[str, str], *args: str | bytes, stdin: str = "", timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`jupyter remote ARGS` with ENV; its exit code and output (text), never raising."""
    return subprocess.run(
        [CLI, *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def add_box(env: dict[str, str], host: SSHTestHost, *extra: str) -> None:
    """`jupyter remote server add box` for HOST (key auth, its user key); must succeed."""
    where = ["--host", host.host, "--port", str(host.port), "--user", host.user]
    result = run_cli(env, "server", "add", "box", *where, "--identity", str(host.user_key), *extra)
    assert result.returncode == 0, result.stderr
