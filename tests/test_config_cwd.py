"""Nothing runs from the working directory (issue 11 item 5, invariant 13).

The working directory may be a checkout of someone else's repository. Config
files in it (``jupyter_remote_config.py``, ``jupyter_server_config.py``,
``jupyter_config.py``, each of which would write a marker file if executed, and
``.json`` ones defining servers) are neither executed nor read by

- the CLI: ``jupyter remote server list`` run in that directory, and
- a standalone kernel: jupyter_client's KernelManager starting kernelspec
  ``remote-p`` in a subprocess in that directory (the provisioner builds its
  manager from ``manager.manager_from_config``), which runs code on the remote.

Admin config on Jupyter's config path is still honoured: server ``box`` exists only
in ``$JUPYTER_CONFIG_DIR/jupyter_remote_config.json``, the CLI lists it as an admin
server and the standalone kernel reaches the remote through it. A control at the
end shows the hostile files do write their marker when a loader reads them.

The remote user is ``jrhostile`` (shared with tests/test_hostile_remote.py).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from jupyter_remote.manager import manager_from_config
from tests.harness.servers import trust_host
from tests.harness.sshd_host import SSHTestHost

USER = "jrhostile"
VENV_BIN = Path(sys.executable).parent
HOSTILE_PY = ("jupyter_remote_config.py", "jupyter_server_config.py", "jupyter_config.py")

START_KERNEL = """
import sys
from jupyter_client import KernelManager

km = KernelManager(kernel_name="remote-p")
km.start_kernel()
kc = km.client()
kc.start_channels()
out = []
try:
    kc.wait_for_ready(timeout=90)

    def hook(msg):
        if msg["msg_type"] == "stream":
            out.append(msg["content"]["text"])

    kc.execute_interactive("import os; print(6 * 7, os.getcwd())", output_hook=hook, timeout=60)
finally:
    kc.stop_channels()
    km.shutdown_kernel(now=True)
print("RESULT", "".join(out).strip())
"""


@pytest.fixture(scope="module")
def cwd_host() -> Iterator[SSHTestHost]:
    with SSHTestHost(name="cwdconfig", user=USER) as host:
        yield host


@dataclass
class Checkout:
    """A working directory full of hostile config, and where its markers would go."""

    cwd: Path
    markers: Path
    env: dict[str, str]

    def markers_written(self) -> list[str]:
        return sorted(p.name for p in self.markers.iterdir())


@pytest.fixture
def checkout(tmp_path: Path, cwd_host: SSHTestHost, monkeypatch: pytest.MonkeyPatch) -> Checkout:
    home, data, config = tmp_path / "home", tmp_path / "data", tmp_path / "config"
    (home / ".ssh").mkdir(parents=True, mode=0o700)
    config.mkdir()
    markers = tmp_path / "markers"
    markers.mkdir()
    cwd = tmp_path / "checkout"
    cwd.mkdir()
    for name in HOSTILE_PY:
        (cwd / name).write_text(f"open({str(markers / name)!r}, 'w').write('executed')\n")
    for name, server in (
        ("jupyter_remote_config", "fromcwd"),
        ("jupyter_server_config", "fromcwd2"),
    ):
        spec = {"RemoteExtensionApp": {"servers": {server: {"host": "cwd.invalid"}}}}
        (cwd / f"{name}.json").write_text(json.dumps(spec))
    admin = {
        "box": {
            "host": cwd_host.host,
            "port": cwd_host.port,
            "user": cwd_host.user,
            "identity": str(cwd_host.user_key),
            "auth": "key",
        }
    }
    (config / "jupyter_remote_config.json").write_text(
        json.dumps({"RemoteExtensionApp": {"servers": admin}})
    )
    env = {"HOME": str(home), "JUPYTER_DATA_DIR": str(data), "JUPYTER_CONFIG_DIR": str(config)}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("JUPYTER_CONFIG_PATH", raising=False)
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    full_env = {**os.environ, "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}"}
    return Checkout(cwd, markers, full_env)


def test_cli_reads_no_config_from_the_working_directory(checkout: Checkout) -> None:
    result = subprocess.run(
        [str(VENV_BIN / "jupyter"), "remote", "server", "list", "--json"],
        cwd=checkout.cwd,
        env=checkout.env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert checkout.markers_written() == [], "a config file in the working directory ran"
    servers = {s["name"]: s for s in json.loads(result.stdout)}
    assert set(servers) == {"box"}, servers  # nothing from the checkout's .json files
    assert servers["box"]["readonly"], "box comes from the admin config on the config path"
    control_loader_runs_the_payload(checkout)


def test_standalone_kernel_reads_no_config_from_the_working_directory(
    checkout: Checkout, cwd_host: SSHTestHost
) -> None:
    async def make_profile() -> None:
        manager = manager_from_config()  # admin server box, from JUPYTER_CONFIG_DIR
        try:
            trust_host(manager.store, cwd_host)
            await manager.add_profile(
                {"name": "p", "server": "box", "python": cwd_host.remote_python, "cwd": "/tmp"}
            )
        finally:
            await manager.close()

    asyncio.run(make_profile())
    script = checkout.markers.parent / "start_kernel.py"  # not in the checkout: sys.path[0]
    script.write_text(START_KERNEL)
    result = subprocess.run(
        [sys.executable, str(script)],
        cwd=checkout.cwd,
        env=checkout.env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "RESULT 42 /tmp" in result.stdout, result.stdout + result.stderr
    assert checkout.markers_written() == [], "a config file in the working directory ran"
    control_loader_runs_the_payload(checkout)


def control_loader_runs_the_payload(checkout: Checkout) -> None:
    """The hostile files are live: traitlets' loader, pointed at them, runs each one."""
    code = (
        "import sys\n"
        "from traitlets.config.loader import PyFileConfigLoader\n"
        "for name in sys.argv[2:]:\n"
        "    PyFileConfigLoader(name, path=sys.argv[1]).load_config()\n"
    )
    subprocess.run(
        [sys.executable, "-c", code, str(checkout.cwd), *HOSTILE_PY],
        cwd=checkout.markers.parent,
        env=checkout.env,
        check=True,
        timeout=60,
    )
    assert checkout.markers_written() == sorted(HOSTILE_PY)
