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
* receiving (``recv_path.py``, s27): reads straight into one buffer, an AES-GCM packet
  decrypted where it lies (tag checked first), channel data handed to its channel
  without asyncssh's payload copies and dropped log lines; asyncssh's own code for
  every packet that is not plain channel data;
* sending: no log line formatted per packet below asyncssh's packet-logging level
  (3), where asyncssh formats one and drops it;
* the keepalive: a read notes its time; the timer, when it fires, re-arms itself at
  the last read plus the interval if anything was read since it was armed, and
  otherwise counts a silent interval exactly as asyncssh does. A silent link is given
  up at the same moment as before; a busy one no longer cancels and re-arms a timer
  on every read.

And once per connection, the login and its first channel (``quick_login.py``, s28): no
"none" auth request when public-key auth is the only method, and sshd's unanswered
notices after the login answered, so its reply to our first channel open is not held
for our delayed ACK (40 ms).
"""

from __future__ import annotations

import logging
from typing import Any

import asyncssh
from asyncssh.connection import SSHClientConnection
from asyncssh.logging import SSHLogger

from .kept_gcm import KeptKeyGCM, kept
from .quick_login import HOOKS as QUICK_LOGIN_HOOKS
from .quick_login import QuickLoginConnection
from .recv_path import ReceivingConnection

__all__ = ["VERIFIED", "KeptKeyGCM", "TunedClientConnection", "supported", "tune"]

log = logging.getLogger(__name__)

#: asyncssh releases (full version strings) whose connection.py / encryption.py were
#: read and tested against this module; the pyproject range may allow others, which run
#: stock. A patch release counts as another release: it may fix the very methods this
#: module overrides (review s26 R1), so it runs asyncssh's own code until checked here.
VERIFIED = ("2.24.1",)

_MSG_IGNORE = 2
_EMPTY_STRING = b"\0\0\0\0"  # String(b''): the payload of asyncssh's own IGNORE

try:
    from asyncssh.encryption import ChachaEncryption, GCMEncryption
except ImportError:  # pragma: no cover - checked by supported()
    GCMEncryption = ChachaEncryption = None  # type: ignore[assignment,misc]

#: asyncssh's methods this module overrides or relies on (all on SSHConnection in 2.24)
_HOOKS = (
    "send_packet",
    "send_newkeys",
    "data_received",
    "_recv_data",
    "_recv_version",
    "_recv_pkthdr",
    "_recv_packet",
    "_finish_recv_packet",
    "_reset_keepalive_timer",
    "_set_keepalive_timer",
    "_keepalive_timer_callback",
    "_send_disconnect",
    "_force_close",
    *QUICK_LOGIN_HOOKS,
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


_AEAD = (GCMEncryption, ChachaEncryption)


class _NotLogged:
    """The packet logger asyncssh's send is given below debug level 3, where its own
    (the connection's or channel's ``log_sent_packet``) formats a line and drops it."""

    def log_sent_packet(self, pkttype: int, pktid: Any, packet: Any, note: str = "") -> None:
        return None


_NOT_LOGGED = _NotLogged()


class TunedClientConnection(ReceivingConnection, QuickLoginConnection):
    """asyncssh's client connection without its avoidable per-packet work (see module).

    Only ever made by ``tune`` (class assignment on a connection asyncssh created);
    every method falls back on asyncssh's own code for what it does not change.
    """

    _jr_read_at: float
    _jr_armed_at: float

    def _jr_start(self) -> None:
        self._jr_read_at = self._jr_armed_at = 0.0
        self._receive_start()

    # ------------------------------------------------------------ sending

    def send_packet(self, pkttype: int, *args: bytes, handler: Any = None) -> None:
        """asyncssh's send, minus the IGNORE it puts before each packet under AEAD, and
        minus the log line it formats per packet and drops below debug level 3."""
        if (
            pkttype == _MSG_IGNORE
            and handler is None
            and args == (_EMPTY_STRING,)
            and isinstance(self._send_encryption, _AEAD)
        ):
            return
        if SSHLogger._debug_level < 3:
            handler = _NOT_LOGGED  # what asyncssh's logger.packet() drops unformatted
        super().send_packet(pkttype, *args, handler=handler)

    def send_newkeys(self, k: bytes, h: bytes) -> None:
        """A key exchange's end: the new keys get their AESGCM kept (one per key)."""
        try:
            super().send_newkeys(k, h)
        finally:
            self._keep_keys()

    def _keep_keys(self) -> None:
        self._send_encryption = kept(self._send_encryption)
        self._recv_encryption = kept(self._recv_encryption)
        self._next_recv_encryption = kept(self._next_recv_encryption)

    # ------------------------------------------------------------ receiving

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
