"""Saved servers, connection profiles and trusted host keys, on disk.

Everything lives under ``jupyter_data_dir()/remote/`` (mode 0700) as small
JSON files (mode 0600) written atomically (``files.write_private_json``) under a
file lock, so the CLI and a running Jupyter server can write at once. Input is
validated once, for every caller, by the records (``records.py``). No secret is
ever written: passwords and passphrases live in ``secrets.py``.

The methods are synchronous and quick; async callers run them through
``asyncio.to_thread`` (see ``manager.RemoteManager``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

from filelock import FileLock, Timeout
from jupyter_core.paths import jupyter_data_dir

from ..errors import ConflictError, NotFoundError, ReadOnlyError, RemoteError, ValidationError
from .files import private_dir, read_json_object, write_private_json
from .records import (
    AnyServer,
    HostKey,
    Profile,
    Server,
    server_from_input,
    server_from_record,
)
from .validation import parse_host_id, validate_name

#: a record kind (Server or JupyterServer, Profile) in the helpers at the end
R = TypeVar("R")
#: the fix of a server or profile name that names none
SERVERS_HINT = (
    "List servers with `jupyter remote server list`; add one with "
    "`jupyter remote server add NAME --host HOST`."
)
PROFILES_HINT = "List profiles with `jupyter remote profile list`."


class Store:
    """The on-disk store. One instance per process; every method is a short transaction."""

    SERVERS = "servers.json"
    PROFILES = "profiles.json"
    HOSTKEYS = "hostkeys.json"

    def __init__(
        self,
        root: Path | str | None = None,
        *,
        admin_servers: Mapping[str, Mapping[str, Any]] | None = None,
        admin_profiles: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self._root = Path(root) if root else None
        self._admin_servers: dict[str, AnyServer] = {
            name: server_from_input({**spec, "name": name}, readonly=True)
            for name, spec in (admin_servers or {}).items()
        }
        self._admin_profiles = {
            name: Profile.from_input({**spec, "name": name}, readonly=True)
            for name, spec in (admin_profiles or {}).items()
        }

    @property
    def root(self) -> Path:
        """Explicit root, else ``jupyter_data_dir()/remote`` as the environment says now."""
        return self._root if self._root is not None else Path(jupyter_data_dir()) / "remote"

    # -- plumbing

    def _ensure_root(self) -> None:
        private_dir(self.root)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self._ensure_root()
        lock = FileLock(str(self.root / ".lock"), timeout=15, mode=0o600)
        try:
            with lock:
                yield
        except Timeout:
            raise RemoteError(
                f"The store {self.root} is locked by another process.",
                hint="Another `jupyter remote` command may be stuck; retry in a moment.",
            ) from None

    def _read(self, filename: str) -> dict[str, Any]:
        path = self.root / filename
        try:
            return read_json_object(path) or {}
        except (OSError, ValueError) as exc:
            raise RemoteError(
                f"Cannot read {path}: {exc}",
                hint="Fix or remove the file; a backup of it is worth keeping.",
            ) from None

    def _write(self, filename: str, data: Mapping[str, Any]) -> None:
        write_private_json(self.root / filename, data)

    def _saved(self, filename: str, factory: Any) -> dict[str, Any]:
        records = {}
        for name, raw in self._read(filename).items():
            try:
                records[name] = factory(raw)
            except (ValidationError, TypeError):
                continue  # a hand-edited bad entry is skipped, never fatal
        return records

    # -- servers

    def _saved_servers(self) -> dict[str, AnyServer]:
        return self._saved(self.SERVERS, server_from_record)

    def list_servers(self) -> list[AnyServer]:
        return _by_name({**self._saved_servers(), **self._admin_servers})

    def get_server(self, name: str) -> AnyServer:
        return _named("server", name, self._admin_servers, self._saved_servers, SERVERS_HINT)

    def get_ssh_server(self, name: str) -> Server:
        """Server ``name``, which must be an SSH server (what connects, probes and runs
        our agent asks for); a Jupyter server of that name is a 400 that says so."""
        server = self.get_server(name)
        if not isinstance(server, Server):
            raise ValidationError(
                f"{name!r} is a Jupyter server, not an SSH server: it has no shell, "
                "environments or agent of ours.",
                field="server",
                hint="Its kernels are in the kernel picker; list them with "
                f"`jupyter remote env list {name}`.",
            )
        return server

    def save_server(self, server: AnyServer, *, replace: bool = False) -> AnyServer:
        if server.name in self._admin_servers:
            raise ReadOnlyError(f"Server {server.name!r} is defined by an administrator.")
        with self._locked():
            data = self._read(self.SERVERS)
            if server.name in data and not replace:
                raise ConflictError(
                    f"A server named {server.name!r} already exists.",
                    hint="Pick another name, or remove the existing one first.",
                )
            if server.name not in data and replace:
                raise NotFoundError(f"No server named {server.name!r}.")
            record = server.to_json()
            record.pop("readonly")
            data[server.name] = record
            self._write(self.SERVERS, data)
        return server

    def remove_server(self, name: str) -> None:
        self._remove(self.SERVERS, "server", name, self._admin_servers, self._refuse_used)

    def _refuse_used(self, name: str) -> None:
        """A server that profiles (or Jupyter servers, as their ``via``) use stays."""
        users = [p.name for p in self.list_profiles() if p.server == name]
        users += [
            f"Jupyter server {s.name} (--via)"
            for s in self.list_servers()
            if getattr(s, "via", None) == name
        ]
        if users:
            raise ConflictError(
                f"Server {name!r} is used by profile(s) {', '.join(users)}.",
                hint="Remove those profiles first with `jupyter remote profile remove NAME`.",
            )

    def _remove(
        self,
        file: str,
        what: str,
        name: str,
        admin: Mapping[str, Any],
        check: Callable[[str], None] | None = None,
    ) -> None:
        """Remove record ``name`` of ``file`` (``what``: "server", "profile"); an admin's
        is read-only; ``check`` may refuse first (under the lock)."""
        name = validate_name(name, what)
        if name in admin:
            raise ReadOnlyError(f"{what.capitalize()} {name!r} is defined by an administrator.")
        with self._locked():
            data = self._read(file)
            if name not in data:
                raise NotFoundError(f"No {what} named {name!r}.")
            if check is not None:
                check(name)
            del data[name]
            self._write(file, data)

    # -- profiles

    def _saved_profiles(self) -> dict[str, Profile]:
        return self._saved(self.PROFILES, Profile.from_record)

    def list_profiles(self) -> list[Profile]:
        return _by_name({**self._saved_profiles(), **self._admin_profiles})

    def get_profile(self, name: str) -> Profile:
        return _named("profile", name, self._admin_profiles, self._saved_profiles, PROFILES_HINT)

    def save_profile(self, profile: Profile, *, replace: bool = False) -> Profile:
        if profile.name in self._admin_profiles:
            raise ReadOnlyError(f"Profile {profile.name!r} is defined by an administrator.")
        self.get_server(profile.server)  # must exist
        with self._locked():
            data = self._read(self.PROFILES)
            if profile.name in data and not replace:
                raise ConflictError(f"A profile named {profile.name!r} already exists.")
            record = profile.to_json()
            record.pop("readonly")
            data[profile.name] = record
            self._write(self.PROFILES, data)
        return profile

    def remove_profile(self, name: str) -> None:
        self._remove(self.PROFILES, "profile", name, self._admin_profiles)

    # -- trusted host keys

    def list_hostkeys(self) -> list[HostKey]:
        keys = []
        for raw in self._read(self.HOSTKEYS).get("keys", []):
            with contextlib.suppress(TypeError):
                keys.append(HostKey(**raw))
        return keys

    def hostkeys_for(self, hid: str) -> list[HostKey]:
        return [k for k in self.list_hostkeys() if k.host_id == hid]

    def add_hostkey(self, key: HostKey) -> HostKey:
        """Trust ``key``. Refuses a host that already has a different trusted key."""
        with self._locked():
            keys = self._read(self.HOSTKEYS).get("keys", [])
            for raw in keys:
                if raw.get("host_id") != key.host_id:
                    continue
                if raw.get("public_key") == key.public_key:
                    return HostKey(**raw)
                raise ConflictError(
                    f"{key.host_id} already has a different trusted key "
                    f"({raw.get('fingerprint')}).",
                    hint=f"Remove it first with `jupyter remote hostkey remove {key.host_id}`.",
                )
            keys.append(key.to_json())
            self._write(self.HOSTKEYS, {"keys": keys})
        return key

    def remove_hostkeys(self, hid: str) -> int:
        """Forget every trusted key of ``hid``; returns how many were removed."""
        hid = parse_host_id(hid)
        with self._locked():
            keys = self._read(self.HOSTKEYS).get("keys", [])
            kept = [k for k in keys if k.get("host_id") != hid]
            if len(kept) == len(keys):
                raise NotFoundError(
                    f"No trusted key for {hid} in jupyter-remote's store.",
                    hint="List them with `jupyter remote hostkey list`. Keys in "
                    "~/.ssh/known_hosts are removed with `ssh-keygen -R HOST`.",
                )
            self._write(self.HOSTKEYS, {"keys": kept})
            return len(keys) - len(kept)


def _by_name(records: Mapping[str, R]) -> list[R]:
    """The records (an admin's over a saved one of the same name), sorted by name."""
    return [records[k] for k in sorted(records)]


def _named(
    what: str,
    name: str,
    admin: Mapping[str, R],
    saved: Callable[[], Mapping[str, R]],
    hint: str,
) -> R:
    """Record ``name`` (``what``: "server", "profile"): an administrator's, else the
    saved one; NotFoundError with ``hint`` (how to list or add them) when neither."""
    name = validate_name(name, what)
    if name in admin:
        return admin[name]
    try:
        return saved()[name]
    except KeyError:
        raise NotFoundError(f"No {what} named {name!r}.", hint=hint) from None
