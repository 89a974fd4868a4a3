"""The bytes a tuned SSH connection has read and not yet parsed, without copies per packet.

The ``_inpbuf`` of ``recv_path.ReceivingConnection`` (the pool's connections, on a verified
asyncssh). Reads land in it straight from the socket (``get_buffer``/``written``: asyncio's
``BufferedProtocol``, no ``bytes`` object made per read) or, on a transport that hands
``bytes`` (a jump host's tunnel), are copied in once (``extend``). ``recv_path`` decrypts
AES-GCM packets straight out of ``data[start:end]`` and moves ``start`` on; nothing is
copied per packet.

asyncssh's own receive code (its version line; packets under ciphers other than AES-GCM)
treats the attribute as ``bytes``, and this answers those operations: ``len``, truth,
``find``, a bounded slice (``buf[a:b]``: ``bytes``, as before), and the open-ended slice
with which asyncssh drops what it parsed (``self._inpbuf = self._inpbuf[n:]``): that
*consumes* n bytes and returns the buffer itself, which asyncssh stores back.

The bytes live in ``data`` (a bytearray whose length is its capacity, never resized in
place: asyncio may still hold a view of it), ``data[start:end]`` unparsed. When less than
``MIN_FREE`` is free behind ``end``, the unparsed rest moves to the front (less than one
packet while a stream flows), or into a bigger bytearray if it does not fit.
"""

from __future__ import annotations

#: what a buffer holds at first (a cell's reads are a few hundred bytes; a stream's up to
#: a socket's whole queue, read 256 KiB at a time as asyncio's own reads)
CAPACITY = 320 * 1024
#: a read is offered at least this much room; less, and the unparsed rest moves
MIN_FREE = 64 * 1024


class ReadBuffer:
    """Unparsed received bytes: ``data[start:end]`` of a bytearray only this owns."""

    __slots__ = ("data", "end", "start")

    def __init__(self, capacity: int = CAPACITY) -> None:
        self.data = bytearray(capacity)
        self.start = 0
        self.end = 0

    # ------------------------------------------------------------ reads arriving

    def get_buffer(self) -> memoryview:
        """Room for the next read (asyncio's ``get_buffer``): at least MIN_FREE bytes."""
        if len(self.data) - self.end < MIN_FREE:
            self._make_room(MIN_FREE)
        return memoryview(self.data)[self.end :]

    def written(self, nbytes: int) -> None:
        """NBYTES were read into the room ``get_buffer`` gave (asyncio's ``buffer_updated``)."""
        self.end += nbytes

    def extend(self, data: bytes) -> None:
        """A read handed over as bytes: copied in once."""
        n = len(data)
        if len(self.data) - self.end < n:
            self._make_room(n)
        self.data[self.end : self.end + n] = data
        self.end += n

    def _make_room(self, free: int) -> None:
        """At least FREE bytes behind the unparsed rest: moved to the front, or into a
        bigger bytearray when rest + FREE exceed the capacity."""
        live = self.end - self.start
        if live + free > len(self.data):
            bigger = bytearray(max(2 * len(self.data), live + free))
            bigger[:live] = memoryview(self.data)[self.start : self.end]
            self.data = bigger
        elif live:
            with memoryview(self.data) as view:
                view[:live] = view[self.start : self.end]  # memmove
        self.start, self.end = 0, live

    # ------------------------------------------------------------ asyncssh's bytes operations

    def __len__(self) -> int:
        return self.end - self.start

    def __bool__(self) -> bool:
        return self.end > self.start

    def __getitem__(self, key: slice) -> bytes | ReadBuffer:
        if not isinstance(key, slice) or key.step not in (None, 1):
            raise TypeError("ReadBuffer supports only contiguous slices")
        start, stop, _ = key.indices(len(self))
        if key.stop is None:  # asyncssh dropping what it parsed: consumed, and stored back
            self.start += start
            return self
        if stop <= start:
            return b""
        return bytes(memoryview(self.data)[self.start + start : self.start + stop])

    def find(self, sub: bytes, start: int = 0, end: int | None = None) -> int:
        """bytes.find on the unparsed bytes (asyncssh's version line search)."""
        end = len(self) if end is None else min(end, len(self))
        index = self.data.find(sub, self.start + start, self.start + end)
        return index - self.start if index >= 0 else -1

    def __bytes__(self) -> bytes:
        return bytes(memoryview(self.data)[self.start : self.end])
