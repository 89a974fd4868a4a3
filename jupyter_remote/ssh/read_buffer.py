"""The bytes asyncssh has read and not yet parsed, without quadratic copies.

Used by ``packet_tuning.TunedClientConnection`` as its ``_inpbuf``. asyncssh 2.24's
receive path (``connection.py``: ``_recv_version``, ``_recv_pkthdr``, ``_recv_packet``)
treats that attribute as ``bytes`` and, after each packet, replaces it by the rest
(``self._inpbuf = self._inpbuf[n:]``): a copy of everything after the packet, so a
256 KiB read of eight 32 KiB packets was copied about four times over. A
``ReadBuffer`` answers those same operations: an open-ended slice (``buf[n:]``) is a
new view of the same bytearray at a later offset (no copy); a bounded slice
(``buf[a:b]``) is ``bytes``, as before; ``len``, truth and ``find`` as on bytes. New
reads are appended (``extend``); the consumed prefix is dropped only once it is at
least as long as what is left, so each byte is moved at most a bounded number of times.
"""

from __future__ import annotations


class ReadBuffer:
    """Unparsed received bytes: ``data[start:]`` of a bytearray that only this owns."""

    __slots__ = ("_data", "_start")

    def __init__(self, data: bytearray, start: int = 0) -> None:
        self._data = data
        self._start = start

    def __len__(self) -> int:
        return len(self._data) - self._start

    def __bool__(self) -> bool:
        return len(self._data) > self._start

    def __getitem__(self, key: slice) -> bytes | ReadBuffer:
        if not isinstance(key, slice) or key.step not in (None, 1):
            raise TypeError("ReadBuffer supports only contiguous slices")
        start, stop, _ = key.indices(len(self))
        if key.stop is None:  # the rest after a consumed prefix: the same bytes, later
            return ReadBuffer(self._data, self._start + start)
        if stop <= start:
            return b""
        with memoryview(self._data) as view:
            return bytes(view[self._start + start : self._start + stop])

    def find(self, sub: bytes, start: int = 0, end: int | None = None) -> int:
        """bytes.find on the unparsed bytes (asyncssh's version line search)."""
        end = len(self) if end is None else min(end, len(self))
        index = self._data.find(sub, self._start + start, self._start + end)
        return index - self._start if index >= 0 else -1

    def extend(self, data: bytes) -> None:
        """Append a read; drop the consumed prefix once it outweighs the rest."""
        if self._start and self._start >= len(self._data) - self._start:
            del self._data[: self._start]
            self._start = 0
        self._data += data

    def __bytes__(self) -> bytes:
        return self[0 : len(self)]  # type: ignore[return-value]
