"""The two kernel websocket protocols of a Jupyter server, as bytes in and out.

- ``v1.kernel.websocket.jupyter.org`` (jupyter_server >= 2, JupyterLab's choice): binary
  frames of offsets, the channel name and the message's parts exactly as ZMQ carries
  them (header, parent header, metadata, content, buffers), unsigned;
- the legacy JSON protocol (no subprotocol): a JSON text per message with a
  ``channel`` key, or a binary frame of JSON + buffers when the message has buffers.

Both directions work on the *parts* of a message (``list[bytes]``, header first), so the
bridge (``kernels/jupyter_bridge.py``) passes headers through untouched: msg_id and
parent continuity hold whatever the protocol. Same layouts as jupyter_server's
``services/kernels/connection/base.py``; no tornado here.
"""

from __future__ import annotations

import json
import struct
from typing import Any

V1 = "v1.kernel.websocket.jupyter.org"
MAX_PARTS = 4096  # a hostile server must not make us allocate a billion offsets


class ProtocolError(ValueError):
    """A frame that is not what the protocol says."""


def encode_v1(channel: str, parts: list[bytes]) -> bytes:
    """One v1 frame: the channel and the parts (header, parent, metadata, content, ...)."""
    name = channel.encode("utf-8")
    offsets = [8 * (1 + 1 + len(parts) + 1)]
    offsets.append(offsets[-1] + len(name))
    for part in parts:
        offsets.append(offsets[-1] + len(part))
    head = len(offsets).to_bytes(8, "little") + b"".join(o.to_bytes(8, "little") for o in offsets)
    return b"".join([head, name, *parts])


def decode_v1(frame: bytes) -> tuple[str, list[bytes]]:
    """(channel, parts) of a v1 frame; ProtocolError if the offsets do not fit."""
    if len(frame) < 8:
        raise ProtocolError("short frame")
    count = int.from_bytes(frame[:8], "little")
    if not 3 <= count <= MAX_PARTS or len(frame) < 8 * (count + 1):
        raise ProtocolError("bad offset count")
    offsets = [int.from_bytes(frame[8 * (i + 1) : 8 * (i + 2)], "little") for i in range(count)]
    if offsets != sorted(offsets) or offsets[0] != 8 * (count + 1) or offsets[-1] > len(frame):
        raise ProtocolError("bad offsets")
    channel = frame[offsets[0] : offsets[1]].decode("utf-8", "replace")
    parts = [frame[offsets[i] : offsets[i + 1]] for i in range(1, count - 1)]
    if len(parts) < 4:
        raise ProtocolError("a message has at least 4 parts")
    return channel, parts


def _pack(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def encode_legacy(channel: str, parts: list[bytes]) -> str | bytes:
    """A legacy-protocol message: JSON text, or the binary layout when it has buffers."""
    header, parent, metadata, content = (json.loads(p) for p in parts[:4])
    msg = {
        "header": header,
        "parent_header": parent,
        "metadata": metadata,
        "content": content,
        "channel": channel,
    }
    buffers = parts[4:]
    if not buffers:
        return json.dumps(msg)
    bufs = [_pack(msg), *buffers]
    offsets = [4 * (len(bufs) + 1)]
    for buf in bufs[:-1]:
        offsets.append(offsets[-1] + len(buf))
    return struct.pack("!" + "I" * (len(bufs) + 1), len(bufs), *offsets) + b"".join(bufs)


def decode_legacy(frame: str | bytes) -> tuple[str, list[bytes]]:
    """(channel, parts) of a legacy message (text JSON, or binary JSON + buffers)."""
    buffers: list[bytes] = []
    if isinstance(frame, bytes):
        if len(frame) < 4:
            raise ProtocolError("short frame")
        count = struct.unpack("!I", frame[:4])[0]
        if not 1 <= count <= MAX_PARTS or len(frame) < 4 * (count + 1):
            raise ProtocolError("bad buffer count")
        offsets = list(struct.unpack("!" + "I" * count, frame[4 : 4 * (count + 1)]))
        ends = [*offsets[1:], len(frame)]
        chunks = [frame[start:end] for start, end in zip(offsets, ends, strict=True)]
        text, buffers = chunks[0].decode("utf-8"), chunks[1:]
    else:
        text = frame
    try:
        msg = json.loads(text)
    except ValueError as exc:
        raise ProtocolError(f"not JSON: {exc}") from None
    if not isinstance(msg, dict) or not isinstance(msg.get("header"), dict):
        raise ProtocolError("not a message")
    parts = [
        _pack(msg.get(key) or {}) for key in ("header", "parent_header", "metadata", "content")
    ]
    return str(msg.get("channel") or "shell"), parts + buffers


def header_of(parts: list[bytes], index: int = 0) -> dict[str, Any]:
    """The header (0) or parent header (1) of a message's parts, {} if unreadable."""
    try:
        value = json.loads(parts[index])
    except (ValueError, IndexError):
        return {}
    return value if isinstance(value, dict) else {}
