"""A relay's GAP records told: in the notebook, on the kernel's card, and (for replies) to
the client that waits for one.

:class:`RelayedChannels` (``relay_link.py``) numbers each GAP and checks it
(``relay_records.gap_record``, review s28) and hands it to its :class:`GapTeller`, which
shows it through :class:`~jupyter_remote.kernels.gap_notices.GapNotices` (throttled per
reason and cell, review s24 F7, s25 F3) and answers a dropped shell or control reply's
request with an error reply (review s26 R2). Split from ``relay_link.py`` (s28).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from jupyter_client.session import Session

from ..errors import RemoteCommandError
from ..text import printable
from .gap_notices import GapNotices, dropped_reply, parent_fields
from .relay_hello import relay_json
from .relay_records import Answer

log = logging.getLogger(__name__)

#: an error reply to send: (channel, reply type, content, the request's header, routing)
ErrorReply = tuple[str, str, dict[str, Any], dict[str, Any], list[bytes]]


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
        self.answered = 0  # error replies sent for the replies they stood for (s27 F3)
        self._notices = GapNotices(self._show)

    def tell(
        self,
        info: dict[str, Any],
        parent: bytes,
        idents: list[Any],
        answers: list[Answer] | None = None,
    ) -> None:
        """A visible marker in the notebook where output was dropped at the buffer bound
        (or a message was too long to relay, or its GAP was malformed), in the cell of
        ``parent``: at most one per reason and cell per second, the others counted into it
        (``gap_notices.py``); a GAP for replies also answers their requests (``answers``,
        checked by ``relay_records.gap_answers``; None from a relay before s29)."""
        self.gaps += 1
        self._notices.add(info, parent)
        if info.get("replies"):
            self._replies_dropped(info, parent, idents, answers)

    def close(self) -> None:
        """The channels close: a GAP summary still due is dropped."""
        self._notices.close()

    def _replies_dropped(
        self,
        info: dict[str, Any],
        parent: bytes,
        idents: list[Any],
        answers: list[Answer] | None,
    ) -> None:
        """A GAP standing for replies the relay dropped (review s26 R2; ``tell``): each
        shell or control reply's request it kept an answer for gets an error reply
        (``gap_notices.dropped_reply``: ReplyDropped) with that request as its parent,
        through that request's own routing frames, so each client waiting for one (a cell
        shown running) stops waiting, and none gets another's (review s27 F3: one request
        a run was answered, with the run's parent). Logged (the first 10, then the
        2**n-th), with the replies not answered: repeats of one request, input requests
        (stdin: no answer can stand for the user's), or past the relay's cap of answers
        kept (those requests stay waiting: interrupt or restart)."""
        self.reply_gaps += 1
        if answers is None:  # a relay before s29: its run's parent, its first reply's routing
            answer = dropped_reply(info, parent) if idents else None
            made: list[ErrorReply | None] = []
            if answer is not None:
                made.append((*answer, [bytes(i) for i in idents]))
        else:
            made = [self._answer(a) for a in answers]
        sent = sum(self._send_error_reply(*reply) for reply in made if reply is not None)
        self.answered += sent
        if self.reply_gaps <= 10 or not self.reply_gaps & (self.reply_gaps - 1):
            log.warning(
                "relay dropped %d kernel messages, %d %s replies among them (GAP %d): %s",
                info["count"],
                info["replies"],
                printable(str(info.get("channel")))[:16],
                self.reply_gaps,
                f"answered {sent} request{'s' if sent != 1 else ''} with an error reply"
                + (
                    f"; {info['replies'] - sent} not answered (repeats, input requests, or "
                    "past the relay's cap: those requests stay waiting)"
                    if info["replies"] > sent
                    else ""
                )
                if sent
                else "nothing to answer",
            )

    @staticmethod
    def _answer(answer: Answer) -> ErrorReply | None:
        """``_replies_dropped``: the error reply of one checked answer, as ``dropped_reply``
        makes it (its checks again: a request header of string fields), with its routing."""
        made = dropped_reply({"channel": answer.channel}, json.dumps(answer.header).encode())
        return None if made is None else (*made, answer.idents)

    def _send_error_reply(
        self,
        channel: str,
        msg_type: str,
        content: dict[str, Any],
        request: dict[str, Any],
        idents: list[bytes],
    ) -> bool:
        """One error reply to a local client (``_replies_dropped``); False if it could not be
        made (never raised out of the link's record handling: review s27 F1)."""
        try:
            msg = self._session.msg(msg_type, content, parent=request)
            frames = self._session.serialize(msg, ident=idents)
        except Exception as exc:
            log.warning("relay's GAP for replies: no error reply made: %r", exc)
            return False
        self._to_local(channel, frames)
        return True

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
