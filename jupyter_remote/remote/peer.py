"""Who is at the other end of a loopback TCP connection: runs ON the remote.

A part of two scripts (``remote/__init__.py`` SCRIPTS): the agent's (the TCP relay
refuses another user's connection as it accepts it: ``relay_gate.py``) and the kernel
launcher's (the debugger admits only its own user: ``kernel_launcher.py``). Loopback TCP
cannot be closed to other users without root, but the kernel knows who owns each socket,
as identd uses it: the socket-diagnostics netlink query (what ``ss`` asks) looks up the
one peer socket by its address and port and answers its uid, in microseconds however
many sockets the host has; where netlink is refused, ``/proc/net/tcp`` (and tcp6), a
line per socket, is read. Stdlib only, Python >= 3.8.
"""

import errno
import socket
import struct
from typing import Any, Optional, Set, Tuple

NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
NLM_F_REQUEST = 1
NLMSG_ERROR = 2
#: offset of idiag_uid in struct inet_diag_msg (after family, state, timer, retrans, the
#: 48-byte inet_diag_sockid, expires, rqueue, wqueue)
DIAG_UID_AT = 64


#: what :func:`peer_uid` answers for a peer socket that no longer exists
GONE = -1


def peer_uid(conn: Any) -> Optional[int]:
    """uid owning the other end of ``conn`` (a loopback TCP connection); :data:`GONE` when
    that socket no longer exists; None when neither netlink nor /proc can tell."""
    try:
        peer = conn.getpeername()[:2]
        mine = conn.getsockname()[:2]
    except OSError:
        return GONE
    uid = _diag_uid(conn.family, peer, mine)
    return _proc_uid(peer, mine) if uid is None else uid


def _diag_uid(family: int, peer: Tuple[str, int], mine: Tuple[str, int]) -> Optional[int]:
    """The peer socket's uid by one inet_diag lookup (SOCK_DIAG_BY_FAMILY, no dump);
    GONE when the kernel has no such socket; None when the query cannot be made."""
    try:
        sockid = struct.pack("!HH", peer[1], mine[1])
        sockid += _diag_addr(family, peer[0]) + _diag_addr(family, mine[0])
        sockid += struct.pack("=III", 0, 0xFFFFFFFF, 0xFFFFFFFF)  # any interface, no cookie
        request = struct.pack("=BBBBI", family, socket.IPPROTO_TCP, 0, 0, 0xFFFFFFFF) + sockid
        header = struct.pack("=IHHII", 16 + len(request), SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST, 1, 0)
        nl = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_SOCK_DIAG)
    except (OSError, ValueError, AttributeError, struct.error):
        return None
    try:
        nl.settimeout(2)
        nl.sendto(header + request, (0, 0))
        answer = nl.recv(65536)
    except OSError:
        return None
    finally:
        nl.close()
    if len(answer) < 20:
        return None
    kind = struct.unpack_from("=H", answer, 4)[0]
    if kind == NLMSG_ERROR:  # the lookup's errno, negated: ENOENT, no such socket
        return GONE if -struct.unpack_from("=i", answer, 16)[0] == errno.ENOENT else None
    if kind != SOCK_DIAG_BY_FAMILY or len(answer) < 16 + DIAG_UID_AT + 4:
        return None
    return struct.unpack_from("=I", answer, 16 + DIAG_UID_AT)[0]


def _diag_addr(family: int, host: str) -> bytes:
    """An address as inet_diag_sockid holds it: 16 bytes, network order."""
    return socket.inet_pton(family, host).ljust(16, b"\0")


def _proc_uid(peer: Tuple[str, int], mine: Tuple[str, int]) -> Optional[int]:
    """The peer socket's uid from /proc/net/tcp{,6} (every socket a line), or None."""
    peer_forms, my_forms = _proc_form(*peer), _proc_form(*mine)
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f, None)
                for line in f:
                    fields = line.split()
                    if len(fields) > 7 and fields[1] in peer_forms and fields[2] in my_forms:
                        return int(fields[7])
        except OSError:
            continue
    return None  # not listed: gone, or no /proc to ask


def _proc_form(host: str, port: int) -> Set[str]:
    """The forms ``host:port`` takes in /proc/net/tcp{,6} (native-endian hex words)."""
    forms = set()
    if host.startswith("::ffff:") and "." in host:
        host = host[len("::ffff:") :]
    if "." in host:
        packed = socket.inet_aton(host)
        forms.add("%08X:%04X" % (struct.unpack("=I", packed)[0], port))
        packed = b"\0" * 10 + b"\xff\xff" + packed  # the same peer seen by a v6 socket
    else:
        packed = socket.inet_pton(socket.AF_INET6, host)
    forms.add("%s:%04X" % ("".join("%08X" % w for w in struct.unpack("=4I", packed)), port))
    return forms
