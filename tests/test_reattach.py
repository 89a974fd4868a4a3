"""Re-attach after a real Jupyter server restart (two `jupyter server` processes)."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from tornado.websocket import websocket_connect

from jupyter_remote.ssh.forwards import free_local_ports, release_local_ports
from tests.harness.clients import WSKernel
from tests.harness.remote_state import clean_remote, remote_kernel_processes
from tests.harness.servers import setup_profile
from tests.harness.sshd_host import SSHTestHost
from tests.harness.waiting import NeverHappened, eventually_async


class ServerProcess:
    """`python -m jupyter_server` with the extension, a token, on a free port."""

    def __init__(self, env: dict[str, str], root: Path) -> None:
        self.token = secrets.token_hex(16)
        self.port = free_local_ports(1)[0]
        release_local_ports([self.port])  # held for us: let go, the server subprocess binds it
        self.log = root / f"server-{self.port}.log"
        argv = [
            sys.executable,
            "-m",
            "jupyter_server",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={self.port}",
            f"--ServerApp.token={self.token}",
            f"--ServerApp.root_dir={root}",
            "--ServerApp.jpserver_extensions={'jupyter_remote': True}",
        ]
        if os.geteuid() == 0:
            argv.append("--allow-root")
        with open(self.log, "w") as log:  # the child keeps its own copy of the descriptor
            self.proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
        self.base = f"http://127.0.0.1:{self.port}"

    async def request(self, method: str, path: str, body: Any = None) -> Any:
        client = AsyncHTTPClient()
        req = HTTPRequest(
            f"{self.base}/{path}",
            method=method,
            headers={"Authorization": f"token {self.token}"},
            body=json.dumps(body) if body is not None else (None if method == "GET" else ""),
            allow_nonstandard_methods=True,
            request_timeout=120,
        )
        resp = await client.fetch(req, raise_error=False)
        assert resp.code < 400, (resp.code, resp.body)
        return json.loads(resp.body) if resp.body else None

    async def wait_ready(self) -> None:
        async def up() -> bool:
            assert self.proc.poll() is None, self.log.read_text()[-3000:]
            try:
                await self.request("GET", "api/status")
            except Exception:
                return False
            return True

        try:
            await eventually_async(up, timeout=60, interval=0.3)
        except NeverHappened:
            raise AssertionError("server did not start: " + self.log.read_text()[-3000:]) from None

    async def kernel_ws(self, kid: str) -> WSKernel:
        url = f"ws://127.0.0.1:{self.port}/api/kernels/{kid}/channels?token={self.token}"
        return WSKernel(await websocket_connect(url))

    def stop(self) -> None:
        """Graceful stop (SIGTERM: jupyter_server cleans up extensions, then kernels)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def server_env(isolated_home: Path, tmp_path: Path) -> Iterator[dict[str, str]]:
    env = dict(os.environ)
    env["JUPYTER_CONFIG_DIR"] = str(tmp_path / "config")
    env["JUPYTER_RUNTIME_DIR"] = str(tmp_path / "runtime")
    yield env


async def test_kernel_survives_server_restart_and_is_reattached(
    server_env: dict[str, str], ssh_host: SSHTestHost, tmp_path: Path
) -> None:
    clean_remote(ssh_host)
    await asyncio.to_thread(setup_profile, ssh_host, cwd="/tmp", idle_timeout=300)
    first = ServerProcess(server_env, tmp_path)
    second: ServerProcess | None = None
    try:
        await first.wait_ready()
        kid = (await first.request("POST", "api/kernels", {"name": "remote-p"}))["id"]
        ws = await first.kernel_ws(kid)
        reply, out = await ws.execute("import os; x = 42; print(os.getpid())")
        assert reply["status"] == "ok"
        pid = out.strip()
        ws.ws.close()
        first.stop()
        assert first.proc.returncode is not None
        # the kernel outlived the server, waiting for its idle timeout
        assert any(pid in line for line in remote_kernel_processes(ssh_host))

        second = ServerProcess(server_env, tmp_path)
        await second.wait_ready()
        listed = await second.request("GET", "remote/servers/box/kernels")
        assert [(k["kernel_id"], k["state"], k["profile"]) for k in listed] == [
            (kid, "running", "p")
        ]
        model = await second.request("POST", f"remote/servers/box/kernels/{kid}/attach", {})
        assert model["id"] == kid and model["name"] == "remote-p"
        ws = await second.kernel_ws(kid)
        reply, out = await asyncio.wait_for(ws.execute("print(x, os.getpid())"), 60)
        assert out.split() == ["42", pid]
        await second.request("DELETE", f"api/kernels/{kid}")
        await eventually_async(
            lambda: remote_kernel_processes(ssh_host), lambda left: not left, interval=0.2
        )
    finally:
        first.stop()
        if second is not None:
            second.stop()
        clean_remote(ssh_host)


async def test_kernel_without_idle_timeout_stops_with_the_server(
    server_env: dict[str, str], ssh_host: SSHTestHost, tmp_path: Path
) -> None:
    """No idle timeout: nothing may linger on a shared host, so server exit stops it."""
    clean_remote(ssh_host)
    await asyncio.to_thread(setup_profile, ssh_host, cwd="/tmp")
    server = ServerProcess(server_env, tmp_path)
    try:
        await server.wait_ready()
        await server.request("POST", "api/kernels", {"name": "remote-p"})
        assert remote_kernel_processes(ssh_host)
        server.stop()
        await eventually_async(
            lambda: remote_kernel_processes(ssh_host), lambda left: not left, interval=0.2
        )
    finally:
        server.stop()
        clean_remote(ssh_host)
