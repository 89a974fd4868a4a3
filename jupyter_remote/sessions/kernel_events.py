"""What a kernel's session tells the UI and the log: the session as the REST API and the
events show it, its state changes, its start-up stages and its notices. One definition
for SSH kernels (``kernel.py``) and kernels of a remote Jupyter server (``jupyter.py``);
each passes its own logger and label ("remote kernel", "Jupyter kernel"), so their log
lines stay as they were.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from .roster import Stateful, registry, session_fields


class KernelSessionLike(Stateful, Protocol):
    """The fields these helpers read and write (both kernel session classes have them)."""

    kernel_id: str
    start_failed: bool
    hint: str


def kernel_json(
    session: KernelSessionLike,
    *,
    profile: str,
    python: str | None,
    local_ports: list[int],
    relayed: bool,
    warnings: list[str],
    **kind_fields: Any,
) -> dict[str, Any]:
    """The sessions' ``to_json``: the fields every kernel session shows, then its own
    (``kind_fields``: the Jupyter kernel's target and names, the SSH kernel's job...)."""
    return {
        **session_fields(session, id=session.kernel_id, kind="kernel"),
        "kernel_id": session.kernel_id,
        "profile": profile,
        "python": python,
        "local_ports": local_ports,
        "relayed": relayed,
        "warnings": warnings,
        **kind_fields,
        "start_failed": session.start_failed,
        "hint": session.hint,
    }


def emit_notice(session: KernelSessionLike, message: str) -> None:
    """The sessions' ``notice``: something the user of this kernel should know (the
    notebook shows it)."""
    registry.emit(
        {
            "type": "notice",
            "kernel_id": session.kernel_id,
            "server": session.server,
            "message": message,
        }
    )


def set_state(
    session: KernelSessionLike, log: logging.Logger, label: str, state: str, reason: str
) -> None:
    """The sessions' ``_set``: change state and reason; log and emit only a real change."""
    who = f"{label} {session.kernel_id} on {session.server}"
    registry.set_state(session, log, who, state, reason)


def emit_progress(
    session: KernelSessionLike, log: logging.Logger, label: str, stage: str, message: str
) -> None:
    """The sessions' ``progress``: a start-up stage (connecting, tunnel, authenticating,
    starting kernel, websocket, ready) for the UI's progress line and the log."""
    log.info("%s %s: %s %s", label, session.kernel_id, stage, message)
    registry.emit(
        {
            "type": "progress",
            "kernel_id": session.kernel_id,
            "server": session.server,
            "stage": stage,
            "message": message,
        }
    )
