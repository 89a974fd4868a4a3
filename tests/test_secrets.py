"""Secrets follow the host, and never land in a plain-text keyring (the real keyrings.alt)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.backends.chainer import ChainerBackend
from keyrings.alt.file import PlaintextKeyring

from jupyter_remote.manager import RemoteManager
from jupyter_remote.store.secrets import KINDS, SERVICE, SecretStore, is_plaintext_backend

CLI = str(Path(sys.executable).parent / "jupyter-remote")
SECRET = "s3cret-Value-9f2c"


class StandInOSKeyring(KeyringBackend):
    """Stands in for an OS keyring (Secret Service, Keychain): none runs in this container."""

    priority = 1

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.items.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.items[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.items.pop((service, username), None)


@pytest.fixture
def keyring_home(isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Keyring files go under the isolated HOME; the process's backend is restored after."""
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND", raising=False)
    before = keyring.get_keyring()
    yield isolated_home
    keyring.set_keyring(before)


def files_containing(root: Path, text: str) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and text in p.read_text(errors="replace")]


def test_keyrings_alt_plaintext_backend_is_not_used(keyring_home: Path) -> None:
    backend = PlaintextKeyring()
    keyring.set_keyring(backend)
    assert keyring.get_keyring() is backend and is_plaintext_backend(backend)
    store = SecretStore()
    assert store.backend == "memory"
    store.set("password", "box", SECRET)
    assert store.get("password", "box") == SECRET
    assert not Path(PlaintextKeyring().file_path).exists()
    assert files_containing(keyring_home, SECRET) == []


def test_control_a_keyring_that_is_not_plain_text_is_used(keyring_home: Path) -> None:
    """The check is not "never use a keyring": an OS-like backend still gets the secret."""
    backend = StandInOSKeyring()
    keyring.set_keyring(backend)
    store = SecretStore()
    assert store.backend == "keyring"
    store.set("passphrase", "box", SECRET)
    assert backend.items == {(SERVICE, "passphrase:box"): SECRET}
    store.forget("passphrase", "box")
    assert backend.items == {}


def test_a_chain_holding_a_plaintext_backend_is_not_used(keyring_home: Path) -> None:
    class Chain(ChainerBackend):
        backends = [StandInOSKeyring(), PlaintextKeyring()]

    class SafeChain(ChainerBackend):
        backends = [StandInOSKeyring()]

    keyring.set_keyring(Chain())
    assert SecretStore().backend == "memory"
    keyring.set_keyring(SafeChain())
    assert SecretStore().backend == "keyring"


def test_cli_with_keyrings_alt_keeps_the_password_off_disk(
    keyring_home: Path, tmp_path: Path
) -> None:
    """The real CLI process, keyrings.alt's plain-text file backend chosen explicitly."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER")}
    env.update(
        HOME=str(keyring_home),
        JUPYTER_DATA_DIR=str(tmp_path / "data"),
        JUPYTER_CONFIG_DIR=str(tmp_path / "config"),
        PYTHON_KEYRING_BACKEND="keyrings.alt.file.PlaintextKeyring",
    )
    env.pop("XDG_DATA_HOME", None)
    result = subprocess.run(
        [CLI, "server", "add", "box", "--host", "box.example", "--user", "alice", "--password"],
        env=env,
        input=SECRET + "\n",
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "no keyring is available" in result.stderr
    assert files_containing(keyring_home, SECRET) == []
    assert files_containing(tmp_path / "data", SECRET) == []
    assert not (keyring_home / ".local" / "share" / "python_keyring").exists()


# ---------------------------------------------------------------- secrets follow the host


def secrets_of(manager: RemoteManager, name: str = "box") -> dict[str, Any]:
    """The secrets kept for ``name``, by kind (an SSH server has no token)."""
    found: dict[str, Any] = {k: manager.secrets.get(k, name) for k in KINDS}
    if found.get("token") is None:
        found.pop("token", None)
    return found


@pytest.mark.parametrize(
    "change", [{"host": "other.example"}, {"port": 2222}, {"user": "bob"}], ids=str
)
async def test_secrets_dropped_when_the_target_changes(
    manager: RemoteManager, change: dict[str, Any]
) -> None:
    await manager.add_server(
        {"name": "box", "host": "box.example", "port": 22, "user": "alice", "password": SECRET}
    )
    manager.secrets.set("passphrase", "box", "pp-" + SECRET)
    assert (await manager.get_server("box"))["has_secret"] is True
    # a change that keeps host, port and user keeps the secrets
    await manager.update_server("box", {"jump": "bastion.example"})
    assert secrets_of(manager) == {"password": SECRET, "passphrase": "pp-" + SECRET}

    answer = await manager.update_server("box", change)
    assert answer["has_secret"] is False
    assert secrets_of(manager) == {"password": None, "passphrase": None}


async def test_new_secret_in_the_same_patch_is_kept(manager: RemoteManager, tmp_path: Path) -> None:
    await manager.add_server(
        {"name": "box", "host": "box.example", "user": "alice", "password": SECRET}
    )
    await manager.update_server("box", {"host": "new.example", "password": "new-" + SECRET})
    assert secrets_of(manager) == {"password": "new-" + SECRET, "passphrase": None}
    # a new key file: its old passphrase goes, the password (same target) stays
    key = tmp_path / "id_other"
    key.write_text("not read here\n")
    manager.secrets.set("passphrase", "box", "pp-" + SECRET)
    await manager.update_server("box", {"identity": str(key)})
    assert secrets_of(manager) == {"password": "new-" + SECRET, "passphrase": None}


async def test_a_jupyter_servers_token_follows_its_url_and_tunnel(manager: RemoteManager) -> None:
    """A Jupyter server's token is kept across an edit that keeps URL and via, dropped
    when either changes (it never goes to a server the user did not give it for), and a
    new token in that same PATCH is kept."""
    url = "http://127.0.0.1:8888/"
    await manager.add_server({"name": "lab", "url": url, "token": SECRET})
    assert (await manager.get_server("lab"))["has_secret"] is True
    await manager.update_server("lab", {"default_kernel": "python3"})
    assert secrets_of(manager, "lab") == {"password": None, "passphrase": None, "token": SECRET}
    answer = await manager.update_server("lab", {"url": "http://127.0.0.1:9999/"})
    assert answer["has_secret"] is False
    assert secrets_of(manager, "lab") == {"password": None, "passphrase": None}
    await manager.update_server("lab", {"url": url, "token": "new-" + SECRET})
    assert secrets_of(manager, "lab")["token"] == "new-" + SECRET
    assert SECRET not in str(await manager.get_server("lab"))
