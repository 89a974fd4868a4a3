"""A terminal's screen as a test reads it: a client of a terminal session.

Called by the terminal tests (tests/test_terminals.py, tests/test_terminal_faults.py)
and the bench's echo metric: :class:`Screen` is attached to a
``jupyter_remote.sessions.terminal.TerminalSession`` (``session.attach(screen.output,
screen.ended)``) and keeps everything the terminal showed; ``wait_for`` waits for a
pattern in it. Stdlib only.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from typing import Optional


class Screen:
    """Everything a terminal showed (its output, our notices) and how it ended."""

    def __init__(self) -> None:
        self.text = ""
        self.ended_with: list[Optional[int]] = []
        self._changed = asyncio.Event()

    async def output(self, text: str) -> None:
        self.text += text
        self._changed.set()

    def ended(self, status: Optional[int]) -> None:
        self.ended_with.append(status)
        self._changed.set()

    async def wait_for(
        self, pattern: str, *, timeout: float = 15.0, since: int = 0
    ) -> re.Match[str]:
        """The first match of PATTERN in what was shown (from offset SINCE), waiting for it."""
        deadline = time.monotonic() + timeout
        while True:
            found = re.compile(pattern).search(self.text, since)
            if found:
                return found
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(
                    f"waited {timeout:g} s for {pattern!r} on the terminal; "
                    f"it shows {self.text[-3000:]!r}"
                )
            self._changed.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(left, 0.5))
