"""The Jupyter-server bridge's local ports take frames from any local user: malformed or
unsigned ones are dropped, never an exception that would end the channel's reader (the
kernel's requests would then never be answered again)."""

from __future__ import annotations

import asyncio

import zmq
import zmq.asyncio
from jupyter_client.session import Session

from jupyter_remote.kernels.jupyter_bridge import DELIM, BridgedChannels
from jupyter_remote.ssh.forwards import free_local_ports
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


def kernel_ports() -> dict[str, int]:
    """A kernel's five local ports, all different and held until the channels listen on
    them (the provisioner's own pick): five ports picked and let go one after the other
    repeat one now and then (bind to port 0 may return the port just closed: 42 of
    50,000 picks of five here), and the second listener then fails."""
    names = ("shell", "control", "stdin", "iopub", "hb")
    return dict(zip(names, free_local_ports(len(names)), strict=True))


async def _no_shutdown(*_: object) -> None:
    return None


async def test_hostile_frames_are_dropped_and_the_channel_still_serves() -> None:
    ports = kernel_ports()
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
    ports = kernel_ports()
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
