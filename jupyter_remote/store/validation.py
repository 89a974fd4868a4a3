"""Validation of everything a user types (REST bodies, CLI arguments, admin config).

Called by the records (``records.py``) when they are built from input, and by the
handlers and CLI for single fields. Every check raises ``ValidationError`` (400,
exit 2) naming the field, and nothing is changed; values are checked as data and
never reach a shell.
"""

from __future__ import annotations

import ipaddress
import os
import re
from typing import Any

from ..errors import ValidationError

NAME_RE = re.compile(r"[A-Za-z0-9._-]{1,64}")
_HOST_LABEL = r"[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
HOST_RE = re.compile(rf"{_HOST_LABEL}(\.{_HOST_LABEL})*\.?")
USER_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.@-]{0,63}\$?")
ENV_KEY_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
AUTH_METHODS = ("key", "agent", "password")
MAX_PATH = 4096
MAX_ENV_VALUE = 32768


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


JUPYTER_AUTH_METHODS = ("token", "password", "none")
KERNEL_NAME_RE = re.compile(r"[A-Za-z0-9._-]{1,128}")


def validate_jupyter_url(value: Any, what: str = "url") -> str:
    """The URL of a Jupyter server: http(s), a host, an optional port and base path
    (JupyterHub: ``https://hub/user/NAME/``). Normalised to end with ``/``; no user
    info, query or fragment (a ``?token=`` in a URL would put the secret in argv,
    shell history and logs: it is refused with the way to give it instead)."""
    from urllib.parse import urlsplit

    text = _text(value, what, max_len=2048)
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:  # never echoed: whatever it is, it may carry a token
        raise ValidationError(
            f"Invalid {what}: not a URL with a valid host and port.",
            field=what,
            hint="For example https://lab-workstation:8888/ (the token is given separately).",
        ) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError(
            f"{what} must be an http:// or https:// URL with a host.",
            field=what,
            hint="For example https://lab-workstation:8888/ or https://hub.example.org/user/alice/.",
        )
    if "token=" in parts.query or parts.username or parts.password:
        raise ValidationError(
            f"{what} must not carry a token or credentials.",
            field=what,
            hint="Give the URL without ?token=...; the token is asked for separately "
            "(--token prompts for it, or reads it from stdin), so it never lands in a "
            "command line or a file.",
        )
    if parts.query or parts.fragment:
        raise ValidationError(f"{what} must not have a query or a fragment.", field=what)
    host = validate_host(parts.hostname, f"{what} host")
    path = parts.path or "/"
    for suffix in ("/lab", "/tree", "/notebooks", "/api"):
        if path.rstrip("/").endswith(suffix) and path.rstrip("/") != "":
            path = path.rstrip("/")[: -len(suffix)]
    if not path.endswith("/"):
        path += "/"
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{validate_port(port, f'{what} port')}"
    return f"{parts.scheme}://{netloc}{path}"


def validate_kernel_name(value: Any, what: str = "default_kernel") -> str | None:
    """A kernelspec name as Jupyter accepts it (``python3``, ``ir``, ``julia-1.10``)."""
    if value is None or value == "":
        return None
    name = _text(value, what, max_len=128)
    if not KERNEL_NAME_RE.fullmatch(name):
        raise ValidationError(
            f"Invalid {what} {name!r}.", field=what, hint="A kernelspec name such as python3."
        )
    return name


def validate_standby(value: Any, slurm: Any = None) -> bool:
    """A profile's ``standby`` (keep one pre-warmed kernel ready): true or false, and
    never with a Slurm job (the standby would hold an allocation nobody uses)."""
    if not isinstance(value, bool):
        raise ValidationError("standby must be true or false.", field="standby")
    if value and slurm:
        raise ValidationError(
            "A Slurm profile cannot keep a standby kernel: it would hold a job, and its "
            "nodes, while nobody uses it.",
            field="standby",
            hint="Switch standby off, or run the profile's kernels outside Slurm.",
        )
    return value
