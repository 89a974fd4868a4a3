"""The records we keep: saved servers, connection profiles, trusted host keys.

Frozen dataclasses built from untrusted input by ``from_input`` (through
``validation.py``) and written by ``store.Store``. No secret is ever a field:
passwords and passphrases live in ``secrets.py``.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from ..errors import ValidationError
from .durations import parse_duration
from .slurm import DEFAULT_SLURM_IDLE, SlurmRequest
from .validation import (
    AUTH_METHODS,
    ENV_KEY_RE,
    JUPYTER_AUTH_METHODS,
    MAX_ENV_VALUE,
    _parse_jump_field,
    _text,
    format_jump,
    validate_host,
    validate_jupyter_url,
    validate_kernel_name,
    validate_local_path,
    validate_name,
    validate_port,
    validate_remote_path,
    validate_standby,
    validate_user,
)

#: How a kernel's channels reach the relay beside it: "unix" (a socket in a private
#: 0700 directory, forwarded over SSH) or, only by the user's explicit choice for an
#: sshd that forbids socket forwarding, "tcp" (a port on the remote's 127.0.0.1), or
#: "exec" (the relay's stream over an exec channel's stdin/stdout: no forwarding at all).
CHANNEL_TRANSPORTS = ("unix", "tcp", "exec")
TCP_CHANNELS_WARNING = (
    "Kernel channels use a TCP port on the remote's 127.0.0.1 (chosen for this server): "
    "other users of that host can see and connect to the port; the relay answers only "
    "a client that presents this kernel's secret token. Use unix sockets unless the "
    "host's sshd forbids socket forwarding."
)


def _input_fields(
    data: Any,
    cls: type,
    what: str,
    *,
    secrets: set[str] | frozenset[str] = frozenset(),
    facts: frozenset[str] = frozenset(),
    known: str = "",
) -> None:
    """The ``from_input`` of each record: ``data`` is a JSON object naming only fields of
    ``cls`` (not ``readonly`` nor the ``facts`` found on the remote), or ``secrets`` (kept
    in the secret store, not in the record). ``what``: "A server"; ``known``: how the
    hint names the fields ("of a Jupyter server")."""
    if not isinstance(data, Mapping):
        raise ValidationError(f"{what} must be a JSON object.")
    allowed = {f.name for f in fields(cls)} - {"readonly"} - facts
    unknown = set(data) - allowed - secrets
    if unknown:
        raise ValidationError(
            f"Unknown field(s): {', '.join(sorted(map(str, unknown)))[:200]}.",
            hint=f"Known fields{' ' + known if known else ''}: {', '.join(sorted(allowed))}.",
        )


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
        _input_fields(data, cls, "A server", secrets={"password", "passphrase"})
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
    #: the user's own name for the kernel in the launcher and picker; None: automatic
    display_name: str | None = None
    readonly: bool = False
    #: learned from the interpreter when the profile was saved (never user input)
    python_version: str | None = None
    env_name: str | None = None
    #: "run in a Slurm job" on this server (its login node): store/slurm.py's request
    slurm: dict[str, Any] | None = None
    #: keep one pre-warmed kernel ready on the remote (kernels/standby.py)
    standby: bool = False

    @classmethod
    def from_input(cls, data: Mapping[str, Any], *, readonly: bool = False) -> Profile:
        _input_fields(data, cls, "A profile", facts=PROFILE_FACTS)
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
        slurm = data.get("slurm")
        slurm = None if slurm in (None, "") else SlurmRequest.from_input(slurm).to_json()
        idle = data.get("idle_timeout", DEFAULT_SLURM_IDLE if slurm else 0)
        idle = parse_duration(idle, "idle_timeout")  # 900, "15m", "1h30m", "never"
        display = data.get("display_name")
        if display is not None:
            display = _text(display, "display_name", max_len=200, allow_empty=True).strip()
        display = display or None  # empty: the automatic name
        standby = validate_standby(data.get("standby", False), slurm)
        return cls(
            name=validate_name(data.get("name"), "name"),
            server=validate_name(data.get("server"), "server"),
            python=python,
            kernelspec=kernelspec,
            cwd=validate_remote_path(data.get("cwd"), "cwd"),
            env=clean_env,
            idle_timeout=idle,
            slurm=slurm,
            display_name=display,
            readonly=readonly,
            standby=standby,
        )

    @classmethod
    def from_record(cls, raw: Mapping[str, Any]) -> Profile:
        """A profile as the store saved it. Records written before ``python_version``
        existed kept the automatic display name itself: it becomes automatic again."""
        record = {**raw, "readonly": False}
        old = _OLD_AUTOMATIC_NAME.fullmatch(str(record.get("display_name") or ""))
        if "python_version" not in record and old and old["server"] == record.get("server"):
            record.update(display_name=None, python_version=old["version"], env_name=old["env"])
        return cls(**record)

    def input_fields(self) -> dict[str, Any]:
        """What a user may set, as now (the base of an edit: PATCH, ``profile edit``)."""
        data = asdict(self)
        for name in ("readonly", *PROFILE_FACTS):
            data.pop(name)
        return data

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


#: Profile fields the server learns from the remote, never taken from input.
PROFILE_FACTS = frozenset({"python_version", "env_name"})
#: The automatic display name as profiles stored it before their facts were kept apart.
_OLD_AUTOMATIC_NAME = re.compile(
    r"Python(?: (?P<version>\d+\.\d+))?(?: · (?P<env>.+?))? — (?P<server>[A-Za-z0-9._-]+)"
)


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


@dataclass(frozen=True)
class JupyterServer:
    """A Jupyter server that already runs elsewhere (a workstation, a VM, a JupyterHub user
    server), reached at ``url`` directly or, with ``via``, from the saved SSH server of that
    name (the URL's host:port is then what that host reaches, e.g. its 127.0.0.1:8888).
    Its token or password lives in ``secrets.py``; ``ca_file`` is an extra CA (PEM) that
    HTTPS certificates may chain to, never a switch that turns validation off."""

    name: str
    url: str
    auth: str = "token"
    via: str | None = None
    default_kernel: str | None = None
    ca_file: str | None = None
    kind: str = "jupyter"
    readonly: bool = False

    @classmethod
    def from_input(cls, data: Mapping[str, Any], *, readonly: bool = False) -> JupyterServer:
        """Validate untrusted input (REST body, CLI args, config) into a JupyterServer."""
        _input_fields(
            data, cls, "A server", secrets={"password", "token"}, known="of a Jupyter server"
        )
        auth = data.get("auth") or "token"
        if auth not in JUPYTER_AUTH_METHODS:
            raise ValidationError(
                f"auth must be one of {', '.join(JUPYTER_AUTH_METHODS)}.", field="auth"
            )
        via = data.get("via")
        return cls(
            name=validate_name(data.get("name"), "name"),
            url=validate_jupyter_url(data.get("url")),
            auth=auth,
            via=validate_name(via, "via") if via not in (None, "") else None,
            default_kernel=validate_kernel_name(data.get("default_kernel")),
            ca_file=validate_local_path(data.get("ca_file"), "ca_file", must_exist=not readonly),
            readonly=readonly,
        )

    @property
    def warnings(self) -> list[str]:
        """What the user should keep in mind about this server's settings (UI, CLI)."""
        if self.url.startswith("http://") and self.via is None:
            host = self.url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)[0].strip("[]")
            if host not in ("127.0.0.1", "localhost", "::1"):
                return [
                    "Plain http:// to another machine: the token and every cell travel "
                    "unencrypted. Use https://, or reach the server --via an SSH server."
                ]
        return []

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


AnyServer = Server | JupyterServer


def server_from_input(data: Mapping[str, Any], *, readonly: bool = False) -> AnyServer:
    """A saved server of either kind from untrusted input: ``kind: "jupyter"`` (or a
    ``url``) makes a Jupyter server, anything else an SSH server, as before."""
    if isinstance(data, Mapping) and (data.get("kind") == "jupyter" or "url" in data):
        return JupyterServer.from_input(data, readonly=readonly)
    if isinstance(data, Mapping) and data.get("kind") not in (None, "ssh"):
        raise ValidationError('kind must be "ssh" or "jupyter".', field="kind")
    return Server.from_input(
        {k: v for k, v in data.items() if k != "kind"} if isinstance(data, Mapping) else data,
        readonly=readonly,
    )


def server_from_record(raw: Mapping[str, Any]) -> AnyServer:
    """A server as stored in servers.json: records without ``kind`` (every file written
    before Jupyter servers existed) are SSH servers."""
    if raw.get("kind") == "jupyter":
        return JupyterServer(**{**raw, "readonly": False})
    return Server(**{**{k: v for k, v in raw.items() if k != "kind"}, "readonly": False})


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()
