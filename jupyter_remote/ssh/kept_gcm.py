"""asyncssh's AES-GCM packet encryption with one ``AESGCM`` per key, and a packet opened in place.

Used by ``packet_tuning`` (made after every key exchange: ``kept``) and ``recv_path``
(``open_in``). asyncssh 2.24 builds a new ``AESGCM`` (a key schedule) for every packet
and joins a received packet's pieces before decrypting them; here one ``AESGCM`` serves
a key's packets, and a received packet is decrypted straight from the read buffer.
"""

from __future__ import annotations

from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

try:
    from asyncssh.crypto.cipher import GCMCipher
    from asyncssh.encryption import GCMEncryption
except ImportError:  # pragma: no cover - packet_tuning.supported() says no
    GCMCipher = GCMEncryption = None  # type: ignore[assignment,misc]

#: AES-GCM's tag: the MAC of every packet
TAG = 16


class KeptKeyGCM(GCMEncryption):
    """AES-GCM packet encryption with one ``AESGCM`` for its key.

    Made from asyncssh's object right after a key exchange (``kept``), taking over its
    key and its current nonce, so the packets already sent with it and the ones after
    share one nonce sequence.
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

    def open_in(self, data: bytearray, start: int, pktlen: int) -> bytes | None:
        """The plaintext of the packet at DATA[START:], its 4-byte length PKTLEN (the
        associated data), ciphertext and tag after it; None when the tag does not
        verify. Read where it lies: nothing is copied before the tag is checked, and
        no byte of the plaintext exists unless it was."""
        with memoryview(data) as view:
            try:
                body = view[start + 4 : start + 4 + pktlen + TAG]
                return self._aead.decrypt(self._nonce(), body, view[start : start + 4])
            except InvalidTag:
                return None


def kept(encryption: Any) -> Any:
    """ENCRYPTION with a kept AESGCM if it is asyncssh's stock AES-GCM, else itself."""
    if type(encryption) is GCMEncryption and type(getattr(encryption, "_cipher", None)) is (
        GCMCipher
    ):
        return KeptKeyGCM(encryption)
    return encryption
