"""What an SFTP failure means to the user: asyncssh's SFTP and link errors turned into
ours (``RemoteError`` subclasses with a message naming the path, escaped).

Used by ``ssh/sftp.py`` and ``ssh/sftp_pipeline.py`` around every SFTP request.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import asyncssh

from ..errors import (
    ConflictError,
    NotFoundError,
    RemoteError,
    RemoteFileError,
    RemotePermissionError,
    SSHConnectError,
)
from ..text import printable

_LINK_LOST = (
    asyncssh.SFTPConnectionLost,
    asyncssh.SFTPNoConnection,
    asyncssh.DisconnectError,
    asyncssh.ConnectionLost,
    ConnectionError,
)


def shown(path: bytes) -> str:
    """A remote path as a message may show it (not UTF-8 bytes escaped, no controls)."""
    return printable(path.decode("utf-8", "backslashreplace"))


def mapped_error(exc: BaseException, path: bytes, what: str) -> RemoteError:
    """An asyncssh SFTP or link failure as our error, naming the path (escaped)."""
    name = shown(path)
    if isinstance(exc, (asyncssh.SFTPNoSuchFile, asyncssh.SFTPNoSuchPath)):
        return NotFoundError(f"No such file or directory on the remote: {name}")
    if isinstance(exc, (asyncssh.SFTPPermissionDenied, asyncssh.SFTPWriteProtect)):
        return RemotePermissionError(f"Permission denied on the remote: cannot {what} {name}")
    if isinstance(exc, asyncssh.SFTPFileAlreadyExists):
        return ConflictError(f"{name} already exists on the remote.", hint="Choose another name.")
    if isinstance(exc, _LINK_LOST):
        return SSHConnectError(f"The connection broke while trying to {what} {name}.")
    if isinstance(exc, asyncssh.SFTPError):
        reason = printable(str(exc.reason or "failure"))
        return RemoteFileError(f"Could not {what} {name}: {reason}")
    return RemoteFileError(f"Could not {what} {name}: {printable(str(exc))}")


@contextlib.contextmanager
def errors_of(path: bytes, what: str) -> Iterator[None]:
    """Turn SFTP and link failures inside the block into our errors."""
    try:
        yield
    except RemoteError:
        raise
    except (asyncssh.Error, asyncssh.SFTPError, OSError) as exc:
        raise mapped_error(exc, path, what) from None
