"""What RESULTS.md says about the machine, the software and each contender's set-up."""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.drivers_core import Sizes
from bench.hosts import DELAY, PEERS_VENV, BenchHosts

ROOT = Path(__file__).resolve().parent.parent


def minutes(seconds: float) -> str:
    return f"{int(seconds // 60)} min {int(seconds % 60):02d} s"


def _out(argv: list[str]) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    return (done.stdout + done.stderr).strip()


def _cpu_model() -> str:
    for line in _out(["lscpu"]).splitlines():
        if line.startswith("Model name:"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "?"


def _os_name() -> str:
    try:
        text = Path("/etc/os-release").read_text()
    except OSError:
        return "?"
    m = re.search(r'^PRETTY_NAME="?([^"\n]*)', text, re.MULTILINE)
    return m.group(1) if m else "?"


def _mem() -> str:
    with open("/proc/meminfo") as f:
        kb = int(f.readline().split()[1])
    return f"{kb / 1024 / 1024:.0f} GiB"


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def _peer_version(dist: str) -> str:
    code = f"import importlib.metadata as m; print(m.version({dist!r}))"
    return _out([str(PEERS_VENV / "bin" / "python"), "-c", code]) or "?"


def _git() -> tuple[str, list[str]]:
    commit = _out(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
    dirty = [
        line[3:]
        for line in _out(["git", "-C", str(ROOT), "status", "--porcelain"]).splitlines()
        if line[3:].startswith(("jupyter_remote/", "pyproject.toml"))
    ]
    return commit, dirty


def machine(hosts: BenchHosts) -> dict[str, str]:
    lo = hosts.targets["lo"]
    remote_py = _out([lo.remote_python, "-c", "import sys; print(sys.version.split()[0])"])
    return {
        "CPU": f"{_cpu_model()}, {os.cpu_count()} cores",
        "memory": _mem(),
        "OS / kernel": f"{_os_name()}, Linux {platform.release()}",
        "Python (client)": platform.python_version(),
        "Python (remote env)": f"{remote_py} with ipykernel {_remote_ipykernel(lo.remote_python)}",
        "OpenSSH (client and sshd)": _out(["ssh", "-V"]).split(",")[0],
        "asyncssh": _version("asyncssh"),
        "jupyter_client / ipykernel / pyzmq": " / ".join(
            _version(d) for d in ("jupyter_client", "ipykernel", "pyzmq")
        ),
        "load when the run ended (1/5/15 min)": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def _remote_ipykernel(python: str) -> str:
    return _out([python, "-c", "import ipykernel; print(ipykernel.__version__)"])


def contenders(hosts: BenchHosts, peers: dict[str, Any]) -> list[str]:
    commit, dirty = _git()
    lo = hosts.targets["lo"]
    state = f"git {commit}" + (f", with uncommitted changes to {', '.join(dirty)}" if dirty else "")
    return [
        f"**jupyterlab-remote {_version('jupyterlab-remote')}** ({state}): kernelspec "
        "`remote-<target>` (provisioner `ssh-provisioner`, profile python = the remote env, "
        "cwd /tmp) started by jupyter_client's KernelManager in a standalone process, as "
        "papermill would; servers saved with host/port/user/identity; host keys from the "
        "bench HOME's ~/.ssh/known_hosts (strict, as always).",
        f"**sshpyk {_peer_version('sshpyk')}** (own venv bench/.venv-peers): "
        "`sshpyk add --ssh-host-alias bench-<target>-sshpyk --ssh-config <bench config> "
        f"--remote-python {lo.remote_python} --remote-kernel-name python3 --language python`; "
        "the alias has its README's recommended config (BatchMode yes, ControlMaster auto, "
        "ControlPath, ControlPersist 10m, ServerAliveInterval 5, ServerAliveCountMax 120000, "
        "TCPKeepAlive yes, ConnectionAttempts 1, ConnectTimeout 5) except "
        "`StrictHostKeyChecking yes` (its README suggests `no`) with the bench known_hosts. "
        "Cold starts use a twin alias with another ControlPath whose master is closed "
        "(`ssh -O exit`) before each start; warm starts reuse the persisted master.",
        f"**remote_ikernel {_peer_version('remote_ikernel')}** (same venv): `remote_ikernel "
        "manage --add --interface=ssh --host=bench-<target> --workdir=/tmp --kernel_cmd="
        f"'{lo.remote_python} -m ipykernel_launcher -f {{host_connection_file}}'`. It runs "
        "plain `ssh`, which reads ~ from the password database (not $HOME), so a `ssh` "
        "wrapper first on PATH adds `-F <bench config>`. Its login command hard-codes "
        "`-o StrictHostKeyChecking=no` (the command line beats any config), so only its "
        "tunnel connection checks the host key. Its tunnels forward each port to the SAME "
        "port number on the remote, which cannot work when remote = this machine, so its "
        "loopback figures (†) come from the namespace host over its veth (no delay).",
        "**OpenSSH `ssh -L` (hand-made)**: `ssh -o ExitOnForwardFailure=yes -L x5 "
        "bench-<target> 'cat > $f; exec python -m ipykernel_launcher -f $f'` with the "
        "connection file (and key) on stdin, a BlockingKernelClient on the local ports; warm: "
        "`ssh -O forward -L x5` and the command through a ControlMaster opened beforehand.",
        "**local ipykernel**: the product venv's `python3` kernelspec via KernelManager (the "
        "floor for starts).",
        "**direct**: a BlockingKernelClient on our remote kernel's own ipc sockets (its "
        "connection.json; the key from our KernelManager): the floor for round trips and "
        "throughput.",
    ]


def links(hosts: BenchHosts) -> list[str]:
    lo, veth, slow = (hosts.targets[k] for k in ("lo", "veth", "slow"))
    return [
        f"**loopback**: OpenSSH sshd on {lo.host}:{lo.port}, user `{lo.user}` (DEBUG1 log).",
        f"**namespace veth**: sshd in network namespace {veth.netns} at {veth.host}:22, user "
        f"`{veth.user}`; NetnsHost.cut()/restore() take the veth down/up.",
        f"**50 ms RTT**: the same namespace sshd behind bench/delay_proxy.py on "
        f"127.0.0.1:{slow.port}, {DELAY * 1000:.0f} ms each way (order preserved; new TCP "
        "handshakes are not delayed); measured connect → sshd banner: "
        f"{hosts.one_way_ms:.1f} ms (one crossing + sshd's own banner time). For metric 6 the "
        "proxy is cut and restored with the veth (it stops forwarding and refuses connects).",
    ]


INTROS = {
    "1": "Time from `KernelManager.start_kernel()` (or the first `ssh` for ssh -L) to the "
    "`execute_result` of `1+1`, including `wait_for_ready`. Each contender runs in its own "
    "worker process whose imports are done beforehand; contenders alternate run by run.",
    "4": "One probe is one SSH exec (the product's design); cached answers need none.",
    "5": "Standalone process (AsyncKernelManager), the same code path the Jupyter server uses.",
}

CAVEATS = [
    "The 'remote' hosts are this machine: client, sshd, kernels and the delay proxy share "
    "its 2 cores, so CPU-heavy paths (throughput, 64 kernels) measure both ends at once.",
    "The machine is shared with other engineers' test runs while the bench runs; ratios "
    "against a baseline measured in the same run are the figures to compare, not seconds.",
    "The delay proxy holds data, not TCP handshakes: a new connection's SYN/SYN-ACK "
    "round trip (50 ms on a real link) is missing from cold starts on the slow link, for "
    "every contender alike.",
]


def collect(
    hosts: BenchHosts,
    peers: dict[str, Any],
    sizes: Sizes,
    args: argparse.Namespace,
    elapsed: float,
) -> dict[str, Any]:
    flags = [f for f, on in (("--quick", args.quick), ("--no-profile", args.no_profile)) if on]
    flags += [f"--only {args.only}"] if args.only else []
    command = " ".join(["python -m bench.run", *flags]) if flags else "make bench"
    return {
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "commit": _git()[0],
        "command": command,
        "sizes": vars(sizes),
        "machine": machine(hosts),
        "contenders": contenders(hosts, peers),
        "links": links(hosts),
        "intros": INTROS,
        "caveats": CAVEATS,
        "peers": peers,
        "argv": sys.argv,
        "elapsed_before_report": elapsed,
    }
