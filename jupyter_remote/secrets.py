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

Kind = Literal["password", "passphrase"]
SERVICE = "jupyterlab-remote"


def _usable_keyring() -> object | None:
    """The keyring module if a real (not fail/null/chainer-of-nothing) backend is configured."""
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

    def delete(self, server: str) -> None:
        """Forget every secret of ``server`` (on server removal)."""
        for kind in ("password", "passphrase"):
            with self._lock:
                self._memory.pop((kind, server), None)
            if self._keyring is not None:
                with contextlib.suppress(Exception):  # absent entries are fine
                    self._keyring.delete_password(SERVICE, self._account(kind, server))  # type: ignore[attr-defined]

    def has(self, server: str) -> bool:
        return any(self.get(kind, server) is not None for kind in ("password", "passphrase"))


secret_store = SecretStore()
