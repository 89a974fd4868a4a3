"""Plain `jupyter server`s that "already run elsewhere": what a user points us at by URL.

Stdlib only. The servers run in a venv of their own (:func:`ensure_jupyter_env`), with
none of our extensions.

- :class:`PlainJupyter` on this machine's 127.0.0.1, with a token (or a password, or
  HTTPS with a certificate from :func:`make_tls`), as the current user;
- the same inside a :class:`~tests.harness.netns_host.NetnsHost`'s network namespace, on
  ITS 127.0.0.1, running as that host's remote user: reachable only through its sshd
  (``--via``), like a Jupyter behind a firewall that only SSH reaches.

The token (or the password's hash) is in a 0600 config file, never on a command line.
Readiness is read from the server's log ("is running at").
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Optional

from .sshd_host import (
    IS_ROOT,
    SYSTEM_PYTHON,
    _make_venv,
    _python_version,
    _relocate,
    _run,
    free_port,
    remote_env_cache_dir,
)
from .waiting import NeverHappened, eventually

#: what the "remote" Jupyter servers have: a server, ipykernel for its python3 kernelspec,
#: ipywidgets for the widget test (Debian's python3 in a venv any user can run)
JUPYTER_ENV_PACKAGES = ("jupyter_server>=2", "ipykernel>=6.29", "ipywidgets>=8")


def ensure_jupyter_env() -> str:
    """Absolute path of a Python that runs `jupyter server` (built once per machine under
    the test cache, readable by every test user; ~1 min the first time)."""
    cache = remote_env_cache_dir()
    cache.mkdir(mode=0o755, parents=True, exist_ok=True)
    final = cache / f"jupyter-env-{_python_version(SYSTEM_PYTHON)}"
    python = final / "bin" / "python"
    check = [str(python), "-c", "import jupyter_server, ipykernel, ipywidgets"]
    if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return str(python)
    with open(cache / ".jupyter-env.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
            return str(python)
        build = Path(tempfile.mkdtemp(prefix=".build-jupyter-", dir=cache))
        try:
            os.chmod(build, 0o755)  # noqa: S103 - every test user runs it
            _make_venv(build)
            pip = [str(build / "bin" / "python"), "-m", "pip", "install", "-q"]
            _run([*pip, "--disable-pip-version-check", "--no-input", *JUPYTER_ENV_PACKAGES])
            _relocate(build, str(build), str(final))
            shutil.rmtree(final, ignore_errors=True)
            os.rename(build, final)
        finally:
            shutil.rmtree(build, ignore_errors=True)
    return str(python)


def password_hash(password: str) -> str:
    """Jupyter's argon2 password hash (jupyter_server.auth.passwd), computed here."""
    out = subprocess.run(
        [
            ensure_jupyter_env(),
            "-c",
            "import sys; from jupyter_server.auth import passwd; print(passwd(sys.stdin.read()))",
        ],
        input=password,
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def make_tls(directory: Path, host: str = "127.0.0.1") -> tuple[Path, Path, Path]:
    """A private CA and a server certificate for ``host`` signed by it (openssl):
    (ca.pem, cert.pem, key.pem)."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca, key, csr, cert = (
        directory / n for n in ("ca.key", "ca.pem", "key.pem", "server.csr", "cert.pem")
    )
    run = lambda *argv: subprocess.run(argv, capture_output=True, check=True)  # noqa: E731
    run(
        "openssl",
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        str(ca_key),
        "-out",
        str(ca),
        "-days",
        "2",
        "-subj",
        "/CN=jr-test-ca",
    )
    run(
        "openssl",
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        str(key),
        "-out",
        str(csr),
        "-subj",
        f"/CN={host}",
    )
    ext = directory / "ext.cnf"
    ext.write_text(
        f"subjectAltName=IP:{host}\n" if host[0].isdigit() else f"subjectAltName=DNS:{host}\n"
    )
    run(
        "openssl",
        "x509",
        "-req",
        "-in",
        str(csr),
        "-CA",
        str(ca),
        "-CAkey",
        str(ca_key),
        "-CAcreateserial",
        "-out",
        str(cert),
        "-days",
        "2",
        "-extfile",
        str(ext),
    )
    return ca, cert, key


class PlainJupyter:
    """`python -m jupyter_server` with a token, no extension of ours, on 127.0.0.1."""

    def __init__(
        self,
        *,
        netns: Optional[str] = None,
        user: Optional[str] = None,
        port: Optional[int] = None,
        base_url: str = "/",
        token: Optional[str] = None,
        password: Optional[str] = None,
        tls: Optional[tuple[Path, Path]] = None,
        server_app: Optional[dict[str, Any]] = None,
    ) -> None:
        self.netns, self.user = netns, user
        self.port = port or (8888 if netns else free_port())
        self.token = token if token is not None else (None if password else secrets.token_hex(24))
        self.password = password
        scheme = "https" if tls else "http"
        self.url = f"{scheme}://127.0.0.1:{self.port}{base_url}"
        self.root = Path(tempfile.mkdtemp(prefix="jr-plain-jupyter-"))
        os.chmod(self.root, 0o700)
        self.log_path = self.root / "server.log"
        self.notebooks = self.root / "notebooks"
        self.notebooks.mkdir()
        app: dict[str, Any] = {
            "jpserver_extensions": {
                "jupyter_remote": False,
                "jupyterlab": False,
                "jupyter_lsp": False,
                "notebook_shim": False,
                "jupyter_server_terminals": False,
            },
            "open_browser": False,
            "allow_root": IS_ROOT and not user,
            "port_retries": 0,
            "ip": "127.0.0.1",
            "port": self.port,
            "base_url": base_url,
            "root_dir": str(self.notebooks),
            **(server_app or {}),
        }
        if tls:
            app["certfile"], app["keyfile"] = str(tls[0]), str(tls[1])
        config: dict[str, Any] = {"ServerApp": app}
        if password:
            config["PasswordIdentityProvider"] = {
                "hashed_password": password_hash(password),
                "token": "",
            }
        else:
            config["IdentityProvider"] = {"token": self.token or ""}
        (self.root / "config").mkdir()
        cfg = self.root / "config" / "jupyter_server_config.json"
        cfg.write_text(json.dumps(config))
        os.chmod(cfg, 0o600)
        if user and IS_ROOT:
            pw = pwd.getpwnam(user)
            for dirpath, dirnames, filenames in os.walk(self.root):
                for name in [dirpath, *(os.path.join(dirpath, n) for n in dirnames + filenames)]:
                    os.chown(name, pw.pw_uid, pw.pw_gid)
        self._proc: Optional[subprocess.Popen[bytes]] = None

    def _argv(self) -> list[str]:
        argv = [ensure_jupyter_env(), "-m", "jupyter_server"]
        if self.user and IS_ROOT:
            argv = ["runuser", "-u", self.user, "--", *argv]
        if self.netns:
            argv = ["ip", "netns", "exec", self.netns, *argv]
        return argv

    def _env(self) -> dict[str, str]:
        home = pwd.getpwnam(self.user).pw_dir if self.user else str(self.root)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": home,
            "JUPYTER_CONFIG_DIR": str(self.root / "config"),
            "JUPYTER_DATA_DIR": str(self.root / "data"),
            "JUPYTER_RUNTIME_DIR": str(self.root / "runtime"),
            "JUPYTER_PLATFORM_DIRS": "0",
            "PYTHONUNBUFFERED": "1",
        }
        return env

    def start(self, timeout: float = 60.0) -> PlainJupyter:
        with open(self.log_path, "ab") as log:
            self._proc = subprocess.Popen(
                self._argv(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self._env(),
                cwd=str(self.notebooks),
                start_new_session=True,
            )
        proc = self._proc
        with contextlib.suppress(NeverHappened):
            eventually(
                lambda: "is running at" in self.log_text() or proc.poll() is not None,
                timeout=timeout,
                interval=0.2,
            )
        if "is running at" not in self.log_text():
            self.stop()
            raise RuntimeError(f"jupyter server did not start:\n{self.log_text()[-3000:]}")
        return self

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PlainJupyter:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def main() -> int:
    """``python -m tests.harness.jupyter_servers --json PATH``: a :class:`PlainJupyter`
    with a token for the browser tests (ui-tests/tests/jupyter-server.spec.ts), its URL
    and token written to PATH (0600); runs until SIGTERM or until its parent is gone."""
    import argparse
    import sys
    import time

    parser = argparse.ArgumentParser(prog="python -m tests.harness.jupyter_servers")
    parser.add_argument("--json", required=True, help="where to write url and token")
    out = Path(parser.parse_args().json).resolve()
    stop: list[int] = []
    signal.signal(signal.SIGTERM, lambda signum, _frame: stop.append(signum))
    parent = os.getppid()
    with PlainJupyter() as server:
        tmp = out.with_suffix(".tmp")
        tmp.touch(mode=0o600)
        tmp.write_text(json.dumps({"url": server.url, "token": server.token}))
        os.replace(tmp, out)
        print(f"jupyter_servers: {server.url}", flush=True)
        while not stop and os.getppid() == parent:
            time.sleep(0.5)
    out.unlink(missing_ok=True)
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
