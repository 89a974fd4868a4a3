"""Metric 1: kernel start -> first result of ``1+1``, cold and warm.

Variants (``task["variant"]``):

- ``local``: ipykernel started by jupyter_client on this machine (the floor);
- ``ours``: kernelspec ``remote-<target>`` through KernelManager, standalone. Cold: no
  SSH connection open in the process (the pool closes it with the last kernel); warm:
  a keeper kernel on the same server holds the connection open;
- ``sshpyk``: its kernelspec (provisioner ``sshpyk-provisioner``). Cold: its
  ControlMaster is closed before each start; warm: left open (ControlPersist 10m);
- ``rik``: remote_ikernel's kernelspec (new SSH connections every start: cold only);
- ``tunnel``: hand-made ``ssh -L`` (cold: new ssh; warm: through a ControlMaster).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from jupyter_client import KernelManager

from bench.kernels import TunnelKernel, first_result, start_first_result, stop_manager, targets
from tests.harness.waiting import eventually

#: what each variant imports on its first start: done in set-up, so no warm-up run is needed
PRELOAD = {
    "ours": ("jupyter_remote.kernels.provisioner",),
    "sshpyk": ("sshpyk.provisioning",),
}


class StartBench:
    """One variant on one target; ``run()`` -> seconds to the first result."""

    def __init__(self, task: dict[str, Any]) -> None:
        self.variant = task["variant"]
        self.mode = task.get("mode", "cold")
        self.target = targets()[task["target"]] if task.get("target") else None
        self.kernel_name = task.get("kernel_name", "")
        self.ssh_config = os.environ.get("JRBENCH_SSH_CONFIG", "")
        self.keeper: Any = None
        self.control_path = ""
        self.info: dict[str, Any] = {}
        self.stages = bool(task.get("stages"))
        for module in PRELOAD.get(self.variant, ()):
            __import__(module)
        if self.variant == "ours" and self.mode == "warm":
            _, km, kc = start_first_result(self.kernel_name)
            self.keeper = (km, kc)
        if self.variant == "tunnel" and self.mode == "warm":
            assert self.target is not None
            self.control_path = f"{os.environ['JRBENCH_WORKDIR']}/cm-{self.target['name']}"
            TunnelKernel.open_master(self.ssh_config, self._alias(), self.control_path)

    def _alias(self) -> str:
        assert self.target is not None
        return f"bench-{self.target['name']}"

    def _ours_disconnected(self) -> None:
        """Cold means cold: this process's pool has no SSH connection open."""
        from jupyter_remote import runtime

        pool = runtime.current_context().pool
        eventually(pool.open_count, lambda n: n == 0, timeout=20, interval=0.02,
                   what="no SSH connection open before a cold start")  # fmt: skip

    def _sshpyk_master_exit(self) -> None:
        """Cold sshpyk: close its ControlMaster (the cold alias has a ControlPath of its own)."""
        subprocess.run(
            ["/usr/bin/ssh", "-F", self.ssh_config, "-O", "exit", f"{self._alias()}-sshpykc"],
            capture_output=True, check=False, timeout=30,
        )  # fmt: skip

    def _kill_rik_leftovers(self) -> None:
        """remote_ikernel leaves its tunnel (``ssh -L ... sleep 600``) behind: end the ones
        this run started (their command line names this run's private ssh config)."""
        out = subprocess.run(["pgrep", "-af", self.ssh_config], capture_output=True, text=True)
        for line in out.stdout.splitlines():
            pid, _, cmd = line.partition(" ")
            if "sleep 600" in cmd or "StrictHostKeyChecking=no" in cmd:
                with contextlib.suppress(ProcessLookupError, ValueError):
                    os.kill(int(pid), signal.SIGTERM)

    def run(self) -> Any:
        if self.stages:
            return self._run_stages()
        if self.variant == "tunnel":
            return self._run_tunnel()
        if self.variant == "ours" and self.mode == "cold":
            self._ours_disconnected()
        if self.variant == "sshpyk" and self.mode == "cold":
            self._sshpyk_master_exit()
        seconds, km, kc = start_first_result(self.kernel_name)
        stop_manager(km, kc)
        if self.variant == "rik":
            self._kill_rik_leftovers()
        return seconds

    def _run_tunnel(self) -> float:
        assert self.target is not None
        kernel = TunnelKernel(
            self.ssh_config, self._alias(), self.target["remote_python"], self.control_path or None
        )
        try:
            return kernel.start_first_result()
        finally:
            kernel.stop()

    def _run_stages(self) -> dict[str, Any]:
        """One cold start of ours, with when each stage happened (for the profile)."""
        from jupyter_remote.sessions import registry

        assert self.target is not None
        self._ours_disconnected()
        events: list[tuple[float, str]] = []

        def listen(event: dict[str, Any]) -> None:
            if event.get("type") == "progress":
                events.append((event["time"], f"progress: {event['stage']}"))
            elif event.get("type") == "session":
                events.append((event["time"], f"session: {event['session']['state']}"))

        unsubscribe = registry.subscribe(listen)
        t0 = time.time()
        km = KernelManager(kernel_name=self.kernel_name)
        try:
            km.start_kernel()
            marks = [(time.time(), "start_kernel() returned")]
            kc = km.client()
            kc.start_channels()
            kc.wait_for_ready(timeout=60)
            marks.append((time.time(), "wait_for_ready() returned"))
            first_result(kc)
            marks.append((time.time(), "result of 1+1"))
            marks += _remote_marks(self.target["remote_home"], str(km.kernel_id))
        finally:
            unsubscribe()
            stop_manager(km, locals().get("kc"))
        ordered = sorted(events + marks)
        return {
            "seconds": marks[2][0] - t0,
            "phases": {f"{i:02d} {label}": t - t0 for i, (t, label) in enumerate(ordered)},
        }

    def close(self) -> None:
        if self.variant == "sshpyk" and self.mode == "cold":
            self._sshpyk_master_exit()
        if self.keeper is not None:
            stop_manager(*self.keeper)
        if self.control_path:
            TunnelKernel.close_master(self.ssh_config, self._alias(), self.control_path)


def _start_ticks(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat[stat.rfind(")") + 2 :].split()[19])


_boot: list[float] = []


def _boot_time() -> float:
    """Wall clock at tick 0 of /proc starttimes, calibrated on a child we spawn now
    (/proc/stat's btime is whole seconds: too coarse for a start-up breakdown)."""
    if not _boot:
        before = time.time()
        child = subprocess.Popen(["sleep", "1"])
        ticks = _start_ticks(child.pid)
        child.kill()
        child.wait()
        _boot.append(before - ticks / os.sysconf("SC_CLK_TCK"))
    return _boot[0]


def _remote_marks(remote_home: str, kernel_id: str) -> list[tuple[float, str]]:
    """When the remote side's stages happened (same machine: /proc and file times): the
    supervisor's and kernel's processes created, the kernel's shell socket bound, the
    relay listening."""
    root = Path(remote_home) / ".local" / "share" / "jupyter-remote"
    kdir = next((p for p in root.rglob(kernel_id) if p.is_dir()), None)
    if kdir is None:
        return []
    marks = []
    for name in ("supervisor", "kernel"):
        created = _process_created(kdir / f"{name}.pid")
        if created:
            marks.append((created, f"remote {name} process created (/proc)"))
    with contextlib.suppress(OSError, ValueError, KeyError):
        sockdir = json.loads((kdir / "info.json").read_text())["sockdir"]
        marks.append((os.stat(f"{sockdir}/k-1").st_ctime, "remote kernel's shell socket bound"))
    with contextlib.suppress(OSError):
        marks.append(((kdir / "relay.json").stat().st_mtime, "remote relay listening"))
    return marks


def _process_created(pid_file: Path) -> float | None:
    """Wall-clock creation time of the process of a pid file ("PID [identity]")."""
    try:
        ticks = _start_ticks(int(pid_file.read_text().split()[0]))
    except (OSError, ValueError, IndexError):
        return None
    return _boot_time() + ticks / os.sysconf("SC_CLK_TCK")


def make(task: dict[str, Any]) -> StartBench:
    return StartBench(task)
