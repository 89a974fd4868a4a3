"""Secrets audit: the password, the key passphrase, a Jupyter server's token and the
kernel's HMAC key appear nowhere they should not (invariant 4), over full sessions on a
real sshd and on a real Jupyter server that already runs elsewhere (issue 15).

A real ``jupyter server`` (Python logging at DEBUG) saves server ``pw`` (password
auth) and ``enc`` (a passphrase-protected key), trusts the host key, adds a
profile on each, starts a remote kernel through ``/api/kernels`` and runs a cell
over the kernel websocket; the CLI (DEBUG logging too) adds and tests the same
kind of servers with the secrets on stdin. A plain ``jupyter server`` with a token is
saved the same two ways (REST and CLI, token on stdin), its kernelspecs listed, a kernel
of it started and run. Then none of the secrets is in:

- the store and everything else under JUPYTER_DATA_DIR, HOME and the config dir
  (the HMAC key is expected only in Jupyter's own local connection file in the
  runtime dir, which is not searched for it);
- the server's DEBUG log, the CLI's DEBUG output;
- any API response body;
- the remote's ``ps -ww -eo args``, sampled all through the sessions;
- the remote kernel state dir ``~/.local/share/jupyter-remote/`` of the remote
  user, read while the kernels run.

Remote user: ``jrsec`` (claimed: it gets a real password for the run).
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websocket  # websocket-client

from tests.harness.clients import execute_request
from tests.harness.jupyter_servers import PlainJupyter
from tests.harness.live_server import LiveServer
from tests.harness.sshd_host import SSHTestHost

STATE_DIR = ".local/share/jupyter-remote"

# The CLI with Python logging at DEBUG on stderr: what a user debugging it would see.
CLI_DEBUG = (
    "import logging, sys; "
    "logging.basicConfig(level=logging.DEBUG, format='%(levelname)s %(name)s: %(message)s'); "
    "from jupyter_remote.cli.main import main; sys.exit(main(sys.argv[1:]))"
)


@pytest.fixture(scope="module")
def sec_host() -> Iterator[SSHTestHost]:
    password = "PW-" + secrets.token_urlsafe(18)
    with SSHTestHost(name="sec", user="jrsec", password=password) as host:
        host.run_as_user(["pkill", "-9", "-u", host.user, "-f", "jupyter-remote|ipykernel|_jr_src"])
        host.run_as_user(["rm", "-rf", str(host.home / STATE_DIR)])
        yield host
        host.run_as_user(["pkill", "-9", "-u", host.user, "-f", "jupyter-remote|ipykernel|_jr_src"])
        host.run_as_user(["rm", "-rf", str(host.home / STATE_DIR)])


class PsSampler:
    """``ps -ww -eo args`` over and over in a thread: every command line seen."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            out = subprocess.run(
                ["ps", "-ww", "-eo", "args"], capture_output=True, text=True, check=False
            ).stdout
            self.seen.update(out.splitlines())
            self.samples += 1
            self._stop.wait(0.05)

    def __enter__(self) -> PsSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)


class Session:
    """Talks to the live server and keeps every response body it got."""

    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.bodies: list[bytes] = []

    def call(self, method: str, path: str, body: Any = None, expect: int | None = 200) -> Any:
        status, raw = self.server.request(method, path, body)
        self.bodies.append(raw)
        if expect is not None:
            assert status == expect, f"{method} {path} -> {status}: {raw[:1000]!r}"
        return (status, json.loads(raw)) if expect is None else (json.loads(raw) if raw else None)

    def trust(self, name: str) -> None:
        status, answer = self.call("POST", f"/remote/servers/{name}/test", expect=None)
        if status == 409 and answer["reason"] == "hostkey_unknown":
            body = {"server": name, "fingerprint": answer["fingerprint"]}
            self.call("POST", "/remote/hostkeys", body, expect=201)
        else:
            assert status == 200, answer
        result = self.call("POST", f"/remote/servers/{name}/test")
        assert result["auth"] == "ok"

    def run_cell(self, kernel_id: str, code: str) -> str:
        url = self.server.url.replace("http", "ws") + f"/api/kernels/{kernel_id}/channels"
        ws = websocket.create_connection(url, header=self.server.auth, timeout=60)
        try:
            msg_id = uuid.uuid4().hex
            ws.send(execute_request(code, msg_id, username="audit", session=uuid.uuid4().hex))
            out: list[str] = []
            replied = idle = False
            deadline = time.monotonic() + 60
            while not (replied and idle) and time.monotonic() < deadline:
                raw = ws.recv()
                self.bodies.append(raw.encode() if isinstance(raw, str) else raw)
                msg = json.loads(raw)
                if msg.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                if msg["msg_type"] == "stream":
                    out.append(msg["content"]["text"])
                replied |= msg["msg_type"] == "execute_reply"
                idle |= msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle"
            assert replied and idle, out
            return "".join(out)
        finally:
            ws.close()


def read_tree(root: Path) -> dict[str, bytes]:
    """Every regular file under ROOT (as root: the remote user's private files too)."""
    found: dict[str, bytes] = {}
    if root.exists():
        for p in root.rglob("*"):
            if p.is_file() and not p.is_symlink():
                found[str(p)] = p.read_bytes()
    return found


def run_cli(server: LiveServer, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", CLI_DEBUG, *args],
        env=server.env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_no_secret_anywhere(tmp_path: Path, sec_host: SSHTestHost) -> None:
    host = sec_host
    password = host.password
    assert password
    passphrase = "PP-" + secrets.token_urlsafe(18)
    encrypted_key = host.make_encrypted_key(passphrase)
    server = LiveServer(tmp_path / "srv", debug_logging=True)
    session = Session(server)
    hmac_keys: list[str] = []
    remote_files: dict[str, bytes] = {}
    runtime_files: dict[str, bytes] = {}
    cli_output: list[str] = []

    with server, PsSampler() as ps, PlainJupyter() as jupyter:
        base = {"host": host.host, "port": host.port, "user": host.user}
        session.call(
            "POST",
            "/remote/servers",
            {**base, "name": "pw", "auth": "password", "password": password},
            expect=201,
        )
        session.call(
            "POST",
            "/remote/servers",
            {**base, "name": "enc", "identity": str(encrypted_key), "passphrase": passphrase},
            expect=201,
        )
        for name in ("pw", "enc"):
            session.trust(name)
            assert session.call("GET", f"/remote/servers/{name}")["has_secret"] is True
            profile = {"name": f"p{name}", "server": name, "python": host.remote_python}
            session.call("POST", "/remote/profiles", profile, expect=201)
            kernel = session.call("POST", "/api/kernels", {"name": f"remote-p{name}"}, expect=201)
            kid = kernel["id"]
            connection = json.loads((server.runtime_dir / f"kernel-{kid}.json").read_text())
            hmac_keys.append(connection["key"])
            assert len(connection["key"]) >= 16
            who = session.run_cell(kid, "import getpass, os; print(getpass.getuser(), 6 * 7)")
            assert who.split() == [host.user, "42"], who
            # while it runs: the remote state dir, the sessions and the remote kernel list
            state = read_tree(host.home / STATE_DIR)
            assert any(p.endswith("/info.json") for p in state), sorted(state)
            remote_files.update(state)
            runtime_files.update(read_tree(server.runtime_dir))  # gone after the shutdown
            session.call("GET", "/remote/sessions")
            session.call("GET", f"/api/kernels/{kid}")
            listed = session.call("GET", f"/remote/servers/{name}/kernels")
            assert [k["kernel_id"] for k in listed] == [kid]
            session.call("GET", "/remote/servers")
            # the remote's files, over SFTP on the same password/passphrase connection
            files = f"/remote/servers/{name}/files/~"
            text = {"type": "file", "format": "text", "content": "audit"}
            session.call("PUT", f"{files}/audit-{name}.txt", text)
            session.call("GET", files)
            status, raw = server.request(
                "GET", f"/remote/servers/{name}/download/~/audit-{name}.txt"
            )
            session.bodies.append(raw)
            assert status == 200 and raw == b"audit"
            moved = {"path": f"~/audit-{name}-moved.txt"}
            session.call("PATCH", f"{files}/audit-{name}.txt", moved)
            session.call("DELETE", f"{files}/audit-{name}-moved.txt", expect=204)
            session.call("DELETE", f"/api/kernels/{kid}", expect=204)

        # a Jupyter server that already runs elsewhere: its token in the keyring or memory only
        token = jupyter.token or ""
        session.call(
            "POST", "/remote/servers", {"name": "jup", "url": jupyter.url, "token": token}, 201
        )
        assert session.call("GET", "/remote/servers/jup")["has_secret"] is True
        specs = session.call("GET", "/remote/servers/jup/environments")
        assert [s["kernel_name"] for s in specs] == ["remote-jup--python3"]
        kernel = session.call("POST", "/api/kernels", {"name": "remote-jup--python3"}, expect=201)
        assert session.run_cell(kernel["id"], "print(6 * 7)").split() == ["42"]
        session.call("GET", "/remote/sessions")
        session.call("GET", "/remote/servers/jup/kernels")
        session.call("DELETE", f"/api/kernels/{kernel['id']}", expect=204)
        session.call("GET", "/remote/servers")

        # the CLI: secrets on stdin only, DEBUG logging on
        cli_steps = [
            (
                (
                    "server",
                    "add",
                    "clipw",
                    f"--host={host.host}",
                    f"--port={host.port}",
                    f"--user={host.user}",
                    "--password",
                ),
                password,
            ),
            (("server", "test", "clipw", "--password", "--json"), password),
            (
                (
                    "server",
                    "add",
                    "clienc",
                    f"--host={host.host}",
                    f"--port={host.port}",
                    f"--user={host.user}",
                    f"--identity={encrypted_key}",
                    "--passphrase",
                ),
                passphrase,
            ),
            (("server", "test", "clienc", "--passphrase", "--json"), passphrase),
            (("server", "add", "clijup", f"--url={jupyter.url}", "--token", "--json"), token),
        ]
        for argv, secret in cli_steps:
            result = run_cli(server, *argv, stdin=secret + "\n")
            assert result.returncode == 0, result.stderr[-3000:]
            cli_output.append(result.stdout + result.stderr)
            if "test" in argv:
                assert json.loads(result.stdout)["auth"] == "ok"
            if "clijup" in argv:  # saved, and it read the kernelspecs with that token
                assert json.loads(result.stdout)["kernelspecs"][0]["name"] == "python3"
        assert "DEBUG" in "".join(cli_output), "the CLI logged at DEBUG"
    assert ps.samples > 10 and any("ipykernel" in line for line in ps.seen), ps.samples

    server_log = server.log_text()
    assert "DEBUG" in server_log and "asyncssh" in server_log, "the server logged at DEBUG"
    local_files = {
        **read_tree(server.data_dir),
        **read_tree(server.home),
        **read_tree(server.config_dir),
    }
    assert any("remote/servers.json" in p for p in local_files)
    runtime_files.update(read_tree(server.runtime_dir))
    # control: the search finds a key where it is meant to be (Jupyter's connection file)
    for key in hmac_keys:
        assert any(key.encode() in data for data in runtime_files.values())

    places: dict[str, list[tuple[str, bytes]]] = {
        "local files (JUPYTER_DATA_DIR, HOME, config)": list(local_files.items()),
        "the server's DEBUG log": [("server.log", server_log.encode())],
        "the CLI's DEBUG output": [(f"cli {i}", t.encode()) for i, t in enumerate(cli_output)],
        "API response bodies": [(f"body {i}", b) for i, b in enumerate(session.bodies)],
        "ps -ww -eo args": [(line, line.encode()) for line in ps.seen],
        f"the remote state dir ~{host.user}/{STATE_DIR}": list(remote_files.items()),
    }
    secrets_to_find = {"password": password, "passphrase": passphrase, "token": token}
    secrets_to_find.update({f"HMAC key {i}": key for i, key in enumerate(hmac_keys)})
    leaks = [
        f"{what} found in {place}: {where}"
        for what, secret in secrets_to_find.items()
        for place, items in places.items()
        for where, data in items
        if secret.encode() in data
    ]
    # secrets never reach Jupyter's runtime dir either (the key does: Jupyter's own file)
    leaks += [
        f"{what} found in the runtime dir: {where}"
        for what, secret in (("password", password), ("passphrase", passphrase), ("token", token))
        for where, data in runtime_files.items()
        if secret.encode() in data
    ]
    assert not leaks, "\n".join(leaks)
