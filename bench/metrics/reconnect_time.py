"""Metric 6: from link restored to session running again (and to the first cell reply).

``ours``: a kernel on ``remote-<target>`` (veth: the namespace host straight over its
veth; slow: through the delay proxy). SSH keepalives are shortened as
tests/test_network_faults.py does (1 s x 2: the drop is noticed ~3 s into the cut);
the reconnect policy keeps the product's defaults. A run: the orchestrator cuts the link
(NetnsHost.cut(), plus the proxy for ``slow``), we wait for ``reconnecting``, hold the
cut 1 to 2 s more (random, seeded), the orchestrator restores it; timed from the
restore's return to the registry's ``running`` event, and to the reply of a cell.

``ssh`` (the floor): after the same cut and restore, ``ssh bench-<target> true`` in a
tight loop until it succeeds: what any new OpenSSH connection needs.
"""

from __future__ import annotations

import dataclasses
import os
import random
import subprocess
import threading
import time
from typing import Any

from bench.common import rpc
from bench.kernels import start_first_result, stop_manager
from tests.harness.waiting import NeverHappened, eventually

KEEPALIVE_INTERVAL = 1.0
KEEPALIVE_COUNT_MAX = 2
HOLD_AFTER_DETECT = 1.0  # + a random 0..1 s: the restore must not land at one fixed phase
# of the session's TCP probe timer (seeded: reruns cut and restore alike)


class Timeline:
    """``running``/``reconnecting`` events of one kernel's session (SSH loop thread)."""

    def __init__(self, kernel_id: str) -> None:
        self.kernel_id = kernel_id
        self.events: list[tuple[float, str]] = []
        self.cond = threading.Condition()

    def __call__(self, event: dict[str, Any]) -> None:
        if event.get("type") != "session":
            return
        session = event["session"]
        if session.get("kernel_id") == self.kernel_id:
            with self.cond:
                self.events.append((time.perf_counter(), session["state"]))
                self.cond.notify_all()

    def since(self, after: float) -> list[str]:
        with self.cond:
            return [f"{t - after:+.2f}s {s}" for t, s in self.events if t >= after]

    def first(self, state: str, after: float) -> float | None:
        """When the session first went STATE at or after AFTER (None: not yet)."""
        with self.cond:
            return next((t for t, s in self.events if t >= after and s == state), None)


class ReconnectBench:
    def __init__(self, task: dict[str, Any]) -> None:
        self.variant = task["variant"]
        self.name = task["target"]
        self.km: Any = None
        self.kc: Any = None
        self.rng = random.Random(6)
        self.info: dict[str, Any] = {}
        if self.variant == "ours":
            import logging

            from jupyter_remote import runtime

            logging.basicConfig(format="%(asctime)s %(name)s %(message)s")  # to the worker log
            logging.getLogger("jupyter_remote").setLevel(logging.INFO)
            from jupyter_remote.sessions import registry

            pool = runtime.current_context().pool
            pool.settings = dataclasses.replace(
                pool.settings,
                keepalive_interval=KEEPALIVE_INTERVAL,
                keepalive_count_max=KEEPALIVE_COUNT_MAX,
            )
            _, self.km, self.kc = start_first_result(f"remote-{self.name}")
            self.timeline = Timeline(str(self.km.kernel_id))
            self.unsubscribe = registry.subscribe(self.timeline)
            self.info = {"reconnect_policy": dict(vars(registry.reconnect))}

    def run(self) -> dict[str, float]:
        if self.variant == "ssh":
            return self._run_ssh()
        t_cut = time.perf_counter()
        rpc("cut", target=self.name)
        try:
            hit = self._wait("reconnecting", t_cut, 30)
            time.sleep(HOLD_AFTER_DETECT + self.rng.uniform(0, 1))
        finally:
            rpc("restore", target=self.name)
        t_back = time.perf_counter()
        running = self._wait("running", t_back, 120, since=t_cut)
        reply = self._first_reply(t_back)
        return {
            "detect": hit - t_cut,
            "running": running - t_back,
            "first_reply": reply - t_back,
        }

    def _wait(self, state: str, after: float, timeout: float, since: float = 0.0) -> float:
        """When the session went STATE at or after AFTER, waiting up to TIMEOUT s for it."""
        try:
            hit: float | None = eventually(
                lambda: self.timeline.first(state, after), timeout=timeout, wake=self.timeline.cond
            )
        except NeverHappened:
            events = self.timeline.since(since or after)
            raise RuntimeError(f"not {state} {timeout:g} s later; events: {events}") from None
        assert hit is not None  # eventually returns a truthy value only
        return hit

    def _first_reply(self, since: float) -> float:
        """Time of the first reply to a cell sent once running (retrying lost requests)."""
        while True:
            msg_id = self.kc.execute("x = 1", store_history=False)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                try:
                    msg = self.kc.get_shell_msg(timeout=max(0.05, deadline - time.monotonic()))
                except Exception:
                    break
                if msg["parent_header"].get("msg_id") == msg_id:
                    return time.perf_counter()
            if time.perf_counter() - since > 120:
                raise RuntimeError("no cell reply 120 s after the link came back")

    def _run_ssh(self) -> dict[str, float]:
        rpc("cut", target=self.name)
        try:
            time.sleep(HOLD_AFTER_DETECT + self.rng.uniform(0, 1))  # no connection to lose
        finally:
            rpc("restore", target=self.name)
        t_back = time.perf_counter()
        argv = ["/usr/bin/ssh", "-F", os.environ["JRBENCH_SSH_CONFIG"],
                "-o", "ConnectTimeout=3", f"bench-{self.name}", "true"]  # fmt: skip
        while True:
            done = subprocess.run(argv, capture_output=True, check=False, stdin=subprocess.DEVNULL)
            if done.returncode == 0:
                return {"running": time.perf_counter() - t_back}
            if time.perf_counter() - t_back > 120:
                raise RuntimeError("ssh did not get through 120 s after the link came back")

    def close(self) -> None:
        if self.km is not None:
            self.unsubscribe()
            stop_manager(self.km, self.kc)


def make(task: dict[str, Any]) -> ReconnectBench:
    return ReconnectBench(task)
