"""asyncssh's per-packet costs on our client connections, removed where that is safe.

``tune(conn)`` is called by ``auth.PolicyClient.connection_made`` for the pool's
connections (not for host-key probes), before the first byte is sent or read. On an
asyncssh release whose internals were checked (``VERIFIED``) it makes the connection a
``TunedClientConnection``; on any other it leaves asyncssh's own behaviour and says so
once at debug level. What changes, per SSH packet (issue 17 item 3, s26 measurements in
bench/analysis.md):

* no ``SSH_MSG_IGNORE`` before every packet while an AEAD cipher (AES-GCM,
  chacha20-poly1305) encrypts: asyncssh sends one as a CBC countermeasure (an
  attacker-predictable IV); an AEAD cipher's nonce is a counter, so it protects
  nothing there. Under any other cipher (CBC, CTR) asyncssh still sends it;
* one ``AESGCM`` object (one key schedule) per key instead of one per packet; a new
  one at every key exchange, since each ``send_newkeys`` makes new cipher objects;
* the read buffer: a consumed prefix is skipped by an offset (``ReadBuffer``) instead
  of copying the rest of a 256 KiB read after each 32 KiB packet;
* the keepalive: a read notes its time; the timer, when it fires, re-arms itself at
  the last read plus the interval if anything was read since it was armed, and
  otherwise counts a silent interval exactly as asyncssh does. A silent link is given
  up at the same moment as before; a busy one no longer cancels and re-arms a timer
  on every read.
"""

from __future__ import annotations

import logging
from typing import Any

import asyncssh
from asyncssh.connection import SSHClientConnection
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .read_buffer import ReadBuffer

log = logging.getLogger(__name__)

#: asyncssh releases (full version strings) whose connection.py / encryption.py were
#: read and tested against this module; the pyproject range may allow others, which run
#: stock. A patch release counts as another release: it may fix the very methods this
#: module overrides (review s26 R1), so it runs asyncssh's own code until checked here.
VERIFIED = ("2.24.1",)

#: a read at least this long is parsed from a ReadBuffer (a stream's reads are up to
#: 256 KiB, asyncio's limit, of 32 KiB packets; a cell's are a few hundred bytes)
BIG_READ = 64 * 1024

_MSG_IGNORE = 2
_EMPTY_STRING = b"\0\0\0\0"  # String(b''): the payload of asyncssh's own IGNORE
_GCM_TAG = 16

try:
    from asyncssh.crypto.cipher import GCMCipher
    from asyncssh.encryption import ChachaEncryption, GCMEncryption
except ImportError:  # pragma: no cover - checked by supported()
    GCMCipher = GCMEncryption = ChachaEncryption = None  # type: ignore[assignment,misc]

#: asyncssh's methods this module overrides or relies on (all on SSHConnection in 2.24)
_HOOKS = (
    "send_packet",
    "send_newkeys",
    "data_received",
    "_recv_data",
    "_recv_version",
    "_recv_pkthdr",
    "_recv_packet",
    "_reset_keepalive_timer",
    "_set_keepalive_timer",
    "_keepalive_timer_callback",
    "_send_disconnect",
    "_force_close",
)
_said_stock = False


def supported() -> bool:
    """Whether this asyncssh is one the tuning was checked against."""
    if asyncssh.__version__ not in VERIFIED or GCMEncryption is None:
        return False
    return all(callable(getattr(SSHClientConnection, name, None)) for name in _HOOKS)


def tune(conn: asyncssh.SSHClientConnection) -> bool:
    """Make CONN a TunedClientConnection if this asyncssh is a verified one.

    Called from the client's ``connection_made``: nothing was sent or read yet.
    """
    global _said_stock
    if type(conn) is not SSHClientConnection or not supported():
        if not _said_stock:
            _said_stock = True
            log.debug(
                "asyncssh %s: per-packet tuning not applied (checked: %s)",
                asyncssh.__version__,
                ", ".join(VERIFIED),
            )
        return False
    conn.__class__ = TunedClientConnection
    conn._jr_start()  # type: ignore[attr-defined]
    return True


class KeptKeyGCM(GCMEncryption):
    """asyncssh's AES-GCM packet encryption with one ``AESGCM`` for its key.

    Made from the stock object right after a key exchange (``_keep_keys``), taking
    over its key and its current nonce, so the packets already sent with it and the
    ones after share one nonce sequence.
    """

    def __init__(self, stock: Any) -> None:
        cipher = stock._cipher
        self._aead = AESGCM(cipher._key)
        self._fixed: bytes = cipher._iv[:4]
        self._invocation = int.from_bytes(cipher._iv[4:], "big")

    def _nonce(self) -> bytes:
        nonce = self._fixed + self._invocation.to_bytes(8, "big")
        self._invocation = (self._invocation + 1) & 0xFFFFFFFFFFFFFFFF
        return nonce

    def encrypt_packet(self, seq: int, header: bytes, packet: bytes) -> tuple[bytes, bytes]:
        """The packet and its tag in one piece (the caller sends packet + mac)."""
        return header + self._aead.encrypt(self._nonce(), packet, header), b""

    def decrypt_header(self, seq: int, first_block: bytes, header_len: int) -> tuple[bytes, bytes]:
        return first_block, first_block[:header_len]

    def decrypt_packet(
        self, seq: int, first: bytes, rest: bytes, header_len: int, mac: bytes
    ) -> bytes | None:
        """The plaintext, or None when the tag does not verify (asyncssh: MACError)."""
        body = b"".join((first[header_len:], rest, mac))
        try:
            return self._aead.decrypt(self._nonce(), body, first[:header_len])
        except InvalidTag:
            return None


def _kept(encryption: Any) -> Any:
    """ENCRYPTION with a kept AESGCM if it is asyncssh's stock AES-GCM, else itself."""
    if type(encryption) is GCMEncryption and type(getattr(encryption, "_cipher", None)) is (
        GCMCipher
    ):
        return KeptKeyGCM(encryption)
    return encryption


_AEAD = (GCMEncryption, ChachaEncryption)


class TunedClientConnection(SSHClientConnection):
    """asyncssh's client connection without its avoidable per-packet work (see module).

    Only ever made by ``tune`` (class assignment on a connection asyncssh created);
    every method falls back on asyncssh's own code for what it does not change.
    """

    _jr_read_at: float
    _jr_armed_at: float

    def _jr_start(self) -> None:
        self._jr_read_at = self._jr_armed_at = 0.0

    # ------------------------------------------------------------ sending

    def send_packet(self, pkttype: int, *args: bytes, handler: Any = None) -> None:
        """asyncssh's send, minus the IGNORE it puts before each packet under AEAD."""
        if (
            pkttype == _MSG_IGNORE
            and handler is None
            and args == (_EMPTY_STRING,)
            and isinstance(self._send_encryption, _AEAD)
        ):
            return
        super().send_packet(pkttype, *args, handler=handler)

    def send_newkeys(self, k: bytes, h: bytes) -> None:
        """A key exchange's end: the new keys get their AESGCM kept (one per key)."""
        try:
            super().send_newkeys(k, h)
        finally:
            self._keep_keys()

    def _keep_keys(self) -> None:
        self._send_encryption = _kept(self._send_encryption)
        self._recv_encryption = _kept(self._recv_encryption)
        self._next_recv_encryption = _kept(self._next_recv_encryption)

    # ------------------------------------------------------------ receiving

    def data_received(self, data: bytes, datatype: Any = None) -> None:
        """asyncssh's read; a big one goes into a ReadBuffer (its packets are taken
        off by an offset, not by copying the rest), a small one stays ``bytes``
        (a few hundred bytes are cheaper to copy than to index from Python)."""
        buffer = self._inpbuf
        if type(buffer) is ReadBuffer:
            buffer.extend(data)
        elif len(data) >= BIG_READ:
            self._inpbuf = ReadBuffer(bytearray(buffer) + data)  # type: ignore[assignment]
        else:
            self._inpbuf = buffer + data
        self._recv_data()
        if type(self._inpbuf) is ReadBuffer and not self._inpbuf:
            self._inpbuf = b""  # drained: back to plain bytes for small reads

    def _recv_data(self) -> None:
        """asyncssh's ``_recv_data`` with the keepalive noted, not re-armed, per read."""
        if self._auth_complete:
            if self._keepalive_timer is None:
                self._reset_keepalive_timer()
            else:
                self._jr_read_at = self._loop.time()
        try:
            while self._inpbuf and self._recv_handler():
                pass
        except asyncssh.DisconnectError as exc:
            self._send_disconnect(exc.code, exc.reason, exc.lang)
            self._force_close(exc)
        except Exception:
            self.internal_error()

    # ------------------------------------------------------------ keepalive

    def _set_keepalive_timer(self) -> None:
        self._jr_armed_at = self._loop.time()
        super()._set_keepalive_timer()

    def _keepalive_timer_callback(self) -> None:
        """Fired an interval after it was armed: idle since then, or re-arm for the
        interval after the last read (where asyncssh's re-armed timer would be)."""
        read_at = self._jr_read_at
        if read_at > self._jr_armed_at:
            self._jr_armed_at = read_at
            self._keepalive_timer = self._loop.call_at(
                read_at + self._keepalive_interval, self._keepalive_timer_callback
            )
            return
        super()._keepalive_timer_callback()
