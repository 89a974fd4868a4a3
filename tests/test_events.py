"""The events the server sends are declared once (jupyter_remote/events) and hold to it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from jupyter_remote import events
from jupyter_remote.sessions import registry

ROOT = Path(__file__).resolve().parent.parent


def test_typescript_types_are_generated_from_the_schemas() -> None:
    check = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "make_event_types.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stderr


def test_every_kind_has_a_schema_registered_on_a_jupyter_event_logger() -> None:
    from jupyter_events import EventLogger

    logger = EventLogger()
    events.register_with(logger)
    assert {events.schema_id(kind) for kind in events.KINDS} <= set(logger.schemas.schema_ids)


@pytest.mark.parametrize(
    "event",
    [
        {"type": "progress", "kernel_id": "k", "server": "s", "stage": "warming", "message": ""},
        {"type": "session", "session": {"id": "k", "state": "running"}},
        {"type": "notice", "kernel_id": "k", "server": "s"},
        {"type": "gossip", "message": "x"},
    ],
)
def test_an_event_off_its_schema_is_refused(event: dict[str, object]) -> None:
    with pytest.raises(events.EventError):
        events.check(event)


def test_the_roster_is_strict_in_the_test_suite() -> None:
    """conftest makes every test fail on an event that does not match its schema."""
    assert registry.strict
    with pytest.raises(events.EventError):
        registry.emit({"type": "progress", "kernel_id": "k", "stage": "nowhere"})
    registry.emit({"type": "notice", "kernel_id": "k", "server": "s", "message": "fine"})
