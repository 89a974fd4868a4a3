"""Chunked uploads through REST (JupyterLab's drag and drop sends files in chunks).

Chunk 1 creates a temporary file beside the target with a random name
(``.NAME.jr-part-<hex>``, mode 0600: it gets the file's mode at the end, the replaced
file's or, new, 0666 less the remote login's umask, ``links.new_file_mode``); the following
chunks are written at the offset the upload has reached (a client that says another
``offset`` gets 409 with ours, so it can resume after a failed request); chunk -1
writes the last bytes, gives the file its mode and renames it over the target.
Cancel, an upload left alone for :data:`EXPIRE_SECONDS` and server shutdown remove
the temporary file: a partial file never appears under the final name.
Called by ``files/service.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any

from ..errors import ConflictError, NotFoundError, ValidationError
from ..ssh.sftp import Entry, SFTPLink, temp_name
from . import paths
from .links import Links, new_file_mode
from .progress import transfer

EXPIRE_SECONDS = 600.0
MAX_CHUNK_NUMBER = 10_000_000


@dataclass
class _Upload:
    server: str
    real: bytes
    temp: bytes
    mode: int
    link: SFTPLink
    handle: Any
    offset: int = 0
    expiry: asyncio.TimerHandle | None = None


class Uploads:
    """Uploads in progress, by (server, remote path)."""

    def __init__(self, links: Links) -> None:
        self.links = links
        self._active: dict[tuple[str, bytes], _Upload] = {}
        self._locks: dict[tuple[str, bytes], asyncio.Lock] = {}
        self._cleanups: set[asyncio.Task[None]] = set()

    def active(self) -> list[dict[str, Any]]:
        """What is being uploaded (for tests and the log)."""
        return [
            {"server": server, "path": paths.from_bytes(real), "offset": up.offset}
            for (server, real), up in self._active.items()
        ]

    async def chunk(
        self, server: str, path: str, number: Any, data: bytes, *, offset: Any = None
    ) -> tuple[Entry, bytes]:
        """Write one chunk; the file's entry and path once the last one is in."""
        if isinstance(number, bool) or not isinstance(number, int) or number == 0:
            raise ValidationError("chunk must be 1, 2, ... or -1 for the last.", field="chunk")
        if not -1 <= number <= MAX_CHUNK_NUMBER:
            raise ValidationError("chunk is out of range.", field="chunk")
        if offset is not None and (isinstance(offset, bool) or not isinstance(offset, int)):
            raise ValidationError("offset must be a whole number.", field="offset")
        async with self.links.use(server) as link:
            real = paths.resolve(path, link.home)
            key = (server, real)
            async with self._locks.setdefault(key, asyncio.Lock()):
                if number == 1:
                    await self._start(key, link)
                upload = self._active.get(key)
                if upload is None:
                    raise ConflictError(
                        f"No upload of {paths.display(path)} is in progress.",
                        hint="Start the upload again from the first chunk.",
                    )
                await self._write(upload, link, data, offset)
                shown = paths.from_bytes(real)
                if number != -1:
                    self._touch(key, upload)
                    transfer(server, shown, "upload", "running", upload.offset)
                    return await link.stat(upload.temp), real
                del self._active[key]
                if upload.expiry is not None:
                    upload.expiry.cancel()
                await link.finish(upload.handle, upload.temp, upload.real, mode=upload.mode)
                transfer(server, shown, "upload", "done", upload.offset)
                return await link.stat(real), real

    async def _start(self, key: tuple[str, bytes], link: SFTPLink) -> None:
        old = self._active.pop(key, None)
        if old is not None:
            await self._discard(old)
        real = key[1]
        mode = 0
        with contextlib.suppress(NotFoundError):
            current = await link.stat(real)
            if current.kind == "directory":
                raise ConflictError(f"{paths.display(paths.from_bytes(real))} is a directory.")
            mode = current.permissions
        mode = mode or await new_file_mode(link, real)
        temp = temp_name(real)
        handle = await link.open_new(temp)
        self._active[key] = _Upload(key[0], real, temp, mode, link, handle)

    async def _write(self, upload: _Upload, link: SFTPLink, data: bytes, offset: Any) -> None:
        if offset is not None and offset != upload.offset:
            raise ConflictError(
                f"The upload is at byte {upload.offset:,}, not {offset:,}.",
                hint="Send the chunk that starts at the upload's offset.",
                offset=upload.offset,
            )
        if upload.link is not link:  # the connection was replaced: reopen our file
            upload.handle = await link.open_append(upload.temp)
            upload.link = link
        await link.write_at(upload.handle, upload.temp, data, upload.offset)
        upload.offset += len(data)

    def _touch(self, key: tuple[str, bytes], upload: _Upload) -> None:
        if upload.expiry is not None:
            upload.expiry.cancel()
        loop = asyncio.get_running_loop()
        upload.expiry = loop.call_later(EXPIRE_SECONDS, self._expire, key, upload)

    def _expire(self, key: tuple[str, bytes], upload: _Upload) -> None:
        if self._active.get(key) is upload:
            del self._active[key]
            shown = paths.from_bytes(upload.real)
            left = f"no chunk for {EXPIRE_SECONDS:.0f} s"
            transfer(upload.server, shown, "upload", "cancelled", upload.offset, message=left)
            task = asyncio.ensure_future(self._discard(upload))
            self._cleanups.add(task)
            task.add_done_callback(self._cleanups.discard)

    async def _discard(self, upload: _Upload) -> None:
        if upload.expiry is not None:
            upload.expiry.cancel()
        if not upload.link.closed:
            await upload.link.discard(upload.temp, upload.handle)
            return
        with contextlib.suppress(Exception):  # the connection was lost: a new one
            async with self.links.use(upload.server) as link:
                await link.discard(upload.temp)

    async def cancel(self, server: str, path: str) -> bool:
        """Stop an upload and remove its temporary file; False when none was running."""
        async with self.links.use(server) as link:
            key = (server, paths.resolve(path, link.home))
        async with self._locks.setdefault(key, asyncio.Lock()):
            upload = self._active.pop(key, None)
            if upload is None:
                return False
            await self._discard(upload)
            transfer(server, paths.from_bytes(upload.real), "upload", "cancelled", upload.offset)
            return True

    async def close(self) -> None:
        """Server shutdown: every unfinished upload's temporary file removed."""
        uploads = list(self._active.values())
        self._active.clear()
        for upload in uploads:
            await self._discard(upload)
        if self._cleanups:
            await asyncio.gather(*self._cleanups, return_exceptions=True)
