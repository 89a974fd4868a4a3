"""Passwords and key passphrases: the OS keyring when a usable one exists, else memory.

Never a file, never an environment variable, never a log line. Callers
(the REST handlers when a user types a password, the CLI after a prompt, the
SSH auth layer when connecting) use the process-wide :data:`secret_store`.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import Literal

log = logging.getLogger(__name__)

Kind = Literal["password", "passphrase", "token"]
#: "token": a Jupyter server's token (a "password" of a Jupyter server is its login password)
KINDS: tuple[Kind, ...] = ("password", "passphrase", "token")
SERVICE = "jupyterlab-remote"


#: Backends that keep secrets in a file on disk without real encryption (or that ask for
#: a file password on a terminal): never "usable", the secret stays in memory instead.
PLAINTEXT_BACKEND_MODULES = ("keyrings.alt",)
PLAINTEXT_BACKEND_CLASSES = frozenset(
    {"PlaintextKeyring", "PlaintextPyFilesystemKeyring", "UncryptedFileKeyring"}
)


def is_plaintext_backend(backend: object) -> bool:
    """True for a keyring backend that stores secrets readable on disk (keyrings.alt & co).

    Called by :func:`_usable_keyring`; a chainer counts as plain text when any backend it
    chains is, since it may write to that one.
    """
    cls = type(backend)
    module = cls.__module__ or ""
    if any(module == m or module.startswith(m + ".") for m in PLAINTEXT_BACKEND_MODULES):
        return True
    if any(c.__name__ in PLAINTEXT_BACKEND_CLASSES for c in cls.__mro__):
        return True
    chained = getattr(backend, "backends", None)
    if isinstance(chained, (list, tuple)):
        return any(is_plaintext_backend(b) for b in chained)
    return False


def _usable_keyring() -> object | None:
    """The keyring module if a real backend is configured: not fail/null, not an empty
    chainer, not one that writes secrets to a plain-text file (keyrings.alt)."""
    try:
        import keyring
        from keyring.backends import chainer, fail

        backend = keyring.get_keyring()
        if isinstance(backend, fail.Keyring):
            return None
        if isinstance(backend, chainer.ChainerBackend) and not backend.backends:
            return None
        if "null" in type(backend).__module__:
            return None
        if is_plaintext_backend(backend):
            log.info(
                "Keyring backend %s stores secrets in plain text: not used; secrets stay "
                "in this process's memory.",
                type(backend).__name__,
            )
            return None
        return keyring
    except Exception:  # any import/backend failure means: not usable
        return None


class SecretStore:
    """Get/set/delete a secret for ``(kind, server)``; thread safe."""

    def __init__(self, *, use_keyring: bool = True) -> None:
        self._memory: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()
        self._keyring = _usable_keyring() if use_keyring else None
        if self._keyring is None:
            log.debug("No usable keyring backend: secrets stay in this process's memory.")

    @property
    def backend(self) -> str:
        return "keyring" if self._keyring is not None else "memory"

    def _account(self, kind: Kind, server: str) -> str:
        return f"{kind}:{server}"

    def set(self, kind: Kind, server: str, secret: str) -> None:
        with self._lock:
            self._memory[(kind, server)] = secret
        if self._keyring is not None:
            try:
                self._keyring.set_password(SERVICE, self._account(kind, server), secret)  # type: ignore[attr-defined]
            except Exception as exc:
                log.warning(
                    "Keyring refused to store a %s (%s); keeping it in memory.",
                    kind,
                    type(exc).__name__,
                )

    def get(self, kind: Kind, server: str) -> str | None:
        with self._lock:
            if (kind, server) in self._memory:
                return self._memory[(kind, server)]
        if self._keyring is not None:
            try:
                value = self._keyring.get_password(SERVICE, self._account(kind, server))  # type: ignore[attr-defined]
            except Exception:
                return None
            if isinstance(value, str):
                return value
        return None

    def forget(self, kind: Kind, server: str) -> None:
        """Forget one secret of ``server`` (the manager, when host, port or user changes)."""
        with self._lock:
            self._memory.pop((kind, server), None)
        if self._keyring is not None:
            with contextlib.suppress(Exception):  # absent entries are fine
                self._keyring.delete_password(SERVICE, self._account(kind, server))  # type: ignore[attr-defined]

    def delete(self, server: str) -> None:
        """Forget every secret of ``server`` (on server removal)."""
        for kind in KINDS:
            self.forget(kind, server)

    def has(self, server: str) -> bool:
        return any(self.get(kind, server) is not None for kind in KINDS)


secret_store = SecretStore()
