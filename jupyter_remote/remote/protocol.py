"""What the local side and the remote scripts must agree on, defined once.

Stdlib only, Python >= 3.8. Imported locally (``from jupyter_remote.remote.protocol
import ...``) and sent to the remote as the first part of every script (see
``jupyter_remote/remote/__init__.py``): the agent, the supervisor, the relay and the
probe use these names as globals there. Nothing here may import anything but the
standard library.

The relay's wire format (one byte stream per link, both directions)::

    record = u32 length of the rest | u8 kind | u8 channel | u64 seq | u16 nparts
             | nparts x u32 part length | the parts

Kinds: HELLO (JSON both ways, first record of a connection), MSG (one ZMQ
multipart message; ``seq`` numbers it in its direction), ACK (``seq``: highest
number received), GAP (JSON: messages dropped at the buffer bound, starting at
``seq``), INFO (JSON: a one-shot query by the agent, answered and closed; only on
the unix socket), HB (a heartbeat ping or its echo: never numbered or kept), CLAIM
(JSON: a standby's keeper takes it through its relay, no agent exec; answered and
closed; over TCP it carries the relay token, checked as a HELLO's; ``standby.py``).
A CLAIM and a HELLO carry a fresh ``nonce``; the relay's answer carries ``proof``
(:func:`relay_proof`), checked before anything else is sent or believed.
"""

from __future__ import annotations

import json
import struct
from typing import Any

#: A kernel's five channels, in the order of their socket numbers k-1 .. k-5.
CHANNELS = ("shell", "iopub", "stdin", "control", "hb")
#: The channels whose messages the relay numbers and keeps (the heartbeat is not kept).
RELAYED = ("shell", "control", "stdin", "iopub")
#: Socket files in a kernel's private socket directory: the channels, the forked-output
#: pipe (kernel_launcher.py) and the relay.
SOCKET_NAMES = ("k-1", "k-2", "k-3", "k-4", "k-5", "pipe", "relay")
MAX_SOCKET_PATH = 100  # sun_path is 108 bytes on Linux, 104 on macOS
#: Kernel ids as the agent accepts them (a directory name on the remote).
KERNEL_ID_PATTERN = r"[A-Za-z0-9_-]{1,64}"
#: Where per-kernel state lives, relative to the remote home.
STATE_DIR = ".local/share/jupyter-remote"
#: The agent's bytecode cache (bootcache.py), relative to the remote home: inside STATE_DIR,
#: removed with the last kernel's state (kernel_dirs._remove_empty_parents).
CODE_CACHE_DIR = STATE_DIR + "/cache"
#: The probe's answer is the last stdout line starting with this (login noise may precede).
PROBE_RESULT_MARKER = "@@jupyter-remote-probe@@ "
#: Environment creation's answer (remote/envcreate.py) is the last line starting with this.
ENVCREATE_MARKER = "@@jupyter-remote-envcreate@@ "
#: Kinds of environments the probe reports, in display order.
ENV_KINDS = ("conda", "uv", "venv", "virtualenv", "pyenv", "system", "kernelspec")
#: Runs a script sent on stdin as ``<decimal length>\\n<script bytes>``: the fixed command
#: line of every remote script. The login directory is taken off sys.path first (a
#: json.py there must not shadow the stdlib); the script's bytes stay in ``_jr_src``.
BOOTSTRAP = (
    "import sys;sys.path[:]=[p for p in sys.path if p not in('','.')];"
    "n=int(sys.stdin.buffer.readline());_jr_src=sys.stdin.buffer.read(n);"
    "exec(compile(_jr_src,'<jupyter-remote>','exec'))"
)

HELLO, MSG, ACK, GAP, INFO, HB = 0, 1, 2, 3, 4, 5
CLAIM = 6
MAX_RECORD = 1 << 31
_HEAD = struct.Struct("!BBQH")
_LEN = struct.Struct("!I")
#: Parts of at least this many bytes travel as memoryviews (a kernel's large outputs:
#: copying 1 MB frames dominated the relay's CPU); smaller ones, which are what anything
#: reads (delimiters, headers, JSON of HELLO, GAP and INFO), are bytes.
BIG_PART = 64 * 1024
#: RecordParser copies a piece of a record spread over chunks that is shorter than this
#: (a view of it would cost more than its bytes); longer ones it keeps as views
SMALL_PIECE = 4096


def record_pieces(kind: int, channel: int, seq: int, parts: Any = ()) -> list[Any]:
    """One record as a list of buffers: its head (length, kind, channel, seq, part lengths)
    then the parts themselves, not copied. The relay sends these with ``sendmsg``, no join
    nor copy (``relay_writer.LinkWriter``)."""
    lengths = [len(p) for p in parts]
    body_len = _HEAD.size + 4 * len(lengths) + sum(lengths)
    head = _LEN.pack(body_len) + _HEAD.pack(kind, channel, seq, len(lengths))
    if lengths:
        head += struct.pack("!%dI" % len(lengths), *lengths)
    return [head, *parts]


def encode_record(kind: int, channel: int, seq: int, parts: Any = ()) -> bytes:
    """One record as bytes: the relay and the local side (channels) write these."""
    return b"".join(record_pieces(kind, channel, seq, parts))


def decode_body(body: Any) -> tuple[int, int, int, list[Any]]:
    """(kind, channel, seq, parts) from a record without its length prefix."""
    return _decode_at(body, 0, len(body))


def _decode_at(buf: bytes, start: int, size: int) -> tuple[int, int, int, list[Any]]:
    """The record body of SIZE bytes at START in BUF: each part is sliced out of BUF, its
    one copy (the body is not copied first); parts of BIG_PART bytes or more are views."""
    kind, channel, seq, nparts = _HEAD.unpack_from(buf, start)
    offset = start + _HEAD.size
    lengths = struct.unpack_from("!%dI" % nparts, buf, offset)
    offset += 4 * nparts
    if offset + sum(lengths) != start + size:
        raise ValueError("malformed relay record")
    parts: list[Any] = []
    view = None
    for n in lengths:
        if n < BIG_PART:
            parts.append(buf[offset : offset + n])
        else:  # a large part stays in BUF: a view, no copy (the next hop copies it once)
            view = memoryview(buf) if view is None else view
            parts.append(view[offset : offset + n])
        offset += n
    return kind, channel, seq, parts


class RecordReader:
    """Records from an asyncio-style reader, read in large chunks (one await per chunk,
    not two per record: most records are a few hundred bytes). Both ends use it.

    The unread bytes are one ``bytes`` object: a record's small parts are sliced straight
    out of it (one copy each, the hot path of every message), its large ones are views of
    it; a record longer than what has arrived is completed by joining the chunks once it
    is all there."""

    def __init__(self, reader: Any, chunk: int = 256 * 1024, max_record: int = MAX_RECORD):
        self.reader = reader
        self.chunk = chunk
        self.max_record = max_record  # a peer not yet authenticated, or a hostile one, gets less
        self.buf = b""
        self.pos = 0

    async def next(self) -> tuple[int, int, int, list[Any]] | None:
        """The next record, or None at end of stream."""
        while True:
            buf, pos = self.buf, self.pos
            available = len(buf) - pos
            need = 4
            if available >= 4:
                (n,) = _LEN.unpack_from(buf, pos)
                if n < _HEAD.size or n > self.max_record:
                    raise ValueError("relay record of %d bytes" % n)
                if available >= 4 + n:
                    self.pos = pos + 4 + n
                    return _decode_at(buf, pos + 4, n)
                need = 4 + n
            if not await self._fill(need):
                return None

    async def _fill(self, need: int) -> bool:
        """Read until at least NEED unread bytes are here; False at end of stream."""
        chunks: list[Any] = [memoryview(self.buf)[self.pos :]]  # joined below: one copy
        have = len(chunks[0])
        while have < need:
            data = await self.reader.read(max(self.chunk, need - have))
            if not data:
                return False
            chunks.append(data)
            have += len(data)
        self.buf = b"".join(chunks)
        self.pos = 0
        return True


class RecordParser:
    """Records from bytes pushed as they arrive (``feed``, e.g. from a protocol's
    ``data_received``), each handed at once to ``on_record(kind, channel, seq, parts)``:
    no reader task, no future, no await per chunk. The local side reads its relay link
    with it (``ssh/record_link.py``).

    A record whole inside one chunk is decoded straight out of it (small parts sliced:
    one copy; parts of BIG_PART bytes or more are views of the chunk). A record spread
    over chunks keeps views of its pieces of SMALL_PIECE bytes or more and copies smaller
    ones into a trailing bytearray (a view per 1-byte SSH packet held ~355 bytes: review
    s24 F2), and is joined once when its last byte arrives (one copy; memory grows as
    bytes arrive, about one byte per byte, never on a length's say-so). Bounds as
    :class:`RecordReader`'s: a length below a record head or above ``max_record`` (which
    ``on_record`` may change for the records after it) raises ValueError from ``feed``,
    as does a malformed record; the stream is then unusable. ``on_record`` may also call
    :meth:`hold`: nothing after that record is parsed until :meth:`release`."""

    def __init__(self, on_record: Any, max_record: int = MAX_RECORD) -> None:
        self.on_record = on_record
        self.max_record = max_record
        self._pieces: list[Any] = []  # the record begun in an earlier chunk
        self._tail: bytearray | None = None  # its last piece, if small pieces go there
        self._held: bytearray | None = None  # bytes not parsed since hold()
        self._have = 0  # bytes of it here (its 4-byte length included)
        self._need = 0  # its whole size with its length (4 while the length is incomplete)

    @property
    def partial(self) -> bool:
        """True while a record is incomplete (at end of stream: it was cut short)."""
        return bool(self._pieces)

    def feed(self, data: bytes) -> None:
        """Decode every record ``data`` completes or holds; keep the rest for later."""
        if self._held is not None:
            self._held += data
            return
        pos = 0
        if self._pieces:
            pos = self._complete(data)
            if pos < 0:
                return
        end = len(data)
        while end - pos >= 4 and self._held is None:
            (n,) = _LEN.unpack_from(data, pos)
            self._check(n)
            if end - pos - 4 < n:
                self._keep(data, pos, 4 + n)
                return
            self.on_record(*_decode_at(data, pos + 4, n))
            pos += 4 + n
        if self._held is not None:
            self._held += memoryview(data)[pos:]
        elif pos < end:
            self._keep(data, pos, 4)

    def hold(self) -> None:
        """From ``on_record``: parse nothing after this record (its bytes are kept as
        they come) until :meth:`release`. The relay link holds after its greeting, so no
        record is parsed, nor any length believed, before the greeting is proven."""
        self._held = bytearray()

    def release(self) -> None:
        """Parse what came since :meth:`hold` (raises as ``feed``), and go on."""
        held, self._held = self._held, None
        if held:
            self.feed(bytes(held))

    def _check(self, n: int) -> None:
        if n < _HEAD.size or n > self.max_record:
            raise ValueError("relay record of %d bytes" % n)

    def _keep(self, data: bytes, pos: int, need: int) -> None:
        self._pieces, self._tail = [], None
        self._add(memoryview(data)[pos:])
        self._have = len(data) - pos
        self._need = need

    def _add(self, piece: memoryview) -> None:
        """One more piece of the record begun earlier: a view if it is SMALL_PIECE bytes
        or more, else copied onto the trailing bytearray (bounded count of views)."""
        if len(piece) >= SMALL_PIECE:
            self._pieces.append(piece)
            self._tail = None
            return
        if self._tail is None:
            self._tail = bytearray()
            self._pieces.append(self._tail)
        self._tail += piece

    def _complete(self, data: bytes) -> int:
        """Add ``data``'s first bytes to the record begun earlier; decode it once whole.
        The position in ``data`` after it, or -1 while it still is incomplete."""
        pos = 0
        if self._need == 4:  # its length itself was cut: at most 3 bytes kept
            head = b"".join(self._pieces) + data[: 4 - self._have]
            pos = len(head) - self._have
            if len(head) < 4:
                self._pieces, self._tail, self._have = [head], None, len(head)
                return -1
            (n,) = _LEN.unpack(head)
            self._check(n)
            self._pieces, self._tail, self._have, self._need = [head], None, 4, 4 + n
        take = min(self._need - self._have, len(data) - pos)
        self._add(memoryview(data)[pos : pos + take])
        self._have += take
        if self._have < self._need:
            return -1
        record = b"".join(self._pieces)  # the one copy of a record spread over chunks
        self._pieces, self._tail = [], None
        self.on_record(*_decode_at(record, 4, len(record) - 4))
        return pos + take


#: The delimiter between a Jupyter message's routing identities and its signed parts.
MSG_DELIMITER = b"<IDS|MSG>"


#: a header frame longer than this is no kernel's shutdown_reply (a real one is < 1 KiB):
#: not parsed, so a relay cannot make the laptop decode megabytes per record
SHUTDOWN_HEADER_MAX = 64 * 1024


def is_shutdown_reply(frames: Any) -> bool:
    """True for a kernel's ``shutdown_reply`` (control channel): it obeyed a shutdown
    request and is ending. The relay and the local side both watch for it (a kernel that
    ends so leaves nothing behind, and is no crash)."""
    try:
        header = bytes(frames[frames.index(MSG_DELIMITER) + 2])
    except (ValueError, IndexError, TypeError):
        return False
    if b"shutdown_reply" not in header or len(header) > SHUTDOWN_HEADER_MAX:
        return False
    try:
        return bool(json.loads(header.decode("utf-8")).get("msg_type") == "shutdown_reply")
    except (ValueError, AttributeError, RecursionError):  # a hostile frame (review s28 F2)
        return False


#: What a relay proves it knows its kernel's key over (review s22 F1): the local side sends
#: a fresh ``nonce`` in its CLAIM ("claim": over the kernel id) and in every HELLO
#: ("hello": over the epoch the relay answers); the relay answers ``proof`` =
#: ``relay_proof(key, purpose, that field, nonce)``. Whatever listens at a kernel's old
#: socket path or port after it ended (anyone, once its directory is gone) cannot.
#: longest nonce a relay signs (the local side sends 32 hex digits)
MAX_NONCE = 64


def relay_proof(key: Any, purpose: str, field: str, nonce: str) -> str:
    """HMAC-SHA256, keyed by the kernel's key, of a domain-separated text: the relay
    (``Relay._take_client``, ``GateSide._accept``) answers it; the local side checks it
    with :func:`proof_ok`. Hex digits."""
    import hashlib  # here, not at the top: a job's holder (protocol is its first part)
    import hmac  # never signs, and hashlib's libcrypto is ~4 MB of its RSS (s29)

    if isinstance(key, str):
        key = key.encode("utf-8")
    text = "\0".join(("jupyter-remote relay " + purpose, field, nonce)).encode("utf-8")
    return hmac.new(key, text, hashlib.sha256).hexdigest()


def proof_ok(given: Any, key: Any, purpose: str, field: str, nonce: str) -> bool:
    """The local side: whether a relay's answer ``given`` proves it knows ``key`` (a
    constant-time comparison; an empty key proves nothing)."""
    import hmac

    if not key or not isinstance(given, str) or not isinstance(field, str):
        return False
    expected = relay_proof(key, purpose, field, nonce)
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8"))


def with_proof(answer: dict, key: Any, purpose: str, field: str, request: Any) -> dict:
    """The relay, answering a CLAIM or HELLO ``request``: ``answer`` with its ``proof``
    (none when the request carried no usable nonce: an older local side)."""
    nonce = request.get("nonce") if isinstance(request, dict) else None
    if isinstance(nonce, str) and 0 < len(nonce) <= MAX_NONCE and key:
        answer["proof"] = relay_proof(key, purpose, field, nonce)
    return answer


def json_part(obj: Any) -> bytes:
    """A JSON record part (HELLO, GAP, INFO)."""
    return json.dumps(obj).encode("utf-8")


#: The first line a stream connector writes (``connector.py``), before the relay's bytes:
#: this marker and a JSON answer (login noise may precede it).
STREAM_MARKER = "@@jupyter-remote-stream@@ "
#: The name of every kernel's Slurm job and step (``squeue`` shows it to everyone:
#: nothing secret, and no user data, goes into it).
JOB_NAME = "jupyter-remote"
_FRAME = struct.Struct("!I")


def send_frame(sock: Any, obj: Any) -> None:
    """One length-prefixed JSON object on a socket (a launch handed to a job's holder)."""
    body = json.dumps(obj).encode("utf-8")
    try:
        sock.sendall(_FRAME.pack(len(body)) + body)
    except OSError:
        pass


def recv_frame(sock: Any, limit: int) -> Any:
    """The JSON object of one frame (ValueError if longer than ``limit`` or cut short)."""
    (size,) = _FRAME.unpack(_recv_exactly(sock, _FRAME.size))
    if size > limit:
        raise ValueError("a frame of %d bytes" % size)
    return json.loads(_recv_exactly(sock, size).decode("utf-8"))


def _recv_exactly(sock: Any, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(min(size - len(data), 1 << 20))
        if not chunk:
            raise ValueError("the frame ended early")
        data += chunk
    return data
