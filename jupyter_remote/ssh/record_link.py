"""A kernel's relay link read as records, pushed from asyncssh's ``data_received``.

Opened by :meth:`RelayedChannels.attach` (``kernels/relay_link.py``) after each
(re)connect, over the same three kinds of stream as :func:`ssh.streams.open_stream`: a
unix-socket forward, a TCP forward, or a connector's stdin/stdout (:class:`ExecTarget`,
whose answer line comes first). Each decrypted SSH packet goes straight into a
:class:`RecordParser` (``remote/protocol.py``); the records it completes are handed to the
consumer in the same call: no reader task woken, no future, no chunk joined per read
(issue 17 item 3; bench/analysis.md). Until :meth:`RecordLink.deliver` names the consumer
(the greeting is read first, with :meth:`RecordLink.next`), records wait in order.

The first record is bounded by ``max_first`` (the relay's greeting), the rest by
``max_record``, raised only by :meth:`RecordLink.deliver`, which the consumer calls once
it has proven the greeting (review s24 F3): until then nothing after the greeting is
parsed (the channel stops reading; what came with the greeting waits unparsed). A record
out of bounds, a malformed one, or one the consumer fails on
ends the link (the channel is closed; the consumer's ``on_end`` says why), as does the
end of the stream (a record cut short is dropped: the relay resends it on the next
attach).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Any

import asyncssh

from ..remote.protocol import RecordParser
from .streams import RELAY_WINDOW, STDERR_KEEP, ExecTarget, find_answer, no_answer, refused

#: SSH packet size we offer the relay's side (asyncssh's default is 32 KiB; OpenSSH's
#: sshd reads at most 32 KiB from a socket per packet (CHANNEL_MAX_READ) anyway)
RELAY_PKTSIZE = 32 * 1024

Record = tuple[int, int, int, list[Any]]
OnRecord = Callable[[int, int, int, list[Any]], None]
OnEnd = Callable[[BaseException | None], None]


class RecordLink(asyncssh.SSHClientSession[bytes]):
    """asyncssh's session object of one relay link, and the writer of its records (an
    exec session's, a TCP or unix-socket forward's: the base gives what those add, e.g.
    an exit status, which ends nothing here: the stream's end does)."""

    def __init__(self, max_first: int, max_record: int, connector: str | None = None) -> None:
        self._parser = RecordParser(self._first, max_first)
        self._max_record = max_record
        self._queue: deque[Record] = deque()  # records before the consumer is named
        self._on_record: OnRecord | None = None
        self._on_end: OnEnd | None = None
        self._ended = False
        self._error: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._chan: Any = None
        #: a connector's stdout before its answer line is whole (None: records from byte 0)
        self._preamble: bytes | None = b"" if connector is not None else None
        self._where = connector or ""
        self._answer: asyncio.Future[tuple[dict[str, Any], bytes]] | None = None
        if connector is not None:
            self._answer = asyncio.get_running_loop().create_future()
        self._stderr = b""

    # ------------------------------------------------------------ asyncssh's session calls

    def connection_made(self, chan: Any) -> None:
        self._chan = chan

    def session_started(self) -> None:
        """asyncssh: an exec session's command was accepted."""

    def data_received(self, data: bytes, datatype: Any) -> None:
        """asyncssh: one packet of the stream (stderr of a connector: its last words)."""
        if datatype is not None:
            self._stderr = (self._stderr + data)[-STDERR_KEEP:]
        elif self._preamble is not None:
            self._before_answer(data)
        elif not self._ended:
            try:
                self._parser.feed(data)
            except Exception as exc:  # out of bounds, malformed, or the consumer failed
                self._fail(exc)

    def eof_received(self) -> bool:
        self._end(None)
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._end(exc)

    def pause_writing(self) -> None:
        """asyncssh: the peer's window is full (writes buffer, as SSHWriter's did)."""

    def resume_writing(self) -> None:
        """asyncssh: the peer's window opened again."""

    # ------------------------------------------------------------ records

    def _first(self, kind: int, channel: int, seq: int, parts: list[Any]) -> None:
        """The greeting, bounded by ``max_first``. Nothing after it is parsed (nor a length
        believed at ``max_record``) before :meth:`deliver`: the parser holds the rest of
        this packet and the channel stops reading (asyncssh keeps the rest within the
        window, as the stream reader did before)."""
        self._parser.on_record = self._record
        self._parser.hold()
        if self._chan is not None:
            self._chan.pause_reading()
        self._record(kind, channel, seq, parts)

    def _record(self, kind: int, channel: int, seq: int, parts: list[Any]) -> None:
        if self._on_record is not None:
            self._on_record(kind, channel, seq, parts)
        elif not self._ended:
            self._queue.append((kind, channel, seq, parts))
            self._wake()

    def _end(self, exc: BaseException | None) -> None:
        if self._ended:
            return
        self._ended = True
        if exc is None and self._parser.partial:
            exc = EOFError("the relay link ended inside a record")
        self._error = exc
        if self._answer is not None and not self._answer.done():
            self._answer.set_exception(exc or EOFError())
        self._wake()
        on_end, self._on_end = self._on_end, None
        if on_end is not None and self._on_record is not None:
            on_end(exc)

    def _fail(self, exc: BaseException) -> None:
        """The link cannot go on: closed, and its consumer (or :meth:`next`, after the
        records that came before) told why."""
        self._chan.close()
        self._end(exc)

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def next(self) -> Record | None:
        """The next record before :meth:`deliver` (the greeting), None at end of stream;
        raises ValueError for a record out of bounds (``RecordReader.next``'s contract)."""
        while not self._queue:
            if self._ended:
                if isinstance(self._error, ValueError):
                    raise self._error
                return None
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
        return self._queue.popleft()

    def deliver(self, on_record: OnRecord, on_end: OnEnd) -> None:
        """From now on each record goes to ``on_record`` as its last byte arrives (those
        waiting first, in order), and the link's end to ``on_end`` (once)."""
        self._on_record, self._on_end = on_record, on_end
        self._parser.max_record = self._max_record  # the greeting was proven: records
        try:
            while self._queue and self._on_record is not None:
                on_record(*self._queue.popleft())
            self._parser.release()  # what came with the greeting, parsed now
        except Exception as exc:
            self._fail(exc)
            return
        if not self._ended:
            self._chan.resume_reading()
        ended = self._on_end
        if self._ended and ended is not None:  # it ended while the greeting was read
            self._on_end = None
            ended(self._error)

    # ------------------------------------------------------------ writer

    def write(self, data: bytes) -> None:
        """Write a record (raises BrokenPipeError once the channel is closing)."""
        self._chan.write(data)

    def close(self) -> None:
        """Close the channel; no record is delivered after this, nor the end."""
        self._on_record = self._on_end = None
        self._ended = True
        self._queue.clear()
        self._wake()
        if self._answer is not None and not self._answer.done():
            self._answer.set_exception(EOFError())
        if self._chan is not None:
            self._chan.close()

    # ------------------------------------------------------------ a connector's answer

    def _before_answer(self, data: bytes) -> None:
        """A connector's stdout until its answer line is whole; what follows is records."""
        assert self._preamble is not None and self._answer is not None
        self._preamble += data
        try:
            found = find_answer(self._preamble, self._where)
        except Exception as exc:
            self._preamble = None
            if not self._answer.done():
                self._answer.set_exception(exc)
            return
        if found is not None:
            self._preamble = None
            if not self._answer.done():
                self._answer.set_result(found)
            if found[1]:
                self.data_received(found[1], None)

    async def connector_answer(self) -> dict[str, Any]:
        """The connector's answer (what followed its line is parsed as records)."""
        assert self._answer is not None
        try:
            answer, _rest = await self._answer
        except EOFError:
            await asyncio.sleep(0.1)  # let stderr's last words arrive
            text = self._stderr.decode("utf-8", "replace").strip()
            raise no_answer(self._where, text) from None
        return answer


async def open_record_link(
    conn: Any,
    target: str | int | ExecTarget,
    *,
    max_first: int,
    max_record: int,
    window: int = RELAY_WINDOW,
    max_pktsize: int = RELAY_PKTSIZE,
) -> RecordLink:
    """A :class:`RecordLink` to ``target`` (a unix socket path, a port of the remote's
    127.0.0.1, or an :class:`ExecTarget`). Raises what the connection raises, or
    RemoteCommandError when a connector answers that it cannot."""
    link = RecordLink(
        max_first, max_record, target.where if isinstance(target, ExecTarget) else None
    )
    options = {"encoding": None, "window": window, "max_pktsize": max_pktsize}
    if isinstance(target, int):
        await conn.create_connection(lambda: link, "127.0.0.1", target, **options)
        return link
    if isinstance(target, str):
        await conn.create_unix_connection(lambda: link, target, **options)
        return link
    await conn.create_session(lambda: link, target.command, **options)
    try:
        link.write(target.stdin)
        answer = await link.connector_answer()
        if (error := refused(answer)) is not None:
            raise error
    except BaseException:
        link.close()
        raise
    return link
