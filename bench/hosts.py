"""The bench's own test hosts and the isolated client side (orchestrator only, as root).

- ``lo``: a real OpenSSH sshd on 127.0.0.1 (tests/harness/sshd_host.py, user ``jrbench``,
  sshd log at DEBUG1 so exec requests can be counted);
- ``veth``: an sshd in a network namespace (tests/harness/netns_host.py, user ``jrbenchn``),
  reached directly over its veth;
- ``slow``: the same namespace sshd reached through the 25 ms-each-way delay proxy
  (bench/delay_proxy.py) listening on 127.0.0.1.

The client side lives in a fresh ``/tmp/jrbench-*`` directory: HOME (known_hosts with
the hosts' keys, an OpenSSH config with one alias per target), JUPYTER_DATA_DIR
(our servers, profiles and kernelspecs; the peers' kernelspecs), runtime dirs.
OpenSSH reads ``~`` from the password database, not $HOME, so every OpenSSH user
gets ``-F <that config>`` (sshpyk through its ``ssh_config`` option, remote_ikernel
and hand-made tunnels through a ``bin/ssh`` wrapper).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.delay_proxy import DelayProxy, one_way_ms
from tests.harness.netns_host import NetnsHost, netns_unavailable
from tests.harness.sshd_host import SSHTestHost

ROOT = Path(__file__).resolve().parent.parent

PEERS_VENV = ROOT / "bench" / ".venv-peers"
LO_USER = "jrbench"
NET_USER = "jrbenchn"
DELAY = 0.025  # each way: 50 ms round trips


@dataclass
class Target:
    """One way to reach a host: what our profile, the OpenSSH aliases and workers need."""

    name: str  # lo | veth | slow
    host: str
    port: int
    user: str
    key: str
    remote_python: str
    remote_home: str
    sshd_port: int  # the sshd's own port (ss counts connections there)
    netns: str | None  # sshd's namespace (None: root namespace)
    log_path: str

    @property
    def alias(self) -> str:
        return f"bench-{self.name}"

    @property
    def kernel_name(self) -> str:
        """Our kernelspec for this target (profile of the same name)."""
        return f"remote-{self.name}"


def _target(
    name: str, host: str, port: int, sshd: SSHTestHost, netns: str | None, python: str
) -> Target:
    """BenchHosts._start: a way to reach ``sshd`` at host:port (its own address, or the
    delay proxy in front of it)."""
    return Target(
        name,
        host,
        port,
        sshd.user,
        str(sshd.user_key),
        remote_python=python,
        remote_home=str(sshd.home),
        sshd_port=sshd.port,
        netns=netns,
        log_path=str(sshd.log_path),
    )


class BenchHosts:
    """Hosts, proxy and client environment for one ``make bench`` run."""

    def __init__(self, *, log: Any = print) -> None:
        reason = netns_unavailable()
        if reason:
            raise RuntimeError(f"the bench needs network namespaces: {reason}")
        self.log = log
        self.workdir = Path(tempfile.mkdtemp(prefix="jrbench-", dir="/tmp"))
        self.home = self.workdir / "home"
        self.ssh_dir = self.home / ".ssh"
        self.ssh_dir.mkdir(parents=True, mode=0o700)
        self.data_dir = self.workdir / "data"
        self.bin_dir = self.workdir / "bin"
        self.bin_dir.mkdir()
        (self.workdir / "runtime").mkdir(mode=0o700)
        self.log_dir = ROOT / "bench" / ".out" / "logs"
        self.ssh_config = self.ssh_dir / "config"
        self.known_hosts = self.ssh_dir / "known_hosts"
        self.lo: SSHTestHost | None = None
        self.net: NetnsHost | None = None
        self.proxy: DelayProxy | None = None
        self.targets: dict[str, Target] = {}
        self.one_way_ms = 0.0
        try:
            self._start()
        except BaseException:
            self.close()
            raise

    # ------------------------------------------------------------ set-up

    def _start(self) -> None:
        self.log("starting the loopback sshd (user jrbench) ...")
        self.lo = SSHTestHost(name="bench", user=LO_USER, log_level="DEBUG1")
        self.log("starting the namespace sshd (user jrbenchn) and the delay proxy ...")
        self.net = NetnsHost(name="benchnet", user=NET_USER, log_level="DEBUG1")
        self.proxy = DelayProxy((self.net.host, self.net.port), DELAY, self.workdir)
        self.one_way_ms = one_way_ms(self.proxy.port)
        lo, net, python = self.lo, self.net, self.lo.remote_python
        self.targets = {
            "lo": _target("lo", lo.host, lo.port, lo, None, python),
            "veth": _target("veth", net.host, net.port, net, net.netns, python),
            "slow": _target("slow", "127.0.0.1", self.proxy.port, net, net.netns, python),
        }
        self.clean_remote()
        self._write_client_files()

    def _write_client_files(self) -> None:
        assert self.lo is not None and self.net is not None
        lines = []
        for t in self.targets.values():
            host = self.lo if t.name == "lo" else self.net
            hid = t.host if t.port == 22 else f"[{t.host}]:{t.port}"
            lines.append(f"{hid} {host.host_key_public}\n")
        self.known_hosts.write_text("".join(lines))
        self.ssh_config.write_text("".join(self._alias_blocks(t) for t in self.targets.values()))
        os.chmod(self.ssh_config, 0o600)
        wrapper = self.bin_dir / "ssh"
        wrapper.write_text(f'#!/bin/sh\nexec /usr/bin/ssh -F "{self.ssh_config}" "$@"\n')
        wrapper.chmod(0o755)

    def _alias_blocks(self, t: Target) -> str:
        """Plain alias, and sshpyk's dedicated aliases (its README's recommended config,
        but StrictHostKeyChecking yes: host keys are checked for every contender). The
        cold-start alias ``-sshpykc`` differs only by its ControlPath, so closing its
        master before each cold start leaves the warm one alone."""
        base = (
            f"  HostName {t.host}\n  Port {t.port}\n  User {t.user}\n"
            f"  IdentityFile {t.key}\n  IdentitiesOnly yes\n  BatchMode yes\n"
            f"  StrictHostKeyChecking yes\n  UserKnownHostsFile {self.known_hosts}\n"
            "  GlobalKnownHostsFile /dev/null\n  LogLevel ERROR\n"
        )
        blocks = [f"Host {t.alias}\n{base}"]
        for suffix in ("sshpyk", "sshpykc"):
            blocks.append(
                f"Host {t.alias}-{suffix}\n{base}  ControlMaster auto\n"
                f"  ControlPath {self.ssh_dir}/{suffix}_%r@%h_%p\n"
                "  ControlPersist 10m\n  ServerAliveInterval 5\n  ServerAliveCountMax 120000\n"
                "  TCPKeepAlive yes\n  ConnectionAttempts 1\n  ConnectTimeout 5\n"
            )
        return "\n".join(blocks) + "\n"

    # ------------------------------------------------------------ client env

    def env(self, *, wrapper: bool = False) -> dict[str, str]:
        """Environment of worker processes: isolated HOME and Jupyter dirs."""
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("JUPYTER", "SSH_AUTH_SOCK", "SSH_AGENT", "IPYTHON", "PYTHON"))
        }
        env.update(
            HOME=str(self.home),
            JUPYTER_DATA_DIR=str(self.data_dir),
            JUPYTER_CONFIG_DIR=str(self.home / ".jupyter"),
            JUPYTER_RUNTIME_DIR=str(self.workdir / "runtime"),
            IPYTHONDIR=str(self.home / ".ipython"),
            JUPYTER_PLATFORM_DIRS="0",
            PYTHONDONTWRITEBYTECODE="1",
            JRBENCH_WORKDIR=str(self.workdir),
            JRBENCH_SSH_CONFIG=str(self.ssh_config),
            JRBENCH_TARGETS=json.dumps({k: asdict(v) for k, v in self.targets.items()}),
        )
        if wrapper:
            env["PATH"] = f"{self.bin_dir}:{env.get('PATH', '/usr/bin:/bin')}"
        return env

    # ------------------------------------------------------------ registration

    def register_ours(self) -> None:
        """Servers and profiles (kernelspecs remote-lo/-veth/-slow) through the manager API."""
        saved = dict(os.environ)
        os.environ.update(self.env())
        try:
            asyncio.run(self._register_ours())
        finally:
            os.environ.clear()
            os.environ.update(saved)

    async def _register_ours(self) -> None:
        from jupyter_remote.manager import RemoteManager
        from jupyter_remote.store import Store
        from jupyter_remote.store.secrets import SecretStore

        manager = RemoteManager(Store(), secrets=SecretStore(use_keyring=False))
        try:
            for t in self.targets.values():
                await manager.add_server(
                    {
                        "name": t.name,
                        "host": t.host,
                        "port": t.port,
                        "user": t.user,
                        "identity": t.key,
                        "auth": "key",
                    }
                )
                await manager.add_profile(
                    {"name": t.name, "server": t.name, "python": t.remote_python, "cwd": "/tmp"}
                )
        finally:
            await manager.close()

    def peers_python(self) -> str:
        return str(PEERS_VENV / "bin" / "python")

    def register_peers(self) -> dict[str, Any]:
        """sshpyk kernelspecs (lo, slow; a warm and a cold alias each) and remote_ikernel
        ones (veth, slow), as their docs say. Returns {key: kernelspec name or
        {"error": text}}."""
        found: dict[str, Any] = {}
        env = self.env(wrapper=True)
        bindir = PEERS_VENV / "bin"
        for name, suffix in itertools.product(("lo", "slow"), ("sshpyk", "sshpykc")):
            t = self.targets[name]
            kernel = f"{suffix}-{name}"
            argv = [
                str(bindir / "sshpyk"), "add",
                "--ssh-host-alias", f"{t.alias}-{suffix}",
                "--ssh-config", str(self.ssh_config),
                "--kernel-name", kernel,
                "--display-name", f"sshpyk {name} ({suffix})",
                "--language", "python",
                "--remote-python", t.remote_python,
                "--remote-kernel-name", "python3",
                "--replace",
            ]  # fmt: skip
            found[kernel] = self._peer_add(argv, env, kernel)
        for name in ("veth", "slow"):
            t = self.targets[name]
            before = self._kernelspecs()
            argv = [
                str(bindir / "remote_ikernel"), "manage", "--add",
                f"--kernel_cmd={t.remote_python} -m ipykernel_launcher -f {{host_connection_file}}",
                f"--name=bench {name}",
                "--interface=ssh",
                f"--host={t.alias}",
                "--workdir=/tmp",
                "--language=python",
            ]  # fmt: skip
            added = self._peer_add(argv, env, None)
            new = sorted(self._kernelspecs() - before)
            if isinstance(added, dict):
                found[f"rik-{name}"] = added
            else:
                found[f"rik-{name}"] = new[0] if new else {"error": "no kernelspec written"}
        return found

    def _peer_add(self, argv: list[str], env: dict[str, str], name: str | None) -> Any:
        proc = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            return {"error": (proc.stderr or proc.stdout).strip()[-1500:]}
        return name if name else True

    def _kernelspecs(self) -> set[str]:
        kdir = self.data_dir / "kernels"
        return {p.name for p in kdir.iterdir()} if kdir.is_dir() else set()

    # ------------------------------------------------------------ link faults

    def cut(self, name: str) -> None:
        """Cut the namespace host's link (veth down); for ``slow`` the proxy too."""
        assert self.net is not None
        if name == "slow" and self.proxy is not None:
            self.proxy.cut()
        self.net.cut()

    def restore(self, name: str) -> None:
        assert self.net is not None
        self.net.restore()
        if name == "slow" and self.proxy is not None:
            self.proxy.restore()

    # ------------------------------------------------------------ cleanup

    def clean_remote(self) -> None:
        """Kill every process of OUR remote users and remove their kernel state and
        fake environments (other engineers' users are never touched)."""
        for host in (self.lo, self.net):
            if host is None:
                continue
            subprocess.run(["pkill", "-9", "-u", host.user], capture_output=True, check=False)
            for rel in (".local/share/jupyter-remote", ".virtualenvs", ".ssh/sshpyk"):
                shutil.rmtree(host.home / rel, ignore_errors=True)
            for leftover in Path("/tmp").glob("rik_kernel-*.json"):
                with contextlib.suppress(OSError):
                    if leftover.stat().st_uid == host.uid:
                        leftover.unlink()

    def close_control_masters(self) -> None:
        """Exit the sshpyk / ssh -L ControlMasters this run opened (local ssh processes)."""
        for sock in self.ssh_dir.glob("*@*"):
            subprocess.run(
                ["/usr/bin/ssh", "-F", str(self.ssh_config), "-S", str(sock), "-O", "exit", "x"],
                capture_output=True,
                check=False,
                timeout=10,
            )

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.close_control_masters()
        with contextlib.suppress(Exception):
            self.clean_remote()
        for thing in (self.proxy, self.net, self.lo):
            if thing is not None:
                with contextlib.suppress(Exception):
                    thing.close()
        shutil.rmtree(self.workdir, ignore_errors=True)
