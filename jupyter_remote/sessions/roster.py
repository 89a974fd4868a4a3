"""The roster: every remote session of this process, and the events they send.

A session is a kernel's link (``kernel.py``) or a forwarded port (``forward.py``),
both :class:`~.linked.LinkedSession`. The REST handlers, the events websocket and
the CLI read :data:`registry`; sessions report state changes, start-up progress and
notices through :meth:`SessionRegistry.emit`, which checks each event against its
schema (``jupyter_remote/events``) before any listener sees it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .. import events

if TYPE_CHECKING:
    from .linked import LinkedSession

log = logging.getLogger(__name__)

STATES = (
    "connecting",
    "queued",
    "running",
    "reconnecting",
    "degraded",
    "disconnected",
    "dead",
    "stopped",
)
Listener = Callable[[dict[str, Any]], None]


@dataclass
class Reconnect:
    """Backoff policy: tunables shared by every session (RemoteExtensionApp sets them)."""

    first_delay: float = 0.5
    max_delay: float = 30.0
    give_up_after: float = 3600.0
    tcp_probe_interval: float = 1.0
    rejoin_timeout: float = 5.0
    health_interval: float = 10.0  # seconds between health checks of a running session
    heartbeat_timeout: float = 3.0
    slow_factor: float = 5.0  # degraded when the agent's round trip exceeds baseline x this
    slow_floor_ms: float = 500.0  # ... and is at least this much above the baseline


class SessionRegistry:
    """Every session of this process, and the listeners of their events."""

    def __init__(self) -> None:
        self.sessions: dict[str, LinkedSession] = {}
        self._listeners: list[Listener] = []
        self.reconnect = Reconnect()
        self.strict = False

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def emit(self, event: dict[str, Any]) -> None:
        """Send ``event`` (``{"type": ...}`` as declared in jupyter_remote/events) to every
        listener. An event that does not match its schema is a bug: it is logged, or
        raised when :attr:`strict` (the test suite sets it)."""
        event = {"time": time.time(), **event}
        try:
            events.check(event)
        except events.EventError:
            if self.strict:
                raise
            log.exception("jupyter-remote sent an event that does not match its schema")
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # a broken listener must not break a kernel
                log.exception("session event listener failed")

    def list(self) -> list[dict[str, Any]]:
        return [s.to_json() for s in self.sessions.values()]

    async def detach_idle_kernels(self) -> int:
        """At server exit: leave kernels that have an idle timeout running remotely.

        Their forwards and presence close, so the shutdown request Jupyter sends next
        cannot reach them, and their idle timeout starts; the next server re-attaches
        (POST .../kernels/ID/attach). Kernels without an idle timeout stop as usual.
        """
        count = 0
        for session in list(self.sessions.values()):
            count += await session.detach_at_exit()
        return count


registry = SessionRegistry()
