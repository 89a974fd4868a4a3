"""The three clients metrics 2 and 3 compare, all up at once in one worker.

- ``ours``: kernelspec ``remote-<target>`` through KernelManager (standalone);
- ``direct``: a client straight on that same remote kernel's own sockets, read from
  its connection.json (same machine: its ipc sockets are reachable without SSH);
- ``tunnel``: an ipykernel started over OpenSSH with its ports forwarded by ``ssh -L``.
"""

from __future__ import annotations

import os
import time
from typing import Any

from jupyter_client.blocking import BlockingKernelClient

from bench.kernels import (
    TunnelKernel,
    direct_client,
    drain,
    process_cpu,
    remote_connection_file,
    start_first_result,
    stop_manager,
    targets,
    wait_ready_retrying,
)


class Contenders:
    """Kernels and clients for one target; ``client(name)`` drained and ready."""

    def __init__(self, target_name: str, setup_code: str = "") -> None:
        self.target = targets()[target_name]
        _, self.km, self.kc_ours = start_first_result(f"remote-{target_name}")
        info = remote_connection_file(self.target["remote_home"], str(self.km.kernel_id))
        info["key"] = self.km.session.key.decode()  # the remote file may not keep it
        self.kc_direct = direct_client(info)
        self.tunnel = TunnelKernel(
            os.environ["JRBENCH_SSH_CONFIG"], f"bench-{target_name}", self.target["remote_python"]
        )
        self.kc_tunnel = self.tunnel.start()
        wait_ready_retrying(self.kc_tunnel)
        self.info: dict[str, Any] = {
            "transport": info.get("transport"),
            "kernel_id": str(self.km.kernel_id),
        }
        if setup_code:
            for kc in (self.kc_ours, self.kc_tunnel):
                kc.execute_interactive(setup_code, timeout=120)

    def local_cpu(self, name: str) -> tuple[float, float]:
        """CPU seconds used so far on this machine's side of contender ``name``: this
        whole process (the client, and for ``ours`` its SSH thread, relay link and local
        ZMQ sockets), plus for ``tunnel`` its ``ssh -L`` client process (/proc); and the
        part of it outside the client's own thread (this one, which runs the cells)."""
        t = os.times()
        used = t.user + t.system
        if name == "tunnel" and self.tunnel.proc is not None:
            used += process_cpu(self.tunnel.proc.pid)
        return used, used - time.thread_time()

    def client(self, name: str) -> BlockingKernelClient:
        kc: BlockingKernelClient = getattr(self, f"kc_{name}")
        drain(kc)
        return kc

    def close(self) -> None:
        self.kc_direct.stop_channels()
        self.tunnel.stop()
        stop_manager(self.km, self.kc_ours)
