"""Listing and trusting host keys along the way to a server (the Security drawer, the
CLI's ``hostkey`` commands and ``server test --trust``, through RemoteManager)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

from ..errors import HostKeyUnknownError, NotFoundError, RemoteError, ValidationError
from ..store import Server
from .auth import probe_host_key
from .endpoint import Endpoint, resolve_endpoint

if TYPE_CHECKING:  # the context is the caller's; ssh/ does not depend on it
    from ..context import RemoteContext


async def list_hostkeys(ctx: RemoteContext) -> list[dict[str, Any]]:
    """Our trusted keys, then every entry of the known_hosts files read (the defaults
    and those ~/.ssh/config names for saved servers); bad lines as ``warning`` rows."""
    ours = await asyncio.to_thread(ctx.store.list_hostkeys)
    rows = [{k: v for k, v in key.to_json().items() if k != "public_key"} for key in ours]
    endpoints: list[Endpoint] = []
    for server in await asyncio.to_thread(ctx.store.list_servers):
        if not isinstance(server, Server):
            continue  # a Jupyter server: no host key of its own (its --via server has)
        with contextlib.suppress(RemoteError, OSError, ValueError):
            hop: Endpoint | None = await asyncio.to_thread(resolve_endpoint, server)
            while hop is not None:
                endpoints.append(hop)
                hop = hop.jump
    rows.extend(await asyncio.to_thread(ctx.hostkeys.list_known_hosts, endpoints))
    return rows


async def trust_hostkey(ctx: RemoteContext, server: str, fingerprint: str) -> dict[str, Any]:
    """Trust the key ``server`` (or the first untrusted hop on its way) offers now.

    ``fingerprint`` is what the user confirmed; it must equal the key offered now.
    Each hop is checked by a key exchange under the same policy as a connect (no
    credential sent): trusted or CA-certified hops are passed; a changed or revoked
    key is refused, never stored.
    """
    if (
        not isinstance(fingerprint, str)
        or not fingerprint.startswith("SHA256:")
        or len(fingerprint) > 100
    ):
        raise ValidationError(
            "fingerprint must be the SHA256:... string shown for the host key.",
            field="fingerprint",
        )
    endpoint = await ctx.endpoint(server)
    hops: list[Endpoint] = []
    hop: Endpoint | None = endpoint
    while hop is not None:
        hops.insert(0, hop)
        hop = hop.jump
    for index, hop in enumerate(hops):
        if index == 0:
            probe = await probe_host_key(hop, policy=ctx.hostkeys)
        else:
            async with ctx.pool.connection(hops[index - 1]) as tunnel:
                probe = await probe_host_key(hop, policy=ctx.hostkeys, tunnel=tunnel)
        if probe.accepted:
            continue
        if probe.offered is None or not isinstance(probe.refusal, HostKeyUnknownError):
            assert probe.refusal is not None
            raise probe.refusal  # changed or revoked: never trusted through this call
        stored = await asyncio.to_thread(
            ctx.hostkeys.trust_offered, hop, probe.offered, fingerprint
        )
        return {k: v for k, v in stored.to_json().items() if k != "public_key"}
    raise NotFoundError(
        f"Every host key on the way to {server!r} is already trusted.",
        hint="Nothing to trust; `jupyter remote server test` should connect.",
    )
