"""Durations as people write and read them: ``15m``, ``1h30m``, ``90s``, ``never``.

One human form everywhere an idle timeout is shown (CLI tables, ``profile list``,
kernel-end messages) and one parser for what users type (``--idle-timeout``, REST
bodies, which also keep accepting integer seconds). The frontend's ``duration.ts``
parses and formats the same way; ``tests/duration_examples.json`` is the table both
test suites check.
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import ValidationError

#: The longest idle timeout a profile may have: 30 days.
MAX_IDLE_TIMEOUT = 30 * 86400
#: Units, largest first: the symbol the formatter writes, its seconds, the words accepted.
UNITS = (
    ("w", 7 * 86400, ("w", "wk", "week", "weeks")),
    ("d", 86400, ("d", "day", "days")),
    ("h", 3600, ("h", "hr", "hrs", "hour", "hours")),
    ("m", 60, ("m", "min", "mins", "minute", "minutes")),
    ("s", 1, ("s", "sec", "secs", "second", "seconds")),
)
NEVER = ("never", "off", "none")
#: What a duration looks like, said in every refusal.
DURATION_HELP = "Use a duration such as 15m, 1h, 1h30m, 90s, 900 (seconds) or never."
_PART = re.compile(r"\s*([0-9]{1,9})\s*([a-z]+)\s*")
_SECONDS = re.compile(r"[0-9]{1,9}")
_WORDS = {word: (rank, seconds) for rank, (_, seconds, words) in enumerate(UNITS) for word in words}


def parse_duration(
    value: Any, what: str = "idle_timeout", *, maximum: int = MAX_IDLE_TIMEOUT
) -> int:
    """Seconds from an int or a text such as ``15m``, ``1h30m``, ``900``, ``never`` (0).

    Called by the profile record (REST bodies, the CLI's ``--idle-timeout``, admin
    config); anything else is a ValidationError on ``what`` (400, exit 2)."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValidationError(f"{what} must be a duration. {DURATION_HELP}", field=what)
    seconds = value if isinstance(value, int) else _parse_text(value, what)
    if not 0 <= seconds <= maximum:
        raise ValidationError(
            f"{what} must be between 0 (never) and {format_duration(maximum)}.",
            field=what,
            hint=DURATION_HELP,
        )
    return seconds


def _parse_text(text: str, what: str) -> int:
    if not 1 <= len(text) <= 64:  # as the OpenAPI document says
        raise ValidationError(f"{what} must be a duration. {DURATION_HELP}", field=what)
    words = text.strip().lower()
    if words in NEVER:
        return 0
    if _SECONDS.fullmatch(words):
        return int(words)
    total, pos, last_rank = 0, 0, -1
    while pos < len(words):
        part = _PART.match(words, pos)
        unit = _WORDS.get(part.group(2)) if part else None
        if part is None or unit is None or unit[0] <= last_rank:
            raise ValidationError(
                f"{what} {text[:40]!r} is not a duration.", field=what, hint=DURATION_HELP
            )
        last_rank = unit[0]
        total += int(part.group(1)) * unit[1]
        pos = part.end()
    if last_rank < 0:
        raise ValidationError(f"{what} must not be empty.", field=what, hint=DURATION_HELP)
    return total


def format_duration(seconds: int) -> str:
    """``never`` for 0, else days, hours, minutes and seconds run together: ``1d2h``,
    ``1h30m``, ``15m``, ``1m30s`` (what :func:`parse_duration` reads back)."""
    if seconds <= 0:
        return "never"
    parts = []
    rest = int(seconds)
    for symbol, size, _ in UNITS[1:]:  # a week reads better as 7d than 1w
        count, rest = divmod(rest, size)
        if count:
            parts.append(f"{count}{symbol}")
    return "".join(parts)
