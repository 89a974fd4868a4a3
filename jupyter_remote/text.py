"""Text and JSON that a remote host supplies, made safe before they go anywhere local.

A remote host (or whatever answers in its place) can send any bytes: escape
sequences that retitle, clear or rewrite the user's terminal, lone surrogates
that crash ``print``, JSON nested deeper than Python's recursion limit. Every
place where remote output enters our process (``ssh/exec.py``, ``ssh/server_test.py``,
``kernels/discovery.py``, ``kernels/agent_client.py``, ``jupyter/client.py``...)
passes strings through :func:`printable` and JSON through :func:`parse_remote_json`;
the CLI applies :func:`printable` once more when it prints (defence in depth).
"""

from __future__ import annotations

import json
import re
from typing import Any

#: C0 controls, DEL, C1 controls (U+0080-U+009F: U+009B is a one-character CSI),
#: bidirectional overrides and isolates (they reorder what a reader sees), line and
#: paragraph separators, and lone surrogates (unencodable: ``print`` would raise).
_UNSAFE_REST = "\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2028\u2029\u2066-\u2069\ud800-\udfff"
_UNSAFE_RE = re.compile(f"[\x00-\x1f{_UNSAFE_REST}]")
#: The same, but newline and tab pass (multi-line text such as a stderr tail).
_UNSAFE_KEEP_LINES_RE = re.compile(f"[\x00-\x08\x0b-\x1f{_UNSAFE_REST}]")

#: Deepest JSON nesting we accept from a remote (our own answers use fewer than 8).
MAX_JSON_DEPTH = 64
#: Most "[", "{" and "," in one remote JSON answer: parsed objects take far more memory
#: than their text (``[[],[],...]``: 3 bytes of text, 56 of list each), so the size
#: bound alone does not bound memory. Our answers hold a few thousand.
MAX_JSON_ITEMS = 250_000


_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def ascii_digits(text: str) -> bool:
    """Whether ``text`` is one or more ASCII digits, so ``int(text)`` takes it. Called on
    numbers a remote printed (sacct, scontrol, nvidia-smi): ``str.isdigit`` also accepts
    '²', on which ``int`` raises (review s29 S3), and '٣', which ``int`` reads as 3 though
    no such tool writes it."""
    return text.isascii() and text.isdigit()


def printable(text: str, *, keep_newlines: bool = False) -> str:
    """``text`` with every control character shown as a visible escape (ESC -> ``\\x1b``).

    Called on each string a remote supplies before it reaches a terminal, a log line,
    the UI or a JSON answer. ``keep_newlines`` lets ``\\n`` and ``\\t`` through (for
    multi-line details); ``\\r`` is always escaped (it would overwrite a line).
    """
    pattern = _UNSAFE_KEEP_LINES_RE if keep_newlines else _UNSAFE_RE
    return pattern.sub(_escape, text)


def printable_tree(value: Any) -> Any:
    """A copy of a JSON value with :func:`printable` applied to every string, keys included.

    Called on remote answers handed on as they are (remote kernel list entries, the
    probe's own description). Values nested deeper than :data:`MAX_JSON_DEPTH` never
    get here (:func:`parse_remote_json` refuses them).
    """
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, dict):
        return {printable(str(k)): printable_tree(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [printable_tree(v) for v in value]
    return value


class RemoteJSONError(ValueError):
    """A remote answer that is not acceptable JSON; ``str()`` says why, for a message."""


def parse_remote_json(
    text: str, *, max_depth: int = MAX_JSON_DEPTH, max_items: int = MAX_JSON_ITEMS
) -> Any:
    """Parse JSON a remote sent, refusing what would hurt us later.

    Called by the agent client, discovery and ``RemoteManager.check_python`` on
    output ``ssh.exec.run`` has already bounded in size. Raises
    :class:`RemoteJSONError` for invalid JSON, for more than ``max_items`` values,
    for nesting deeper than ``max_depth`` (200,000 ``[`` make ``json.loads`` raise
    RecursionError; a few hundred would make a later ``json.dumps`` or recursive
    walk do so) and for NaN/Infinity, which are not JSON.
    """
    if text.count("[") + text.count("{") + text.count(",") > max_items:
        raise RemoteJSONError(f"the answer holds more than {max_items:,} JSON values")
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise RemoteJSONError("the answer is JSON nested too deeply") from None
    except RemoteJSONError:
        raise
    except ValueError as exc:
        raise RemoteJSONError(f"the answer is not valid JSON ({exc.__class__.__name__})") from None
    if _deeper_than(value, max_depth):
        raise RemoteJSONError(f"the answer is JSON nested deeper than {max_depth} levels")
    return value


def _no_constant(name: str) -> Any:
    raise RemoteJSONError(f"the answer holds {name}, which is not a JSON value")


def _deeper_than(value: Any, limit: int) -> bool:
    """True when ``value`` nests containers more than ``limit`` deep (no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False
