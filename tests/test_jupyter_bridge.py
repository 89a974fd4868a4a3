"""The Jupyter-server bridge's local ports take frames from any local user: malformed or
unsigned ones are dropped, never an exception that would end the channel's reader (the
kernel's requests would then never be answered again)."""

from __future__ import annotations

import asyncio
import socket

import zmq
import zmq.asyncio
from jupyter_client.session import Session

from jupyter_remote.kernels.jupyter_bridge import DELIM, BridgedChannels
from tests.harness.waiting import eventually_async

KEY = b"k" * 32
HOSTILE = [
    [b"id", DELIM],
    [DELIM],
    [b"id", DELIM, b"sig"],
    [b"id", DELIM, b"sig", b"{}", b"{}", b"{}"],
    [b"id", DELIM, b"bad-signature", b"{}", b"{}", b"{}", b"{}"],
    [b"no delimiter at all"],
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _no_shutdown(*_: object) -> None:
    return None


async def test_hostile_frames_are_dropped_and_the_channel_still_serves() -> None:
    ports = {name: free_port() for name in ("shell", "control", "stdin", "iopub", "hb")}
    channels = BridgedChannels(
        ports, key=KEY, signature_scheme="hmac-sha256", on_shutdown_request=_no_shutdown
    )
    client = zmq.asyncio.Context.instance().socket(zmq.DEALER)
    client.linger = 0
    try:
        client.connect(f"tcp://127.0.0.1:{ports['shell']}")
        for frames in HOSTILE:
            await client.send_multipart(frames[1:] if frames and frames[0] == b"id" else frames)
        session = Session(key=KEY, signature_scheme="hmac-sha256")
        msg = session.msg("kernel_info_request")
        await client.send_multipart(session.serialize(msg))
        # no websocket yet: a well-signed request waits for the link, so the reader lives
        waiting = await eventually_async(
            lambda: asyncio.sleep(0, list(channels._waiting)), bool, timeout=5
        )
        [(channel, parts)] = waiting
        assert channel == "shell" and msg["header"]["msg_id"] in parts[0].decode()
    finally:
        client.close()
        channels.close()


async def test_a_status_whose_content_is_an_array_never_ends_the_reader() -> None:
    """What the remote server's kernel publishes reaches ``_deliver`` from the websocket
    reader; a status whose content is a JSON array (user code may publish one) raised
    AttributeError there, which ended the reader: every later message of the kernel was
    lost. Now it is passed on, and the next real status still counts."""
    ports = {name: free_port() for name in ("shell", "control", "stdin", "iopub", "hb")}
    channels = BridgedChannels(
        ports, key=KEY, signature_scheme="hmac-sha256", on_shutdown_request=_no_shutdown
    )
    try:
        header = b'{"msg_type": "status", "msg_id": "s1"}'
        await channels._deliver("iopub", [header, b'{"msg_id": "p"}', b"{}", b'[1, "odd"]'])
        assert channels.execution_state == "unknown"
        await channels._deliver(
            "iopub", [header, b'{"msg_id": "p"}', b"{}", b'{"execution_state": "busy"}']
        )
        assert channels.execution_state == "busy"
    finally:
        channels.close()
