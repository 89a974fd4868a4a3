"""An SSH connection's stand-in for relay tests and ``bench.relay_wakeups``: the relay's
unix socket opened directly, through asyncssh's stream API or its session API (what
``ssh/record_link.py`` uses), with a channel that behaves as asyncssh's does for its
session."""

from __future__ import annotations

import asyncio
from typing import Any


class UnixLink:
    """Stands in for an SSH connection: opens the relay's unix socket directly."""

    async def open_unix_connection(self, path: str, **ssh_options: Any) -> Any:
        return await asyncio.open_unix_connection(path)

    async def create_unix_connection(self, factory: Any, path: str, **ssh_options: Any) -> Any:
        """asyncssh's session API (``ssh/record_link.py``) on a plain unix socket."""
        session = factory()
        loop = asyncio.get_running_loop()
        _, chan = await loop.create_unix_connection(lambda: UnixChannel(session), path)
        return chan, session


class UnixChannel(asyncio.Protocol):
    """What an asyncssh channel does for its session, on an asyncio transport: delivers
    data, EOF and the end; writes (BrokenPipeError once closing), closes, pauses."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.transport: Any = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self.session.connection_made(self)

    def data_received(self, data: bytes) -> None:
        self.session.data_received(data, None)

    def eof_received(self) -> bool:
        self.session.eof_received()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.session.connection_lost(exc)

    def write(self, data: bytes) -> None:
        if self.transport.is_closing():
            raise BrokenPipeError("Channel not open for sending")
        self.transport.write(data)

    def close(self) -> None:
        self.transport.close()

    def pause_reading(self) -> None:
        self.transport.pause_reading()

    def resume_reading(self) -> None:
        self.transport.resume_reading()
