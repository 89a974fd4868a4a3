"""Metrics 8 and 9: remote files. 8: 1 GiB up and down, ours against OpenSSH ``sftp``;
9: listing a directory of 10,000 entries.

``run(op=...)`` measures one of:

- ``ours-put`` / ``ours-get``: ``files/transfers.py`` as ``jupyter remote files put|get``
  runs it (with the CLI's ``steady_allocator``), over SFTP on the target's pooled
  connection (a temporary name renamed at the end, the local disk in a thread);
- ``sftp-put`` / ``sftp-get``: OpenSSH ``sftp -b -`` with the same files (its defaults:
  32 KiB requests, 64 in flight), a new connection each time as the CLI's would be;
- ``ours-list``: ``RemoteFiles.list`` of the 10,000-entry directory, with the SFTP
  READDIR round trips it took (``pages``) and the entries it got;
- ``sftp-list``: ``sftp -b -`` with ``ls -1`` of the same directory (one connection).

The source file is 1 GiB of random bytes in the bench's workdir; ``layout`` makes the
10,000 empty files on the remote as its user. Every file made is removed by ``close``.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from pathlib import Path
from typing import Any

from bench.kernels import targets

SIZE = 1 << 30
ENTRIES = 10_000
REMOTE_NAME = "jrbench-transfer.bin"
LIST_DIR = "jrbench-listing"


def _random_file(path: Path, size: int) -> None:
    with open(path, "wb") as f:
        for _ in range(size // (16 << 20)):
            f.write(os.urandom(16 << 20))


class TransferBench:
    def __init__(self, task: dict[str, Any]) -> None:
        from jupyter_remote.manager import manager_from_config

        self.target = targets()[task["target"]]
        self.server = self.target["name"]
        self.size = int(task.get("size", SIZE))
        self.loop = asyncio.new_event_loop()
        self.manager = manager_from_config()
        work = Path(os.environ["JRBENCH_WORKDIR"]) / f"transfer-{self.server}"
        work.mkdir(exist_ok=True)
        self.source = work / "source.bin"
        self.back = work / "back.bin"
        if not self.source.exists() or self.source.stat().st_size != self.size:
            _random_file(self.source, self.size)
        self.remote = f"{self.target['remote_home']}/{REMOTE_NAME}"
        self.listing = f"{self.target['remote_home']}/{LIST_DIR}"
        self.info: dict[str, Any] = {"bytes": self.size}

    def _sftp(self, commands: str) -> str:
        argv = ["sftp", "-F", os.environ["JRBENCH_SSH_CONFIG"], "-b", "-", f"bench-{self.server}"]
        done = subprocess.run(argv, input=commands, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"sftp failed: {done.stderr[-500:]}")
        return done.stdout

    def layout(self) -> int:
        script = (
            "import os, sys\nos.makedirs(sys.argv[1], exist_ok=True)\n"
            "for i in range(int(sys.argv[2])): open('%s/entry-%05d' % (sys.argv[1], i), 'w')"
        )
        argv = ["runuser", "-u", self.target["user"], "--", "/usr/bin/python3", "-c", script]
        subprocess.run([*argv, self.listing, str(ENTRIES)], check=True, cwd="/")
        return ENTRIES

    def run(self, op: str) -> Any:
        if op == "layout":
            return self.layout()
        from jupyter_remote.files import transfers

        files = self.manager.files
        started = time.perf_counter()
        if op == "ours-put":
            self.loop.run_until_complete(
                transfers.upload(files, self.server, str(self.source), self.remote)
            )
        elif op == "ours-get":
            self.loop.run_until_complete(
                transfers.download(files, self.server, self.remote, str(self.back))
            )
        elif op == "sftp-put":
            self._sftp(f"put {self.source} {self.remote}\n")
        elif op == "sftp-get":
            self._sftp(f"get {self.remote} {self.back}\n")
        elif op == "ours-list":
            model = self.loop.run_until_complete(files.list(self.server, self.listing))
            seconds = time.perf_counter() - started
            return {"seconds": seconds, "pages": model["pages"], "entries": len(model["content"])}
        elif op == "sftp-list":
            out = self._sftp(f"ls -1 {self.listing}\n")
            seconds = time.perf_counter() - started
            return {"seconds": seconds, "entries": out.count("entry-")}
        else:
            raise ValueError(op)
        seconds = time.perf_counter() - started
        if op.endswith("get") and self.back.stat().st_size != self.size:
            raise RuntimeError(f"{op}: {self.back.stat().st_size} bytes arrived")
        return seconds

    def close(self) -> None:
        for path in (self.source, self.back):
            path.unlink(missing_ok=True)
        subprocess.run(
            ["runuser", "-u", self.target["user"], "--", "rm", "-rf", self.remote, self.listing],
            check=False,
            cwd="/",
        )
        self.loop.run_until_complete(self.manager.close())
        self.loop.close()


def make(task: dict[str, Any]) -> TransferBench:
    from jupyter_remote.files import transfers

    transfers.steady_allocator()  # as the CLI's files get|put do in their process
    return TransferBench(task)
