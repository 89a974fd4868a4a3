"""Local state: validation, records, files, the store and secrets (see each module)."""

from .records import (
    CHANNEL_TRANSPORTS,
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
    validate_host,
    validate_local_path,
    validate_name,
    validate_port,
    validate_remote_path,
    validate_user,
)

__all__ = [
    "CHANNEL_TRANSPORTS",
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
    "validate_host",
    "validate_local_path",
    "validate_name",
    "validate_port",
    "validate_remote_path",
    "validate_user",
]
