"""The remote command lines of a terminal: fixed text, our own names quoted (invariant 5).

Called by ``terminal.py``. Nothing the user supplies is ever part of these lines: the
user's keystrokes travel as data on the pty channel. Every line runs under
``/bin/sh`` whatever the login shell is (fish, tcsh), and starts by printing a marker
with the pid of the process that becomes the pty's session leader (the session id of
everything started on that pty), so that processes a hung-up shell left behind can be
hung up too, and a persistent terminal's old client detached. :class:`MarkerFilter`
takes the marker out of the output before anyone sees it.
"""

from __future__ import annotations

import re
import secrets
import shlex

from ..errors import ValidationError

#: tools that keep a shell alive across link drops, in the order they are preferred
MULTIPLEXERS = ("tmux", "screen")
#: a persistent terminal's session name: ours, random (not guessable), saying nothing
MUX_NAME_RE = re.compile(r"jr-[0-9a-f]{16}")
_MARKER = re.compile(rb"\x1b\]7777;jr-pty=(\d{1,10})\x07")
_MARKER_PRINTF = "printf '\\033]7777;jr-pty=%s\\007' \"$$\""
#: output held back while looking for the marker, at most
MARKER_WINDOW = 64 * 1024


def new_mux_name() -> str:
    """A name for a persistent terminal's tmux session (64 random bits)."""
    return f"jr-{secrets.token_hex(8)}"


def _checked_name(name: str) -> str:
    if not MUX_NAME_RE.fullmatch(name):
        raise ValidationError("Not a terminal session name of ours.")
    return name


def _sh(script: str) -> str:
    """``script`` run by /bin/sh, whatever the login shell (sshd runs ``$SHELL -c LINE``)."""
    return f"exec /bin/sh -c {shlex.quote(script)}"


def shell_command() -> str:
    """A login shell on the pty (the user's own shell, as ``ssh -t`` gives)."""
    return _sh(f'{_MARKER_PRINTF}; exec "${{SHELL:-/bin/sh}}" -l')


def _mux(mux: str) -> str:
    if mux not in MULTIPLEXERS:
        raise ValidationError(f"Not a terminal multiplexer: {mux[:20]!r}.")
    return mux


def attach_command(mux: str, name: str) -> str:
    """Attach to session ``name`` of ``mux`` (tmux or screen), creating it first if it does
    not exist; screen detaches a stale client of it first (``-D``)."""
    quoted = shlex.quote(_checked_name(name))
    if _mux(mux) == "tmux":
        return _sh(f"{_MARKER_PRINTF}; exec tmux new-session -A -s {quoted}")
    return _sh(f"{_MARKER_PRINTF}; exec screen -D -RR -S {quoted}")


def has_session_command(mux: str, name: str) -> str:
    """Exit 0 when session ``name`` of ``mux`` exists."""
    if _mux(mux) == "tmux":
        return _sh(f"tmux has-session -t {shlex.quote('=' + _checked_name(name))} 2>/dev/null")
    return _sh(f"screen -S {shlex.quote(_checked_name(name))} -X select . >/dev/null 2>&1")


def kill_session_command(mux: str, name: str) -> str:
    """End session ``name`` of ``mux`` and every process in it (the terminal closed for good)."""
    if _mux(mux) == "tmux":
        target = shlex.quote("=" + _checked_name(name))
        return _sh(f"tmux kill-session -t {target} 2>/dev/null; true")
    return _sh(f"screen -S {shlex.quote(_checked_name(name))} -X quit >/dev/null 2>&1; true")


def hangup_command(sid: int) -> str:
    """Hang up what is left of a pty's session ``sid`` (ours only: pkill acts on the user's
    own processes), as a terminal that closes does; stopped jobs get SIGCONT to see it.
    Processes that ignore SIGHUP (nohup) survive, as they would after ``ssh -t``."""
    if isinstance(sid, bool) or not isinstance(sid, int) or not 1 < sid < 2**31:
        raise ValidationError("Not a session id.")
    return _sh(f"pkill -HUP -s {sid} 2>/dev/null; pkill -CONT -s {sid} 2>/dev/null; true")


def multiplexers_command() -> str:
    """Print each of :data:`MULTIPLEXERS` found on the login PATH, one a line."""
    names = " ".join(MULTIPLEXERS)
    return _sh(f'for m in {names}; do command -v "$m" >/dev/null 2>&1 && echo "$m"; done; true')


class MarkerFilter:
    """Takes the session-leader marker out of a pty's first output.

    Output before the marker (an sshd message, a login banner) passes through; what
    follows it too. If no marker shows up within :data:`MARKER_WINDOW` bytes, nothing is
    held any more.
    """

    def __init__(self) -> None:
        self.sid: int | None = None
        self._held = b""
        self._done = False

    def feed(self, data: bytes) -> bytes:
        """What of ``data`` (and what was held) to show now."""
        if self._done:
            return data
        held = self._held + data
        found = _MARKER.search(held)
        if found:
            self.sid = int(found.group(1))
            self._done, self._held = True, b""
            return held[: found.start()] + held[found.end() :]
        if len(held) > MARKER_WINDOW:
            self._done, self._held = True, b""
            return held
        cut = held.rfind(b"\x1b")  # a marker may be cut in two: keep its start
        if cut == -1:
            self._held = b""
            return held
        self._held = held[cut:]
        return held[:cut]

    def flush(self) -> bytes:
        """What is still held (the channel ended)."""
        held, self._held, self._done = self._held, b"", True
        return held
