"""Paths of remote files: validated as data, carried as text, sent as bytes.

A name on a POSIX remote is any bytes but NUL and ``/``; it need not be UTF-8. In our
process and in JSON a path is a ``str`` in which every byte that is not valid UTF-8
is a lone surrogate U+DC80-U+DCFF (Python's ``surrogateescape``), so every name
round-trips exactly: JSON carries lone surrogates as ``\\udcXX`` escapes, URLs as
``%XX`` bytes (labextension ``files/paths.ts`` writes them so). What a person reads
goes through :func:`display` (control characters and undecodable bytes escaped).

REST handlers and the CLI call :func:`parse_path`; ``files/`` modules call the rest.
"""

from __future__ import annotations

import posixpath
import re
from typing import Any

from ..errors import RemoteCommandError, ValidationError
from ..text import printable

#: Longest path we accept, in bytes on the remote (Linux PATH_MAX).
MAX_PATH_BYTES = 4096
_BAD_SURROGATE = re.compile("[\ud800-\udc7f\udd00-\udfff]")


def parse_path(value: Any, what: str = "path") -> str:
    """A remote path from a user: absolute or ``~``-relative, no NUL, at most 4096
    bytes; refused with a 400 (exit 2) naming ``what`` otherwise. Never normalised
    (``..`` is the remote's to resolve, as SFTP does for the user's own account)."""
    if not isinstance(value, str):
        raise ValidationError(f"{what} must be a string.", field=what)
    if not value:
        raise ValidationError(f"{what} must not be empty.", field=what)
    if "\x00" in value:
        raise ValidationError(f"{what} must not contain NUL.", field=what)
    if _BAD_SURROGATE.search(value):
        raise ValidationError(f"{what} is not a valid path (stray surrogate).", field=what)
    if len(to_bytes(value)) > MAX_PATH_BYTES:
        raise ValidationError(f"{what} is too long (at most {MAX_PATH_BYTES} bytes).", field=what)
    if not (value.startswith("/") or value == "~" or value.startswith("~/")):
        raise ValidationError(
            f"{what} must be an absolute path on the remote or start with ~/.",
            field=what,
            hint="For example ~/project/train.ipynb or /scratch/data.csv.",
        )
    return value


def from_url(captured: str) -> str:
    """The remote path of a route's ``path`` group: ``~`` and ``~/x`` as they are,
    anything else absolute (``/remote/servers/NAME/files/home/a`` is ``/home/a``)."""
    if captured == "~" or captured.startswith("~/"):
        return captured
    return "/" + captured


def to_bytes(path: str) -> bytes:
    return path.encode("utf-8", "surrogateescape")


def from_bytes(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def resolve(path: str, home: bytes) -> bytes:
    """``path`` as the remote's bytes, ``~`` replaced by the SFTP session's home."""
    if path == "~":
        return home
    if path.startswith("~/"):
        return home.rstrip(b"/") + b"/" + to_bytes(path[2:])
    return to_bytes(path)


def check_home(home: bytes, server: str) -> bytes:
    """The home directory the remote's SFTP server answered (``realpath(".")``), checked
    when ``links.py`` opens a link: refused unless absolute and normalized (no ``.``,
    ``..`` or empty segment, no trailing ``/``). Every ``~`` path and the models built on
    it carry the home to the browser; a hostile remote's ``/../../api/shutdown`` there
    made a notebook's POST leave the files route (review s22 F2)."""
    normal = home.startswith(b"/") and not home.startswith(b"//")
    if normal and posixpath.normpath(home) == home and len(home) <= MAX_PATH_BYTES:
        return home
    shown = display(from_bytes(home[:200]))
    raise RemoteCommandError(
        f"The SFTP server of {server} answered {shown!r} as the home directory: not a "
        "normalized absolute path. Its files are not used; nothing was read or written.",
        hint="A remote that answers so is misconfigured or hostile. Check the account's home "
        "directory there (getent passwd) and sshd's `Subsystem sftp` setting.",
    )


def display(name: str) -> str:
    """A name or path for people: control characters, bidi overrides and undecodable
    bytes shown as escapes (``\\x1b``, ``\\udcff``); valid names are unchanged."""
    return printable(name)


def join(parent: str, name: str) -> str:
    return posixpath.join(parent, name)


def parent_of(path: str) -> str:
    head = posixpath.dirname(path.rstrip("/")) if path not in ("/", "~") else path
    return head or "/"


def basename(path: str) -> str:
    return posixpath.basename(path.rstrip("/")) or path


def check_name(name: Any, what: str = "name") -> str:
    """One path component a user typed (new names): no ``/``, not ``.`` or ``..``."""
    if not isinstance(name, str) or not name or "/" in name or name in (".", ".."):
        raise ValidationError(f"{what} must be a file name without '/'.", field=what)
    parse_path("/" + name, what)
    return name
