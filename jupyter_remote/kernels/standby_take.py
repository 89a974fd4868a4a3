"""Taking a profile's standby kernel for a start (:meth:`Standbys.take`, ``standby.py``).

In the process that launched the standby (the keeper: inside the Jupyter server, the
server itself) the take needs no remote exec: the keeper remembers what the launch
answered (:class:`Launched`: the kernel's id, key, channels, relay and the profile's
fingerprint then), and a CLAIM record on a channel to the standby's own relay, over the
connection the keeper holds open, renames its mark as the agent's ``claim`` would
(``remote/standby.py``); the ordinary attach follows. Over the "tcp" channel transport
the CLAIM carries the relay token, checked before anything else, as a HELLO's.

Anything less clean (nothing remembered, the profile changed since, the relay says it
is no standby any more, the channel fails, an exec channel transport) falls back to the
agent's ``claim`` (one exec), and that to a cold start. So does an answer that does not
prove the relay knows the kernel's key (a fresh nonce in the CLAIM, ``relay_proof`` in
``remote/protocol.py``): the standby has ended, and whatever listens at its old path or
port now (another user of the host, once its directory was removed) gets the CLAIM and
nothing more; no attach follows (review s22 F1). A CLAIM the relay honoured whose
answer was lost leaves a kernel marked ``claimed``: the agent's sweep stops it after
CLAIM_GRACE, as any take never attached.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import secrets
from dataclasses import dataclass, field
from typing import Any

from ..errors import RemoteCommandError, RemoteError, SSHConnectError
from ..remote.protocol import (
    CLAIM,
    KERNEL_ID_PATTERN,
    RecordReader,
    encode_record,
    json_part,
    proof_ok,
)
from ..ssh.exec import peer
from ..ssh.streams import open_stream
from ..text import RemoteJSONError, parse_remote_json, printable
from .agent_client import AgentClient, connection_answer

log = logging.getLogger("jupyter_remote")

#: seconds a CLAIM through the relay may take before the agent's ``claim`` is used
RELAY_CLAIM_TIMEOUT = 10.0
#: largest answer to a CLAIM read (a real one is a few dozen bytes)
MAX_CLAIM_ANSWER = 4096
#: channel transports whose relay is reached without an exec (a forward)
FORWARDED = ("unix", "tcp")


@dataclass(frozen=True)
class Launched:
    """A standby this process launched: what taking it through its relay needs."""

    server: str
    fingerprint: str  # the profile's, at launch
    transport: str  # the server's channel transport, at launch
    #: as the agent's ``claim`` answers it: the kernel's key and relay token, never in a repr
    connection: dict[str, Any] = field(repr=False)


def launched(request: dict[str, Any], answer: dict[str, Any], transport: str) -> Launched | None:
    """The keeper, once a standby's launch answered (``request``: what it sent): what to
    remember, or None when its relay is reached only through an exec (no relay, or an
    "exec" channel transport)."""
    relay, port = answer.get("relay"), answer.get("relay_port")
    if transport not in FORWARDED or not relay or (transport == "tcp" and not port):
        return None
    connection = {
        "kernel_id": request["kernel_id"],
        "pid": answer.get("pid"),
        "key": request["key"],
        "signature_scheme": request["signature_scheme"],
        "transport": answer.get("transport"),
        "channels": answer.get("channels"),
        "relay": relay,
        "relay_port": port,
        "relay_token": request["relay_token"],
        "profile": request["profile"],
    }
    return Launched(str(request["server"]), str(request["standby"]), transport, connection)


async def take(
    agent: AgentClient, request: dict[str, Any], kept: Launched | None
) -> dict[str, Any] | None:
    """The standby's connection (checked: ``connection_answer``), now nobody else's, or
    None (a cold start follows). ``request``: the agent's ``claim`` request; ``kept``: the
    standby this process launched for the profile, if it remembers one."""
    if kept is not None and (kept.server, kept.fingerprint) == (
        request["server"],
        request["fingerprint"],
    ):
        taken = await _through_relay(agent, kept, request)
        if taken is not None:
            return taken
    return await by_exec(agent, request) or None


async def _through_relay(
    agent: AgentClient, kept: Launched, request: dict[str, Any]
) -> dict[str, Any] | None:
    """A CLAIM to the standby's relay over ``agent``'s connection (a unix-socket forward,
    or a TCP forward with the relay token): its connection, or None when not taken."""
    connection = kept.connection
    tcp = kept.transport == "tcp"
    claim = {name: request[name] for name in ("profile", "server", "fingerprint")}
    claim["nonce"] = nonce = secrets.token_hex(16)
    if tcp:
        claim["token"] = connection["relay_token"]
    target = int(connection["relay_port"]) if tcp else str(connection["relay"])
    try:
        answer = await asyncio.wait_for(_ask(agent.conn, target, claim), RELAY_CLAIM_TIMEOUT)
    except Exception as exc:  # any failure of the channel: the agent's claim decides
        log.info("standby kernel of %s not taken through its relay: %r", request["profile"], exc)
        return None
    if answer.get("ok") is not True:
        reason = printable(str(answer.get("reason") or "no reason")[:200])
        log.info("standby kernel of %s not taken through its relay: %s", request["profile"], reason)
        return None
    kernel_id = str(connection["kernel_id"])
    if not proof_ok(answer.get("proof"), connection["key"], "claim", kernel_id, nonce):
        log.warning(
            "standby kernel of %s not taken through its relay: what answers at its address "
            "did not prove it knows the kernel's key (the standby has ended; something "
            "else listens there now)",
            request["profile"],
        )
        return None
    try:
        return connection_answer(dict(connection), "claim", where=peer(agent.conn))
    except RemoteError:  # the launch's answer was bad: the kernel taken is stopped, not used
        with contextlib.suppress(RemoteError):
            await agent.stop(str(connection["kernel_id"]), timeout=1.0)
        raise


async def _ask(conn: Any, target: str | int, claim: dict[str, Any]) -> dict[str, Any]:
    """One CLAIM record on a new channel to the relay at ``target``; its answer."""
    reader, writer = await open_stream(conn, target, window=64 * 1024)
    try:
        writer.write(encode_record(CLAIM, 0, 0, [json_part(claim)]))
        record = await RecordReader(reader, max_record=MAX_CLAIM_ANSWER).next()
    finally:
        writer.close()
    if record is None or record[0] != CLAIM or not record[3]:
        raise SSHConnectError("The standby's relay closed the connection without an answer.")
    try:
        answer = parse_remote_json(bytes(record[3][0]).decode("utf-8"), max_depth=2)
    except (UnicodeDecodeError, RemoteJSONError) as exc:
        raise RemoteCommandError(f"The standby's relay answered badly: {exc}") from None
    if not isinstance(answer, dict):
        raise RemoteCommandError("The standby's relay answered badly: not an object.")
    return answer


async def by_exec(agent: AgentClient, request: dict[str, Any]) -> dict[str, Any]:
    """The agent's ``claim`` (one exec): {} when none is ready or the claim failed (a cold
    start follows); a taken kernel's connection, checked (``connection_answer``). A bad
    one is stopped and raised, never used (one whose id is bad too cannot be named: the
    agent stops it once CLAIM_GRACE has passed without an attach)."""
    try:
        answer = await agent.call(request, timeout=30)
    except RemoteError as exc:
        log.warning("standby kernel of %s not taken: %s", request["profile"], exc)
        return {}
    if answer.get("kernel_id") is None:
        return {}
    try:
        return connection_answer(answer, "claim", where=str(request["server"]))
    except RemoteError:
        kernel_id = answer.get("kernel_id")
        if isinstance(kernel_id, str) and re.fullmatch(KERNEL_ID_PATTERN, kernel_id):
            with contextlib.suppress(RemoteError):
                await agent.stop(kernel_id, timeout=1.0)  # ours now: it goes
        raise
