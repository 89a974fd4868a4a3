"""Where to connect: a saved Server resolved against ``~/.ssh/config``.

``resolve_endpoint`` is called (in a worker thread: it reads files) by the
connection pool's callers before every connect. Explicit values of the saved
server win over ``~/.ssh/config``, as on the ``ssh`` command line. The
``UserKnownHostsFile``/``GlobalKnownHostsFile`` that config names for the host
are resolved here too (tilde, %-tokens, ${VAR}), for the host-key policy.
"""

from __future__ import annotations

import getpass
import os
import re
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asyncssh.config import SSHClientConfig

from ..errors import ValidationError
from ..store import Server, host_id, parse_jump

DEFAULT_SSH_CONFIG = Path("~/.ssh/config")


@dataclass(frozen=True)
class Endpoint:
    """A resolved SSH target; ``jump`` is the hop to go through (itself resolved)."""

    host: str
    port: int
    user: str
    auth: str = "key"
    identities: tuple[str, ...] = ()
    jump: Endpoint | None = None
    server: str | None = None  # the saved server's name: secrets and hints
    #: known_hosts files ~/.ssh/config names for this host (expanded, absolute);
    #: None = OpenSSH's defaults, () = "none". Not part of the pool key.
    user_known_hosts: tuple[str, ...] | None = None
    global_known_hosts: tuple[str, ...] | None = None
    #: UserKnownHostsFile/GlobalKnownHostsFile values that could not be expanded
    known_hosts_problems: tuple[str, ...] = ()

    @property
    def host_id(self) -> str:
        return host_id(self.host, self.port)

    @property
    def key(self) -> tuple[Any, ...]:
        """Pool key: connections are shared by everything with the same key."""
        return (
            self.host,
            self.port,
            self.user,
            self.auth,
            self.identities,
            self.server if self.auth == "password" else None,
            self.jump.key if self.jump else None,
        )

    def describe(self) -> str:
        via = f" via {self.jump.describe()}" if self.jump else ""
        return f"{self.user}@{self.host_id}{via}"


def _load_config(host: str, user: str | None, port: int | None, path: Path) -> SSHClientConfig:
    expanded = path.expanduser()
    paths = [expanded] if os.access(expanded, os.R_OK) else []
    return SSHClientConfig.load(  # type: ignore[return-value]
        None,
        paths,
        False,
        False,
        False,
        getpass.getuser(),
        user if user else (),
        host,
        port if port else (),
    )


_TOKEN = re.compile(r"%(.)|\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def expand_known_hosts_path(text: str, tokens: dict[str, str]) -> str:
    """One UserKnownHostsFile/GlobalKnownHostsFile value as ssh expands it: ``~`` or
    ``~user`` first, then %-tokens and ``${VAR}``. Raises ValueError for an unknown token,
    an unset variable or a path that is not absolute afterwards."""
    if text.startswith("~"):
        head, sep, rest = text.partition("/")
        home = os.path.expanduser(head)
        if home == head:
            raise ValueError(f"unknown user in {head!r}")
        text = home + sep + rest

    def token(match: re.Match[str]) -> str:
        if match.group(2) is not None:
            if match.group(2) not in os.environ:
                raise ValueError(f"${{{match.group(2)}}} is not set")
            return os.environ[match.group(2)]
        if match.group(1) not in tokens:
            raise ValueError(f"unsupported token %{match.group(1)}")
        return tokens[match.group(1)]

    expanded = _TOKEN.sub(token, text)
    if not os.path.isabs(expanded):
        raise ValueError("not an absolute path after expansion")
    return expanded


def _known_hosts_files(
    cfg: SSHClientConfig, original_host: str, host: str, port: int, user: str
) -> tuple[tuple[str, ...] | None, tuple[str, ...] | None, tuple[str, ...]]:
    """(user files, global files, problems) that ``cfg`` names for this host."""
    local = socket.gethostname()
    tokens = {
        "%": "%",
        "d": os.path.expanduser("~"),
        "u": getpass.getuser(),
        "i": str(os.getuid()),
        "h": host,
        "n": original_host,
        "p": str(port),
        "r": user,
        "l": local,
        "L": local.split(".", 1)[0],
    }
    problems: list[str] = []
    found: list[tuple[str, ...] | None] = []
    for option in ("UserKnownHostsFile", "GlobalKnownHostsFile"):
        values = cfg.get(option)
        if values is None:
            found.append(None)
            continue
        paths: list[str] = []
        for value in values:  # type: ignore[attr-defined]
            try:
                paths.append(expand_known_hosts_path(str(value), tokens))
            except ValueError as exc:
                problems.append(f"~/.ssh/config {option} {value}: {exc}")
        found.append(tuple(paths))
    return found[0], found[1], tuple(problems)


def _resolve_hop(text: str, config_path: Path, depth: int) -> Endpoint:
    parsed = parse_jump(text)
    assert parsed is not None
    user, host, port = parsed
    return _resolve(host, user, port, "key", None, None, None, config_path, depth + 1)


def _resolve(
    host: str,
    user: str | None,
    port: int | None,
    auth: str,
    identity: str | None,
    jump: str | None,
    server: str | None,
    config_path: Path,
    depth: int,
) -> Endpoint:
    if depth > 5:
        raise ValidationError("Too many ProxyJump hops (more than 5), or a ProxyJump loop.")
    cfg = _load_config(host, user, port, config_path)
    real_host = str(cfg.get("Hostname") or host)
    real_port = int(cfg.get("Port") or 22)  # type: ignore[call-overload]
    real_user = str(cfg.get("User") or getpass.getuser())
    identities: tuple[str, ...] = ()
    if identity:
        identities = (identity,)
    else:
        identities = tuple(str(Path(p).expanduser()) for p in (cfg.get("IdentityFile") or []))  # type: ignore[attr-defined]
    hop: Endpoint | None = None
    jump_text = jump or cfg.get("ProxyJump")
    if jump_text and str(jump_text).lower() != "none":
        hops = [h.strip() for h in str(jump_text).split(",") if h.strip()]
        for text in hops:
            resolved = _resolve_hop(text, config_path, depth)
            hop = Endpoint(**{**resolved.__dict__, "jump": hop}) if hop else resolved
    user_files, global_files, problems = _known_hosts_files(
        cfg, host, real_host, real_port, real_user
    )
    return Endpoint(
        host=real_host,
        port=real_port,
        user=real_user,
        auth=auth,
        identities=identities,
        jump=hop,
        server=server,
        user_known_hosts=user_files,
        global_known_hosts=global_files,
        known_hosts_problems=problems,
    )


def resolve_endpoint(server: Server, *, config_path: Path = DEFAULT_SSH_CONFIG) -> Endpoint:
    """Endpoint of a saved server. Blocking (reads ~/.ssh/config): run it in a thread."""
    return _resolve(
        server.host,
        server.user,
        server.port,
        server.auth,
        server.identity,
        server.jump,
        server.name,
        config_path,
        0,
    )
