"""RemoteFiles: the files of every saved server, as Jupyter contents, over SFTP.

One per :class:`~jupyter_remote.manager.RemoteManager` (``manager.files``); the REST
handlers of ``web/files.py`` and the ``jupyter remote files`` CLI call it. Every path
is checked by ``paths.parse_path`` first and travels as data over SFTP on the server's
one pooled connection (``links.py``). Writes go to a random temporary name beside the
target and are renamed over it at the end, so a reader never sees half a file.
"""

from __future__ import annotations

import asyncio
import hashlib
import posixpath
from collections.abc import AsyncIterator
from typing import Any

from ..context import RemoteContext
from ..errors import (
    ConflictError,
    NotFoundError,
    RemoteFileChangedError,
    RemoteFileError,
    RemotePermissionError,
    SSHConnectError,
    ValidationError,
)
from ..ssh.sftp import MAX_ENTRIES, Entry, SFTPLink, temp_name
from . import models, paths
from .checkpoints import Checkpoints
from .links import Links, new_file_mode
from .uploads import MAX_CHUNK_NUMBER, Uploads

#: Modification times closer than this count as the same (SFTP v3 has whole seconds).
MTIME_SLACK = 0.5


#: links a save follows in a row at most (Linux's own limit, ELOOP past it)
MAX_LINK_HOPS = 40


async def _check_may_write_through(link: SFTPLink, path: bytes) -> None:
    """Refuse a save through the symlink ``path`` when any link of its chain another user
    may have planted (RemoteFiles._save_target, before following it). As Linux's
    protected_symlinks (which SFTP's resolution never meets), a link is followed when it
    is the account's own or its folder is private (ours, nobody else may write in it)."""
    home = await link.lstat(link.home)
    for _ in range(MAX_LINK_HOPS):
        try:
            entry = await link.lstat(path)
        except NotFoundError:
            return  # a dangling link's target: the save creates it, in a folder checked
        if entry.kind != "symlink":  # lstat: the name itself is no link
            return
        folder = await link.realpath(posixpath.dirname(path) or b"/")
        if not (home.uid >= 0 and entry.uid == home.uid) and not await link.is_private(
            folder, "directory"
        ):
            raise _planted(path)
        path = posixpath.join(folder, await link.readlink(path))
    raise RemotePermissionError(f"{paths.display(paths.from_bytes(path))}: too many links.")


def _planted(path: bytes) -> RemotePermissionError:
    shown = paths.display(paths.from_bytes(path))
    return RemotePermissionError(
        f"{shown} is a symbolic link another user made in a folder others may write in: "
        "saving through it would write wherever they chose. Nothing was written.",
        hint="Save under another name (Save As), or remove the link if you may and save again.",
    )


def _check_save_fields(body: Any, expect_modified: Any) -> None:
    """Every field a save reads, checked before anything is written (RemoteFiles.save):
    a model wrong anywhere is a 400 that changes nothing, whatever its type."""
    if not isinstance(body, dict):
        raise ValidationError("The body must be a contents model (a JSON object).")
    if body.get("type") not in ("directory", "file", "notebook"):
        raise ValidationError("type must be file, notebook or directory.", field="type")
    if body.get("format") not in (None, "text", "base64", "json"):
        raise ValidationError("format must be text, base64 or json.", field="format")
    chunk, offset = body.get("chunk"), body.get("offset")
    if chunk is not None and (
        isinstance(chunk, bool)
        or not isinstance(chunk, int)
        or chunk == 0
        or not -1 <= chunk <= MAX_CHUNK_NUMBER
    ):
        raise ValidationError("chunk must be 1, 2, ... or -1 for the last.", field="chunk")
    if offset is not None and (
        isinstance(offset, bool) or not isinstance(offset, int) or offset < 0
    ):
        raise ValidationError("offset must be a whole number of bytes.", field="offset")
    if expect_modified is not None and (
        not isinstance(expect_modified, str) or len(expect_modified) > 64
    ):
        raise ValidationError(
            "expect_modified must be the last_modified time the file had.",
            field="expect_modified",
        )


class RemoteFiles:
    """Files of the saved servers: get, save, create, copy, rename, delete, download."""

    def __init__(self, context: RemoteContext) -> None:
        self.links = Links(context)
        self.uploads = Uploads(self.links)
        self.checkpoints = Checkpoints(self)

    async def close(self) -> None:
        await self.uploads.close()
        await self.links.close()

    async def _retrying(self, server: str, work: Any) -> Any:
        """Run ``work(link)``; a read that met a broken connection runs once more."""
        for attempt in (1, 2):
            try:
                async with self.links.use(server) as link:
                    return await work(link)
            except SSHConnectError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    # ------------------------------------------------------------ reading

    async def home(self, server: str) -> str:
        """The SFTP session's home directory on ``server`` (where ``~`` points)."""

        async def work(link: SFTPLink) -> str:
            return paths.from_bytes(link.home)

        return str(await self._retrying(server, work))

    async def get(
        self,
        server: str,
        path: str,
        *,
        content: bool = True,
        type: str | None = None,
        format: str | None = None,
        limit: int = MAX_ENTRIES,
        hash: bool = False,
    ) -> dict[str, Any]:
        """The contents model of ``path``: a directory with its entries, a notebook, or a
        file as text (UTF-8) or base64; ``hash``: with the sha256 of a file's bytes (what
        JupyterLab compares before a save to see a change made on the remote)."""
        path = paths.parse_path(path)
        if format not in (None, "text", "base64"):
            raise ValidationError("format must be text or base64.", field="format")

        async def work(link: SFTPLink) -> dict[str, Any]:
            real = paths.resolve(path, link.home)
            shown = paths.from_bytes(real)
            entry = await link.stat(real)
            result = models.model(shown, entry)
            if type == "directory" and entry.kind != "directory":
                raise ValidationError(f"{paths.display(shown)} is not a directory.", field="type")
            if entry.kind == "directory":
                return await self._with_listing(link, real, result, limit) if content else result
            if not content and not (hash and entry.size <= models.MAX_OPEN_BYTES):
                return result
            data = await link.read_all(real, max_bytes=models.MAX_OPEN_BYTES)
            if hash:
                result.update(hash=hashlib.sha256(data).hexdigest(), hash_algorithm="sha256")
            if not content:
                return result
            notebook = type == "notebook" or (type is None and result["type"] == "notebook")
            return models.with_file_content(result, data, want=format, as_notebook=notebook)

        return dict(await self._retrying(server, work))

    async def _with_listing(
        self, link: SFTPLink, real: bytes, result: dict[str, Any], limit: int
    ) -> dict[str, Any]:
        listing = await link.list_dir(real, limit=limit)
        base = paths.from_bytes(real)
        result["content"] = [
            models.model(paths.join(base, paths.from_bytes(e.name)), e) for e in listing.entries
        ]
        result.update(format="json", truncated=listing.truncated, pages=listing.pages)
        return result

    async def list(self, server: str, path: str, *, limit: int = MAX_ENTRIES) -> dict[str, Any]:
        """A directory's model with its entries (the CLI's ``files ls``)."""
        return await self.get(server, path, type="directory", limit=limit)

    async def stream(
        self, server: str, path: str, *, offset: int = 0
    ) -> tuple[dict[str, Any], AsyncIterator[bytes]]:
        """A file's model and its bytes from ``offset`` (downloads: REST and CLI)."""
        path = paths.parse_path(path)
        async with self.links.use(server) as link:
            real = paths.resolve(path, link.home)
            entry = await link.stat(real)
        if entry.kind != "file":
            raise RemoteFileError(f"{paths.display(path)} is not a file; download files only.")
        result = models.model(paths.from_bytes(real), entry)

        async def chunks() -> AsyncIterator[bytes]:
            async with self.links.use(server) as held:
                async for chunk in held.iter_read(real, offset=offset):
                    yield chunk

        return result, chunks()

    # ------------------------------------------------------------ writing

    async def save(
        self, server: str, path: str, body: dict[str, Any], *, expect_modified: str | None = None
    ) -> dict[str, Any]:
        """Save a model (Jupyter's PUT): a directory, a notebook, a file, or one chunk of
        an upload (``chunk`` 1, 2, ..., -1 for the last). ``expect_modified``: refuse
        (409 changed_on_remote) when the file changed on the remote since then."""
        path = paths.parse_path(path)
        _check_save_fields(body, expect_modified)
        if body.get("type") == "directory":
            return await self.mkdir(server, path, exist_ok=True)
        if body.get("chunk") is not None:
            data = models.content_bytes(body)
            entry, real = await self.uploads.chunk(
                server, path, body["chunk"], data, offset=body.get("offset")
            )
            return models.model(paths.from_bytes(real), entry)
        data = models.content_bytes(body)
        expected = (
            models.parse_timestamp(expect_modified, "expect_modified") if expect_modified else None
        )

        async def work(link: SFTPLink) -> dict[str, Any]:
            real = await self._save_target(link, paths.resolve(path, link.home), expected)
            current = await _stat_or_none(link, real)
            mode = current.permissions if current is not None else None
            await _write_whole(link, real, data, mode=mode)
            return models.model(
                paths.from_bytes(paths.resolve(path, link.home)), await link.stat(real)
            )

        return dict(await self._retrying(server, work))

    async def _save_target(self, link: SFTPLink, real: bytes, expected: float | None) -> bytes:
        """Where a save writes: a symlink's target (as Jupyter does), after the
        changed-on-remote check."""
        current = await _stat_or_none(link, real)
        if current is not None and current.kind == "directory":
            raise ConflictError(f"{paths.display(paths.from_bytes(real))} is a directory.")
        if (
            expected is not None
            and current is not None
            and abs(current.mtime - expected) > MTIME_SLACK
        ):
            raise RemoteFileChangedError(
                f"{paths.display(paths.from_bytes(real))} changed on the remote at "
                f"{models.timestamp(current.mtime)}, after it was opened.",
                last_modified=models.timestamp(current.mtime),
            )
        if current is not None and current.link:
            await _check_may_write_through(link, real)
            return await link.realpath(real)
        return real

    async def mkdir(self, server: str, path: str, *, exist_ok: bool = False) -> dict[str, Any]:
        path = paths.parse_path(path)
        async with self.links.use(server) as link:
            real = paths.resolve(path, link.home)
            current = await _stat_or_none(link, real)
            if current is None:
                await link.mkdir(real)
            elif not (exist_ok and current.kind == "directory"):
                raise ConflictError(f"{paths.display(path)} already exists on the remote.")
            return models.model(paths.from_bytes(real), await link.stat(real))

    async def new_untitled(
        self, server: str, directory: str, *, type: str = "file", ext: str = ""
    ) -> dict[str, Any]:
        """A new empty notebook, file or directory in ``directory`` (Jupyter's names:
        Untitled.ipynb, untitled.txt, Untitled Folder, then numbered)."""
        directory = paths.parse_path(directory)
        if type not in ("notebook", "file", "directory"):
            raise ValidationError("type must be notebook, file or directory.", field="type")
        if not isinstance(ext, str) or "/" in ext or len(ext) > 32:
            raise ValidationError("ext must be a short file extension.", field="ext")
        base, ext = {
            "notebook": ("Untitled", ".ipynb"),
            "file": ("untitled", ext or ".txt"),
            "directory": ("Untitled Folder", ""),
        }[type]
        async with self.links.use(server) as link:
            real_dir = paths.resolve(directory, link.home)
            taken = {e.name for e in (await link.list_dir(real_dir)).entries}
            name = _free_name(taken, base, ext, space=type == "directory")
            target = real_dir.rstrip(b"/") + b"/" + paths.to_bytes(name)
            if type == "directory":
                await link.mkdir(target)
            else:
                body = (
                    {"type": "notebook", "content": _EMPTY_NOTEBOOK} if type == "notebook" else {}
                )
                data = models.content_bytes(body) if body else b""
                await _write_whole(link, target, data, mode=None, exclusive=True)
            return models.model(paths.from_bytes(target), await link.stat(target))

    async def copy(self, server: str, source: str, directory: str) -> dict[str, Any]:
        """Copy a file into ``directory`` as ``name-Copy1.ext`` (Jupyter's naming)."""
        source, directory = paths.parse_path(source, "copy_from"), paths.parse_path(directory)
        async with self.links.use(server) as link:
            real_src = paths.resolve(source, link.home)
            if (await link.stat(real_src)).kind != "file":
                raise ValidationError("Only files can be copied.", field="copy_from")
            real_dir = paths.resolve(directory, link.home)
            taken = {e.name for e in (await link.list_dir(real_dir)).entries}
            stem, dot, ext = paths.basename(paths.from_bytes(real_src)).partition(".")
            name = _free_name(taken, f"{stem}-Copy", dot + ext, first=1)
            target = real_dir.rstrip(b"/") + b"/" + paths.to_bytes(name)
            await link.copy(real_src, target)
            return models.model(paths.from_bytes(target), await link.stat(target))

    async def rename(self, server: str, path: str, new_path: str) -> dict[str, Any]:
        """Rename or move; never replaces an existing file (409)."""
        path, new_path = paths.parse_path(path), paths.parse_path(new_path, "new path")
        async with self.links.use(server) as link:
            src, dst = paths.resolve(path, link.home), paths.resolve(new_path, link.home)
            await link.rename(src, dst)
            return models.model(paths.from_bytes(dst), await link.stat(dst))

    async def delete(self, server: str, path: str) -> None:
        """Delete a file, a symlink or a directory with everything in it."""
        path = paths.parse_path(path)
        async with self.links.use(server) as link:
            real = paths.resolve(path, link.home)
            if real.rstrip(b"/") in (b"", link.home.rstrip(b"/")):
                raise ValidationError("Refusing to delete the root or the home directory.")
            await link.remove(real)


_EMPTY_NOTEBOOK: dict[str, Any] = {
    "cells": [],
    "metadata": {},
    "nbformat": 4,
    "nbformat_minor": 5,
}


def _free_name(
    taken: set[bytes], base: str, ext: str, *, space: bool = False, first: int = 0
) -> str:
    for n in range(first, first + 10_000):
        suffix = "" if n == 0 else (f" {n}" if space else str(n))
        name = f"{base}{suffix}{ext}"
        if paths.to_bytes(name) not in taken:
            return name
    raise ConflictError("Too many untitled files here; rename some first.")


async def _stat_or_none(link: SFTPLink, real: bytes) -> Entry | None:
    from ..errors import NotFoundError

    try:
        return await link.stat(real)
    except NotFoundError:
        return None


async def _write_whole(
    link: SFTPLink, real: bytes, data: bytes, *, mode: int | None, exclusive: bool = False
) -> None:
    """Write ``data`` to a temporary name beside ``real``, then rename it over ``real``
    (``exclusive``: only if ``real`` does not exist yet). ``mode``: the file's (a save
    keeps it); None for a new file: 0666 less the remote login's umask (links.py)."""
    if mode is None:
        mode = await new_file_mode(link, real)
    temp = temp_name(real)
    handle = await link.open_new(temp)
    try:
        await link.write_at(handle, temp, data, 0)
        if exclusive and await link.exists(real):
            raise ConflictError(f"{paths.display(paths.from_bytes(real))} already exists.")
        await link.finish(handle, temp, real, mode=mode)
    except BaseException:
        await asyncio.shield(link.discard(temp))
        raise
