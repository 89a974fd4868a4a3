"""What a remote kernel is started with: the agent's launch request, and how its
channels go once it answered.

Called by the provisioner (``provisioner.py``, a kernel a notebook asked for) and by
the standby keeper (``standby.py``, a profile's pre-warmed kernel), so both start the
very same kernel: interpreter, cwd, env, idle timeout, relay, launcher.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from jupyter_client.connect import KernelConnectionInfo

from ..errors import RemoteError
from ..remote import script_text
from ..store import Profile

#: the kernel process's own entry point on the remote (see remote/kernel_launcher.py)
LAUNCHER = script_text("kernel_launcher")
#: channel transports that carry the relay's own stream (no plain forwards possible)
NEEDS_RELAY = ("tcp", "exec", "srun")
#: what the relay keeps for a client that is away, unless configured otherwise
DEFAULT_BUFFER_MB = 128.0


def launch_request(
    profile: Profile,
    *,
    kernel_id: str,
    key: str,
    scheme: str,
    cwd: str | None,
    transport: str,
    relay: bool,
    relay_token: str = "",
    startup_timeout: float = 60.0,
    buffer_mb: float = DEFAULT_BUFFER_MB,
    job: str | None = None,
) -> dict[str, Any]:
    """The agent's launch request (the key travels on stdin, never a command line)."""
    return {
        "kernel_id": kernel_id,
        "python": profile.python,
        "kernelspec": profile.kernelspec,
        "cwd": cwd,
        "env": profile.env,
        "key": key,
        "signature_scheme": scheme,
        "idle_timeout": profile.idle_timeout,
        "profile": profile.name,
        "server": profile.server,
        "startup_timeout": startup_timeout,
        "buffer_bytes": int(buffer_mb * 1024 * 1024),
        "relay": relay or transport in NEEDS_RELAY,
        "job": job,
        "relay_tcp": transport == "tcp",
        "relay_token": relay_token,
        "launcher": LAUNCHER,
    }


def fingerprint(profile: Profile) -> str:
    """What a standby was started as (interpreter, kernelspec, cwd, env, idle timeout):
    a standby is taken only by a kernel that would have been started the same way."""
    what = [profile.python, profile.kernelspec, profile.cwd, profile.env, profile.idle_timeout]
    return hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()[:24]


def channels_how(answer: dict[str, Any], transport: str, job: Any = None) -> str:
    """How the kernel's channels go (for the progress line), or RemoteError when the
    transport needs the relay and it did not start."""
    if not answer.get("relay") and transport in ("exec", "srun"):
        raise RemoteError(
            f"Kernel channels over {transport} need the relay beside "
            f"the kernel, and it did not start: {answer.get('relay_note', 'no relay')}.",
            hint="The relay runs in the kernel's supervisor with the remote's Python "
            "(3.8 or newer, nothing else needed); its error is in the kernel's log there.",
        )
    if not answer.get("relay") and transport == "tcp":
        raise RemoteError(
            f"TCP kernel channels need the relay beside the kernel, and it did not "
            f"start: {answer.get('relay_note', 'no relay')}.",
            hint="The relay runs in the kernel's supervisor with the remote's Python "
            "(3.8 or newer, nothing else needed); its error is in the kernel's log there. "
            "Or switch the server back to unix-socket channels.",
        )
    if not answer.get("relay"):
        return f"plain forwards ({answer.get('relay_note', 'no relay')})"
    if transport == "tcp":
        return "through the relay, on a token-protected TCP port (see the warning)"
    if job is not None:
        return f"through the relay, over srun into Slurm job {job.job_id} on {job.node}"
    if transport == "exec":
        return "through the relay, over an exec channel (no forwarding)"
    return "through the relay, on a private unix socket"


def local_connection(
    km: Any, ports: list[int], running: dict[str, Any] | None
) -> KernelConnectionInfo:
    """The provisioner's pre_launch: the kernel manager's connection file names our local
    ports on 127.0.0.1; for a kernel that already runs (re-attach, a standby taken) it
    speaks with that kernel's key. The connection info jupyter_client then uses."""
    if running is not None:
        km.session.key = str(running["key"]).encode("ascii")
        km.session.signature_scheme = str(running["signature_scheme"])
    km.transport = "tcp"
    km.ip = "127.0.0.1"
    (km.shell_port, km.iopub_port, km.stdin_port, km.control_port, km.hb_port) = ports
    km.write_connection_file()
    info: KernelConnectionInfo = km.get_connection_info()
    return info
