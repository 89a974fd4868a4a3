"""The remote files tests' host and helpers (tests/test_files.py,
tests/test_file_transfers.py, tests/test_files_hostile.py): a real OpenSSH sshd whose
remote user is ``jrfiles``, a fresh directory per test, the server saved as "box".

The test modules take the fixtures by name (``files_host = files.files_host``): a
module-scoped host per module, as when they were one file.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from jupyter_remote.manager import RemoteManager
from jupyter_remote.ssh.sftp import TEMP_MARK
from tests.harness.servers import server_input, trust_host
from tests.harness.sshd_host import SSHTestHost

USER = "jrfiles"


@pytest.fixture(scope="module")
def files_host() -> Iterator[SSHTestHost]:
    with SSHTestHost(name="files", user=USER) as host:
        yield host


@pytest.fixture
def workdir(files_host: SSHTestHost) -> Iterator[Path]:
    """A fresh directory in the remote user's home, removed after the test."""
    path = files_host.home / f"t-{secrets.token_hex(4)}"
    made = files_host.run_as_user(["mkdir", "-p", str(path)])
    assert made.returncode == 0, made.stderr
    yield path
    files_host.run_as_user(["chmod", "-R", "u+rwx", str(path)])
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def box(manager: RemoteManager, files_host: SSHTestHost) -> RemoteManager:
    """The test's manager with the files host saved as server "box", its key trusted."""
    from jupyter_remote.store import Server

    manager.store.save_server(Server.from_input(server_input(files_host)))
    trust_host(manager.store, files_host)
    return manager


def as_user(host: SSHTestHost, code: str, *args: str) -> str:
    """Run Python ``code`` on the 'remote' as its user (names as bytes, modes, mtimes)."""
    done = host.run_as_user(["/usr/bin/python3", "-c", code, *args])
    assert done.returncode == 0, done.stderr
    return done.stdout


def leftovers(directory: Path) -> list[str]:
    """Temporary files of ours still in ``directory`` (there must never be any)."""
    return [n for n in os.listdir(directory) if TEMP_MARK in n]
