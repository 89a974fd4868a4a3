"""A new user's first hour (issue 13 items 3, 5, 12, 14), against a real sshd.

Jupyter exits on one SIGTERM after a failed kernel start; papermill's stderr carries no
library logging unless asked; every command `make demo` suggests runs in the venv;
durations read and print the same everywhere (one table for both sides:
tests/duration_examples.json). Remote user ``jrfirst`` (this group's own).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from jupyter_remote.errors import ValidationError
from jupyter_remote.store.durations import format_duration, parse_duration
from scripts.demo import suggestions
from tests.harness.cli import add_box, run_cli
from tests.harness.live_server import LiveServer
from tests.harness.remote_state import clean_remote, remote_kernel_processes
from tests.harness.servers import setup_profile
from tests.harness.sshd_host import SSHTestHost

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
EXAMPLES = json.loads((Path(__file__).parent / "duration_examples.json").read_text())
#: This group's remote user (README, Development) is ``jrfirst``: the harness's
#: ``first_host`` (tests/harness/fixtures.py).


# ------------------------------------------------------------------ item 3


def test_one_sigterm_ends_jupyter_after_a_failed_kernel_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, first_host: SSHTestHost
) -> None:
    """A notebook runs; another one's kernel fails to start (its working directory is
    gone). The failed start's id stayed among jupyter_client's pending kernels: at exit
    its shutdown raised 404 "Kernel does not exist", which aborted the exit: one SIGTERM
    stopped the running kernel and left the server running."""
    server = LiveServer(tmp_path / "srv")
    monkeypatch.setenv("HOME", str(server.home))
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(server.data_dir))
    setup_profile(first_host, cwd="/tmp")
    gone = f"/tmp/jr-first-gone-{secrets.token_hex(4)}"
    first_host.run_as_user(["mkdir", gone])
    with server:
        bad = {"name": "bad", "server": "box", "python": first_host.remote_python, "cwd": gone}
        server.json("POST", "/remote/profiles", bad, expect=201)  # saved while it existed
        first_host.run_as_user(["rmdir", gone])
        for notebook, kernel, expect in (("a", "remote-p", 201), ("b", "remote-bad", 500)):
            body = {"path": f"{notebook}.ipynb", "type": "notebook", "kernel": {"name": kernel}}
            status, answer = server.request("POST", "/api/sessions", body)
            assert status == expect, answer[:500]
        assert b"does not exist on the remote" in answer
        code = server.terminate(timeout=60)
        assert code is not None, f"still running after one SIGTERM:\n{server.log_text()[-3000:]}"
    assert "Kernel does not exist" not in server.log_text()
    assert remote_kernel_processes(first_host) == []


# ------------------------------------------------------------------ item 5

#: What asyncssh and our library log at INFO (papermill prints messages bare).
LIBRARY_LINES = re.compile(
    r"Opening SSH connection|\[conn=\d+|remote kernel [0-9a-f-]{36}", re.MULTILINE
)


def papermill(tmp_path: Path, *options: str, **env: str) -> subprocess.CompletedProcess[str]:
    """papermill on a two-cell notebook with kernel remote-p; stderr is a pipe."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x = 6 * 7"), nbformat.v4.new_code_cell("print(x)")]
    src, dst = tmp_path / "in.ipynb", tmp_path / f"out-{secrets.token_hex(3)}.ipynb"
    nbformat.write(nb, src)
    return subprocess.run(
        [sys.executable, "-m", "papermill", str(src), str(dst), "-k", "remote-p", *options],
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, **env},
        check=False,
    )


def test_papermill_gets_no_library_logging_unless_asked(
    isolated_home: Path, tmp_path: Path, first_host: SSHTestHost
) -> None:
    clean_remote(first_host)
    setup_profile(first_host, cwd="/tmp")
    quiet = papermill(tmp_path)
    assert quiet.returncode == 0, quiet.stderr[-3000:]
    assert not LIBRARY_LINES.findall(quiet.stderr), quiet.stderr
    assert "[jupyter-remote]" not in quiet.stderr  # progress lines are for a terminal
    # asked with our variable: asyncssh's and our INFO lines
    asked = papermill(tmp_path, JUPYTER_REMOTE_LOG_LEVEL="INFO")
    assert asked.returncode == 0, asked.stderr[-3000:]
    assert "Opening SSH connection" in asked.stderr
    assert re.search(r"remote kernel [0-9a-f-]{36}: ready", asked.stderr), asked.stderr
    # asked with the client's own DEBUG logging
    debug = papermill(tmp_path, "--log-level", "DEBUG")
    assert debug.returncode == 0, debug.stderr[-3000:]
    assert "Opening SSH connection" in debug.stderr
    assert remote_kernel_processes(first_host) == []


# ------------------------------------------------------------------ item 12


@pytest.mark.parametrize("line", suggestions())
def test_every_command_the_demo_suggests_runs_in_the_venv(line: str) -> None:
    words = shlex.split(line)
    while "=" in words[0]:  # VARIABLE=value before the command
        words.pop(0)
    program = VENV_BIN / Path(words[0]).name
    assert words[0].startswith(".venv/bin/") and program.is_file(), line
    if program.name == "jupyter":  # `jupyter X` runs jupyter-X
        program = VENV_BIN / f"jupyter-{words[1]}"
        assert program.is_file(), f"{line}: {program.name} is not installed"
    # `jupyter remote NOUN VERB ...`: that command's help; any other program: its own
    verbs = words[2:4] if program.name == "jupyter-remote" else []
    help_argv = [str(program), *verbs, "--help"]
    result = subprocess.run(help_argv, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, f"{help_argv}: {result.stderr[-1000:]}"


# ------------------------------------------------------------------ item 14


@pytest.mark.parametrize("case", EXAMPLES["parse"], ids=lambda c: repr(c["text"]))
def test_durations_parse(case: dict[str, Any]) -> None:
    assert parse_duration(case["text"]) == case["seconds"]


@pytest.mark.parametrize("text", EXAMPLES["invalid"], ids=repr)
def test_durations_refuse(text: str) -> None:
    with pytest.raises(ValidationError) as info:
        parse_duration(text)
    assert info.value.field == "idle_timeout"
    assert "15m" in f"{info.value.message} {info.value.hint}"


@pytest.mark.parametrize("case", EXAMPLES["format"], ids=lambda c: str(c["seconds"]))
def test_durations_format_and_read_back(case: dict[str, Any]) -> None:
    assert format_duration(case["seconds"]) == case["text"]
    assert parse_duration(case["text"]) == case["seconds"]


def test_idle_timeout_in_the_cli_and_rest(
    cli_env: dict[str, str], tmp_path: Path, first_host: SSHTestHost
) -> None:
    """`--idle-timeout 1h30m` is saved as 5400 s (JSON), listed as 1h30m; `1.5h` is refused
    with exit 2 naming the field and how to write it."""
    add_box(cli_env, first_host)
    assert run_cli(cli_env, "server", "test", "box", "--trust").returncode == 0
    python = first_host.remote_python
    base = ("profile", "add", "t", "--server", "box", "--python", python)
    bad = run_cli(cli_env, *base, "--idle-timeout", "1.5h")
    assert bad.returncode == 2, bad.stderr
    assert "idle_timeout" in bad.stderr and "1h30m" in bad.stderr
    good = run_cli(cli_env, *base, "--idle-timeout", "1h30m", "--json")
    assert good.returncode == 0, good.stderr
    assert json.loads(good.stdout)["idle_timeout"] == 5400
    listed = run_cli(cli_env, "profile", "list")
    assert re.search(r"^t\s.*\s1h30m\s", listed.stdout, re.MULTILINE), listed.stdout
    never = run_cli(cli_env, *base[:2], "u", *base[3:], "--json")
    assert json.loads(never.stdout)["idle_timeout"] == 0
    assert re.search(r"^u\s.*\snever\s", run_cli(cli_env, "profile", "list").stdout, re.M)


def test_cli_ages_in_the_same_form() -> None:
    """`env list`'s "probed ... ago" said "90 min ago" / "2 h ago" / "3 days ago"."""
    from jupyter_remote.cli.envs import ago

    now = 1_000_000.0
    assert ago(now - 30, now) == "less than a minute ago"
    assert ago(now - 5 * 60 - 10, now) == "5m ago"
    assert ago(now - 90 * 60, now) == "1h30m ago"
    assert ago(now - 3 * 86400, now) == "3d ago"
