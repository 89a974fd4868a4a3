"""Fixtures for the product's own tests: an isolated HOME/data dir, a store, a manager.

Loaded from conftest.py through ``pytest_plugins``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jupyter_core.utils import ensure_event_loop
from sshd_host import SSHTestHost

from jupyter_remote.manager import RemoteManager
from jupyter_remote.store import HostKey, Store, host_id, now_iso
from jupyter_remote.store.secrets import SecretStore


@pytest.fixture
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh HOME (empty ~/.ssh) and JUPYTER_DATA_DIR so no test sees real user state."""
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True, mode=0o700)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    return home


@pytest.fixture
def store(isolated_home: Path) -> Store:
    return Store()


@pytest.fixture
def manager(store: Store) -> Iterator[RemoteManager]:
    mgr = RemoteManager(store, secrets=SecretStore(use_keyring=False), connect_timeout=10)
    yield mgr
    # async tests run on jupyter_core's current loop: close the pool's connections there
    ensure_event_loop().run_until_complete(mgr.close())


def server_input(host: SSHTestHost, name: str = "box", **extra: Any) -> dict[str, Any]:
    """The REST/CLI input that saves ``host`` as a key-auth server."""
    return {
        "name": name,
        "host": host.host,
        "port": host.port,
        "user": host.user,
        "identity": str(host.user_key),
        "auth": "key",
        **extra,
    }


def trust_host(store: Store, host: SSHTestHost) -> None:
    """Put ``host``'s current key into our trust store, as `server test --trust` would."""
    store.add_hostkey(
        HostKey(
            host_id=host_id(host.host, host.port),
            key_type=host.host_key_type,
            fingerprint=host.host_key_fingerprint,
            public_key=host.host_key_public,
            added=now_iso(),
        )
    )
