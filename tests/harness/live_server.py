"""A real ``jupyter server`` subprocess with a token, for tests that need one.

Unlike pytest-jupyter's in-process ``jp_serverapp``, this is what a user runs:
its own process (so blocking HTTP clients such as ``requests``/schemathesis can
call it), its own HOME, JUPYTER_DATA_DIR and config dir, and a log file holding
everything the server printed (Python logging at DEBUG when asked).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from tornado import web

from .sshd_host import free_port
from .waiting import NeverHappened, eventually

# Python logging of the server process at DEBUG (jupyter_remote.*, asyncssh, tornado).
DEBUG_LOGGING = """
import logging
logging.basicConfig(
    level=logging.DEBUG, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True
)
"""


def implemented_methods(cls: type[web.RequestHandler]) -> list[str]:
    """HTTP methods a handler class (or a jupyter_remote base of it) implements itself.

    Jupyter's own APIHandler.options (CORS preflight: no data, allowed without auth
    by design) is not ours; every method we define is.
    """
    methods = []
    for method in cls.SUPPORTED_METHODS:
        for klass in cls.__mro__:
            if method.lower() in vars(klass):
                if klass.__module__.startswith("jupyter_remote"):
                    methods.append(method)
                break
    return methods


class LiveServer:
    """``python -m jupyter_server`` on 127.0.0.1:<free port> with token auth and XSRF on."""

    def __init__(
        self,
        root: Path,
        *,
        debug_logging: bool = False,
        env: Mapping[str, str] | None = None,
        config: Mapping[str, Any] | None = None,
    ) -> None:
        self.root = root
        self.home = root / "home"
        self.data_dir = root / "data"
        self.config_dir = root / "config"
        self.runtime_dir = root / "runtime"
        self.notebook_dir = root / "notebooks"
        for d in (self.home / ".ssh", self.data_dir, self.config_dir, self.runtime_dir):
            d.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.notebook_dir.mkdir(exist_ok=True)
        self.token = secrets.token_hex(24)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = root / "server.log"
        server_config: dict[str, Any] = {
            "ServerApp": {
                # only ours: no jupyterlab (its extension manager would look at PyPI)
                "jpserver_extensions": {
                    "jupyter_remote": True,
                    "jupyterlab": False,
                    "jupyter_lsp": False,
                    "notebook_shim": False,
                    "jupyter_server_terminals": False,
                },
                "open_browser": False,
                "allow_root": os.geteuid() == 0,
                "port_retries": 0,
                "disable_check_xsrf": False,
            },
            "IdentityProvider": {"token": self.token},
            "MappingKernelManager": {"cull_idle_timeout": 0},
        }
        for section, values in (config or {}).items():
            server_config.setdefault(section, {}).update(values)
        (self.config_dir / "jupyter_server_config.json").write_text(json.dumps(server_config))
        if debug_logging:
            (self.config_dir / "jupyter_server_config.py").write_text(DEBUG_LOGGING)
        self.env = {
            **os.environ,
            "HOME": str(self.home),
            "JUPYTER_DATA_DIR": str(self.data_dir),
            "JUPYTER_CONFIG_DIR": str(self.config_dir),
            "JUPYTER_RUNTIME_DIR": str(self.runtime_dir),
            "JUPYTER_PLATFORM_DIRS": "0",
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
        self.env.pop("SSH_AUTH_SOCK", None)
        self.env.pop("JUPYTER_TOKEN", None)
        self._proc: subprocess.Popen[bytes] | None = None

    # ------------------------------------------------------------ lifecycle

    def start(self, timeout: float = 60.0) -> LiveServer:
        argv = [
            sys.executable,
            "-m",
            "jupyter_server",
            "--ip=127.0.0.1",
            f"--port={self.port}",
            f"--ServerApp.root_dir={self.notebook_dir}",
            "--debug",
        ]
        with open(self.log_path, "ab") as log:
            self._proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=str(self.notebook_dir),
                start_new_session=True,
            )
        proc = self._proc

        def state() -> str:
            if proc.poll() is not None:
                return "exited"
            with contextlib.suppress(OSError, urllib.error.URLError):
                if self.request("GET", "/api/status")[0] == 200:
                    return "up"
            return "starting"

        with contextlib.suppress(NeverHappened):  # the log says why
            if eventually(state, lambda s: s != "starting", timeout=timeout, interval=0.2) == "up":
                return self
        self.stop()
        raise RuntimeError(f"jupyter server did not start:\n{self.log_text()[-4000:]}")

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)  # jupyter_server shuts kernels down on SIGTERM
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)

    def terminate(self, timeout: float) -> int | None:
        """One SIGTERM, as a user's Ctrl-C or a service manager sends: the exit status if
        the server exited within TIMEOUT s, else None (it still runs; ``stop`` ends it)."""
        proc = self._proc
        if proc is None:
            return None
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------ inspection

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"token {self.token}"}

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        *,
        auth: bool = True,
        timeout: float = 120,
    ) -> tuple[int, bytes]:
        """One HTTP request (stdlib): (status, body); errors are answers too."""
        data: bytes | None
        if body is None:
            data = b"{}" if method in ("POST", "PUT", "PATCH") else None
        elif isinstance(body, bytes):
            data = body
        else:
            data = json.dumps(body).encode()
        all_headers = {**(self.auth if auth else {}), **(headers or {})}
        req = urllib.request.Request(  # noqa: S310 - http://127.0.0.1 only
            self.url + path, data=data, method=method, headers=all_headers
        )
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310
                return resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def json(self, method: str, path: str, body: Any = None, *, expect: int = 200) -> Any:
        status, raw = self.request(method, path, body)
        assert status == expect, f"{method} {path} -> {status}: {raw[:2000]!r}"
        return json.loads(raw) if raw else None


@contextlib.contextmanager
def live_server(root: Path, **kwargs: Any) -> Iterator[LiveServer]:
    server = LiveServer(root, **kwargs)
    with server:
        yield server
