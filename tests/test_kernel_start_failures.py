"""A remote kernel whose start fails after its relay listened (review s20 F3).

The launch answers as soon as the kernel's relay listens, and the local side attaches
while the kernel boots. A kernel that crashes after binding its sockets, or that does not
answer within ``startup_timeout``, must still fail the start with the kernel's reason and
its log tail (as when the launch waited for the kernel), and leave nothing on the remote:
no process, no relay.json, no HMAC key. Real sshd, real ipykernel: IPython startup files
(``$IPYTHONDIR/profile_default/startup``) run after ipykernel has bound its sockets and
before it answers anything. As the remote user ``jrfirst`` (how kernels end: README).
"""

from __future__ import annotations

import logging
import pwd
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jupyter_client import KernelManager
from traitlets.config import Config

from jupyter_remote.errors import RemoteError
from tests.harness.remote_state import (
    clean_remote,
    remote_kernel_processes,
    remote_state_files,
    user_processes,
)
from tests.harness.servers import setup_profile
from tests.harness.sshd_host import SSHTestHost
from tests.harness.waiting import eventually

#: This group's remote user (README, Development: how kernels end).
USER = "jrfirst"

#: written to the process's own stderr (kernel.log): ipykernel's sys.stderr goes to iopub
CRASH = "import os, sys\nos.write(2, b'crashing on purpose\\n')\nsys.exit(3)\n"
SLOW = "import os, time\nos.write(2, b'sleeping on purpose\\n')\ntime.sleep(120)\n"


@pytest.fixture(scope="module")
def start_host() -> Iterator[SSHTestHost]:
    with SSHTestHost(name="startfail", user=USER) as host:
        clean_remote(host)
        yield host
        clean_remote(host)


def profile_with_startup(host: SSHTestHost, code: str, **options: Any) -> dict[str, Any]:
    """Profile ``p`` whose kernels run ``code`` from an IPython startup file."""
    ipydir = host.home / "jr-startfail-ipython"
    startup = ipydir / "profile_default" / "startup"
    host.run_as_user(["rm", "-rf", str(ipydir)], check=True)
    host.run_as_user(["mkdir", "-p", str(startup)], check=True)
    script = f"cat > {shlex.quote(str(startup / '00-start.py'))}"
    host.run_as_user(["sh", "-c", script], input=code, check=True)
    return setup_profile(host, cwd="/tmp", env={"IPYTHONDIR": str(ipydir)}, **options)


@pytest.fixture
def fresh(isolated_home: Path, start_host: SSHTestHost) -> Iterator[SSHTestHost]:
    clean_remote(start_host)
    yield start_host
    clean_remote(start_host)


def start_fails(kernel_name: str, config: Config | None = None) -> RemoteError:
    km = KernelManager(kernel_name=kernel_name, config=config or Config())
    with pytest.raises(RemoteError) as failed:
        km.start_kernel()
    if km.has_kernel:
        km.shutdown_kernel(now=True)
    return failed.value


def left_on(host: SSHTestHost) -> list[str]:
    """Processes of ours and kernel state files (relay.json, connection.json with the key)
    the remote user still has: none once a failed start is over."""
    uid = pwd.getpwnam(host.user).pw_uid
    ours = [p for p in user_processes(uid) if "ipykernel" in p or "_jr_src" in p]
    return remote_kernel_processes(host) + ours + remote_state_files(host)


def test_a_kernel_that_exits_after_binding_fails_the_start_with_its_output(
    fresh: SSHTestHost,
) -> None:
    profile = profile_with_startup(fresh, CRASH)
    error = start_fails(profile["kernel_name"])
    assert error.message == "the kernel exited during startup: exited with status 3"
    assert "Its output:" in error.hint and "crashing on purpose" in error.hint
    eventually(lambda: left_on(fresh), lambda left: left == [], timeout=20)


def test_a_kernel_slower_than_startup_timeout_is_stopped_and_says_why(
    fresh: SSHTestHost,
) -> None:
    profile = profile_with_startup(fresh, SLOW)
    config = Config()
    config.SSHProvisioner.startup_timeout = 3.0
    error = start_fails(profile["kernel_name"], config)
    assert error.message == "the kernel did not answer within 3s"
    assert "Its output:" in error.hint and "sleeping on purpose" in error.hint
    eventually(lambda: left_on(fresh), lambda left: left == [], timeout=20)


def test_a_standby_whose_start_fails_is_logged_with_why(
    fresh: SSHTestHost, caplog: pytest.LogCaptureFixture
) -> None:
    """Review s21 F5: the launch of a standby answers once its relay listens, and nobody
    attaches to hear its relay's error: the keeper says in the log why the start failed
    (as a cold start's error says it: the reason and the end of the kernel's output),
    and nothing is left."""
    caplog.set_level(logging.INFO, logger="jupyter_remote")
    profile_with_startup(fresh, CRASH, standby=True)  # saved as the CLI saves it
    failed = [r.getMessage() for r in caplog.records if "failed its start" in r.getMessage()]
    assert len(failed) == 1, caplog.text
    assert failed[0].startswith(
        "standby kernel of p failed its start: the kernel exited during startup: "
        "exited with status 3. Its output:"
    )
    assert "crashing on purpose" in failed[0]
    eventually(lambda: left_on(fresh), lambda left: left == [], timeout=20)


def test_the_error_keeps_the_end_of_a_long_log(tmp_path: Path) -> None:
    """Review s21 minor note: a failed start's hint ("Its output:" + the log's tail) is
    cut to MAX_ERROR_TEXT characters on the local side; the tail the remote sends fits
    that cut, in whole lines, and a longer hint keeps its end: a traceback's last line is
    the error."""
    from jupyter_remote.kernels.agent_client import MAX_ERROR_TEXT, error_hint
    from jupyter_remote.remote.state import _tail

    log = tmp_path / "kernel.log"
    lines = [f"  File 'frame{n}.py', line {n}, in f " + "x" * 80 for n in range(40)]
    log.write_text("\n".join([*lines, "ValueError: the actual error"]) + "\n")
    hint = "Its output:\n" + _tail(str(log))
    assert len(hint) <= MAX_ERROR_TEXT
    assert hint[:MAX_ERROR_TEXT].endswith("ValueError: the actual error")
    assert hint.splitlines()[1] in lines  # whole lines only
    shown = error_hint("Its output:\n" + "\n".join(lines * 3) + "\nValueError: the end")
    assert shown.endswith("\nValueError: the end") and len(shown) <= MAX_ERROR_TEXT
    assert shown.splitlines()[0] in lines
