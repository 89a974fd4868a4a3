"""How we authenticate, and the asyncssh client object that enforces our policies.

``connect_endpoint`` is called by the pool only. One method per server: a key
server never falls back to a password and a password server sends its password
at most once per connection attempt (no retry loops that lock accounts).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any

import asyncssh

from ..errors import (
    HostKeyError,
    RemoteError,
    SecretRequiredError,
    SSHAuthError,
    SSHConnectError,
    SSHTimeoutError,
)
from ..secrets import SecretStore
from .endpoint import Endpoint
from .hostkeys import HostKeyPolicy, TrustedKeys

log = logging.getLogger(__name__)


class PolicyClient(asyncssh.SSHClient):
    """Records the host key a server offered and supplies a password exactly once."""

    def __init__(self, password: str | None, on_lost: Callable[[Exception | None], None]) -> None:
        self._password = password
        self._password_used = False
        self._on_lost = on_lost
        self.offered_key: asyncssh.SSHKey | None = None

    def validate_host_public_key(
        self, host: str, addr: str, port: int, key: asyncssh.SSHKey
    ) -> bool:
        # Only called when the key matched none of the trusted keys: refuse, but remember it.
        self.offered_key = key
        return False

    def _take_password(self) -> str | None:
        if self._password is None or self._password_used:
            return None
        self._password_used = True
        return self._password

    def password_auth_requested(self) -> str | None:
        return self._take_password()

    def kbdint_auth_requested(self) -> str | None:
        return "" if self._password is not None and not self._password_used else None

    def kbdint_challenge_received(
        self, name: str, instructions: str, lang: str, prompts: Any
    ) -> list[str] | None:
        if not prompts:
            return []
        if len(prompts) == 1 and "pass" in prompts[0][0].lower():
            password = self._take_password()
            return [password] if password is not None else None
        return None  # 2FA prompts and the like: not supported non-interactively

    def connection_lost(self, exc: Exception | None) -> None:
        self._on_lost(exc)


def _auth_options(endpoint: Endpoint, secrets: SecretStore) -> tuple[dict[str, Any], str | None]:
    """asyncssh options for the endpoint's single auth method, and the password if any."""
    server = endpoint.server or endpoint.host_id
    if endpoint.auth == "password":
        password = secrets.get("password", server)
        if password is None:
            raise SecretRequiredError(
                f"Server {server!r} uses password authentication and no password is "
                "available in this process.",
                hint=f"Enter it again (CLI: `jupyter remote server test {server} --password`; "
                "UI: the password field), or switch the server to key authentication.",
            )
        opts: dict[str, Any] = {
            "client_keys": None,
            "agent_path": None,
            "public_key_auth": False,
            "password_auth": True,
            "kbdint_auth": True,
            "preferred_auth": "keyboard-interactive,password",
        }
        return opts, password
    if endpoint.auth == "agent":
        return {"preferred_auth": "publickey", "password_auth": False, "kbdint_auth": False}, None
    opts = {
        "preferred_auth": "publickey",
        "password_auth": False,
        "kbdint_auth": False,
        "ignore_encrypted": False,
    }
    if endpoint.identities:
        opts["client_keys"] = list(endpoint.identities)
        opts["agent_path"] = None  # an explicit key means that key, as IdentitiesOnly
        passphrase = secrets.get("passphrase", server)
        if passphrase is not None:
            opts["passphrase"] = passphrase
    return opts, None


async def _open_agent() -> tuple[Any, list[Any]]:
    """The agent client and its keys; the client must stay open while they sign."""
    sock = os.environ.get("SSH_AUTH_SOCK")
    if not sock:
        raise SSHAuthError(
            "This server uses ssh-agent but SSH_AUTH_SOCK is not set for the Jupyter process.",
            hint="Start JupyterLab from a shell where `ssh-add -l` lists your key.",
        )
    try:
        agent = await asyncssh.connect_agent(sock)
    except (OSError, asyncssh.Error) as exc:
        raise SSHAuthError(f"Cannot reach ssh-agent at $SSH_AUTH_SOCK: {exc}") from None
    if agent is None:
        raise SSHAuthError("Cannot reach ssh-agent at $SSH_AUTH_SOCK.")
    try:
        keys = await agent.get_keys()
    except BaseException:
        agent.close()
        raise
    if not keys:
        agent.close()
        raise SSHAuthError(
            "ssh-agent holds no keys.", hint="Add your key with `ssh-add ~/.ssh/id_ed25519`."
        )
    return agent, list(keys)


async def connect_endpoint(
    endpoint: Endpoint,
    *,
    policy: HostKeyPolicy,
    secrets: SecretStore,
    tunnel: asyncssh.SSHClientConnection | None,
    on_lost: Callable[[Exception | None], None],
    keepalive_interval: float,
    keepalive_count_max: int,
    connect_timeout: float,
) -> asyncssh.SSHClientConnection:
    """Open one authenticated connection or raise a typed RemoteError."""
    trusted: TrustedKeys = await asyncio.to_thread(policy.trusted_keys, endpoint)
    options, password = _auth_options(endpoint, secrets)
    agent = None
    if endpoint.auth == "agent":
        agent, options["client_keys"] = await _open_agent()
        options["agent_path"] = None
    client = PolicyClient(password, on_lost)
    what = endpoint.describe()
    try:
        conn, _ = await asyncio.wait_for(
            asyncssh.create_connection(
                lambda: client,
                endpoint.host,
                endpoint.port,
                tunnel=tunnel if tunnel is not None else (),
                username=endpoint.user,
                known_hosts=trusted.as_known_hosts_arg(),
                config=[],
                keepalive_interval=keepalive_interval,
                keepalive_count_max=keepalive_count_max,
                login_timeout=connect_timeout,
                **options,
            ),
            timeout=connect_timeout + 5,
        )
    except asyncssh.HostKeyNotVerifiable:
        raise policy.refusal(endpoint, trusted, client.offered_key) from None
    except asyncssh.KeyExchangeFailed as exc:
        if trusted.all and client.offered_key is None:
            raise policy.refusal(endpoint, trusted, None) from None
        raise SSHConnectError(f"Key exchange with {what} failed: {exc.reason}") from None
    except asyncssh.PermissionDenied:
        method = {"password": "password", "agent": "ssh-agent keys"}.get(endpoint.auth, "key")
        raise SSHAuthError(
            f"{endpoint.host_id} refused {method} authentication for user {endpoint.user!r}.",
            hint=(
                "Check the password (it was sent once; nothing will retry it)."
                if endpoint.auth == "password"
                else None
            ),
        ) from None
    except asyncssh.KeyEncryptionError:
        raise SSHAuthError(
            "The passphrase of the key file is wrong.",
            hint="Enter the key's passphrase again.",
        ) from None
    except asyncssh.KeyImportError as exc:
        if "passphrase" in str(exc).lower():
            raise SecretRequiredError(
                "The key file is encrypted and no passphrase is available in this process.",
                hint=f"Enter the passphrase (CLI: `jupyter remote server test {endpoint.server} "
                "--passphrase`; UI: the passphrase field), or load the key into ssh-agent.",
            ) from None
        raise SSHAuthError(f"Cannot use the key file: {exc}") from None
    except asyncio.TimeoutError:
        raise SSHTimeoutError(f"Timed out connecting to {what}.") from None
    except (HostKeyError, RemoteError):
        raise
    except (OSError, asyncssh.Error) as exc:
        text = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or str(exc)
        raise SSHConnectError(f"Cannot connect to {what}: {text or type(exc).__name__}") from None
    finally:
        if agent is not None:
            agent.close()  # auth is over: the connection needs no more signatures
    log.info("SSH connection open to %s", what)
    return conn


Opener = Callable[[Endpoint], Awaitable[asyncssh.SSHClientConnection]]
