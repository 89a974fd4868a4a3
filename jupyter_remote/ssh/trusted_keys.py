"""Host keys as values: what a server offered, and what we trust for one endpoint.

``HostKeyPolicy`` (hostkeys.py) builds a :class:`TrustedKeys` from our store and the
known_hosts files and describes a refusal with :class:`OfferedKey`; ``auth.py`` turns
a TrustedKeys into asyncssh's connect options and decodes the key a server sent
(``OfferedKey.from_wire``). No file is read here.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import asyncssh
from asyncssh.public_key import (
    KeyImportError,
    decode_ssh_certificate,
    decode_ssh_public_key,
    get_default_certificate_algs,
    get_default_public_key_algs,
)

from .known_hosts import _key_text

OURS = "jupyter-remote"


def _describe_key(key: asyncssh.SSHKey) -> str:
    return f"{key.get_algorithm()} {key.get_fingerprint('sha256')}"


@dataclass(frozen=True)
class OfferedKey:
    """A key a server showed us, described for a human.

    For a host certificate, ``public_key`` is the certificate's own key and
    ``ca_public_key`` the CA that signed it.
    """

    host_id: str
    key_type: str
    fingerprint: str
    public_key: str
    ca_public_key: str = ""

    @classmethod
    def from_key(
        cls, hid: str, key: asyncssh.SSHKey, ca: asyncssh.SSHKey | None = None
    ) -> OfferedKey:
        return cls(
            host_id=hid,
            key_type=key.get_algorithm(),
            fingerprint=key.get_fingerprint("sha256"),
            public_key=_key_text(key),
            ca_public_key=_key_text(ca) if ca is not None else "",
        )

    @classmethod
    def from_wire(cls, hid: str, blob: bytes) -> OfferedKey | None:
        """Decode the host key blob sent in the key exchange (a key or a certificate)."""
        with contextlib.suppress(KeyImportError, ValueError):
            cert = decode_ssh_certificate(blob)
            return cls.from_key(hid, cert.key, getattr(cert, "signing_key", None))
        with contextlib.suppress(KeyImportError, ValueError):
            return cls.from_key(hid, decode_ssh_public_key(blob))
        return None

    @property
    def key(self) -> asyncssh.SSHKey:
        return asyncssh.import_public_key(self.public_key)

    @property
    def ca(self) -> asyncssh.SSHKey | None:
        return asyncssh.import_public_key(self.ca_public_key) if self.ca_public_key else None

    def to_json(self) -> dict[str, str]:
        return {"host_id": self.host_id, "type": self.key_type, "fingerprint": self.fingerprint}


@dataclass(frozen=True)
class TrustedKeys:
    """What we trust for one endpoint, and where each trust came from.

    ``ours`` and ``known_hosts`` never hold a revoked key. ``unreadable`` names
    entries for this host we could not read (they count as trusted keys we cannot
    check); ``blocked`` names files that exist but could not be read (no new key is
    trusted while they are unreadable).
    """

    ours: tuple[asyncssh.SSHKey, ...] = ()
    known_hosts: tuple[asyncssh.SSHKey, ...] = ()
    ca_keys: tuple[asyncssh.SSHKey, ...] = ()
    revoked: tuple[asyncssh.SSHKey, ...] = ()
    revoked_where: dict[str, list[str]] = field(default_factory=dict)  # key text -> places
    unreadable: tuple[str, ...] = ()
    blocked: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    files: tuple[str, ...] = ()

    @property
    def all(self) -> list[asyncssh.SSHKey]:
        """Plain host keys trusted for this host (ours first)."""
        return [*self.ours, *(k for k in self.known_hosts if k not in self.ours)]

    @property
    def has_entries(self) -> bool:
        """The host has trusted keys (or unreadable entries): another key is CHANGED."""
        return bool(self.all or self.unreadable)

    def as_known_hosts_arg(
        self,
    ) -> tuple[list[asyncssh.SSHKey], list[asyncssh.SSHKey], list[asyncssh.SSHKey]]:
        """asyncssh's ``known_hosts`` tuple: trusted keys, trusted CAs, revoked keys."""
        return (self.all, list(self.ca_keys), list(self.revoked))

    def host_key_algs(self) -> list[str] | None:
        """``server_host_key_algs`` to ask for, or None for asyncssh's choice.

        asyncssh asks only for certificates once CA keys are given; like OpenSSH we
        also accept a plain key then (the trusted ones' types, else any), so a host
        without a certificate is reported unknown or changed, not "no common algorithm".
        """
        if not self.ca_keys:
            return None
        plain = [alg for k in self.all for alg in k.sig_algorithms] or get_default_public_key_algs()
        algs = [*get_default_certificate_algs(), *plain]
        return list(dict.fromkeys(a.decode("ascii") for a in algs))

    def plain_key_algs(self) -> list[str]:
        """The trusted plain keys' algorithms (a retry without certificates)."""
        return list(dict.fromkeys(a.decode("ascii") for k in self.all for a in k.sig_algorithms))

    def is_revoked(self, key: asyncssh.SSHKey | None) -> bool:
        return key is not None and key in self.revoked

    def source_of(self, key: asyncssh.SSHKey) -> str:
        if key in self.ours:
            return OURS
        return "known_hosts" if key in self.known_hosts else "cert-authority"
