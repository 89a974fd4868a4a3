"""RemoteManager: the one facade over store, secrets, host keys and the SSH pool.

The REST handlers (inside the Jupyter server) and the ``jupyter remote`` CLI
(no server needed) both call it, so both behave the same. Every method is a
coroutine; blocking file work goes to a thread so the event loop never waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import platform
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

from . import kernelspecs
from .errors import (
    HostKeyChangedError,
    HostKeyUnknownError,
    IpykernelMissingError,
    NotFoundError,
    RemoteCommandError,
    RemoteError,
    ValidationError,
)
from .kernel_agent import AgentClient
from .remote import command_python
from .remote.protocol import KERNEL_ID_PATTERN
from .secrets import SecretStore, secret_store
from .ssh import ConnectionPool, Endpoint, HostKeyPolicy, OfferedKey, resolve_endpoint
from .ssh.auth import probe_host_key
from .ssh.exec import run, stream
from .store import Profile, Server, Store, parse_host_id
from .text import RemoteJSONError, parse_remote_json, printable, printable_tree

# Sent on stdin to `sh -s`: fixed text, nothing user-supplied in it.
SERVER_INFO_SCRIPT = r"""
os=$(uname -srm 2>/dev/null || echo unknown)
if [ -r /etc/os-release ]; then
  pretty=$(. /etc/os-release 2>/dev/null; printf '%s' "$PRETTY_NAME")
  [ -n "$pretty" ] && os="$pretty ($os)"
fi
printf 'os=%s\n' "$os"
for p in python3 python; do
  if path=$(command -v "$p" 2>/dev/null); then
    printf 'python=%s\n' "$path"
    version=$("$path" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])' 2>/dev/null)
    printf 'python_version=%s\n' "$version"
    break
  fi
done
"""


PYTHON_CHECK = (
    "import sys,json,importlib.util as u;"
    "print(json.dumps({'version':'%d.%d.%d'%tuple(sys.version_info[:3]),"
    "'ipykernel':u.find_spec('ipykernel') is not None,'prefix':sys.prefix}))"
)
KERNEL_ID_RE = re.compile(KERNEL_ID_PATTERN)
MAX_INFO_TEXT = 256  # one value of SERVER_INFO_SCRIPT's answer (os, python path, version)


class RemoteManager:
    """Owned by RemoteExtensionApp (server) or by the CLI process; one per process."""

    def __init__(
        self,
        store: Store,
        *,
        secrets: SecretStore = secret_store,
        pool: ConnectionPool | None = None,
        keepalive_interval: float = 15.0,
        keepalive_count_max: int = 3,
        connect_timeout: float = 20.0,
    ) -> None:
        self.store = store
        self.secrets = secrets
        self.hostkeys = HostKeyPolicy(store)
        self.pool = pool or ConnectionPool(
            self.hostkeys,
            secrets=secrets,
            keepalive_interval=keepalive_interval,
            keepalive_count_max=keepalive_count_max,
            connect_timeout=connect_timeout,
        )

    # ------------------------------------------------------------ servers

    def _server_json(self, server: Server) -> dict[str, Any]:
        data = server.to_json()
        data["has_secret"] = self.secrets.has(server.name)
        data["warnings"] = server.warnings
        return data

    async def list_servers(self) -> list[dict[str, Any]]:
        servers = await asyncio.to_thread(self.store.list_servers)
        return [self._server_json(s) for s in servers]

    async def get_server(self, name: str) -> dict[str, Any]:
        return self._server_json(await asyncio.to_thread(self.store.get_server, name))

    def _take_secrets(self, name: str, data: Mapping[str, Any]) -> None:
        for kind in ("password", "passphrase"):
            value = data.get(kind)
            if value is None or value == "":
                continue
            if not isinstance(value, str) or len(value) > 4096:
                raise ValidationError(
                    f"{kind} must be a string of at most 4096 characters.", field=kind
                )
            self.secrets.set(kind, name, value)

    def _check_secret_fields(self, data: Mapping[str, Any]) -> None:
        for kind in ("password", "passphrase"):
            value = data.get(kind)
            if value is not None and (not isinstance(value, str) or len(value) > 4096):
                raise ValidationError(
                    f"{kind} must be a string of at most 4096 characters.", field=kind
                )

    async def add_server(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """Validate and save a new server; a password/passphrase goes to secrets only."""
        server = await asyncio.to_thread(Server.from_input, data)
        self._check_secret_fields(data)
        await asyncio.to_thread(self.store.save_server, server)
        self._take_secrets(server.name, data)
        return self._server_json(server)

    async def update_server(self, name: str, data: Mapping[str, Any]) -> dict[str, Any]:
        """Replace fields of an existing server (PATCH semantics)."""
        current = await asyncio.to_thread(self.store.get_server, name)
        if not isinstance(data, Mapping):
            raise ValidationError("A server must be a JSON object.")
        if "name" in data and data["name"] != current.name:
            raise ValidationError(
                "A server cannot be renamed; add a new one instead.", field="name"
            )
        merged = {**current.to_json(), **data, "name": current.name}
        merged.pop("readonly", None)
        server = await asyncio.to_thread(Server.from_input, merged)
        self._check_secret_fields(data)
        await asyncio.to_thread(self.store.save_server, server, replace=True)
        self._drop_secrets_of_old_target(current, server)
        self._take_secrets(server.name, data)
        return self._server_json(server)

    def _drop_secrets_of_old_target(self, old: Server, new: Server) -> None:
        """A secret follows the host: forget it when host, port or user change (and a
        passphrase when the key file changes). A new one in the same PATCH is then kept."""
        target_changed = (old.host, old.port, old.user) != (new.host, new.port, new.user)
        if target_changed:
            self.secrets.forget("password", new.name)
        if target_changed or old.identity != new.identity:
            self.secrets.forget("passphrase", new.name)

    async def remove_server(self, name: str) -> None:
        await asyncio.to_thread(self.store.remove_server, name)
        self.secrets.delete(name)

    async def endpoint(self, name: str) -> Endpoint:
        server = await asyncio.to_thread(self.store.get_server, name)
        return await asyncio.to_thread(resolve_endpoint, server)

    async def test_server(self, name: str) -> dict[str, Any]:
        """Connect (through the pool), then report host key, round trip, OS and python."""
        endpoint = await self.endpoint(name)
        started = time.monotonic()
        lease = await self.pool.acquire(endpoint)
        try:
            connect_ms = (time.monotonic() - started) * 1000
            conn = lease.conn
            key = conn.get_server_host_key()
            trusted = await asyncio.to_thread(self.hostkeys.trusted_keys, endpoint)
            offered = OfferedKey.from_key(endpoint.host_id, key) if key else None
            rtts = []
            for _ in range(3):
                t0 = time.monotonic()
                await run(conn, "exit 0", timeout=15, where=repr(name))
                rtts.append((time.monotonic() - t0) * 1000)
            result = await run(
                conn,
                "sh -s",
                stdin=SERVER_INFO_SCRIPT.encode(),
                timeout=20,
                what="the server's description of itself",
                where=repr(name),
            )
        finally:
            await lease.release()
        info: dict[str, str] = {}
        for line in result.stdout.splitlines():
            k, sep, v = line.partition("=")
            if sep:  # the remote's words: bounded, control characters escaped
                info[k.strip()] = printable(v.strip()[:MAX_INFO_TEXT])
        return {
            "server": name,
            "endpoint": endpoint.describe(),
            "reachable": True,
            "auth": "ok",
            "auth_method": endpoint.auth,
            "host_key": {
                **(offered.to_json() if offered else {}),
                "status": "trusted",
                "source": trusted.source_of(key) if key else "",
                "warnings": list(trusted.warnings),  # known_hosts lines/files skipped
            },
            "connect_ms": round(connect_ms, 1),
            "rtt_ms": round(min(rtts), 1),
            "os": info.get("os", "unknown"),
            "python": {
                "path": info.get("python") or None,
                "version": info.get("python_version") or None,
            },
            "client": f"jupyterlab-remote on Python {platform.python_version()}",
        }

    # ------------------------------------------------------------ host keys

    async def list_hostkeys(self) -> list[dict[str, Any]]:
        """Our trusted keys, then every entry of the known_hosts files read (the defaults
        and those ~/.ssh/config names for saved servers); bad lines as ``warning`` rows."""
        ours = await asyncio.to_thread(self.store.list_hostkeys)
        rows = [{k: v for k, v in key.to_json().items() if k != "public_key"} for key in ours]
        endpoints: list[Endpoint] = []
        for server in await asyncio.to_thread(self.store.list_servers):
            with contextlib.suppress(RemoteError, OSError, ValueError):
                hop: Endpoint | None = await asyncio.to_thread(resolve_endpoint, server)
                while hop is not None:
                    endpoints.append(hop)
                    hop = hop.jump
        rows.extend(await asyncio.to_thread(self.hostkeys.list_known_hosts, endpoints))
        return rows

    async def trust_hostkey(self, server: str, fingerprint: str) -> dict[str, Any]:
        """Trust the key ``server`` (or the first untrusted hop on its way) offers now.

        ``fingerprint`` is what the user confirmed; it must equal the key offered now.
        Each hop is checked by a key exchange under the same policy as a connect (no
        credential sent): trusted or CA-certified hops are passed; a changed or revoked
        key is refused, never stored.
        """
        if (
            not isinstance(fingerprint, str)
            or not fingerprint.startswith("SHA256:")
            or len(fingerprint) > 100
        ):
            raise ValidationError(
                "fingerprint must be the SHA256:... string shown for the host key.",
                field="fingerprint",
            )
        endpoint = await self.endpoint(server)
        hops: list[Endpoint] = []
        hop: Endpoint | None = endpoint
        while hop is not None:
            hops.insert(0, hop)
            hop = hop.jump
        for index, hop in enumerate(hops):
            if index == 0:
                probe = await probe_host_key(hop, policy=self.hostkeys)
            else:
                async with self.pool.connection(hops[index - 1]) as tunnel:
                    probe = await probe_host_key(hop, policy=self.hostkeys, tunnel=tunnel)
            if probe.accepted:
                continue
            if probe.offered is None or not isinstance(probe.refusal, HostKeyUnknownError):
                assert probe.refusal is not None
                raise probe.refusal  # changed or revoked: never trusted through this call
            stored = await asyncio.to_thread(
                self.hostkeys.trust_offered, hop, probe.offered, fingerprint
            )
            return {k: v for k, v in stored.to_json().items() if k != "public_key"}
        raise NotFoundError(
            f"Every host key on the way to {server!r} is already trusted.",
            hint="Nothing to trust; `jupyter remote server test` should connect.",
        )

    async def remove_hostkey(self, hid: str) -> int:
        return await asyncio.to_thread(self.store.remove_hostkeys, parse_host_id(hid))

    # ------------------------------------------------------------ profiles

    async def check_python(self, server: str, python: str) -> dict[str, Any]:
        """Version and ipykernel presence of one interpreter on ``server`` (one exec)."""
        endpoint = await self.endpoint(server)
        async with self.pool.connection(endpoint) as conn:
            result = await run(
                conn,
                command_python(python, "-c", PYTHON_CHECK),
                timeout=30,
                what=f"the answer of {python}",
                where=repr(server),
            )
        text = result.stdout.rstrip()
        line = text[text.rfind("\n") + 1 :]
        if not line.startswith(("{", "[")):
            # The request named an interpreter that is not there: the caller's input is
            # wrong (400 on the python field), not the remote (which answered fine).
            detail = result.stderr.strip() or printable(text[-300:], keep_newlines=True)
            raise ValidationError(
                f"{python!r} does not run on {server}: {detail[-300:]}",
                field="python",
                hint="Pick an interpreter from `jupyter remote env list SERVER`.",
            )
        try:  # an answer, but maybe a hostile one: bounded parse, printable strings
            check = parse_remote_json(line)
            if not isinstance(check, dict):
                raise RemoteJSONError("the answer is not a JSON object")
        except RemoteJSONError as exc:
            raise RemoteCommandError(
                f"{python} on {server} gave an unusable answer to a version check: {exc}.",
                hint="Pick an interpreter from `jupyter remote env list SERVER`; something "
                "other than Python answers at that path.",
            ) from None
        return dict(printable_tree(check))

    async def install_ipykernel(
        self, server: str, python: str, on_output: Callable[[str], None]
    ) -> None:
        """pip-install ipykernel into that interpreter's environment, streaming pip's output."""
        endpoint = await self.endpoint(server)
        async with self.pool.connection(endpoint) as conn:
            status = await stream(
                conn,
                command_python(
                    python, "-m", "pip", "install", "--disable-pip-version-check", "ipykernel"
                ),
                on_output,
            )
        if status != 0:
            raise RemoteCommandError(
                f"pip could not install ipykernel into {python} (exit status {status}).",
                hint="See pip's output above; a system Python may need a virtualenv instead.",
            )

    def _profile_json(self, profile: Profile) -> dict[str, Any]:
        return {**profile.to_json(), "kernel_name": kernelspecs.spec_name(profile.name)}

    async def list_profiles(self) -> list[dict[str, Any]]:
        return [self._profile_json(p) for p in await asyncio.to_thread(self.store.list_profiles)]

    async def get_profile(self, name: str) -> dict[str, Any]:
        return self._profile_json(await asyncio.to_thread(self.store.get_profile, name))

    async def add_profile(
        self,
        data: Mapping[str, Any],
        *,
        install_ipykernel: bool = False,
        on_output: Callable[[str], None] | None = None,
        replace: bool = False,
    ) -> dict[str, Any]:
        """Validate, check the interpreter remotely, save, and write kernelspec remote-NAME."""
        profile = await asyncio.to_thread(Profile.from_input, data)
        await asyncio.to_thread(self.store.get_server, profile.server)
        version: str | None = None
        env_name: str | None = None
        if profile.python:
            check = await self.check_python(profile.server, profile.python)
            if not check.get("ipykernel"):
                if not install_ipykernel:
                    raise IpykernelMissingError(
                        f"ipykernel is not installed in {profile.python} on {profile.server}.",
                        hint="Install it with --install-ipykernel (CLI) or the Install ipykernel "
                        "button, or pick another environment.",
                        python=profile.python,
                    )
                await self.install_ipykernel(
                    profile.server, profile.python, on_output or (lambda _: None)
                )
                check = await self.check_python(profile.server, profile.python)
                if not check.get("ipykernel"):
                    raise IpykernelMissingError(
                        f"ipykernel is still not importable by {profile.python}."
                    )
            version = str(check.get("version") or "") or None
            prefix = str(check.get("prefix") or "")
            if prefix and prefix not in ("/usr", "/usr/local"):
                env_name = prefix.rstrip("/").rsplit("/", 1)[-1]
        display = kernelspecs.display_name(profile, version=version, env_name=env_name)
        profile = dataclasses.replace(profile, display_name=display)
        await asyncio.to_thread(self.store.save_profile, profile, replace=replace)
        await asyncio.to_thread(kernelspecs.write_kernelspec, profile, display=display)
        return self._profile_json(profile)

    async def remove_profile(self, name: str) -> None:
        await asyncio.to_thread(self.store.remove_profile, name)
        await asyncio.to_thread(kernelspecs.remove_kernelspec, name)

    # ------------------------------------------------------------ remote kernels

    async def remote_kernels(self, server: str) -> list[dict[str, Any]]:
        """Kernels our agent started on ``server`` that are still there (running or dead)."""
        endpoint = await self.endpoint(server)
        async with self.pool.connection(endpoint) as conn:
            return await AgentClient(conn).list()

    async def stop_remote_kernel(self, server: str, kernel_id: str) -> dict[str, Any]:
        if not isinstance(kernel_id, str) or not KERNEL_ID_RE.fullmatch(kernel_id):
            raise ValidationError("Invalid kernel id.", field="kernel_id")
        endpoint = await self.endpoint(server)
        async with self.pool.connection(endpoint) as conn:
            result = await AgentClient(conn).stop(kernel_id)
        if not result.get("stopped"):
            raise NotFoundError(f"No kernel {kernel_id} on {server}.")
        return result

    async def close(self) -> None:
        await self.pool.close_all()


__all__ = ["HostKeyChangedError", "HostKeyUnknownError", "RemoteManager"]
