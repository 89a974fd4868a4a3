"""The SSH layer: the only package of jupyter_remote that imports asyncssh."""

from .endpoint import Endpoint, resolve_endpoint
from .hostkeys import HostKeyPolicy, OfferedKey
from .pool import ConnectionPool, Lease

__all__ = ["ConnectionPool", "Endpoint", "HostKeyPolicy", "Lease", "OfferedKey", "resolve_endpoint"]
