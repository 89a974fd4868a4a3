"""Metric 4: environment discovery with 1, 10 and 50 environments on the remote.

``run(op="layout", n=N)`` replaces the remote user's ``~/.virtualenvs`` with N fake
venvs (pyvenv.cfg + a symlinked python + the real env's lib, as tests/test_discovery.py
builds them: each is a working interpreter with ipykernel). Then per measurement:

- ``api-cold``: ``Discovery.lookup(refresh=True)`` on a manager with no open connection
  (connect + one probe exec); ``api-cached``: ``lookup()`` again (in-memory cache);
- ``cli-cold`` / ``cli-cached``: ``jupyter remote env list lo --json [--refresh]`` as a
  new process (the cached one answers from the disk cache);
- ``ssh``: OpenSSH ``ssh bench-lo true`` (new connection + one exec): the baseline.

Each sample carries the sshd's exec requests and logins it caused (DEBUG1 log lines).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.kernels import targets

EXEC_LINE = re.compile(r"session_input_channel_req: session \d+ req exec")
LOGIN_LINE = re.compile(r"^Accepted \S+ for ", re.MULTILINE)

LAYOUT = r"""
import json, os, shutil, sys
n, remote_python = int(sys.argv[1]), sys.argv[2]
home = os.path.expanduser("~")
root = os.path.join(home, ".virtualenvs")
shutil.rmtree(root, ignore_errors=True)
base = os.path.dirname(os.path.dirname(remote_python))
cfg = open(os.path.join(base, "pyvenv.cfg")).read()
for i in range(n):
    prefix = os.path.join(root, "jrb-env-%02d" % i)
    os.makedirs(os.path.join(prefix, "bin"))
    with open(os.path.join(prefix, "pyvenv.cfg"), "w") as f:
        f.write(cfg)
    os.symlink(remote_python, os.path.join(prefix, "bin", "python"))
    os.symlink(os.path.join(base, "lib"), os.path.join(prefix, "lib"))
"""


class DiscoveryBench:
    def __init__(self, task: dict[str, Any]) -> None:
        from jupyter_remote.kernels.discovery import Discovery
        from jupyter_remote.manager import manager_from_config

        self.target = targets()[task["target"]]
        self.server = self.target["name"]
        self.loop = asyncio.new_event_loop()
        self.manager = manager_from_config()
        self.discovery = Discovery(self.manager)
        self.cli = str(Path(sys.executable).parent / "jupyter-remote")
        self.info: dict[str, Any] = {}

    def _log_counts(self) -> tuple[int, int]:
        text = Path(self.target["log_path"]).read_text(errors="replace")
        return len(EXEC_LINE.findall(text)), len(LOGIN_LINE.findall(text))

    def layout(self, n: int) -> int:
        user = self.target["user"]
        argv = ["runuser", "-u", user, "--", "/usr/bin/python3", "-c", LAYOUT, str(n)]
        subprocess.run(
            [*argv, self.target["remote_python"]], check=True, capture_output=True, cwd="/"
        )
        return n

    def run(self, op: str, n: int = 0) -> Any:
        if op == "layout":
            return self.layout(n)
        execs0, logins0 = self._log_counts()
        t0 = time.perf_counter()
        found = self._measure(op)
        seconds = time.perf_counter() - t0
        time.sleep(0.05)  # let sshd write its log lines
        execs1, logins1 = self._log_counts()
        return {
            "seconds": seconds,
            "execs": execs1 - execs0,
            "logins": logins1 - logins0,
            "envs": found,
        }

    def _measure(self, op: str) -> int:
        if op == "api-cold":
            entry = self.loop.run_until_complete(self.discovery.lookup(self.server, refresh=True))
            assert not entry["cached"]
            return len(entry["envs"])
        if op == "api-cached":
            entry = self.loop.run_until_complete(self.discovery.lookup(self.server))
            assert entry["cached"]
            return len(entry["envs"])
        if op in ("cli-cold", "cli-cached"):
            argv = [self.cli, "env", "list", self.server, "--json"]
            if op == "cli-cold":
                argv.append("--refresh")
            out = subprocess.run(argv, capture_output=True, text=True, check=True, env=os.environ)
            return len(json.loads(out.stdout))
        if op == "ssh":
            subprocess.run(
                ["/usr/bin/ssh", "-F", os.environ["JRBENCH_SSH_CONFIG"], "bench-lo", "true"],
                check=True, capture_output=True, stdin=subprocess.DEVNULL,
            )  # fmt: skip
            return 0
        raise ValueError(op)

    def close(self) -> None:
        self.loop.run_until_complete(self.manager.close())
        self.loop.close()


def make(task: dict[str, Any]) -> DiscoveryBench:
    return DiscoveryBench(task)
