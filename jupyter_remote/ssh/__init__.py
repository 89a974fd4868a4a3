"""The SSH layer: the only package of jupyter_remote that imports asyncssh or calls a
method of an SSH connection (pool, auth, host keys, forwards, exec, streams)."""

from .endpoint import Endpoint, resolve_endpoint
from .hostkeys import HostKeyPolicy
from .pool import ConnectionPool, Lease
from .probe import first_hop_reachable, tcp_reachable
from .trusted_keys import OfferedKey

__all__ = [
    "ConnectionPool",
    "Endpoint",
    "HostKeyPolicy",
    "Lease",
    "OfferedKey",
    "first_hop_reachable",
    "resolve_endpoint",
    "tcp_reachable",
]
