"""Shared fixtures: real OpenSSH sshd hosts and ssh-agent (see tests/sshd_host.py)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from sshd_host import IS_ROOT, SSHAgent, SSHTestHost

# jp_fetch, jp_serverapp, ... for the server extension tests.
pytest_plugins = ("pytest_jupyter.jupyter_server", "remote_fixtures")

_session_hosts: list[SSHTestHost] = []


def _session_host(**kwargs: object) -> Iterator[SSHTestHost]:
    host = SSHTestHost(**kwargs)  # type: ignore[arg-type]
    _session_hosts.append(host)
    try:
        yield host
    finally:
        _session_hosts.remove(host)
        host.close()


@pytest.fixture(scope="session")
def ssh_host() -> Iterator[SSHTestHost]:
    """sshd with key auth (user key: ``ssh_host.user_key``), running all session."""
    yield from _session_host(name="main")


@pytest.fixture(scope="session")
def password_ssh_host() -> Iterator[SSHTestHost]:
    """A second sshd with PasswordAuthentication yes; ``.password`` is the user's."""
    if not IS_ROOT:
        pytest.skip("password auth needs a dedicated user with a real password (run as root)")
    yield from _session_host(name="password", user="jrtestpw", password=secrets.token_urlsafe(18))


@pytest.fixture(scope="session")
def jump_ssh_host() -> Iterator[SSHTestHost]:
    """A second, independent sshd (same user) to tunnel through; logs at DEBUG1."""
    yield from _session_host(name="jump")


@pytest.fixture
def ssh_agent(ssh_host: SSHTestHost) -> Iterator[str]:
    """Path of a real ssh-agent socket holding ``ssh_host.user_key``."""
    with SSHAgent([ssh_host.user_key]) as agent:
        yield str(agent.socket_path)


@pytest.fixture
def impostor(ssh_host: SSHTestHost) -> Iterator[SSHTestHost]:
    """ssh_host restarted with a new host key; the original comes back afterwards."""
    ssh_host.restart_with_new_host_key()
    try:
        yield ssh_host
    finally:
        ssh_host.restore_original_host_key()


@pytest.fixture(autouse=True, scope="session")
def _strict_events() -> Iterator[None]:
    """Every event the code under test sends must match its schema (jupyter_remote/events)."""
    from jupyter_remote.sessions import registry

    registry.strict = True
    yield
    registry.strict = False


@pytest.fixture(autouse=True)
def _ssh_hosts_pristine() -> Iterator[None]:
    """After each test, session hosts are running again with their original key."""
    yield
    for host in list(_session_hosts):
        host.ensure_pristine()
