"""A hostile remote cannot hurt the local side (issue 11, item 6), over a real sshd.

A fake "python" on the test host answers everything jupyter-remote asks (the
environment probe, the agent, the interpreter check, `server test`'s version
line) with 400 MB of output, 200,000 nested brackets, or escape sequences in
every string. It is a profile's python, and the login PATH of this module's sshd
(``SetEnv PATH=...``) puts it first as ``python3`` for the probe and the agent's
`kernel list`. Whatever it sends:

- the local process stays within a fixed memory growth (100 MB over a benign run of
  the same command for the CLI, whose peak RSS a sitecustomize reports at exit; for
  the test process, its VmHWM after resetting it through /proc/self/clear_refs);
- the CLI exits 1 with a message and a hint, never a traceback;
- the REST API answers 502 with {message, reason, hint};
- no raw ESC (nor a C1 control) reaches the CLI's stdout/stderr or a JSON answer.

The remote user is ``jrhostile``.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from jupyter_client import KernelManager
from tornado.httpclient import HTTPClientError

from jupyter_remote.errors import RemoteCommandError
from jupyter_remote.kernels.agent_client import AgentClient
from jupyter_remote.manager import RemoteManager
from jupyter_remote.ssh.exec import STDERR_TAIL, run, stream
from jupyter_remote.store import Store
from jupyter_remote.store.secrets import SecretStore
from jupyter_remote.text import RemoteJSONError, parse_remote_json, printable
from tests.harness.rest import call, save_box
from tests.harness.servers import server_input, trust_host
from tests.harness.sshd_host import SSHTestHost

CLI = str(Path(sys.executable).parent / "jupyter-remote")
USER = "jrhostile"
MB = 1 << 20
MAX_GROWTH_MB = 100
#: What a terminal acts on: ESC, and U+009B (CSI) as UTF-8.
RAW_CONTROLS = (b"\x1b", b"\xc2\x9b", b"\x07")

FAKE_PYTHON = r"""#!/usr/bin/python3
'''A hostile "python" for tests/test_hostile_remote.py, placed on the test host.

It answers whatever jupyter-remote asks (the environment probe, the agent, the
interpreter check, server test's version line) as the file ``mode`` beside it says:

- benign: well-formed answers
- huge: 400 MB on stdout, whatever was asked
- huge-stderr: 400 MB on stderr, then exit 1
- nested: 200,000 nested "[" where JSON is expected (50,000 for the version check)
- ansi: well-formed answers whose strings carry escape sequences, C1 controls,
  bidi overrides and a lone surrogate
- ansi-crash: escape sequences on stderr and no answer (exit 3)
'''
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
MB = 1 << 20
HUGE = 400 * MB
MARKER = "@@jupyter-remote-probe@@ "
ESC = "\x1b[2J\x1b[H\x1b]0;pwned\x07\x1b[31m"
NASTY = ESC + "\x9b31m\u202e\ud800\r"


def mode():
    with open(os.path.join(HERE, "mode")) as f:
        return f.read().strip()


def kind():
    args = sys.argv[1:]
    code = args[1] if len(args) >= 2 and args[0] == "-c" else ""
    if "_jr_src" in code:  # the bootstrap: a framed script, then the JSON request
        n = int(sys.stdin.buffer.readline())
        script = sys.stdin.buffer.read(n)
        if b"SCRIPT_NAME = " in script:  # the bytecode cache's loader (bootcache.py):
            n = int(sys.stdin.buffer.readline())  # it reads the framed script after it
            script = sys.stdin.buffer.read(n)
        line = sys.stdin.buffer.readline()
        request = json.loads(line) if line.strip() else {}
        if b"def op_launch(" in script:  # every script carries the protocol part (the
            return "agent", request  # probe marker too): the agent is the one that launches
        return "probe", request
    if "find_spec" in code and "ipykernel" in code:  # the interpreter check (its request
        sys.stdin.readline()  # on stdin: the working directory, read and ignored here)
        return "check", {}
    if "version_info" in code:
        return "version", {}
    return "other", {}


def flood(stream):
    chunk = b"x" * (MB - 1) + b"\n"
    try:
        for _ in range(HUGE // MB):
            stream.write(chunk)
        stream.flush()
    except (BrokenPipeError, OSError):
        os._exit(0)


def out(text):
    sys.stdout.write(text)
    sys.stdout.flush()


def answer(what, request, nasty):
    s = NASTY if nasty else ""
    if what == "probe":
        env = {
            "python": "/opt/" + s + "env/bin/python",
            "kind": "venv",
            "name": s + "torch" + s,
            "version": "3.11" + s,
            "ipykernel": True,
            "path": "/opt/" + s,
            "source": s,
            "error": (s + "broken") if nasty else None,
        }
        body = {"envs": [env], "errors": [s + "warning"] if nasty else [], "probe": {s: s}}
        out("noise " + (ESC if nasty else "") + "\n" + MARKER + json.dumps(body) + "\n")
    elif what == "agent":
        op = request.get("op")
        if op == "list":
            kernel = {
                "kernel_id": "k" + s,
                "state": s + "running",
                "pid": 4242,
                "python": "/x/" + s,
                "cwd": s,
                "profile": s,
                "started": 1700000000,
            }
            out(json.dumps({"ok": True, "result": {"kernels": [kernel]}}) + "\n")
        else:
            out(json.dumps({"ok": False, "error": s + "agent failed", "hint": s + "a hint"}) + "\n")
    elif what == "check":
        out(json.dumps({"version": "3.11.2" + s, "ipykernel": True, "prefix": "/opt/" + s}) + "\n")
    elif what == "version":
        out("3.11" + (ESC if nasty else "") + ".2\n")


def main():
    m = mode()
    what, request = kind()
    if m == "huge":
        flood(sys.stdout.buffer)
    elif m == "huge-stderr":
        flood(sys.stderr.buffer)
        sys.exit(1)
    elif m == "nested":
        if what == "probe":
            out("\n" + MARKER + "[" * 200000 + "\n")
        elif what == "version":
            out("3.11.2\n")
        elif what == "check":  # within the 64 KiB a version check may answer
            out("[" * 50000 + "\n")
        else:
            out("[" * 200000 + "\n")
    elif m == "ansi-crash":
        sys.stderr.write(ESC + "crashed" + "\x9b2J\n")
        sys.exit(3)
    else:
        answer(what, request, nasty=(m == "ansi"))


main()
"""


# ------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def fake_dir() -> Iterator[Path]:
    """A directory on the test host holding the fake ``python3`` (and ``python``)."""
    path = Path(tempfile.mkdtemp(prefix="jr-hostile-fake-", dir="/tmp"))
    os.chmod(path, 0o755)  # noqa: S103 - the remote user runs the fake from here
    fake = path / "python3"
    fake.write_text(FAKE_PYTHON)
    fake.chmod(0o755)
    (path / "python").symlink_to("python3")
    (path / "mode").write_text("benign\n")
    (path / "mode").chmod(0o644)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def hostile_host(fake_dir: Path) -> Iterator[SSHTestHost]:
    """sshd whose sessions get a PATH with the fake python3 first (sshd's SetEnv)."""
    path = f"PATH={fake_dir}:/usr/bin:/bin"
    with SSHTestHost(
        name="hostile", user=USER, remote_env=False, extra_config={"SetEnv": path}
    ) as host:
        yield host


@dataclass
class World:
    host: SSHTestHost
    fake_dir: Path
    env: dict[str, str]

    @property
    def fake(self) -> str:
        return str(self.fake_dir / "python3")

    def mode(self, mode: str) -> None:
        (self.fake_dir / "mode").write_text(mode + "\n")

    def manager(self) -> RemoteManager:
        return RemoteManager(Store(), secrets=SecretStore(use_keyring=False), connect_timeout=60)


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory,
    hostile_host: SSHTestHost,
    fake_dir: Path,
    peak_reporter: Path,
) -> Iterator[World]:
    """This module's HOME and JUPYTER_DATA_DIR, with server ``box`` saved and trusted."""
    root = tmp_path_factory.mktemp("hostile-remote")
    with pytest.MonkeyPatch.context() as mp:
        home = root / "home"
        (home / ".ssh").mkdir(parents=True, mode=0o700)
        env = {
            "HOME": str(home),
            "JUPYTER_DATA_DIR": str(root / "data"),
            "JUPYTER_CONFIG_DIR": str(root / "config"),
        }
        for key, value in env.items():
            mp.setenv(key, value)
        mp.delenv("SSH_AUTH_SOCK", raising=False)
        cli_env = {**os.environ, **env, "PYTHONUTF8": "1", "PYTHONPATH": str(peak_reporter)}
        w = World(hostile_host, fake_dir, cli_env)

        async def setup() -> None:
            manager = w.manager()
            try:
                trust_host(manager.store, hostile_host)
                await manager.add_server(server_input(hostile_host))
            finally:
                await manager.close()

        asyncio.run(setup())
        yield w


@pytest.fixture
def mode(world: World) -> Iterator[World]:
    """The world; the fake is benign again afterwards."""
    yield world
    world.mode("benign")


# ------------------------------------------------------------------ helpers


@dataclass
class CliRun:
    returncode: int
    stdout: bytes
    stderr: bytes
    peak_rss_mb: float

    @property
    def text(self) -> str:
        return (self.stdout + self.stderr).decode("utf-8", "replace")


#: Imported by every Python the CLI runs as (PYTHONPATH): at exit it writes the
#: process's own peak RSS (VmHWM) where JR_TEST_PEAK_FILE says. wait4's ru_maxrss
#: cannot tell: a child starts from its parent's high-water mark (pytest's, ~120 MB).
PEAK_REPORTER = """
import atexit, os

def _report_peak():
    path = os.environ.get("JR_TEST_PEAK_FILE")
    if path:
        with open("/proc/self/status") as status, open(path, "w") as out:
            out.write(next(l for l in status if l.startswith("VmHWM:")).split()[1])

atexit.register(_report_peak)
"""


@pytest.fixture(scope="module")
def peak_reporter(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("peak-reporter")
    (path / "sitecustomize.py").write_text(PEAK_REPORTER)
    return path


def run_cli(world: World, *args: str, timeout: float = 180) -> CliRun:
    """Run ``jupyter-remote ARGS`` (the console script); its peak RSS as it reports it."""
    with tempfile.TemporaryDirectory() as tmp:
        peak = Path(tmp) / "peak"
        env = {**world.env, "JR_TEST_PEAK_FILE": str(peak)}
        proc = subprocess.run(
            [CLI, *args],
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
        assert peak.exists(), "the CLI did not report its peak RSS"
        peak_mb = int(peak.read_text()) / 1024
    return CliRun(proc.returncode, proc.stdout, proc.stderr, peak_mb)


def assert_clean_failure(result: CliRun, *words: str) -> None:
    """Exit 1, "error: ..." and "hint: ..." on stderr, no traceback, no raw control."""
    err = result.stderr.decode("utf-8", "replace")
    assert result.returncode == 1, result.text
    assert "Traceback" not in result.text, result.text
    assert err.startswith("error: ") and "\nhint: " in err, err
    for word in words:
        assert word in err, err
    assert_no_raw_controls(result.stdout + result.stderr)


def assert_no_raw_controls(data: bytes) -> None:
    for raw in RAW_CONTROLS:
        assert raw not in data, f"{raw!r} reached the output: {data[:2000]!r}"


def strings(value: Any) -> Iterator[str]:
    """Every string in a JSON value, keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)


def assert_printable_json(body: bytes) -> Any:
    """No raw control byte in the answer, and none once decoded either."""
    assert_no_raw_controls(body)
    data = json.loads(body)
    for text in strings(data):
        assert printable(text) == text, f"unescaped control characters in {text!r}"
    return data


def reset_peak() -> int:
    """Reset this process's VmHWM to its current RSS (Linux clear_refs); RSS in kB."""
    Path("/proc/self/clear_refs").write_text("5")
    return status_kb("VmRSS")


def status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(field)


def growth_mb(rss_before_kb: int) -> float:
    return (status_kb("VmHWM") - rss_before_kb) / 1024


# ------------------------------------------------------------------ the fake is first


def test_login_path_puts_the_fake_python_first(world: World) -> None:
    """The premise of this module: sshd's SetEnv PATH reaches the login (OpenSSH 9.2)."""

    async def go() -> str:
        manager = world.manager()
        try:
            async with manager.pool.connection(await manager.endpoint("box")) as conn:
                return (await run(conn, "command -v python3")).stdout.strip()
        finally:
            await manager.close()

    assert asyncio.run(go()) == world.fake


# ------------------------------------------------------------------ exec bounds


def test_run_stops_reading_at_the_limit_with_bounded_memory(world: World) -> None:
    """400 MB on stdout: RemoteCommandError naming host and what overflowed; memory flat;
    400 MB on stderr: only a tail is kept; the connection stays usable."""

    async def go() -> None:
        manager = world.manager()
        try:
            async with manager.pool.connection(await manager.endpoint("box")) as conn:
                before = reset_peak()
                with pytest.raises(RemoteCommandError) as info:
                    await run(conn, "head -c 419430400 /dev/zero", what="the test's output")
                assert growth_mb(before) < MAX_GROWTH_MB
                message = info.value.message
                assert f"127.0.0.1:{world.host.port}" in message
                assert "the test's output" in message.lower() and "64 KiB" in message
                assert info.value.hint

                before = reset_peak()
                result = await run(
                    conn,
                    "head -c 419430400 /dev/zero | tr '\\0' e >&2; printf '\\033[31mdone'",
                    timeout=300,
                )
                assert growth_mb(before) < MAX_GROWTH_MB
                assert result.exit_status == 0 and result.stdout == "\x1b[31mdone"
                assert len(result.stderr) == STDERR_TAIL and set(result.stderr) == {"e"}

                result = await run(conn, "printf 'a\\033]0;t\\007b' >&2; exit 3")
                assert result.exit_status == 3 and result.stderr == "a\\x1b]0;t\\x07b"
                assert (await run(conn, "echo still here")).stdout == "still here\n"
        finally:
            await manager.close()

    asyncio.run(go())


def test_stream_splits_endless_lines_and_escapes_controls(world: World) -> None:
    lines: list[str] = []

    async def go() -> int:
        manager = world.manager()
        try:
            async with manager.pool.connection(await manager.endpoint("box")) as conn:
                return await stream(
                    conn,
                    "head -c 52428800 /dev/zero | tr '\\0' y; printf '\\n\\033[2Jend\\r\\n'",
                    lambda line: lines.append(line),
                )
        finally:
            await manager.close()

    before = reset_peak()
    assert asyncio.run(go()) == 0
    assert growth_mb(before) < MAX_GROWTH_MB
    assert sum(map(len, lines[:-1])) == 50 * MB
    assert max(map(len, lines)) <= 16 * 1024
    assert lines[-1] == "\\x1b[2Jend"


def test_remote_json_refused_cleanly() -> None:
    """The parser itself: no RecursionError, no giant allocations, no NaN."""
    for text in ("[" * 200_000, "[" * 100 + "]" * 100, "[" + "[]," * 300_000 + "[]]", "NaN"):
        with pytest.raises(RemoteJSONError):
            parse_remote_json(text)
    assert parse_remote_json('{"a": [1, {"b": "c"}]}') == {"a": [1, {"b": "c"}]}


# ------------------------------------------------------------------ CLI


CLI_HUGE = {
    "probe": ["env", "list", "box", "--refresh"],
    "agent": ["kernel", "list", "box"],
    "check": ["profile", "add", "p", "--server", "box", "--python", "FAKE"],
    "server test": ["server", "test", "box"],
}


def cli_args(world: World, args: list[str]) -> list[str]:
    return [world.fake if a == "FAKE" else a for a in args]


@pytest.mark.parametrize("what", list(CLI_HUGE))
def test_cli_huge_answer(mode: World, what: str) -> None:
    args = cli_args(mode, CLI_HUGE[what])
    mode.mode("benign")
    baseline = run_cli(mode, *args)
    assert baseline.returncode == 0, baseline.text
    if what == "check":
        assert run_cli(mode, "profile", "remove", "p").returncode == 0
    mode.mode("huge")
    result = run_cli(mode, *args)
    print(f"{what}: peak RSS {baseline.peak_rss_mb:.0f} MB benign, {result.peak_rss_mb:.0f} MB")
    assert result.peak_rss_mb - baseline.peak_rss_mb < MAX_GROWTH_MB
    assert_clean_failure(result, "exceeded")


def test_cli_huge_stderr(mode: World) -> None:
    mode.mode("huge-stderr")
    result = run_cli(mode, "kernel", "list", "box", timeout=300)
    assert_clean_failure(result, "did not answer", "exit status 1")
    assert len(result.stderr) < 4000
    assert result.peak_rss_mb < 200


@pytest.mark.parametrize("what", ["probe", "agent", "check"])
def test_cli_nested_json(mode: World, what: str) -> None:
    mode.mode("nested")
    result = run_cli(mode, *cli_args(mode, CLI_HUGE[what]))
    assert_clean_failure(result, "nested too deeply")


def test_cli_control_characters_are_escaped(mode: World) -> None:
    mode.mode("ansi")
    for args in (
        ["env", "list", "box", "--refresh"],
        ["env", "list", "box"],
        ["kernel", "list", "box"],
        ["server", "test", "box"],
    ):
        result = run_cli(mode, *args)
        assert result.returncode == 0, result.text
        assert_no_raw_controls(result.stdout + result.stderr)
        assert "\\x1b" in result.text, result.text
    for args in (["env", "list", "box"], ["kernel", "list", "box"], ["server", "test", "box"]):
        result = run_cli(mode, *args, "--json")
        assert result.returncode == 0, result.text
        assert_printable_json(result.stdout)
        assert_no_raw_controls(result.stderr)
    result = run_cli(mode, "profile", "add", "p", "--server", "box", "--python", mode.fake)
    assert result.returncode == 0, result.text
    assert_no_raw_controls(result.stdout + result.stderr)
    profiles = run_cli(mode, "profile", "list", "--json")
    assert_printable_json(profiles.stdout)
    run_cli(mode, "profile", "remove", "p")


def test_cli_escapes_a_crashing_remote(mode: World) -> None:
    mode.mode("ansi-crash")
    for what in ("probe", "agent"):
        result = run_cli(mode, *cli_args(mode, CLI_HUGE[what]))
        assert_clean_failure(result, "\\x1b[2J", "exit status 3")
    result = run_cli(mode, *cli_args(mode, CLI_HUGE["check"]))
    assert result.returncode == 2, result.text  # an interpreter that does not run: input
    assert "\\x1b[2J" in result.text and "Traceback" not in result.text
    assert_no_raw_controls(result.stdout + result.stderr)


# ------------------------------------------------------------------ agent, in process


def test_agent_errors_are_escaped_and_bounded(mode: World) -> None:
    """A launch the agent refuses with escape sequences; a kernel start meeting 400 MB."""

    async def call(op: str) -> RemoteCommandError:
        manager = mode.manager()
        try:
            async with manager.pool.connection(await manager.endpoint("box")) as conn:
                with pytest.raises(RemoteCommandError) as info:
                    await AgentClient(conn, python=mode.fake).call({"op": op})
                return info.value
        finally:
            await manager.close()

    mode.mode("ansi")
    error = asyncio.run(call("launch"))
    assert "\x1b" not in error.message + error.hint and "\x9b" not in error.message
    assert "\\x1b[2J" in error.message and "\\x1b]0;pwned\\x07" in error.hint
    mode.mode("huge")
    before = reset_peak()
    error = asyncio.run(call("launch"))
    assert growth_mb(before) < MAX_GROWTH_MB
    assert "exceeded 16 MiB" in error.message and error.hint
    mode.mode("nested")
    error = asyncio.run(call("status"))
    assert "nested too deeply" in error.message and error.hint


# ------------------------------------------------------------------ REST


async def expect_502(jp_fetch: Any, method: str, *parts: str, **kw: Any) -> dict[str, Any]:
    with pytest.raises(HTTPClientError) as info:
        await call(jp_fetch, method, *parts, **kw)
    assert info.value.response is not None
    assert info.value.code == 502, info.value.response.body
    body = assert_printable_json(info.value.response.body)
    assert set(body) >= {"message", "reason", "hint"} and body["hint"], body
    assert body["reason"] == "remote_command_failed", body
    return body


REST_CALLS: list[tuple[str, tuple[str, ...], dict[str, Any]]] = [
    ("GET", ("remote", "servers", "box", "environments"), {"params": {"refresh": "1"}}),
    ("GET", ("remote", "servers", "box", "kernels"), {}),
    ("POST", ("remote", "profiles"), {"body": {"name": "p", "server": "box", "python": "FAKE"}}),
]


def rest_kwargs(world: World, kw: dict[str, Any]) -> dict[str, Any]:
    if "body" in kw:
        return {"body": {k: world.fake if v == "FAKE" else v for k, v in kw["body"].items()}}
    return dict(kw)


async def test_rest_huge_answers_are_502_with_bounded_memory(jp_fetch: Any, mode: World) -> None:
    await save_box(jp_fetch, mode.host)
    mode.mode("huge")
    calls = [*REST_CALLS, ("POST", ("remote", "servers", "box", "test"), {})]
    for method, parts, kw in calls:
        before = reset_peak()
        body = await expect_502(jp_fetch, method, *parts, **rest_kwargs(mode, kw))
        print(f"{method} {'/'.join(parts)}: peak RSS +{growth_mb(before):.0f} MB")
        assert growth_mb(before) < MAX_GROWTH_MB, parts
        assert "exceeded" in body["message"], body


async def test_rest_nested_json_is_502(jp_fetch: Any, mode: World) -> None:
    await save_box(jp_fetch, mode.host)
    mode.mode("nested")
    for method, parts, kw in REST_CALLS:
        body = await expect_502(jp_fetch, method, *parts, **rest_kwargs(mode, kw))
        assert "nested too deeply" in body["message"], body


async def test_rest_answers_carry_no_control_characters(jp_fetch: Any, mode: World) -> None:
    await save_box(jp_fetch, mode.host)
    mode.mode("ansi")
    envs = await call(jp_fetch, "GET", "remote", "servers", "box", "environments")
    data = assert_printable_json(envs.body)
    assert data and "\\x1b[2J" in data[0]["name"] and "\\ud800" in data[0]["name"]
    kernels = await call(jp_fetch, "GET", "remote", "servers", "box", "kernels")
    data = assert_printable_json(kernels.body)
    assert data and data[0]["state"].startswith("\\x1b[2J")
    test = await call(jp_fetch, "POST", "remote", "servers", "box", "test")
    assert "\\x1b[2J" in assert_printable_json(test.body)["python"]["version"]
    profile = await call(
        jp_fetch,
        "POST",
        "remote",
        "profiles",
        body={"name": "p", "server": "box", "python": mode.fake},
    )
    assert_printable_json(profile.body)
    mode.mode("ansi-crash")
    error = await expect_502(jp_fetch, "GET", "remote", "servers", "box", "kernels")
    assert "\\x1b[2J" in error["message"]


def test_standalone_kernel_start_fails_cleanly(mode: World) -> None:
    """jupyter_client's KernelManager on a profile whose python floods, then nests:
    the start fails with the agent's RemoteCommandError, memory stays flat."""

    async def add_profile() -> None:
        manager = mode.manager()
        try:
            await manager.add_profile({"name": "flood", "server": "box", "python": mode.fake})
        finally:
            await manager.close()

    mode.mode("benign")
    asyncio.run(add_profile())
    for hostile, words in (("huge", "exceeded 16 MiB"), ("nested", "nested too deeply")):
        mode.mode(hostile)
        km = KernelManager(kernel_name="remote-flood")
        before = reset_peak()
        with pytest.raises(RemoteCommandError) as info:
            km.start_kernel()
        assert growth_mb(before) < MAX_GROWTH_MB
        assert words in info.value.message and info.value.hint
