"""An impostor relay, run by tests/test_standby_impostor.py as the other user of the host
(``jrattacker``) with the system's python3 (stdlib only; review s22 F1).

``impostor_relay.py unix PATH``: re-makes PATH's directory (0755; it must not exist: the
victim's kernel ended and its supervisor removed it) and listens on PATH (0777, so the
victim's sshd can connect). ``impostor_relay.py tcp PORT``: listens on 127.0.0.1:PORT.

It answers as a relay that knows nothing of the kernel would: a CLAIM with
``{"ok": true}``, a HELLO with a well-formed greeting (no proof: it has no key), a
heartbeat with its echo. Every record it receives is one JSON line on stdout: its kind,
and for a CLAIM or HELLO the names of the fields it carried. "ready" is the first line.
"""

import json
import os
import socket
import struct
import sys
import threading

HELLO, MSG, ACK, GAP, INFO, HB, CLAIM = 0, 1, 2, 3, 4, 5, 6
NAMES = {HELLO: "HELLO", MSG: "MSG", ACK: "ACK", GAP: "GAP", INFO: "INFO", HB: "HB", CLAIM: "CLAIM"}
_HEAD = struct.Struct("!BBQH")
_lock = threading.Lock()


def say(obj):
    with _lock:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()


def record(kind, parts):
    lengths = [len(p) for p in parts]
    body = _HEAD.pack(kind, 0, 0, len(parts)) + struct.pack(f"!{len(parts)}I", *lengths)
    body += b"".join(parts)
    return struct.pack("!I", len(body)) + body


def read_exactly(conn, n):
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def serve(conn):
    try:
        while True:
            size = read_exactly(conn, 4)
            if size is None:
                return
            body = read_exactly(conn, struct.unpack("!I", size)[0])
            if body is None:
                return
            kind, _, _, nparts = _HEAD.unpack_from(body)
            offset = _HEAD.size
            lengths = struct.unpack_from(f"!{nparts}I", body, offset)
            offset += 4 * nparts
            parts = []
            for n in lengths:
                parts.append(body[offset : offset + n])
                offset += n
            seen = {"kind": NAMES.get(kind, str(kind))}
            if kind in (HELLO, CLAIM) and parts:
                seen["fields"] = sorted(json.loads(parts[0].decode("utf-8")))
            say(seen)
            if kind == CLAIM:
                conn.sendall(record(CLAIM, [json.dumps({"ok": True}).encode()]))
                return
            if kind == HELLO:
                greeting = {"epoch": "impostor", "start": 1, "last_in": 0}
                conn.sendall(record(HELLO, [json.dumps(greeting).encode()]))
            elif kind == HB:
                conn.sendall(record(HB, parts))
    except OSError:
        return
    finally:
        conn.close()


def main():
    mode, where = sys.argv[1], sys.argv[2]
    if mode == "unix":
        os.mkdir(os.path.dirname(where), 0o755)
        os.chmod(os.path.dirname(where), 0o755)  # noqa: S103 - the attacker's, for all
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(where)
        os.chmod(where, 0o777)  # noqa: S103 - so the victim's sshd connects
    else:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", int(where)))
    listener.listen(16)
    say("ready")
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main()
