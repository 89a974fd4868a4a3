"""The remote's files over REST: /remote/servers/NAME/files/PATH and its siblings.

Thin handlers over ``manager.files`` (files/service.py), speaking Jupyter's contents
models so the frontend's drive (labextension ``files/drive.ts``) hands them to
JupyterLab as they are. PATH is the remote path without its first ``/`` (``home/a/x``
is ``/home/a/x``) or ``~``-relative (``~/x``); its bytes may be any but NUL, sent
percent-encoded, so names that are not UTF-8 work (decoded with surrogateescape).

- ``GET files/PATH?content=0|1&type=&format=`` a directory with its entries, a
  notebook, or a file (text or base64); ``PUT`` saves a model (``chunk`` for uploads,
  ``expect_modified`` to refuse overwriting a change made on the remote); ``POST``
  creates an untitled file/notebook/directory in PATH or copies ``copy_from`` there;
  ``PATCH {path}`` renames or moves; ``DELETE`` deletes.
- ``GET download/PATH`` the raw bytes (``Range: bytes=N-`` resumes);
  ``DELETE uploads/PATH`` cancels a chunked upload (its temporary file is removed).
- ``GET|POST|DELETE checkpoints/PATH`` Jupyter's checkpoints (``?restore=ID``, ``?id=ID``).
"""

from __future__ import annotations

import re
from urllib.parse import quote

from tornado import iostream

from ..errors import ValidationError
from ..files import paths
from ..files.progress import Reporter
from .base import RemoteHandler, remote_auth

PATH = r"(?P<path>.*)"
#: A notebook or a file chunk of an upload (base64) fits; Jupyter's own limit is 512 MiB.
MAX_SAVE_BODY = 256 * 1024 * 1024
#: What POST files/DIR reads: a new untitled file (type, ext) or a copy (copy_from).
NEW_FIELDS = {"type", "ext", "copy_from"}
_RANGE = re.compile(r"bytes=(\d{1,18})-(\d{0,18})")


class FilesBase(RemoteHandler):
    """Route arguments are bytes on the remote: decode ``path`` with surrogateescape."""

    def decode_argument(self, value: bytes, name: str | None = None) -> str:
        if name == "path":
            return value.decode("utf-8", "surrogateescape")
        return super().decode_argument(value, name)

    def query_flag(self, name: str, default: bool) -> bool:
        value = self.get_query_argument(name, None)
        if value is None:
            return default
        if value not in ("0", "1"):
            raise ValidationError(f"{name} must be 0 or 1.", field=name)
        return value == "1"

    def query_choice(self, name: str, choices: tuple[str, ...]) -> str | None:
        value = self.get_query_argument(name, None)
        if value is None:
            return None
        if value not in choices:
            raise ValidationError(f"{name} must be one of {', '.join(choices)}.", field=name)
        return value

    def remote_path(self, captured: str) -> str:
        return paths.parse_path(paths.from_url(captured))


class FilesHandler(FilesBase):
    """A file or directory of a server: Jupyter's contents API, over SFTP."""

    max_body = MAX_SAVE_BODY

    @remote_auth
    async def get(self, name: str, path: str = "") -> None:
        model = await self.manager.files.get(
            name,
            self.remote_path(path),
            content=self.query_flag("content", True),
            type=self.query_choice("type", ("file", "notebook", "directory")),
            format=self.query_choice("format", ("text", "base64")),
            hash=self.query_flag("hash", False),
        )
        self.reply(model)

    @remote_auth
    async def put(self, name: str, path: str = "") -> None:
        body = self.json_object()
        expect = body.pop("expect_modified", None)
        for key in ("name", "path", "created", "last_modified", "mimetype", "writable", "size"):
            body.pop(key, None)  # JupyterLab sends the whole model back
        model = await self.manager.files.save(
            name, self.remote_path(path), body, expect_modified=expect
        )
        self.reply(model)

    @remote_auth
    async def post(self, name: str, path: str = "") -> None:
        body = self.json_object()
        unknown = sorted(set(body) - NEW_FIELDS)
        if unknown:
            raise ValidationError(f"Unknown field {unknown[0][:64]!r}.", field=unknown[0][:64])
        directory = self.remote_path(path)
        if body.get("copy_from") is not None:
            model = await self.manager.files.copy(name, body["copy_from"], directory)
        else:
            model = await self.manager.files.new_untitled(
                name, directory, type=body.get("type") or "file", ext=body.get("ext") or ""
            )
        self.reply(model, 201)

    @remote_auth
    async def patch(self, name: str, path: str = "") -> None:
        body = self.json_object()
        new_path = paths.parse_path(body.get("path"), "path")
        model = await self.manager.files.rename(name, self.remote_path(path), new_path)
        self.reply(model)

    @remote_auth
    async def delete(self, name: str, path: str = "") -> None:
        await self.manager.files.delete(name, self.remote_path(path))
        self.set_status(204)
        self.finish()


class DownloadHandler(FilesBase):
    """A file's bytes as a download (never rendered on Jupyter's origin)."""

    @remote_auth
    async def get(self, name: str, path: str) -> None:
        offset, end = self._range()
        model, chunks = await self.manager.files.stream(name, self.remote_path(path), offset=offset)
        size = int(model["size"] or 0)
        self._headers_for(model["path"], size, offset)
        report = Reporter(name, model["path"], "download", size)
        sent, limit = 0, (end + 1 - offset) if end is not None else None
        try:
            async for chunk in chunks:
                if limit is not None and sent + len(chunk) > limit:
                    chunk = chunk[: limit - sent]
                self.write(chunk)
                sent += len(chunk)
                await self.flush()
                report.running(offset + sent)
                if limit is not None and sent >= limit:
                    break
        except iostream.StreamClosedError:
            report.ended("cancelled", done=offset + sent)  # the browser cancelled the download
            return
        finally:
            await chunks.aclose()  # type: ignore[attr-defined]
        self.finish()
        report.ended("done", done=offset + sent)

    def _range(self) -> tuple[int, int | None]:
        found = _RANGE.fullmatch(self.request.headers.get("Range", "").strip())
        if not found:
            return 0, None
        start = int(found.group(1))
        return start, int(found.group(2)) if found.group(2) else None

    def _headers_for(self, remote: str, size: int, offset: int) -> None:
        name = paths.basename(remote).encode("utf-8", "surrogateescape")
        self.set_header("Content-Type", "application/octet-stream")
        self.set_header("Content-Disposition", f"attachment; filename*=UTF-8''{quote(name)}")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Content-Security-Policy", "sandbox; default-src 'none'")
        self.set_header("Cache-Control", "no-store")
        self.set_header("Accept-Ranges", "bytes")
        if offset:
            self.set_status(206)
            self.set_header("Content-Range", f"bytes {offset}-{max(size - 1, offset)}/{size}")


class UploadHandler(FilesBase):
    """``DELETE``: cancel the chunked upload to PATH; its temporary file is removed."""

    @remote_auth
    async def delete(self, name: str, path: str) -> None:
        cancelled = await self.manager.files.uploads.cancel(name, self.remote_path(path))
        self.reply({"cancelled": cancelled})


class CheckpointsHandler(FilesBase):
    """Checkpoints of a remote file, kept beside it in ``.ipynb_checkpoints/``."""

    @remote_auth
    async def get(self, name: str, path: str) -> None:
        self.reply(await self.manager.files.checkpoints.list(name, self.remote_path(path)))

    @remote_auth
    async def post(self, name: str, path: str) -> None:
        checkpoints = self.manager.files.checkpoints
        restore = self.get_query_argument("restore", None)
        if restore is not None:
            await checkpoints.restore(name, self.remote_path(path), restore)
            self.set_status(204)
            self.finish()
            return
        self.reply(await checkpoints.create(name, self.remote_path(path)), 201)

    @remote_auth
    async def delete(self, name: str, path: str) -> None:
        checkpoint_id = self.get_query_argument("id", "")
        await self.manager.files.checkpoints.delete(name, self.remote_path(path), checkpoint_id)
        self.set_status(204)
        self.finish()
