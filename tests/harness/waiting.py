"""Waiting until something holds: the one way the tests, the harness and the bench wait.

Plain stdlib module (the harness hosts and the bench's workers use it too).

``eventually(probe)`` calls PROBE until its value satisfies UNTIL (default: the value is
true) and returns that value. After TIMEOUT seconds it raises :class:`NeverHappened`,
naming what was awaited and the last value PROBE returned, so a failure says what the
test saw rather than only that it waited. Let PROBE return the thing that changes (a
count, a state, a list of processes) and UNTIL say when it is right::

    eventually(host.established_connections, until=lambda n: n == 0, what="no connection")
    procs = eventually(lambda: remote_kernel_processes(host), until=lambda p: not p)

``eventually_async`` is the same for coroutines (PROBE may be sync or async): it sleeps
with ``asyncio.sleep``, so the loop it runs on (a Jupyter server's, say) keeps running.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")


class NeverHappened(AssertionError):
    """What ``eventually`` waited for did not happen in time (an assertion that failed)."""


def _describe(probe: Callable[..., Any], until: Callable[..., Any]) -> str:
    """What a wait was for, when the caller did not say: the source of its lambdas (the
    call's line), else the names of the probe and the condition."""
    for func in (until, probe):
        if getattr(func, "__name__", "") == "<lambda>":
            try:
                return " ".join(inspect.getsource(func).split())
            except (OSError, TypeError):
                pass
    name = getattr(probe, "__qualname__", repr(probe))
    return name if until is bool else f"{name} to satisfy {getattr(until, '__qualname__', until)}"


def _failure(
    what: str, probe: Callable[..., Any], until: Callable[..., Any], timeout: float, last: object
) -> NeverHappened:
    text = repr(last)
    if len(text) > 2000:  # a log, say: its start and its end
        text = f"{text[:1000]} ... {text[-1000:]}"
    return NeverHappened(
        f"waited {timeout:g} s for {what or _describe(probe, until)}; last value seen: {text}"
    )


def eventually(
    probe: Callable[[], T],
    until: Callable[[T], object] = bool,
    *,
    timeout: float = 10.0,
    interval: float = 0.05,
    what: str = "",
    wake: threading.Condition | None = None,
) -> T:
    """PROBE's first value that satisfies UNTIL, checked every INTERVAL s for TIMEOUT s.

    Called by tests and harness code that wait for a state (a connection count, a log
    line, a process gone). PROBE is called once more when the time is up. With WAKE (a
    Condition notified whenever PROBE's answer may change), PROBE runs under WAKE's lock
    and the wait is on WAKE: no polling, no missed change. Raises NeverHappened.
    """
    deadline = time.monotonic() + timeout
    with wake if wake is not None else contextlib.nullcontext():
        while True:
            value = probe()
            if until(value):
                return value
            left = deadline - time.monotonic()
            if left <= 0:
                raise _failure(what, probe, until, timeout, value)
            if wake is not None:
                wake.wait(left)
            else:
                time.sleep(min(interval, left))


async def eventually_async(
    probe: Callable[[], T | Awaitable[T]],
    until: Callable[[T], object] = bool,
    *,
    timeout: float = 10.0,
    interval: float = 0.05,
    what: str = "",
) -> T:
    """``eventually`` for async code: PROBE may return a value or an awaitable of one.

    Called by async tests whose awaited state changes on their own loop (the Jupyter
    server's sessions, the SSH pool): a blocking sleep there would stop what it waits for.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if inspect.isawaitable(value):
            value = await value
        if until(value):
            return value
        left = deadline - time.monotonic()
        if left <= 0:
            raise _failure(what, probe, until, timeout, value)
        await asyncio.sleep(min(interval, left))
