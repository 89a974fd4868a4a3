"""A new connection's login and first channel without their avoidable waits.

``QuickLoginConnection`` is part of ``packet_tuning.TunedClientConnection`` (the pool's
connections on a verified asyncssh, made in the client's ``connection_made``; host-key
probes stay stock). Two waits of every new connection, measured on loopback (s28,
bench/analysis.md "Starts"):

* **The "none" auth request.** asyncssh, like OpenSSH's client, begins every login with
  a "none" request to learn the server's methods. A key or agent server (``auth.py``:
  the preferred methods are ``publickey`` alone) would try public-key auth whatever the
  answer, and a refused public-key request carries the same list of methods: so the
  first request is the public-key one. One round trip fewer, and one of the minimum
  times OpenSSH's sshd gives every auth request (``ensure_minimum_time_since``, 5-9 ms
  per user): a connect 40.6 -> 31.8 ms. Password servers keep it (its answer tells
  keyboard-interactive from password before the password is sent, once).
* **40 ms on the first channel.** Right after the login OpenSSH's sshd sends what no
  client answers (a ``hostkeys-00@openssh.com`` global request without reply, and
  ``SSH_MSG_DEBUG`` lines about the key's options). It has no TCP_NODELAY for an exec
  session, so its answer to our first channel open waited, under Nagle's algorithm,
  for our TCP ACK of those packets, which our kernel delays up to 40 ms when it has
  nothing to send with it: the first exec of a connection took 56 ms, later ones 11 ms.
  The first few such packets after the login are now answered with an
  ``SSH_MSG_IGNORE`` (one per batch read, at most ``NOTICES_ANSWERED``), which carries
  the ACK at once. IGNORE is the message every implementation must accept and drop at
  any time (RFC 4253 11.2).

Nothing about what is checked or sent for auth changes: the host key is verified in the
key exchange before any auth request, public-key auth still asks the server whether it
would accept a key before signing with it (a signature can cost a hardware key's touch
or an ``ssh-add -c`` confirmation), and a server that refuses the key (or public-key
auth) ends in the same ``PermissionDenied``.

Not done (measured): sending the first auth request before the server's
SERVICE_ACCEPT. sshd's SERVICE_ACCEPT and its answer to the early request went out as
two small writes, the second held by the same Nagle wait: +40 ms on most connects, for
one round trip.
"""

from __future__ import annotations

from typing import Any

from asyncssh.connection import SSHClientConnection
from asyncssh.constants import MSG_DEBUG, MSG_GLOBAL_REQUEST, MSG_IGNORE
from asyncssh.packet import String

__all__ = ["HOOKS", "NOTICES_ANSWERED", "QuickLoginConnection"]

_NONE = [b"none"]
_PUBLICKEY_ONLY = [b"publickey"]

#: unsolicited packets after the login answered with an IGNORE, per connection (sshd
#: sends one global request and a DEBUG line or two, in one write)
NOTICES_ANSWERED = 4

#: asyncssh's names this module overrides or relies on (checked by packet_tuning.supported)
HOOKS = ("try_next_auth", "_process_debug", "_process_global_request")

_stock_debug = SSHClientConnection._packet_handlers[MSG_DEBUG]
_stock_global_request = SSHClientConnection._packet_handlers[MSG_GLOBAL_REQUEST]


class QuickLoginConnection(SSHClientConnection):
    """asyncssh's client login and first channel without the waits above (see module)."""

    _jr_auth_tried = False  # the first auth method has been chosen
    _jr_none_skipped = False  # ... and it was public-key auth in place of "none"
    _jr_none_tried = False
    _jr_notices_answered = 0
    _jr_answer_due = False

    def try_next_auth(self, *, next_method: bool = False) -> None:
        """asyncssh's (called when the server accepts the auth service, and after each
        failure), except that the very first method is public-key auth, not "none",
        when that is the only method this connection may use. The "none" request then
        comes last, once, before giving up: a server that admits it (a gateway with no
        client auth, an account without a password) logs in as asyncssh's stock login
        would, and only a failing login pays its round trip (review s28 F3)."""
        if not self._jr_auth_tried:
            self._jr_auth_tried = True
            if self._auth_methods == _NONE and self._preferred_auth == _PUBLICKEY_ONLY:
                self._auth_methods = list(_PUBLICKEY_ONLY)
                self._jr_none_skipped = True
        elif self._jr_none_skipped and not self._jr_none_tried:
            left = self._auth_methods[1:] if next_method else self._auth_methods
            if not left:
                self._jr_none_tried = True
                self._auth_methods = list(_NONE)
                next_method = False
        super().try_next_auth(next_method=next_method)

    def _jr_notice_received(self) -> None:
        """After a DEBUG or global request once logged in: answer with one IGNORE when
        this batch of reads is processed (the first NOTICES_ANSWERED only)."""
        if not self._auth_complete or self._jr_answer_due:
            return
        if self._jr_notices_answered >= NOTICES_ANSWERED:
            return
        self._jr_notices_answered += 1
        self._jr_answer_due = True
        self._loop.call_soon(self._jr_answer)

    def _jr_answer(self) -> None:
        self._jr_answer_due = False
        transport = self._transport
        if transport is not None and not getattr(transport, "is_closing", bool)():
            # asyncssh's own send: packet_tuning's drops an empty IGNORE under AEAD
            SSHClientConnection.send_packet(self, MSG_IGNORE, String(b""))

    def _jr_process_debug(self, pkttype: int, pktid: int, packet: Any) -> Any:
        result = _stock_debug(self, pkttype, pktid, packet)
        self._jr_notice_received()
        return result

    def _jr_process_global_request(self, pkttype: int, pktid: int, packet: Any) -> Any:
        result = _stock_global_request(self, pkttype, pktid, packet)
        self._jr_notice_received()
        return result

    _packet_handlers = {
        **SSHClientConnection._packet_handlers,
        MSG_DEBUG: _jr_process_debug,
        MSG_GLOBAL_REQUEST: _jr_process_global_request,
    }
