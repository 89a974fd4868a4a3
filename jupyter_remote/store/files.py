"""Private files written atomically: the one place that writes our local JSON state.

Called (in worker threads: these block) by ``store.Store`` for servers, profiles and
host keys and by ``kernels.discovery`` for its cache. Directories are 0700 and files
0600 from their first byte (``mkstemp`` creates them so), replaced in one
``os.replace`` after an ``fsync``, so a reader never sees half a file and a crash
never leaves one.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def private_dir(path: Path) -> None:
    """``path`` (and missing parents) exists with mode 0700."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)


def write_private_json(path: Path, data: Mapping[str, Any], *, indent: int = 2) -> None:
    """Replace ``path`` with ``data`` as JSON, atomically, 0600; its directory must exist."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=indent, sort_keys=True)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def read_json_object(path: Path) -> dict[str, Any] | None:
    """The JSON object in ``path``; None if the file does not exist. Raises OSError or
    ValueError for an unreadable or malformed file (the caller decides what that means);
    a valid file holding something other than an object reads as an empty object."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        return None
    return data if isinstance(data, dict) else {}
