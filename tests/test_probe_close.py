"""Closing a session ends its reconnect probes (``sessions/linked.py``, ``ssh/probe.py``).

In the first seconds of an outage a session starts a TCP probe every 0.15 s, overlapping,
each a connect shared by the sessions probing the same host. CI printed "Task was
destroyed but it is pending!" for ``_connects()`` and ``_connect_any()`` at the end of the
run: closing cancelled the session's probes without waiting for them, and the shared
connects they waited on behind ``asyncio.shield`` were never cancelled at all. A real sshd
in a network namespace whose packets are dropped (its SYNs unanswered: every probe stays
under way until its timeout) is probed by sessions that are then closed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from jupyter_remote.manager import RemoteManager
from jupyter_remote.sessions.linked import FAST_PROBE_EVERY, LinkedSession
from jupyter_remote.ssh import Endpoint
from tests.harness.netns_host import NetnsHost, netns_unavailable

#: the coroutines of a probe: a session's fast probe, the shared connect, its attempt
PROBE_COROUTINES = {"_probe_once", "_connects", "_connect_any"}


@pytest.fixture(scope="module")
def silent_host() -> Iterator[NetnsHost]:
    """An sshd whose every packet is dropped silently (a link gone without a reset)."""
    reason = netns_unavailable()
    if reason:
        pytest.skip(reason)
    with NetnsHost(name="probeclose") as host, host.dropped():
        yield host


@dataclass
class ProbingSession(LinkedSession):
    """The reconnect state machine alone: Retry on a disconnected session reconnects,
    which probes first (what each session kind inherits)."""

    def to_json(self) -> dict[str, Any]:
        return {"server": self.server, "state": self.state}

    def _set(self, state: str, reason: str = "") -> None:
        self.state, self.reason = state, reason


def probe_tasks() -> list[str]:
    """The probe tasks pending on the running loop, by coroutine name."""
    names = (getattr(task.get_coro(), "__name__", "") for task in asyncio.all_tasks())
    return sorted(name for name in names if name in PROBE_COROUTINES)


async def probing(manager: RemoteManager, host: NetnsHost) -> ProbingSession:
    """A session reconnecting to ``host`` (Retry), a few of its fast probes under way."""
    endpoint = Endpoint(host.host, host.port, host.user)
    session = ProbingSession(manager, "silent", state="disconnected", endpoint=endpoint)
    await session.retry()
    await asyncio.sleep(FAST_PROBE_EVERY * 3)
    return session


def test_a_closed_session_leaves_no_probe_pending(
    manager: RemoteManager, silent_host: NetnsHost
) -> None:
    async def go() -> tuple[list[str], list[str]]:
        session = await probing(manager, silent_host)
        under_way = probe_tasks()
        await session._stop_watching()  # what every session's close and stop call
        return under_way, probe_tasks()

    under_way, left = asyncio.run(go())
    assert "_connects" in under_way and "_probe_once" in under_way, under_way  # control
    assert left == []  # before: every _connects (and _connect_any) still pending


def test_a_probe_shared_with_a_session_still_probing_goes_on(
    manager: RemoteManager, silent_host: NetnsHost
) -> None:
    """Two sessions of one host share their probes' connects: closing one cancels only
    its own waits; the other's probes go on, and end when it closes too."""

    async def go() -> tuple[list[str], bool, list[str]]:
        first, second = await asyncio.gather(
            probing(manager, silent_host), probing(manager, silent_host)
        )
        await first._stop_watching()
        await asyncio.sleep(FAST_PROBE_EVERY * 2)
        after_first = probe_tasks()
        assert second._watcher is not None
        second_probing = not second._watcher.done() and second.state == "reconnecting"
        await second._stop_watching()
        return after_first, second_probing, probe_tasks()

    after_first, second_probing, left = asyncio.run(go())
    assert second_probing  # its shared waits were not cancelled with the first's
    assert "_connects" in after_first and "_probe_once" in after_first, after_first
    assert left == []
