"""SFTP on a server's one pooled connection: the only code that speaks SFTP.

``files/service.py`` opens an :class:`SFTPLink` on a lease of the pool (an ``sftp``
subsystem channel of the same connection the kernels use) and calls the methods
below. Paths are ``bytes`` here, as the remote has them: names need not be UTF-8
(``files/paths.py`` converts). SFTP is not a shell: every path travels as data.

What a remote sends is bounded: a listing stops at ``limit`` entries (one READDIR
round trip per page the server sends, no stat per entry), a whole-file read at
``max_bytes``; asyncssh itself refuses SFTP packets over 4 MiB. Transfers keep a
window of parallel block requests in flight (``ssh/sftp_pipeline.py``) on a channel
whose receive window holds all their replies, and write to a temporary name that
only a final rename turns into the real one. Errors: ``ssh/sftp_errors.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import stat as statmod
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncssh

from ..errors import ConflictError, NotFoundError, RemoteCommandError, RemoteFileError
from ..text import printable
from . import sftp_pipeline
from .pool import Lease
from .sftp_errors import errors_of
from .sftp_errors import shown as _shown
from .sftp_pipeline import WINDOW, Progress

#: Largest block per read/write request (the server may allow less; OpenSSH: 255 KiB).
BLOCK = 256 * 1024
#: The SFTP channel's receive window: room for the replies of every read in flight.
#: asyncssh's default (2 MiB, re-opened only once half is used) let a download have
#: 1 to 2 MiB on the wire: 19 MB/s on a 50 ms link where OpenSSH's sftp, whose
#: window re-opens after every few packets, does 36 (bench metric 8).
CHANNEL_WINDOW = WINDOW * BLOCK
#: At most this many entries per listing (a hostile server may list without end).
MAX_ENTRIES = 100_000
#: Prefix of our temporary names; a random suffix makes them unguessable.
TEMP_MARK = ".jr-part-"


@dataclass(frozen=True)
class Entry:
    """One directory entry or stat result; ``kind`` is what a link points to when followed."""

    name: bytes
    kind: str  # file | directory | symlink | other
    size: int
    mtime: float
    permissions: int
    link: bool = False  # the name is a symbolic link
    uid: int = -1  # the owner's uid (-1: the server did not say)
    gid: int = -1

    @property
    def writable(self) -> bool:
        return bool(self.permissions & 0o200)


@dataclass
class Listing:
    entries: list[Entry]
    truncated: bool
    pages: int  # READDIR round trips


def _kind(attrs: asyncssh.SFTPAttrs) -> str:
    mode = attrs.permissions or 0
    if statmod.S_ISDIR(mode):
        return "directory"
    if statmod.S_ISREG(mode):
        return "file"
    if statmod.S_ISLNK(mode):
        return "symlink"
    return "other"


def entry_of(name: bytes, attrs: asyncssh.SFTPAttrs, *, link: bool = False) -> Entry:
    return Entry(
        name=name,
        kind=_kind(attrs),
        size=int(attrs.size or 0),
        mtime=float(attrs.mtime or 0),
        permissions=int(attrs.permissions or 0) & 0o7777,
        link=link,
        uid=-1 if attrs.uid is None else int(attrs.uid),
        gid=-1 if attrs.gid is None else int(attrs.gid),
    )


def temp_name(path: bytes) -> bytes:
    """``dir/.name.jr-part-<random>``: beside the target, unguessable by other users."""
    head, _, tail = path.rpartition(b"/")
    name = b"." + tail[:120] + TEMP_MARK.encode() + secrets.token_hex(8).encode()
    return (head + b"/" if head or path.startswith(b"/") else b"") + name


class SFTPLink:
    """One SFTP client on one lease of a server's pooled connection."""

    def __init__(self, client: asyncssh.SFTPClient, lease: Lease) -> None:
        self.client = client
        self.lease = lease
        self.block = max(4096, min(BLOCK, client.limits.max_read_len or BLOCK))
        self.write_block = max(4096, min(BLOCK, client.limits.max_write_len or BLOCK))
        self.home = b"/"

    @classmethod
    async def open(cls, lease: Lease) -> SFTPLink:
        """Start the sftp subsystem on the lease's connection (files/service.py)."""
        try:
            client = await _start_client(lease.conn)
        except (asyncssh.Error, asyncssh.SFTPError, OSError) as exc:
            raise RemoteCommandError(
                f"The SFTP subsystem of {lease.endpoint.describe()} did not start: "
                f"{printable(str(exc))}",
                hint="The remote sshd needs `Subsystem sftp ...` in sshd_config "
                "(OpenSSH has it by default).",
            ) from None
        link = cls(client, lease)
        with errors_of(b".", "resolve the home directory"):
            link.home = await client.realpath(b".")
        return link

    @property
    def closed(self) -> bool:
        return self.lease.lost

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.exit()

    # ------------------------------------------------------------ metadata

    async def stat(self, path: bytes) -> Entry:
        """What ``path`` is; a symlink is followed (``link`` says it was one)."""
        with errors_of(path, "read the attributes of"):
            attrs = await self.client.lstat(path)
            if not statmod.S_ISLNK(attrs.permissions or 0):
                return entry_of(path, attrs)
            try:
                return entry_of(path, await self.client.stat(path), link=True)
            except (asyncssh.SFTPNoSuchFile, asyncssh.SFTPPermissionDenied):
                return entry_of(path, attrs, link=True)  # dangling or unreadable target

    async def is_private(self, path: bytes, kind: str) -> bool:
        """Whether ``path`` is a ``kind`` (file or directory) of this account's own that
        nobody else may write: not a symlink, owned by us, not world-writable, and
        group-writable only by our own group (the user-private-group scheme, umask 002).
        Our uid and group are those of the home directory (SFTP has no getuid).

        Called before trusting what sits in a shared directory (checkpoints)."""
        entry = await self.lstat(path)
        home = await self.lstat(self.home)
        return (
            not entry.link
            and entry.kind == kind
            and home.uid >= 0
            and entry.uid == home.uid
            and not entry.permissions & 0o002
            and not (entry.permissions & 0o020 and entry.gid != home.gid)
        )

    async def exists(self, path: bytes) -> bool:
        try:
            await self.stat(path)
        except NotFoundError:
            return False
        return True

    async def list_dir(self, path: bytes, *, limit: int = MAX_ENTRIES) -> Listing:
        """Entries of a directory (no ``.``/``..``); symlinks resolved in parallel."""
        entries: list[Entry] = []
        links: list[int] = []
        pages = 0
        truncated = False
        with errors_of(path, "list"):
            handle = await self.client._handler.opendir(path)
            try:
                while not truncated:
                    try:
                        names, at_end = await self.client._handler.readdir(handle)
                    except asyncssh.SFTPEOFError:
                        break
                    pages += 1
                    for item in names:
                        name = item.filename
                        if not isinstance(name, bytes):  # path_encoding=None: always bytes
                            name = name.encode("utf-8", "surrogateescape")
                        if name in (b".", b"..") or b"/" in name or not name:
                            continue
                        if len(entries) >= limit:
                            truncated = True
                            break
                        if statmod.S_ISLNK(item.attrs.permissions or 0):
                            links.append(len(entries))
                        entries.append(entry_of(name, item.attrs))
                    if at_end:
                        break
            finally:
                with contextlib.suppress(Exception):
                    await self.client._handler.close(handle)
        await self._follow_links(path, entries, links)
        return Listing(entries, truncated, pages)

    async def _follow_links(self, path: bytes, entries: list[Entry], links: list[int]) -> None:
        """Stat what each symlink points to, all requests in flight at once."""
        base = path.rstrip(b"/") + b"/"

        async def follow(i: int) -> None:
            with contextlib.suppress(asyncssh.SFTPError):
                attrs = await self.client.stat(base + entries[i].name)
                entries[i] = entry_of(entries[i].name, attrs, link=True)
                return
            entries[i] = Entry(**{**entries[i].__dict__, "link": True})

        for start in range(0, len(links), 1000):
            await asyncio.gather(*(follow(i) for i in links[start : start + 1000]))

    # ------------------------------------------------------------ reading

    async def read_all(self, path: bytes, *, max_bytes: int) -> bytes:
        """A whole file, refused (413-like) past ``max_bytes``."""
        info = await self.stat(path)
        if info.kind == "directory":
            raise RemoteFileError(f"{_shown(path)} is a directory.")
        if info.size > max_bytes:
            raise RemoteFileError(
                f"{_shown(path)} is {info.size:,} bytes, more than the {max_bytes:,} "
                "this view opens.",
                hint="Download it instead (right-click, Download, or `jupyter remote files get`).",
            )
        chunks = [c async for c in self.iter_read(path, limit=max_bytes)]
        return b"".join(chunks)

    async def iter_read(
        self, path: bytes, *, offset: int = 0, limit: int | None = None
    ) -> AsyncIterator[bytes]:
        """The file's bytes from ``offset`` in order, ``WINDOW`` block reads in flight."""
        with errors_of(path, "open"):
            handle = await self.client.open(path, "rb", block_size=0)  # one request per read
        try:
            reads = sftp_pipeline.pipelined_reads(handle, path, self.block, offset, limit)
            async with contextlib.aclosing(reads):  # its reads cancelled before the close
                async for chunk in reads:
                    yield chunk
        finally:
            with contextlib.suppress(Exception):
                await asyncio.shield(handle.close())

    # ------------------------------------------------------------ writing

    async def open_new(self, path: bytes, *, mode: int = 0o600) -> Any:
        """Create ``path`` exclusively (a temporary name of ours) for writing."""
        with errors_of(path, "create"):
            return await self.client.open(
                path,
                asyncssh.FXF_WRITE | asyncssh.FXF_CREAT | asyncssh.FXF_EXCL,
                asyncssh.SFTPAttrs(permissions=mode),
                encoding=None,
                block_size=0,  # one request per write: the blocks are ours
            )

    async def open_append(self, path: bytes) -> Any:
        """Reopen a temporary file of ours to go on writing (a resumed upload)."""
        with errors_of(path, "open"):
            return await self.client.open(path, asyncssh.FXF_WRITE, encoding=None, block_size=0)

    async def write_at(self, handle: Any, path: bytes, data: bytes, offset: int) -> None:
        """Write ``data`` at ``offset``, its blocks in flight together."""
        await sftp_pipeline.write_at(handle, path, self.write_block, data, offset)

    async def write_stream(
        self,
        handle: Any,
        path: bytes,
        chunks: AsyncIterator[bytes],
        progress: Progress,
        *,
        start: int = 0,
    ) -> int:
        """Write an ordered stream of chunks from offset ``start``, ``WINDOW`` writes in
        flight; returns the end offset. ``progress(n)`` counts bytes written, in order."""
        return await sftp_pipeline.write_stream(
            handle, path, self.write_block, chunks, progress, start
        )

    async def finish(self, handle: Any, temp: bytes, final: bytes, *, mode: int | None) -> None:
        """Give the temporary file ``mode``, close it and rename it over ``final``; on any
        failure the temporary file is removed (never left behind with the target's mode).

        The mode is set on the open handle (FSETSTAT), never by name: in a shared
        directory another user could have put a symlink where the temporary name was."""
        try:
            if mode is not None:
                with errors_of(temp, "write"):
                    await handle.chmod(mode)
            with errors_of(temp, "close"):
                await handle.close()
            with errors_of(final, "write"):
                await self.replace(temp, final)
        except BaseException:
            await asyncio.shield(self.discard(temp, handle))
            raise

    async def discard(self, temp: bytes, handle: Any = None) -> None:
        """Close and remove a temporary file of ours (cancel, failure); never raises."""
        if handle is not None:
            with contextlib.suppress(Exception):
                await handle.close()
        with contextlib.suppress(Exception):
            await self.client.remove(temp)

    async def readlink(self, path: bytes) -> bytes:
        """Where the symlink ``path`` points, as written (relative or absolute)."""
        with errors_of(path, "read the link"):
            return bytes(await self.client.readlink(path))

    async def realpath(self, path: bytes) -> bytes:
        """The canonical path, symlinks resolved (a save writes through a symlink)."""
        with errors_of(path, "resolve"):
            return bytes(await self.client.realpath(path))

    # ------------------------------------------------------------ names

    async def replace(self, src: bytes, dst: bytes) -> None:
        """Rename, replacing ``dst`` (posix-rename@openssh.com, else remove + rename)."""
        with errors_of(src, "rename"):
            try:
                await self.client.posix_rename(src, dst)
            except asyncssh.SFTPOpUnsupported:
                with contextlib.suppress(asyncssh.SFTPNoSuchFile):
                    await self.client.remove(dst)
                await self.client.rename(src, dst)

    async def rename(self, src: bytes, dst: bytes) -> None:
        """Rename that never replaces: an existing ``dst`` is a conflict."""
        if await self.exists(dst):
            raise ConflictError(
                f"{_shown(dst)} already exists on the remote.", hint="Choose another name."
            )
        with errors_of(src, "rename"):
            await self.client.rename(src, dst)

    async def mkdir(self, path: bytes, mode: int | None = None) -> None:
        """Create a directory (``mode``: its permissions, before the remote's umask)."""
        with errors_of(path, "create the directory"):
            await self.client.mkdir(path, asyncssh.SFTPAttrs(permissions=mode))

    async def remove(self, path: bytes) -> None:
        """Delete a file, a symlink (not its target) or a directory with its contents."""
        info = await self.lstat(path)
        with errors_of(path, "delete"):
            if info.kind == "directory":
                await self.client.rmtree(path)
            else:
                await self.client.remove(path)

    async def lstat(self, path: bytes) -> Entry:
        with errors_of(path, "read the attributes of"):
            return entry_of(path, await self.client.lstat(path))

    async def copy(self, src: bytes, dst: bytes) -> None:
        """Copy a file on the remote (copy-data there when offered, else through us),
        to a temporary name first."""
        temp = temp_name(dst)
        info = await self.stat(src)
        handle = await self.open_new(temp)
        try:
            with errors_of(src, "copy"):
                if self.client.supports_remote_copy:
                    async with await self.client.open(src, "rb") as source:
                        await self.client.remote_copy(source, handle, src_length=0)
                else:
                    await self.write_stream(handle, temp, self.iter_read(src), lambda _: None)
            await self.finish(handle, temp, dst, mode=info.permissions or None)
        except BaseException:
            await asyncio.shield(self.discard(temp, handle))
            raise


async def _start_client(conn: asyncssh.SSHClientConnection) -> asyncssh.SFTPClient:
    """asyncssh's ``SSHClientConnection.start_sftp_client`` with our channel window (it
    takes none), called by :meth:`SFTPLink.open`: paths stay bytes, SFTP version 3 as
    OpenSSH speaks it, asyncssh's defaults otherwise."""
    writer, reader, _ = await conn.open_session(
        subsystem="sftp", encoding=None, window=CHANNEL_WINDOW
    )
    version = asyncssh.sftp.MIN_SFTP_VERSION
    loop = asyncio.get_running_loop()
    return await asyncssh.sftp.start_sftp_client(
        conn, loop, "strict", reader, writer, None, "strict", version
    )
