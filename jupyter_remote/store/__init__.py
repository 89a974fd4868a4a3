"""Local state: validation, records, files, the store and secrets (see each module)."""

from .records import (
    TCP_CHANNELS_WARNING,
    AnyServer,
    HostKey,
    JupyterServer,
    Profile,
    Server,
    now_iso,
    server_from_input,
)
from .secrets import SecretStore, secret_store
from .store import Store
from .validation import (
    format_jump,
    host_id,
    parse_host_id,
    parse_jump,
    validate_remote_path,
)

__all__ = [
    "TCP_CHANNELS_WARNING",
    "AnyServer",
    "HostKey",
    "JupyterServer",
    "Profile",
    "SecretStore",
    "Server",
    "Store",
    "format_jump",
    "host_id",
    "now_iso",
    "parse_host_id",
    "parse_jump",
    "secret_store",
    "server_from_input",
    "validate_remote_path",
]
