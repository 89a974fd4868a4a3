"""A test sshd inside its own network namespace, whose link we can cut or drop.

Plain stdlib module (like ``sshd_host.py``); root only.

``NetnsHost`` is an :class:`sshd_host.SSHTestHost` (same keys, user, remote env,
host-key switching) whose sshd runs in a fresh network namespace::

    root namespace                            namespace jrns-<pid>-<n>
    jrv<n>h  10.231.<n>.1/30  <== veth ==>  jrv<n>p  10.231.<n>.2/30   sshd :22
                                            lo up

``.host`` is the namespace address (10.231.<n>.2), ``.port`` defaults to 22
(the namespace has its own port space). Faults:

- :meth:`cut` / :meth:`restore`: ``ip link set jrv<n>h down/up`` (the peer
  sees carrier loss; new connects fail at once with "unreachable");
- :meth:`drop` / :meth:`undrop`: an nftables table ``inet jrdrop`` inside the
  namespace drops every packet on input and output (loopback excepted), silently:
  no reset, no ICMP; undrop deletes the table.

An ``unreachable`` route for the /30 (high metric) sits under the veth's own
route, so while the link is down nothing for 10.231.<n>.0/30 ever leaves by
the default route.

:meth:`close` stops sshd and deletes the namespace, the veth pair, the route
and with the namespace its nftables tables; it runs at interpreter exit too
(the ``sshd_host`` cleanup registry). Namespaces left by a killed run are
removed the next time the same index is claimed.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Optional

from .sshd_host import (
    IS_ROOT,
    SSHD,
    SSHTestHost,
    SSHTestHostError,
    _descendants,
    _proc_table,
    _run,
    claim_user,
    remote_env_cache_dir,
)
from .waiting import NeverHappened, eventually

SUBNET = "10.231"
NETNS_PREFIX = "jrns-"
DEFAULT_USER = "jrnetns"
DROP_TABLE = "jrdrop"


def netns_unavailable() -> Optional[str]:
    """Why network-namespace hosts cannot run here (None: they can)."""
    if not IS_ROOT:
        return "network namespaces need root"
    for tool in ("ip", "nft", "ss", SSHD):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    probe = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        return f"`ip netns` is unavailable: {probe.stderr.strip()}"
    return None


def _ip(*args: str) -> None:
    _run(["ip", *args])


def _quiet(*argv: str) -> None:
    subprocess.run(list(argv), capture_output=True, text=True, check=False)


def _pid_alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


def _claim_index() -> tuple[int, Any]:
    """A free subnet index 1..250, with an flock held while our namespace lives.

    Leftovers of a killed run that held the same index are removed first.
    """
    locks = remote_env_cache_dir() / "netns-locks"
    locks.mkdir(mode=0o755, parents=True, exist_ok=True)
    for n in range(1, 251):
        f = open(locks / f"{n}.lock", "w")  # noqa: SIM115 - held for the host's lifetime
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.close()
            continue
        _remove_leftovers(n)
        return n, f
    raise SSHTestHostError("no free 10.231.N.0/30 index for a test namespace")


def _remove_leftovers(n: int) -> None:
    """Our own namespace/veth/route of index N left by a dead process (we hold N's lock)."""
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False)
    for line in out.stdout.splitlines():
        m = re.match(rf"({NETNS_PREFIX}(\d+)-{n})\b", line)
        if m and not _pid_alive(int(m.group(2))):
            _kill_netns_processes(m.group(1))
            _quiet("ip", "netns", "del", m.group(1))
    _quiet("ip", "link", "del", f"jrv{n}h")
    _quiet("ip", "route", "del", "unreachable", f"{SUBNET}.{n}.0/30")


def _kill_netns_processes(ns: str) -> None:
    out = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True, check=False)
    for pid in out.stdout.split():
        with contextlib.suppress(ProcessLookupError, PermissionError, ValueError):
            os.kill(int(pid), 9)


class NetnsHost(SSHTestHost):
    """An SSHTestHost whose sshd listens on 10.231.N.2 inside namespace ``.netns``."""

    def __init__(
        self,
        name: str = "netns",
        *,
        user: Optional[str] = None,
        port: int = 22,
        start: bool = True,
        **kwargs: Any,
    ) -> None:
        reason = netns_unavailable()
        if reason:
            raise SSHTestHostError(reason)
        self.netns: Optional[str] = None
        self._index_lock: Optional[Any] = None
        self._route: Optional[str] = None
        self.index, self._index_lock = _claim_index()
        n = self.index
        self.host = f"{SUBNET}.{n}.2"  # read by _write_config (ListenAddress)
        self.local_address = f"{SUBNET}.{n}.1"
        self.veth_host = f"jrv{n}h"
        self.veth_peer = f"jrv{n}p"
        claimed_lock = None
        if user is None:  # a user of our own: killing "its" kernels touches nobody else's
            user, claimed_lock = claim_user(DEFAULT_USER)
        try:
            super().__init__(name, user=user, port=port, start=False, **kwargs)
        except BaseException:
            if claimed_lock is not None:
                claimed_lock.close()
            raise
        if claimed_lock is not None:
            self._user_lock = claimed_lock  # released by close()
        try:
            self._create_netns()
            if start:
                self.start()
        except BaseException:
            self.close()
            raise

    # ------------------------------------------------------------ namespace

    def _create_netns(self) -> None:
        n = self.index
        ns = f"{NETNS_PREFIX}{os.getpid()}-{n}"
        _ip("netns", "add", ns)
        self.netns = ns
        _ip("link", "add", self.veth_host, "type", "veth", "peer", "name", self.veth_peer)
        _ip("link", "set", self.veth_peer, "netns", ns)
        _ip("addr", "add", f"{self.local_address}/30", "dev", self.veth_host)
        # never let 10.231.n.0/30 fall through to the default route while cut
        self._route = f"{SUBNET}.{n}.0/30"
        _ip("route", "add", "unreachable", self._route, "metric", "4000")
        _ip("link", "set", self.veth_host, "up")
        self.ns_exec(["ip", "addr", "add", f"{self.host}/30", "dev", self.veth_peer])
        self.ns_exec(["ip", "link", "set", self.veth_peer, "up"])
        self.ns_exec(["ip", "link", "set", "lo", "up"])
        self._wait_link_up()

    def _ns_argv(self, argv: list[str]) -> list[str]:
        if self.netns is None:
            raise SSHTestHostError("the namespace is gone")
        return ["ip", "netns", "exec", self.netns, *argv]

    def ns_exec(self, argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        """Run ARGV inside the namespace (as root); raises on failure."""
        return _run(self._ns_argv(argv), **kwargs)

    def _wait_link_up(self, timeout: float = 10.0) -> None:
        def link() -> str:
            argv = ["ip", "-o", "link", "show", self.veth_host]
            return subprocess.run(argv, capture_output=True, text=True, check=False).stdout

        try:
            eventually(
                link,
                lambda out: "LOWER_UP" in out and ",UP" in out,
                timeout=timeout,
                interval=0.02,
                what=f"{self.veth_host} up",
            )
        except NeverHappened as exc:
            raise SSHTestHostError(f"{self.veth_host} did not come up ({exc})") from None

    # --------------------------------------------------------------- faults

    def cut(self) -> None:
        """Take the link down (root side of the veth): carrier loss on the peer."""
        _ip("link", "set", self.veth_host, "down")

    def restore(self) -> None:
        """Bring the link back up (returns once it carries traffic again)."""
        _ip("link", "set", self.veth_host, "up")
        self._wait_link_up()

    def drop(self) -> None:
        """Drop every packet in and out of the namespace, silently (no RST, no ICMP)."""
        rules = (
            f"table inet {DROP_TABLE} {{\n"
            "  chain input { type filter hook input priority -300; policy drop;"
            ' iifname "lo" accept; tcp flags & (syn | ack) == syn counter; }\n'
            "  chain output { type filter hook output priority -300; policy drop;"
            ' oifname "lo" accept; }\n'
            "}\n"
        )
        self.ns_exec(["nft", "-f", "-"], input=rules)

    def undrop(self) -> None:
        """Remove the drop table (no-op if absent)."""
        if self.netns is not None:
            _quiet(*self._ns_argv(["nft", "delete", "table", "inet", DROP_TABLE]))

    def syns_dropped(self) -> int:
        """TCP SYNs (connection attempts) the drop table has swallowed since drop()."""
        if self.netns is None:
            return 0
        out = subprocess.run(
            self._ns_argv(["nft", "list", "chain", "inet", DROP_TABLE, "input"]),
            capture_output=True,
            text=True,
            check=False,
        ).stdout
        m = re.search(r"counter packets (\d+)", out)
        return int(m.group(1)) if m else 0

    @property
    def dropping(self) -> bool:
        if self.netns is None:
            return False
        out = subprocess.run(
            self._ns_argv(["nft", "list", "tables"]), capture_output=True, text=True, check=False
        ).stdout
        return f"inet {DROP_TABLE}" in out

    @contextlib.contextmanager
    def link_cut(self) -> Iterator[NetnsHost]:
        """``with host.link_cut():`` the link is down inside the block."""
        self.cut()
        try:
            yield self
        finally:
            self.restore()

    @contextlib.contextmanager
    def dropped(self) -> Iterator[NetnsHost]:
        """``with host.dropped():`` every packet is dropped inside the block."""
        self.drop()
        try:
            yield self
        finally:
            self.undrop()

    # ----------------------------------------------------- sshd in the netns

    def _sshd_argv(self) -> list[str]:
        # `ip netns exec` execs sshd: the same pid
        return self._ns_argv(super()._sshd_argv())

    def _ss(self, *args: str) -> str:
        if self.netns is None:
            return ""
        return subprocess.run(
            self._ns_argv(["ss", *args]), capture_output=True, text=True, check=False
        ).stdout

    def _session_pids(self) -> set[int]:
        table = _proc_table()
        pids: set[int] = set()
        if self._proc is not None:
            pids |= {
                p for p in _descendants(self._proc.pid, table) if table[p][1].startswith("sshd")
            }
        out = self._ss("-Htanp", f"( sport = :{self.port} )")
        for m in re.finditer(r'\("sshd",pid=(\d+),', out):
            pids.add(int(m.group(1)))
        return {p for p in pids if p in table and table[p][1].startswith("sshd")}

    def established_connections(self) -> int:
        """Established TCP connections to our port, counted in the namespace."""
        out = self._ss("-Htn", "state", "established", f"( sport = :{self.port} )")
        return sum(1 for line in out.splitlines() if line.strip())

    def _log_since(self, offset: int) -> str:
        with open(self.log_path, "rb") as f:
            f.seek(offset)
            return f.read().decode(errors="replace")

    def connection_attempts(self, since: int = 0) -> int:
        """TCP connections sshd accepted ("Connection from ...") after log offset SINCE.

        Counts bare TCP probes too; see :meth:`ssh_attempts`.
        """
        return len(re.findall(r"^Connection from ", self._log_since(since), flags=re.MULTILINE))

    def ssh_attempts(self, since: int = 0) -> int:
        """Connections after log offset SINCE that went past TCP (sent an SSH version).

        A bare TCP reachability probe logs "kex_exchange_identification: Connection
        closed by remote host"; everything else is a handshake attempt.
        """
        text = self._log_since(since)
        probes = len(re.findall(r"^kex_exchange_identification: ", text, flags=re.MULTILINE))
        return self.connection_attempts(since) - probes

    def log_size(self) -> int:
        return self.log_path.stat().st_size

    # ------------------------------------------------------------- teardown

    def close(self) -> None:
        """Stop sshd, delete namespace (with its nft tables), veth pair and route."""
        try:
            with contextlib.suppress(Exception):
                if getattr(self, "netns", None) is not None:
                    self.undrop()
                    if getattr(self, "veth_host", None):
                        _quiet("ip", "link", "set", self.veth_host, "up")
            with contextlib.suppress(Exception):
                super().close()
        finally:
            ns = getattr(self, "netns", None)
            if ns is not None:
                _kill_netns_processes(ns)
                _quiet("ip", "netns", "del", ns)
                self.netns = None
            if getattr(self, "veth_host", None):
                _quiet("ip", "link", "del", self.veth_host)
            if getattr(self, "_route", None):
                _quiet("ip", "route", "del", "unreachable", str(self._route))
                self._route = None
            lock = getattr(self, "_index_lock", None)
            if lock is not None:
                lock.close()
                self._index_lock = None

    def __enter__(self) -> NetnsHost:
        return self

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return (
            f"<NetnsHost {self.name} {self.user}@{self.host}:{self.port} in {self.netns} {state}>"
        )
