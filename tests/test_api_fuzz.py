"""API fuzzing: schemathesis against jupyter_remote/openapi.json on a LIVE server.

A real ``jupyter server`` (token auth, XSRF on) with a saved server ``box`` that
reaches a real sshd (user ``jrfuzz``), a profile ``p`` and a forward to a small
echo service. Every operation of the OpenAPI document gets generated requests,
valid (positive) and invalid (negative) ones, both at random and aimed at the
seeded names (path parameters, the body's server) so they reach past the 404s.
For every request:

- no 5xx, except the documented "remote unreachable/failed" answers (502/504
  with reason unreachable/timeout/remote_command_failed and a hint) of
  operations that talk to a remote;
- the answer conforms to the document (status code, content type, schema), and
  invalid input is rejected (schemathesis' negative_data_rejection);
- no "Traceback" / "Uncaught exception" in the server log;
- a rejected (4xx) request changed nothing: the store files under
  JUPYTER_DATA_DIR/remote and the kernelspecs are byte-for-byte the same.

Every failure is collected (up to a few per operation) and reported together.
The state is reset to the seeded one before a case whenever an accepted
mutation changed it. ``~/.ssh/config`` of the server sends every host name to
127.0.0.1 (port 1 unless explicit), so no fuzzed host is ever looked up in DNS
or contacted off this machine.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import runpy
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Ok
from schemathesis.hooks import GLOBAL_HOOK_DISPATCHER
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

import jupyter_remote
from jupyter_remote.web import routes as handlers
from tests.harness.live_server import LiveServer, implemented_methods
from tests.harness.sshd_host import SSHTestHost

pytestmark = pytest.mark.timeout(900)

OPENAPI = Path(jupyter_remote.__file__).parent / "openapi.json"
# Examples per operation and generation strategy; JR_FUZZ_EXAMPLES scales the run.
EXAMPLES = int(os.environ.get("JR_FUZZ_EXAMPLES", "18"))
MIN_CASES = 1000
ALLOWED_5XX_REASONS = {"unreachable", "timeout", "remote_command_failed"}
MAX_FAILURES_PER_OPERATION = 3


# ---------------------------------------------------------------- an echo service


class _Echo(BaseHTTPRequestHandler):
    """Answers every method with 200 and what it got: the service behind a forward."""

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        data = json.dumps(
            {"method": self.command, "path": self.path, "body_len": len(body)}
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _answer

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def echo_port() -> Iterator[int]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(httpd.server_address[1])
    finally:
        httpd.shutdown()
        httpd.server_close()


# ---------------------------------------------------------------- the live server


@pytest.fixture(scope="module")
def fuzz_host() -> Iterator[SSHTestHost]:
    with SSHTestHost(name="fuzz", user="jrfuzz") as host:
        yield host


class Seeded:
    """The live server with server ``box``, profile ``p`` and a forward, resettable."""

    def __init__(self, server: LiveServer, host: SSHTestHost, echo_port: int) -> None:
        self.server = server
        self.host = host
        self.echo_port = echo_port
        self.store_dir = server.data_dir / "remote"
        self.kernels_dir = server.data_dir / "kernels"
        self.hostkey_id = f"[127.0.0.1]:{host.port}"
        self.forward_id = ""
        server.json(
            "POST",
            "/remote/servers",
            {
                "name": "box",
                "host": "127.0.0.1",
                "port": host.port,
                "user": host.user,
                "identity": str(host.user_key),
            },
            expect=201,
        )
        server.json(
            "POST",
            "/remote/hostkeys",
            {"server": "box", "fingerprint": host.host_key_fingerprint},
            expect=201,
        )
        server.json(
            "POST",
            "/remote/profiles",
            {"name": "p", "server": "box", "python": host.remote_python, "cwd": "/tmp"},
            expect=201,
        )
        self.golden = self.store_snapshot()
        assert set(self.golden) >= {"remote/servers.json", "remote/profiles.json"}
        self.ensure_forward()

    def ensure_forward(self) -> None:
        """The seeded forward is open, and no other (accepted cases open some)."""
        for forward in self.server.json("GET", "/remote/forwards"):
            if forward["id"] != self.forward_id:
                self.server.json("DELETE", f"/remote/forwards/{forward['id']}", expect=204)
        if self.forward_id:
            status, _ = self.server.request("GET", f"/remote/forwards/{self.forward_id}")
            if status == 200:
                return
        made = self.server.json(
            "POST", "/remote/forwards", {"server": "box", "remote_port": self.echo_port}, expect=201
        )
        self.forward_id = made["id"]

    def store_snapshot(self, *, with_cache: bool = False) -> dict[str, tuple[int, bytes]]:
        """(mode, bytes) of every file of the store and of the kernelspecs."""
        snap: dict[str, tuple[int, bytes]] = {}
        for top in (self.store_dir, self.kernels_dir):
            if not top.exists():
                continue
            for path in sorted(top.rglob("*")):
                rel = str(path.relative_to(self.server.data_dir))
                if path.name == ".lock" or (not with_cache and rel.startswith("remote/cache")):
                    continue
                if path.is_file():
                    snap[rel] = (path.stat().st_mode, path.read_bytes())
                elif path.is_dir():
                    snap[rel + "/"] = (path.stat().st_mode, b"")
        return snap

    def reset(self) -> None:
        """Back to the seeded store (an accepted mutation may have changed it)."""
        now = self.store_snapshot()
        if now != self.golden:
            for rel in set(now) - set(self.golden):
                path = self.server.data_dir / rel
                if rel.endswith("/"):
                    continue
                path.unlink(missing_ok=True)
            for rel in sorted(set(now) - set(self.golden)):
                if rel.endswith("/"):
                    path = self.server.data_dir / rel
                    for child in sorted(path.rglob("*"), reverse=True):
                        child.rmdir() if child.is_dir() else child.unlink()
                    path.rmdir()
            for rel, (mode, data) in self.golden.items():
                path = self.server.data_dir / rel
                if rel.endswith("/"):
                    path.mkdir(parents=True, exist_ok=True, mode=mode & 0o777)
                    continue
                if not path.exists() or path.read_bytes() != data:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_bytes(data)
                    os.chmod(path, mode & 0o777)
            assert self.store_snapshot() == self.golden
        self.ensure_forward()


@pytest.fixture(scope="module")
def seeded(
    tmp_path_factory: pytest.TempPathFactory, fuzz_host: SSHTestHost, echo_port: int
) -> Iterator[Seeded]:
    root = tmp_path_factory.mktemp("fuzz")
    server = LiveServer(root)
    # Every host name goes to 127.0.0.1 and, unless the server gives a port, to
    # port 1 (refused at once): fuzzed hosts are never resolved nor contacted.
    (server.home / ".ssh" / "config").write_text("Host *\n  HostName 127.0.0.1\n  Port 1\n")
    with server:
        yield Seeded(server, fuzz_host, echo_port)


# ---------------------------------------------------------------- strategies


def _targets(seeded: Seeded, path: str) -> dict[str, str]:
    """Path parameters that name the seeded objects, so a case gets past the 404."""
    if path.startswith("/remote/servers/{name}"):
        return {"name": "box"}
    if path.startswith("/remote/profiles/{name}"):
        return {"name": "p"}
    if path.startswith("/remote/hostkeys/{name}"):
        return {"name": seeded.hostkey_id}
    if path.startswith(("/remote/sessions/{name}", "/remote/forwards/{name}", "/remote/forward/")):
        return {"name": seeded.forward_id}
    return {}


def _aim_body(seeded: Seeded, label: str, mode: GenerationMode) -> Callable[[Any], None]:
    """Point a generated body at the seeded server/profile, so it gets past the 404.

    Applied in schemathesis' ``before_call`` hook, which re-validates an edited
    case: a negative body that the edit made valid counts as positive from then on.
    """

    def aim(case: Any) -> None:
        body = case.body
        if not isinstance(body, dict):
            return
        if label in ("POST /remote/profiles", "POST /remote/hostkeys", "POST /remote/forwards"):
            body["server"] = "box"
        if label == "PUT /remote/profiles/{name}":
            body["name"] = "p"
            body["server"] = "box"
        if label == "POST /remote/forwards" and mode is GenerationMode.POSITIVE:
            body["remote_port"] = seeded.echo_port
            body.pop("local_port", None)

    return aim


_AIM: dict[str, Callable[[Any], None] | None] = {"now": None}


@pytest.fixture(scope="module")
def aim_hook() -> Iterator[None]:
    """A global ``before_call`` hook applying the aim of the case being sent."""

    def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
        aim = _AIM["now"]
        if aim is not None:
            aim(case)

    schemathesis.hook(before_call)
    try:
        yield
    finally:
        GLOBAL_HOOK_DISPATCHER.unregister(before_call)


# ---------------------------------------------------------------- the document


def test_document_is_generated_and_covers_every_route() -> None:
    """openapi.json is what scripts/make_openapi.py writes, and documents every
    route and method of the app (so the fuzzing below reaches all of them)."""
    script = Path(__file__).resolve().parent.parent / "scripts" / "make_openapi.py"
    assert json.loads(OPENAPI.read_text()) == runpy.run_path(str(script))["spec"]
    paths = json.loads(OPENAPI.read_text())["paths"]
    for pattern, cls in handlers.routes():
        template = re.sub(r"\(\?P<(\w+)>[^()]*\)", r"{\1}", pattern)
        assert template in paths, f"{pattern} ({cls.__name__}) is not documented"
        for method in implemented_methods(cls):
            assert method.lower() in paths[template], f"{method} {template} is not documented"


# ---------------------------------------------------------------- hand-made hostile bodies

# What a generator rarely makes: each must be a clear 400 that changes nothing.
HOSTILE_BODIES = {
    "nested 30,000 deep (fits in 64 KB)": b"[" * 30000 + b"]" * 30000,
    "nested object": b'{"a":' * 10000 + b"1" + b"}" * 10000,
    "over 64 KB": b'{"name": "' + b"a" * 70000 + b'"}',
    "NaN": b'{"name": "a", "server": "box", "port": NaN, "remote_port": NaN}',
    "Infinity": b'{"name": "a", "host": "h", "idle_timeout": -Infinity}',
    "a repeated key": b'{"name": "a", "name": "b", "server": "box", "host": "h"}',
    "5,000-digit number": b'{"name": "a", "port": ' + b"9" * 5000 + b"}",
    "not UTF-8": b'{"name": "\xff\xfe"}',
    "a lone surrogate key": b'{"\\ud800": 1}',
    "a byte order mark": b"\xef\xbb\xbf{}",
    "blank": b"  \n\t ",
    "a JSON string": b'"{\\"name\\": \\"a\\"}"',
    "a JSON array": b'[{"name": "a", "host": "h"}]',
    "null": b"null",
}


def test_hostile_bodies_are_400_and_change_nothing(seeded: Seeded) -> None:
    """Every operation that takes a JSON body, aimed at the seeded names."""
    document = json.loads(OPENAPI.read_text())
    targets = 0
    for path, item in document["paths"].items():
        for method, op in item.items():
            if method == "parameters" or "requestBody" not in op:
                continue
            if "application/json" not in op["requestBody"]["content"]:
                continue
            url = path
            for key, value in _targets(seeded, path).items():
                url = url.replace("{" + key + "}", urllib.parse.quote(value, safe=""))
            targets += 1
            for what, body in HOSTILE_BODIES.items():
                seeded.reset()
                before = seeded.store_snapshot(with_cache=True)
                offset = seeded.server.log_path.stat().st_size
                status, raw = seeded.server.request(method.upper(), url, body)
                with open(seeded.server.log_path, "rb") as f:
                    f.seek(offset)
                    log = f.read().decode(errors="replace")
                where = f"{method.upper()} {url} with {what}"
                assert status == 400, f"{where}: {status} {raw[:300]!r}"
                error = json.loads(raw)
                assert error["reason"] == "invalid" and error["message"], where
                assert "Traceback" not in log, f"{where}:\n{log[-3000:]}"
                assert seeded.store_snapshot(with_cache=True) == before, where
    assert targets >= 7


# ---------------------------------------------------------------- the fuzzing


def _fuzzer(strategy: Any, run: Callable[[Any], None]) -> Callable[[], None]:
    """A Hypothesis test sending EXAMPLES cases of ``strategy`` (fixed seed; no shrinking:
    every failure is recorded, not raised)."""

    @settings(
        max_examples=EXAMPLES,
        database=None,
        deadline=None,
        derandomize=True,
        phases=(Phase.explicit, Phase.generate),
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def fuzz(case: Any) -> None:
        run(case)

    return fuzz


def test_fuzz_every_operation(seeded: Seeded, aim_hook: None) -> None:
    document = json.loads(OPENAPI.read_text())
    # Every request carries the token; refusing requests without it is
    # test_auth_audit.py's subject, so no case is generated without it here.
    document.pop("security", None)
    schema = schemathesis.openapi.from_dict(document)
    operations = [r.ok() for r in schema.get_all_operations() if isinstance(r, Ok)]
    documented = document["paths"]
    assert len(operations) == sum(
        1 for item in documented.values() for m in item if m != "parameters"
    ), "every operation of the document must load"
    session = requests.Session()
    # token auth only: no login or _xsrf cookie from an earlier answer rides along
    session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
    base_url = seeded.server.url
    counts: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    seconds: Counter[str] = Counter()
    by_op: dict[str, Counter[int]] = {}
    failures: dict[str, list[str]] = {}
    started = time.monotonic()

    def record(label: str, message: str) -> None:
        failures.setdefault(label, [])
        if len(failures[label]) < MAX_FAILURES_PER_OPERATION:
            failures[label].append(message)

    def run_case(case: Any, aim: Callable[[Any], None] | None) -> None:
        label = case.operation.label
        _AIM["now"] = aim
        seeded.reset()
        before = seeded.store_snapshot(with_cache=True)
        log_offset = seeded.server.log_path.stat().st_size
        try:
            t0 = time.monotonic()
            response = case.call(
                base_url=base_url,
                session=session,
                headers=seeded.server.auth,
                timeout=120,
                allow_redirects=False,
            )
            seconds[label] += time.monotonic() - t0
        except requests.RequestException as exc:
            record(label, f"no answer: {exc!r}\n{case.as_curl_command(base_url=base_url)}")
            return
        counts[label] += 1
        status = response.status_code
        statuses[f"{status // 100}xx"] += 1
        by_op.setdefault(label, Counter())[status] += 1
        after = seeded.store_snapshot(with_cache=True)
        with open(seeded.server.log_path, "rb") as f:
            f.seek(log_offset)
            log = f.read().decode(errors="replace")
        curl = case.as_curl_command(base_url=base_url)
        problems: list[str] = []
        if "Traceback" in log or "Uncaught exception" in log:
            problems.append(f"server log:\n{log[-3000:]}")
        if status >= 500:
            try:
                reason = response.json().get("reason")
            except ValueError:
                reason = None
            if not (
                reason in ALLOWED_5XX_REASONS
                and str(status) in case.operation.definition.raw.get("responses", {})
                and response.json().get("hint")
            ):
                problems.append(f"server error {status}: {response.text[:500]}")
        if 400 <= status < 500 and after != before:
            changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
            problems.append(f"rejected with {status} but changed {changed}")
        try:
            case.validate_response(
                response,
                checks=[
                    status_code_conformance,
                    content_type_conformance,
                    response_schema_conformance,
                    negative_data_rejection,
                ],
            )
        except FailureGroup as exc:  # a BaseExceptionGroup, not an Exception
            problems.append(str(exc)[:1500])
        if problems:
            record(label, "\n".join(problems) + f"\nstatus {status}\n{curl}")

    for operation in operations:
        label = operation.label
        targets = _targets(seeded, operation.path)
        runs: list[tuple[GenerationMode, Any, Callable[[Any], None] | None]] = []
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            runs.append((mode, operation.as_strategy(generation_mode=mode), None))
            aimed = operation.as_strategy(generation_mode=mode, path_parameters=targets or None)
            runs.append((mode, aimed, _aim_body(seeded, label, mode)))
        for mode, strategy, aim in runs:
            fuzz = _fuzzer(strategy, lambda case, aim=aim: run_case(case, aim))
            try:
                fuzz()
            except Unsatisfiable:
                # nothing of this operation can be made invalid (no body, free-form
                # path parameters): every value is valid, the positive cases cover it
                if mode is not GenerationMode.NEGATIVE:
                    record(label, "no valid case could be generated")

    elapsed = time.monotonic() - started
    total = sum(counts.values())
    print(
        f"\nschemathesis: {total} cases over {len(counts)} operations in {elapsed:.0f} s; "
        f"statuses {dict(sorted(statuses.items()))}"
    )
    for label, n in sorted(counts.items()):
        answers = " ".join(f"{k}:{v}" for k, v in sorted(by_op[label].items()))
        print(f"  {n:4d}  {seconds[label]:5.1f} s  {label}  [{answers}]")
    assert not failures, "\n\n".join(
        f"== {label}\n" + "\n--\n".join(msgs) for label, msgs in failures.items()
    )
    assert total >= MIN_CASES
    assert set(counts) == {op.label for op in operations}, "every operation was called"
    assert "Traceback" not in seeded.server.log_text()
