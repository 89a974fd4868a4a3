"""The relay's greeting, read by :meth:`RelayedChannels.attach` (``relay_link.py``):
bounded (a hostile remote must not make the server's event loop parse a huge JSON) and
proven (review s22 F1): the relay's answer to a HELLO carries ``relay_proof(key, "hello",
its epoch, the HELLO's nonce)`` (``remote/protocol.py``), so what listens at a kernel's
old socket path or port after it ended (anyone, once its directory is gone) is told
apart from the kernel's relay before one message is written to it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ..errors import RemoteCommandError, SSHConnectError
from ..remote.protocol import HELLO, proof_ok
from ..text import RemoteJSONError, parse_remote_json

#: largest HELLO answer (the relay's first record) we read: a real one is under 1 KiB, or
#: 50 KiB at most with a start error and its log tail (8 KiB of text, JSON-escaped); a
#: hostile remote must not make the server's event loop parse a 256 MiB JSON
MAX_HELLO_IN = 64 * 1024


def relay_json(raw: bytes | memoryview) -> dict[str, Any]:
    """A JSON object the relay sent (HELLO answer, GAP info), bounded like all remote JSON."""
    try:
        value = parse_remote_json(bytes(raw).decode("utf-8"), max_depth=8, max_items=1000)
    except (UnicodeDecodeError, RemoteJSONError) as exc:
        raise RemoteCommandError(f"The kernel's relay sent malformed data: {exc}") from None
    if not isinstance(value, dict):
        raise RemoteCommandError("The kernel's relay sent malformed data: not an object")
    return value


async def hello_answer(records: Any, writer: Any, timeout: float) -> dict[str, Any]:
    """The relay's answer to our HELLO (:meth:`RelayedChannels.attach`), the first record
    of ``records`` (``ssh/record_link.py``'s link, its first record bounded by
    MAX_HELLO_IN): a larger first record closes the link with a RemoteCommandError
    before anything of it is buffered or parsed."""
    try:
        record = await asyncio.wait_for(records.next(), timeout)
    except ValueError as exc:  # the record parser: a length out of bounds
        writer.close()
        raise RemoteCommandError(
            f"The kernel's relay answered with an oversized or malformed greeting ({exc}; "
            f"at most {MAX_HELLO_IN // 1024} KiB).",
            hint="The remote runs another version of jupyterlab-remote's relay, or is "
            "not what it claims; restart the kernel.",
        ) from None
    if record is None or record[0] != HELLO:
        writer.close()
        raise SSHConnectError("The kernel's relay closed the connection at once.")
    try:
        return relay_json(record[3][0] if record[3] else b"")  # none: IndexError (s28)
    except RemoteCommandError:
        writer.close()
        raise


class RelayNotProvenError(RemoteCommandError):
    """What answers at the kernel's relay address did not prove it knows the kernel's key."""

    def __init__(self) -> None:
        super().__init__(
            "What answers at this kernel's relay address did not prove it knows the "
            "kernel's key: the kernel has ended, and something else (possibly another user "
            "of the remote host) listens there now. Nothing was sent to it.",
            hint="Start the kernel again; if this repeats, tell the remote host's "
            "administrator that another user listens at jupyterlab-remote's socket paths.",
        )


def proven(answer: dict[str, Any], key: bytes, nonce: str, writer: Any) -> None:
    """:meth:`RelayedChannels.attach`, before it believes or sends anything: the relay's
    HELLO answer carries ``relay_proof(key, "hello", its epoch, nonce)``; else the link
    closes with :class:`RelayNotProvenError`."""
    epoch = answer.get("epoch")
    if not (isinstance(epoch, str) and proof_ok(answer.get("proof"), key, "hello", epoch, nonce)):
        writer.close()
        raise RelayNotProvenError()
