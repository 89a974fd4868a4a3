"""Kernels our agent runs on a server, whoever started them: list, stop, re-attach.

Called through RemoteManager by the REST handlers (GET/DELETE
/remote/servers/NAME/kernels[/ID], POST .../ID/attach) and the CLI's ``kernel``
commands. Re-attaching makes a running remote kernel an ordinary kernel of this
Jupyter server again (same id, state intact), e.g. after the server restarted.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from jupyter_core.utils import ensure_async

from ..context import RemoteContext
from ..errors import ConflictError, NotFoundError, ValidationError
from ..remote.protocol import KERNEL_ID_PATTERN
from ..store import Profile
from . import slurm
from .agent_client import AgentClient
from .profiles import profile_json

KERNEL_ID_RE = re.compile(KERNEL_ID_PATTERN)
ATTACH = "jupyter_remote_attach"  # start_kernel kwarg: attach to this kernel id if it runs


def check_kernel_id(kernel_id: Any) -> str:
    """A kernel id as the agent accepts it, else a 400 on the kernel_id field."""
    if not isinstance(kernel_id, str) or not KERNEL_ID_RE.fullmatch(kernel_id):
        raise ValidationError("Invalid kernel id.", field="kernel_id")
    return kernel_id


async def list_remote_kernels(
    ctx: RemoteContext, server: str, *, report: bool = True
) -> list[dict[str, Any]]:
    """Kernels our agent started on ``server`` that are still there (running or dead).

    ``report`` (``kernel list``, GET .../kernels): a dead kernel is listed once with how
    it ended, and its record is then removed from the remote."""
    endpoint = await ctx.endpoint(server)
    async with ctx.pool.connection(endpoint) as conn:
        entries = await AgentClient(conn).list(report=report)
        return await slurm.with_jobs(conn, entries, where=repr(server))  # kernels in jobs


async def stop_remote_kernel(ctx: RemoteContext, server: str, kernel_id: str) -> dict[str, Any]:
    """Stop one of them (its process group and its files go)."""
    check_kernel_id(kernel_id)
    endpoint = await ctx.endpoint(server)
    async with ctx.pool.connection(endpoint) as conn:
        result = await AgentClient(conn).stop(kernel_id)
    if not result.get("stopped"):
        raise NotFoundError(f"No kernel {kernel_id} on {server}.")
    return result


async def attach_remote_kernel(
    ctx: RemoteContext, kernel_manager: Any, server: str, kernel_id: str
) -> dict[str, Any]:
    """Start ``kernel_id`` in Jupyter's ``kernel_manager`` by attaching to the running
    remote kernel (its profile's kernelspec, the provisioner's attach mode); its model."""
    check_kernel_id(kernel_id)
    if kernel_id in kernel_manager:
        raise ConflictError(f"Kernel {kernel_id} is already attached here.")
    remote = {k["kernel_id"]: k for k in await list_remote_kernels(ctx, server, report=False)}
    found = remote.get(kernel_id)
    if found is None or found.get("state") != "running":
        raise NotFoundError(
            f"No running kernel {kernel_id} on {server}.",
            hint="List them with GET /remote/servers/NAME/kernels.",
        )
    if found.get("standby"):  # kernels/standby.py: taken by a start of its profile only
        raise ConflictError(
            f"Kernel {kernel_id} is the standby kernel of profile {found.get('profile')!r}.",
            hint="Start a kernel of that profile: it takes the standby.",
        )
    profile: Profile = await asyncio.to_thread(
        ctx.store.get_profile, str(found.get("profile") or "")
    )
    await kernel_manager.start_kernel(
        kernel_name=profile_json(profile)["kernel_name"], kernel_id=kernel_id, **{ATTACH: True}
    )
    return dict(await ensure_async(kernel_manager.kernel_model(kernel_id)))
