"""The relay link's push parser (remote/protocol.py RecordParser) and the link around it
(ssh/record_link.py RecordLink): every way a stream of records can arrive in chunks
gives the same records as RecordReader, with its bounds, holding about a byte per byte
however small the chunks; the link's order of records before and after its consumer is
named, its first record's bound (kept until the greeting is proven), and its end."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import struct
import tracemalloc
from typing import Any

import pytest

from jupyter_remote.kernels.relay_hello import RelayNotProvenError
from jupyter_remote.remote.protocol import (
    BIG_PART,
    GAP,
    HELLO,
    MSG,
    RecordParser,
    RecordReader,
    encode_record,
)
from jupyter_remote.ssh.record_link import RecordLink
from tests.test_relay import (
    UnixLink,
    greeting,
    hostile_relay,
    relayed_channels,
    until_hang_up,
)

BIG = bytes(range(256)) * (3 * 1024 * 1024 // 256)  # a 3 MB part


def _records() -> list[tuple[int, int, int, list[bytes]]]:
    return [
        (HELLO, 0, 0, [b'{"epoch": "e"}']),
        (MSG, 3, 1, [b"<IDS|MSG>", b"sig", b"{}", b"{}", b"{}", b""]),
        (MSG, 3, 2, []),
        (MSG, 3, 3, [BIG, b"tail"]),
        (MSG, 0, 4, [b"x" * (BIG_PART - 1), b"y" * BIG_PART]),
        (GAP, 0, 5, [b'{"count": 1}']),
    ]


def _plain(record: Any) -> tuple[int, int, int, list[bytes]]:
    kind, channel, seq, parts = record
    return kind, channel, seq, [bytes(p) for p in parts]


def _parse(chunks: list[bytes], max_record: int = 1 << 31) -> tuple[list[Any], RecordParser]:
    got: list[Any] = []
    parser = RecordParser(lambda *record: got.append(record), max_record)
    for chunk in chunks:
        parser.feed(chunk)
    return got, parser


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    edges = [0, *sorted(set(cuts)), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges) if b > a]


def _boundaries(data: bytes) -> list[int]:
    """Every boundary class of every record: inside its length, at its head, inside its
    part-length table, each part's first and last byte, the middle of a big part."""
    cuts, pos = [], 0
    for kind, channel, seq, parts in _records():
        size = len(encode_record(kind, channel, seq, parts))
        table = pos + 4 + 12
        cuts += [pos + 1, pos + 2, pos + 3, pos + 4, pos + 5, table, table + 2]
        offset = table + 4 * len(parts)
        for part in parts:
            cuts += [offset - 1, offset, offset + 1, offset + len(part) // 2]
            offset += len(part)
        pos += size
        assert offset == pos
    return [c for c in cuts if 0 < c < len(data)]


def test_every_split_of_the_stream_gives_the_same_records() -> None:
    records = _records()
    data = b"".join(encode_record(*r) for r in records)
    expected = [_plain(r) for r in records]
    for cut in _boundaries(data):  # one cut at each boundary
        got, parser = _parse(_split(data, [cut]))
        assert [_plain(r) for r in got] == expected, cut
        assert not parser.partial
    cuts = _boundaries(data)  # all of them at once: many pieces of one record
    got, _ = _parse(_split(data, cuts))
    assert [_plain(r) for r in got] == expected
    for size in (1, 3, 7, 4096, 32 * 1024, 1 << 20):  # fixed-size packets
        got, _ = _parse([data[i : i + size] for i in range(0, len(data), size)])
        assert [_plain(r) for r in got] == expected, size


def test_small_stream_every_cut_and_byte_by_byte() -> None:
    records = [r for r in _records() if sum(map(len, r[3])) < 1000]
    data = b"".join(encode_record(*r) for r in records)
    expected = [_plain(r) for r in records]
    for cut in range(1, len(data)):
        got, _ = _parse(_split(data, [cut]))
        assert [_plain(r) for r in got] == expected, cut
    got, _ = _parse([data[i : i + 1] for i in range(len(data))])
    assert [_plain(r) for r in got] == expected


def test_parts_are_bytes_or_views_of_one_buffer() -> None:
    data = encode_record(MSG, 3, 1, [b"small", BIG])
    for chunks in ([data], _split(data, [100, 40_000, 2_000_000])):
        (record,), _ = _parse(chunks)
        small, big = record[3]
        assert type(small) is bytes and small == b"small"
        assert isinstance(big, memoryview) and big == BIG


def test_same_records_as_record_reader() -> None:
    data = b"".join(encode_record(*r) for r in _records())

    class Chunks:
        def __init__(self) -> None:
            self.pieces = _split(data, _boundaries(data))

        async def read(self, n: int) -> bytes:
            return self.pieces.pop(0) if self.pieces else b""

    async def read_all() -> list[Any]:
        reader, out = RecordReader(Chunks()), []
        while (record := await reader.next()) is not None:
            out.append(_plain(record))
        return out

    got, _ = _parse(_split(data, [5, 77_777, 3_000_001]))
    assert [_plain(r) for r in got] == asyncio.run(read_all())


@pytest.mark.parametrize("cut", [0, 1, 2, 3, 4])
def test_lengths_out_of_bounds_raise(cut: int) -> None:
    too_short = (5).to_bytes(4, "big") + b"\0" * 5  # shorter than a record head
    too_long = encode_record(MSG, 0, 1, [b"z" * 2000])
    for data, limit in ((too_short, 1 << 31), (too_long, 1000)):
        with pytest.raises(ValueError):
            _parse(_split(data, [cut]) if cut else [data], max_record=limit)


def test_malformed_part_lengths_raise_whole_or_split() -> None:
    good = bytearray(encode_record(MSG, 0, 1, [b"abc", b"defg"]))
    good[4 + 12 + 3] += 1  # first part 4 bytes: the parts no longer fill the record
    for chunks in ([bytes(good)], _split(bytes(good), [9])):
        with pytest.raises(ValueError):
            _parse(chunks)


def test_on_record_sets_the_bound_of_the_next_record() -> None:
    data = encode_record(HELLO, 0, 0, [b"hi"]) + encode_record(MSG, 0, 1, [b"m" * 5000])
    got: list[Any] = []

    def first(*record: Any) -> None:
        got.append(record)
        parser.max_record = 1 << 20

    parser = RecordParser(first, max_record=100)
    parser.feed(data)
    assert len(got) == 2
    with pytest.raises(ValueError):
        RecordParser(lambda *r: None, max_record=100).feed(data)


def test_end_of_stream_inside_a_record_is_partial() -> None:
    data = encode_record(MSG, 0, 1, [b"a"]) + encode_record(MSG, 0, 2, [BIG])
    for cut in (len(data) - 1, len(data) - len(BIG), 2 + len(encode_record(MSG, 0, 1, [b"a"]))):
        got, parser = _parse([data[:cut]])
        assert [r[2] for r in got] == [1]
        assert parser.partial


class _Channel:
    """What RecordLink calls on asyncssh's channel (its write, close and flow control)."""

    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.closed = False
        self.paused = 0

    def write(self, data: bytes) -> None:
        if self.closed:
            raise BrokenPipeError("closed")
        self.written.append(data)

    def close(self) -> None:
        self.closed = True

    def pause_reading(self) -> None:
        self.paused += 1

    def resume_reading(self) -> None:
        self.paused -= 1


def _link(max_first: int = 1000) -> tuple[RecordLink, _Channel]:
    link, chan = RecordLink(max_first, 1 << 30), _Channel()
    link.connection_made(chan)
    return link, chan


def test_link_keeps_order_across_the_greeting_and_ends_once() -> None:
    async def scenario() -> None:
        link, chan = _link()
        hello = encode_record(HELLO, 0, 0, [b"{}"])
        after = [encode_record(MSG, 3, n, [BIG if n == 2 else b"m"]) for n in (1, 2, 3)]
        link.data_received(hello + after[0] + after[1][:1000], None)
        first = await link.next()
        assert first is not None and first[0] == HELLO
        assert chan.paused == 1  # nothing after the greeting is parsed before deliver
        got: list[int] = []
        ends: list[Any] = []
        link.deliver(lambda k, c, seq, p: got.append(seq), ends.append)
        assert got == [1]  # waited for the consumer, in order
        assert chan.paused == 0
        link.data_received(after[1][1000:] + after[2], None)
        assert got == [1, 2, 3]
        link.eof_received()
        link.connection_lost(None)
        assert ends == [None] and not chan.closed

    asyncio.run(scenario())


def test_link_bounds_its_greeting_and_reports_the_cut() -> None:
    async def scenario() -> None:
        link, chan = _link(max_first=100)
        link.data_received(encode_record(HELLO, 0, 0, [b"x" * 200]), None)
        with pytest.raises(ValueError):
            await link.next()
        assert chan.closed
        link, chan = _link()
        link.data_received(encode_record(HELLO, 0, 0, [b"{}"]), None)
        await link.next()
        ends: list[Any] = []
        link.deliver(lambda *r: None, ends.append)
        link.data_received(encode_record(MSG, 3, 1, [b"abc"])[:-1], None)
        link.eof_received()
        assert len(ends) == 1 and isinstance(ends[0], EOFError)

    asyncio.run(scenario())


def test_link_closes_when_its_consumer_fails() -> None:
    async def scenario() -> None:
        link, chan = _link()
        link.data_received(encode_record(HELLO, 0, 0, [b"{}"]), None)
        await link.next()
        ends: list[Any] = []
        got: list[int] = []

        def consume(kind: int, channel: int, seq: int, parts: Any) -> None:
            if seq == 2:
                raise ValueError("bad GAP")
            got.append(seq)

        link.deliver(consume, ends.append)
        link.data_received(b"".join(encode_record(MSG, 3, n, [b"m"]) for n in (1, 2, 3)), None)
        assert got == [1] and chan.closed
        assert len(ends) == 1 and isinstance(ends[0], ValueError)
        with pytest.raises(BrokenPipeError):
            link.write(b"x")

    asyncio.run(scenario())


def test_a_record_in_tiny_packets_holds_about_its_bytes() -> None:
    """Review s24 F2: a record spread over chunks kept a memoryview per chunk (~355 bytes
    per 1-byte SSH packet), so a hostile remote declaring 256 MiB and sending it a byte a
    packet made the Jupyter server hold ~90 GB. Small pieces are copied now: 1,000,000
    one- and two-byte chunks of a 64 MiB record hold under 4 MB beyond their 1.5 MB, and
    the record decodes whole once complete (the old code held ~350 MB here)."""
    body = bytes(range(256)) * (64 * 1024 * 1024 // 256)
    record = encode_record(MSG, 3, 7, [b"head", body])
    got: list[Any] = []
    parser = RecordParser(lambda *r: got.append(r))
    pos = 0
    tracemalloc.start()
    try:
        for size in itertools.islice(itertools.cycle((1, 2)), 1_000_000):
            parser.feed(record[pos : pos + size])
            pos += size
        held, _peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert pos == 1_500_000 and not got and parser.partial
    assert held < 4_000_000 + pos, held
    for start in range(pos, len(record), 1 << 20):
        parser.feed(record[start : start + (1 << 20)])
    assert len(got) == 1 and not parser.partial
    kind, channel, seq, parts = got[0]
    assert (kind, channel, seq, bytes(parts[0])) == (MSG, 3, 7, b"head")
    assert bytes(parts[1]) == body


class _Watched(UnixLink):
    """UnixLink that keeps each RecordLink it opens (to look at its parser after)."""

    def __init__(self) -> None:
        self.links: list[RecordLink] = []

    async def create_unix_connection(self, factory: Any, path: str, **ssh_options: Any) -> Any:
        chan, session = await super().create_unix_connection(factory, path, **ssh_options)
        self.links.append(session)
        return chan, session


async def test_nothing_after_an_unproven_greeting_is_parsed() -> None:
    """Review s24 F3: the link raised its record bound to 256 MiB as soon as the greeting
    was parsed, before the greeting's proof was checked: an impostor at a kernel's old
    socket could follow its greeting with a record of 200 MiB, taken and buffered until
    the proof failed. Now nothing after the greeting is parsed before ``deliver`` (which
    follows the proof): the attach is refused, the link never took that length, and
    what it holds unparsed is what came with the greeting (one read: the channel stopped
    reading). On the old code the parser held the big record's first piece."""
    answer = {"epoch": "e", "start": 1, "last_in": 0}  # no proof
    hello = encode_record(HELLO, 0, 0, [json.dumps(answer).encode()])
    big = struct.pack("!I", 200 * 1024 * 1024) + bytes(1024 * 1024)

    async def impostor(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(65536)  # the HELLO
        writer.write(hello + big)
        with contextlib.suppress(Exception):
            await writer.drain()
            while await reader.read(65536):  # until the local side hangs up
                pass
        writer.close()

    channels, ssh = relayed_channels(), _Watched()
    async with hostile_relay(impostor, "unproven") as path:
        try:
            with pytest.raises(RelayNotProvenError):
                await channels.attach(ssh, path)
            assert not channels.attached
        finally:
            channels.close()
    (link,) = ssh.links
    assert not link._parser.partial  # the 200 MiB length was never taken
    assert link._parser._held is not None and len(link._parser._held) < 300 * 1024


async def test_detach_closes_a_link_that_could_no_longer_be_written() -> None:
    """Review s24 note: after a write to the link raised (``_unwritable``: the relay's
    CLOSE came first), the channels forgot the link, so ``detach`` (the next attach's
    first step) left that SSH channel open. It closes it now: the far end sees the
    hang-up (the old code never hung up)."""
    hung_up = asyncio.Event()

    async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raw_hello = await reader.read(65536)
        writer.write(greeting(raw_hello, start=1, last_in=0))
        await until_hang_up(reader, writer, hung_up)

    def closed_for_sending(data: bytes) -> None:
        raise BrokenPipeError("Channel not open for sending")

    channels = relayed_channels()
    async with hostile_relay(relay, "unwritable") as path:
        try:
            await channels.attach(UnixLink(), path)
            assert channels.attached
            channels._writer.write = closed_for_sending  # as asyncssh's after a CLOSE
            channels.from_client("hb", [b"ping"])  # the write raises: _unwritable
            assert not channels.attached
            await asyncio.sleep(0.2)
            assert not hung_up.is_set()  # the link is still read (to its EOF)
            channels.detach()
            await asyncio.wait_for(hung_up.wait(), 10)
        finally:
            channels.close()
