"""The events the server extension sends, declared once as jupyter_events schemas.

``schemas/*.yaml`` are the single definition of every event (session state
changes, start-up progress, notices): the session registry checks each event
against them before it goes out (:func:`check`), the Jupyter server's own event bus
carries them (:func:`register_with`, called by ``RemoteExtensionApp``), and the
frontend's TypeScript types are generated from them
(``scripts/make_event_types.py`` writes ``labextension/src/events.ts``; a test
keeps the two in step).
"""

from __future__ import annotations

import logging
from functools import cache
from importlib.resources import as_file, files
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from jupyter_events.schema import EventSchema

log = logging.getLogger(__name__)

#: The event kinds, by their ``type`` field; each has ``schemas/<kind>.yaml``.
KINDS = ("session", "progress", "notice", "transfer")


def schema_text(kind: str) -> str:
    """The YAML text of one event's schema (also read by the TypeScript generator)."""
    return files(__name__).joinpath("schemas", f"{kind}.yaml").read_text(encoding="utf-8")


@cache
def schemas() -> dict[str, EventSchema]:
    """Every event's schema, by kind (loaded once per process; jupyter_events is imported
    here, not at import time: it loads jsonschema, 1.5 s the CLI need not pay)."""
    from jupyter_events.schema import EventSchema

    return {kind: EventSchema(yaml.safe_load(schema_text(kind))) for kind in KINDS}


def schema_id(kind: str) -> str:
    return str(schemas()[kind].id)


class EventError(ValueError):
    """An event that does not match its schema: a bug on our side."""


def check(event: dict[str, Any]) -> None:
    """Raise EventError unless ``event`` is one of ours and matches its schema.

    Called by ``SessionRegistry.emit`` for every event before it goes out."""
    kind = event.get("type")
    if kind not in KINDS:
        raise EventError(f"unknown event type {kind!r}")
    try:
        schemas()[kind].validate(event)
    except Exception as exc:  # jsonschema's ValidationError, with the path that failed
        raise EventError(f"{kind} event does not match its schema: {exc}") from None


def register_with(event_logger: Any) -> None:
    """Declare our schemas on the Jupyter server's EventLogger (its /api/events bus)."""
    for kind in KINDS:
        with as_file(files(__name__).joinpath("schemas", f"{kind}.yaml")) as path:
            event_logger.register_event_schema(path)


def forward_to(event_logger: Any) -> Any:
    """A session-registry listener that re-emits every event on ``event_logger``."""

    def forward(event: dict[str, Any]) -> None:
        event_logger.emit(schema_id=schema_id(str(event["type"])), data=event)

    return forward
