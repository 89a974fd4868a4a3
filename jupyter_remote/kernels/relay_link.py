"""Local ZMQ endpoints of a remote kernel, fed by the relay beside it (remote/relay.py).

The Jupyter server's clients connect to these sockets (ROUTER for shell,
control and stdin; PUB for iopub) on fixed loopback ports, and they stay up
while the SSH link comes and goes: the clients never see a disconnect. Every
message crosses the link as a numbered record; on reconnect the two sides
exchange the last number each has received and resend the rest, so output
produced while the link was down arrives afterwards, in order, once each.

Created and driven by :class:`jupyter_remote.sessions.kernel.KernelSession` on the SSH
loop: :meth:`attach` after each (re)connect, :meth:`detach` when the link drops,
:meth:`close` when the session ends. Heartbeat pings cross the same link but are
neither numbered nor kept: while the link is down they go unanswered, as a
heartbeat must. The link is a unix-socket forward to the relay, or (a server's
explicit "tcp" choice) a TCP forward where the HELLO carries the relay token.

Every HELLO carries a fresh nonce, and the relay's answer must prove it knows the
kernel's key (``relay_proof`` in ``remote/protocol.py``) before one message is written
to it: after the kernel ended, its old socket path or port may be anyone's (review s22
F1); an answer without the proof is :class:`RelayNotProvenError`, and nothing is sent.
Every record the relay sends is then checked before use (``relay_records.py``, s28).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import struct
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any

from jupyter_client.session import Session

from ..errors import RemoteCommandError
from ..remote.protocol import (
    ACK,
    GAP,
    HB,
    HELLO,
    MSG,
    RELAYED,
    encode_record,
    is_shutdown_reply,
    json_part,
)
from ..ssh.record_link import RecordLink, open_record_link
from ..ssh.streams import ExecTarget
from ..text import printable
from .agent_client import MAX_ERROR_TEXT, error_hint
from .gap_notices import MALFORMED, gap_text  # noqa: F401 (gap_text: its old home)
from .local_channels import LocalChannels, verified
from .relay_gaps import GapTeller
from .relay_hello import MAX_HELLO_IN, hello_answer, proven
from .relay_records import (
    ack_problem,
    gap_parent,
    gap_record,
    gap_told,
    hb_problem,
    hello_problem,
    msg_problem,
)

log = logging.getLogger(__name__)

IOPUB = RELAYED.index("iopub")

ACK_EVERY = 0.2  # seconds between acknowledgements while messages arrive
ACK_BATCH = 512  # ... or after this many messages
#: largest record we accept from a relay (one kernel message): a hostile remote must not
#: make us buffer gigabytes; a 256 MiB display is far beyond what a notebook renders
MAX_RECORD_IN = 256 * 1024 * 1024


class RelayedChannels(LocalChannels):
    """Shell/control/stdin/iopub of one remote kernel on local ports, through its relay."""

    def __init__(
        self,
        ports: dict[str, int],
        *,
        key: bytes,
        signature_scheme: str,
        on_gap: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__({name: ports[name] for name in (*RELAYED, "hb")})
        # a kernel's large outputs arrive as 1 MB records joined from asyncssh's packet
        # slices: with glibc's default thresholds each was mapped fresh and page-faulted
        # (~75,000 faults and ~25 % of this side's CPU per 200 MB; bench.relay_wakeups).
        # Process-wide: this runs in the Jupyter server, so its thresholds hold for every
        # extension there (up to 32 MiB of freed heap kept per malloc arena)
        from ..files.transfers import steady_allocator  # here: files imports sessions

        steady_allocator()
        self._session = Session(
            key=key, signature_scheme=signature_scheme, username="jupyter-remote"
        )
        self._key = key  # what the relay proves it knows (every HELLO)
        self._twin = uuid.uuid4().hex  # tells the relay a new local side starts its numbering
        self.epoch: str | None = None  # the relay (one per kernel process) we talk to
        self.last_in = 0  # highest kernel -> client number delivered here
        self._acked_in = 0
        self._seq_out = 0
        self._written_out = 0  # highest request number written to a relay
        #: (seq, record) of each request not yet acknowledged, encoded once: a replay
        #: writes the same bytes and can never fail on one
        self._pending: deque[tuple[int, bytes]] = deque()
        self.unencodable = 0  # requests dropped: more parts than a record carries
        self.unsigned = 0  # requests dropped: unsigned or badly signed
        self._writer: Any = None  # the RecordLink while attached and writable
        #: the RecordLink from attach to detach, written to or not (``detach`` closes it)
        self._link: RecordLink | None = None
        self._ack_task: asyncio.Task[None] | None = None
        self.malformed = 0  # records from the relay not used as sent (``relay_records``)
        self._gap_teller = GapTeller(
            self._session, self.publish, lambda name, parts: self._to_local(name, parts), on_gap
        )
        #: the kernel process we talk to answered a shutdown request: it is ending on purpose
        self.shutdown_replied = False

    @property
    def attached(self) -> bool:
        return self._writer is not None

    @property
    def gaps(self) -> int:
        """GAP records told (each shown, or counted into a summary)."""
        return self._gap_teller.gaps

    @property
    def reply_gaps(self) -> int:
        """Of these, those standing for replies (review s26 R2)."""
        return self._gap_teller.reply_gaps

    @property
    def answered(self) -> int:
        """Error replies sent for the replies these stood for (review s27 F3)."""
        return self._gap_teller.answered

    # ------------------------------------------------------------ link

    async def attach(
        self,
        conn: Any,
        target: str | int | ExecTarget,
        *,
        token: str = "",
        timeout: float = 15.0,
        ready_timeout: float | None = None,
    ) -> None:
        """Connect to the relay over ``conn`` (an SSH connection) and resume: ``target``
        is its unix socket path, its TCP port on the remote's 127.0.0.1 (then ``token``
        proves to it that we are its kernel's client), or a connector command whose
        stdin/stdout carry the stream (``ssh/streams.py``). The relay answers the HELLO
        once its kernel has answered it (``ready_timeout``, default ``timeout``: a start
        attaches while the kernel boots), or with why the start failed: RemoteCommandError
        with the kernel's log tail (``remote/relay_start.py``)."""
        self.detach()
        writer = await asyncio.wait_for(
            open_record_link(conn, target, max_first=MAX_HELLO_IN, max_record=MAX_RECORD_IN),
            timeout,
        )
        try:
            answer = await self._greet(writer, token, ready_timeout or timeout)
        except BaseException:  # timed out, refused, cancelled: no SSH channel left open
            writer.close()
            raise
        if answer["epoch"] != self.epoch:
            # a new kernel process (start or restart): requests written to the old one are void
            while self._pending and self._pending[0][0] <= self._written_out:
                self._pending.popleft()
            self.epoch = answer["epoch"]
            self.last_in = self._acked_in = answer["start"] - 1
            self.shutdown_replied = False
        problem = ack_problem(answer["last_in"], self._written_out)
        if problem is None:
            self._trim_pending(answer["last_in"])
        else:  # nothing taken off: all replayed, the relay drops what it has (its numbers)
            self._refused("HELLO answer's last_in", problem)
        for _seq, record in self._pending:
            writer.write(record)
        self._written_out = self._seq_out
        self._writer = self._link = writer
        # each record from now on is handled as asyncssh hands over its last packet
        writer.deliver(
            lambda *record: self._from_remote(writer, *record),
            lambda exc: self._link_ended(writer, exc),
        )
        self._ack_task = asyncio.ensure_future(self._acker(writer))

    async def _greet(self, writer: RecordLink, token: str, timeout: float) -> dict[str, Any]:
        """Our HELLO on a new link and the relay's answer, proven and well formed
        (``attach``, which closes the link if this raises)."""
        nonce = secrets.token_hex(16)
        hello = {"twin": self._twin, "epoch": self.epoch, "last": self.last_in, "nonce": nonce}
        if token:
            hello["token"] = token
        writer.write(encode_record(HELLO, 0, 0, [json_part(hello)]))
        answer = await hello_answer(writer, writer, timeout)
        proven(answer, self._key, nonce, writer)  # else nothing is believed or written
        if "error" in answer:  # the kernel's start failed (the relay stopped it)
            writer.close()
            raise RemoteCommandError(
                printable(str(answer["error"])[:MAX_ERROR_TEXT], keep_newlines=True),
                hint=error_hint(answer.get("hint")),  # a log tail: its end is what matters
            )
        problem = hello_problem(answer)  # review s28: a bool, or a start of 10**30
        if problem is not None:
            log.warning("relay's greeting refused: %s", problem)
            writer.close()
            raise RemoteCommandError(
                "The kernel's relay answered with a malformed greeting.",
                hint="The remote runs another version of jupyterlab-remote's relay, or is "
                "not what it claims; restart the kernel.",
            )
        return answer

    def detach(self) -> None:
        """The link is gone (or about to be replaced): stop using it; local sockets stay."""
        link, self._link, self._writer = self._link, None, None
        if self._ack_task is not None:
            self._ack_task.cancel()
        self._ack_task = None
        if link is not None:  # also one no longer written to (``_unwritable``)
            with contextlib.suppress(Exception):
                link.close()

    # ------------------------------------------------------------ client -> kernel

    def from_client(self, name: str, frames: list[Any]) -> None:
        """A message a local client sent, as the event loop reads it (``zmtp_server.py``:
        no libzmq socket or I/O thread of ours): a request is numbered and written to the
        relay; a heartbeat ping goes to the kernel while attached, else it is dropped
        unanswered. A request not signed with the kernel's key is dropped here."""
        if name == "hb":
            with contextlib.suppress(struct.error, ValueError, OverflowError):
                self._to_relay(encode_record(HB, 0, 0, frames))
        elif verified(self._session, frames) is None:
            # unsigned or badly signed (any local user can send to these ports): the
            # kernel would refuse it, after carrying it over SSH and logging a traceback
            if not self.unsigned:
                log.warning("dropped a local %s message with a bad signature", name)
            self.unsigned += 1
        else:
            self._from_local(RELAYED.index(name), frames)

    def _from_local(self, channel: int, frames: list[bytes]) -> None:
        """One client request: numbered, kept until the relay acknowledges it, written now
        if attached (else replayed by the next attach). One a record cannot carry (65,536
        parts or more: any local user can send it) is dropped, never kept: kept, it made
        every later attach raise and the kernel's channels stay detached."""
        try:
            record = encode_record(MSG, channel, self._seq_out + 1, frames)
        except (struct.error, ValueError, OverflowError):
            if not self.unencodable:
                log.warning(
                    "dropped a local request of %d parts on %s: more than a relay record "
                    "carries (further ones dropped silently)",
                    len(frames),
                    RELAYED[channel],
                )
            self.unencodable += 1
            return
        self._seq_out += 1
        self._pending.append((self._seq_out, record))
        if self._to_relay(record):
            self._written_out = self._seq_out

    def _to_relay(self, record: bytes) -> bool:
        """Write ``record`` to the link if attached; True if written. A write that raises
        (asyncssh closes a channel for sending as soon as the relay's CLOSE arrives, a
        loop turn or more before ``_from_remote`` reads the EOF) detaches as that EOF
        would: a request stays in ``_pending`` for the next attach, a ping is dropped."""
        writer = self._writer
        if writer is None:
            return False
        try:
            writer.write(record)
        except OSError as exc:
            self._unwritable(writer, exc)
            return False
        return True

    def _unwritable(self, writer: Any, exc: OSError) -> None:
        """``writer`` raised: stop writing to it. Its reader goes on to the EOF (what the
        relay sent before closing still arrives); the session's watch re-attaches, and that
        attach's ``detach`` closes it (it stays ``_link`` until then)."""
        log.debug("relay link closed for sending: %r", exc)
        if self._writer is writer:
            self._writer = None

    def _to_local(self, name: str, parts: list[Any]) -> None:
        """A reply (or heartbeat echo) to a client: written at once, never blocking (a
        message for a client that is gone is dropped, as libzmq's ROUTER did)."""
        self.send_local(name, parts)

    def _trim_pending(self, upto: int) -> None:
        while self._pending and self._pending[0][0] <= upto:
            self._pending.popleft()

    # ------------------------------------------------------------ kernel -> client

    def _from_remote(
        self, writer: RecordLink, kind: int, channel: int, seq: int, parts: list[Any]
    ) -> None:
        """One record from the relay, as the SSH packet completing it arrives (called by
        ``writer``, the link: ``ssh/record_link.py``). Each kind is checked first
        (``relay_records.py``): an exception here would end the link (review s28)."""
        if kind == MSG:
            if seq <= self.last_in:
                return  # resent after a reconnect: already delivered
            self.last_in = seq
            problem = msg_problem(channel, parts)
            if problem is not None:  # numbered (the relay's seq, as any MSG's), dropped
                self._refused("MSG", problem)
            elif channel == IOPUB:  # most messages
                self.publish(parts)
            else:
                if RELAYED[channel] == "control" and is_shutdown_reply(parts):
                    self.shutdown_replied = True
                self._to_local(RELAYED[channel], parts)
            if self.last_in - self._acked_in >= ACK_BATCH:
                self._ack(writer)
        elif kind == ACK:
            problem = ack_problem(seq, self._written_out)
            if problem is None:
                self._trim_pending(seq)
            else:  # ignored: no request the relay may not have is dropped
                self._refused("ACK", problem)
        elif kind == HB:
            problem = hb_problem(parts)
            if problem is None:
                self._to_local("hb", parts)
            else:
                self._refused("HB", problem)
        elif kind == GAP:
            self._from_gap(seq, parts)
        else:  # HELLO again, INFO, CLAIM, or no kind of ours
            self._refused(f"record of kind {kind}", "not one the relay sends after HELLO")

    def _from_gap(self, seq: int, parts: list[Any]) -> None:
        """A GAP record (``_from_remote``), checked by ``relay_records.gap_record``: told
        (once per seq: a resent one is not) and numbered to its last seq; a malformed one
        is numbered as its own seq alone and told as such (review s28), and a GAP for
        replies whose reply fields alone are wrong is told as a plain GAP (s27 F1)."""
        gap, problem = gap_record(seq, parts)
        if gap is None:
            if seq <= self.last_in:
                return  # resent after a reconnect: already told
            self.last_in = seq
            self._refused("GAP", f"{problem}; told as a malformed GAP")
            self._gap_teller.tell(dict(MALFORMED), gap_parent(parts), [])
            return
        last = seq + gap.info["count"] - 1
        if last <= self.last_in:
            return  # resent after a reconnect: already told (as a MSG above)
        info = gap_told(gap.info, seq, self.last_in)
        if gap.answers:  # each reply's request answered once (review s27 F3)
            gap.answers = [answer for answer in gap.answers if answer.seq > self.last_in]
        self.last_in = last
        if problem is not None:
            self._refused("GAP for replies", problem)  # review s27 F1, F3
        self._gap_teller.tell(info, gap.parent, gap.idents, gap.answers)

    def _refused(self, what: str, problem: str) -> None:
        """A record from the relay not used as sent (``relay_records.py``): a WARNING naming
        what was wrong (the first 10, then the 2**n-th: a relay may send them in a loop)."""
        self.malformed += 1
        if self.malformed <= 10 or not self.malformed & (self.malformed - 1):
            log.warning(
                "relay sent a malformed %s (%d so far): %s",
                what,
                self.malformed,
                printable(problem)[:300],
            )

    def _link_ended(self, writer: RecordLink, exc: BaseException | None) -> None:
        """The link ended (end of stream, or ``exc``): the session's watch re-attaches (its
        ``detach`` closes what is left of the channel: a half-closed one, say)."""
        log.debug("relay link ended: %r", exc)
        if self._writer is writer:
            self._writer = None

    def _ack(self, writer: Any) -> None:
        if self._acked_in != self.last_in and writer is self._writer:
            try:
                writer.write(encode_record(ACK, 0, self.last_in))
            except OSError as exc:
                self._unwritable(writer, exc)
                return
            self._acked_in = self.last_in

    async def _acker(self, writer: Any) -> None:
        """Acknowledges what arrived every ACK_EVERY s while attached."""
        while True:
            await asyncio.sleep(ACK_EVERY)
            self._ack(writer)

    def close(self) -> None:
        """End of the session (``LocalChannels.close``); a GAP summary still due is dropped."""
        self._gap_teller.close()
        super().close()
