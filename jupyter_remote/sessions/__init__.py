"""Remote sessions: a kernel's link (over SSH, or to a remote Jupyter server), a forwarded
port or a terminal, each with a state and a reason.

``registry`` (roster.py) holds every session of the process; ``LinkedSession``
(linked.py) is the reconnect state machine they share; the kinds are ``KernelSession``
(kernel.py), ``JupyterKernelSession`` (jupyter.py), ``ForwardSession`` (forward.py) and
``TerminalSession`` (terminal.py). The package exports the registry and ``KernelSession``.
"""

from .kernel import KernelSession
from .roster import registry

__all__ = ["KernelSession", "registry"]
