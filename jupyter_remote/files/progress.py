"""Transfer events (``events/schemas/transfer.yaml``): where a file moving to or from a
remote stands, on the sessions' event bus (the /remote/events websocket, Jupyter's event
bus, listeners of a CLI process). Called by ``uploads.py``, ``transfers.py`` and the
download route; running events of one transfer come at most every :data:`EVERY_BYTES`."""

from __future__ import annotations

from ..sessions import registry
from . import paths

#: Bytes between two "running" events of one transfer (its first and last always go).
EVERY_BYTES = 64 * 1024 * 1024


def transfer(
    server: str,
    path: str,
    direction: str,
    state: str,
    done: int,
    *,
    total: int | None = None,
    message: str = "",
) -> None:
    """Say where a transfer stands (``path`` as the remote has it; shown escaped)."""
    registry.emit(
        {
            "type": "transfer",
            "server": server,
            "path": paths.display(path),
            "direction": direction,
            "state": state,
            "bytes": max(0, int(done)),
            "total": total,
            "message": paths.display(message),
        }
    )


class Reporter:
    """Running events of one transfer, every :data:`EVERY_BYTES`, then how it ended."""

    def __init__(self, server: str, path: str, direction: str, total: int | None) -> None:
        self.server, self.path, self.direction, self.total = server, path, direction, total
        self._next = 0
        self.last = 0  # bytes at the last call of running()

    def running(self, done: int) -> None:
        self.last = done
        if done >= self._next:
            self._next = done + EVERY_BYTES
            transfer(self.server, self.path, self.direction, "running", done, total=self.total)

    def ended(self, state: str, message: str = "", *, done: int) -> None:
        transfer(
            self.server, self.path, self.direction, state, done, total=self.total, message=message
        )
