"""RemoteManager: the one facade the REST handlers and the ``jupyter remote`` CLI call.

Both go through it, so both behave the same. It is a :class:`RemoteContext` (store,
secrets, host keys, pool) plus the operations users ask for; the servers' CRUD and
their secrets are here, the rest lives with its job and is called from here:
``ssh/server_test.py``, ``ssh/trust.py``, ``kernels/profiles.py``,
``kernels/remote_kernels.py``, ``kernels/discovery.py``. An operation that is all its
job's is that module's function bound as a method (``check_python =
profiles.check_python``: the function takes the context first), so its signature and
docstring are written once. Every method is a coroutine; blocking file work goes to a
thread so the event loop never waits.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from .config import store_from_config
from .context import RemoteContext
from .errors import ValidationError
from .files import RemoteFiles
from .kernels import environments, gpus, jupyter_servers, profiles, remote_kernels, standby
from .kernels.discovery import Discovery
from .kernels.kernelspecs import remove_kernelspec
from .ssh import server_test, trust
from .store import AnyServer, JupyterServer, Server, parse_host_id, server_from_input
from .store.secrets import KINDS


class RemoteManager(RemoteContext):
    """Owned by RemoteExtensionApp (server) or by the CLI process; one per process."""

    # ------------------------------------------------------------ servers

    def _server_json(self, server: AnyServer) -> dict[str, Any]:
        data = server.to_json()
        data.setdefault("kind", "ssh")
        data["has_secret"] = self.secrets.has(server.name)
        data["warnings"] = server.warnings
        return data

    async def list_servers(self) -> list[dict[str, Any]]:
        servers = await asyncio.to_thread(self.store.list_servers)
        return [self._server_json(s) for s in servers]

    async def get_server(self, name: str) -> dict[str, Any]:
        return self._server_json(await asyncio.to_thread(self.store.get_server, name))

    def _take_secrets(self, name: str, data: Mapping[str, Any]) -> None:
        self._check_secret_fields(data)
        for kind in KINDS:
            value = data.get(kind)
            if value:
                self.secrets.set(kind, name, value)

    def _check_secret_fields(self, data: Mapping[str, Any]) -> None:
        for kind in KINDS:
            value = data.get(kind)
            if value is not None and (not isinstance(value, str) or len(value) > 4096):
                raise ValidationError(
                    f"{kind} must be a string of at most 4096 characters.", field=kind
                )

    async def add_server(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """Validate and save a new server; a password/passphrase goes to secrets only."""
        server = await asyncio.to_thread(server_from_input, data)
        self._check_secret_fields(data)
        if isinstance(server, JupyterServer):
            await self._check_via(server)
        await asyncio.to_thread(self.store.save_server, server)
        self._take_secrets(server.name, data)
        return self._server_json(server)

    async def _check_via(self, server: JupyterServer) -> None:
        """A Jupyter server's ``via`` must name a saved SSH server."""
        if server.via is not None:
            via = await asyncio.to_thread(self.store.get_server, server.via)
            if not isinstance(via, Server):
                raise ValidationError(f"via: {server.via!r} is not an SSH server.", field="via")

    async def update_server(self, name: str, data: Mapping[str, Any]) -> dict[str, Any]:
        """Replace fields of an existing server (PATCH semantics)."""
        current = await asyncio.to_thread(self.store.get_server, name)
        if not isinstance(data, Mapping):
            raise ValidationError("A server must be a JSON object.")
        if "name" in data and data["name"] != current.name:
            raise ValidationError(
                "A server cannot be renamed; add a new one instead.", field="name"
            )
        if data.get("kind", current.to_json().get("kind", "ssh")) != current.to_json().get(
            "kind", "ssh"
        ):
            raise ValidationError("A server's kind cannot change; add a new one.", field="kind")
        merged = {**current.to_json(), **data, "name": current.name}
        merged.pop("readonly", None)
        server = await asyncio.to_thread(server_from_input, merged)
        self._check_secret_fields(data)
        if isinstance(server, JupyterServer):
            await self._check_via(server)
        await asyncio.to_thread(self.store.save_server, server, replace=True)
        self._drop_secrets_of_old_target(current, server)
        self._take_secrets(server.name, data)
        await self._forget_file_link(server.name)  # the next file operation uses the edit
        return self._server_json(server)

    async def _forget_file_link(self, name: str) -> None:
        """Let the remote files' SFTP link of ``name`` go (server removed or edited)."""
        if self._files is not None:
            await self._files.links.forget(name)

    def _drop_secrets_of_old_target(self, old: AnyServer, new: AnyServer) -> None:
        """A secret follows the host: forget it when host, port or user change (and a
        passphrase when the key file changes); a Jupyter server's token and password when
        its URL or tunnel change. A new one in the same PATCH is then kept."""
        if isinstance(old, JupyterServer) or isinstance(new, JupyterServer):
            if getattr(old, "url", None) != getattr(new, "url", None) or getattr(
                old, "via", None
            ) != getattr(new, "via", None):
                self.secrets.forget("token", new.name)
                self.secrets.forget("password", new.name)
            return
        target_changed = (old.host, old.port, old.user) != (new.host, new.port, new.user)
        if target_changed:
            self.secrets.forget("password", new.name)
        if target_changed or old.identity != new.identity:
            self.secrets.forget("passphrase", new.name)

    async def remove_server(self, name: str) -> None:
        """Forget a server: its record, its secrets and its cached environments."""
        await asyncio.to_thread(self.store.remove_server, name)
        self.secrets.delete(name)
        await self._forget_file_link(name)  # its SFTP link would keep the connection open
        await Discovery.of(self).forget(name)
        await asyncio.to_thread(jupyter_servers.remove_kernelspecs, name)

    async def test_server(self, name: str) -> dict[str, Any]:
        """Connect (through the pool), then report host key, round trip, OS and python;
        for a Jupyter server: reach it, authenticate, its version and kernelspecs."""
        if await self._is_jupyter(name):
            return await jupyter_servers.test_jupyter_server(self, name)
        result = await server_test.test_server(self, name)
        result["gpus"] = gpus.parse(result.pop("nvidia_smi", None))  # None: no nvidia-smi
        return result

    # ------------------------------------------------------------ host keys

    list_hostkeys = trust.list_hostkeys
    trust_hostkey = trust.trust_hostkey

    async def remove_hostkey(self, hid: str) -> int:
        return await asyncio.to_thread(self.store.remove_hostkeys, parse_host_id(hid))

    # ------------------------------------------------------------ profiles

    check_python = profiles.check_python
    install_ipykernel = profiles.install_ipykernel

    async def list_profiles(self) -> list[dict[str, Any]]:
        return [profiles.profile_json(p) for p in await asyncio.to_thread(self.store.list_profiles)]

    async def get_profile(self, name: str) -> dict[str, Any]:
        return profiles.profile_json(await asyncio.to_thread(self.store.get_profile, name))

    add_profile = profiles.save_profile
    update_profile = profiles.update_profile

    async def profile_standby(self, name: str) -> dict[str, Any]:
        """Whether profile ``name`` keeps a standby kernel, and the one running: its pid,
        start and memory on the remote (GET /remote/profiles/NAME/standby)."""
        profile = await asyncio.to_thread(self.store.get_profile, name)
        return await standby.Standbys.of(self).status(profile)

    create_environment = environments.create_environment

    async def remove_profile(self, name: str) -> None:
        old = await profiles.saved_profile(self, name)
        await asyncio.to_thread(self.store.remove_profile, name)
        await asyncio.to_thread(remove_kernelspec, name)
        if old is not None:
            await standby.profile_removed(self, old)  # nothing left on the remote

    async def slurm_cluster(self, server: str, *, refresh: bool = False) -> dict[str, Any]:
        """``{"server", "slurm", "probed_at"}``: the server's Slurm (partitions, limits,
        idle nodes, accounts) from the environment probe's round trip; ``slurm`` is None
        when the server has no Slurm (kernels/slurm_info.py)."""
        if await self._is_jupyter(server):
            return {"server": server, "slurm": None, "probed_at": None}
        found = Discovery.of(self)
        entry = await found.lookup(server, refresh=refresh)
        if "slurm" not in entry:  # probed by an older version: look again
            entry = await found.lookup(server, refresh=True)
        return {"server": server, "slurm": entry.get("slurm"), "probed_at": entry.get("probed_at")}

    # ------------------------------------------------------------ remote kernels

    async def _is_jupyter(self, name: str) -> bool:
        return isinstance(await asyncio.to_thread(self.store.get_server, name), JupyterServer)

    jupyter_kernelspecs = jupyter_servers.kernelspecs

    async def remote_kernels(self, server: str) -> list[dict[str, Any]]:
        """Kernels our agent started on ``server`` that are still there (running or dead);
        on a Jupyter server, the kernels it runs."""
        if await self._is_jupyter(server):
            return await jupyter_servers.list_kernels(self, server)
        return await remote_kernels.list_remote_kernels(self, server)

    async def stop_remote_kernel(self, server: str, kernel_id: str) -> dict[str, Any]:
        if await self._is_jupyter(server):
            return await jupyter_servers.stop_kernel(self, server, kernel_id)
        return await remote_kernels.stop_remote_kernel(self, server, kernel_id)

    async def attach_remote_kernel(
        self, kernel_manager: Any, server: str, kernel_id: str
    ) -> dict[str, Any]:
        """Make a running remote kernel a kernel of ``kernel_manager`` again (same id; on a
        Jupyter server: a new local id for the kernel it runs)."""
        if await self._is_jupyter(server):
            return await jupyter_servers.attach_kernel(self, kernel_manager, server, kernel_id)
        return await remote_kernels.attach_remote_kernel(self, kernel_manager, server, kernel_id)

    # ------------------------------------------------------------ files

    _files: RemoteFiles | None = None

    @property
    def files(self) -> RemoteFiles:
        """The files of every saved server over SFTP (files/service.py); the REST routes
        of web/files.py and `jupyter remote files` call it."""
        if self._files is None:
            self._files = RemoteFiles(self)
        return self._files

    async def close(self) -> None:
        """Unfinished uploads removed and SFTP links let go, then every connection closed."""
        if self._files is not None:
            await self._files.close()
        await super().close()


def manager_from_config(**kwargs: Any) -> RemoteManager:
    """A manager whose store includes admin-defined servers and profiles (the CLI)."""
    return RemoteManager(store_from_config(), **kwargs)
