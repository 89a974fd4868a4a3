"""The agent's bytecode cache on the remote (remote/bootcache.py, issue 17 item 2).

Scripts run here exactly as the remote runs them: the fixed bootstrap on the command
line, the loader and the framed script and the request on stdin
(``remote.stdin_payload_cached``), a private HOME. A planted entry (code that prints
PLANTED) under the exact key of the script that follows shows whether the loader would
serve it: it is served only from the user's own private directories, never from a
directory another user may write, a file of another owner, a symlink, or a file whose
digest does not match; a changed script is never served an older script's entry; the
cache goes with the last kernel's state. Needs only python, ipykernel (in the test venv).
"""

from __future__ import annotations

import hashlib
import json
import marshal
import os
import stat
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from jupyter_remote.kernels.launch_request import LAUNCHER
from jupyter_remote.remote import framed_loader, script_text, stdin_payload, stdin_payload_cached
from jupyter_remote.remote.bootcache import cache_key
from jupyter_remote.remote.protocol import BOOTSTRAP, CODE_CACHE_DIR, STATE_DIR

SCRIPT = "print('SCRIPT', __name__)\n"


def _run(home: Path, payload: bytes, **env: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", BOOTSTRAP],
        input=payload,
        capture_output=True,
        env={"HOME": str(home), "PATH": "/usr/bin:/bin", **env},
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout.decode()


def _run_script(home: Path, source: str = SCRIPT, **env: str) -> str:
    return _run(home, framed_loader("t") + stdin_payload(source, {}), **env)


def _home_with_a_kernel(tmp_path: Path) -> Path:
    """A HOME whose state directory holds a kernel's (entries may be written)."""
    (tmp_path / STATE_DIR / "kernels").mkdir(parents=True, mode=0o700)
    (tmp_path / STATE_DIR).chmod(0o700)
    return tmp_path


def _entry(home: Path, name: str, source: str) -> Path:
    key = cache_key(name, source.encode())
    assert key
    return home / CODE_CACHE_DIR / key


def _plant(path: Path, key: str = "", says: str = "PLANTED") -> None:
    """An entry at ``path`` whose header names ``key`` (its own file name by default),
    printing ``says``."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    body = marshal.dumps(compile(f"print({says!r})", "<x>", "exec"))
    digest = hashlib.sha256(body).hexdigest()
    header = f"jupyter-remote code {key or path.name} {digest}".encode()
    path.write_bytes(header + b"\n" + body)
    path.chmod(0o600)


def test_an_entry_is_written_private_and_a_changed_script_never_gets_it(tmp_path: Path) -> None:
    home = _home_with_a_kernel(tmp_path)
    assert _run_script(home) == "SCRIPT __main__\n"
    entry = _entry(home, "t", SCRIPT)
    assert entry.is_file()
    assert stat.S_IMODE(entry.stat().st_mode) == 0o600
    assert stat.S_IMODE(entry.parent.stat().st_mode) == 0o700
    assert _run_script(home) == "SCRIPT __main__\n"  # served (same output) ...
    changed = SCRIPT.replace("SCRIPT", "CHANGED")
    assert _run_script(home, changed) == "CHANGED __main__\n"  # ... never to another text
    assert [p.name for p in entry.parent.iterdir()] == [_entry(home, "t", changed).name]


def test_nothing_is_written_without_a_kernel(tmp_path: Path) -> None:
    assert _run_script(tmp_path) == "SCRIPT __main__\n"
    assert not (tmp_path / STATE_DIR).exists()


def test_a_planted_entry_is_served_only_from_private_directories(tmp_path: Path) -> None:
    home = _home_with_a_kernel(tmp_path)
    entry = _entry(home, "t", SCRIPT)
    _plant(entry)
    assert _run_script(home) == "PLANTED\n"  # the control: the key and format are right
    for loose in (entry.parent, home / STATE_DIR):
        loose.chmod(0o770)
        assert _run_script(home) == "SCRIPT __main__\n", f"{loose} group-writable"
        loose.chmod(0o700)
    entry.chmod(0o620)
    assert _run_script(home) == "SCRIPT __main__\n", "group-writable entry"


def test_a_symlink_or_a_bad_digest_is_not_served(tmp_path: Path) -> None:
    home = _home_with_a_kernel(tmp_path)
    entry = _entry(home, "t", SCRIPT)
    elsewhere = tmp_path / "elsewhere"
    _plant(elsewhere)
    entry.parent.mkdir(mode=0o700)
    entry.symlink_to(elsewhere)
    assert _run_script(home) == "SCRIPT __main__\n"
    entry.unlink()
    _plant(entry)
    data = entry.read_bytes()
    entry.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))  # the body, not its digest
    assert _run_script(home) == "SCRIPT __main__\n"
    cache = home / CODE_CACHE_DIR
    os.rename(cache, tmp_path / "real-cache")
    cache.symlink_to(tmp_path / "real-cache")
    _plant(tmp_path / "real-cache" / entry.name)
    assert _run_script(home) == "SCRIPT __main__\n", "cache directory through a symlink"


def test_an_entry_is_served_only_under_its_own_key_and_optimisation_level(
    tmp_path: Path,
) -> None:
    """Review s24 (bootcache hardening): an entry whose header names another key (an
    entry renamed or copied to this name) is not served, nor is an entry under the key
    of a run without -O to a run with PYTHONOPTIMIZE (asserts and docstrings differ)."""
    home = _home_with_a_kernel(tmp_path)
    entry = _entry(home, "t", SCRIPT)
    _plant(entry)
    assert _run_script(home) == "PLANTED\n"  # the control
    assert _run_script(home, PYTHONOPTIMIZE="1") == "SCRIPT __main__\n", "-O got a plain entry"
    _plant(entry, key=_entry(home, "t", "print('other')\n").name)
    assert _run_script(home) == "SCRIPT __main__\n", "an entry naming another key"


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to another user needs root")
def test_an_entry_of_another_owner_is_not_served(tmp_path: Path) -> None:
    home = _home_with_a_kernel(tmp_path)
    entry = _entry(home, "t", SCRIPT)
    _plant(entry)
    os.chown(entry, 65534, 65534)
    assert _run_script(home) == "SCRIPT __main__\n"
    os.chown(entry, 0, 0)
    os.chown(entry.parent, 65534, 65534)
    assert _run_script(home) == "SCRIPT __main__\n", "cache directory of another owner"


def _agent(home: Path, request: dict[str, object]) -> dict[str, object]:
    out = _run(home, stdin_payload_cached("agent", request))
    answer = json.loads(out.splitlines()[-1])
    assert answer["ok"] is True, answer
    return answer["result"] if isinstance(answer.get("result"), dict) else answer


def test_the_agent_runs_from_the_cache_and_it_goes_with_the_last_kernel(tmp_path: Path) -> None:
    kernel_id = uuid.uuid4().hex
    launch = {
        "op": "launch",
        "kernel_id": kernel_id,
        "python": sys.executable,
        "cwd": str(tmp_path),
        "key": uuid.uuid4().hex,
        "launcher": LAUNCHER,
        "startup_timeout": 60,
    }
    answer = _agent(tmp_path, launch)
    assert answer["pid"]
    try:
        _agent(tmp_path, {"op": "list", "report": False})  # writes the entry: a kernel lives
        entry = _entry(tmp_path, "agent", script_text("agent"))
        assert entry.is_file()
        listed = _agent(tmp_path, {"op": "list", "report": False})  # from the entry
        assert kernel_id in json.dumps(listed)
    finally:
        _agent(tmp_path, {"op": "stop", "kernel_id": kernel_id})
    deadline = time.time() + 10
    while (tmp_path / STATE_DIR).exists() and time.time() < deadline:
        time.sleep(0.05)
    assert not (tmp_path / STATE_DIR).exists(), list((tmp_path / STATE_DIR).rglob("*"))


def test_a_cache_left_without_any_kernel_goes_at_the_next_exec(tmp_path: Path) -> None:
    """Review s24 F5: a kernel started by the previous version whose old supervisor ends
    it last removes its own state but not the cache it did not know: the state directory
    holds the cache with an entry and nothing else. The next agent exec (a list, through
    the loader) drops both; with a kernel's state there it keeps them (the control)."""
    entry = _entry(tmp_path, "t", SCRIPT)  # any script's: the agent's own would be served
    _plant(entry)
    (tmp_path / STATE_DIR).chmod(0o700)
    (tmp_path / STATE_DIR / "kernels").mkdir(mode=0o700)
    _agent(tmp_path, {"op": "list", "report": False})
    assert entry.parent.is_dir(), "dropped while a kernel's state is there"
    (tmp_path / STATE_DIR / "kernels").rmdir()  # the old supervisor's cleanup
    _agent(tmp_path, {"op": "list", "report": False})
    assert not (tmp_path / STATE_DIR).exists(), list((tmp_path / STATE_DIR).rglob("*"))


def test_a_cache_directory_swapped_for_a_symlink_after_its_check_is_not_followed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Anchored checks (s25): another user who can rename in the state directory's parent
    wins the race between the loader's checks and its open of the entry: right as the
    entry is opened, the cache directory is a symlink to a directory of theirs holding an
    entry of their own (put back the moment after). The loader opens the entry relative
    to the cache directory it checked, so the genuine entry runs; the old code opened it
    by path, followed the symlink, checked the directories by path after, and ran theirs.
    In this process (the loader's own functions), the swap made deterministic by running
    it inside ``os.open`` of the entry's name."""
    from jupyter_remote.remote import bootcache

    home = _home_with_a_kernel(tmp_path)
    monkeypatch.setenv("HOME", str(home))
    entry = _entry(home, "t", SCRIPT)
    _plant(entry)  # the genuine entry: prints PLANTED
    theirs = tmp_path / "theirs"
    _plant(theirs / entry.name, says="THEIRS")
    theirs.chmod(0o777)
    cache, aside = entry.parent, tmp_path / "aside"
    real_open = os.open
    swaps = []

    def racing_open(path: Any, flags: int, mode: int = 0o777, **kw: Any) -> int:
        if os.path.basename(str(path)) != entry.name:
            return real_open(path, flags, mode, **kw)
        os.rename(cache, aside)
        cache.symlink_to(theirs)
        try:
            return real_open(path, flags, mode, **kw)
        finally:
            swaps.append(path)
            cache.unlink()
            os.rename(aside, cache)

    monkeypatch.setattr(os, "open", racing_open)
    code = bootcache.script_code("t", SCRIPT.encode())
    monkeypatch.undo()
    assert swaps, "the entry was not opened"
    assert "THEIRS" not in code.co_consts, "the entry behind the swapped-in symlink ran"
    assert "PLANTED" in code.co_consts
