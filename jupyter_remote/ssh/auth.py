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
from dataclasses import dataclass
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
from ..store.secrets import SecretStore
from .endpoint import Endpoint
from .hostkeys import HostKeyPolicy
from .packet_tuning import tune
from .trusted_keys import OfferedKey, TrustedKeys

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LinkSettings:
    """How every connection of a pool is opened and watched (RemoteExtensionApp's traits)."""

    keepalive_interval: float = 15.0  # seconds between SSH keepalives
    keepalive_count_max: int = 3  # unanswered keepalives after which the link is lost
    connect_timeout: float = 20.0  # seconds for the connect and login


#: AES-GCM first: with AES-NI it is several times faster in asyncssh than
#: chacha20-poly1305 (asyncssh's first choice), which is what lets SFTP transfers keep
#: up with OpenSSH; the rest of asyncssh's defaults follow, in its order.
CIPHERS = [
    "aes128-gcm@openssh.com",
    "aes256-gcm@openssh.com",
    *(
        alg.decode()
        for alg in asyncssh.encryption.get_default_encryption_algs()
        if alg not in (b"aes128-gcm@openssh.com", b"aes256-gcm@openssh.com")
    ),
]


class PolicyClient(asyncssh.SSHClient):
    """Records the host key a server offered and supplies a password exactly once.

    asyncssh decides on the host key from the ``known_hosts`` tuple we pass
    (trusted keys, trusted CAs, revoked keys) and only asks us about keys it does
    not trust, and never about revoked ones; so the key blob is recorded as the key
    exchange hands it over, to describe any refusal (type, fingerprint, CA).
    """

    def __init__(
        self,
        password: str | None,
        on_lost: Callable[[Exception | None], None] | None = None,
        *,
        tuned: bool = False,
    ) -> None:
        self._password = password
        self._password_used = False
        self._on_lost = on_lost
        self._tuned = tuned
        self.offered_blob: bytes | None = None

    def connection_made(self, conn: asyncssh.SSHClientConnection) -> None:
        if self._tuned:
            tune(conn)  # before the first byte: packet_tuning.py
        validate = conn.validate_server_host_key

        def recording(key_data: bytes) -> asyncssh.SSHKey:
            self.offered_blob = bytes(key_data)
            return validate(key_data)

        conn.validate_server_host_key = recording  # type: ignore[method-assign]

    def offered(self, host_id: str) -> OfferedKey | None:
        """The key (or certificate) the server showed, if the exchange got that far."""
        return OfferedKey.from_wire(host_id, self.offered_blob) if self.offered_blob else None

    def validate_host_public_key(
        self, host: str, addr: str, port: int, key: asyncssh.SSHKey
    ) -> bool:
        return False  # only asked for keys matching none of the trusted ones: refuse

    def validate_host_ca_key(self, host: str, addr: str, port: int, key: asyncssh.SSHKey) -> bool:
        return False  # only asked for CAs not trusted for this host: refuse

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
        if self._on_lost is not None:
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


def _host_key_options(trusted: TrustedKeys, *, plain_only: bool = False) -> dict[str, Any]:
    """asyncssh options that make it check the host key against ``trusted``."""
    options: dict[str, Any] = {"known_hosts": trusted.as_known_hosts_arg()}
    algs = trusted.plain_key_algs() if plain_only else trusted.host_key_algs()
    if algs:
        options["server_host_key_algs"] = algs
    return options


def _plain_key_fallback(trusted: TrustedKeys, offered: OfferedKey | None) -> bool:
    """A refused certificate whose own key is trusted: OpenSSH retries with the plain key."""
    return (
        offered is not None
        and bool(offered.ca_public_key)
        and offered.key in trusted.all
        and not trusted.is_revoked(offered.ca)
    )


async def connect_endpoint(
    endpoint: Endpoint,
    *,
    policy: HostKeyPolicy,
    secrets: SecretStore,
    tunnel: asyncssh.SSHClientConnection | None,
    on_lost: Callable[[Exception | None], None],
    settings: LinkSettings,
) -> asyncssh.SSHClientConnection:
    """Open one authenticated connection or raise a typed RemoteError.

    The same host-key check for every hop (the pool connects jump hosts through here).
    """
    trusted: TrustedKeys = await asyncio.to_thread(policy.trusted_keys, endpoint)
    for plain_only in (False, True):
        client, conn = await _connect_once(
            endpoint,
            trusted=trusted,
            plain_only=plain_only,
            secrets=secrets,
            tunnel=tunnel,
            on_lost=on_lost,
            settings=settings,
        )
        if conn is not None:
            return conn
        offered = client.offered(endpoint.host_id)
        if plain_only or not _plain_key_fallback(trusted, offered):
            raise policy.refusal(endpoint, trusted, offered)
        log.info(
            "Host certificate of %s refused; retrying with its trusted plain key", endpoint.host_id
        )
    raise AssertionError("unreachable")


async def _connect_once(
    endpoint: Endpoint,
    *,
    trusted: TrustedKeys,
    plain_only: bool,
    secrets: SecretStore,
    tunnel: asyncssh.SSHClientConnection | None,
    on_lost: Callable[[Exception | None], None],
    settings: LinkSettings,
) -> tuple[PolicyClient, asyncssh.SSHClientConnection | None]:
    """One connection attempt: the connection, or None when the host key was refused."""
    options, password = _auth_options(endpoint, secrets)
    agent = None
    if endpoint.auth == "agent":
        agent, options["client_keys"] = await _open_agent()
        options["agent_path"] = None
    client = PolicyClient(password, on_lost, tuned=True)
    what = endpoint.describe()
    try:
        conn, _ = await asyncio.wait_for(
            asyncssh.create_connection(
                lambda: client,
                endpoint.host,
                endpoint.port,
                tunnel=tunnel if tunnel is not None else (),
                username=endpoint.user,
                config=[],
                keepalive_interval=settings.keepalive_interval,
                keepalive_count_max=settings.keepalive_count_max,
                login_timeout=settings.connect_timeout,
                encryption_algs=CIPHERS,
                **_host_key_options(trusted, plain_only=plain_only),
                **options,
            ),
            timeout=settings.connect_timeout + 5,
        )
    except asyncssh.HostKeyNotVerifiable:
        return client, None
    except asyncssh.KeyExchangeFailed as exc:
        if trusted.has_entries and client.offered_blob is None:
            return client, None  # none of the trusted key types offered: changed
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
    return client, conn


@dataclass(frozen=True)
class HostKeyProbe:
    """What a host shows before any credential is sent: whether our policy accepts it."""

    accepted: bool
    offered: OfferedKey | None
    refusal: HostKeyError | None


async def probe_host_key(
    endpoint: Endpoint,
    *,
    policy: HostKeyPolicy,
    tunnel: asyncssh.SSHClientConnection | None = None,
    timeout: float = 20.0,
) -> HostKeyProbe:
    """Key exchange with the host under our policy, then stop: no credential is sent.

    Called by the manager before trusting a key, for each hop, so a CA-certified or
    already trusted hop is recognised exactly as the pool's connect would.
    """
    trusted = await asyncio.to_thread(policy.trusted_keys, endpoint)
    for plain_only in (False, True):
        client = PolicyClient(None)
        try:
            conn, _ = await asyncio.wait_for(
                asyncssh.create_connection(
                    lambda: client,  # noqa: B023 - awaited in this iteration
                    endpoint.host,
                    endpoint.port,
                    tunnel=tunnel if tunnel is not None else (),
                    username=endpoint.user,
                    config=[],
                    client_keys=[],
                    agent_path=None,
                    password_auth=False,
                    kbdint_auth=False,
                    public_key_auth=False,
                    gss_auth=False,
                    login_timeout=timeout,
                    **_host_key_options(trusted, plain_only=plain_only),
                ),
                timeout=timeout + 5,
            )
        except asyncssh.PermissionDenied:  # the host key passed; auth was never tried
            return HostKeyProbe(True, client.offered(endpoint.host_id), None)
        except (asyncssh.HostKeyNotVerifiable, asyncssh.KeyExchangeFailed) as exc:
            offered = client.offered(endpoint.host_id)
            kex_failed = isinstance(exc, asyncssh.KeyExchangeFailed) and offered is None
            if kex_failed and not trusted.has_entries:
                raise SSHConnectError(
                    f"Key exchange with {endpoint.host_id} failed: {exc.reason}"
                ) from None
            if not plain_only and _plain_key_fallback(trusted, offered):
                continue
            return HostKeyProbe(False, offered, policy.refusal(endpoint, trusted, offered))
        except asyncio.TimeoutError:
            raise SSHTimeoutError(
                f"Timed out fetching the host key of {endpoint.host_id}."
            ) from None
        except (OSError, asyncssh.Error) as exc:
            text = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or str(exc)
            raise SSHConnectError(
                f"Could not fetch the host key of {endpoint.host_id}: {text or type(exc).__name__}"
            ) from None
        conn.close()  # the host let us in without credentials: its key was accepted
        return HostKeyProbe(True, client.offered(endpoint.host_id), None)
    raise AssertionError("unreachable")


Opener = Callable[[Endpoint], Awaitable[asyncssh.SSHClientConnection]]
