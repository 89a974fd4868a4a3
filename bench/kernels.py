"""Kernel helpers for workers in either venv (stdlib + jupyter_client only).

- :func:`start_first_result`: kernelspec -> KernelManager -> first ``1+1`` result;
- :func:`roundtrip`: one trivial cell, reply and iopub idle both in;
- :class:`TunnelKernel`: the hand-made contender, an ipykernel started over OpenSSH
  with its five ports forwarded by ``ssh -L`` (cold: one new ssh; warm: through an
  already-open ControlMaster);
- :func:`direct_client`: a client straight on a remote kernel's own sockets.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import secrets
import socket
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any, cast

from jupyter_client import KernelManager
from jupyter_client.blocking import BlockingKernelClient
from jupyter_client.connect import KernelConnectionInfo

from bench.common import wait_or_kill

READY_TIMEOUT = 120.0
CHANNELS = ("shell", "iopub", "stdin", "control", "hb")


def free_ports(count: int) -> list[int]:
    socks = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def wait_result(kc: BlockingKernelClient, msg_id: str, timeout: float = 60) -> dict[str, Any]:
    """The execute_result content of MSG_ID (iopub), raising on an error or timeout."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("no execute_result")
        msg = kc.get_iopub_msg(timeout=left)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "execute_result":
            return dict(msg["content"])
        if msg["msg_type"] == "error":
            raise RuntimeError(f"kernel error: {msg['content'].get('ename')}")


def first_result(kc: BlockingKernelClient) -> None:
    content = wait_result(kc, kc.execute("1+1"))
    if content["data"].get("text/plain") != "2":
        raise RuntimeError(f"1+1 gave {content['data']}")


def start_first_result(kernel_name: str) -> tuple[float, KernelManager, BlockingKernelClient]:
    """Seconds from KernelManager(kernel_name).start_kernel() to the result of ``1+1``."""
    t0 = time.perf_counter()
    km = KernelManager(kernel_name=kernel_name)
    km.start_kernel()
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=READY_TIMEOUT)
    first_result(kc)
    return time.perf_counter() - t0, km, kc


def stop_manager(
    km: KernelManager, kc: BlockingKernelClient | None, *, graceful: bool = False
) -> None:
    """Shut the kernel down (``graceful``: shutdown_request first, as a notebook would)."""
    if kc is not None:
        with contextlib.suppress(Exception):
            kc.stop_channels()
    with contextlib.suppress(Exception):
        if km.has_kernel:
            km.shutdown_kernel(now=not graceful)


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (/proc/PID/stat, clock ticks);
    0.0 once it is gone. Metrics 2 and 3 add the ``ssh -L`` client's to the worker's."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) ": state is field 3
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def drain(kc: BlockingKernelClient) -> None:
    """Drop whatever is queued on shell and iopub (outside any timing)."""
    for get in (kc.get_iopub_msg, kc.get_shell_msg):
        with contextlib.suppress(queue.Empty):
            while True:
                get(timeout=0.05)


def roundtrip(kc: BlockingKernelClient, code: str = "pass", timeout: float = 30) -> float:
    """Seconds for one cell: execute_request sent -> execute_reply AND iopub idle received
    (both are queued by ZMQ as they arrive, so waiting for one then the other is exact)."""
    t0 = time.perf_counter()
    msg_id = kc.execute(code, store_history=False)
    while kc.get_shell_msg(timeout=timeout)["parent_header"].get("msg_id") != msg_id:
        pass
    while True:
        msg = kc.get_iopub_msg(timeout=timeout)
        if (
            msg["parent_header"].get("msg_id") == msg_id
            and msg["msg_type"] == "status"
            and msg["content"]["execution_state"] == "idle"
        ):
            return time.perf_counter() - t0


def wait_ready_retrying(kc: BlockingKernelClient) -> None:
    """wait_for_ready for a client without a KernelManager: jupyter_client then also
    checks the heartbeat, which misses beats while the kernel is still starting behind
    a tunnel and raises "Kernel died"; a user would just try again, so do we."""
    deadline = time.monotonic() + READY_TIMEOUT
    while True:
        try:
            kc.wait_for_ready(timeout=max(1.0, deadline - time.monotonic()))
            return
        except RuntimeError:
            if time.monotonic() > deadline:
                raise


def direct_client(info: dict[str, Any]) -> BlockingKernelClient:
    """A client on a kernel's own sockets (its connection.json), no tunnel."""
    kc = BlockingKernelClient()
    kc.load_connection_info(cast(KernelConnectionInfo, info))
    kc.start_channels()
    wait_ready_retrying(kc)
    return kc


def remote_connection_file(remote_home: str, kernel_id: str) -> dict[str, Any]:
    """Our remote kernel's connection.json (we are root on the same machine)."""
    root = Path(remote_home) / ".local" / "share" / "jupyter-remote"
    for path in root.rglob("connection.json"):
        if path.parent.name == kernel_id:
            return dict(json.loads(path.read_text()))
    raise FileNotFoundError(f"no connection.json for {kernel_id} under {root}")


class TunnelKernel:
    """ipykernel started over OpenSSH, channels forwarded with ``ssh -L`` (hand-made).

    The connection file (with the key) goes over stdin to ``cat``, never on a command
    line. ``control_path``: use that already-open ControlMaster (warm); None: a new
    connection for this kernel (cold).
    """

    def __init__(
        self, ssh_config: str, alias: str, remote_python: str, control_path: str | None = None
    ) -> None:
        self.ssh = ["/usr/bin/ssh", "-F", ssh_config]
        if control_path:
            self.ssh += ["-o", f"ControlPath={control_path}"]
        self.alias = alias
        self.remote_python = remote_python
        self.warm = control_path is not None
        self.proc: subprocess.Popen[bytes] | None = None
        self.kc: BlockingKernelClient | None = None
        self.forwards: list[str] = []

    @staticmethod
    def open_master(ssh_config: str, alias: str, control_path: str) -> None:
        """Start a background ControlMaster for ``alias`` (returns once authenticated)."""
        subprocess.run(
            ["/usr/bin/ssh", "-F", ssh_config, "-o", "ControlMaster=yes",
             "-o", f"ControlPath={control_path}", "-o", "ControlPersist=yes", "-N", "-f", alias],
            check=True, timeout=60, stdin=subprocess.DEVNULL,
        )  # fmt: skip

    @staticmethod
    def close_master(ssh_config: str, alias: str, control_path: str) -> None:
        subprocess.run(
            ["/usr/bin/ssh", "-F", ssh_config, "-o", f"ControlPath={control_path}",
             "-O", "exit", alias],
            check=False, timeout=30, capture_output=True,
        )  # fmt: skip

    def start(self) -> BlockingKernelClient:
        local = free_ports(10)
        local, remote = local[:5], local[5:]  # distinct: on loopback both ends share ports
        key = secrets.token_hex(32)
        info = {
            "transport": "tcp",
            "ip": "127.0.0.1",
            "key": key,
            "signature_scheme": "hmac-sha256",
            "kernel_name": "",
            **{f"{c}_port": p for c, p in zip(CHANNELS, remote, strict=True)},
        }
        self.forwards = []
        for lp, rp in zip(local, remote, strict=True):
            self.forwards += ["-L", f"127.0.0.1:{lp}:127.0.0.1:{rp}"]
        name = f".jrbench-k-{uuid.uuid4().hex}.json"
        command = (
            f'umask 077; f="$HOME/{name}"; cat > "$f"; '
            f'exec {self.remote_python} -m ipykernel_launcher -f "$f"'
        )
        if self.warm:
            subprocess.run(
                [*self.ssh, "-O", "forward", *self.forwards, self.alias],
                check=True, timeout=30, capture_output=True,
            )  # fmt: skip
            argv = [*self.ssh, self.alias, command]
        else:
            exit_on_failure = ["-o", "ExitOnForwardFailure=yes"]
            argv = [*self.ssh, *exit_on_failure, *self.forwards, self.alias, command]
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(info).encode())
        self.proc.stdin.close()
        kc = BlockingKernelClient()
        ports = {f"{c}_port": p for c, p in zip(CHANNELS, local, strict=True)}
        kc.load_connection_info(cast(KernelConnectionInfo, {**info, **ports}))
        kc.start_channels()
        self.kc = kc
        return kc

    def start_first_result(self) -> float:
        t0 = time.perf_counter()
        kc = self.start()
        wait_ready_retrying(kc)
        first_result(kc)
        return time.perf_counter() - t0

    def stop(self) -> None:
        if self.kc is not None:
            with contextlib.suppress(Exception):
                self.kc.shutdown()
            with contextlib.suppress(Exception):
                self.kc.stop_channels()
            self.kc = None
        if self.proc is not None:
            wait_or_kill(self.proc, 15, 5)
            self.proc = None
        if self.warm and self.forwards:
            subprocess.run(
                [*self.ssh, "-O", "cancel", *self.forwards, self.alias],
                check=False, timeout=30, capture_output=True,
            )  # fmt: skip
        self.forwards = []


def targets() -> dict[str, dict[str, Any]]:
    """The bench hosts, as the orchestrator described them (JRBENCH_TARGETS)."""
    return dict(json.loads(os.environ["JRBENCH_TARGETS"]))
