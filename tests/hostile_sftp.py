"""A hostile SFTP server for tests/test_files_hostile.py: run by a test sshd as its ``sftp``
subsystem (stdlib only, any Python 3).

It speaks enough SFTP v3 to be opened and listed, then lies: every directory is
endless (each READDIR answers a page of 1,000 entries whose names carry terminal
escapes, bidi overrides and invalid UTF-8), and each page says it is not the end.
A client that does not bound what it keeps grows without limit. With an argument, every
REALPATH (the client's ``realpath(".")``: its home) answers that path instead of
``/home/x``, e.g. ``/../../../../../api/shutdown`` (review s22 F2).
"""

import struct
import sys

INIT, VERSION, OPEN, CLOSE, LSTAT, OPENDIR, READDIR, STAT, REALPATH = 1, 2, 3, 4, 7, 11, 12, 17, 16
STATUS, HANDLE, NAME, ATTRS = 101, 102, 104, 105
DIR_ATTRS = struct.pack(">IIII", 0x4 | 0x8, 0o40755, 0, 0)
FILE_ATTRS = struct.pack(">IQIII", 0x1 | 0x4 | 0x8, 7, 0o100644, 0, 0)
PAGE = 1000


def string(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def send(kind: int, body: bytes) -> None:
    sys.stdout.buffer.write(struct.pack(">IB", len(body) + 1, kind) + body)
    sys.stdout.buffer.flush()


def read_exact(n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sys.stdin.buffer.read(n - len(data))
        if not chunk:
            sys.exit(0)
        data += chunk
    return data


def main() -> None:
    page = 0
    home = sys.argv[1].encode() if len(sys.argv) > 1 else b"/home/x"
    while True:
        (length,) = struct.unpack(">I", read_exact(4))
        packet = read_exact(length)
        kind, body = packet[0], packet[1:]
        if kind == INIT:
            send(VERSION, struct.pack(">I", 3))
            continue
        (rid,) = struct.unpack(">I", body[:4])
        ident = body[:4]
        if kind == REALPATH:
            send(NAME, ident + struct.pack(">I", 1) + string(home) + string(b"") + DIR_ATTRS)
        elif kind in (STAT, LSTAT):
            send(ATTRS, ident + DIR_ATTRS)
        elif kind == OPENDIR:
            send(HANDLE, ident + string(b"h1"))
        elif kind == READDIR:
            page += 1
            names = b"".join(
                string(b"evil\x1b]0;owned\x07\x1b[2J\xe2\x80\xae%d-%d\xff" % (page, i))
                + string(b"")
                + FILE_ATTRS
                for i in range(PAGE)
            )
            send(NAME, ident + struct.pack(">I", PAGE) + names)
        elif kind == CLOSE:
            send(STATUS, ident + struct.pack(">I", 0) + string(b"") + string(b""))
        else:
            send(STATUS, ident + struct.pack(">I", 8) + string(b"unsupported") + string(b""))
        del rid


if __name__ == "__main__":
    main()
