"""``jupyter remote forward SERVER REMOTE_PORT [--local-port N]``: a forward in this process.

Standalone (no Jupyter server needed): listens on 127.0.0.1, forwards over one
pooled SSH connection, reconnects by itself when the link drops (re-listening
on the same local port), and runs until SIGINT/SIGTERM, then exits 0. A host
key or auth refusal at reconnect ends it with that error's exit code.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from typing import Any

from ..manager import RemoteManager
from ..sessions.forward import ForwardSession, validate_ports


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def forward(manager: RemoteManager, args: Any) -> int:
    remote_port, local_port = validate_ports(args.remote_port, args.local_port)
    session = ForwardSession(manager, args.server, remote_port, local_port)
    await session.open()
    print(
        f"Forwarding http://127.0.0.1:{session.local_port} -> "
        f"{args.server}:127.0.0.1:{session.remote_port} (Ctrl-C to stop)",
        flush=True,
    )
    _say(
        "A plain tunnel, like ssh -L: a page opened on it shares the browser's cookies "
        "with everything else on 127.0.0.1 (a local Jupyter server's too: cookies ignore "
        "ports). Open web apps you do not trust from JupyterLab's Remote sidebar instead."
    )
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
    stopping = asyncio.ensure_future(stop.wait())
    try:
        shown, seen = (session.state, session.reason), session.version
        while not stop.is_set():
            if (session.state, session.reason) != shown:
                shown = (session.state, session.reason)
                _say(f"{session.state}{': ' + session.reason if session.reason else ''}")
            if session.state == "disconnected" and session.error is not None:
                raise session.error  # host key / auth refused, or gave up: its exit code
            changed = asyncio.ensure_future(session.wait_changed(seen))
            await asyncio.wait({stopping, changed}, return_when=asyncio.FIRST_COMPLETED)
            changed.cancel()
            seen = session.version
    finally:
        stopping.cancel()
        for sig in installed:
            loop.remove_signal_handler(sig)
        await session.stop()
    _say("Stopped.")
    return 0
