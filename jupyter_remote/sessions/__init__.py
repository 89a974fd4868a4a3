"""Remote sessions: a kernel's link or a forwarded port, each with a state and a reason.

``registry`` (roster.py) holds every session of the process; ``LinkedSession``
(linked.py) is the reconnect state machine both kinds share; ``KernelSession``
(kernel.py) and ``ForwardSession`` (forward.py) are the two kinds.
"""

from .kernel import KernelSession
from .linked import LinkedSession
from .roster import SessionRegistry, registry

__all__ = ["KernelSession", "LinkedSession", "SessionRegistry", "registry"]
