"""The relay's numbered buffer of what the kernel sent: runs ON the remote, part of the
agent script (before ``relay_kernel.py``; mixed into ``Relay``, ``relay.py``).

Every message the kernel sends gets the next number (``seq``) and is kept until the local
side acknowledges it, within ``bound`` bytes: over it, the oldest output (iopub) goes
(``_evict``). What is dropped leaves a note in its place, sent as a GAP record: a RUN
of evicted messages (one entry however many: first seq, count, bytes, one parent
header), or a message too long to relay (a "parts" GAP, ``_parts_gap``). Review s25 F2:
each evicted message left a placeholder of its own, with its whole parent header, and
"parts" GAPs were counted 0 bytes and never dropped, so a print loop with no client
reading grew the supervisor by ~433 bytes a message for ever while ``buf_bytes`` stayed
at the bound. Now every entry counts (ENTRY_COST beside its frames or parent), a parent
kept is at most PARENT_KEPT bytes, a run grows instead of adding entries, and an unsent
"parts" GAP takes the later drops of its cell.

A run ends where the cell (its parent header's msg_id) changes, so each cell's dropped
output gets its own GAP in that cell (until s26 a run carried its first message's
parent, often the previous cell's idle status: the notice showed one cell early). A
status message (busy, idle: no output to show) joins the run next to it, a run of
statuses alone takes the cell of the next message that is not one, and a run left of
statuses alone is sent with "statuses" (the laptop shows no notice for it); a cell's
reply not sent yet, read between its status and its output, is numbered after the
output that joins the run (``_run_before``). While the notes (runs and GAPs) cost over
a NOTES_SHARE-th of the bound, a new cell's drops join the run or GAP before them
instead (the GAP then names the earlier cell): a kernel publishing each message with a
new parent cannot grow the buffer either.

Replies (shell, control, stdin) are kept before any output, but not without end (review
s26 R2: a kernel sending replies unasked, with no client, grew the relay by every one):
while eviction may pass unsent entries (below), once the replies it passed and kept cost
over a REPLY_SHARE-th of the bound, a reply eviction passes is dropped as output is, into the
run before it (of its cell; any while the notes are over their share) or a run of its
own, which counts it in ``replies`` and keeps its ANSWER (``relay_answers.py``: its
request's msg_id, msg_type, session and its routing frames, for the laptop to answer that
request with an error reply; review s27 F3: a run kept its first reply's routing only,
and the laptop answered one request a run). So the oldest replies stay (the answers to
what was asked before the link dropped) and the newest (eviction reaches them last),
those between go.

Eviction passes unsent entries while no client is connected, and (review s27 F2) while
the pump waits for its client's link to take what it was handed (``stalled_since``: over
4 MiB queued, until at most ``relay_writer.DRAINED`` is left): the client reads more
slowly than the kernel writes. Until s29 such a client counted as absent only once one
wait lasted 5 s, so a link faster than 0.63 MB/s but slower than the kernel kept all it
had not sent, without bound. Now, over the bound, what the link was handed goes first
(sent, not yet acknowledged), then unsent output, oldest first (and unsent replies past
their share), and the pump sends a GAP in its place (count, bytes). A client that keeps up
never gets one: while the pump does not wait, nothing unsent is evicted.

Two lists: ``fresh``, entries as appended (a message or a GAP, one seq each, so seq
``s`` is at ``fresh_head + s - fresh[fresh_head][0]``), and ``buf``, what eviction has
passed (runs, and the replies and GAPs it keeps), found by bisection. Stdlib, Python
>= 3.8.
"""

import re
import sys
from typing import Any, Dict, List, Optional, Tuple

# <local-imports> removed when the script is sent: the parts before it define these
from jupyter_remote.remote.protocol import RELAYED
from jupyter_remote.remote.relay_answers import (
    ANSWER_COST,
    ANSWER_SHARE,
    ANSWERS_PER_RUN,
    answer_body,
)

# </local-imports>

DELIM = b"<IDS|MSG>"
#: bytes of a dropped message's parent header its GAP keeps (ipykernel's: ~300 B); a
#: longer one is the kernel's to size (up to the connection's max_message): not kept, the
#: GAP then names no cell (review s25 F1, F2)
PARENT_KEPT = 4096
#: bytes counted for each entry kept, beside its frames (a message) or its parent header
#: (a run, a GAP): the Python objects that hold it (review s25 F2)
ENTRY_COST = 256
#: a new cell's drops get an entry of their own while the notes cost at most
#: bound // NOTES_SHARE (1 MiB: ~230 cells; the 128 MiB default: ~30,000)
NOTES_SHARE = 8
#: replies not sent yet that a cell's dropped output may pass, to join its run (_run_before)
MAX_HOPS = 4
#: with no client, eviction drops the replies it passes once those it passed and kept cost
#: over bound // REPLY_SHARE (they then stay: review s26 R2; until s29 all replies held
#: counted, so a read that took thousands at once had the first eviction drop the oldest)
REPLY_SHARE = 2
#: a list's slots before its head are given back once this many and half of it
COMPACT_AT = 4096

# entries, by length: [seq, channel, frames, size] a message kept;
# [seq, channel, None, parent, info] a message not kept (a "parts" GAP, its own seq);
# [seq, channel, None, parent, count, bytes, cell, replies, answers] a run of evicted
# messages: seqs seq .. seq + count - 1, ``cell``: its parent's msg_id (``_cell``), None
# while the run holds statuses alone; ``replies`` of them not output (review s26 R2), then
# ``channel`` is the first one's and ``answers`` (None: none yet) a list of [seq, body] of
# the replies' answers kept (``relay_answers``, review s27 F3); ``behind``: some of it was
# dropped unsent while a client was connected (it read too slowly: review s27 F2)
GAP_LEN, RUN_LEN = 5, 10


def _gap_parent(head: List[Any]) -> bytes:
    """The parent header a GAP carries for a message dropped (``head``: its first frames,
    ``zmtp_discard.HEAD_KEPT``, or all of them): at most PARENT_KEPT bytes, else b"{}"."""
    try:
        frame = head[head.index(DELIM) + 3]
    except (ValueError, IndexError):
        return b"{}"
    return bytes(frame) if len(frame) <= PARENT_KEPT else b"{}"


_MSG_ID = re.compile(rb'"msg_id"\s*:\s*"([^"\\]*)"')
_STATUS = re.compile(rb'"msg_type"\s*:\s*"status"')


def _cell(parent: bytes) -> bytes:
    """The cell a parent header names: its msg_id (the same cell's messages may order its
    keys differently), else the whole header."""
    match = _MSG_ID.search(parent)
    return match.group(1) if match else parent


def _is_status(frames: List[Any]) -> bool:
    """A status message (busy, idle...): what a run may take whatever its parent."""
    try:
        header = frames[frames.index(DELIM) + 2]
    except (ValueError, IndexError):
        return False
    return _STATUS.search(header) is not None  # the type, not the word anywhere (review s26 R3)


def _seqs(entry: List[Any]) -> int:
    """How many seqs ``entry`` stands for."""
    return entry[4] if len(entry) == RUN_LEN else 1


def _cost(entry: List[Any]) -> int:
    """What ``entry`` counts in ``buf_bytes``."""
    if entry[2] is not None:
        return entry[3] + ENTRY_COST
    if len(entry) == RUN_LEN and entry[8]:
        return len(entry[3]) + ENTRY_COST + _answers_cost(entry[8])
    return len(entry[3]) + ENTRY_COST


def _answers_cost(answers: List[Any]) -> int:
    """What a run's answers (``[seq, body]`` each) count in ``buf_bytes``."""
    return sum(len(answer[1]) + ANSWER_COST for answer in answers)


class BufferSide:
    """The numbered buffer (a mixin: the state is Relay's, set by ``_init_buffer``)."""

    bound: int
    next_send: int
    client: Any
    stalled_since: float
    wake: Any  # asyncio.Event: the pump's

    def _init_buffer(self) -> None:
        """``Relay.__init__``: an empty buffer, numbering from 1."""
        self.buf: List[Any] = []  # passed by eviction: runs, and the replies and GAPs it keeps
        self.head = 0  # index of the first unacknowledged entry in buf
        self.fresh: List[Any] = []  # as appended, not yet passed by eviction: one seq each
        self.fresh_head = 0
        self.first_seq = 1  # the first unacknowledged seq
        self.seq = 0
        self.buf_bytes = 0  # every entry held: frames or parent, + ENTRY_COST each
        self.notes_bytes = 0  # of these, the runs' and GAPs'
        self.reply_bytes = 0  # of these, the replies' kept (shell, control, stdin messages)
        #: of these, those eviction passed and kept (in ``buf``): at most bound // REPLY_SHARE
        self.passed_reply_bytes = 0
        self.answer_bytes = 0  # of these, the answers kept of replies dropped (review s27 F3)
        self.unanswered = 0  # shell/control replies dropped past the answers' cap
        #: a reply was dropped since the client's last ACK or HELLO: eviction drops every
        #: reply it passes (the oldest kept stay together, before the runs: review s26 R2)
        self.dropping_replies = False
        self.open_gap: Dict[
            int, List[Any]
        ] = {}  # channel -> its last "parts" GAP (later drops join it unsent)

    def _append_message(self, channel: int, frames: List[Any]) -> Optional[List[Any]]:
        """A message the kernel sent (``Relay._append``): numbered and kept; evicts over
        the bound. Returns its entry, or None if it was evicted at once."""
        self.seq += 1
        size = sum(len(f) for f in frames)
        entry = [self.seq, channel, frames, size]
        self.fresh.append(entry)
        self.buf_bytes += size + ENTRY_COST
        if channel != RELAYED.index("iopub"):
            self.reply_bytes += size + ENTRY_COST
        if self.buf_bytes > self.bound:
            self._evict()
            if self.fresh_head >= len(self.fresh) or self.fresh[-1] is not entry:
                return None
        return entry

    def _parts_gap(
        self, channel: int, parent: bytes, messages: int, nbytes: int, frames: int
    ) -> None:
        """``messages`` dropped for their length (``KernelSide._oversized``,
        ``_early_gap``): a GAP in their place. While the channel's last such GAP is not
        sent yet (no client reads, or the pump has not run) and is of the same cell, it
        counts these too, whatever was kept since (review s24 F7, s25 F2: one entry, not
        one a drop); "count" stays 1, the GAP's own number."""
        last = self.open_gap.get(channel)
        over = self.notes_bytes > self.bound // NOTES_SHARE
        same = last is not None and _cell(last[3]) == _cell(parent)
        if last is not None and last[0] >= self.next_send and (same or over):
            info = last[4]
            info["messages"] = info.get("messages", 1) + messages
            info["bytes"] += nbytes
            info["parts"] += frames
            return
        # "bound" as the evicted kind's: a laptop before s24 formats info["bound"] for
        # every GAP (a KeyError there ended its link)
        info = {"count": 1, "bytes": nbytes, "bound": self.bound, "parts": frames}
        info["reason"] = "parts"
        if messages > 1:
            info["messages"] = messages
        self.seq += 1
        entry = self.open_gap[channel] = [self.seq, channel, None, parent, info]
        self.fresh.append(entry)
        cost = len(parent) + ENTRY_COST
        self.buf_bytes += cost
        self.notes_bytes += cost
        if self.buf_bytes > self.bound:
            self._evict()
        self.wake.set()

    def _evict(self) -> None:
        """Over the bound: drop the oldest output until under it.

        With a client that keeps up, only what it was already sent goes (it is just
        not acknowledged yet); with none, or one the pump waits for (``stalled_since``:
        its link has more than ``relay_writer.DRAINED`` queued, review s27 F2), unsent
        output goes too, and replies once those it kept cost over bound // REPLY_SHARE:
        with no client any, with one the pump waits for those not sent yet (what its link
        was handed reaches it if the link lives, and the link holds their frames anyway);
        else a reply is never dropped. The pump sends a GAP in place of what went."""
        iopub = RELAYED.index("iopub")
        absent = self.client is None
        behind = absent or self.stalled_since != 0
        stop = self.seq + 1 if behind else self.next_send
        replies_from = 0 if absent else self.next_send if behind else stop
        fresh = self.fresh
        while self.buf_bytes > self.bound and self.fresh_head < len(fresh):
            entry = fresh[self.fresh_head]
            if entry[0] >= stop:
                break
            fresh[self.fresh_head] = None
            self.fresh_head += 1
            if entry[2] is None:
                self.buf.append(entry)
            elif entry[1] == iopub:
                self._drop(entry)
            elif entry[0] >= replies_from and (
                self.dropping_replies
                or self.passed_reply_bytes + entry[3] + ENTRY_COST > self.bound // REPLY_SHARE
            ):
                self.dropping_replies = True
                self._drop(entry)
            else:  # a reply kept: the oldest stay, up to their share
                self.buf.append(entry)
                self.passed_reply_bytes += entry[3] + ENTRY_COST
        if self.fresh_head > COMPACT_AT and self.fresh_head * 2 > len(fresh):
            del fresh[: self.fresh_head]
            self.fresh_head = 0

    def _drop(self, entry: List[Any]) -> None:
        """``_evict``: ``entry``, an output message or a reply, into the run before it (of
        the same cell, or either a status; on the same side of ``next_send``) or a run of
        its own; a reply's answer is kept in its run (``_keep_answer``)."""
        seq, channel, frames, size = entry
        self.buf_bytes -= size + ENTRY_COST
        reply = channel != RELAYED.index("iopub")
        if reply:
            self.reply_bytes -= size + ENTRY_COST
        parent = _gap_parent(frames)
        cell = None if not reply and _is_status(frames) else _cell(parent)
        run, hops = self._run_before(seq, hop=not reply)  # a reply passes none: their order
        over = self.notes_bytes > self.bound // NOTES_SHARE
        behind = self.client is not None and seq >= self.next_send
        if run is not None and (cell is None or over or run[6] is None or run[6] == cell):
            if cell is not None and run[6] is None:  # statuses so far: this cell's run now
                change = len(parent) - len(run[3])
                self.buf_bytes += change
                self.notes_bytes += change
                run[3], run[6] = parent, cell
            for kept in hops:  # replies not sent yet go after it (see _run_before)
                kept[0] += 1
            run[4] += 1
            run[5] += size
            run[9] = run[9] or behind
        else:
            run = [seq, channel, None, parent, 1, size, cell, 0, None, behind]
            self.buf.append(run)
            cost = len(parent) + ENTRY_COST
            self.buf_bytes += cost
            self.notes_bytes += cost
        if reply:
            if not run[7]:  # the run's first reply: its channel (the GAP's "channel")
                run[1] = channel
            run[7] += 1
            self._keep_answer(run, seq, channel, parent, frames)

    def _keep_answer(
        self, run: List[Any], seq: int, channel: int, parent: bytes, frames: List[Any]
    ) -> None:
        """``_drop``: a reply's answer (``relay_answers.answer_body``: its own request's
        header fields and routing) kept in ``run``, counted in ``buf_bytes`` and
        ``answer_bytes``; none for a stdin message, a parent that is no request, or a
        repeat of the run's last answer (one request answered many times); past
        ANSWERS_PER_RUN in the run or bound // ANSWER_SHARE in all, none either: counted
        in ``unanswered`` and logged (its request stays waiting)."""
        body = answer_body(channel, parent, frames)
        if body is None or (run[8] and run[8][-1][1] == body):
            return
        cost = len(body) + ANSWER_COST
        full = run[8] is not None and len(run[8]) >= ANSWERS_PER_RUN
        if full or self.answer_bytes + cost > self.bound // ANSWER_SHARE:
            self.unanswered += 1
            if self.unanswered <= 10 or not self.unanswered & (self.unanswered - 1):
                sys.stderr.write(
                    "jupyter-remote: relay: %d dropped replies past the cap of answers kept: "
                    "their requests get no error reply\n" % self.unanswered
                )
            return
        if run[8] is None:
            run[8] = []
        run[8].append([seq, body])
        self.buf_bytes += cost
        self.answer_bytes += cost

    def _run_before(self, seq: int, hop: bool = True) -> Tuple[Optional[List[Any]], List[Any]]:
        """``_drop``: the run that ``seq`` may join, and the entries after it to number one
        later if it does: the run right before ``seq``, on the same side of ``next_send``,
        or (``hop``: output) one before at most MAX_HOPS replies (shell, control, stdin
        messages kept) not sent yet, which then go after ``seq`` (the relay reads each
        channel on its own: a reply is often between a cell's busy status and its output,
        and would split its run in two GAPs; no order holds between channels, and none is
        sent yet)."""
        buf, at = self.buf, len(self.buf) - 1
        unsent = seq >= self.next_send
        if unsent and hop:
            while at >= self.head and len(buf) - 1 - at < MAX_HOPS and self._unsent_reply(buf[at]):
                at -= 1
        if at < self.head or len(buf[at]) != RUN_LEN:
            return None, []
        run = buf[at]
        if (run[0] >= self.next_send) != unsent or run[0] + run[4] + len(buf) - 1 - at != seq:
            return None, []
        return run, buf[at + 1 :]

    def _unsent_reply(self, entry: List[Any]) -> bool:
        """``entry`` is a message kept of another channel than iopub, not sent yet."""
        kept = entry[2] is not None and entry[1] != RELAYED.index("iopub")
        return kept and entry[0] >= self.next_send

    def _entry_at(self, seq: int) -> List[Any]:
        """The entry holding ``seq`` (``Relay._pump``; first_seq <= seq <= self.seq)."""
        fresh = self.fresh
        if self.fresh_head < len(fresh):
            first = fresh[self.fresh_head][0]
            if seq >= first:
                return fresh[self.fresh_head + seq - first]
        buf, lo, hi = self.buf, self.head, len(self.buf)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if buf[mid][0] <= seq:
                lo = mid
            else:
                hi = mid
        return buf[lo]

    def _trim(self, upto: int) -> None:
        """The client has everything up to ``upto`` (its ACK, its HELLO): forget it."""
        self.dropping_replies = False
        self.head = self._forget(self.buf, self.head, upto)
        self.fresh_head = self._forget(self.fresh, self.fresh_head, upto)
        if self.head < len(self.buf):
            self.first_seq = self.buf[self.head][0]
        elif self.fresh_head < len(self.fresh):
            self.first_seq = self.fresh[self.fresh_head][0]
        else:
            self.first_seq = self.seq + 1

    def _forget(self, entries: List[Any], at: int, upto: int) -> int:
        """``_trim`` of one list from its head ``at``; returns the new head. A run the
        client has in part (a link that died with output sent, then evicted) keeps the
        rest, its bytes in proportion."""
        while at < len(entries) and entries[at][0] <= upto:
            entry = entries[at]
            left = entry[0] + _seqs(entry) - 1 - upto
            if left > 0:
                entry[5] = entry[5] * left // entry[4]
                entry[0], entry[4], entry[7] = upto + 1, left, min(entry[7], left)
                if entry[8]:  # the answers of replies the client has: theirs
                    self._forget_answers(entry, upto)
                break
            cost = _cost(entry)
            self.buf_bytes -= cost
            if len(entry) == RUN_LEN and entry[8]:
                answers = _answers_cost(entry[8])
                self.answer_bytes -= answers
                cost -= answers
            if entry[2] is None:
                self.notes_bytes -= cost
            elif entry[1] != RELAYED.index("iopub"):
                self.reply_bytes -= cost
                if entries is self.buf:
                    self.passed_reply_bytes -= cost
            entries[at] = None
            at += 1
        if at > COMPACT_AT and at * 2 > len(entries):
            del entries[:at]
            at = 0
        return at

    def _forget_answers(self, run: List[Any], upto: int) -> None:
        """``_forget``: a run the client has up to ``upto`` keeps the answers after it."""
        gone = [answer for answer in run[8] if answer[0] <= upto]
        run[8] = [answer for answer in run[8] if answer[0] > upto]
        cost = _answers_cost(gone)
        self.buf_bytes -= cost
        self.answer_bytes -= cost

    def _held(self) -> int:
        """Entries held (``Relay.info``)."""
        return len(self.buf) - self.head + len(self.fresh) - self.fresh_head
