"""Copying whole files between this machine and a remote (``jupyter remote files
get|put``, the bench), with progress, cancel and resume after a dropped link.

Both directions keep a window of SFTP block requests in flight (``ssh/sftp_pipeline.py``) and
touch the local disk in a thread, 8 MiB at a time (a download's blocks go to the file in
one ``writev``, never joined). The destination is written under a
temporary name (``.NAME.jr-part-<random>``) and renamed at the end; a cancel (Ctrl-C,
task cancelled) or a failure removes it, so the final name only ever holds a whole
file. When the connection drops midway, the transfer reconnects (the pool opens a new
connection) and goes on from the last byte known written, up to :data:`RETRIES` times.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import secrets
import sys
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from ..errors import NotFoundError, RemoteFileChangedError, SSHConnectError, ValidationError
from ..ssh.sftp import TEMP_MARK, SFTPLink, temp_name
from . import paths
from .links import new_file_mode
from .progress import Reporter

LOCAL_CHUNK = 8 * 1024 * 1024
#: Most buffers one ``writev`` takes (POSIX's IOV_MAX on Linux).
IOV_MAX = 1024
RETRIES = 3
RETRY_PAUSE = 1.0

#: glibc's mallopt parameters and what ``steady_allocator`` sets them to: blocks from
#: 4 MiB up are mapped on their own, and the heap gives memory back past 32 MiB free.
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
MMAP_THRESHOLD, TRIM_THRESHOLD = 4 << 20, 32 << 20

#: progress(done_bytes, total_bytes)
Progress = Callable[[int, int], None]


def _no_progress(done: int, total: int) -> None:
    pass


def steady_allocator() -> None:
    """Keep this process's freed buffers for reuse (glibc only; elsewhere nothing):
    called by the CLI's ``files get|put`` (and the bench, as the CLI) before a transfer,
    and by every ``RelayedChannels`` (kernels/relay_link.py), so it also runs in the
    Jupyter server process: process-wide, for every extension loaded there, and up to
    32 MiB of freed heap may stay with each malloc arena. asyncssh parses every 32 KiB
    packet by slicing its input buffer, a new bytes of up to 256 KiB; past 128 KiB glibc
    maps each one fresh and unmaps it when freed, so a 1 GiB download page-faulted
    ~390,000 times (~0.8 s of kernel time, bench metric 8). Fixed thresholds keep such
    blocks in the heap."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        mallopt = ctypes.CDLL(None).mallopt
        mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
        mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)


def local_target(remote: str, local: str | None) -> Path:
    """Where ``get`` writes: ``local``, or inside it when it is a directory, or the
    remote file's name in the working directory."""
    name = paths.basename(remote)
    if local is None:
        return Path.cwd() / name
    target = Path(os.path.expanduser(local))
    return target / name if target.is_dir() else target


async def download(
    files: Any, server: str, remote: str, local: str | None, progress: Progress = _no_progress
) -> Path:
    """Copy remote file ``remote`` to this machine; returns where it went."""
    remote = paths.parse_path(remote)
    target = await asyncio.to_thread(local_target, remote, local)
    temp = target.with_name(f".{target.name[:120]}{TEMP_MARK}{secrets.token_hex(8)}")
    fd = await asyncio.to_thread(os.open, temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    disk = _DiskWriter(fd)
    report = Reporter(server, remote, "download", None)

    def count(done: int, total: int) -> None:
        report.total = total
        report.running(done)
        progress(done, total)

    try:
        size = await _download_into(files, server, remote, disk, count)
        await asyncio.to_thread(disk.close)
        await asyncio.to_thread(os.chmod, temp, 0o644 & ~_umask())
        await asyncio.to_thread(os.replace, temp, target)
        progress(size, size)
        report.ended("done", done=size)
        return target
    except BaseException as exc:
        disk.close_soon()
        with contextlib.suppress(OSError):
            os.unlink(temp)
        report.ended(*_how_it_ended(exc), done=report.last)
        raise


class _DiskWriter:
    """Writes to the local file in a thread while the next bytes arrive: one ``writev`` of
    up to :data:`LOCAL_CHUNK` bytes at a time, in order (``download``'s side of the disk).

    It owns the descriptor: a write and the close exclude each other (``_lock``), so the
    close always comes after a write under way, however often the task awaiting that
    write was cancelled, and a write that had not begun by then never touches the number
    (which the process may have given to another file meanwhile)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.written = 0  # bytes surely in the file
        self._writing: asyncio.Future[Any] | None = None
        self._size = 0
        self._lock = threading.Lock()
        self._closed = False

    async def put(self, blocks: list[bytes]) -> None:
        """Start writing ``blocks`` once the previous write is done."""
        await self.drain()
        self._writing = asyncio.ensure_future(asyncio.to_thread(self._write, blocks))
        self._size = sum(map(len, blocks))

    def _write(self, blocks: list[bytes]) -> None:
        """In a worker thread: append ``blocks``, unless the file was closed meanwhile."""
        with self._lock:
            if not self._closed:
                _write_all(self.fd, blocks)

    def close(self) -> None:
        """Close the file once no write runs (waits for one: call it in a thread)."""
        with self._lock:
            self._close_locked()

    def close_soon(self) -> None:
        """From the event loop, for a download that ends by an error or a cancel: close
        now when no write runs, else in a thread right after the write (never waits)."""
        if self._lock.acquire(blocking=False):
            try:
                self._close_locked()
            finally:
                self._lock.release()
        else:
            threading.Thread(target=self.close, name="jr-download-close").start()

    def _close_locked(self) -> None:
        if not self._closed:
            self._closed = True
            with contextlib.suppress(OSError):
                os.close(self.fd)

    async def drain(self) -> None:
        """Wait for the write under way (if any); ``written`` then counts it."""
        if self._writing is not None:
            writing, self._writing = self._writing, None
            await writing
            self.written += self._size


def _write_all(fd: int, blocks: list[bytes]) -> None:
    """Append ``blocks`` to ``fd`` with as few ``writev`` calls as it takes (a thread of
    :class:`_DiskWriter`): no joined copy of 8 MiB per write."""
    views = [memoryview(b) for b in blocks if b]
    while views:
        done = os.writev(fd, views[:IOV_MAX])
        while views and done >= len(views[0]):
            done -= len(views[0])
            views.pop(0)
        if done:
            views[0] = views[0][done:]


async def _download_into(
    files: Any, server: str, remote: str, disk: _DiskWriter, progress: Progress
) -> int:
    total, failures = 0, 0
    version: tuple[Any, Any] | None = None  # size and time of the file the bytes are from
    try:
        while True:
            try:
                model, chunks = await files.stream(server, remote, offset=disk.written)
                seen = (model.get("size"), model.get("last_modified"))
                if version is not None and seen != version:  # resumed on another version
                    raise RemoteFileChangedError(
                        f"{paths.display(remote)} changed on the remote while it was "
                        "downloaded (the connection dropped meanwhile); nothing was kept.",
                        hint="Download it again once it no longer changes.",
                    )
                version = seen
                total = int(model["size"] or 0)
                await _copy_chunks(chunks, disk, progress, total)
                await disk.drain()
                return disk.written
            except SSHConnectError:
                failures += 1
                if failures > RETRIES:
                    raise
                await disk.drain()
                await asyncio.sleep(RETRY_PAUSE)
    finally:
        with contextlib.suppress(BaseException):
            await asyncio.shield(disk.drain())  # its count, if a write was under way


async def _copy_chunks(
    chunks: AsyncIterator[bytes], disk: _DiskWriter, progress: Progress, total: int
) -> None:
    """Gather arriving chunks into writes of :data:`LOCAL_CHUNK` bytes; the disk writes
    while the next ones arrive."""
    buffer: list[bytes] = []
    buffered = 0
    async for chunk in chunks:
        buffer.append(chunk)
        buffered += len(chunk)
        if buffered >= LOCAL_CHUNK:
            await disk.put(buffer)
            buffer, buffered = [], 0
            progress(disk.written, total)
    if buffer:
        await disk.put(buffer)


def _how_it_ended(exc: BaseException) -> tuple[str, str]:
    """(state, message) of a transfer stopped by ``exc``: cancelled or failed."""
    if isinstance(exc, (asyncio.CancelledError, KeyboardInterrupt)):
        return "cancelled", ""
    return "failed", str(exc)[:300]


def _local_file(local: str) -> tuple[Path, int]:
    path = Path(os.path.expanduser(local))
    if not path.is_file():
        raise ValidationError(f"{local} is not a file on this machine.", field="LOCAL")
    return path, path.stat().st_size


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


async def _read_local(source: Any, start: int) -> AsyncIterator[bytes]:
    await asyncio.to_thread(source.seek, start)
    while True:
        data = await asyncio.to_thread(source.read, LOCAL_CHUNK)
        if not data:
            return
        yield data


async def upload(
    files: Any, server: str, local: str, remote: str, progress: Progress = _no_progress
) -> dict[str, Any]:
    """Copy local file ``local`` to ``remote`` (a file path, or a directory to put it
    in); returns the remote file's model."""
    source_path, total = await asyncio.to_thread(_local_file, local)
    remote = paths.parse_path(remote)
    async with contextlib.AsyncExitStack() as held:  # the links stay ours until the end
        link = await held.enter_async_context(files.links.use(server))
        real = paths.resolve(remote, link.home)
        if await link.exists(real) and (await link.stat(real)).kind == "directory":
            real = real.rstrip(b"/") + b"/" + paths.to_bytes(source_path.name)
        temp = temp_name(real)
        state: dict[str, Any] = {"done": 0, "link": link, "handle": await link.open_new(temp)}
        report = Reporter(server, paths.from_bytes(real), "upload", total)

        def count(done: int, size: int) -> None:
            report.running(done)
            progress(done, size)

        try:
            source = await asyncio.to_thread(open, source_path, "rb")
            try:
                await _upload_from(files, server, source, temp, state, total, count, held)
            finally:
                await asyncio.to_thread(source.close)
            mode = await _upload_mode(state["link"], real)
            await state["link"].finish(state["handle"], temp, real, mode=mode)
            report.ended("done", done=state["done"])
        except BaseException as exc:
            await asyncio.shield(_discard(files, server, state, temp))
            report.ended(*_how_it_ended(exc), done=state["done"])
            raise
    return dict(await files.get(server, paths.from_bytes(real), content=False))


async def _upload_mode(link: SFTPLink, real: bytes) -> int:
    """upload(), as it renames its temporary file over ``real``: the mode of the file it
    replaces (as a save keeps it), else what a new file of the user's remote login gets
    (``links.new_file_mode``: 0666 less the remote umask), as the drive's uploads do.
    It was 0644 less the laptop's umask, even over a file of another mode."""
    with contextlib.suppress(NotFoundError):
        current = await link.stat(real)
        if current.kind == "file":
            return current.permissions & 0o7777
    return await new_file_mode(link, real)


async def _upload_from(
    files: Any,
    server: str,
    source: Any,
    temp: bytes,
    state: dict[str, Any],
    total: int,
    progress: Progress,
    held: contextlib.AsyncExitStack,
) -> None:
    """Write the local file into ``temp`` from ``state["done"]``; after a dropped link,
    reopen ``temp`` on a new connection and go on from the bytes known written."""
    failures = 0

    def count(n: int) -> None:
        state["done"] += n
        progress(state["done"], total)

    while True:
        link: SFTPLink = state["link"]
        try:
            await link.write_stream(
                state["handle"], temp, _read_local(source, state["done"]), count,
                start=state["done"],
            )  # fmt: skip
            return
        except SSHConnectError:
            failures += 1
            if failures > RETRIES:
                raise
            await asyncio.sleep(RETRY_PAUSE)
            fresh = await held.enter_async_context(files.links.use(server))
            state["link"], state["handle"] = fresh, await fresh.open_append(temp)


async def _discard(files: Any, server: str, state: dict[str, Any], temp: bytes) -> None:
    link: SFTPLink = state["link"]
    if not link.closed:
        await link.discard(temp, state["handle"])
        return
    with contextlib.suppress(Exception):
        async with files.links.use(server) as fresh:
            await fresh.discard(temp)
