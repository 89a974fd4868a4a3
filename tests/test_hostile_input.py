"""Hostile input over a real sshd: Hypothesis properties.

Every user-supplied field that reaches the remote (SSH user, interpreter path,
working directory, environment variable names and values, discovery cwds) and
every field of ``jupyter remote server add``/``profile add`` is either

- rejected: ValidationError (REST 400 / CLI exit 2) and nothing written, or
- accepted and then arrives byte for byte, as data, on the remote: the kernel's
  ``os.getcwd()`` and ``os.environ``, the interpreter that answered, the
  project name discovery reports, the login name sshd logs.

Shell payloads in there (``$(touch /tmp/pwned)``, ``'; rm -rf ~ #``, backticks...)
create no file and delete nothing: ``/tmp/pwned`` never exists, no file named
``pwned`` appears, and a canary in the remote user's home survives.

The remote user is ``jrhyp`` (shared with nobody). Examples are bounded (a fixed
seed, a handful of kernels) so the module stays around a minute or two.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from jupyter_client import KernelManager

from jupyter_remote.errors import SSHAuthError, ValidationError
from jupyter_remote.kernels.discovery import Discovery
from jupyter_remote.manager import RemoteManager
from jupyter_remote.store import Store, format_jump, parse_jump
from jupyter_remote.store.secrets import SecretStore
from tests.harness.clients import read_late_output
from tests.harness.servers import server_input, trust_host
from tests.harness.sshd_host import SSHTestHost

CLI = str(Path(sys.executable).parent / "jupyter-remote")
STATE_DIR = ".local/share/jupyter-remote"
PWNED = Path("/tmp/pwned")
ODD_CWD = "/tmp/$(touch /tmp/pwned)"  # as the issue gives it: three nested directories
ODD_TOP = "/tmp/$(touch "
RM_VALUE = "'; rm -rf ~ #"

# Things a shell would act on, and characters a validator must refuse.
PAYLOADS = [
    "$(touch /tmp/pwned)",
    "`touch /tmp/pwned`",
    "'; touch /tmp/pwned #",
    '"; touch /tmp/pwned; "',
    "; touch /tmp/pwned",
    "| touch /tmp/pwned",
    "&& touch /tmp/pwned",
    "${IFS}touch${IFS}/tmp/pwned",
    RM_VALUE,
    "$HOME",
    "~",
    "*",
    "-rf",
    "--help",
    "-oProxyCommand=touch /tmp/pwned",
    "\\",
    "%s%n",
    "é ü 雪 🐍",
]
SHELLISH = st.sampled_from(list("$`'\"\\;&|<>(){}[]*?~!#%^=,:@+- \t"))
CONTROL = st.sampled_from(["\n", "\r", "\x1b", "\x7f", "\x01", "\x00"])
PRINTABLE = st.characters(blacklist_categories=("Cs", "Cc"))


def hostile_text(max_size: int = 24, *, controls: bool = True) -> st.SearchStrategy[str]:
    chars = st.one_of(PRINTABLE, SHELLISH, CONTROL) if controls else st.one_of(PRINTABLE, SHELLISH)
    return st.one_of(
        st.sampled_from(PAYLOADS),
        st.text(chars, min_size=1, max_size=max_size),
        st.builds(lambda a, b: a + b, st.sampled_from(PAYLOADS), st.text(chars, max_size=8)),
    )


# A file name component: no "/" (a path separator), not "." or ".." (getcwd would
# normalise them away), at most 255 bytes.
def _component_ok(name: str) -> bool:
    return (
        "/" not in name
        and "\x00" not in name
        and name not in (".", "..")
        and len(name.encode()) <= 200
    )


COMPONENT = hostile_text(30).filter(_component_ok)
# Mostly valid (printable) components: what must then arrive byte for byte.
PRINTABLE_COMPONENT = hostile_text(30, controls=False).filter(_component_ok)
ENV_KEY_OK = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")


def printable(text: str) -> bool:
    """What the store accepts in any field: no control characters, no newlines."""
    return not any(ord(c) < 32 or ord(c) == 127 for c in text)


def env_ok(env: dict[str, str]) -> bool:
    return all(ENV_KEY_OK.fullmatch(k) and printable(v) for k, v in env.items())


# A fixed seed; no shrinking (each example costs SSH round trips or a kernel): a
# failure is reported with the example that failed.
SETTINGS = settings(
    database=None,
    deadline=None,
    derandomize=True,
    phases=(Phase.explicit, Phase.generate),
    suppress_health_check=list(HealthCheck),
)


# ------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def hyp_host() -> Iterator[SSHTestHost]:
    with SSHTestHost(name="hyp", user="jrhyp") as host:
        yield host


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, hyp_host: SSHTestHost) -> Iterator[World]:
    """HOME and JUPYTER_DATA_DIR of this module; server ``box`` trusted; a canary."""
    root = tmp_path_factory.mktemp("hostile")
    with pytest.MonkeyPatch.context() as mp:
        home = root / "home"
        (home / ".ssh").mkdir(parents=True, mode=0o700)
        # any host name a property generates stays on this machine, unresolved
        (home / ".ssh" / "config").write_text("Host *\n  HostName 127.0.0.1\n  Port 1\n")
        mp.setenv("HOME", str(home))
        mp.setenv("JUPYTER_DATA_DIR", str(root / "data"))
        mp.delenv("SSH_AUTH_SOCK", raising=False)
        w = World(root, home, root / "data", hyp_host)
        w.clean_remote()
        canary = hyp_host.home / "canary.txt"
        hyp_host.run_as_user(["sh", "-c", 'printf keep > "$1"', "sh", str(canary)])
        assert canary.read_text() == "keep"
        base = f"/tmp/jrhyp-{os.getpid()}"
        hyp_host.run_as_user(["rm", "-rf", base])
        assert hyp_host.run_as_user(["mkdir", "-m", "700", base]).returncode == 0
        w.base = base
        asyncio.run(w.setup())
        try:
            yield w
        finally:
            w.clean_remote()
            hyp_host.run_as_user(["rm", "-rf", base])
            hyp_host.run_as_user(["rm", "-rf", ODD_TOP])
            assert canary.read_text() == "keep", "the remote user's home lost its canary"
            hyp_host.run_as_user(["rm", "-f", str(canary)])
            assert_not_pwned(hyp_host, home)


class World:
    def __init__(self, root: Path, home: Path, data_dir: Path, host: SSHTestHost) -> None:
        self.root, self.home, self.data_dir, self.host = root, home, data_dir, host
        self.base = ""
        self.cli_env = {
            **os.environ,
            "HOME": str(home),
            "JUPYTER_DATA_DIR": str(data_dir),
            "PYTHONUTF8": "1",
        }

    def manager(self) -> RemoteManager:
        # a generous login timeout: other test runs may load this machine
        return RemoteManager(Store(), secrets=SecretStore(use_keyring=False), connect_timeout=60)

    async def setup(self) -> None:
        manager = self.manager()
        try:
            trust_host(manager.store, self.host)
            await manager.add_server(server_input(self.host))
        finally:
            await manager.close()

    def snapshot(self) -> dict[str, bytes]:
        snap: dict[str, bytes] = {}
        for top in ("remote", "kernels"):
            d = self.data_dir / top
            if d.exists():
                for p in sorted(d.rglob("*")):
                    if p.is_file() and p.name != ".lock" and "cache" not in p.parts:
                        snap[str(p.relative_to(self.data_dir))] = p.read_bytes()
        return snap

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [CLI, *args],
            env=self.cli_env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def clean_remote(self) -> None:
        self.host.run_as_user(
            ["pkill", "-9", "-u", self.host.user, "-f", "jupyter-remote|ipykernel|_jr_src"]
        )
        self.host.run_as_user(["rm", "-rf", str(self.host.home / STATE_DIR)])

    def mkdir_remote(self, path: str) -> None:
        """Make PATH (and parents) as the remote user: argv, no shell."""
        result = self.host.run_as_user(["mkdir", "-p", "--", path])
        assert result.returncode == 0, result.stderr


def assert_not_pwned(host: SSHTestHost, *more: Path) -> None:
    """No /tmp/pwned, and no file named pwned in /tmp, the remote home or MORE."""
    assert not PWNED.exists(), "/tmp/pwned exists: a payload ran in a shell"
    for top, max_depth in [(Path("/tmp"), 2), (host.home, 6), *((m, 6) for m in more)]:
        for dirpath, dirnames, filenames in os.walk(top):
            if len(Path(dirpath).relative_to(top).parts) >= max_depth:
                dirnames[:] = []
            assert "pwned" not in filenames, f"{dirpath}/pwned"


# ------------------------------------------------------------------ SSH user


def run_property(prop: Callable[[], None], stats: Counter[str], **minimum: int) -> None:
    """Run a Hypothesis property; it must have taken both branches enough times."""
    prop()
    print(f"\n{dict(stats)}")
    for outcome, n in minimum.items():
        assert stats[outcome] >= n, f"only {stats[outcome]} {outcome} examples: {dict(stats)}"


USER = st.one_of(hostile_text(40), st.from_regex(r"[a-z_][a-z0-9_.@-]{0,20}\$?", fullmatch=True))


def test_ssh_user_is_refused_or_is_the_login_name_sshd_sees(world: World) -> None:
    stats: Counter[str] = Counter()

    @settings(SETTINGS, max_examples=20)
    @given(user=USER)
    @example(user="-oProxyCommand=touch /tmp/pwned")
    @example(user="a$(touch /tmp/pwned)")
    @example(user="root")
    @example(user="jr.hyp@x")
    def prop(user: str) -> None:
        async def go() -> None:
            manager = world.manager()
            before = world.snapshot()
            try:
                try:
                    await manager.update_server("box", {"user": user})
                except ValidationError as exc:
                    assert exc.field == "user", exc
                    assert world.snapshot() == before
                    stats["refused"] += 1
                    return
                log_from = len(world.host.log_text())
                with pytest.raises(SSHAuthError):
                    await manager.test_server("box")
                log = world.host.log_text()[log_from:]
                # sshd names the login it was asked for: exactly our string
                assert f"Invalid user {user} from" in log or f"User {user} from" in log, log
                stats["arrived"] += 1
            finally:
                await manager.update_server("box", {"user": world.host.user})
                await manager.close()

        asyncio.run(go())

    run_property(prop, stats, refused=3, arrived=5)
    assert_not_pwned(world.host)


# ------------------------------------------------------------------ interpreter path + discovery


def test_python_path_and_cwd_reach_the_remote_as_data(world: World) -> None:
    """A project directory named NAME with a .venv: the profile check runs exactly
    NAME/.venv/bin/python (and says so when it is not there yet), discovery finds
    that .venv and names the project exactly NAME."""
    stats: Counter[str] = Counter()

    @settings(SETTINGS, max_examples=12)
    @given(name=st.one_of(PRINTABLE_COMPONENT, COMPONENT))
    @example(name="$(touch pwned)")  # one path component: no "/" in it
    @example(name="`touch pwned`")
    @example(name="x; rm -rf ~ #")
    @example(name="-rf")
    @example(name="~")
    @example(name="a\nb")
    def prop(name: str) -> None:
        project = f"{world.base}/{name}"
        python = f"{project}/.venv/bin/python"
        before = world.snapshot()
        data = {"name": "pypath", "server": "box", "python": python, "cwd": project}

        async def first_try() -> None:
            manager = world.manager()
            try:
                with pytest.raises(ValidationError) as info:
                    await manager.add_profile(data)
                assert world.snapshot() == before
                if printable(name):
                    # valid, but no such file yet: the remote ran exactly that path, said so
                    assert info.value.field == "python", info.value
                    assert "does not run" in info.value.message
                else:
                    assert info.value.field in ("python", "cwd"), info.value
            finally:
                await manager.close()

        asyncio.run(first_try())
        if not printable(name):
            stats["refused"] += 1
            return
        # a venv at NAME/.venv: the test env's pyvenv.cfg and packages, its own prefix
        env = Path(world.host.remote_python).parent.parent
        world.mkdir_remote(f"{project}/.venv/bin")
        for argv in (
            ["ln", "-s", "/usr/bin/python3", python],
            ["ln", "-s", str(env / "lib"), f"{project}/.venv/lib"],
            ["cp", str(env / "pyvenv.cfg"), f"{project}/.venv/pyvenv.cfg"],
        ):
            assert world.host.run_as_user(argv).returncode == 0, argv

        async def accepted() -> None:
            manager = world.manager()
            try:
                saved = await manager.add_profile(data, replace=True)
                assert saved["python"] == python and saved["cwd"] == project
                stored = json.loads((world.data_dir / "remote" / "profiles.json").read_text())
                assert stored["pypath"]["python"] == python
                assert stored["pypath"]["cwd"] == project
                discovery = Discovery.of(manager)
                envs = await discovery.environments("box", refresh=True, cwds=[project])
                mine = [e for e in envs if e["path"] == f"{project}/.venv"]
                assert mine, [e["path"] for e in envs]
                assert mine[0]["name"] == name and mine[0]["kind"] == "venv"
                assert mine[0]["python"] == python and mine[0]["ipykernel"] is True
                await manager.remove_profile("pypath")
            finally:
                await manager.close()

        asyncio.run(accepted())
        world.host.run_as_user(["rm", "-rf", "--", project])
        stats["arrived"] += 1

    run_property(prop, stats, refused=1, arrived=8)
    assert_not_pwned(world.host, Path(world.base))


# ------------------------------------------------------------------ the kernel: cwd and env


ENV_NAME = st.one_of(
    st.from_regex(r"JRH_[A-Za-z0-9_]{1,12}", fullmatch=True),  # accepted, harmless names
    hostile_text(12),  # mostly refused: "A-B", "$X", "1X", "X Y", ...
)
ENV_VALUE = hostile_text(60, controls=False)


def run_kernel(code: str) -> str:
    """Start kernel remote-k, run CODE, return its stdout; shut it down."""
    km = KernelManager(kernel_name="remote-k")
    km.start_kernel()
    kc = km.client()
    kc.start_channels()
    out: list[str] = []
    try:
        kc.wait_for_ready(timeout=90)

        def hook(msg: dict[str, Any]) -> None:
            if msg["msg_type"] == "stream":
                out.append(msg["content"]["text"])
            elif msg["msg_type"] == "error":
                out.append("\n".join(msg["content"]["traceback"]))

        reply = kc.execute_interactive(code, output_hook=hook, timeout=60)
        read_late_output(kc, reply, hook)
        assert reply["content"]["status"] == "ok", "".join(out)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    return "".join(out)


def test_cwd_and_env_reach_the_kernel_byte_for_byte(world: World) -> None:
    """Profile cwd and env are refused, or the remote kernel runs in exactly that
    directory with exactly those variables. ``cwd_name=None`` is the issue's odd cwd
    ``/tmp/$(touch /tmp/pwned)``; ``'; rm -rf ~ #`` is a value, nothing more."""
    stats: Counter[str] = Counter()

    @settings(SETTINGS, max_examples=5)
    @given(
        cwd_name=st.one_of(PRINTABLE_COMPONENT, COMPONENT),
        env=st.dictionaries(ENV_NAME, ENV_VALUE, min_size=1, max_size=4),
    )
    @example(cwd_name=None, env={"JRH_RM": RM_VALUE, "JRH_SUB": "$(touch /tmp/pwned)"})
    @example(cwd_name="ok", env={"JRH_X": "a\nb"})  # refused: a newline in a value
    @example(cwd_name="ok", env={"X-Y": "1"})  # refused: not a variable name
    @example(cwd_name="`touch pwned`", env={"JRH_Q": "\"'\\`$HOME`${PATH}"})
    def prop(cwd_name: str | None, env: dict[str, str]) -> None:
        cwd = ODD_CWD if cwd_name is None else f"{world.base}/{cwd_name}"
        before = world.snapshot()
        data = {"name": "k", "server": "box", "python": world.host.remote_python}
        data.update(cwd=cwd, env=env)

        async def save() -> bool:
            manager = world.manager()
            try:
                # saving checks the directory on the remote: make it there (as data)
                await manager.add_profile(data, replace=True, create_cwd=True)
                return True
            except ValidationError as exc:
                assert exc.field in ("cwd", "env"), exc
                assert world.snapshot() == before, "a refused profile changed the store"
                return False
            finally:
                await manager.close()

        accepted = asyncio.run(save())
        assert accepted == (printable(cwd) and env_ok(env)), (cwd, env)
        if not accepted:
            stats["refused"] += 1
            return
        world.mkdir_remote(cwd)
        out = run_kernel(
            "import os, json\n"
            f"names = {sorted(env)!r}\n"
            "print(json.dumps({'cwd': os.getcwd(), 'env': {k: os.environ.get(k) for k in names}}))"
        )
        seen = json.loads(out.strip().splitlines()[-1])
        assert seen["cwd"] == cwd
        assert seen["env"] == env
        world.clean_remote()
        assert_not_pwned(world.host, world.home, Path(world.base))
        assert (world.host.home / "canary.txt").read_text() == "keep"
        stats["arrived"] += 1

    run_property(prop, stats, refused=2, arrived=3)


# ------------------------------------------------------------------ the CLI


def _as_stored_host(host: str) -> str:
    """IP literals are stored canonical and without brackets; names as given."""
    inner = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        return str(ipaddress.ip_address(inner))
    except ValueError:
        return inner


FIELDS = ["name", "host", "user", "jump", "identity"]
NAMEISH = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,15}", fullmatch=True)
HOSTISH = st.one_of(
    st.from_regex(r"[a-z0-9]{1,10}(\.[a-z0-9]{1,10}){0,2}", fullmatch=True),
    st.sampled_from(["127.0.0.1", "[::1]", "::1", "10.1.2.3"]),
)


def test_cli_server_add_refuses_with_exit_2_or_stores_exactly(world: World) -> None:
    stats: Counter[str] = Counter()

    @settings(SETTINGS, max_examples=12)
    @given(
        name=NAMEISH,
        host=HOSTISH,
        user=NAMEISH,
        jump=st.one_of(st.none(), HOSTISH),
        hostile=st.one_of(st.none(), st.tuples(st.sampled_from(FIELDS), hostile_text(30))),
    )
    @example(name="$(id)", host="h", user="u", jump=None, hostile=None)
    @example(name="ok", host="-oProxyCommand=touch /tmp/pwned", user="u", jump=None, hostile=None)
    @example(name="ok", host="h", user="u", jump="x@$(touch /tmp/pwned)", hostile=None)
    @example(name="ok", host="h;touch /tmp/pwned", user="u", jump=None, hostile=None)
    @example(name="ok", host="h", user="u", jump="u@[::1]:2222", hostile=None)
    def prop(
        name: str, host: str, user: str, jump: str | None, hostile: tuple[str, str] | None
    ) -> None:
        """Valid fields, and (HOSTILE) one of them replaced by hostile text."""
        values = {"name": name, "host": host, "user": user, "jump": jump, "identity": None}
        if hostile is not None:
            values[hostile[0]] = hostile[1]
        run(**values)

    def run(name: str, host: str, user: str, jump: str | None, identity: str | None) -> None:
        if any("\x00" in (v or "") for v in (name, host, user, jump, identity)):
            return  # a command line cannot carry NUL: nothing to send
        before = world.snapshot()
        argv = ["server", "add", f"--host={host}", f"--user={user}", "--json"]
        if jump is not None:
            argv.append(f"--jump={jump}")
        if identity is not None:
            argv.append(f"--identity={identity}")
        result = world.cli(*argv, "--", name)
        if result.returncode == 0:
            saved = json.loads(result.stdout)
            assert saved["name"] == name and saved["user"] == user
            assert saved["host"] == _as_stored_host(host)
            if jump is not None:
                assert saved["jump"] == format_jump(parse_jump(jump))
            if identity is not None:  # an existing local file: stored ~-expanded
                assert saved["identity"] == os.path.expanduser(identity)
            servers = world.data_dir / "remote" / "servers.json"
            stored = json.loads(servers.read_text())[name]
            assert stored == {k: v for k, v in saved.items() if k in stored}
            assert stored["name"] == name and stored["user"] == user
            # forget it again (one CLI call less than `server remove`)
            servers.write_bytes(before.get("remote/servers.json", b"{}"))
            stats["stored"] += 1
        else:
            assert result.returncode == 2, (result.returncode, result.stderr)
            assert "Traceback" not in result.stderr, result.stderr
            assert "error:" in result.stderr
            assert world.snapshot() == before, "a refused server add changed the store"
            stats["refused"] += 1

    run_property(prop, stats, refused=4, stored=3)
    assert_not_pwned(world.host, world.home)


def test_cli_profile_add_refuses_with_exit_2_or_stores_exactly(world: World) -> None:
    stats: Counter[str] = Counter()

    @settings(SETTINGS, max_examples=10)
    @given(
        cwd_name=st.one_of(PRINTABLE_COMPONENT, COMPONENT),
        key=ENV_NAME,
        value=hostile_text(40),
    )
    @example(cwd_name="$(touch pwned)", key="JRH_X", value=RM_VALUE)
    @example(cwd_name="ok", key="A=B", value="c")
    @example(cwd_name="ok", key="JRH_X", value="a\rb")
    def prop(cwd_name: str, key: str, value: str) -> None:
        cwd = f"{world.base}/{cwd_name}"
        if "\x00" in cwd + key + value:
            return  # a command line cannot carry NUL
        before = world.snapshot()
        result = world.cli(
            "profile",
            "add",
            "clip",
            "--server=box",
            f"--python={world.host.remote_python}",
            f"--cwd={cwd}",
            "--create-cwd",  # saving checks the directory: make it (as data, no shell)
            f"--env={key}={value}",
            "--replace",
            "--json",
        )
        # "A=B=c" is KEY A with VALUE "B=c": the CLI splits at the first "=" only
        k, _, v = f"{key}={value}".partition("=")
        ok = printable(cwd) and env_ok({k: v})
        assert (result.returncode == 0) == ok, (result.returncode, result.stderr)
        if ok:
            saved = json.loads(result.stdout)
            assert saved["cwd"] == cwd and saved["env"] == {k: v}
            stored = json.loads((world.data_dir / "remote" / "profiles.json").read_text())
            assert stored["clip"]["cwd"] == cwd and stored["clip"]["env"] == {k: v}
            stats["stored"] += 1  # the next one replaces it (--replace)
        else:
            assert result.returncode == 2, (result.returncode, result.stderr)
            assert "Traceback" not in result.stderr, result.stderr
            assert world.snapshot() == before, "a refused profile add changed the store"
            stats["refused"] += 1

    run_property(prop, stats, refused=2, stored=4)
    assert_not_pwned(world.host, world.home)


def test_nothing_ran_and_nothing_was_deleted(world: World) -> None:
    """After the properties above: the canary is there, no pwned file anywhere."""
    assert (world.host.home / "canary.txt").read_text() == "keep"
    assert_not_pwned(world.host, world.home, Path(world.base))
