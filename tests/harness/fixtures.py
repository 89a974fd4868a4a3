"""The suite's pytest fixtures: real sshd hosts, an isolated HOME, a store, a manager,
the Jupyter server config, the CLI's environment.

A pytest plugin, loaded by tests/conftest.py (``pytest_plugins``); a test file
overrides a fixture by defining one of the same name only where it needs something
else (e.g. test_forwards.py's ``jp_server_config`` with more local host names).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jupyter_core.utils import ensure_event_loop

from jupyter_remote.manager import RemoteManager
from jupyter_remote.store import Store
from jupyter_remote.store.secrets import SecretStore

from .cli import cli_environment
from .remote_state import clean_remote
from .sshd_host import IS_ROOT, SSHAgent, SSHTestHost

#: A name Jupyter accepts as its own (local_hostnames) that is no loopback name: a
#: browser that reaches Jupyter so gets a forward's sandbox route, not its own origin.
SANDBOX_HOST = "jupyter.test"

# ---------------------------------------------------------------- the sshd hosts

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


def own_user_host(name: str, user: str) -> Iterator[SSHTestHost]:
    """For a test group's module-scoped host fixture: sshd ``name`` as the group's own
    remote user (README, Development), none of our processes or state of that user
    before or after (``yield from own_user_host("first", "jrfirst")``)."""
    with SSHTestHost(name=name, user=user) as host:
        clean_remote(host)
        yield host
        clean_remote(host)


@pytest.fixture(scope="module")
def first_host() -> Iterator[SSHTestHost]:
    """The first-hour group's host (test_first_hour, test_kernel_ends): user ``jrfirst``."""
    yield from own_user_host("first", "jrfirst")


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


@pytest.fixture(autouse=True)
def _ssh_hosts_pristine() -> Iterator[None]:
    """After each test, session hosts are running again with their original key."""
    yield
    for host in list(_session_hosts):
        host.ensure_pristine()


# ------------------------------------------------------------- the product's side


@pytest.fixture(autouse=True, scope="session")
def _strict_events() -> Iterator[None]:
    """Every event the code under test sends must match its schema (jupyter_remote/events)."""
    from jupyter_remote.sessions import registry

    registry.strict = True
    yield
    registry.strict = False


@pytest.fixture
def events() -> Iterator[list[dict[str, Any]]]:
    """Every session and notice event the registry sends while the test runs."""
    from jupyter_remote.sessions import registry

    seen: list[dict[str, Any]] = []
    unsubscribe = registry.subscribe(seen.append)
    yield seen
    unsubscribe()


@pytest.fixture
def standby_profile(isolated_home: Path, ssh_host: SSHTestHost) -> Iterator[dict[str, Any]]:
    """Profile p with the option on, its standby running (saved as the CLI saves it), on
    the test module's ``ssh_host`` (the standby tests' own user); removed after."""
    yield from _fresh_profile(ssh_host, standby=True)


@pytest.fixture
def plain_profile(isolated_home: Path, ssh_host: SSHTestHost) -> Iterator[dict[str, Any]]:
    """Profile p in /tmp without a standby, on the test module's ``ssh_host``: the only
    agent process of the user is the test's; removed after."""
    yield from _fresh_profile(ssh_host)


def _fresh_profile(host: SSHTestHost, **options: Any) -> Iterator[dict[str, Any]]:
    """Profile p in /tmp on ``host`` with ``options``, on a remote without a kernel of
    ours before and after."""
    from .servers import setup_profile

    clean_remote(host)
    yield setup_profile(host, cwd="/tmp", **options)
    clean_remote(host)


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


@pytest.fixture
def runtime_manager(isolated_home: Path) -> Iterator[RemoteManager]:
    """A manager on the runtime's store, pool and secrets, as the CLI and this process's
    kernels see them (test files of Jupyter-server kernels make it their ``manager``);
    the saved servers' secrets go after."""
    from jupyter_remote import runtime
    from jupyter_remote.store.secrets import secret_store

    ctx = runtime.current_context()
    yield RemoteManager(ctx.store, secrets=secret_store, pool=ctx.pool)
    for name in [s.name for s in Store().list_servers()]:
        secret_store.delete(name)


def run_on_runtime(coro: Any) -> Any:
    """Run a coroutine on the loop the process's kernels use (the runtime's own thread)."""
    import asyncio

    from jupyter_remote import runtime

    _, loop = runtime.current()
    assert loop is not None
    return asyncio.run_coroutine_threadsafe(coro, loop).result(120)


def server_config(**server_app: Any) -> dict[str, Any]:
    """pytest-jupyter's server config with our extension on, plus SERVER_APP traits."""
    return {"ServerApp": {"jpserver_extensions": {"jupyter_remote": True}, **server_app}}


@pytest.fixture
def jp_server_config() -> dict[str, Any]:
    """The in-process Jupyter server (``jp_serverapp``, ``jp_fetch``) runs our extension."""
    return server_config()


@pytest.fixture
def cli_env(isolated_home: Path, tmp_path: Path) -> dict[str, str]:
    """The environment of a `jupyter remote` process (see harness/cli.py)."""
    return cli_environment(isolated_home, tmp_path)
