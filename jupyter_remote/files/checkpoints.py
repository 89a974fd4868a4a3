"""Checkpoints of remote files, where Jupyter keeps them: ``.ipynb_checkpoints/`` beside
the file on the remote, one per file (``NAME-checkpoint.EXT``, id ``checkpoint``).

So a notebook's checkpoint travels with it (another Jupyter opening the same
directory on the remote sees it too) and nothing of the remote is kept locally. In a
shared directory another user may have made ``.ipynb_checkpoints`` (or planted a
checkpoint): a folder or checkpoint that is not the user's own, or that others may write,
is never used: no copy of the user's file goes there, nothing from it is restored.
JupyterLab creates one when a document is first saved and offers "Revert to
Checkpoint"; the drive calls these through the REST routes of ``web/files.py``.
"""

from __future__ import annotations

import posixpath
from typing import TYPE_CHECKING, Any

from ..errors import NotFoundError, RemotePermissionError, ValidationError
from . import models, paths

if TYPE_CHECKING:
    from .service import RemoteFiles

CHECKPOINT_DIR = ".ipynb_checkpoints"
CHECKPOINT_ID = "checkpoint"


def checkpoint_path(path: str) -> str:
    """``dir/.ipynb_checkpoints/stem-checkpoint.ext`` for ``dir/stem.ext``."""
    directory, name = posixpath.split(path)
    stem, ext = posixpath.splitext(name)
    return posixpath.join(directory, CHECKPOINT_DIR, f"{stem}-checkpoint{ext}")


def _not_ours(path: bytes) -> RemotePermissionError:
    shown = paths.display(paths.from_bytes(path))
    return RemotePermissionError(
        f"{shown} is not this account's own, or other users may write in it: "
        "no checkpoint is kept or restored there.",
        hint="Another user of the remote may have made it. Remove it (if you may) or "
        "ask its owner; the file itself saves normally.",
    )


async def _ours(link: Any, path: bytes, kind: str) -> bool:
    """True when ``path`` is our own private ``kind``; False when missing; raises when
    it exists but is someone else's or writable by others."""
    try:
        private = await link.is_private(path, kind)
    except NotFoundError:
        return False
    if not private:
        raise _not_ours(path)
    return True


def _check_id(checkpoint_id: str) -> None:
    if checkpoint_id != CHECKPOINT_ID:
        raise NotFoundError(f"No checkpoint {paths.display(checkpoint_id)[:64]!r}.")


class Checkpoints:
    """The checkpoint of each remote file (Jupyter's FileCheckpoints, over SFTP)."""

    def __init__(self, files: RemoteFiles) -> None:
        self.files = files

    async def list(self, server: str, path: str) -> list[dict[str, Any]]:
        path = paths.parse_path(path)
        async with self.files.links.use(server) as link:
            target = paths.resolve(checkpoint_path(path), link.home)
            try:
                if not await _ours(link, target.rpartition(b"/")[0], "directory"):
                    return []
                entry = await link.stat(target)
            except (NotFoundError, RemotePermissionError):
                return []  # none, or one we would not use
        return [{"id": CHECKPOINT_ID, "last_modified": models.timestamp(entry.mtime)}]

    async def create(self, server: str, path: str) -> dict[str, Any]:
        path = paths.parse_path(path)
        async with self.files.links.use(server) as link:
            source = paths.resolve(path, link.home)
            if (await link.stat(source)).kind == "directory":
                raise ValidationError("Directories have no checkpoints.")
            target = paths.resolve(checkpoint_path(path), link.home)
            folder = target.rpartition(b"/")[0]
            if not await _ours(link, folder, "directory"):
                await link.mkdir(folder, 0o755)
                if not await _ours(link, folder, "directory"):
                    raise _not_ours(folder)
            await link.copy(source, target)
            entry = await link.stat(target)
        return {"id": CHECKPOINT_ID, "last_modified": models.timestamp(entry.mtime)}

    async def restore(self, server: str, path: str, checkpoint_id: str) -> None:
        path = paths.parse_path(path)
        _check_id(checkpoint_id)
        async with self.files.links.use(server) as link:
            source = paths.resolve(checkpoint_path(path), link.home)
            for part, kind in ((source.rpartition(b"/")[0], "directory"), (source, "file")):
                if not await _ours(link, part, kind):
                    raise NotFoundError(f"No checkpoint of {paths.display(path)}.")
            await link.copy(source, paths.resolve(path, link.home))

    async def delete(self, server: str, path: str, checkpoint_id: str) -> None:
        path = paths.parse_path(path)
        _check_id(checkpoint_id)
        async with self.files.links.use(server) as link:
            await link.remove(paths.resolve(checkpoint_path(path), link.home))
