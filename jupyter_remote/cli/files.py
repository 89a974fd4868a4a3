"""``jupyter remote files ls|get|put SERVER PATH [LOCAL]``: the remote's files from a shell.

PATH is on the remote: absolute, ``~``-relative, or relative to the home directory (as
``scp host:path`` reads it). Transfers show progress on a terminal (stderr), write to a
temporary name and rename at the end, so Ctrl-C leaves no partial file under the final
name; names from the remote are printed with control characters escaped.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from ..files import paths, transfers
from ..manager import RemoteManager
from ..text import printable
from .common import print_json, print_table

#: Shortest time between two progress lines.
REDRAW_SECONDS = 0.1


def remote_path(value: str) -> str:
    """What the user typed as PATH: relative paths are relative to the home directory."""
    if value in ("", "."):
        return "~"
    if value.startswith(("/", "~/")) or value == "~":
        return value
    return "~/" + value


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


class ProgressLine:
    """A transfer's progress on one stderr line, redrawn at most every 0.1 s (terminals only)."""

    def __init__(self, what: str) -> None:
        self.what = printable(what)
        self.shown = sys.stderr.isatty()
        self.start = time.monotonic()
        self.last = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if not self.shown or (now - self.last < REDRAW_SECONDS and done < total):
            return
        self.last = now
        rate = done / max(now - self.start, 1e-6)
        percent = f"{100 * done / total:3.0f}%" if total else "   "
        line = f"\r{percent} {_size(done)} / {_size(total)}  {_size(rate)}/s  {self.what}"
        print(line[:200].ljust(60), end="", file=sys.stderr, flush=True)

    def end(self) -> None:
        if self.shown:
            print(file=sys.stderr, flush=True)


async def files_ls(manager: RemoteManager, args: Any) -> int:
    """List a remote directory (one SFTP round trip per page the server sends)."""
    model = await manager.files.list(args.server, remote_path(args.path))
    entries = model["content"] or []
    if args.json:
        print_json([_entry_json(e) for e in entries])
    else:
        rows = [_entry_row(e) for e in sorted(entries, key=lambda e: e["path"])]
        print_table(rows, ["type", "size", "modified", "name"])
    if model.get("truncated"):
        print(
            f"warning: only the first {len(entries):,} entries are listed.",
            file=sys.stderr,
        )
    return 0


def _entry_json(entry: dict[str, Any]) -> dict[str, Any]:
    keys = ("name", "path", "type", "size", "last_modified", "writable", "symlink")
    return {k: entry.get(k) for k in keys}


def _entry_row(entry: dict[str, Any]) -> list[Any]:
    name = paths.display(paths.basename(entry["path"]))
    if entry["type"] == "directory":
        name += "/"
    if entry.get("symlink"):
        name += " (symlink)"
    size = "" if entry["type"] == "directory" else _size(entry.get("size") or 0)
    return [entry["type"], size, entry["last_modified"][:19].replace("T", " "), name]


async def files_get(manager: RemoteManager, args: Any) -> int:
    """Download a remote file (to LOCAL, into LOCAL if a directory, or here)."""
    path = remote_path(args.path)
    line = ProgressLine(path)
    transfers.steady_allocator()
    try:
        target = await transfers.download(manager.files, args.server, path, args.local, line)
    finally:
        line.end()
    print(printable(str(target)))
    return 0


async def files_put(manager: RemoteManager, args: Any) -> int:
    """Upload LOCAL (default: the file of PATH's name here) to PATH on the remote."""
    path = remote_path(args.path)
    local = args.local or paths.basename(path)
    line = ProgressLine(local)
    transfers.steady_allocator()
    try:
        model = await transfers.upload(manager.files, args.server, local, path, line)
    finally:
        line.end()
    print(paths.display(model["path"]))
    return 0
