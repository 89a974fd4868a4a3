"""What our kernels leave on a test host, and how to clear it.

Called by tests (and the soak) before and after kernels run as a harness host's user:
the remote user's processes, our state directory in its home, a clean slate. The
test host is this machine, so all of it is read locally (``/proc``, the home).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from .sshd_host import SSHTestHost
from .waiting import NeverHappened, eventually

#: Where our agent keeps each kernel's private directory, under the remote home.
STATE_DIR = ".local/share/jupyter-remote"
#: Command lines of our remote processes: supervisor, relay, kernel, shipped scripts.
KERNEL_PROCESSES = "jupyter-remote|ipykernel_launcher|_jr_src"


def remote_kernel_processes(host: SSHTestHost) -> list[str]:
    """``pid command line`` of the user's processes that are ours (pgrep as the user)."""
    out = host.run_as_user(["pgrep", "-u", host.user, "-af", KERNEL_PROCESSES]).stdout
    return [line for line in out.splitlines() if "pgrep" not in line]


def remote_state_files(host: SSHTestHost) -> list[str]:
    """Every path under the user's STATE_DIR (empty when the directory is gone)."""
    root = host.home / STATE_DIR
    return [str(p) for p in root.rglob("*")] if root.exists() else []


def kernels_dir(host: SSHTestHost) -> Path:
    """The user's kernel state directories' parent (read as root from its home)."""
    return host.home / STATE_DIR / "kernels"


def standby_ids(host: SSHTestHost) -> list[str]:
    """Kernels on the remote marked as a standby (taken ones are not)."""
    found = kernels_dir(host).glob("*/standby") if kernels_dir(host).exists() else []
    return sorted(p.parent.name for p in found)


def no_kernel_processes_left(
    host: SSHTestHost, timeout: float = 10.0, interval: float = 0.05
) -> None:
    """Tests that stop a kernel (or let its idle timeout stop it): wait until none of our
    processes of the user runs any more; NeverHappened names what is left."""
    eventually(
        lambda: remote_kernel_processes(host),
        lambda left: not left,
        timeout=timeout,
        interval=interval,
        what=f"no kernel process of {host.user} left",
    )


#: a user's leftovers in /tmp: kernels' socket directories (``jr-*``, made there when the
#: home's path is too long for a socket) and the kernel's own runtime files
_LEFT_IN_TMP = (
    'find /tmp -maxdepth 1 -user "$1" '
    "\\( -name 'jr-*' -o -name 'ipykernel_*' -o -name 'debugpy*' \\) -exec rm -rf {} +"
)


def clean_remote(host: SSHTestHost) -> None:
    """Kill our processes of the user and remove its STATE_DIR and its leftovers in /tmp
    (a failed earlier test's, which a later test's "nothing left" would count)."""
    host.run_as_user(["pkill", "-9", "-u", host.user, "-f", KERNEL_PROCESSES])
    host.run_as_user(["rm", "-rf", str(host.home / STATE_DIR)])
    host.run_as_user(["sh", "-c", _LEFT_IN_TMP, "sh", host.user])


def user_processes(uid: int) -> list[str]:
    """``pid args`` of every process whose real uid is UID (read from /proc, as root)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            status = Path(f"/proc/{entry}/status").read_text()
            args = (
                Path(f"/proc/{entry}/cmdline")
                .read_bytes()
                .replace(b"\0", b" ")
                .decode(errors="replace")
            )
        except OSError:
            continue
        uid_line = next((ln for ln in status.splitlines() if ln.startswith("Uid:")), "")
        if uid_line.split()[1:2] == [str(uid)]:
            found.append(f"{entry} {args.strip()}")
    return found


def clean_user(host: SSHTestHost, timeout: float = 10) -> None:
    """Kill EVERY process of the user and remove its STATE_DIR (for a user that is ours
    alone: the load test's, the soak's); returns once /proc shows none of them, or after
    TIMEOUT (callers check ``user_processes`` themselves)."""
    host.run_as_user(["pkill", "-9", "-u", host.user])
    host.run_as_user(["rm", "-rf", str(host.home / STATE_DIR)])
    with contextlib.suppress(NeverHappened):  # killed processes linger in /proc until reaped
        eventually(
            lambda: user_processes(host.uid), lambda left: not left, timeout=timeout, interval=0.1
        )
