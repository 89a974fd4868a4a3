"""A relay's GAP records told: in the notebook, on the kernel's card, and (for replies) to
the client that waits for one.

:class:`RelayedChannels` (``relay_link.py``) numbers each GAP and checks it
(``relay_records.gap_record``, review s28) and hands it to its :class:`GapTeller`, which
shows it through :class:`~jupyter_remote.kernels.gap_notices.GapNotices` (throttled per
reason and cell, review s24 F7, s25 F3) and answers a dropped shell or control reply's
request with an error reply (review s26 R2). Split from ``relay_link.py`` (s28).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from jupyter_client.session import Session

from ..errors import RemoteCommandError
from ..text import printable
from .gap_notices import GapNotices, dropped_reply, parent_fields
from .relay_hello import relay_json

log = logging.getLogger(__name__)


class GapTeller:
    """One per ``RelayedChannels``: :meth:`tell` each GAP it checked; ``publish`` and
    ``to_local`` are the channels' (iopub, a request channel's client), ``on_gap`` the
    session's (the card)."""

    def __init__(
        self,
        session: Session,
        publish: Callable[[list[Any]], None],
        to_local: Callable[[str, list[Any]], None],
        on_gap: Callable[[str], None] | None,
    ) -> None:
        self._session = session
        self._publish = publish
        self._to_local = to_local
        self._on_gap = on_gap
        self.gaps = 0  # GAP records told (each shown, or counted into a summary)
        self.reply_gaps = 0  # of these, those standing for replies (review s26 R2)
        self._notices = GapNotices(self._show)

    def tell(self, info: dict[str, Any], parent: bytes, idents: list[Any]) -> None:
        """A visible marker in the notebook where output was dropped at the buffer bound
        (or a message was too long to relay, or its GAP was malformed), in the cell of
        ``parent``: at most one per reason and cell per second, the others counted into it
        (``gap_notices.py``); a GAP for replies also answers their request."""
        self.gaps += 1
        self._notices.add(info, parent)
        if info.get("replies"):
            self._replies_dropped(info, parent, idents)

    def close(self) -> None:
        """The channels close: a GAP summary still due is dropped."""
        self._notices.close()

    def _replies_dropped(self, info: dict[str, Any], parent: bytes, idents: list[Any]) -> None:
        """A GAP standing for replies the relay dropped (review s26 R2; ``tell``): logged
        (the first 10, then the 2**n-th), and a shell or control reply's request answered
        with an error (``gap_notices.dropped_reply``) through the routing frames the GAP
        carries: a client waiting for it (a cell shown running) stops waiting."""
        self.reply_gaps += 1
        answer = dropped_reply(info, parent) if idents else None
        if self.reply_gaps <= 10 or not self.reply_gaps & (self.reply_gaps - 1):
            log.warning(
                "relay dropped %d kernel messages, %d %s replies among them (GAP %d): %s",
                info["count"],
                info["replies"],
                printable(str(info.get("channel")))[:16],
                self.reply_gaps,
                "answered the request with an error reply" if answer else "nothing to answer",
            )
        if answer is not None:
            channel, msg_type, content, request = answer
            try:
                msg = self._session.msg(msg_type, content, parent=request)
                frames = self._session.serialize(msg, ident=[bytes(i) for i in idents])
            except Exception as exc:  # never out of the link's record handling (s27 F1)
                log.warning("relay's GAP for replies: no error reply made: %r", exc)
                return
            self._to_local(channel, frames)

    def _show(self, text: str, parent: bytes) -> None:
        """A GAP notice (``GapNotices``): on stderr in the cell of ``parent``, and the card."""
        try:
            parent_header = parent_fields(relay_json(parent)) if parent else {}
        except RemoteCommandError:
            parent_header = {}
        try:
            msg = self._session.msg(
                "stream", {"name": "stderr", "text": text}, parent=parent_header or None
            )
            frames = self._session.serialize(msg, ident=[b"stream"])
        except Exception as exc:  # never out of the link's record handling (review s28 F1)
            log.warning("relay's GAP: no notice made: %r", exc)
            return
        self._publish(frames)
        if self._on_gap is not None:
            self._on_gap(text.strip())
