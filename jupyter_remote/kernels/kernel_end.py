"""How a remote kernel's end is told: the agent's word, Slurm's, or a start that failed.

Called by the provisioner (``provisioner.py``): its ``poll`` when the agent says the
kernel is gone or the scheduler ended its job, its ``launch_kernel`` when the start
failed. Each returns what jupyter_client keeps (exit code, reason) and tells the
notebook once, through the kernel's session.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any

from ..errors import RemoteCommandError, RemoteError
from ..sessions.kernel import KernelSession
from ..ssh.exec import is_connection_error

DEAD_UNKNOWN = -9  # exit code reported when the agent says dead but knows no status


def ended_by_agent(
    status: dict[str, Any], session: KernelSession, *, end_asked: bool, log: logging.Logger
) -> tuple[int, str]:
    """The agent says the kernel is gone: how it ended, said once (a notice the
    notebook shows, unless it ended because it was asked to)."""
    if status.get("state") == "missing":  # ended and removed: stopped, or on request
        stopped = session.why_removed(end_asked=end_asked)
        code, reason = (DEAD_UNKNOWN, stopped) if stopped else (0, "ended on request")
    else:
        reason = str(status.get("reason") or "the kernel process is gone")
        returncode = status.get("returncode")
        code = returncode if isinstance(returncode, int) and returncode != 0 else DEAD_UNKNOWN
    if code != 0:
        log.warning("remote kernel %s is dead: %s", session.kernel_id, reason)
        session.notice(f"The kernel ended on the remote: {reason}.")
    return code, reason


def ended_by_job(session: KernelSession, kernel_manager: Any) -> tuple[int, str]:
    """The scheduler ended the kernel's job (TIMEOUT, OUT_OF_MEMORY, NODE_FAIL, ...):
    dead, with Slurm's words and exit code; jupyter_client's restarter must say so
    rather than queue a new job on its own (no public switch: its restart_limit)."""
    assert session.job is not None and session.job.ended is not None
    job = session.job.ended
    restarter = getattr(kernel_manager, "_restarter", None)
    if restarter is not None:
        restarter.restart_limit = 0
    return job.exit_status(), job.end_text()


def start_failed(session: KernelSession | None, exc: BaseException) -> None:
    """launch_kernel failed: its session says why and how to fix it when it stops."""
    if session is None or isinstance(exc, (asyncio.CancelledError, KeyboardInterrupt)):
        return
    if isinstance(exc, RemoteError):
        session.failed_to_start(exc.message, exc.hint)
    else:
        session.failed_to_start(f"{type(exc).__name__}: {exc}", "See the Jupyter server log.")


async def status_or_none(call: Awaitable[Any], log: logging.Logger) -> dict[str, Any] | None:
    """The provisioner's poll: the agent's ``status`` answer, or None when the remote
    is out of reach or the agent failed (only its word that the kernel is gone counts)."""
    try:
        status = await call
    except RemoteError as exc:
        if not is_connection_error(exc) and isinstance(exc, RemoteCommandError):
            log.warning("remote kernel: status failed: %s", exc)
        return None
    except Exception as exc:
        if is_connection_error(exc):
            return None
        raise
    return status if isinstance(status, dict) else None
