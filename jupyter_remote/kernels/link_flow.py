"""Back-pressure from the local iopub subscribers to a kernel's relay link.

:class:`RelayedChannels` (``relay_link.py``) publishes each kernel message on the local
PUB (``zmtp_server.py``) as the SSH packet completing it arrives; a subscriber that reads
slower than the kernel writes would make this process buffer all of it (up to the PUB's
MAX_BEHIND per peer). Instead, while a subscriber is more than PAUSE_ABOVE bytes behind
and still draining, the link stops reading (asyncssh's ``pause_reading``: no packets
delivered, no SSH window granted), so the kernel's output waits in the relay's own
bounded buffer on the remote, which is what it is for; once every draining subscriber is
back under RESUME_BELOW the link reads again.

A subscriber that drained nothing for STUCK_AFTER s no longer holds the link (a PUB must
not let one reader that stopped stall everyone): the others get the output, and the PUB's
own stall rule cuts the stuck one once it is far enough behind. It holds the link again
only after it has read.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from .zmtp_server import PubServer

#: a subscriber this many bytes behind pauses the link
PAUSE_ABOVE = 8 * 1024 * 1024
#: a paused link reads again once every draining subscriber is under this
RESUME_BELOW = 2 * 1024 * 1024
#: seconds between looks at the subscribers while paused
CHECK_EVERY = 0.02
#: a subscriber that drained nothing for this long no longer holds the link
STUCK_AFTER = 1.0


class LinkFlow:
    """Pauses and resumes one kernel's relay link for its local PUB's subscribers."""

    def __init__(self, pub: PubServer | None) -> None:
        self._pub = pub
        self._link: Any = None
        self._timer: asyncio.TimerHandle | None = None
        #: peer -> (bytes it had drained, when that last grew), while it is behind
        self._progress: dict[Any, tuple[int, float]] = {}
        self.pauses = 0  # times a subscriber paused the link (tests, diagnostics)

    @property
    def paused(self) -> bool:
        return self._timer is not None

    def attach(self, link: Any) -> None:
        """A new link (:meth:`RelayedChannels.attach`): it starts reading."""
        self.detach()
        self._link = link

    def detach(self) -> None:
        """The link is gone; nothing to resume."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._link = None

    def published(self) -> None:
        """After each message published: pause the link if a draining subscriber is
        more than PAUSE_ABOVE bytes behind."""
        if self._timer is not None or self._link is None or self._pub is None:
            return
        for peer in self._pub.peers:  # the common case: nobody that far behind
            if peer.write_buffer_size() > PAUSE_ABOVE:
                break
        else:
            return
        if self._behind(PAUSE_ABOVE):
            self._link.pause_reading()
            self.pauses += 1
            self._timer = asyncio.get_running_loop().call_later(CHECK_EVERY, self._check)

    def _check(self) -> None:
        self._timer = None
        if self._link is None:
            return
        if self._behind(RESUME_BELOW):
            self._timer = asyncio.get_running_loop().call_later(CHECK_EVERY, self._check)
        else:
            self._link.resume_reading()

    def _behind(self, limit: int) -> bool:
        """True if a subscriber that is not stuck is more than ``limit`` bytes behind."""
        if self._pub is None:
            return False
        now = time.monotonic()
        progress: dict[Any, tuple[int, float]] = {}
        holding = False
        for peer, behind, drained in self._pub.backlogs():
            if behind <= RESUME_BELOW:
                continue  # caught up: forgotten
            last = self._progress.get(peer)
            if last is None or drained > last[0]:
                last = (drained, now)
            progress[peer] = last
            if behind > limit and now - last[1] < STUCK_AFTER:
                holding = True
        self._progress = progress
        return holding
