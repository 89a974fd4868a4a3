"""How a tuned connection receives: reads into one buffer, AES-GCM packets opened where they lie.

``ReceivingConnection`` is the receiving half of ``packet_tuning.TunedClientConnection``
(the pool's connections on a verified asyncssh; issue 17 item 3). asyncssh 2.24 reads
each chunk as a new ``bytes``, appends it to its buffer, and per packet copies the
packet out of the buffer, joins its pieces, decrypts, copies the payload out of the
plaintext and the channel data out of the payload, and formats a log line it then
drops. Here:

* reads land in a ``ReadBuffer`` straight from the socket (asyncio's ``BufferedProtocol``
  on a socket transport; a jump host's tunnel hands ``bytes``, copied in once);
* under AES-GCM (``KeptKeyGCM``) a packet is decrypted straight from the buffer
  (``open_in``): the tag is checked over the bytes as they lie, before anything is
  used, and the only copy is the plaintext;
* a well-formed ``MSG_CHANNEL_DATA`` for an open channel, within its window, with
  asyncssh's own handler for it and its log levels below those that log it, goes to
  the channel's ``_accept_data`` as asyncssh's ``_process_data`` would hand it (one
  slice of the plaintext); every other packet, and any channel-data packet that is
  not all of that, goes through ``_dispatch``: asyncssh 2.24.1's own code (copied
  below: same checks, same errors), so a hostile server meets asyncssh's answers.

Packets under any other cipher, and before the first key exchange, are asyncssh's own
``_recv_pkthdr``/``_recv_packet`` working on the ``ReadBuffer``.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import struct
from asyncio import selector_events
from typing import Any

from asyncssh.channel import SSHChannel
from asyncssh.connection import SSHClientConnection
from asyncssh.constants import (
    MSG_CHANNEL_DATA,
    MSG_CHANNEL_FIRST,
    MSG_CHANNEL_LAST,
    MSG_DEBUG,
    MSG_IGNORE,
    MSG_KEX_FIRST,
    MSG_KEX_LAST,
    MSG_UNIMPLEMENTED,
    MSG_USERAUTH_FIRST,
    MSG_USERAUTH_LAST,
)
from asyncssh.logging import SSHLogger
from asyncssh.misc import CompressionError, MACError, ProtocolError
from asyncssh.packet import PacketDecodeError, SSHPacket, SSHPacketHandler, UInt32

from .kept_gcm import TAG, KeptKeyGCM
from .read_buffer import ReadBuffer

_U32 = struct.Struct(">I")
_CHANNEL_DATA_HEAD = struct.Struct(">II")  # recipient channel, data length
#: asyncssh's handler of MSG_CHANNEL_DATA, which the short path stands in for
_STOCK_DATA = SSHChannel._packet_handlers[MSG_CHANNEL_DATA]
_STOCK_PROCESS = SSHPacketHandler.process_packet
#: a pktlen below this under AES-GCM makes asyncssh slice oddly (its first block is
#: longer than the packet): left to asyncssh's own code, which fails it its own way
_MIN_GCM_PKTLEN = 12

#: what channel classes asyncssh's short path may stand in for, by class
_stock_data_handling: dict[type, bool] = {}


def _handles_data_as_stock(kind: type) -> bool:
    known = _stock_data_handling.get(kind)
    if known is None:
        known = _stock_data_handling[kind] = (
            getattr(kind, "_packet_handlers", {}).get(MSG_CHANNEL_DATA) is _STOCK_DATA
            and getattr(kind, "process_packet", None) is _STOCK_PROCESS
            and getattr(kind, "_accept_data", None) is SSHChannel._accept_data
        )
    return known


class ReceivingConnection(SSHClientConnection, asyncio.BufferedProtocol):
    """asyncssh's client connection, receiving as the module says. Made only by
    ``packet_tuning.tune`` (class assignment), which calls ``_receive_start`` at once."""

    def _receive_start(self) -> None:
        """Before the first byte: the buffer, and reads into it on a socket transport."""
        self._inpbuf = ReadBuffer()  # type: ignore[assignment]
        transport = self._transport
        if type(transport) is getattr(selector_events, "_SelectorSocketTransport", None):
            transport.set_protocol(self)  # type: ignore[union-attr]  # BufferedProtocol now

    def _read_buffer(self) -> ReadBuffer:
        buffer: Any = self._inpbuf
        if type(buffer) is not ReadBuffer:  # asyncssh's cleanup left b'' (closed)
            rest = bytes(buffer)
            buffer = ReadBuffer(len(rest) + 4096)
            buffer.extend(rest)
            self._inpbuf = buffer
        return buffer

    # ------------------------------------------------------------ reads

    def get_buffer(self, sizehint: int) -> memoryview:
        """asyncio (socket transport): where the next read goes."""
        return self._read_buffer().get_buffer()

    def buffer_updated(self, nbytes: int) -> None:
        """asyncio: NBYTES were read there."""
        self._read_buffer().written(nbytes)
        self._recv_data()

    def data_received(self, data: bytes, datatype: Any = None) -> None:
        """A read handed as bytes (a tunnel's transport): copied into the buffer."""
        self._read_buffer().extend(data)
        self._recv_data()

    # ------------------------------------------------------------ packets

    def _recv_pkthdr(self) -> bool:
        """asyncssh's packet handler: under AES-GCM, a whole packet opened in place and
        dispatched; else asyncssh's own header step (its ``_recv_packet`` follows)."""
        enc = self._recv_encryption
        buf = self._inpbuf
        if type(enc) is not KeptKeyGCM or type(buf) is not ReadBuffer:
            return super()._recv_pkthdr()
        start = buf.start
        if buf.end - start < self._recv_blocksize:
            return False
        (pktlen,) = _U32.unpack_from(buf.data, start)
        if pktlen > self._max_recv_pktlen:
            raise ProtocolError("Max packet size exceeded")
        if pktlen < _MIN_GCM_PKTLEN:
            return super()._recv_pkthdr()
        end = start + 4 + pktlen + TAG
        if buf.end < end:
            return False
        seq = self._recv_seq
        packet_data = enc.open_in(buf.data, start, pktlen)
        if not packet_data:
            raise MACError("MAC verification failed")
        buf.start = end
        if self._channel_data(seq, packet_data):
            return True
        return self._dispatch(seq, packet_data)

    def _channel_data(self, seq: int, packet_data: bytes) -> bool:
        """A MSG_CHANNEL_DATA handed to its channel as asyncssh's ``_process_data`` would
        (True), when nothing in it could take another turn there; else False."""
        end = len(packet_data) - packet_data[0]
        if (
            packet_data[1] != MSG_CHANNEL_DATA
            or end < 10
            or packet_data[0] == 0
            or self._decompressor is not None
            or not self._auth_complete
            or SSHLogger._debug_level >= 2  # asyncssh logs channel data from level 2
        ):
            return False
        recv_chan, datalen = _CHANNEL_DATA_HEAD.unpack_from(packet_data, 2)
        chan: Any = self._channels.get(recv_chan)
        if (
            chan is None
            or 10 + datalen != end
            or chan._recv_state != "open"
            or datalen > chan._recv_window
            or not _handles_data_as_stock(type(chan))
        ):
            return False
        try:
            chan._accept_data(packet_data[10:end])
        except PacketDecodeError as exc:  # as process_packet's caller turns it
            raise ProtocolError(str(exc)) from None
        self._finish_recv_packet(MSG_CHANNEL_DATA, seq)
        return True

    # asyncssh 2.24.1's SSHConnection._recv_packet from its decryption on, unchanged but
    # for the names (packet_tuning.VERIFIED): what any packet but the short path's gets.
    def _dispatch(self, seq: int, packet_data: bytes) -> bool:
        self._packet = b""

        orig_payload = packet_data[1 : -packet_data[0]]

        if self._decompressor and (self._auth_complete or not self._decompress_after_auth):
            payload = self._decompressor.decompress(orig_payload)

            if payload is None:
                raise CompressionError("Decompression failed")
        else:
            payload = orig_payload

        packet = SSHPacket(payload)
        pkttype = packet.get_byte()
        handler: Any = self
        skip_reason = ""
        exc_reason = ""

        if MSG_KEX_FIRST <= pkttype <= MSG_KEX_LAST:
            if self._kex:
                if self._ignore_first_kex:  # pragma: no cover
                    skip_reason = "ignored first kex"
                    self._ignore_first_kex = False
                else:
                    handler = self._kex
            else:
                skip_reason = "kex not in progress"
                exc_reason = "Key exchange not in progress"
        elif self._strict_kex and not self._recv_encryption and MSG_IGNORE <= pkttype <= MSG_DEBUG:
            skip_reason = "strict kex violation"
            exc_reason = f"Strict key exchange violation: unexpected packet type {pkttype} received"
        elif MSG_USERAUTH_FIRST <= pkttype <= MSG_USERAUTH_LAST:
            if self._auth:
                handler = self._auth
            else:
                skip_reason = "auth not in progress"
                exc_reason = "Authentication not in progress"
        elif pkttype > MSG_KEX_LAST and not self._recv_encryption:
            skip_reason = "invalid request before kex complete"
            exc_reason = "Invalid request before key exchange was complete"
        elif pkttype > MSG_USERAUTH_LAST and not self._auth_complete:
            skip_reason = "invalid request before auth complete"
            exc_reason = "Invalid request before authentication was complete"
        elif MSG_CHANNEL_FIRST <= pkttype <= MSG_CHANNEL_LAST:
            try:
                recv_chan = packet.get_uint32()
            except PacketDecodeError:
                skip_reason = "incomplete channel request"
                exc_reason = "Incomplete channel request received"
            else:
                try:
                    handler = self._channels[recv_chan]
                except KeyError:
                    skip_reason = "invalid channel number"
                    exc_reason = f"Invalid channel number {recv_chan} received"

        handler.log_received_packet(pkttype, seq, packet, skip_reason)

        if not skip_reason:
            try:
                result = handler.process_packet(pkttype, seq, packet)
            except PacketDecodeError as exc:
                raise ProtocolError(str(exc)) from None

            if inspect.isawaitable(result):
                # Buffer received data until current packet is processed
                self._recv_handler = lambda: False

                task = self.create_task(result)
                task.add_done_callback(
                    functools.partial(self._finish_recv_packet, pkttype, seq, is_async=True)
                )

                return False
            elif not result:
                if self._strict_kex and not self._recv_encryption:
                    exc_reason = (
                        f"Strict key exchange violation: unexpected packet type {pkttype} received"
                    )
                else:
                    self.logger.debug1("Unknown packet type %d received", pkttype)
                    self.send_packet(MSG_UNIMPLEMENTED, UInt32(seq))

        if exc_reason:
            raise ProtocolError(exc_reason)

        self._finish_recv_packet(pkttype, seq)
        return True
