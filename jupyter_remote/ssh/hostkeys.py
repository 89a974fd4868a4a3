"""Strict host-key policy: our trust store plus the known_hosts files OpenSSH reads.

Files read, as OpenSSH reads them: the user files (``~/.ssh/known_hosts``,
``~/.ssh/known_hosts2``) and the global ones (``/etc/ssh/ssh_known_hosts``,
``/etc/ssh/ssh_known_hosts2``), each list replaced by the ``UserKnownHostsFile`` /
``GlobalKnownHostsFile`` that ``~/.ssh/config`` names for the host. Every line is
parsed on its own; asyncssh's matcher decides which host a line is for (hashed
``|1|`` entries, wildcards, negations, ``[host]:port``) and ``@revoked`` /
``@cert-authority`` lines become revoked keys and trusted CAs.

Never fails open: a line that cannot be read is skipped, logged and reported
(``warnings``), never a reason to ignore its file; an unreadable line *for this
host* counts as a trusted entry we cannot check (an offered key is then refused as
changed), and a file that exists but cannot be read blocks trusting new keys. A
revoked key is never trusted, whoever else trusts it.

What a server offered and what we trust are values of ``trusted_keys.py``.
The pool calls :meth:`HostKeyPolicy.trusted_keys` (in a thread) before each connect
and :meth:`HostKeyPolicy.refusal` when the server's key matched none of them.
Trusting is an explicit act (:meth:`HostKeyPolicy.trust_offered`, from the CLI's
``--trust`` or the REST hostkeys POST) and only ever for an *unknown* host.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import asyncssh
from asyncssh.public_key import (
    KeyImportError,
)

from ..errors import (
    ConflictError,
    HostKeyChangedError,
    HostKeyRevokedError,
    HostKeyUnknownError,
)
from ..store import HostKey, Store, now_iso
from .endpoint import Endpoint
from .known_hosts import (
    KnownHostsFile,
    _key_text,
    lookup_name,
    read_known_hosts_file,
)
from .trusted_keys import OfferedKey, TrustedKeys, _describe_key

log = logging.getLogger(__name__)

DEFAULT_USER_FILES: tuple[str, ...] = ("~/.ssh/known_hosts", "~/.ssh/known_hosts2")
DEFAULT_GLOBAL_FILES: tuple[str, ...] = ("/etc/ssh/ssh_known_hosts", "/etc/ssh/ssh_known_hosts2")


class HostKeyPolicy:
    """One per process, shared by the pool, the CLI and the handlers.

    ``user_files``/``global_files`` are OpenSSH's defaults (tests pass their own);
    a host whose ``~/.ssh/config`` names ``UserKnownHostsFile``/``GlobalKnownHostsFile``
    reads those instead, as ssh does.
    """

    def __init__(
        self,
        store: Store,
        *,
        user_files: Sequence[str | Path] = DEFAULT_USER_FILES,
        global_files: Sequence[str | Path] = DEFAULT_GLOBAL_FILES,
    ) -> None:
        self.store = store
        self.user_files = tuple(str(p) for p in user_files)
        self.global_files = tuple(str(p) for p in global_files)

    # -- lookups (blocking: file reads; callers use asyncio.to_thread)

    def files_for(self, endpoint: Endpoint | None) -> list[str]:
        """The known_hosts files read for ``endpoint`` (defaults when None), expanded."""
        user = self.user_files
        glob = self.global_files
        if endpoint is not None and endpoint.user_known_hosts is not None:
            user = endpoint.user_known_hosts
        if endpoint is not None and endpoint.global_known_hosts is not None:
            glob = endpoint.global_known_hosts
        return list(dict.fromkeys(os.path.expanduser(p) for p in (*user, *glob)))

    def _read(self, paths: Iterable[str]) -> list[KnownHostsFile]:
        return [f for p in paths if (f := read_known_hosts_file(p)) is not None]

    def trusted_keys(self, endpoint: Endpoint) -> TrustedKeys:
        """Everything trusted, revoked or unreadable for ``endpoint``. Blocking."""
        name = lookup_name(endpoint)
        files = self._read(self.files_for(endpoint))
        plain: list[asyncssh.SSHKey] = []
        cas: list[asyncssh.SSHKey] = []
        revoked: list[asyncssh.SSHKey] = []
        revoked_where: dict[str, list[str]] = {}
        unreadable: list[str] = []
        warnings = [*endpoint.known_hosts_problems]
        for f in files:
            warnings.extend(f.warnings)
            for line in f.lines:
                if not line.matches(name):
                    continue
                if line.key is None:
                    unreadable.append(f"{line.where} ({line.problem})")
                elif line.marker == "revoked":
                    revoked.append(line.key)
                    revoked_where.setdefault(_key_text(line.key), []).append(line.where)
                elif line.marker == "cert-authority":
                    cas.append(line.key)
                else:
                    plain.append(line.key)
        ours: list[asyncssh.SSHKey] = []
        for entry in self.store.hostkeys_for(endpoint.host_id):
            try:
                ours.append(asyncssh.import_public_key(entry.public_key))
            except (KeyImportError, ValueError):
                unreadable.append(f"{entry.host_id} in jupyter-remote's store (unreadable key)")
        return TrustedKeys(
            ours=tuple(dict.fromkeys(k for k in ours if k not in revoked)),
            known_hosts=tuple(dict.fromkeys(k for k in plain if k not in revoked)),
            ca_keys=tuple(dict.fromkeys(k for k in cas if k not in revoked)),
            revoked=tuple(dict.fromkeys(revoked)),
            revoked_where=revoked_where,
            unreadable=tuple(unreadable),
            blocked=tuple(
                [*(f.warnings[0] for f in files if f.error), *endpoint.known_hosts_problems]
            ),
            warnings=tuple(warnings),
            files=tuple(f.path for f in files),
        )

    # -- decisions

    def refusal(
        self, endpoint: Endpoint, trusted: TrustedKeys, offered: OfferedKey | None
    ) -> HostKeyUnknownError | HostKeyChangedError | HostKeyRevokedError:
        """The typed error for a key (or certificate) that was not accepted."""
        if offered is None:
            offered = OfferedKey(
                endpoint.host_id, "(none of the trusted types)", "(not offered)", ""
            )
        revoked = self._revocation(trusted, offered)
        if revoked is not None:
            return revoked
        warnings = list(trusted.warnings)
        if trusted.has_entries:
            return HostKeyChangedError(
                host_id=endpoint.host_id,
                key_type=offered.key_type,
                fingerprint=offered.fingerprint,
                known_fingerprints=[
                    *(_describe_key(k) for k in trusted.all),
                    *(f"an unreadable entry at {u}" for u in trusted.unreadable),
                ],
                warnings=warnings,
            )
        return HostKeyUnknownError(
            host_id=endpoint.host_id,
            key_type=offered.key_type,
            fingerprint=offered.fingerprint,
            server=endpoint.server,
            warnings=warnings,
        )

    @staticmethod
    def _revocation(trusted: TrustedKeys, offered: OfferedKey) -> HostKeyRevokedError | None:
        if offered.public_key and trusted.is_revoked(offered.key):
            return HostKeyRevokedError(
                host_id=offered.host_id,
                key_type=offered.key_type,
                fingerprint=offered.fingerprint,
                revoked_in=trusted.revoked_where.get(offered.public_key, []),
            )
        ca = offered.ca
        if ca is not None and trusted.is_revoked(ca):
            return HostKeyRevokedError(
                host_id=offered.host_id,
                key_type=ca.get_algorithm(),
                fingerprint=ca.get_fingerprint("sha256"),
                revoked_in=trusted.revoked_where.get(offered.ca_public_key, []),
                certificate_authority=True,
            )
        return None

    def trust_offered(self, endpoint: Endpoint, offered: OfferedKey, fingerprint: str) -> HostKey:
        """Store ``offered`` if the user confirmed exactly its fingerprint and the host is new.

        Blocking (store write). Never accepts a revoked key (or a certificate from a
        revoked CA), nor a key for a host that already has another trusted key (in our
        store or a known_hosts file) or an entry we cannot read.
        """
        if fingerprint.strip() != offered.fingerprint:
            raise ConflictError(
                f"{endpoint.host_id} now offers {offered.key_type} {offered.fingerprint}, "
                f"not the fingerprint you confirmed ({fingerprint.strip()[:80]}).",
                hint="Nothing was trusted. Check the fingerprint again with the host's admin.",
            )
        trusted = self.trusted_keys(endpoint)
        revoked = self._revocation(trusted, offered)
        if revoked is not None:
            raise revoked
        key = offered.key
        if key in trusted.all:
            return HostKey(
                endpoint.host_id,
                offered.key_type,
                offered.fingerprint,
                offered.public_key,
                added="",
                source=trusted.source_of(key),
            )
        if trusted.has_entries:
            raise self.refusal(endpoint, trusted, offered)
        if trusted.blocked:
            raise ConflictError(
                f"Not trusting a new key for {endpoint.host_id}: a known_hosts file that may "
                f"hold this host cannot be read ({'; '.join(trusted.blocked)}).",
                hint="Fix the file's permissions (or the ~/.ssh/config line naming it) and "
                "try again.",
            )
        return self.store.add_hostkey(
            HostKey(
                host_id=endpoint.host_id,
                key_type=offered.key_type,
                fingerprint=offered.fingerprint,
                public_key=offered.public_key,
                added=now_iso(),
            )
        )

    # -- the security drawer / `hostkey list`

    def list_known_hosts(self, endpoints: Iterable[Endpoint] = ()) -> list[dict[str, Any]]:
        """Entries of every known_hosts file read (the defaults and those ``endpoints``'
        config names), read-only; unusable lines and files come as ``warning`` rows."""
        paths = self.files_for(None)
        for endpoint in endpoints:
            paths.extend(self.files_for(endpoint))
        rows: list[dict[str, Any]] = []
        for f in self._read(dict.fromkeys(paths)):
            if f.error:
                rows.append(_warning_row(f.path, 0, "", f.error))
            for line in f.lines:
                if line.key is None:
                    rows.append(_warning_row(line.file, line.line, line.patterns, line.problem))
                    continue
                rows.append(
                    {
                        "host_id": "(hashed)" if line.hashed else line.patterns,
                        "key_type": line.key.get_algorithm(),
                        "fingerprint": line.key.get_fingerprint("sha256"),
                        "added": "",
                        "source": "known_hosts",
                        "file": line.file,
                        "line": line.line,
                        "marker": line.marker,
                        "hashed": line.hashed,
                    }
                )
        return rows


def _warning_row(path: str, line: int, patterns: str, problem: str) -> dict[str, Any]:
    where = f"{path}:{line}" if line else path
    return {
        "host_id": "(hashed)" if patterns.startswith("|") else (patterns or "(unreadable)"),
        "key_type": "(skipped)",
        "fingerprint": "",
        "added": "",
        "source": "warning",
        "file": path,
        "line": line,
        "marker": None,
        "hashed": patterns.startswith("|"),
        "warning": f"{where}: {problem}",
    }
