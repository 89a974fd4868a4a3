"""Kernel websockets send each frame at once (TCP_NODELAY), for every kernel of the server.

jupyter_server leaves Nagle's algorithm on for its kernel websockets, so a cell's burst of
small replies waited ~40 ms for the browser's delayed ACK (bench metric 10). Our
extension sets TCP_NODELAY when a kernel websocket connects (web/kernel_nodelay.py);
``RemoteExtensionApp.kernel_websocket_nodelay = False`` leaves the server as shipped.
The socket option is read on the server's own end of a real websocket to a real local
ipykernel, in-process: no timing is asserted.
"""

from __future__ import annotations

import gc
import json
import socket
from typing import Any

import pytest
from jupyter_server.services.kernels.websocket import KernelWebsocketHandler

from tests.harness.fixtures import server_config

WITHOUT_FIX = {
    **server_config(),
    "RemoteExtensionApp": {"kernel_websocket_nodelay": False},
}


def _server_side_nodelay(kernel_id: str) -> list[int]:
    """TCP_NODELAY of the server's end of each open websocket of KERNEL_ID."""
    values = []
    for obj in gc.get_objects():
        if (
            isinstance(obj, KernelWebsocketHandler)
            and obj.ws_connection is not None
            and getattr(obj, "kernel_id", None) == kernel_id
        ):
            sock = obj.ws_connection.stream.socket
            values.append(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
    return values


async def _nodelay_of_a_local_kernel(jp_fetch: Any, jp_ws_fetch: Any) -> list[int]:
    resp = await jp_fetch("api", "kernels", method="POST", body=json.dumps({"name": "python3"}))
    kid = json.loads(resp.body)["id"]
    try:
        ws = await jp_ws_fetch("api", "kernels", kid, "channels")
        try:
            return _server_side_nodelay(kid)
        finally:
            ws.close()
    finally:
        await jp_fetch("api", "kernels", kid, method="DELETE")


async def test_kernel_websockets_set_tcp_nodelay(jp_fetch: Any, jp_ws_fetch: Any) -> None:
    """With the extension loaded, a local kernel's websocket has TCP_NODELAY on."""
    values = await _nodelay_of_a_local_kernel(jp_fetch, jp_ws_fetch)
    assert values and all(v != 0 for v in values), values


@pytest.mark.parametrize("jp_server_config", [WITHOUT_FIX])
async def test_without_the_fix_the_server_leaves_nagle_on(jp_fetch: Any, jp_ws_fetch: Any) -> None:
    """The control: turned off, jupyter_server's own behaviour (Nagle on) is what we see,
    so the test above measures our change and not a default."""
    values = await _nodelay_of_a_local_kernel(jp_fetch, jp_ws_fetch)
    assert values == [0], values
