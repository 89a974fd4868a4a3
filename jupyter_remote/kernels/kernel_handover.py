"""A kernel handed to a start instead of a launch: a running one (an attach), or the
profile's standby taken, which is stopped if the start then fails.

Called by :class:`SSHProvisioner` (``provisioner.py``) only: its ``pre_launch`` asks for
the running kernel (attach) or takes the standby, and lets a taken one go when it or
``launch_kernel`` fails; ``kernel_start.py`` then takes over what was handed.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from ..context import RemoteContext
from ..errors import RemoteCommandError
from ..sessions import job as jobs
from ..store.slurm import slurm_request
from .kernel_end import start_failed
from .standby import Standbys
from .standby import wanted as standby_wanted

if TYPE_CHECKING:
    from .provisioner import SSHProvisioner


async def running_kernel(provisioner: SSHProvisioner) -> dict[str, Any] | None:
    """For attach: the key and channels of this kernel id if it runs remotely, else None."""

    async def fetch(manager: RemoteContext) -> dict[str, Any] | None:
        session = await provisioner._session_on(manager)
        slurm = slurm_request(provisioner._profile.slurm if provisioner._profile else None)
        if slurm is not None and not await jobs.adopt(session, slurm):
            return None  # no running job of this kernel: nothing to attach to
        try:
            return await session.agent().connection(provisioner._kid)
        except RemoteCommandError:
            return None

    try:
        return await provisioner._remote(fetch)
    except BaseException:
        await provisioner._close_session()
        raise


async def take_standby(provisioner: SSHProvisioner) -> None:
    """A start of a profile that keeps a standby kernel takes it (kernels/standby.py):
    its connection becomes this kernel's as for an attach, under the standby's remote
    id; none ready (or another cwd): a cold start, no error."""
    profile = provisioner._profile
    assert profile is not None
    cwd = provisioner._document_cwd or profile.cwd
    if not standby_wanted(profile) or (cwd or None) != (profile.cwd or None):
        return

    async def take(manager: RemoteContext) -> dict[str, Any] | None:
        session = await provisioner._session_on(manager)  # the kernel's own connection
        taken = await Standbys.of(manager).take(profile, cwd, agent=session.agent())
        if taken is not None:
            session.remote_id = str(taken["kernel_id"])
        return taken

    try:
        taken = await provisioner._remote(take)
    except BaseException as exc:
        start_failed(provisioner._session, exc)
        await provisioner._close_session()
        raise
    if taken is not None:
        provisioner._remote_id = str(taken["kernel_id"])
        provisioner._attach_info = taken
        provisioner._took_standby = True


async def let_taken_go(provisioner: SSHProvisioner, exc: BaseException) -> None:
    """A standby this start took and will not hand out is stopped (nothing orphaned:
    its mark is gone, nobody else would stop it); a start without one: nothing."""
    if not provisioner._took_standby:
        return
    provisioner._took_standby = False
    provisioner._attach_info = None
    start_failed(provisioner._session, exc)
    with contextlib.suppress(Exception):
        await provisioner._agent_call("stop", provisioner._kid, timeout=1.0)
    await provisioner._close_session()
