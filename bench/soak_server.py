"""The soak's `jupyter server` with the extension (a subprocess of ours), the profile it
starts the kernel from, and its memory from /proc."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from bench.common import wait_or_kill
from tests.harness.netns_host import NetnsHost
from tests.harness.sshd_host import free_port


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def save_profile(host: NetnsHost) -> None:
    """Server `box` and profile `p` (kernelspec remote-p), as `jupyter remote` would."""
    from jupyter_remote.manager import RemoteManager
    from jupyter_remote.store import Store
    from tests.harness.servers import server_input, trust_host

    manager = RemoteManager(Store())
    try:
        trust_host(manager.store, host)
        await manager.add_server(server_input(host))
        await manager.add_profile({"name": "p", "server": "box", "python": host.remote_python})
    finally:
        await manager.close()


class Server:
    """`jupyter server` with the extension, in a subprocess of ours."""

    def __init__(self, workdir: Path, env: dict[str, str], args: argparse.Namespace) -> None:
        self.port = free_port()
        self.token = uuid.uuid4().hex
        self.log_path = workdir / "server.log"
        (workdir / "notebooks").mkdir(exist_ok=True)
        argv = [
            sys.executable,
            "-m",
            "jupyter_server",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            f"--IdentityProvider.token={self.token}",
            "--ServerApp.open_browser=False",
            "--ServerApp.allow_root=True",
            f"--ServerApp.root_dir={workdir / 'notebooks'}",
            "--MappingKernelManager.cull_idle_timeout=0",
        ]
        config: dict[str, Any] = {"ServerApp": {"jpserver_extensions": {"jupyter_remote": True}}}
        remote: dict[str, Any] = {}
        if args.keepalive_interval is not None:
            remote["keepalive_interval"] = args.keepalive_interval
        if args.keepalive_count_max is not None:
            remote["keepalive_count_max"] = args.keepalive_count_max
        if remote:
            config["RemoteExtensionApp"] = remote
        config_dir = Path(env["JUPYTER_CONFIG_DIR"])
        config_dir.mkdir(parents=True, exist_ok=True)
        (config_dir / "jupyter_server_config.json").write_text(json.dumps(config))
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen(
                argv,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=str(workdir),
                start_new_session=True,
            )

    @property
    def base(self) -> str:
        return f"127.0.0.1:{self.port}"

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"token {self.token}"}

    async def fetch(self, path: str, method: str = "GET", body: Any = None) -> Any:
        from tornado.httpclient import AsyncHTTPClient

        resp = await AsyncHTTPClient().fetch(
            f"http://{self.base}/{path}",
            method=method,
            headers=self.headers(),
            body=None if body is None else json.dumps(body),
            request_timeout=300,
            allow_nonstandard_methods=True,
        )
        return json.loads(resp.body) if resp.body else None

    async def websocket(self, path: str) -> Any:
        from tornado.httpclient import HTTPRequest
        from tornado.websocket import websocket_connect

        req = HTTPRequest(f"ws://{self.base}/{path}", headers=self.headers())
        return await websocket_connect(req, max_message_size=64 * 1024 * 1024)

    async def wait_up(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter server exited: see {self.log_path}")
            try:
                await self.fetch("api/status")
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.3)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            wait_or_kill(self.proc, 60, 10)
