"""ZMTP 3.0's wire format (RFC 23/ZMTP, NULL mechanism): the greeting, frames, commands,
READY's properties and the bounds a stream applies (runs ON the remote as a part of the
agent script, and here). What a connection does with them: ``zmtp.py``. Stdlib only,
Python >= 3.8.
"""

import struct
from typing import Any, Dict, List, Optional, Sequence, Tuple

Frames = List[Any]  # bytes, or bytearray for a big frame (anything bytes-like to send)

#: frame flags (RFC 23)
MORE, LONG, COMMAND = 1, 2, 4
#: the 64-byte greeting: signature, version 3.0, mechanism NULL, as-server, filler
_GREETING = b"\xff" + b"\0" * 8 + b"\x7f" + b"\x03\x00" + b"NULL".ljust(20, b"\0")
GREETING_SIZE = 64
#: socket types each type may talk to (RFC 23's table, the ones Jupyter uses)
PEERS = {
    b"DEALER": (b"ROUTER", b"DEALER", b"REP"),
    b"ROUTER": (b"DEALER", b"ROUTER", b"REQ"),
    b"REQ": (b"ROUTER", b"REP"),
    b"REP": (b"REQ", b"DEALER"),
    b"SUB": (b"PUB", b"XPUB"),
    b"XSUB": (b"PUB", b"XPUB"),
    b"PUB": (b"SUB", b"XSUB"),
    b"XPUB": (b"SUB", b"XSUB"),
}
#: frames at least this big are read into a buffer of their own, straight from the socket
BIG_FRAME = 64 * 1024
SMALL_BUFFER = 256 * 1024
#: the most frames a message may have: the relay's records count parts in 16 bits
#: (protocol.py's record head), so a longer message could never be relayed
MAX_FRAMES = 65535
#: what each frame costs against ``max_message`` besides its body (a list slot, an object:
#: a run of empty frames is not free)
FRAME_COST = 64
#: a PING is answered only while our write buffer is under this (RFC 37: a PONG is not
#: guaranteed; a peer that sends PINGs and never reads must not grow our buffer)
PONG_LIMIT = 64 * 1024


class ZmtpError(Exception):
    """The peer broke the protocol (or a bound): the connection is closed."""


def greeting(as_server: bool = False) -> bytes:
    """Our greeting (both ends send theirs at once; NULL ignores as-server)."""
    return _GREETING + (b"\x01" if as_server else b"\x00") + b"\0" * 31


def frame_header(size: int, flags: int = 0) -> bytes:
    """The flags and size that precede a frame's body."""
    if size > 255:
        return struct.pack("!BQ", flags | LONG, size)
    return struct.pack("!BB", flags, size)


def command(name: bytes, body: bytes = b"") -> bytes:
    """One command frame (``name`` bytes, then its body)."""
    data = bytes((len(name),)) + name + body
    return frame_header(len(data), COMMAND) + data


def ready(socket_type: bytes, identity: Optional[bytes] = None) -> bytes:
    """The NULL mechanism's READY: our socket type, and our identity (a DEALER's, which a
    ROUTER peer routes by)."""
    props = [(b"Socket-Type", socket_type)]
    if identity is not None:
        props.append((b"Identity", identity))
    body = b"".join(bytes((len(k),)) + k + struct.pack("!I", len(v)) + v for k, v in props)
    return command(b"READY", body)


def message_pieces(frames: Sequence[Any]) -> List[Any]:
    """A message as the buffers to write (headers and frames, never joined here)."""
    pieces = []
    last = len(frames) - 1
    for i, frame in enumerate(frames):
        pieces.append(frame_header(len(frame), MORE if i < last else 0))
        pieces.append(frame)
    return pieces


def parse_properties(body: Any) -> Dict[bytes, bytes]:
    """READY's (or ERROR's) metadata: {name: value}, names lower-cased (RFC 23: they are
    case-insensitive). ZmtpError when malformed."""
    props = {}
    i = 0
    while i < len(body):
        n = body[i]
        name = bytes(body[i + 1 : i + 1 + n]).lower()
        if i + 1 + n + 4 > len(body):
            raise ZmtpError("a malformed READY")
        (size,) = struct.unpack_from("!I", body, i + 1 + n)
        start = i + 1 + n + 4
        if start + size > len(body):
            raise ZmtpError("a malformed READY")
        props[name] = bytes(body[start : start + size])
        i = start + size
    return props


def check_greeting(data: bytes) -> bool:
    """The peer's greeting, or as much of it as has come: True once it is whole and fit,
    ZmtpError as soon as it is not (a ZMTP 1 or 2 peer sends fewer than 64 bytes and waits
    for ours: it is refused at its 11th byte)."""
    if data[:1] not in (b"", b"\xff") or (len(data) >= 10 and data[9] != 0x7F):
        raise ZmtpError("not a ZMTP 3 peer")
    if len(data) >= 11 and data[10] < 3:  # revision 1: ZMTP 2.0
        raise ZmtpError("the peer speaks an older ZMTP (revision %d), not 3" % data[10])
    if len(data) < GREETING_SIZE:
        return False
    if data[12:32].rstrip(b"\0") != b"NULL":
        raise ZmtpError("the peer asks for a security mechanism other than NULL")
    return True


def split_command(body: Any) -> Tuple[bytes, Any]:
    """A command frame's name and the rest of its body; ZmtpError when malformed."""
    if not body or len(body) < 1 + body[0]:
        raise ZmtpError("a malformed command")
    return bytes(body[1 : 1 + body[0]]), body[1 + body[0] :]
