"""The harness's one way to wait (tests/harness/waiting.py): what it returns, how it fails."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from tests.harness.waiting import NeverHappened, eventually, eventually_async


def test_returns_the_first_value_that_satisfies_until() -> None:
    values = iter([0, 1, 2, 3, 4])
    assert eventually(lambda: next(values), lambda n: n >= 2, interval=0.001) == 2
    assert next(values) == 3  # probed no further than needed


def test_without_until_a_true_value_ends_the_wait() -> None:
    values = iter(["", [], "found"])
    assert eventually(lambda: next(values), interval=0.001) == "found"


def test_a_timeout_says_what_was_awaited_and_the_last_value_seen() -> None:
    count = iter(range(1000))
    started = time.monotonic()
    with pytest.raises(NeverHappened) as info:
        eventually(
            lambda: next(count),
            lambda n: n < 0,
            timeout=1.0,  # ~20 probes: 4 even if the process is descheduled for 0.8 s of it
            interval=0.05,
            what="a negative number",
        )
    assert time.monotonic() - started >= 1.0
    message = str(info.value)
    assert "waited 1 s for a negative number" in message
    last = int(message.rsplit(" ", 1)[1])
    assert last >= 3  # probed all along, and once more when the time was up
    assert isinstance(info.value, AssertionError)  # pytest reports it as a failed assertion


def test_without_what_the_probes_source_is_named() -> None:
    empty: list[int] = []
    with pytest.raises(NeverHappened, match=r"for eventually\(lambda: list\(empty\), timeout"):
        eventually(lambda: list(empty), timeout=0.05)


def test_wake_ends_the_wait_at_the_notify_not_at_an_interval() -> None:
    cond = threading.Condition()
    events: list[str] = []

    def later() -> None:
        time.sleep(0.3)
        with cond:
            events.append("running")
            cond.notify_all()

    threading.Thread(target=later).start()
    started = time.monotonic()
    # an interval of a minute would be used if the wait were not on the condition
    seen = eventually(lambda: list(events), wake=cond, timeout=10, interval=60)
    assert seen == ["running"]
    assert time.monotonic() - started < 5


def test_async_variant_keeps_the_loop_running_and_awaits_async_probes() -> None:
    async def go() -> None:
        flag = asyncio.Event()
        asyncio.get_running_loop().call_later(0.1, flag.set)  # only runs if we never block
        assert await eventually_async(flag.is_set, timeout=5, interval=0.01) is True

        async def answer() -> int:
            return 42

        assert await eventually_async(answer, lambda n: n == 42, timeout=1) == 42
        with pytest.raises(NeverHappened, match="the answer to change; last value seen: 42"):
            await eventually_async(
                answer, lambda n: n != 42, timeout=0.05, what="the answer to change"
            )

    asyncio.run(go())
