"""A running SSH kernel's health: the heartbeat, the agent's round trip, its Slurm job.

A kernel whose relay link is attached is checked by one heartbeat ping across it
(:func:`relay_health`): no remote process, so idle kernels cost the remote nothing;
the agent (one exec, a remote Python) is asked only when the ping gets no answer, or
for a kernel without a relay. A round trip is only ever compared with the baseline of
its own kind: the agent's exec (several round trips and a Python start) after a ping
without answer gives no slow-link verdict; the heartbeat's reason stands.

:class:`~.kernel.KernelSession` starts :func:`monitor_health` with its link watch
(``_watch``) and cancels it in ``close``. Every ``health_interval`` while the link is
up the session goes ``degraded`` with :func:`health_problem`'s reason, and back to
``running`` once it is ''. A kernel being shut down or restarted on purpose
(``kernel_ending``), or a check that spans one (``kernel_epoch``), gives no verdict.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from ..errors import RemoteError
from .job import job_problem
from .roster import Reconnect, registry

if TYPE_CHECKING:
    from .kernel import KernelSession

#: seconds after a kernel's (re)start when a slow agent round trip is no health problem:
#: the new kernel's start loads the remote host (a false Degraded after restarts)
KERNEL_SETTLE_S = 10.0

NO_HEARTBEAT = "the kernel does not answer its heartbeat (stopped, swapping or hung)"


async def heartbeat_ok(port: int, timeout: float) -> bool:
    """One ping on a kernel's heartbeat channel (a ZMQ echo), through our forward."""
    import zmq
    import zmq.asyncio

    ctx = zmq.asyncio.Context.instance()
    sock = ctx.socket(zmq.REQ)
    sock.linger = 0
    try:
        sock.connect(f"tcp://127.0.0.1:{port}")
        await sock.send(b"ping")
        return bool(await sock.poll(int(timeout * 1000)))
    finally:
        sock.close()


async def monitor_health(session: KernelSession) -> None:
    """Every few seconds while the link is up: heartbeat and agent round trip."""
    policy = registry.reconnect
    while not session._closing:
        await asyncio.sleep(policy.health_interval)
        if session._closing or session.state not in ("running", "degraded") or not session.link_up:
            continue
        if session.kernel_ending:
            continue
        epoch = session.kernel_epoch
        problem = await health_problem(session, policy)
        if session.kernel_ending or session.kernel_epoch != epoch:
            continue  # a restart or shutdown began (or ended) meanwhile: no verdict
        if problem and session.link_up:
            session._set("degraded", problem)
        elif not problem and session.state == "degraded":
            session._set("running")


async def health_problem(session: KernelSession, policy: Reconnect) -> str:
    """Why the session is degraded now, or '' when healthy."""
    if session.job is not None:  # the job's state, not an srun step every interval
        problem = await job_problem(session)
        if problem or not session.heartbeat_port:
            return problem
        if not await heartbeat_ok(session.heartbeat_port, policy.heartbeat_timeout):
            return NO_HEARTBEAT
        return ""
    no_answer = False  # the heartbeat across the relay link was just tried, unanswered
    if session.heartbeat_port and session.relay_path and relay_attached(session):
        verdict = await relay_health(session, policy)
        if verdict is not None:
            return verdict
        no_answer = True
    started = time.monotonic()
    try:
        status = await asyncio.wait_for(session.agent().status(session.remote_id), 15)
    except asyncio.TimeoutError:
        return "the remote agent does not answer (the host may be overloaded)"
    except RemoteError:
        return ""  # link trouble: the watcher handles it
    if status.get("state") not in ("running", "starting"):
        return ""  # the kernel ended: the provisioner's poll says how, not the card
    if not no_answer:  # an exec's round trip says nothing against a ping's baseline
        slow = slow_round_trip(session, policy, (time.monotonic() - started) * 1000)
        if slow:
            return slow
    if session.channels is not None and session.relay_path and not session.channels.attached:
        # not taken back automatically: two servers would take turns stealing it
        return (
            "this server no longer receives the kernel's messages: another Jupyter "
            "server attached to it, or its relay stopped; attach again to take it back"
        )
    if session.heartbeat_port and (
        no_answer or not await heartbeat_ok(session.heartbeat_port, policy.heartbeat_timeout)
    ):
        return NO_HEARTBEAT
    return ""


def relay_attached(session: KernelSession) -> bool:
    return session.channels is not None and session.channels.attached


async def relay_health(session: KernelSession, policy: Reconnect) -> str | None:
    """The health of a kernel whose relay link is attached, from one heartbeat ping
    across that link: no remote process is started (the relay lives in the kernel's
    supervisor, which exits with the kernel; the kernel's heartbeat thread answers
    through it), so 64 idle kernels cost the remote nothing but 64 pings every
    ``health_interval``. The ping's round trip is the one compared with its usual.
    None when the ping got no answer: the agent is asked why (one exec, only then)."""
    assert session.heartbeat_port is not None
    started = time.monotonic()
    if not await heartbeat_ok(session.heartbeat_port, policy.heartbeat_timeout):
        return None
    return slow_round_trip(session, policy, (time.monotonic() - started) * 1000)


def slow_round_trip(session: KernelSession, policy: Reconnect, rtt: float) -> str:
    """The slow-link verdict: ``rtt`` (ms) far above the session's fastest one so far
    (not while a new kernel settles), or ''."""
    if session._baseline_ms is None or rtt < session._baseline_ms:
        session._baseline_ms = rtt
    base = session._baseline_ms
    settling = time.monotonic() < session._settle_until
    if not settling and rtt > max(base * policy.slow_factor, base + policy.slow_floor_ms):
        return f"round trip {rtt:.0f} ms, far above its usual {base:.0f} ms"
    return ""
