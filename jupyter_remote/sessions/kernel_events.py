"""What a kernel's session tells the UI and the log: its state changes and its start-up
stages. One definition for SSH kernels (``kernel.py``) and kernels of a remote Jupyter
server (``jupyter.py``); each passes its own logger and label ("remote kernel",
"Jupyter kernel"), so their log lines stay as they were.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from .roster import registry


class KernelSessionLike(Protocol):
    """The fields these helpers read and write (both kernel session classes have them)."""

    kernel_id: str
    server: str
    state: str
    reason: str

    def to_json(self) -> dict[str, Any]: ...


def set_state(
    session: KernelSessionLike, log: logging.Logger, label: str, state: str, reason: str
) -> None:
    """The sessions' ``_set``: change state and reason; log and emit only a real change."""
    if state == session.state and reason == session.reason:
        return
    session.state, session.reason = state, reason
    log.info("%s %s on %s: %s %s", label, session.kernel_id, session.server, state, reason)
    registry.emit({"type": "session", "session": session.to_json()})


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
