"""`make demo`: a local demo SSH host, registered as server `demo`, and JupyterLab on it.

Run from the repository root as ``python -m scripts.demo`` (the Makefile does).

The demo host is a real OpenSSH sshd on a loopback port with throwaway keys and
a user whose Python env holds ipykernel (the same harness the tests use). Its
state (saved servers, trusted key, kernelspec) lives in .demo/ so your own
jupyter-remote store is untouched. Ctrl-C stops JupyterLab and the demo host.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import subprocess
import sys
from pathlib import Path

from jupyter_remote.errors import RemoteError
from jupyter_remote.manager import RemoteManager
from jupyter_remote.store import Store
from tests.harness.servers import server_input, trust_host
from tests.harness.sshd_host import IS_ROOT, SSHTestHost

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / ".demo"
DATA = DEMO / "jupyter-data"
#: The demo profile's kernelspec.
KERNEL = "remote-demo"


def suggestions(data: Path = DATA, kernel: str = KERNEL) -> list[str]:
    """What the demo suggests trying, as shell lines run from the repository root. Each
    program is in the venv `make demo` installs (its `demo` extra: jupyter_console,
    papermill); tests/test_first_hour.py checks every one of them runs."""
    env = f"JUPYTER_DATA_DIR={data}"
    return [
        f"{env} .venv/bin/jupyter remote server test demo",
        f"{env} .venv/bin/jupyter remote kernel list demo",
        f"{env} .venv/bin/jupyter console --kernel {kernel}",
        f"{env} .venv/bin/papermill IN.ipynb OUT.ipynb -k {kernel}",
    ]


async def register(host: SSHTestHost) -> None:
    manager = RemoteManager(Store())
    try:
        for name in ("demo",):
            for remove in (manager.remove_profile, manager.remove_server):
                with contextlib.suppress(RemoteError):
                    await remove(name)
        for key in manager.store.list_hostkeys():
            manager.store.remove_hostkeys(key.host_id)
        # We generated this host key a moment ago, so we trust exactly it: the
        # same explicit act as `jupyter remote server test demo --trust`.
        trust_host(manager.store, host)
        await manager.add_server(server_input(host, name="demo"))
        report = await manager.test_server("demo")
        print(f"demo host: {report['endpoint']}  {report['os']}  round trip {report['rtt_ms']} ms")
        profile = await manager.add_profile(
            {"name": "demo", "server": "demo", "python": host.remote_python, "cwd": "~"}
        )
        print(f"kernel:    {profile['display_name']}  (kernelspec {profile['kernel_name']})")
    finally:
        await manager.close()


def main() -> int:
    os.environ["JUPYTER_DATA_DIR"] = str(DATA)  # the demo's own servers and kernelspecs
    DEMO.mkdir(exist_ok=True)
    print("Starting the demo SSH host (first run builds its Python env: ~30 s) ...", flush=True)
    host = SSHTestHost(name="demo", user="jrdemo" if IS_ROOT else None)
    try:
        asyncio.run(register(host))
        print(f"host key:  {host.host_key_type} {host.host_key_fingerprint}")
        token = secrets.token_hex(16)
        port = os.environ.get("DEMO_PORT", "8888")
        argv = [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={port}",
            f"--ServerApp.token={token}",
            f"--notebook-dir={DEMO}",
        ]
        if IS_ROOT:
            argv.append("--allow-root")
        print(f"\nJupyterLab: http://127.0.0.1:{port}/lab?token={token}")
        print("Open the Remote sidebar, or File > New > Notebook with the demo kernel.")
        print("Also try, from another terminal:")
        for line in suggestions():
            print(f"  {line}")
        print("Ctrl-C stops everything.\n")
        with subprocess.Popen(argv) as lab:
            try:
                return lab.wait()
            except KeyboardInterrupt:
                lab.terminate()
                return lab.wait()
    finally:
        host.close()


if __name__ == "__main__":
    sys.exit(main())
