"""What every metric's driver is given and uses: the run's :class:`Ctx` (hosts, sizes,
results, progress), :class:`Sizes` (how many samples each metric takes), a
:class:`Contender` (a row fed by one worker) and :func:`round_robin`.

Every driver takes the run's :class:`Ctx` and appends tables. Contenders of one table run
round-robin (one sample each per round) so that drift on this shared 2-core machine hits
all of them alike.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from bench.hosts import BenchHosts
from bench.results import Results, Row, Table
from bench.runner import Worker, WorkerError, product_python

X_SIGN = "\u00d7"
LINKS = {"lo": "loopback", "veth": "namespace veth, no delay", "slow": "50 ms RTT (delay proxy)"}


@dataclass
class Sizes:
    """How many samples each metric takes: a whole `make bench` must fit in ~15 min
    (bench/README.md); every table shows its own count (runs or cells column)."""

    runs: int = 5  # starts (1, 11), reconnects, discovery, listing: at least 5
    rtt_cells: int = 1000  # loopback round trips (2, 7, 10): p99 needs them
    rtt_cells_slow: int = 200  # 50 ms each: 1,000 would be ~2 min for 2 rows
    rtt_block: int = 100
    nagle_cells: int = 200  # metric 10 without the fix: ~45 ms each
    output_runs: int = 3  # 200 MB each, 3 contenders x 2 kinds x 2 links
    concurrent_n: int = 64
    concurrent_runs: int = 2  # 64 kernels a run; IDLE_WINDOW s of idle counting in the first
    transfer_runs_lo: int = 3  # 1 GiB each way
    transfer_runs_slow: int = 2  # 1 GiB at ~36 MB/s: ~30 s a run
    discovery_envs: tuple[int, ...] = (1, 10, 50)

    @classmethod
    def quick(cls) -> Sizes:
        return cls(runs=2, rtt_cells=100, rtt_cells_slow=100, rtt_block=50, nagle_cells=50,
                   output_runs=2, concurrent_n=8, concurrent_runs=1, transfer_runs_lo=2,
                   transfer_runs_slow=2)  # fmt: skip


@dataclass
class Ctx:
    hosts: BenchHosts
    peers: dict[str, Any]
    sizes: Sizes
    results: Results
    started: float = field(default_factory=time.monotonic)

    def say(self, message: str) -> None:
        elapsed = int(time.monotonic() - self.started)
        print(f"[{elapsed // 60:02d}:{elapsed % 60:02d}] {message}", flush=True)

    def worker(self, task: dict[str, Any], *, peers: bool = False, label: str = "") -> Worker:
        python = self.hosts.peers_python() if peers else product_python()
        return Worker(
            task,
            python=python,
            env=self.hosts.env(wrapper=task.get("variant") == "rik"),
            log_dir=self.hosts.log_dir,
            rpc=self._rpc,
            label=label,
        )

    def table_worker(
        self, table: Table, rows: Iterable[Row], task: dict[str, Any], *, label: str
    ) -> Worker | None:
        """A metric's one worker (metrics 7, 10 and 12 start theirs here): None when it
        cannot start, with the reason on every row and the table recorded as it stands."""
        try:
            return self.worker(task, label=label)
        except WorkerError as exc:
            for row in rows:
                row.errors.append(f"set-up: {exc}")
            self.results.tables.append(table)
            return None

    def _rpc(self, op: str, args: dict[str, Any]) -> Any:
        if op == "cut":
            self.hosts.cut(args["target"])
        elif op == "restore":
            self.hosts.restore(args["target"])
        else:
            raise ValueError(op)
        return None

    def between_metrics(self) -> None:
        """Nothing of one metric may linger into the next."""
        self.hosts.close_control_masters()
        self.hosts.clean_remote()


@dataclass
class Contender:
    """A row whose samples come from one worker (started lazily by ``open``)."""

    row: Row
    task: dict[str, Any]
    args: dict[str, Any] = field(default_factory=dict)
    peers: bool = False
    value: Callable[[Any], Any] = lambda v: v
    worker: Worker | None = None

    def open(self, ctx: Ctx) -> None:
        label = self.row.key
        try:
            self.worker = ctx.worker(self.task, peers=self.peers, label=label)
        except WorkerError as exc:
            self.row.errors.append(f"set-up: {exc}")

    def sample(self, ctx: Ctx, label: str, timeout: float = 300) -> None:
        if self.worker is None or len(self.row.errors) >= 3:
            return
        try:
            value = self.value(self.worker.run(timeout=timeout, **self.args))
        except WorkerError as exc:
            self.row.errors.append(str(exc))
            ctx.say(f"  {label} {self.row.name}: FAILED {str(exc)[:200]}")
            return
        self.row.samples.append(value)
        shown = value.get("seconds", value) if isinstance(value, dict) else value
        if isinstance(shown, float):
            ctx.say(f"  {label} {self.row.name}: {shown:.3f}")

    def close(self) -> None:
        if self.worker is not None:
            self.worker.close()
            self.worker = None


def round_robin(ctx: Ctx, contenders: list[Contender], runs: int, label: str) -> None:
    for c in contenders:
        c.open(ctx)
    try:
        for i in range(runs):
            for c in contenders:
                c.sample(ctx, f"{label} run {i + 1}/{runs}")
    finally:
        for c in contenders:
            c.close()
