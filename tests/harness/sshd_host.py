"""A real OpenSSH ``sshd`` (and ``ssh-agent``) for the test suite.

Plain stdlib module: no pytest, no asyncssh, importable by any Python >= 3.9.

``SSHTestHost`` starts ``/usr/sbin/sshd -D -e -f CONFIG -E LOG`` on a free
127.0.0.1 port with its own work directory, host key, user key and
authorized_keys, and points at a "remote" Python environment holding ipykernel
(built once per machine and cached).

As root the "remote" user is a dedicated system account (default ``jrtest``);
otherwise sshd runs as the current user, who is also the remote user.

Every sshd and ssh-agent started here is killed at interpreter exit (atexit) and
also when this process dies abruptly (``PR_SET_PDEATHSIG`` on the listener).
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import fcntl
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Optional

from .waiting import NeverHappened, eventually

SSHD = "/usr/sbin/sshd"
SYSTEM_PYTHON = "/usr/bin/python3"
DEFAULT_USER = "jrtest"
LOCALHOST = "127.0.0.1"
IS_ROOT = os.geteuid() == 0
#: Override where the remote env is cached with this environment variable.
CACHE_ENV_VAR = "JUPYTER_REMOTE_TEST_CACHE"


class SSHTestHostError(RuntimeError):
    """The test sshd (or its fixtures) could not be set up."""


# --------------------------------------------------------------------------- helpers


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOCALHOST, 0))
        return int(s.getsockname()[1])


def _run(argv: Sequence[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    kwargs.setdefault("capture_output", True)
    kwargs.setdefault("text", True)
    proc = subprocess.run(list(argv), check=False, **kwargs)
    if proc.returncode != 0:
        raise SSHTestHostError(
            f"{' '.join(argv)!s} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}"
        )
    return proc


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """preexec_fn: SIGKILL this child if the test process dies (Linux only)."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG


def _preexec() -> Optional[Callable[[], None]]:
    # PDEATHSIG fires when the parent *thread* exits: from a worker thread (e.g.
    # asyncio.to_thread) it would kill sshd when the pool shuts down.  Only the
    # main thread gets it; atexit covers the rest.
    return _die_with_parent if threading.current_thread() is threading.main_thread() else None


def _proc_table() -> dict[int, tuple[int, str]]:
    """pid -> (ppid, comm) for every process we can see."""
    table: dict[int, tuple[int, str]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid ..."; comm may contain spaces/parentheses.
        lpar, rpar = stat.find("("), stat.rfind(")")
        comm = stat[lpar + 1 : rpar]
        fields = stat[rpar + 2 :].split()
        table[int(entry)] = (int(fields[1]), comm)
    return table


def _descendants(root: int, table: dict[int, tuple[int, str]]) -> set[int]:
    children: dict[int, list[int]] = {}
    for pid, (ppid, _comm) in table.items():
        children.setdefault(ppid, []).append(pid)
    found: set[int] = set()
    stack = [root]
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


def _pub(private_key: Path) -> Path:
    return private_key.parent / (private_key.name + ".pub")


def _kill(pid: int, sig: int = signal.SIGKILL) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


def _python_version(python: str) -> str:
    out = _run([python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"])
    return out.stdout.strip()


# ------------------------------------------------------------------- users (root)


def _shadow_hash(user: str) -> Optional[str]:
    with contextlib.suppress(OSError), open("/etc/shadow") as f:
        for line in f:
            fields = line.split(":")
            if fields[0] == user:
                return fields[1]
    return None


def ensure_user(name: str, home: Optional[str] = None) -> pwd.struct_passwd:
    """Create system user NAME if needed (root only) and make it non-locked.

    ``home``: its home directory (default /home/NAME); an existing user is moved there.

    With ``UsePAM no`` sshd refuses accounts whose shadow hash starts with "!"
    (locked, useradd's default); "*" means "no password, but not locked".  A real
    password set by ``set_password`` is left alone.
    """
    if not IS_ROOT:
        raise SSHTestHostError("creating a test user needs root")
    try:
        pw = pwd.getpwnam(name)
    except KeyError:
        where = ["-d", home] if home else []
        proc = subprocess.run(
            ["useradd", "-m", *where, "-s", "/bin/sh", name],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode not in (0, 9):  # 9: created concurrently by someone else
            raise SSHTestHostError(f"useradd {name} failed: {proc.stderr}") from None
        pw = pwd.getpwnam(name)
    if home and pw.pw_dir != home:
        _run(["usermod", "-d", home, name])
        pw = pwd.getpwnam(name)
    current = _shadow_hash(name)
    if current is None or current == "" or current.startswith("!"):
        _run(["usermod", "-p", "*", name])
    home_dir = Path(pw.pw_dir)
    if not home_dir.is_dir():
        home_dir.mkdir(mode=0o750, parents=True)
        os.chown(home_dir, pw.pw_uid, pw.pw_gid)
    return pw


def _try_claim_user(name: str) -> Optional[Any]:
    """Exclusive per-user lock (flock) while a test host owns that user's password.

    Concurrent test runs share the system users; only one at a time may set and
    reset a user's password.  Returns the open lock file, or None if taken.
    """
    locks = remote_env_cache_dir() / "user-locks"
    locks.mkdir(mode=0o755, parents=True, exist_ok=True)
    f = open(locks / f"{name}.lock", "w")  # noqa: SIM115 - held for the host's lifetime
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.close()
        return None
    return f


def claim_user(base: str, tries: int = 20) -> tuple[str, Any]:
    """First of BASE, BASE2, BASE3, ... not claimed by another live test host."""
    for i in range(1, tries + 1):
        name = base if i == 1 else f"{base}{i}"
        lock = _try_claim_user(name)
        if lock is not None:
            return name, lock
    raise SSHTestHostError(f"users {base}..{base}{tries} are all in use by other test runs")


# ------------------------------------------------------------- remote Python env


def remote_env_cache_dir() -> Path:
    if os.environ.get(CACHE_ENV_VAR):
        return Path(os.environ[CACHE_ENV_VAR])
    if IS_ROOT:
        return Path("/var/cache/jupyterlab-remote-tests")
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "jupyterlab-remote-tests"


def as_user_argv(user: Optional[str], argv: Sequence[str]) -> list[str]:
    if IS_ROOT and user and user != "root":
        return ["runuser", "-u", user, "--", *argv]
    return list(argv)


def _env_works(python: Path, user: Optional[str]) -> bool:
    if not python.exists():
        return False
    check = "import ipykernel, sys; print(sys.executable)"
    proc = subprocess.run(
        as_user_argv(user, [str(python), "-c", check]),
        capture_output=True,
        text=True,
        check=False,
        cwd="/",
    )
    return proc.returncode == 0 and proc.stdout.strip() == str(python)


def _make_venv(path: Path) -> None:
    argv = [SYSTEM_PYTHON, "-m", "venv", str(path)]
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if proc.returncode == 0:
        return
    # Debian ships venv/ensurepip separately (python3-venv): install it once.
    if IS_ROOT and shutil.which("apt-get"):
        shutil.rmtree(path, ignore_errors=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        _run(["apt-get", "update", "-q"], env=env)
        _run(["apt-get", "install", "-y", "-q", "python3-venv"], env=env)
        _run(argv)
        return
    raise SSHTestHostError(
        f"{' '.join(argv)} failed (install Debian's python3-venv):\n{proc.stderr}"
    )


def _relocate(env: Path, old: str, new: str) -> None:
    """Rewrite OLD -> NEW in the venv's scripts and pyvenv.cfg (after a rename)."""
    old_b, new_b = old.encode(), new.encode()
    candidates = [env / "pyvenv.cfg", *(p for p in (env / "bin").iterdir())]
    for p in candidates:
        if p.is_symlink() or not p.is_file():
            continue
        data = p.read_bytes()
        if old_b in data and b"\0" not in data[:4096]:
            p.write_bytes(data.replace(old_b, new_b))


_env_lock = threading.Lock()


def ensure_remote_env(user: Optional[str] = None) -> str:
    """Absolute path of a Python (Debian's python3 in a venv) that imports ipykernel.

    Built once per machine under ``remote_env_cache_dir()`` (build in a temporary
    sibling, then rename; an flock serialises concurrent builders) and reused
    while ``python -c 'import ipykernel'`` works as USER.  ~30 s the first time.
    """
    with _env_lock:
        cache = remote_env_cache_dir()
        cache.mkdir(mode=0o755, parents=True, exist_ok=True)
        os.chmod(cache, 0o755)  # noqa: S103 - the remote user must read it
        final = cache / f"remote-env-{_python_version(SYSTEM_PYTHON)}"
        python = final / "bin" / "python"
        if _env_works(python, user):
            return str(python)
        with open(cache / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if _env_works(python, user):
                return str(python)
            build = Path(tempfile.mkdtemp(prefix=".build-", dir=cache))
            try:
                os.chmod(build, 0o755)  # noqa: S103
                _make_venv(build)
                _run(
                    [
                        str(build / "bin" / "python"),
                        "-m",
                        "pip",
                        "install",
                        "-q",
                        "--disable-pip-version-check",
                        "--no-input",
                        "ipykernel",
                    ],
                    cwd="/",
                )
                _relocate(build, str(build), str(final))
                if IS_ROOT and user and user != "root":
                    pw = pwd.getpwnam(user)
                    for dirpath, dirnames, filenames in os.walk(build):
                        for name in [*dirnames, *filenames]:
                            os.lchown(os.path.join(dirpath, name), pw.pw_uid, pw.pw_gid)
                    os.chown(build, pw.pw_uid, pw.pw_gid)
                if final.exists() or final.is_symlink():
                    trash = Path(tempfile.mkdtemp(prefix=".trash-", dir=cache))
                    os.rename(final, trash / "env")
                    shutil.rmtree(trash, ignore_errors=True)
                os.rename(build, final)
            finally:
                shutil.rmtree(build, ignore_errors=True)
        if not _env_works(python, user):
            raise SSHTestHostError(f"{python} was built but cannot import ipykernel as {user}")
        return str(python)


# ----------------------------------------------------------------- cleanup registry

_live: dict[int, Any] = {}
_live_lock = threading.Lock()


def _register(obj: Any) -> None:
    with _live_lock:
        _live[id(obj)] = obj


def _unregister(obj: Any) -> None:
    with _live_lock:
        _live.pop(id(obj), None)


@atexit.register
def close_all() -> None:
    """Close every SSHTestHost / SSHAgent still alive (also runs at exit)."""
    with _live_lock:
        objs = list(_live.values())
    for obj in objs:
        with contextlib.suppress(Exception):
            obj.close()


# ------------------------------------------------------------------------ the host


class SSHTestHost:
    """One real OpenSSH sshd on 127.0.0.1:<free port> for tests.

    ``SSHTestHost(name="jump")`` makes an independent second instance (its log
    is at DEBUG1 so direct-tcpip forwards show up).
    """

    host = LOCALHOST

    def __init__(
        self,
        name: str = "main",
        *,
        user: Optional[str] = None,
        password: Optional[str] = None,
        password_auth: Optional[bool] = None,
        log_level: Optional[str] = None,
        port: Optional[int] = None,
        remote_env: bool = True,
        extra_config: Optional[dict[str, str]] = None,
        start: bool = True,
        home: Optional[str] = None,
    ) -> None:
        self.name = name
        self.password: Optional[str] = None
        self._password_was_set = False
        self.password_auth = bool(password_auth if password_auth is not None else password)
        self.log_level = log_level or ("DEBUG1" if name == "jump" else "VERBOSE")
        self.extra_config = dict(extra_config or {})
        self._proc: Optional[subprocess.Popen[bytes]] = None
        self._log_offset = 0
        self.previous_host_key_fingerprint: Optional[str] = None
        self._key_counter = 0

        self._user_lock: Optional[Any] = None
        wants_password = password is not None or self.password_auth
        if IS_ROOT:
            self.user = user or DEFAULT_USER
            if wants_password:  # a password is shared state: take a user of our own
                self.user, self._user_lock = claim_user(self.user)
            pw = ensure_user(self.user, home)
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        else:
            pw = pwd.getpwuid(os.getuid())
            if user and user != pw.pw_name:
                raise SSHTestHostError(
                    f"not root: sshd can only log in the current user {pw.pw_name}, not {user}"
                )
            self.user = pw.pw_name
        self.uid, self.gid = pw.pw_uid, pw.pw_gid
        self.home = Path(pw.pw_dir)

        self.workdir = Path(tempfile.mkdtemp(prefix=f"jr-sshd-{name}-", dir="/tmp"))
        _register(self)
        try:
            os.chmod(self.workdir, 0o755)  # noqa: S103 - sshd reads it as the user
            self.config_path = self.workdir / "sshd_config"
            self.log_path = self.workdir / "sshd.log"
            self.log_path.touch()
            self.authorized_keys_path = self.workdir / f"authorized_keys.{self.user}"

            self.original_host_key_path = self._new_host_key("ssh_host_ed25519_key")
            self._use_host_key(self.original_host_key_path)

            self.user_key = self.workdir / "id_ed25519"
            self._keygen(self.user_key, passphrase="", comment=f"{self.user}@jr-test-{name}")
            self.authorized_keys_path.write_text("")
            self.authorize_key(_pub(self.user_key).read_text())

            if wants_password:
                self.set_password(password or secrets.token_urlsafe(18))

            self.remote_python: str = ensure_remote_env(self.user) if remote_env else ""
            self.port = port or free_port()
            self._write_config()
            if start:
                self.start()
        except BaseException:
            self.close()
            raise

    # ---------------------------------------------------------------- keys

    def _keygen(self, path: Path, *, passphrase: str, comment: str) -> None:
        for p in (path, _pub(path)):
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
        _run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", passphrase, "-C", comment, "-f", str(path)]
        )

    def _new_host_key(self, filename: str) -> Path:
        path = self.workdir / filename
        self._keygen(path, passphrase="", comment=f"jr-test-{self.name}-host")
        return path

    def _use_host_key(self, path: Path) -> None:
        self.host_key_path = path
        pub = _pub(path).read_text().split()
        self.host_key_type: str = pub[0]
        #: "ssh-ed25519 AAAA..." (no comment)
        self.host_key_public: str = f"{pub[0]} {pub[1]}"
        out = _run(["ssh-keygen", "-lf", str(_pub(path))]).stdout.split()
        self.host_key_fingerprint: str = out[1]  # "SHA256:..."

    def known_hosts_entry(self) -> str:
        """known_hosts line trusting the current host key: ``[127.0.0.1]:PORT ssh-ed25519 AAAA``."""
        return f"[{self.host}]:{self.port} {self.host_key_public}"

    def authorize_key(self, public_key_line: str) -> None:
        """Append an OpenSSH public key line to the user's authorized_keys."""
        with open(self.authorized_keys_path, "a") as f:
            f.write(public_key_line.strip() + "\n")
        os.chmod(self.authorized_keys_path, 0o600)
        if IS_ROOT:
            os.chown(self.authorized_keys_path, self.uid, self.gid)

    def make_encrypted_key(self, passphrase: str) -> Path:
        """New ed25519 key protected by PASSPHRASE, authorized; returns the private key path."""
        self._key_counter += 1
        path = self.workdir / f"id_ed25519_enc{self._key_counter}"
        self._keygen(path, passphrase=passphrase, comment=f"{self.user}@jr-test-encrypted")
        self.authorize_key(_pub(path).read_text())
        return path

    # -------------------------------------------------------------- config

    def _write_config(self) -> None:
        opts: dict[str, str] = {
            "ListenAddress": self.host,
            "Port": str(self.port),
            "HostKey": str(self.host_key_path),
            "PidFile": "none",
            "UsePAM": "no",
            "LogLevel": self.log_level,
            "AuthorizedKeysFile": str(self.authorized_keys_path),
            # StrictModes walks every parent of AuthorizedKeysFile and rejects
            # group/world-writable ones: /tmp (1777) always fails it.
            "StrictModes": "no",
            "PubkeyAuthentication": "yes",
            "PasswordAuthentication": "yes" if self.password_auth else "no",
            "PermitEmptyPasswords": "no",
            "KbdInteractiveAuthentication": "no",
            "AllowTcpForwarding": "yes",
            "AllowStreamLocalForwarding": "yes",
            "AllowAgentForwarding": "no",
            "X11Forwarding": "no",
            "PermitTTY": "yes",
            "PermitRootLogin": "no",
            "AllowUsers": self.user,
            "Subsystem": "sftp internal-sftp",
            "MaxStartups": "100:30:200",
            "MaxSessions": "100",
            "MaxAuthTries": "20",
            "LoginGraceTime": "30",
            "ClientAliveInterval": "0",
            "UseDNS": "no",
            "PrintMotd": "no",
            "PrintLastLog": "no",
        }
        opts.update(self.extra_config)
        text = "".join(f"{k} {v}\n" for k, v in opts.items())
        header = f"# generated by tests/harness/sshd_host.py ({self.name})\n"
        self.config_path.write_text(header + text)
        _run([SSHD, "-t", "-f", str(self.config_path)])

    # ---------------------------------------------------------- lifecycle

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout: float = 15.0) -> None:
        """Start sshd (no-op if running); returns once it listens."""
        if self.running:
            return
        self._log_offset = self.log_path.stat().st_size
        with open(self.log_path, "ab") as log:
            self._proc = subprocess.Popen(
                self._sshd_argv(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_preexec(),
                close_fds=True,
                cwd="/",
            )
        if self._wait_listening(timeout):
            return
        rc = self._proc.poll()
        self.stop()
        raise SSHTestHostError(
            f"sshd {self.name} did not start on {self.host}:{self.port} (exit {rc}):\n"
            + self._new_log()
        )

    def _sshd_argv(self) -> list[str]:
        """sshd's command line, in the foreground (NetnsHost runs it in its namespace)."""
        return [SSHD, "-D", "-e", "-f", str(self.config_path), "-E", str(self.log_path)]

    def _wait_listening(self, timeout: float) -> bool:
        """After start: True once sshd says it listens, False if it exits or TIMEOUT passes."""
        proc = self._proc
        assert proc is not None
        ready = f"Server listening on {self.host} port {self.port}."
        with contextlib.suppress(NeverHappened):  # the caller reports the log
            eventually(
                lambda: ready in self._new_log() or proc.poll() is not None,
                timeout=timeout,
                interval=0.02,
            )
        return ready in self._new_log()

    def _new_log(self) -> str:
        with open(self.log_path, "rb") as f:
            f.seek(self._log_offset)
            return f.read().decode(errors="replace")

    def _session_pids(self) -> set[int]:
        """sshd processes serving this instance: the listener's sshd descendants and
        every sshd holding a socket on our port (orphans re-parented to init)."""
        table = _proc_table()
        pids: set[int] = set()
        if self._proc is not None:
            pids |= {p for p in _descendants(self._proc.pid, table) if table[p][1] == "sshd"}
        out = subprocess.run(
            ["ss", "-Htanp", f"( sport = :{self.port} )"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout
        for m in re.finditer(r'\("sshd",pid=(\d+),', out):
            pids.add(int(m.group(1)))
        return {p for p in pids if p in table and table[p][1] == "sshd"}

    def stop(self, timeout: float = 10.0) -> None:
        """Kill sshd and every connection it serves (clients see the link drop).

        Processes the user started in those sessions are not killed: they see
        EOF/EPIPE on their stdio, as after a real dropped connection.
        """
        proc = self._proc
        if proc is None:
            return
        doomed = self._session_pids()
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)  # listener first: no new accepts
            _kill(proc.pid)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout)
        deadline = time.monotonic() + timeout
        while True:
            for pid in doomed:
                _kill(pid)
            doomed = self._session_pids() - {proc.pid}
            if not doomed and self.established_connections() == 0:
                break
            if time.monotonic() > deadline:
                raise SSHTestHostError(f"sshd {self.name}: could not kill {sorted(doomed)}")
            time.sleep(0.02)
        self._proc = None

    def restart(self) -> None:
        """stop() then start() on the same port with the same host key."""
        self.stop()
        self.start()

    @contextlib.contextmanager
    def outage(self) -> Iterator[SSHTestHost]:
        """``with host.outage():`` sshd is down (connections dropped) inside the block."""
        self.stop()
        try:
            yield self
        finally:
            self.start()

    def restart_with_new_host_key(self) -> str:
        """Restart on the same port with a brand-new host key (an impostor).

        Returns the new fingerprint; the old one is in previous_host_key_fingerprint.
        """
        self._key_counter += 1
        new = self._new_host_key(f"ssh_host_ed25519_key.impostor{self._key_counter}")
        self._switch_host_key(new)
        return self.host_key_fingerprint

    def restore_original_host_key(self) -> None:
        """Go back to the original host key (restarting sshd if it was running)."""
        if self.host_key_path != self.original_host_key_path:
            self._switch_host_key(self.original_host_key_path)

    def _switch_host_key(self, path: Path) -> None:
        was_running = self.running
        self.stop()
        self.previous_host_key_fingerprint = self.host_key_fingerprint
        self._use_host_key(path)
        self._write_config()
        if was_running:
            self.start()

    def ensure_pristine(self) -> None:
        """Original host key and running: undo what a test may have left behind."""
        if self.host_key_path != self.original_host_key_path:
            self.restore_original_host_key()
        if not self.running:
            self.start()

    # ------------------------------------------------------------- inspection

    def established_connections(self) -> int:
        """Established TCP connections to our port, counted on the server side."""
        out = _run(["ss", "-Htn", "state", "established", f"( sport = :{self.port} )"]).stdout
        return sum(1 for line in out.splitlines() if line.strip())

    def log_text(self) -> str:
        """Whole sshd log (all starts of this instance)."""
        return self.log_path.read_text(errors="replace")

    def accepted_logins(self) -> int:
        """Number of successful authentications ("Accepted ... for USER") so far."""
        return len(re.findall(r"^Accepted \S+ for ", self.log_text(), flags=re.MULTILINE))

    def run_as_user(self, argv: Sequence[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        """Run ARGV locally as the remote user (``runuser`` when root), in its home.

        Returns the CompletedProcess (text, captured output, not checked).
        """
        kwargs.setdefault("capture_output", True)
        kwargs.setdefault("text", True)
        kwargs.setdefault("cwd", str(self.home))
        kwargs.setdefault("check", False)
        return subprocess.run(as_user_argv(self.user, argv), **kwargs)

    def set_password(self, password: str) -> None:
        """Give the remote user a real password (root only; chpasswd)."""
        if not IS_ROOT:
            raise SSHTestHostError("set_password needs root (chpasswd)")
        if self._user_lock is None:
            self._user_lock = _try_claim_user(self.user)
            if self._user_lock is None:
                raise SSHTestHostError(f"{self.user}'s password is owned by another test host")
        _run(["chpasswd"], input=f"{self.user}:{password}\n")
        self.password = password
        self._password_was_set = True

    # ---------------------------------------------------------------- teardown

    def close(self) -> None:
        """Stop sshd and remove the work dir (the user and the cached env stay)."""
        try:
            with contextlib.suppress(SSHTestHostError):
                self.stop()
            if self._password_was_set and IS_ROOT:
                with contextlib.suppress(SSHTestHostError):
                    _run(["usermod", "-p", "*", self.user])
                self._password_was_set = False
        finally:
            if self._user_lock is not None:
                self._user_lock.close()
                self._user_lock = None
            shutil.rmtree(self.workdir, ignore_errors=True)
            _unregister(self)

    def __enter__(self) -> SSHTestHost:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<SSHTestHost {self.name} {self.user}@{self.host}:{self.port} {state}>"


# ----------------------------------------------------------------------- ssh-agent


# ssh-agent is setgid (_ssh) on Debian, so exec clears PR_SET_PDEATHSIG: a tiny sh
# watchdog kills it when our end of its stdin pipe closes (also if we are killed).
_AGENT_WATCHDOG = 'ssh-agent -D -a "$1" </dev/null >/dev/null 2>&1 & echo $!; read -r _; kill -9 $!'


class SSHAgent:
    """A real ``ssh-agent -D -a SOCK`` holding the given keys."""

    def __init__(self, keys: Sequence[os.PathLike[str] | str] = ()) -> None:
        # Unix socket paths are limited to ~108 bytes: keep it short.
        self.dir = Path(tempfile.mkdtemp(prefix="jr-agent-", dir="/tmp"))
        self.socket_path = self.dir / "agent.sock"
        self.pid: Optional[int] = None
        _register(self)
        self._proc: Optional[subprocess.Popen[str]] = subprocess.Popen(
            ["/bin/sh", "-c", _AGENT_WATCHDOG, "sh", str(self.socket_path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
            close_fds=True,
        )
        try:
            assert self._proc.stdout is not None
            self.pid = int(self._proc.stdout.readline())
            with contextlib.suppress(NeverHappened):  # the socket, or the agent gone
                eventually(
                    lambda: self.socket_path.exists() or not Path(f"/proc/{self.pid}").exists(),
                    timeout=10,
                    interval=0.02,
                )
            if not self.socket_path.exists():
                raise SSHTestHostError("ssh-agent did not create its socket")
            for key in keys:
                self.add(key)
        except BaseException:
            self.close()
            raise

    def add(self, key: os.PathLike[str] | str) -> None:
        """ssh-add KEY (SSH_AUTH_SOCK set for that call only)."""
        env = {**os.environ, "SSH_AUTH_SOCK": str(self.socket_path)}
        _run(["ssh-add", "-q", str(key)], env=env, stdin=subprocess.DEVNULL)

    def close(self) -> None:
        """Kill the agent and remove its socket directory."""
        proc, self._proc = self._proc, None
        if proc is not None:
            if self.pid is not None:
                _kill(self.pid)
            with contextlib.suppress(OSError):
                proc.stdin.close()  # type: ignore[union-attr]
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
            with contextlib.suppress(OSError):
                proc.stdout.close()  # type: ignore[union-attr]
        shutil.rmtree(self.dir, ignore_errors=True)
        _unregister(self)

    def __enter__(self) -> SSHAgent:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
