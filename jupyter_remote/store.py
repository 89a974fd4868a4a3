"""Saved servers, connection profiles and trusted host keys, on disk.

Everything lives under ``jupyter_data_dir()/remote/`` (mode 0700) as small
JSON files (mode 0600) written atomically (temp file + ``os.replace``) under a
file lock, so the CLI and a running Jupyter server can write at once. Input is
validated here, once, for every caller (REST, CLI, traitlets config). No
secret is ever written: passwords and passphrases live in :mod:`.secrets`.

The methods are synchronous and quick; async callers run them through
``asyncio.to_thread`` (see ``manager.RemoteManager``).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import ipaddress
import json
import os
import re
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout
from jupyter_core.paths import jupyter_data_dir

from .errors import ConflictError, NotFoundError, ReadOnlyError, RemoteError, ValidationError

NAME_RE = re.compile(r"[A-Za-z0-9._-]{1,64}")
_HOST_LABEL = r"[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
HOST_RE = re.compile(rf"{_HOST_LABEL}(\.{_HOST_LABEL})*\.?")
USER_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.@-]{0,63}\$?")
ENV_KEY_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
AUTH_METHODS = ("key", "agent", "password")
#: How a kernel's channels reach the relay beside it: "unix" (a socket in a private
#: 0700 directory, forwarded over SSH) or, only by the user's explicit choice for an
#: sshd that forbids socket forwarding, "tcp" (a port on the remote's 127.0.0.1).
CHANNEL_TRANSPORTS = ("unix", "tcp")
TCP_CHANNELS_WARNING = (
    "Kernel channels use a TCP port on the remote's 127.0.0.1 (chosen for this server): "
    "other users of that host can see and connect to the port; the relay answers only "
    "a client that presents this kernel's secret token. Use unix sockets unless the "
    "host's sshd forbids socket forwarding."
)
MAX_PATH = 4096
MAX_ENV_VALUE = 32768


# ---------------------------------------------------------------- validation


def _text(value: Any, what: str, *, max_len: int, allow_empty: bool = False) -> str:
    """Accept a printable, valid-Unicode string; reject everything else with a 400."""
    if not isinstance(value, str):
        raise ValidationError(f"{what} must be a string.", field=what)
    if not value and not allow_empty:
        raise ValidationError(f"{what} must not be empty.", field=what)
    if len(value) > max_len:
        raise ValidationError(f"{what} is too long (at most {max_len} characters).", field=what)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError(f"{what} is not valid UTF-8.", field=what) from None
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValidationError(
            f"{what} must not contain control characters or newlines.", field=what
        )
    return value


def validate_name(value: Any, what: str = "name") -> str:
    """Names of servers and profiles: ``[A-Za-z0-9._-]{1,64}``, not ``.`` or ``..``."""
    name = _text(value, what, max_len=64)
    if not NAME_RE.fullmatch(name) or name in (".", "..") or name.startswith("-"):
        raise ValidationError(
            f"Invalid {what} {name!r}.",
            field=what,
            hint="Use 1-64 letters, digits, '.', '_' or '-', not starting with '-'.",
        )
    return name


def validate_host(value: Any, what: str = "host") -> str:
    """A DNS name, an ssh_config alias or an IP literal; never something option-like."""
    host = _text(value, what, max_len=253)
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    if not HOST_RE.fullmatch(host):
        raise ValidationError(
            f"Invalid {what} {host!r}.",
            field=what,
            hint="Give a host name such as gpu-box.example.org, an ~/.ssh/config alias, "
            "or an IP address.",
        )
    return host


def validate_port(value: Any, what: str = "port") -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValidationError(f"{what} must be a number from 1 to 65535.", field=what)
    if isinstance(value, str):
        if not value.isdigit() or len(value) > 5:
            raise ValidationError(f"{what} must be a number from 1 to 65535.", field=what)
        value = int(value)
    if not 1 <= value <= 65535:
        raise ValidationError(f"{what} must be a number from 1 to 65535.", field=what)
    return value


def validate_user(value: Any, what: str = "user") -> str | None:
    if value is None or value == "":
        return None
    user = _text(value, what, max_len=64)
    if not USER_RE.fullmatch(user):
        raise ValidationError(
            f"Invalid {what} {user!r}.",
            field=what,
            hint="A login name: letters, digits, '_', '.', '-' (not starting with '-').",
        )
    return user


def validate_local_path(value: Any, what: str, *, must_exist: bool = False) -> str | None:
    """A path on this machine (key files): absolute or ``~``-relative."""
    if value is None or value == "":
        return None
    path = _text(value, what, max_len=MAX_PATH)
    expanded = os.path.expanduser(path)
    if not os.path.isabs(expanded):
        raise ValidationError(
            f"{what} must be an absolute path.", field=what, hint="For example ~/.ssh/id_ed25519."
        )
    if must_exist and not os.path.isfile(expanded):
        raise ValidationError(
            f"{what} {path!r} does not exist or is not a file.",
            field=what,
            hint="Create a key with `ssh-keygen -t ed25519` or give the path of an existing one.",
        )
    return expanded


def validate_remote_path(value: Any, what: str, *, allow_empty: bool = True) -> str | None:
    """A path on the remote: absolute or ``~``-relative; sent as data, never spliced."""
    if value is None or value == "":
        if allow_empty:
            return None
        raise ValidationError(f"{what} must not be empty.", field=what)
    path = _text(value, what, max_len=MAX_PATH)
    if not (path.startswith("/") or path == "~" or path.startswith("~/")):
        raise ValidationError(
            f"{what} must be an absolute path on the remote (or start with ~/).", field=what
        )
    return path


def parse_jump(value: Any) -> tuple[str | None, str, int | None] | None:
    """``[user@]host[:port]`` of an explicit jump host, validated part by part."""
    if value is None or value == "":
        return None
    text = _text(value, "jump", max_len=400)
    user: str | None = None
    if "@" in text:
        user_part, _, text = text.rpartition("@")
        user = validate_user(user_part, "jump user")
    port: int | None = None
    if text.startswith("["):
        host_part, _, rest = text[1:].partition("]")
        if rest:
            if not rest.startswith(":"):
                raise ValidationError("Invalid jump host.", field="jump")
            port = validate_port(rest[1:], "jump port")
    elif text.count(":") == 1:
        host_part, _, port_text = text.partition(":")
        port = validate_port(port_text, "jump port")
    else:
        host_part = text
    return user, validate_host(host_part, "jump host"), port


def _parse_jump_field(value: Any) -> tuple[str | None, str, int | None] | None:
    """parse_jump, with errors reported against the input field ``jump``."""
    try:
        return parse_jump(value)
    except ValidationError as exc:
        raise ValidationError(exc.message, field="jump", hint=exc.hint) from None


def format_jump(jump: tuple[str | None, str, int | None] | None) -> str | None:
    if jump is None:
        return None
    user, host, port = jump
    if ":" in host:
        host = f"[{host}]"
    return f"{user + '@' if user else ''}{host}{':' + str(port) if port else ''}"


def host_id(host: str, port: int | None) -> str:
    """The known_hosts key of an endpoint, as OpenSSH writes it: ``host`` or ``[host]:port``."""
    if port in (None, 22):
        return host
    return f"[{host}]:{port}"


def parse_host_id(value: Any) -> str:
    """Validate a ``host`` or ``[host]:port`` given back by a user (hostkey remove)."""
    text = _text(value, "host", max_len=300)
    if text.startswith("["):
        inner, _, rest = text[1:].partition("]")
        if not rest.startswith(":"):
            raise ValidationError("Use HOST or [HOST]:PORT.", field="host")
        return host_id(validate_host(inner), validate_port(rest[1:]))
    if text.count(":") == 1:
        host, _, port = text.partition(":")
        return host_id(validate_host(host), validate_port(port))
    return validate_host(text)


# ---------------------------------------------------------------- records


@dataclass(frozen=True)
class Server:
    """A saved SSH endpoint. ``port``/``user`` None means: ask ~/.ssh/config, then defaults."""

    name: str
    host: str
    port: int | None = None
    user: str | None = None
    identity: str | None = None
    auth: str = "key"
    jump: str | None = None
    channel_transport: str = "unix"
    readonly: bool = False

    @classmethod
    def from_input(cls, data: Mapping[str, Any], *, readonly: bool = False) -> Server:
        """Validate untrusted input (REST body, CLI args, config) into a Server."""
        if not isinstance(data, Mapping):
            raise ValidationError("A server must be a JSON object.")
        allowed = {f.name for f in fields(cls)} - {"readonly"}
        unknown = set(data) - allowed - {"password", "passphrase"}
        if unknown:
            raise ValidationError(
                f"Unknown field(s): {', '.join(sorted(map(str, unknown)))[:200]}.",
                hint=f"Known fields: {', '.join(sorted(allowed))}.",
            )
        auth = data.get("auth") or "key"
        if auth not in AUTH_METHODS:
            raise ValidationError(f"auth must be one of {', '.join(AUTH_METHODS)}.", field="auth")
        transport = data.get("channel_transport") or "unix"
        if transport not in CHANNEL_TRANSPORTS:
            raise ValidationError(
                f"channel_transport must be one of {', '.join(CHANNEL_TRANSPORTS)}.",
                field="channel_transport",
            )
        return cls(
            name=validate_name(data.get("name"), "name"),
            host=validate_host(data.get("host")),
            port=validate_port(data.get("port")),
            user=validate_user(data.get("user")),
            identity=validate_local_path(data.get("identity"), "identity", must_exist=not readonly),
            auth=auth,
            jump=format_jump(_parse_jump_field(data.get("jump"))),
            channel_transport=transport,
            readonly=readonly,
        )

    @property
    def warnings(self) -> list[str]:
        """What the user should keep in mind about this server's settings (UI, CLI)."""
        return [TCP_CHANNELS_WARNING] if self.channel_transport == "tcp" else []

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Profile:
    """A server + an environment + how to run kernels there (see kernelspecs.py)."""

    name: str
    server: str
    python: str | None = None
    kernelspec: str | None = None
    cwd: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    idle_timeout: int = 0
    display_name: str | None = None
    readonly: bool = False

    @classmethod
    def from_input(cls, data: Mapping[str, Any], *, readonly: bool = False) -> Profile:
        if not isinstance(data, Mapping):
            raise ValidationError("A profile must be a JSON object.")
        allowed = {f.name for f in fields(cls)} - {"readonly"}
        unknown = set(data) - allowed
        if unknown:
            raise ValidationError(
                f"Unknown field(s): {', '.join(sorted(map(str, unknown)))[:200]}.",
                hint=f"Known fields: {', '.join(sorted(allowed))}.",
            )
        python = validate_remote_path(data.get("python"), "python")
        kernelspec = data.get("kernelspec")
        if kernelspec is not None:
            kernelspec = validate_name(kernelspec, "kernelspec")
        if not python and not kernelspec:
            raise ValidationError(
                "A profile needs a python path (or a remote kernelspec).",
                field="python",
                hint="List candidates with `jupyter remote env list SERVER`.",
            )
        env = data.get("env") or {}
        if not isinstance(env, Mapping):
            raise ValidationError("env must be an object of NAME: value.", field="env")
        clean_env: dict[str, str] = {}
        try:
            for key, val in env.items():
                key = _text(key, "env name", max_len=128)
                if not ENV_KEY_RE.fullmatch(key):
                    raise ValidationError(f"Invalid environment variable name {key!r}.")
                clean_env[key] = _text(val, f"env {key}", max_len=MAX_ENV_VALUE, allow_empty=True)
        except ValidationError as exc:  # every env problem is reported on the env field
            raise ValidationError(exc.message, field="env", hint=exc.hint) from None
        idle = data.get("idle_timeout", 0)
        if isinstance(idle, str) and idle.isdigit():
            idle = int(idle)
        if isinstance(idle, bool) or not isinstance(idle, int) or not 0 <= idle <= 30 * 86400:
            raise ValidationError(
                "idle_timeout must be a number of seconds from 0 (never) to 2592000.",
                field="idle_timeout",
            )
        display = data.get("display_name")
        if display is not None:
            display = _text(display, "display_name", max_len=200)
        return cls(
            name=validate_name(data.get("name"), "name"),
            server=validate_name(data.get("server"), "server"),
            python=python,
            kernelspec=kernelspec,
            cwd=validate_remote_path(data.get("cwd"), "cwd"),
            env=clean_env,
            idle_timeout=idle,
            display_name=display,
            readonly=readonly,
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class HostKey:
    """One trusted host key: ``public_key`` is the OpenSSH ``type base64`` line."""

    host_id: str
    key_type: str
    fingerprint: str
    public_key: str
    added: str
    source: str = "jupyter-remote"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


# ---------------------------------------------------------------- the store


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
        self._admin_servers = {
            name: Server.from_input({**spec, "name": name}, readonly=True)
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
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.root, 0o700)

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
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise RemoteError(
                f"Cannot read {path}: {exc}",
                hint="Fix or remove the file; a backup of it is worth keeping.",
            ) from None
        return data if isinstance(data, dict) else {}

    def _write(self, filename: str, data: Mapping[str, Any]) -> None:
        """Atomic, 0600 from the first byte: mkstemp creates the file 0600."""
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=f".{filename}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(data, f, indent=2, sort_keys=True)
                f.write("\n")
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.root / filename)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def _saved(self, filename: str, factory: Any) -> dict[str, Any]:
        records = {}
        for name, raw in self._read(filename).items():
            try:
                records[name] = factory(raw)
            except (ValidationError, TypeError):
                continue  # a hand-edited bad entry is skipped, never fatal
        return records

    # -- servers

    def _saved_servers(self) -> dict[str, Server]:
        return self._saved(self.SERVERS, lambda raw: Server(**{**raw, "readonly": False}))

    def list_servers(self) -> list[Server]:
        merged = {**self._saved_servers(), **self._admin_servers}
        return [merged[k] for k in sorted(merged)]

    def get_server(self, name: str) -> Server:
        name = validate_name(name, "server")
        if name in self._admin_servers:
            return self._admin_servers[name]
        try:
            return self._saved_servers()[name]
        except KeyError:
            raise NotFoundError(
                f"No server named {name!r}.",
                hint="List servers with `jupyter remote server list`; add one with "
                "`jupyter remote server add NAME --host HOST`.",
            ) from None

    def save_server(self, server: Server, *, replace: bool = False) -> Server:
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
        name = validate_name(name, "server")
        if name in self._admin_servers:
            raise ReadOnlyError(f"Server {name!r} is defined by an administrator.")
        with self._locked():
            data = self._read(self.SERVERS)
            if name not in data:
                raise NotFoundError(f"No server named {name!r}.")
            users = [p.name for p in self.list_profiles() if p.server == name]
            if users:
                raise ConflictError(
                    f"Server {name!r} is used by profile(s) {', '.join(users)}.",
                    hint="Remove those profiles first with `jupyter remote profile remove NAME`.",
                )
            del data[name]
            self._write(self.SERVERS, data)

    # -- profiles

    def _saved_profiles(self) -> dict[str, Profile]:
        return self._saved(self.PROFILES, lambda raw: Profile(**{**raw, "readonly": False}))

    def list_profiles(self) -> list[Profile]:
        merged = {**self._saved_profiles(), **self._admin_profiles}
        return [merged[k] for k in sorted(merged)]

    def get_profile(self, name: str) -> Profile:
        name = validate_name(name, "profile")
        if name in self._admin_profiles:
            return self._admin_profiles[name]
        try:
            return self._saved_profiles()[name]
        except KeyError:
            raise NotFoundError(
                f"No profile named {name!r}.",
                hint="List profiles with `jupyter remote profile list`.",
            ) from None

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
        name = validate_name(name, "profile")
        if name in self._admin_profiles:
            raise ReadOnlyError(f"Profile {name!r} is defined by an administrator.")
        with self._locked():
            data = self._read(self.PROFILES)
            if name not in data:
                raise NotFoundError(f"No profile named {name!r}.")
            del data[name]
            self._write(self.PROFILES, data)

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
