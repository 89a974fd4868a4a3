"""Jupyter contents models of remote files, and the content of what is saved.

The shapes are those of Jupyter's ``/api/contents`` (name, path, type, format,
mimetype, content, created, last_modified, writable, size), so the frontend's drive
hands them to JupyterLab unchanged. ``path`` is the remote path exactly (see
``paths.py``); ``name`` is for display (escaped when the name is hostile). Called by
``files/service.py``.
"""

from __future__ import annotations

import base64
import binascii
import mimetypes
from datetime import datetime, timezone
from typing import Any

from ..errors import RemoteFileError, ValidationError
from ..ssh.sftp import Entry
from . import paths

#: Largest file opened in an editor or notebook (larger ones are downloaded).
MAX_OPEN_BYTES = 128 * 1024 * 1024


def _nbformat() -> Any:
    """nbformat, imported on first use: it loads jsonschema, whose format checkers cost
    about 1.5 s of start-up, and the CLI imports this module for every command."""
    import nbformat

    return nbformat


def timestamp(mtime: float) -> str:
    """An SFTP modification time (seconds) as Jupyter writes ``last_modified``."""
    return datetime.fromtimestamp(mtime, tz=timezone.utc).isoformat().replace("+00:00", "Z")


def parse_timestamp(value: Any, what: str = "last_modified") -> float:
    if not isinstance(value, str) or len(value) > 64:
        raise ValidationError(f"{what} must be an ISO 8601 time.", field=what)
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise ValidationError(f"{what} must be an ISO 8601 time.", field=what) from None


def kind_of(path: str, entry: Entry) -> str:
    if entry.kind == "directory":
        return "directory"
    if path.endswith(".ipynb") and entry.kind == "file":
        return "notebook"
    return "file"


def model(path: str, entry: Entry) -> dict[str, Any]:
    """The model without content (listings, answers to saves and renames)."""
    kind = kind_of(path, entry)
    when = timestamp(entry.mtime)
    mimetype = None
    if kind == "file":
        mimetype = mimetypes.guess_type(path)[0] or "text/plain"
    return {
        "name": paths.display(paths.basename(path)),
        "path": path,
        "type": kind,
        "format": None,
        "mimetype": mimetype,
        "content": None,
        "created": when,
        "last_modified": when,
        "writable": entry.writable,
        "size": entry.size if kind != "directory" else None,
        "symlink": entry.link,
    }


def with_file_content(
    result: dict[str, Any], data: bytes, *, want: str | None, as_notebook: bool
) -> dict[str, Any]:
    """Fill ``content``/``format`` of a file or notebook model from its bytes."""
    if as_notebook:
        try:
            notebook = _nbformat().reads(data.decode("utf-8"), as_version=4)
        except Exception as exc:  # nbformat raises many kinds on a broken file
            raise RemoteFileError(
                f"{paths.display(result['path'])} is not a readable notebook: "
                f"{paths.display(str(exc))[:300]}",
                hint="Open it with the text editor (right-click, Open With, Editor).",
            ) from None
        result.update(type="notebook", format="json", content=notebook, mimetype=None)
        return result
    if want != "base64":
        try:
            result.update(format="text", content=data.decode("utf-8"))
            return result
        except UnicodeDecodeError:
            if want == "text":
                raise RemoteFileError(
                    f"{paths.display(result['path'])} is not UTF-8 text.",
                    hint="Open it as a binary file (format=base64) or download it.",
                ) from None
    result.update(
        format="base64",
        content=base64.b64encode(data).decode("ascii"),
        mimetype=result.get("mimetype") or "application/octet-stream",
    )
    return result


def content_bytes(body: dict[str, Any]) -> bytes:
    """What to write for a model a client saves (notebook, text or base64 file)."""
    kind, fmt, content = body.get("type"), body.get("format"), body.get("content")
    if kind == "notebook":
        if not isinstance(content, dict):
            raise ValidationError("A notebook's content must be a JSON object.", field="content")
        try:
            nbformat = _nbformat()
            notebook = nbformat.from_dict(content)
            return nbformat.writes(notebook, version=nbformat.NO_CONVERT).encode("utf-8")
        except Exception:
            raise ValidationError("The notebook could not be written.", field="content") from None
    if kind != "file":
        raise ValidationError("type must be file, notebook or directory.", field="type")
    if not isinstance(content, str):
        raise ValidationError("A file's content must be a string.", field="content")
    if fmt == "text":
        return content.encode("utf-8", "surrogateescape")
    if fmt == "base64":
        try:
            return base64.b64decode(content.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError):
            raise ValidationError("content is not valid base64.", field="content") from None
    raise ValidationError("format must be text or base64.", field="format")
