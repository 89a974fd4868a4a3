"""known_hosts files read as OpenSSH reads them: line by line, never failing open.

Used by ``hostkeys.HostKeyPolicy`` (in worker threads: these read files). Each line
is parsed on its own; asyncssh's matcher decides which host a line is for (hashed
``|1|`` entries, wildcards, negations, ``[host]:port``), and ``@revoked`` /
``@cert-authority`` markers are kept with the line. A line that cannot be read is
kept as a bad line (reported, and counted as an entry we cannot check), never a
reason to ignore its file.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

import asyncssh
from asyncssh.public_key import KeyImportError

from .endpoint import Endpoint

log = logging.getLogger(__name__)

MARKERS = ("cert-authority", "revoked")


def _key_text(key: asyncssh.SSHKey) -> str:
    """``type base64`` of a public key, no comment."""
    return " ".join(key.export_public_key("openssh").decode("ascii").split()[:2])


@functools.lru_cache(maxsize=1)
def _placeholder_key() -> str:
    """A throwaway public key: asyncssh's matcher is built per host field with it."""
    return _key_text(asyncssh.generate_private_key("ssh-ed25519").convert_to_public())


def _host_matcher(patterns: str) -> asyncssh.SSHKnownHosts | None:
    """asyncssh's matcher for one host field alone, or None if it can never match.

    Plain patterns compare lower-case (as OpenSSH does); ``/`` patterns are literal
    in OpenSSH known_hosts (no CIDR), so they never match a host name.
    """
    if patterns.startswith("|"):
        text = patterns
    else:
        kept = [p for p in patterns.lower().split(",") if p and "/" not in p]
        if not [p for p in kept if not p.startswith("!")]:
            return None
        text = ",".join(kept)
    try:
        return asyncssh.import_known_hosts(f"{text} {_placeholder_key()}\n")
    except ValueError:
        return None


@dataclass(frozen=True)
class KnownHostsLine:
    """One entry line of a known_hosts file; ``key`` is None when it could not be read."""

    file: str
    line: int
    patterns: str  # the host field as written ("" when the line has none)
    marker: str | None  # "revoked", "cert-authority" or None
    key: asyncssh.SSHKey | None
    problem: str = ""  # why the line is unusable
    matcher: asyncssh.SSHKnownHosts | None = field(default=None, compare=False, repr=False)

    @property
    def hashed(self) -> bool:
        return self.patterns.startswith("|")

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"

    def matches(self, name: str) -> bool:
        """Whether this line is about ``name`` (``host`` or ``[host]:port``)."""
        return self.matcher is not None and bool(self.matcher.match(name, "", None)[0])


def parse_line(file: str, number: int, text: str) -> KnownHostsLine | None:
    """One line of a known_hosts file, or None for blanks and comments."""
    text = text.strip()
    if not text or text.startswith("#"):
        return None
    fields = text.split(None, 2 if text.startswith("@") else 1)
    marker: str | None = None
    if text.startswith("@"):
        marker = fields.pop(0)[1:]
    patterns = fields[0] if fields else ""
    data = fields[1] if len(fields) > 1 else ""
    matcher = _host_matcher(patterns) if patterns else None

    def bad(problem: str) -> KnownHostsLine:
        return KnownHostsLine(file, number, patterns, marker, None, problem, matcher)

    if marker is not None and marker not in MARKERS:
        return bad(f"unknown marker @{marker[:40]}")
    if not data:
        return bad("no key on the line")
    if patterns.startswith("|") and matcher is None:
        return bad("invalid hashed host name")
    try:
        key = asyncssh.import_public_key(data)
    except (KeyImportError, ValueError) as exc:
        return bad(f"the key cannot be read ({str(exc)[:80] or type(exc).__name__})")
    return KnownHostsLine(file, number, patterns, marker, key, "", matcher)


@dataclass(frozen=True)
class KnownHostsFile:
    """A known_hosts file as read; ``error`` is set when it exists but cannot be read."""

    path: str
    lines: tuple[KnownHostsLine, ...] = ()
    error: str = ""

    @property
    def warnings(self) -> list[str]:
        if self.error:
            return [f"{self.path}: {self.error}"]
        return [f"{line.where}: {line.problem}" for line in self.lines if line.problem]


_parsed: dict[tuple[str, bytes], KnownHostsFile] = {}
_parsed_lock = threading.Lock()


def read_known_hosts_file(path: str) -> KnownHostsFile | None:
    """Parse ``path`` (None if it does not exist). Blocking; cached by content, and
    each bad line is logged once per content."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        result = KnownHostsFile(path, error=f"cannot be read ({exc.strerror or exc})")
        log.warning("known_hosts file %s", result.warnings[0])
        return result
    digest = hashlib.sha256(data).digest()
    with _parsed_lock:
        cached = _parsed.get((path, digest))
    if cached is not None:
        return cached
    text = data.decode("utf-8", errors="replace")
    lines = tuple(
        parsed
        for number, raw in enumerate(text.splitlines(), 1)
        if (parsed := parse_line(path, number, raw)) is not None
    )
    result = KnownHostsFile(path, lines)
    for warning in result.warnings:
        log.warning("known_hosts line skipped: %s", warning)
    with _parsed_lock:
        if len(_parsed) > 64:
            _parsed.clear()
        _parsed[(path, digest)] = result
    return result


def lookup_name(endpoint: Endpoint) -> str:
    """The name OpenSSH looks up: ``host`` on port 22, else ``[host]:port``."""
    host = endpoint.host.lower()
    return host if endpoint.port == 22 else f"[{host}]:{endpoint.port}"
