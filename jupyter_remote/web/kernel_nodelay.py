"""TCP_NODELAY on the Jupyter server's kernel websockets (every kernel, local ones too).

jupyter_server's ``KernelWebsocketHandler`` leaves Nagle's algorithm on. A cell's reply
is a burst of small frames (status busy, execute_input, execute_reply, status idle): the
second one waits for the browser's ACK of the first, which Linux delays by up to 40 ms,
so every cell took ~44 ms through JupyterLab where jupyter_client saw ~3 ms (bench/
RESULTS.md, metric 10; the upstream report's text is in bench/analysis.md). Tornado's
own docs say to call ``set_nodelay(True)`` once a websocket is open: we do it by wrapping
whatever connection class the server is configured with, so a custom or gateway class
keeps working.

Called once by :class:`jupyter_remote.app.RemoteExtensionApp` at start, unless
``RemoteExtensionApp.kernel_websocket_nodelay`` is False.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

log = logging.getLogger(__name__)

SETTING = "kernel_websocket_connection_class"


def nodelay_kernel_websockets(settings: dict[str, Any]) -> bool:
    """Make the server's kernel websocket connections send each frame at once: replace
    ``settings[SETTING]`` by a subclass that sets TCP_NODELAY when it connects. Returns
    False (and changes nothing) when there is no class to wrap."""
    base = settings.get(SETTING)
    if not isinstance(base, type):
        return False
    if getattr(base, "_jupyter_remote_nodelay", False):
        return True  # already wrapped (a second load of the extension)

    class NoDelayKernelWebsocketConnection(base):  # type: ignore[valid-type,misc]
        _jupyter_remote_nodelay = True

        def connect(self) -> Any:
            """Called by the handler's ``open()``: the websocket exists, no kernel frame
            has been written yet."""
            with contextlib.suppress(Exception):  # a closed stream: nothing to speed up
                self.websocket_handler.set_nodelay(True)
            return super().connect()

    NoDelayKernelWebsocketConnection.__qualname__ = f"NoDelay{base.__qualname__}"
    settings[SETTING] = NoDelayKernelWebsocketConnection
    return True
