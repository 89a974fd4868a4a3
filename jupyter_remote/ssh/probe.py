"""TCP probes: does a host accept connections on a port? Sessions' reconnect loops
(``sessions/linked.py``) ask this cheaply before a full SSH handshake or websocket.

Probes of one (host, port) started less than ``share_within`` s apart share one
connect: the 64 kernels of a server probing every 0.15 s send one SYN, not 64. A host
NAME is resolved on a thread of its own, never the event loop's default executor (the
Jupyter server's file and store calls wait on that one) nor one shared with other
names (two names whose name server does not answer would hold a shared pool, and every
other host's first probe would wait behind them), one resolution of a name at a time,
at most :data:`MAX_RESOLVING` names at once, and its addresses reused for
:data:`RESOLVED_FOR` s, and after that while a new resolution is under way: when the
name server does not answer (the Wi-Fi roam or VPN re-key the fast probes exist for),
one thread waits for it, not a new one every 0.15 s, and the host's last known address
is still probed. Each event loop has its own state (:func:`_state`), dropped once the
loop is closed (when another loop probes next). A shared probe whose every waiter was
cancelled (its sessions closed, or another probe answered first) is cancelled and waited
for by the last of them: nothing of a closed session is left pending on the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import threading
import weakref
from dataclasses import dataclass, field
from typing import Any

from .endpoint import Endpoint

#: how long a host name's addresses are used without asking the resolver again
RESOLVED_FOR = 30.0
#: how long after a resolution that found nothing (no such name, a name server that
#: failed) the resolver is not asked again: the fast probes (every 0.15 s) would start a
#: thread each (review s22 note); the last known addresses, if any, are probed meanwhile
UNRESOLVED_FOR = 2.0

#: names resolved at once (a thread each); a name beyond it counts as unresolved until
#: one of them answers (more hosts in an outage at once than any user has servers)
MAX_RESOLVING = 32
_RESOLVING = threading.BoundedSemaphore(MAX_RESOLVING)

Address = tuple[int, int, int, Any]  # family, type, proto, sockaddr


@dataclass
class _SharedProbe:
    """One connect attempt, when it started, and how many probes wait for its answer."""

    started: float
    task: asyncio.Future[bool]
    waiters: int = 0


@dataclass
class _LoopProbes:
    """One event loop's probes in flight or just done, and the names it resolved."""

    probes: dict[tuple[str, int, float], _SharedProbe] = field(default_factory=dict)
    addresses: dict[tuple[str, int], tuple[float, list[Address]]] = field(default_factory=dict)
    resolving: dict[tuple[str, int], asyncio.Future[list[Address]]] = field(default_factory=dict)
    unresolved: dict[tuple[str, int], float] = field(default_factory=dict)  # when, last


_STATES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopProbes] = (
    weakref.WeakKeyDictionary()
)


def _state() -> _LoopProbes:
    """The running loop's probes. A loop's state holds futures, which hold the loop: the
    weak key alone never lets it go, so a new loop's first probe drops closed loops'."""
    loop = asyncio.get_running_loop()
    state = _STATES.get(loop)
    if state is None:
        for closed in [old for old in _STATES if old.is_closed()]:
            _STATES.pop(closed, None)
        state = _STATES[loop] = _LoopProbes()
    return state


async def first_hop_reachable(
    endpoint: Endpoint | None, *, timeout: float = 3.0, share_within: float = 0.0
) -> bool:
    """Does the first hop towards ``endpoint`` accept TCP? (:func:`tcp_reachable` of the
    jump host when there is one, else of the endpoint.)"""
    hop = endpoint
    while hop is not None and hop.jump is not None:
        hop = hop.jump
    if hop is None:
        return False
    return await tcp_reachable(hop.host, hop.port, timeout=timeout, share_within=share_within)


async def tcp_reachable(
    host: str, port: int, *, timeout: float = 3.0, share_within: float = 0.0
) -> bool:
    """Does ``host`` accept TCP on ``port`` within ``timeout`` s? With ``share_within``,
    a probe of the same (host, port) started less than that many seconds ago answers
    instead of a new one."""
    state, now = _state(), asyncio.get_running_loop().time()
    key = (host, port, timeout)
    shared = state.probes.get(key)
    if shared is None or shared.task.cancelled() or now - shared.started > share_within:
        task = asyncio.ensure_future(_connects(state, host, port, timeout))
        shared = state.probes[key] = _SharedProbe(now, task)
    return await _answer_of(state, key, shared)


async def _answer_of(state: _LoopProbes, key: tuple[str, int, float], shared: _SharedProbe) -> bool:
    """Called by :func:`tcp_reachable`: wait for a shared probe's answer. The last waiter
    cancelled (a session closing, a fast probe outrun by another) cancels the connect and
    waits for its end, so no probe task outlives every session that asked for it."""
    shared.waiters += 1
    try:
        return await asyncio.shield(shared.task)
    finally:
        shared.waiters -= 1
        if shared.waiters == 0 and not shared.task.done():
            if state.probes.get(key) is shared:
                del state.probes[key]
            shared.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await shared.task


async def _connects(state: _LoopProbes, host: str, port: int, timeout: float) -> bool:
    try:
        return await asyncio.wait_for(_connect_any(state, host, port), timeout)
    except (OSError, asyncio.TimeoutError):
        return False


async def _connect_any(state: _LoopProbes, host: str, port: int) -> bool:
    """Connect to the host's addresses in turn (each already resolved: no lookup)."""
    loop = asyncio.get_running_loop()
    for family, kind, proto, sockaddr in await _addresses(state, host, port):
        with contextlib.closing(socket.socket(family, kind, proto)) as sock:
            sock.setblocking(False)
            try:
                await loop.sock_connect(sock, sockaddr)
            except OSError:
                continue
            return True
    return False


async def _addresses(state: _LoopProbes, host: str, port: int) -> list[Address]:
    """The host's addresses: an IP literal as is; a name's from the last resolution,
    refreshed (one at a time, on a thread of its own) once older than RESOLVED_FOR, and
    not within UNRESOLVED_FOR of a resolution that found nothing (then the last known
    addresses, or none)."""
    with contextlib.suppress(ValueError):
        ip = ipaddress.ip_address(host)
        family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
        return [(family, socket.SOCK_STREAM, 0, (host, port))]
    key, loop = (host, port), asyncio.get_running_loop()
    known = state.addresses.get(key)
    if known is not None and loop.time() - known[0] <= RESOLVED_FOR:
        return known[1]
    resolving = state.resolving.get(key)
    if resolving is None or resolving.done():
        if loop.time() - state.unresolved.get(key, -1e9) < UNRESOLVED_FOR:
            return known[1] if known is not None else []
        resolving = state.resolving[key] = asyncio.ensure_future(_resolve(state, host, port))
    if known is not None:
        return known[1]  # while the resolver is asked again
    return await asyncio.shield(resolving)


async def _resolve(state: _LoopProbes, host: str, port: int) -> list[Address]:
    loop = asyncio.get_running_loop()
    try:
        infos = await _getaddrinfo_alone(loop, host, port)
    except _Busy:
        return []  # no thread was started: asked again at the next probe
    except (OSError, UnicodeError):
        infos = []
    found: list[Address] = [(fam, kind, proto, addr) for fam, kind, proto, _, addr in infos]
    if found:
        state.addresses[(host, port)] = (loop.time(), found)
    else:
        state.unresolved[(host, port)] = loop.time()
    return found


class _Busy(OSError):
    """MAX_RESOLVING names are being resolved: this one was not asked."""


def _getaddrinfo_alone(
    loop: asyncio.AbstractEventLoop, host: str, port: int
) -> asyncio.Future[list[Any]]:
    """``getaddrinfo`` on a daemon thread of its own (:func:`_resolve`): a name server
    that never answers holds that thread only. OSError when MAX_RESOLVING are under way."""
    answer: asyncio.Future[list[Any]] = loop.create_future()
    if not _RESOLVING.acquire(blocking=False):
        answer.set_exception(_Busy(f"{MAX_RESOLVING} host names are being resolved"))
        return answer

    def settle(result: list[Any] | None, error: Exception | None) -> None:
        if answer.done():
            return
        if error is not None:
            answer.set_exception(error)
        else:
            answer.set_result(result or [])

    def resolve() -> None:
        result, error = None, None
        try:
            result = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
        except Exception as exc:  # handed to the waiting probe
            error = exc
        finally:
            _RESOLVING.release()
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(settle, result, error)

    threading.Thread(target=resolve, name=f"jr-probe-resolve-{host}", daemon=True).start()
    return answer
