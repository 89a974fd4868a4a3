"""Metric 11: start to first result of ``1+1`` when a profile's standby kernel is taken.

Variants (``task["variant"]``):

- ``local``: ipykernel started by jupyter_client on this machine (the floor, same run);
- ``standby``: kernelspec ``remote-<target>`` through KernelManager, standalone, its
  profile keeping a standby (issue 17, item 1). Before each sample, untimed, the
  profile's standby is made ready (``Standbys.ensure``, as the Jupyter server does in the
  background after a take, then ``status`` until it says ``warm``); the timed part is
  ``start_kernel()`` to the result, and the sample fails unless the kernel really is the
  standby (its remote id is the standby's).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from typing import Any

from bench.kernels import start_first_result, stop_manager

ENSURE_TIMEOUT = 120.0


class StandbyBench:
    """One variant; ``run()`` -> seconds to the first result."""

    def __init__(self, task: dict[str, Any]) -> None:
        self.variant = task["variant"]
        self.kernel_name = task["kernel_name"]
        self.info: dict[str, Any] = {}
        self.profile: Any = None
        if self.variant == "standby":
            self._standby_on()

    def _ctx(self) -> tuple[Any, asyncio.AbstractEventLoop]:
        from jupyter_remote import runtime

        ctx, loop = runtime.current()
        assert loop is not None  # standalone: the SSH loop's own thread
        return ctx, loop

    def _on_loop(self, coro: Any) -> Any:
        _, loop = self._ctx()
        return asyncio.run_coroutine_threadsafe(coro, loop).result(ENSURE_TIMEOUT)

    def _standby_on(self) -> None:
        ctx, _ = self._ctx()
        name = self.kernel_name.removeprefix("remote-")
        profile = ctx.store.get_profile(name)
        self.profile = dataclasses.replace(profile, standby=True)
        ctx.store.save_profile(self.profile, replace=True)

    def _ready(self) -> None:
        """Untimed: a standby runs, and its kernel has answered its relay (the launch may
        answer while the kernel still boots: a take then would time part of its boot)."""
        from jupyter_remote.kernels.standby import Standbys

        ctx, _ = self._ctx()
        keeper = Standbys.of(ctx)
        self._on_loop(keeper.ensure(self.profile))
        deadline = time.monotonic() + ENSURE_TIMEOUT
        while not self._on_loop(keeper.status(self.profile)).get("warm"):
            if time.monotonic() > deadline:
                raise RuntimeError("the standby kernel did not become ready")
            time.sleep(0.05)

    def run(self, stages: bool = False) -> Any:
        """Seconds to the first result; ``stages``: with when each stage of the take
        happened (seconds since start_kernel: the session's progress and state events)."""
        if self.variant == "local":
            seconds, km, kc = start_first_result(self.kernel_name)
            stop_manager(km, kc)
            return seconds
        from jupyter_remote.sessions import registry

        self._ready()
        events: list[tuple[float, str]] = []

        def listen(event: dict[str, Any]) -> None:
            if event.get("type") == "progress":
                events.append((time.perf_counter(), f"progress: {event['stage']}"))
            elif event.get("type") == "session":
                events.append((time.perf_counter(), f"session: {event['session']['state']}"))

        unsubscribe = registry.subscribe(listen) if stages else (lambda: None)
        t0 = time.perf_counter()
        try:
            seconds, km, kc = start_first_result(self.kernel_name)
        finally:
            unsubscribe()
        try:
            session: Any = registry.sessions[str(km.kernel_id)]
            if session.remote_id == session.kernel_id:
                raise RuntimeError("the start did not take the standby kernel (a cold start)")
        finally:
            stop_manager(km, kc)
        if not stages:
            return seconds
        events.append((t0 + seconds, "result of 1+1"))
        phases = {f"{i:02d} {label}": t - t0 for i, (t, label) in enumerate(sorted(events))}
        return {"seconds": seconds, "phases": phases}

    def close(self) -> None:
        if self.profile is None:
            return
        from jupyter_remote.kernels.standby import Standbys

        ctx, _ = self._ctx()
        self._on_loop(Standbys.of(ctx).stop(self.profile.name, self.profile.server))
        ctx.store.save_profile(dataclasses.replace(self.profile, standby=False), replace=True)


def make(task: dict[str, Any]) -> StandbyBench:
    return StandbyBench(task)
