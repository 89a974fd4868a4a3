"""Bringing a remote kernel up for the provisioner, on the SSH loop: start it (or take
the running one an attach or a standby handed over), then forward its channels and
report each stage on the session.

Called by :meth:`SSHProvisioner.launch_kernel` (``provisioner.py``) only; the request
the agent is sent comes from ``launch_request.py``, shared with the standby keeper.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from ..remote.protocol import CHANNELS
from ..sessions import job as jobs
from ..sessions.kernel import KernelSession
from ..store import Profile
from ..store.slurm import slurm_request
from .launch_request import channels_how, launch_request


@dataclass(frozen=True)
class KernelStart:
    """What one start of a remote kernel needs (the provisioner fills it in)."""

    profile: Profile
    kernel_id: str  # the kernel's id on the remote
    ports: list[int]  # the local ports of the five channels, in CHANNELS order
    key: bytes
    scheme: str
    cwd: str | None
    relay: bool
    startup_timeout: float
    buffer_mb: float
    attach_info: dict[str, Any] | None = None  # a running kernel handed over
    took_standby: bool = False  # ... and it is the profile's standby


async def bring_up(session: KernelSession, start: KernelStart) -> None:
    """Start (or take over) the kernel of ``session`` and forward its channels."""
    if start.attach_info is not None:  # re-attach, or the profile's standby taken
        what = "the profile's standby kernel" if start.took_standby else "the running kernel"
        session.progress("attaching", f"to {what}, pid {start.attach_info.get('pid')}")
        answer: dict[str, Any] = start.attach_info
        session.relay_token = str(start.attach_info.get("relay_token") or "")
    else:
        slurm = slurm_request(start.profile.slurm)
        if slurm is not None:  # submit (or keep) the kernel's job; wait while queued
            await jobs.ensure_running(session, slurm, start.profile.name)
        session.progress("starting kernel", start.profile.python or start.profile.kernelspec or "")
        if session.channel_transport == "tcp":
            session.relay_token = secrets.token_urlsafe(24)
        answer = await _launch(session, start)
    job = session.job.job if session.job is not None else None
    how = channels_how(answer, session.channel_transport, job)
    session.progress("forwarding", f"channels {how}")
    session.kernel_starting()  # the attach waits for the booting kernel: no health verdict
    await session.open_channels(
        dict(zip(CHANNELS, start.ports, strict=True)),
        answer,
        key=start.key,
        signature_scheme=start.scheme,
        ready_timeout=start.startup_timeout + 30,  # the relay says when the kernel answers
    )
    session.heartbeat_port = start.ports[CHANNELS.index("hb")]
    session.kernel_started()
    if start.profile.idle_timeout:
        await session.hold_presence()
    session.progress("ready", f"pid {answer.get('pid')} on {start.profile.server}")


async def _launch(session: KernelSession, start: KernelStart) -> dict[str, Any]:
    """The agent starts the kernel (its answer: pid, channels, relay)."""
    request = launch_request(
        start.profile,
        kernel_id=start.kernel_id,
        key=start.key.decode("ascii"),
        scheme=start.scheme,
        cwd=start.cwd,
        transport=session.channel_transport,
        relay=start.relay,
        relay_token=session.relay_token,
        startup_timeout=start.startup_timeout,
        buffer_mb=start.buffer_mb,
        job=session.job.job.job_id if session.job is not None else None,
    )
    return await session.agent().launch(request, timeout=start.startup_timeout + 30)
