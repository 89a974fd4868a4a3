"""Shared plumbing of CLI commands: the manager, config, secrets prompts, output, errors."""

from __future__ import annotations

import asyncio
import getpass
import json
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from ..errors import RemoteError, ValidationError
from ..manager import RemoteManager, manager_from_config
from ..text import printable


def make_manager() -> RemoteManager:
    """A fresh manager for one CLI command, with admin-defined servers and profiles."""
    return manager_from_config()


def read_secret(what: str) -> str:
    """Prompt on a terminal, else read one line from stdin (never from argv or env)."""
    if sys.stdin is not None and sys.stdin.isatty():
        value = getpass.getpass(f"{what}: ")
    else:
        line = sys.stdin.readline() if sys.stdin is not None else ""
        value = line[:-1] if line.endswith("\n") else line
    if not value:
        raise ValidationError(
            f"No {what.lower()} given.",
            hint="Type it at the prompt, or pipe it on standard input "
            "(e.g. from your password manager).",
        )
    return value


def print_json(data: Any) -> None:
    """``--json`` output: json.dumps escapes every control character (ensure_ascii)."""
    print(json.dumps(data, indent=2, sort_keys=True))


def print_table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> None:
    """Rows under upper-case headers; cells with control characters escaped (they may be
    a remote's words: a terminal must not act on them)."""
    text_rows = [[("" if c is None else printable(str(c))) for c in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in text_rows)]) for i, h in enumerate(headers)]
    print("  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    for row in text_rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def print_listing(
    args: Any,
    items: Sequence[dict[str, Any]],
    *,
    empty: str,
    headers: Sequence[str],
    row: Callable[[dict[str, Any]], Sequence[Any]],
) -> int:
    """What every ``list`` command prints: the items as JSON with ``--json``, ``empty``
    (how to add one) when there are none, else a table of ``row(item)`` under ``headers``."""
    if args.json:
        print_json(items)
    elif not items:
        print(empty)
    else:
        print_table([row(item) for item in items], headers)
    return 0


def progress(message: str) -> None:
    """Progress lines go to stderr on a terminal only, so --json output stays clean."""
    if sys.stderr.isatty():
        print(printable(message), file=sys.stderr, flush=True)


def report_error(exc: RemoteError, *, as_json: bool) -> int:
    """Message and hint on stderr (control characters escaped), ``--json`` also on stdout."""
    if as_json:
        print_json({"error": exc.to_json()})
    print(f"error: {printable(exc.message, keep_newlines=True)}", file=sys.stderr)
    if exc.details.get("field"):  # which input was refused (ValidationError)
        print(f"field: {printable(str(exc.details['field']))}", file=sys.stderr)
    if exc.hint:
        print(f"hint: {printable(exc.hint, keep_newlines=True)}", file=sys.stderr)
    return exc.exit_code


Command = Callable[[RemoteManager, Any], Awaitable[int]]


def run(command: Command, args: Any) -> int:
    """Run one async command with a fresh manager; map RemoteError to its exit code."""

    async def main() -> int:
        manager = make_manager()
        try:
            return await command(manager, args)
        finally:
            await manager.close()

    try:
        return asyncio.run(main())
    except RemoteError as exc:
        return report_error(exc, as_json=getattr(args, "json", False))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
