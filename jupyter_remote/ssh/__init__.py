"""The SSH layer: the only package of jupyter_remote that imports asyncssh or calls a
method of an SSH connection (pool, auth, host keys, forwards, exec, streams)."""

from .endpoint import Endpoint, first_hop_reachable, resolve_endpoint
from .hostkeys import HostKeyPolicy, OfferedKey
from .pool import ConnectionPool, Lease

__all__ = [
    "ConnectionPool",
    "Endpoint",
    "HostKeyPolicy",
    "Lease",
    "OfferedKey",
    "first_hop_reachable",
    "resolve_endpoint",
]
