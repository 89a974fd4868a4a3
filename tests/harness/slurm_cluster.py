"""A real Slurm cluster (Debian's slurm-wlm, 22.05 on Debian 12) for the test suite.

Plain stdlib module (like ``sshd_host.py`` and ``netns_host.py``); root only.

``SlurmTestCluster`` installs Debian's ``slurmctld slurmd slurm-client munge`` when
they are missing and starts, without systemd::

    this machine = the login node                 namespace jrns-<pid>-<n> (one per node)
    munged   (own key and socket in the work dir)   [mariadbd + slurmdbd: accounting=True]
    slurmctld  <hostname>(10.231.<n>.1):<port>  <== veth ==>  slurmd -N jrnode<i>  10.231.<n>.2
    sbatch / srun / squeue / scancel / sacct -c                (own UTS namespace: hostname
      as any user, with SLURM_CONF=<work dir>/slurm.conf        jrnode<i>; jobs run here)

Partitions: ``main`` (every node, the default) and ``tiny`` (the first node, at most
ONE CPU of it: a second job there stays PENDING with reason Resources).

Job end reasons (TIMEOUT, OUT_OF_MEMORY, NODE_FAIL, CANCELLED, ...):

- always: ``scontrol show job J`` keeps a finished job for MinJobAge seconds (600
  here) with JobState and Reason (TimeLimit, OutOfMemory, NodeDown, ...); a
  jobcomp/filetxt file gets one line per finished job (``sacct -c``, root only:
  22.05's sacct opens that file for writing);
- ``accounting=True``: slurmdbd storing into a private MariaDB (socket in a 0700
  dir, no grant tables, ~1 s more start-up), so plain ``sacct`` works for every
  user as on a real cluster.  Without it plain ``sacct`` answers "Slurm accounting
  storage is disabled": accounting_storage/filetxt was removed in Slurm 20.11.

OUT_OF_MEMORY needs ``cgroups=True`` (task/cgroup with ConstrainRAMSpace, cgroup v1
here); without cgroups, jobacct_gather's OverMemoryKill kills the job, which then
ends FAILED (Reason=JobLaunchFailure, ExitCode 0:9), not OUT_OF_MEMORY.

User commands need ``SLURM_CONF`` (see :attr:`SlurmTestCluster.env`); a test sshd
passes it on with ``extra_config=cluster.sshd_config()`` (``SetEnv``).  Nothing under
/etc is written.

Every daemon is started with ``PR_SET_PDEATHSIG`` (from the main thread) and killed
by :meth:`SlurmTestCluster.close`, which also runs at interpreter exit.  Work dirs
live under ``/tmp/jr-slurm/<pid>-<random>``; a later cluster removes those of dead
processes, killing what their pid files still name, and their namespaces.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from .netns_host import (
    NETNS_PREFIX,
    SUBNET,
    _claim_index,
    _quiet,
)
from .sshd_host import IS_ROOT, SSHTestHostError, _preexec, _proc_table, _run
from .waiting import NeverHappened, eventually

#: Debian packages providing the daemons and the client commands.
PACKAGES = ("slurmctld", "slurmd", "slurm-client", "munge")
#: ... and for ``accounting=True`` (sacct through slurmdbd, stored in MariaDB).
ACCOUNTING_PACKAGES = ("slurmdbd", "mariadb-server-core")
SLURMCTLD = "/usr/sbin/slurmctld"
SLURMDBD = "/usr/sbin/slurmdbd"
MARIADBD = "/usr/sbin/mariadbd"
SLURMD = "/usr/sbin/slurmd"
MUNGED = "/usr/sbin/munged"
CLIENTS = ("sbatch", "srun", "squeue", "scancel", "scontrol", "sinfo", "sacct", "sacctmgr")
WORK_ROOT = Path("/tmp/jr-slurm")
CGROUP_ROOT = Path("/sys/fs/cgroup")
NODE_PREFIX = "jrnode"
#: PATH for user commands (runuser keeps the caller's environment otherwise).
USER_PATH = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"


class SlurmClusterError(SSHTestHostError):
    """The test Slurm cluster could not be set up or did not behave."""


# --------------------------------------------------------------------- packages


def _binaries_missing(accounting: bool = False) -> list[str]:
    daemons = (SLURMCTLD, SLURMD, MUNGED, *((SLURMDBD, MARIADBD) if accounting else ()))
    missing = [p for p in daemons if not Path(p).exists()]
    missing += [c for c in CLIENTS if shutil.which(c, path=USER_PATH) is None]
    return missing


_install_lock = threading.Lock()


def ensure_slurm_installed(accounting: bool = False) -> None:
    """Install Debian's Slurm and MUNGE packages if a binary is missing (root, apt-get);
    with ACCOUNTING also slurmdbd and MariaDB's server.

    Called by :class:`SlurmTestCluster` before anything else; ``make test`` installs
    the same packages up front (scripts/system-deps.sh).
    """
    packages = PACKAGES + (ACCOUNTING_PACKAGES if accounting else ())
    with _install_lock:
        if not _binaries_missing(accounting):
            return
        if not (IS_ROOT and shutil.which("apt-get")):
            raise SlurmClusterError(
                f"Slurm is not installed ({', '.join(_binaries_missing(accounting))} missing): "
                f"apt-get install {' '.join(packages)}"
            )
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        _run(["apt-get", "update", "-q"], env=env)
        _run(["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages], env=env)
        if _binaries_missing(accounting):
            raise SlurmClusterError(f"still missing after apt-get: {_binaries_missing()}")


def slurm_unavailable() -> Optional[str]:
    """Why a test Slurm cluster cannot run here (None: it can, installing if needed)."""
    if not IS_ROOT:
        return "the Slurm test cluster needs root (daemons, network namespaces, users)"
    for tool in ("ip", "nsenter", "unshare", "runuser"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    if _binaries_missing() and shutil.which("apt-get") is None:
        return f"Slurm is not installed and there is no apt-get: {_binaries_missing()}"
    probe = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        return f"`ip netns` is unavailable: {probe.stderr.strip()}"
    return None


def cgroups_unavailable() -> Optional[str]:
    """Why ``SlurmTestCluster(cgroups=True)`` cannot run here (None: it can).

    Verified with cgroup v1 controllers (memory, freezer, cpuacct) mounted read-write
    under /sys/fs/cgroup; a cgroup2-only host is not (slurmd 22.05's cgroup/v2 plugin
    wants a systemd-delegated cgroup), so it is reported unavailable.
    """
    reason = slurm_unavailable()
    if reason:
        return reason
    for controller in ("memory", "freezer", "cpuacct"):
        path = CGROUP_ROOT / controller
        if not (path / "tasks").exists():
            return f"cgroup v1 controller {controller} is not mounted at {path}"
        if not os.access(path, os.W_OK):
            return f"{path} is not writable"
    return None


def _remove_cgroups(node_name: str) -> None:
    """rmdir the cgroup v1 trees slurmd made for NODE_NAME (slurm_<node> per controller);
    their processes must be dead already."""
    if not CGROUP_ROOT.is_dir():
        return
    for controller in CGROUP_ROOT.iterdir():
        top = controller / f"slurm_{node_name}"
        if not top.is_dir():
            continue
        for dirpath, _dirnames, _files in os.walk(top, topdown=False):
            with contextlib.suppress(OSError):
                os.rmdir(dirpath)


# ---------------------------------------------------------------------- helpers


def _free_ports(count: int) -> list[int]:
    """COUNT TCP ports, all different, free on every address of this machine right now.

    Called once per cluster for slurmctld's and slurmdbd's ports: the probe sockets are
    all held until every port is picked, so no two can be the same (two picks let go
    one after the other can be: bind to port 0 may return the port just closed)."""
    with contextlib.ExitStack() as held:
        ports: list[int] = []
        for _ in range(count):
            s = held.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            s.bind(("0.0.0.0", 0))  # noqa: S104 - slurmctld listens on every address
            ports.append(int(s.getsockname()[1]))
        return ports


def _pid_alive(pid: int) -> bool:
    """PID exists and is not a zombie (PID 1 here may reap orphans late)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2 :].split()[0] != "Z"


def _netns_pids(netns: str) -> set[int]:
    out = subprocess.run(["ip", "netns", "pids", netns], capture_output=True, text=True).stdout
    return {int(p) for p in out.split() if p.isdigit()}


def _kill_and_wait(pids: set[int], timeout: float = 10.0) -> None:
    """SIGKILL PIDS and return once none of them lives."""
    for pid in pids:
        _kill(pid)
    with contextlib.suppress(NeverHappened):  # callers look again (and kill again)
        eventually(
            lambda: [p for p in pids if _pid_alive(p)],
            lambda alive: not alive,
            timeout=timeout,
            interval=0.02,
        )


def _kill_netns_processes(netns: str) -> None:
    """Kill everything in NETNS (until nothing is left: a dying slurmd may still fork)."""
    for _ in range(5):
        pids = _netns_pids(netns)
        if not pids:
            return
        _kill_and_wait(pids)


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _environ_has(pid: int, needle: bytes) -> bool:
    try:
        return needle in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return False


def _home_or_root(user: str) -> str:
    home = pwd.getpwnam(user).pw_dir
    return home if os.path.isdir(home) else "/"


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGKILL)


def _read_pid(path: Path) -> Optional[int]:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _kill_run_dir_processes(run_dir: Path) -> None:
    """SIGKILL the daemons of RUN_DIR: pid files whose process names the dir, and every
    process whose command line or SLURM_CONF names it (clients included)."""
    needle = str(run_dir)
    conf = f"SLURM_CONF={run_dir / 'slurm.conf'}".encode()
    doomed = set()
    for pidfile in run_dir.rglob("*.pid"):
        pid = _read_pid(pidfile)
        if pid and needle in _cmdline(pid):
            doomed.add(pid)
    for pid in _proc_table():
        if pid != os.getpid() and (needle in _cmdline(pid) or _environ_has(pid, conf)):
            doomed.add(pid)
    _kill_and_wait(doomed)


def _sweep_dead_runs() -> None:
    """Remove work dirs (daemons, namespaces) left by test processes that died."""
    if not WORK_ROOT.is_dir():
        return
    for run_dir in WORK_ROOT.iterdir():
        m = re.fullmatch(r"(\d+)-\w+", run_dir.name)
        if not m or _pid_alive(int(m.group(1))):
            continue
        with contextlib.suppress(OSError):
            for ns in (run_dir / "netns").read_text().split():
                if ns.startswith(f"{NETNS_PREFIX}{m.group(1)}-"):
                    _kill_netns_processes(ns)
                    _quiet("ip", "netns", "del", ns)
        _kill_run_dir_processes(run_dir)
        shutil.rmtree(run_dir, ignore_errors=True)


def _wait(
    probe: Callable[[], Any],
    timeout: float,
    what: str,
    log: Optional[Path] = None,
    until: Callable[[Any], object] = bool,
) -> Any:
    """``eventually(probe, until)``, failing with a SlurmClusterError and LOG's last lines."""
    try:
        return eventually(probe, until, timeout=timeout, interval=0.05, what=what)
    except NeverHappened as exc:
        tail = ""
        if log is not None and log.exists():
            tail = "\n" + "\n".join(log.read_text(errors="replace").splitlines()[-30:])
        raise SlurmClusterError(f"{exc}{tail}") from None


# ------------------------------------------------------------------------ nodes


@dataclass
class SlurmNode:
    """One compute node: a slurmd in its own network (and UTS) namespace."""

    name: str
    index: int
    lock: Any
    netns: str
    #: The node's address inside its namespace (NodeAddr), 10.231.<index>.2.
    address: str
    #: This machine's end of the veth, 10.231.<index>.1.
    host_address: str
    veth_host: str
    veth_peer: str
    proc: Optional[subprocess.Popen[bytes]] = None
    created: list[str] = field(default_factory=list)

    def ns_argv(self, argv: Sequence[str]) -> list[str]:
        """ARGV run as root inside the node's network namespace.

        ``nsenter --net``, not ``ip netns exec``: the latter mounts a fresh /sys, which
        hides /sys/fs/cgroup, and slurmd 22.05 fails without it (it always loads its
        cgroup plugin, even with proctrack/linuxproc and task/none).
        """
        return ["nsenter", f"--net=/run/netns/{self.netns}", "--", *argv]


@dataclass
class Job:
    """One line of ``squeue``: what a test needs to know about a queued job."""

    job_id: str
    state: str
    reason: str
    partition: str
    nodes: str
    user: str
    name: str


# ------------------------------------------------------------------ the cluster

_live: dict[int, SlurmTestCluster] = {}
_live_lock = threading.Lock()


@atexit.register
def close_all() -> None:
    """Close every SlurmTestCluster still alive (also runs at exit)."""
    with _live_lock:
        clusters = list(_live.values())
    for cluster in clusters:
        with contextlib.suppress(Exception):
            cluster.close()


#: a job's memory when it asks none: a kernel's job holds the job's holder, our supervisor
#: and relay, the kernel, and now and then an agent step; jobacct_gather/linux sums their
#: RSS (shared pages in each) at ~90-100 MB, and OverMemoryKill ended such jobs at 100 MB
#: (104,869,888 > 104,857,600 B while an agent step ran: s28). 4 such jobs fit a node.
DEF_MEM_PER_CPU_MB = 400


class SlurmTestCluster:
    """A slurmctld on this machine and ``nodes`` slurmd compute nodes in namespaces.

    ``cpus`` / ``memory_mb``: what each node declares (SlurmdParameters=config_overrides:
    the machine's real size does not matter).  ``max_time`` / ``tiny_max_time``: the
    partitions' MaxTime in minutes (Slurm's unit; a job's limit cannot be below 1 min,
    see :meth:`expire` for a quick TIMEOUT).
    """

    def __init__(
        self,
        name: str = "jrslurm",
        *,
        nodes: int = 1,
        cpus: int = 4,
        memory_mb: int = 2048,
        max_time: int = 60,
        tiny_max_time: int = 10,
        min_job_age: int = 600,
        kill_wait: int = 2,
        cgroups: bool = False,
        accounting: bool = False,
        start: bool = True,
    ) -> None:
        reason = cgroups_unavailable() if cgroups else slurm_unavailable()
        if reason:
            raise SlurmClusterError(reason)
        ensure_slurm_installed(accounting)
        self.name = name
        self.cpus = cpus
        self.memory_mb = memory_mb
        self.max_time = max_time
        self.tiny_max_time = tiny_max_time
        self.min_job_age = min_job_age
        self.kill_wait = kill_wait  # seconds from a step's SIGTERM to its SIGKILL
        self.cgroups = cgroups
        self.accounting = accounting
        self.nodes: list[SlurmNode] = []
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._closed = False

        WORK_ROOT.mkdir(mode=0o755, exist_ok=True)
        os.chmod(WORK_ROOT, 0o755)  # noqa: S103 - users read slurm.conf below it
        _sweep_dead_runs()
        self.workdir = WORK_ROOT / f"{os.getpid()}-{secrets.token_hex(3)}"
        self.workdir.mkdir(mode=0o755)
        with _live_lock:
            _live[id(self)] = self
        try:
            self.conf_path = self.workdir / "slurm.conf"
            self.munge_dir = self.workdir / "munge"
            self.munge_socket = self.munge_dir / "munge.sock"
            self.state_dir = self.workdir / "state"
            self.log_dir = self.workdir / "log"
            #: jobcomp/filetxt: one line per finished job, read by ``sacct -c``.
            self.jobcomp_path = self.workdir / "jobcomp.txt"
            ports = _free_ports(2 if accounting else 1)
            self.port = ports[0]
            self.dbd_port = ports[1] if accounting else 0
            self.db_dir = self.workdir / "db"  # 0700: MariaDB runs without grant tables
            self.db_socket = self.db_dir / "mariadb.sock"
            for _ in range(nodes):
                self._add_node()
            #: slurmctld's address as the nodes see it (first node's veth, host side).
            self.controller_address = self.nodes[0].host_address
            #: Environment every Slurm command needs (besides PATH).
            self.env: dict[str, str] = {"SLURM_CONF": str(self.conf_path)}
            self._write_files()
            if start:
                self.start()
        except BaseException:
            self.close()
            raise

    # -------------------------------------------------------------- layout

    def _add_node(self) -> None:
        # named after the claimed index: unique on this machine while it lives (cgroup
        # paths such as /sys/fs/cgroup/memory/slurm_<node> are machine-wide)
        index, lock = _claim_index()
        node = SlurmNode(
            name=f"{NODE_PREFIX}{index}",
            index=index,
            lock=lock,
            netns=f"{NETNS_PREFIX}{os.getpid()}-{index}",
            address=f"{SUBNET}.{index}.2",
            host_address=f"{SUBNET}.{index}.1",
            veth_host=f"jrv{index}h",
            veth_peer=f"jrv{index}p",
        )
        self.nodes.append(node)
        _remove_cgroups(node.name)  # empty ones a crashed holder of this index left
        with open(self.workdir / "netns", "a") as f:  # for the sweep after a crash
            f.write(node.netns + "\n")
        _run(["ip", "netns", "add", node.netns])
        node.created.append("netns")
        _run(["ip", "link", "add", node.veth_host, "type", "veth", "peer", "name", node.veth_peer])
        node.created.append("veth")
        _run(["ip", "link", "set", node.veth_peer, "netns", node.netns])
        _run(["ip", "addr", "add", f"{node.host_address}/30", "dev", node.veth_host])
        _run(["ip", "link", "set", node.veth_host, "up"])
        _run(node.ns_argv(["ip", "addr", "add", f"{node.address}/30", "dev", node.veth_peer]))
        _run(node.ns_argv(["ip", "link", "set", node.veth_peer, "up"]))
        _run(node.ns_argv(["ip", "link", "set", "lo", "up"]))
        # every other address of this machine (the controller's, other nodes' veths)
        _run(node.ns_argv(["ip", "route", "add", "default", "via", node.host_address]))

    def _write_files(self) -> None:
        for d in (self.munge_dir, self.state_dir, self.log_dir):
            d.mkdir(mode=0o700)
        os.chmod(self.munge_dir, 0o755)  # noqa: S103 - every user talks to the socket
        key = self.munge_dir / "munge.key"
        key.write_bytes(b"")
        os.chmod(key, 0o600)
        key.write_bytes(secrets.token_bytes(1024))
        for node in self.nodes:
            (self.workdir / "spool" / node.name).mkdir(mode=0o755, parents=True)
        self.conf_path.write_text(self.slurm_conf())
        os.chmod(self.conf_path, 0o644)
        if self.cgroups:
            cgroup_conf = "CgroupPlugin=autodetect\nConstrainRAMSpace=yes\nConstrainSwapSpace=yes\n"
            (self.workdir / "cgroup.conf").write_text(cgroup_conf)
            os.chmod(self.workdir / "cgroup.conf", 0o644)
        if self.accounting:
            (self.db_dir / "data").mkdir(mode=0o700, parents=True)
            os.chmod(self.db_dir, 0o700)
            dbd_conf = self.workdir / "slurmdbd.conf"  # next to slurm.conf: slurmdbd looks there
            dbd_conf.write_bytes(b"")
            os.chmod(dbd_conf, 0o600)  # slurmdbd refuses any other mode
            dbd_conf.write_text(self.slurmdbd_conf())

    def slurmdbd_conf(self) -> str:
        """slurmdbd.conf (accounting=True): MariaDB through its socket, no password."""
        return f"""\
# generated by tests/harness/slurm_cluster.py
DbdHost=localhost
DbdAddr={self.controller_address}
DbdPort={self.dbd_port}
SlurmUser=root
AuthType=auth/munge
AuthInfo=socket={self.munge_socket}
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageLoc=slurm_acct_db
LogFile={self.log_dir}/slurmdbd.log
PidFile={self.workdir}/slurmdbd.pid
DebugLevel=info
"""

    def _accounting_conf(self) -> str:
        if not self.accounting:
            return "AccountingStorageType=accounting_storage/none\n"
        return (
            "AccountingStorageType=accounting_storage/slurmdbd\n"
            f"AccountingStorageHost={self.controller_address}\n"
            f"AccountingStoragePort={self.dbd_port}\n"
            # the MUNGE socket for talking to slurmdbd: AuthInfo's is not used for that
            f"AccountingStoragePass={self.munge_socket}\n"
        )

    def _plugins(self) -> str:
        if self.cgroups:
            return (
                "ProctrackType=proctrack/cgroup\nTaskPlugin=task/cgroup\n"
                "JobAcctGatherType=jobacct_gather/cgroup\nJobAcctGatherFrequency=task=1\n"
            )
        return (
            "ProctrackType=proctrack/linuxproc\nTaskPlugin=task/none\n"
            "JobAcctGatherType=jobacct_gather/linux\nJobAcctGatherFrequency=task=1\n"
            "JobAcctGatherParams=OverMemoryKill\n"
        )

    def slurm_conf(self) -> str:
        """The text of slurm.conf (who: __init__; tests may read it)."""
        w = self.workdir
        controller = socket.gethostname().split(".")[0]
        node_lines = "".join(
            f"NodeName={n.name} NodeAddr={n.address} NodeHostname={n.name} "
            f"CPUs={self.cpus} RealMemory={self.memory_mb} State=UNKNOWN\n"
            for n in self.nodes
        )
        return f"""\
# generated by tests/harness/slurm_cluster.py
ClusterName={self.name}
SlurmctldHost={controller}({self.controller_address})
SlurmctldPort={self.port}
SlurmdPort=6818
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={self.munge_socket}
StateSaveLocation={self.state_dir}
SlurmdSpoolDir={w}/spool/%n
SlurmctldPidFile={w}/slurmctld.pid
SlurmdPidFile={w}/slurmd-%n.pid
SlurmctldLogFile={self.log_dir}/slurmctld.log
SlurmdLogFile={self.log_dir}/slurmd-%n.log
SlurmctldDebug=info
SlurmdDebug=info
{self._plugins()}SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU={DEF_MEM_PER_CPU_MB}
SlurmdParameters=config_overrides
MpiDefault=none
SwitchType=switch/none
{self._accounting_conf()}JobCompType=jobcomp/filetxt
JobCompLoc={self.jobcomp_path}
MinJobAge={self.min_job_age}
JobRequeue=0
ReturnToService=2
KillWait={self.kill_wait}
MessageTimeout=10
SlurmdTimeout=30
InactiveLimit=0
Waittime=0
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0
{node_lines}\
PartitionName=main Nodes=ALL Default=YES MaxTime={self.max_time} State=UP
PartitionName=tiny Nodes={self.nodes[0].name} MaxCPUsPerNode=1 MaxTime={self.tiny_max_time} \
State=UP
"""

    # ------------------------------------------------------------ daemons

    def _spawn(
        self, key: str, argv: list[str], log: Path, extra_env: Optional[dict[str, str]] = None
    ) -> subprocess.Popen[bytes]:
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_preexec(),
                close_fds=True,
                cwd="/",
                env={
                    "PATH": USER_PATH,
                    "LANG": "C.UTF-8",
                    "SLURM_CONF": str(self.conf_path),
                    **(extra_env or {}),
                },
            )
        self._procs[key] = proc
        return proc

    def _check_alive(self, key: str, log: Path) -> bool:
        proc = self._procs[key]
        if proc.poll() is not None:
            text = log.read_text(errors="replace") if log.exists() else ""
            raise SlurmClusterError(f"{key} exited with {proc.returncode}:\n{text[-3000:]}")
        return True

    def start(self, timeout: float = 30.0) -> None:
        """Start munged, (MariaDB and slurmdbd,) slurmctld and every slurmd; returns once
        all nodes are idle."""
        self._start_munged(timeout)
        if self.accounting:
            self._start_slurmdbd(timeout)
        self._start_slurmctld(timeout)
        for node in self.nodes:
            self._start_slurmd(node)
        self.wait_idle(timeout)

    def _start_munged(self, timeout: float) -> None:
        d = self.munge_dir
        log = self.log_dir / "munged.out"
        self._spawn(
            "munged",
            [
                MUNGED,
                "--foreground",
                "--force",
                f"--socket={self.munge_socket}",
                f"--key-file={d / 'munge.key'}",
                f"--pid-file={d / 'munged.pid'}",
                f"--log-file={self.log_dir / 'munged.log'}",
                f"--seed-file={d / 'munged.seed'}",
            ],
            log,
        )
        _wait(
            lambda: self._check_alive("munged", log) and self.munge_socket.exists(),
            timeout,
            "munged's socket",
            self.log_dir / "munged.log",
        )

    def _start_slurmdbd(self, timeout: float) -> None:
        log = self.log_dir / "mariadb.err"
        self._spawn(
            "mariadbd",
            [
                MARIADBD,
                "--no-defaults",
                "--user=root",
                f"--datadir={self.db_dir / 'data'}",
                f"--socket={self.db_socket}",
                f"--pid-file={self.db_dir / 'mariadbd.pid'}",
                f"--log-error={log}",
                "--skip-networking",
                "--skip-grant-tables",  # no system tables to create: starts in ~0.5 s
                "--skip-log-bin",
                "--innodb-buffer-pool-size=32M",
                "--innodb-log-file-size=16M",
                "--innodb-flush-log-at-trx-commit=0",
                "--innodb-doublewrite=0",
            ],
            self.log_dir / "mariadbd.out",
        )
        _wait(
            lambda: self._check_alive("mariadbd", log) and self.db_socket.exists(),
            timeout,
            "MariaDB's socket",
            log,
        )
        dbd_log = self.log_dir / "slurmdbd.log"
        self._spawn(
            "slurmdbd",
            [SLURMDBD, "-D"],
            self.log_dir / "slurmdbd.out",
            # libmariadb reads it when StorageHost=localhost (slurmdbd.conf has no socket)
            extra_env={"MYSQL_UNIX_PORT": str(self.db_socket)},
        )

        def registered() -> bool:
            self._check_alive("slurmdbd", dbd_log)
            proc = self.run(["sacctmgr", "-i", "add", "cluster", self.name])
            return proc.returncode == 0 or "already exists" in proc.stdout + proc.stderr

        _wait(registered, timeout, f"slurmdbd to register cluster {self.name}", dbd_log)

    def _start_slurmctld(self, timeout: float) -> None:
        log = self.log_dir / "slurmctld.log"
        self._spawn(
            "slurmctld",
            [SLURMCTLD, "-D", "-f", str(self.conf_path)],
            self.log_dir / "slurmctld.out",
        )

        def up() -> bool:
            self._check_alive("slurmctld", log)
            out = self.run(["scontrol", "ping"]).stdout
            return "is UP" in out

        _wait(up, timeout, "slurmctld to answer `scontrol ping`", log)

    def _start_slurmd(self, node: SlurmNode) -> None:
        # own UTS namespace: `hostname` in a job says the node's name, as on a cluster
        script = 'hostname "$1" && exec "$2" -D -N "$1" -f "$3"'
        conf = str(self.conf_path)
        argv = node.ns_argv(
            ["unshare", "--uts", "--", "sh", "-c", script, "sh", node.name, SLURMD, conf]
        )
        node.proc = self._spawn(f"slurmd {node.name}", argv, self.log_dir / f"{node.name}.out")

    # ------------------------------------------------------------ commands

    def run(
        self, argv: Sequence[str], *, check: bool = False, **kwargs: Any
    ) -> subprocess.CompletedProcess[Any]:
        """Run a Slurm command as root on the login node (text, captured)."""
        return self.run_as("root", argv, check=check, **kwargs)

    def user_env(self, user: str) -> dict[str, str]:
        """The environment of :meth:`run_as`: a login-like one plus SLURM_CONF."""
        pw = pwd.getpwnam(user)
        return {
            "PATH": USER_PATH,
            "HOME": pw.pw_dir,
            "USER": user,
            "LOGNAME": user,
            "LANG": "C.UTF-8",
            **self.env,
        }

    def run_as(
        self,
        user: str,
        argv: Sequence[str],
        *,
        check: bool = False,
        timeout: float = 60.0,
        **kwargs: Any,
    ) -> subprocess.CompletedProcess[Any]:
        """Run ARGV as USER (``runuser``) in USER's home with :meth:`user_env`.

        Text and captured output by default; ``check=True`` raises on failure.
        """
        cmd = list(argv) if user == "root" else ["runuser", "-u", user, "--", *argv]
        kwargs.setdefault("capture_output", True)
        kwargs.setdefault("text", True)
        kwargs.setdefault("cwd", _home_or_root(user))
        proc = subprocess.run(cmd, env=self.user_env(user), timeout=timeout, check=False, **kwargs)
        if check and proc.returncode != 0:
            raise SlurmClusterError(
                f"{' '.join(argv)} as {user} failed ({proc.returncode}):\n"
                f"{proc.stdout}{proc.stderr}"
            )
        return proc

    def popen_as(self, user: str, argv: Sequence[str], **kwargs: Any) -> subprocess.Popen[Any]:
        """Start ARGV as USER like :meth:`run_as`, without waiting (e.g. a long srun)."""
        cmd = list(argv) if user == "root" else ["runuser", "-u", user, "--", *argv]
        kwargs.setdefault("cwd", _home_or_root(user))
        return subprocess.Popen(cmd, env=self.user_env(user), **kwargs)

    def sbatch(self, user: str, args: Sequence[str]) -> str:
        """``sbatch --parsable ARGS`` as USER; returns the job id."""
        out = self.run_as(user, ["sbatch", "--parsable", *args], check=True).stdout
        return out.strip().split(";")[0]

    def squeue(self, user: Optional[str] = None) -> list[Job]:
        """USER's queued and running jobs (``squeue --me`` as USER), or all of them."""
        fmt = "%i|%T|%r|%P|%N|%u|%j"
        argv = ["squeue", "-h", "-o", fmt] + (["--me"] if user else [])
        out = self.run_as(user or "root", argv, check=True).stdout
        jobs = []
        for line in out.splitlines():
            if line.strip():
                jobs.append(Job(*line.split("|", 6)))
        return jobs

    def job_info(self, job_id: str) -> dict[str, str]:
        """``scontrol -o show job JOB_ID`` as a dict (empty once the job is purged)."""
        proc = self.run(["scontrol", "-o", "show", "job", job_id])
        if proc.returncode != 0:
            return {}
        info: dict[str, str] = {}
        for token in proc.stdout.split():
            key, sep, value = token.partition("=")
            if sep and key not in info:
                info[key] = value
        return info

    def wait_job_state(self, job_id: str, states: Sequence[str], timeout: float = 30.0) -> str:
        """Wait until the job's JobState is one of STATES; returns it."""
        state: str = _wait(
            lambda: self.job_info(job_id).get("JobState", "?"),
            timeout,
            f"job {job_id} to be {'/'.join(states)}",
            until=lambda found: found in states,
        )
        return state

    def completion(self, job_id: str) -> dict[str, str]:
        """``sacct -c`` (jobcomp/filetxt) record of a finished job ({} if none yet).

        Root only: Slurm 22.05's ``sacct -c`` opens the jobcomp file for WRITING
        (jobcomp_p_set_location) and dies with "Permission denied" for other users.
        """
        fields = "JobID,User,State,ExitCode,Partition,NodeList,Elapsed,Timelimit"
        proc = self.run(["sacct", "-c", "-j", job_id, "-n", "-P", "-o", fields])
        for line in proc.stdout.splitlines():
            values = line.split("|")
            if values and values[0] == job_id:
                return dict(zip(fields.split(","), values, strict=False))
        return {}

    def sacct(self, job_id: str, user: str = "root") -> dict[str, str]:
        """``sacct -X`` record of a job as USER ({} if none yet); accounting=True only.

        slurmctld sends job records to slurmdbd asynchronously: poll for the state.
        """
        fields = "JobID,User,State,ExitCode,Reason,Partition,NodeList,Elapsed,Timelimit"
        argv = ["sacct", "-X", "-n", "-P", "-j", job_id, "-o", fields]
        proc = self.run_as(user, argv, check=True)
        for line in proc.stdout.splitlines():
            values = line.split("|")
            if values and values[0] == job_id:
                return dict(zip(fields.split(","), values, strict=False))
        return {}

    def wait_idle(self, timeout: float = 30.0) -> None:
        """Wait until every node answers and is idle (no job holds any of it)."""
        log = self.log_dir / "slurmctld.log"

        def idle() -> bool:
            self._check_alive("slurmctld", log)
            for node in self.nodes:
                self._check_alive(f"slurmd {node.name}", self.log_dir / f"{node.name}.out")
            out = self.run(["sinfo", "-h", "-N", "-o", "%N %T"]).stdout.split()
            states = dict(zip(out[::2], out[1::2], strict=False))
            return all(states.get(n.name) == "idle" for n in self.nodes)

        _wait(idle, timeout, "every node to be idle", log)

    def expire(self, job_id: str) -> None:
        """Lower a running job's TimeLimit so it is over it now (as root, the operator).

        slurmctld then ends it as TIMEOUT (Reason=TimeLimit) at its next time-limit
        sweep, which Slurm runs every 30 s (PERIODIC_TIMEOUT, compiled in): a
        real timeout without waiting the 1-minute minimum limit plus a sweep.
        """
        self.run(["scontrol", "update", f"JobId={job_id}", "TimeLimit=0"], check=True)

    def kill_node(self, name: str) -> None:
        """The node dies: SIGKILL every process in its namespace (slurmd, steps, jobs),
        then mark it DOWN, so its jobs end as NODE_FAIL without SlurmdTimeout's wait."""
        node = self.node(name)
        _kill_netns_processes(node.netns)
        if node.proc is not None:
            node.proc.wait(10)
        self.run(
            ["scontrol", "update", f"NodeName={name}", "State=DOWN", "Reason=test-kill"],
            check=True,
        )

    def restart_node(self, name: str, timeout: float = 30.0) -> None:
        """Start a killed node's slurmd again; returns once the node is idle
        (ReturnToService=2 brings a DOWN node back when it registers)."""
        node = self.node(name)
        if node.proc is not None and node.proc.poll() is None:
            raise SlurmClusterError(f"slurmd of {name} is still running")
        self._start_slurmd(node)
        self.wait_idle(timeout)

    def node(self, name: str) -> SlurmNode:
        for node in self.nodes:
            if node.name == name:
                return node
        raise KeyError(name)

    def sshd_config(self) -> dict[str, str]:
        """``extra_config`` for an SSHTestHost whose sessions should find this cluster."""
        return {"SetEnv": f"SLURM_CONF={self.conf_path}"}

    def daemon_pids(self) -> set[int]:
        """Every live process of this cluster: daemons, node namespaces' processes
        (steps, jobs) and clients started with its SLURM_CONF."""
        pids = {p.pid for p in self._procs.values() if p.poll() is None}
        for node in self.nodes:
            pids |= _netns_pids(node.netns)
        conf = f"SLURM_CONF={self.conf_path}".encode()
        pids |= {p for p in _proc_table() if p != os.getpid() and _environ_has(p, conf)}
        return {p for p in pids if _pid_alive(p)}

    def log_text(self, which: str = "slurmctld") -> str:
        """A daemon's log: ``slurmctld``, ``munged`` or a node name (its slurmd)."""
        path = {
            "slurmctld": self.log_dir / "slurmctld.log",
            "munged": self.log_dir / "munged.log",
        }.get(which, self.log_dir / f"slurmd-{which}.log")
        return path.read_text(errors="replace") if path.exists() else ""

    # ------------------------------------------------------------ teardown

    def close(self) -> None:
        """Kill every daemon, step and client of this cluster, delete the namespaces,
        veths and the work dir.  Idempotent; also runs at interpreter exit."""
        if self._closed:
            return
        self._closed = True
        try:
            for node in self.nodes:
                if "netns" in node.created:
                    _kill_netns_processes(node.netns)
            for proc in self._procs.values():
                if proc.poll() is None:
                    _kill(proc.pid)
            with contextlib.suppress(OSError):
                _kill_run_dir_processes(self.workdir)
            for proc in self._procs.values():
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(10)
            for node in self.nodes:
                if "netns" in node.created:
                    _kill_netns_processes(node.netns)
                    _quiet("ip", "netns", "del", node.netns)
                if self.cgroups:
                    _remove_cgroups(node.name)
                if "veth" in node.created:
                    _quiet("ip", "link", "del", node.veth_host)
                node.lock.close()
        finally:
            shutil.rmtree(self.workdir, ignore_errors=True)
            with _live_lock:
                _live.pop(id(self), None)

    def __enter__(self) -> SlurmTestCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        nodes = ", ".join(f"{n.name}@{n.address}" for n in self.nodes)
        return f"<SlurmTestCluster {self.name} ctld :{self.port} nodes {nodes}>"
