"""The roster: every remote session of this process, and the events they send.

A session is a kernel's link (``kernel.py``, ``jupyter.py``), a forwarded port
(``forward.py``) or a terminal (``terminal.py``), each a :class:`~.linked.LinkedSession`.
The REST handlers, the events websocket and the CLI read :data:`registry`; sessions
report state changes (:meth:`SessionRegistry.set_state`), start-up progress and
notices through :meth:`SessionRegistry.emit`, which checks each event against its
schema (``jupyter_remote/events``) before any listener sees it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from .. import events

if TYPE_CHECKING:
    from .linked import LinkedSession

log = logging.getLogger(__name__)

Listener = Callable[[dict[str, Any]], None]


@dataclass
class Reconnect:
    """Backoff policy: tunables shared by every session of a registry (its ``reconnect``;
    the defaults are the product's, tests and the bench change them on the instance)."""

    first_delay: float = 0.5
    max_delay: float = 30.0
    give_up_after: float = 3600.0
    tcp_probe_interval: float = 1.0
    rejoin_timeout: float = 5.0
    health_interval: float = 10.0  # seconds between health checks of a running session
    heartbeat_timeout: float = 3.0
    slow_factor: float = 5.0  # degraded when a health round trip exceeds baseline x this
    slow_floor_ms: float = 500.0  # ... and is at least this much above the baseline


class Stateful(Protocol):
    """What :meth:`SessionRegistry.set_state` and :func:`session_fields` read and change:
    every session kind has it."""

    server: str
    state: str
    reason: str
    started: float
    reconnects: int

    def to_json(self) -> dict[str, Any]: ...


def session_fields(session: Stateful, *, id: str, kind: str) -> dict[str, Any]:
    """What every session's ``to_json`` shows first: its id and kind, its server, and its
    link: state, reason, when it started and how often it reconnected."""
    return {
        "id": id,
        "kind": kind,
        "server": session.server,
        "state": session.state,
        "reason": session.reason,
        "started": session.started,
        "reconnects": session.reconnects,
    }


class SessionRegistry:
    """Every session of this process, and the listeners of their events."""

    def __init__(self) -> None:
        self.sessions: dict[str, LinkedSession] = {}
        self._listeners: list[Listener] = []
        self.reconnect = Reconnect()
        self.strict = False
        #: check each event against its schema before it goes out (the server's events
        #: reach the frontend and Jupyter's event bus); the CLI turns it off: its events
        #: never leave the process, and the first check imports jsonschema (~1.1 s)
        self.check_events = True

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def emit(self, event: dict[str, Any]) -> None:
        """Send ``event`` (``{"type": ...}`` as declared in jupyter_remote/events) to every
        listener. An event that does not match its schema is a bug: it is logged, or
        raised when :attr:`strict` (the test suite sets it)."""
        event = {"time": time.time(), **event}
        if self.check_events or self.strict:
            self._check(event)
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # a broken listener must not break a kernel
                log.exception("session event listener failed")

    def _check(self, event: dict[str, Any]) -> None:
        """Called by :meth:`emit`: an event off its schema is logged, or raised when
        :attr:`strict`."""
        try:
            events.check(event)
        except events.EventError:
            if self.strict:
                raise
            log.exception("jupyter-remote sent an event that does not match its schema")

    def set_state(
        self, session: Stateful, log: logging.Logger, who: str, state: str, reason: str
    ) -> bool:
        """Every session's ``_set``: change its state and reason, then log (on the
        session module's ``log``, as "``who``: state reason") and emit the change; True
        if it was one (the same state and reason again is nothing)."""
        if state == session.state and reason == session.reason:
            return False
        session.state, session.reason = state, reason
        log.info("%s: %s %s", who, state, reason)
        self.emit({"type": "session", "session": session.to_json()})
        return True

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
