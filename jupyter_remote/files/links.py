"""One SFTP link per server, on the server's pooled connection, kept while in use.

:class:`Links` (owned by :class:`~jupyter_remote.files.service.RemoteFiles`) opens an
``SFTPLink`` on a lease of the pool the first time a server's files are touched and
keeps it for :data:`IDLE_SECONDS` after the last use, so browsing does not reconnect
for every click and the connection still closes once nobody uses the server. A link
whose connection was lost is replaced on the next use; one whose remote answers a home
directory that is not a normalized absolute path is refused (``paths.check_home``).
:func:`new_file_mode` learns, once per link, the mode the remote gives a new file.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from ..context import RemoteContext
from ..errors import SSHConnectError
from ..ssh.sftp import SFTPLink, temp_name
from . import paths

#: An unused SFTP link (and its share of the connection) is let go after this long.
IDLE_SECONDS = 120.0
#: A new file's permissions before the remote login's umask (as open(2) and sftp-server).
NEW_FILE_PERMISSIONS = 0o666

_new_file_modes: weakref.WeakKeyDictionary[SFTPLink, int] = weakref.WeakKeyDictionary()


async def new_file_mode(link: SFTPLink, beside: bytes) -> int:
    """The mode of a new file the drive creates (files/service.py, uploads.py): 0666 less
    the umask of the user's login on the remote, as the user's own sftp or editor gets.

    Learned once per link: an empty file of a random name is created beside ``beside``
    with 0666 (the remote's sftp-server applies the login's umask), its mode read on the
    open handle, and removed. Our files are written under 0600 temporary names and get
    this mode when complete; setting it on the handle meets no umask, so 0644 was set
    even for a user whose umask is 077 (review s22 F5). At most 0666, whatever is said."""
    known = _new_file_modes.get(link)
    if known is None:
        probe = temp_name(beside)
        handle = await link.open_new(probe, mode=NEW_FILE_PERMISSIONS)
        try:
            attrs = await handle.stat()
        finally:
            await asyncio.shield(link.discard(probe, handle))
        known = int(attrs.permissions or 0) & NEW_FILE_PERMISSIONS
        _new_file_modes[link] = known
    return known


@dataclass
class _Held:
    link: SFTPLink
    users: int = 0
    idle: asyncio.TimerHandle | None = None
    closing: list[asyncio.Task[None]] = field(default_factory=list)


class Links:
    """The SFTP links of one process, by server name."""

    def __init__(self, context: RemoteContext, *, idle_seconds: float = IDLE_SECONDS) -> None:
        self.context = context
        self.idle_seconds = idle_seconds
        self._held: dict[str, _Held] = {}
        self._opening: dict[str, asyncio.Lock] = {}

    async def _get(self, server: str) -> _Held:
        lock = self._opening.setdefault(server, asyncio.Lock())
        async with lock:
            held = self._held.get(server)
            if held is not None and not held.link.closed:
                return held
            if held is not None:
                await self._drop(server, held)
            endpoint = await self.context.endpoint(server)
            lease = await self.context.pool.acquire(endpoint)
            try:
                link = await SFTPLink.open(lease)
            except BaseException:
                await lease.release()
                raise
            try:
                paths.check_home(link.home, server)
            except BaseException:
                link.close()
                await lease.release()
                raise
            held = _Held(link)
            self._held[server] = held
            return held

    @contextlib.asynccontextmanager
    async def use(self, server: str) -> AsyncIterator[SFTPLink]:
        """The server's link for the block; a broken connection is dropped on the way out."""
        held = await self._get(server)
        held.users += 1
        if held.idle is not None:
            held.idle.cancel()
            held.idle = None
        try:
            yield held.link
        except SSHConnectError:
            if self._held.get(server) is held:
                await self._drop(server, held)
            raise
        finally:
            held.users -= 1
            if held.users == 0 and self._held.get(server) is held:
                loop = asyncio.get_running_loop()
                held.idle = loop.call_later(self.idle_seconds, self._expire, server, held)

    def _expire(self, server: str, held: _Held) -> None:
        if held.users == 0 and self._held.get(server) is held:
            held.closing.append(asyncio.ensure_future(self._drop(server, held)))

    async def _drop(self, server: str, held: _Held) -> None:
        if self._held.get(server) is held:
            del self._held[server]
        if held.idle is not None:
            held.idle.cancel()
        held.link.close()
        await held.link.lease.release()

    async def forget(self, server: str) -> None:
        """Let the server's link go now (server removed or edited)."""
        held = self._held.get(server)
        if held is not None:
            await self._drop(server, held)

    async def close(self) -> None:
        """Every link let go (RemoteManager.close: server shutdown, CLI exit)."""
        for server, held in list(self._held.items()):
            await self._drop(server, held)
