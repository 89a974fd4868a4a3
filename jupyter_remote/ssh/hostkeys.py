"""Strict host-key policy: our trust store plus ``~/.ssh/known_hosts``, nothing else.

The pool calls :meth:`HostKeyPolicy.trusted_keys` (in a thread) before each
connect and :meth:`HostKeyPolicy.refusal` when the server's key matched none of
them. Trusting is an explicit act (:meth:`HostKeyPolicy.trust`, from the CLI's
``--trust`` or the REST hostkeys POST) and only ever for an *unknown* host: a
changed key is refused until the old entry is removed.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncssh

from ..errors import ConflictError, HostKeyChangedError, HostKeyUnknownError, SSHConnectError
from ..store import HostKey, Store, now_iso
from .endpoint import Endpoint

DEFAULT_KNOWN_HOSTS = Path("~/.ssh/known_hosts")


@dataclass(frozen=True)
class OfferedKey:
    """A key a server showed us, described for a human."""

    host_id: str
    key_type: str
    fingerprint: str
    public_key: str

    @classmethod
    def from_key(cls, hid: str, key: asyncssh.SSHKey) -> OfferedKey:
        line = key.export_public_key("openssh").decode("ascii").split()
        return cls(
            host_id=hid,
            key_type=key.get_algorithm(),
            fingerprint=key.get_fingerprint("sha256"),
            public_key=" ".join(line[:2]),
        )

    def to_json(self) -> dict[str, str]:
        return {"host_id": self.host_id, "type": self.key_type, "fingerprint": self.fingerprint}


@dataclass(frozen=True)
class TrustedKeys:
    """What we trust for one endpoint, and where each trust came from."""

    ours: tuple[asyncssh.SSHKey, ...]
    known_hosts: tuple[asyncssh.SSHKey, ...]
    ca_keys: tuple[asyncssh.SSHKey, ...]
    revoked: tuple[asyncssh.SSHKey, ...]

    @property
    def all(self) -> list[asyncssh.SSHKey]:
        return [*self.ours, *self.known_hosts]

    def as_known_hosts_arg(
        self,
    ) -> tuple[list[asyncssh.SSHKey], list[asyncssh.SSHKey], list[asyncssh.SSHKey]]:
        return (self.all, list(self.ca_keys), list(self.revoked))

    def source_of(self, key: asyncssh.SSHKey) -> str:
        return "jupyter-remote" if key in self.ours else "known_hosts"


class HostKeyPolicy:
    """One per process, shared by the pool, the CLI and the handlers."""

    def __init__(self, store: Store, *, known_hosts_path: Path = DEFAULT_KNOWN_HOSTS) -> None:
        self.store = store
        self.known_hosts_path = known_hosts_path

    # -- lookups (blocking: file reads; callers use asyncio.to_thread)

    def _from_known_hosts(self, endpoint: Endpoint) -> tuple[list[asyncssh.SSHKey], ...]:
        path = self.known_hosts_path.expanduser()
        if not path.is_file():
            return [], [], []
        try:
            result = asyncssh.match_known_hosts(
                str(path),
                endpoint.host,
                endpoint.host,
                endpoint.port if endpoint.port != 22 else None,
            )
        except (OSError, ValueError):
            return [], [], []
        return list(result[0]), list(result[1]), list(result[2])

    def trusted_keys(self, endpoint: Endpoint) -> TrustedKeys:
        ours = []
        for entry in self.store.hostkeys_for(endpoint.host_id):
            with contextlib.suppress(asyncssh.KeyImportError, ValueError):
                ours.append(asyncssh.import_public_key(entry.public_key))
        kh, ca, revoked = self._from_known_hosts(endpoint)
        return TrustedKeys(tuple(ours), tuple(kh), tuple(ca), tuple(revoked))

    # -- decisions

    def refusal(
        self, endpoint: Endpoint, trusted: TrustedKeys, offered: asyncssh.SSHKey | None
    ) -> HostKeyUnknownError | HostKeyChangedError:
        """The typed error for a key that matched nothing we trust."""
        if offered is None:
            desc = OfferedKey(endpoint.host_id, "(none of the trusted types)", "(not offered)", "")
        else:
            desc = OfferedKey.from_key(endpoint.host_id, offered)
        if trusted.all:
            return HostKeyChangedError(
                host_id=endpoint.host_id,
                key_type=desc.key_type,
                fingerprint=desc.fingerprint,
                known_fingerprints=[
                    f"{k.get_algorithm()} {k.get_fingerprint('sha256')}" for k in trusted.all
                ],
            )
        return HostKeyUnknownError(
            host_id=endpoint.host_id,
            key_type=desc.key_type,
            fingerprint=desc.fingerprint,
            server=endpoint.server,
        )

    async def fetch_offered(self, endpoint: Endpoint, *, tunnel: Any = ()) -> OfferedKey:
        """Ask the server for its host key (key exchange only, no auth)."""
        try:
            key = await asyncio.wait_for(
                asyncssh.get_server_host_key(
                    endpoint.host,
                    endpoint.port,
                    tunnel=tunnel,
                    config=[],
                ),
                timeout=20,
            )
        except (OSError, asyncssh.Error, asyncio.TimeoutError) as exc:
            raise SSHConnectError(
                f"Could not fetch the host key of {endpoint.host_id}: {exc or type(exc).__name__}"
            ) from None
        if key is None:
            raise SSHConnectError(f"{endpoint.host_id} offered no host key.")
        return OfferedKey.from_key(endpoint.host_id, key)

    def trust_offered(self, endpoint: Endpoint, offered: OfferedKey, fingerprint: str) -> HostKey:
        """Store ``offered`` if the user confirmed exactly its fingerprint and the host is new.

        Blocking (store write). Never accepts a key for a host that already has another
        trusted key, in our store or in ~/.ssh/known_hosts.
        """
        if fingerprint.strip() != offered.fingerprint:
            raise ConflictError(
                f"{endpoint.host_id} now offers {offered.key_type} {offered.fingerprint}, "
                f"not the fingerprint you confirmed ({fingerprint.strip()[:80]}).",
                hint="Nothing was trusted. Check the fingerprint again with the host's admin.",
            )
        trusted = self.trusted_keys(endpoint)
        key = asyncssh.import_public_key(offered.public_key)
        if key in trusted.all:
            source = trusted.source_of(key)
            return HostKey(
                endpoint.host_id,
                offered.key_type,
                offered.fingerprint,
                offered.public_key,
                added="",
                source=source,
            )
        if trusted.all:
            raise self.refusal(endpoint, trusted, key)
        return self.store.add_hostkey(
            HostKey(
                host_id=endpoint.host_id,
                key_type=offered.key_type,
                fingerprint=offered.fingerprint,
                public_key=offered.public_key,
                added=now_iso(),
            )
        )

    def list_known_hosts(self) -> list[dict[str, str]]:
        """Entries of ~/.ssh/known_hosts, read-only, for the security drawer and CLI."""
        path = self.known_hosts_path.expanduser()
        rows: list[dict[str, str]] = []
        if not path.is_file():
            return rows
        try:
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return rows
        for line in lines:
            parts = line.split()
            if not parts or parts[0].startswith("#"):
                continue
            if parts[0].startswith("@"):
                continue  # @cert-authority / @revoked: not host entries
            if len(parts) < 3:
                continue
            try:
                key = asyncssh.import_public_key(f"{parts[1]} {parts[2]}")
            except (asyncssh.KeyImportError, ValueError):
                continue
            hosts = "(hashed)" if parts[0].startswith("|1|") else parts[0]
            rows.append(
                {
                    "host_id": hosts,
                    "key_type": key.get_algorithm(),
                    "fingerprint": key.get_fingerprint("sha256"),
                    "added": "",
                    "source": "known_hosts",
                }
            )
        return rows
