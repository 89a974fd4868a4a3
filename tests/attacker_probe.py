"""Run AS ANOTHER UNPRIVILEGED USER of the remote host: try every socket, port and file
of a victim's kernel, relay and debugger (targets on stdin as JSON), report what worked.

Stdlib only (Debian's /usr/bin/python3). Used by tests/test_shared_host.py, which finds
the targets as root (the victim processes' sockets from /proc, their files) and runs this
with ``runuser -u ATTACKER``. For every TCP listener it sends what a debugger client
and a relay client would send (DAP initialize/attach/evaluate, a relay HELLO and INFO,
a ZMTP greeting) and records every byte that comes back; the payloads would create the
``canary`` file if any of them ran as code.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import sys
import time


def dap(seq: int, command: str, arguments: dict[str, object]) -> bytes:
    body = json.dumps(
        {"seq": seq, "type": "request", "command": command, "arguments": arguments}
    ).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def relay_record(kind: int, parts: list[bytes]) -> bytes:
    head = struct.pack("!BBQH", kind, 0, 0, len(parts))
    lengths = b"".join(struct.pack("!I", len(p)) for p in parts)
    body = head + lengths + b"".join(parts)
    return struct.pack("!I", len(body)) + body


def payloads(canary: str) -> list[bytes]:
    code = f"open({canary!r}, 'w').write('pwned')"
    hello = {"twin": "attacker", "epoch": None, "last": 0, "token": "guess"}
    return [
        dap(1, "initialize", {"adapterID": "python", "clientID": "attacker"}),
        dap(2, "attach", {"justMyCode": False}),
        dap(3, "evaluate", {"expression": code, "context": "repl"}),
        relay_record(4, [b"{}"]),  # INFO: would answer the kernel's key
        relay_record(0, [json.dumps(hello).encode()]),
        b"\xff" + b"\0" * 8 + b"\x7f\x03\x00NULL" + b"\0" * 16 + b"\0" + b"\0" * 31,  # ZMTP
    ]


def try_stream(
    sock: socket.socket, address: object, canary: str, gentle: bool = False
) -> dict[str, object]:
    result: dict[str, object] = {"target": str(address), "connected": False, "received": 0}
    sock.settimeout(3)
    try:
        sock.connect(address)  # type: ignore[arg-type]
    except OSError as exc:
        result["error"] = type(exc).__name__
        sock.close()
        return result
    result["connected"] = True
    received = b""
    try:
        for data in payloads(canary)[: 1 if gentle else None]:
            sock.sendall(data)
        deadline = time.monotonic() + 2
        sock.settimeout(0.5)
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                continue
            if not chunk:
                break
            received += chunk
    except OSError as exc:
        result["error"] = type(exc).__name__
    finally:
        sock.close()
    result["received"] = len(received)
    result["sample"] = received[:200].decode("latin-1")
    return result


def main() -> int:
    targets = json.load(sys.stdin)
    canary = targets["canary"]
    report: dict[str, list[dict[str, object]]] = {"tcp": [], "unix": [], "files": [], "dirs": []}
    for host, port in targets.get("tcp", []):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        gentle = bool(targets.get("gentle"))  # the control run: a DAP initialize only
        report["tcp"].append(try_stream(socket.socket(family), (host, port), canary, gentle))
    for path in targets.get("unix", []):
        address = "\0" + path[1:] if path.startswith("@") else path
        report["unix"].append(try_stream(socket.socket(socket.AF_UNIX), address, canary))
    for path in targets.get("files", []):
        entry: dict[str, object] = {"target": path, "read": False}
        try:
            with open(path, "rb") as f:
                entry["read"] = True
                entry["bytes"] = len(f.read(1 << 20))
        except OSError as exc:
            entry["error"] = type(exc).__name__
        report["files"].append(entry)
    for path in targets.get("dirs", []):
        entry = {"target": path, "listed": False}
        try:
            entry["names"] = os.listdir(path)
            entry["listed"] = True
        except OSError as exc:
            entry["error"] = type(exc).__name__
        report["dirs"].append(entry)
    json.dump(report, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
