"""Keeping a saved Jupyter server current (issue 15): its kernelspecs follow the remote's
without anyone opening the sidebar, and ``jupyter remote server edit NAME`` changes it.

Two real `jupyter server`s with tokens on 127.0.0.1 (no extension of ours). A kernelspec
is installed on (and removed from) the remote server's own data directory, as its admin
would; ours appear and go on a kernelspec listing (as JupyterLab's KernelSpecManager
polls) and in the background.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.kernelspec import KernelSpecManager

from jupyter_remote.kernels.jupyter_refresh import KernelspecRefresh, watch_listing
from jupyter_remote.manager import RemoteManager
from jupyter_remote.store.secrets import secret_store
from tests.harness.cli import run_cli
from tests.harness.fixtures import run_on_runtime
from tests.harness.jupyter_servers import PlainJupyter, ensure_jupyter_env
from tests.harness.waiting import eventually


@pytest.fixture(scope="module")
def direct() -> Iterator[PlainJupyter]:
    with PlainJupyter() as server:
        yield server


@pytest.fixture(scope="module")
def other() -> Iterator[PlainJupyter]:
    with PlainJupyter() as server:
        yield server


run = run_on_runtime


@pytest.fixture
def manager(runtime_manager: RemoteManager) -> RemoteManager:
    """The runtime's manager (tests/harness/fixtures.py), as kernels of this process see it."""
    return runtime_manager


def token_of(server: PlainJupyter) -> str:
    assert server.token
    return server.token


def install_remote_kernelspec(server: PlainJupyter, name: str, display: str) -> Path:
    """A kernelspec in the remote server's data directory, as its admin would install it."""
    target = server.root / "data" / "kernels" / name
    target.mkdir(parents=True)
    spec = {
        "argv": [ensure_jupyter_env(), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": display,
        "language": "python",
    }
    (target / "kernel.json").write_text(json.dumps(spec))
    return target


def ours(listing: dict[str, Any]) -> dict[str, str]:
    """Our kernelspecs of the server ``lab`` in a listing: name -> display name."""
    return {
        name: entry["spec"]["display_name"]
        for name, entry in listing.items()
        if name.startswith("remote-lab--")
    }


def test_kernelspecs_follow_the_remote_on_listing_and_in_the_background(
    manager: RemoteManager, direct: PlainJupyter
) -> None:
    run(manager.add_server({"name": "lab", "url": direct.url, "token": direct.token}))
    run(manager.add_server({"name": "down", "url": "http://127.0.0.1:1/", "auth": "none"}))
    run(manager.add_server({"name": "nosecret", "url": direct.url, "auth": "token"}))
    secret_store.forget("token", "nosecret")
    run(manager.jupyter_kernelspecs("lab"))
    ksm = KernelSpecManager()
    assert ours(ksm.get_all_specs()) == {
        "remote-lab--python3": "Python 3 (ipykernel) — lab (Jupyter)"
    }

    # on listing: a listing pokes the refresh (no background task), the next one shows it
    on_listing = KernelspecRefresh(manager, interval=0.5)
    run(_start(on_listing, background=False))
    watch_listing(ksm, on_listing)
    extra = install_remote_kernelspec(direct, "extra", "Extra Python")
    eventually(lambda: "remote-lab--extra" in ours(ksm.get_all_specs()), timeout=60)
    assert ours(ksm.get_all_specs())["remote-lab--extra"] == "Extra Python — lab (Jupyter)"
    spec = ksm.get_kernel_spec("remote-lab--extra")
    assert spec.metadata["kernel_provisioner"]["config"] == {
        "server": "lab",
        "kernel_name": "extra",
    }
    run(on_listing.stop())

    # one refresh: servers that cannot be reached cheaply are skipped or said, never block;
    # unattended, nothing goes out the user would not send: no password is posted, and a
    # server that failed once is not tried again (its port may be someone else's now)
    run(manager.add_server({"name": "pw", "url": "http://127.0.0.1:1/", "auth": "password",
                            "password": "correct horse"}))  # fmt: skip
    once = KernelspecRefresh(manager, interval=0.5)
    done = run(once.refresh_all())
    assert sorted(done["lab"]) == ["extra", "python3"]
    assert done["down"].startswith("failed:")
    assert done["nosecret"].startswith("skipped: no token")
    assert done["pw"].startswith("skipped: a password server")
    again = run(once.refresh_all())
    assert sorted(again["lab"]) == ["extra", "python3"]
    assert again["down"].startswith("skipped: its last refresh failed")
    run(manager.remove_server("pw"))

    # in the background: nobody lists, ours goes once the remote's is removed
    background = KernelspecRefresh(manager, interval=0.5)
    run(_start(background, background=True))
    try:
        shutil.rmtree(extra)
        plain = KernelSpecManager()  # not watched: only the background refresh runs
        eventually(lambda: "remote-lab--extra" not in ours(plain.get_all_specs()), timeout=60)
        assert "remote-lab--python3" in ours(plain.get_all_specs())
    finally:
        run(background.stop())


async def _start(refresh: KernelspecRefresh, *, background: bool) -> None:
    refresh.start(background=background)


# ------------------------------------------------------------------ server edit


def test_cli_server_edit_changes_url_auth_via_and_default_kernel(
    cli_env: dict[str, str], direct: PlainJupyter, other: PlainJupyter
) -> None:
    added = run_cli(
        cli_env,
        "server",
        "add",
        "lab",
        "--url",
        direct.url,
        "--token",
        stdin=token_of(direct) + "\n",
    )
    assert added.returncode == 0, added.stderr

    # URL and token (on stdin, never argv) and the default kernel, in one edit
    edit = run_cli(
        cli_env,
        "server",
        "edit",
        "lab",
        "--url",
        other.url,
        "--token",
        "--kernel",
        "python3",
        "--json",
        stdin=token_of(other) + "\n",
    )
    assert edit.returncode == 0, edit.stderr
    answer = json.loads(edit.stdout)
    assert answer["url"] == other.url and answer["default_kernel"] == "python3"
    assert answer["auth"] == "token" and "token" not in answer
    assert [s["name"] for s in answer["kernelspecs"]] == ["python3"]  # other's token worked
    assert answer["kernelspecs"][0]["default"] is True
    assert token_of(other) not in edit.stdout + edit.stderr

    # a wrong token is saved, but said at once with what to do
    wrong = run_cli(cli_env, "server", "edit", "lab", "--token", stdin="not-the-token\n")
    assert wrong.returncode == 0
    assert "warning: saved, but" in wrong.stderr and "token" in wrong.stderr

    # --via: a saved SSH server (here one that does not answer); moving forgets the token
    ssh = run_cli(cli_env, "server", "add", "gate", "--host", "127.0.0.1", "--port", "1")
    assert ssh.returncode == 0, ssh.stderr
    via = run_cli(cli_env, "server", "edit", "lab", "--via", "gate", "--json")
    assert via.returncode == 0, via.stderr
    assert json.loads(via.stdout)["via"] == "gate"
    assert "the saved token was forgotten" in via.stderr
    back = run_cli(
        cli_env, "server", "edit", "lab", "--via", "", "--no-auth", "--kernel", "", "--json"
    )
    assert back.returncode == 0, back.stderr
    answer = json.loads(back.stdout)
    assert answer["via"] is None and answer["auth"] == "none" and answer["default_kernel"] is None

    # refused, nothing changed: a token in the URL, an unknown --via, nothing to change,
    # an SSH server
    listing = lambda: json.loads(run_cli(cli_env, "server", "list", "--json").stdout)  # noqa: E731
    before = listing()
    for argv, code, said in [
        (["--url", other.url + "?token=abc"], 2, "--token"),
        (["--via", "nosuch"], 1, "No server named 'nosuch'"),
        ([], 2, "Nothing to change"),
    ]:
        refused = run_cli(cli_env, "server", "edit", "lab", *argv)
        assert refused.returncode == code, (argv, refused.stderr)
        assert said in refused.stderr, (argv, refused.stderr)
    ssh_edit = run_cli(cli_env, "server", "edit", "gate", "--url", other.url)
    assert ssh_edit.returncode == 2 and "SSH server" in ssh_edit.stderr
    assert "hint:" in ssh_edit.stderr
    assert listing() == before


def test_a_hostile_server_cannot_flood_the_laptop_with_kernelspecs(
    manager: RemoteManager,
) -> None:
    """A Jupyter server answering 5,000 kernelspecs (the answer a hostile one could send):
    at most MAX_KERNELSPECS are written and listed, the rest never touch the disk."""
    from jupyter_remote.kernels.jupyter_servers import (
        MAX_KERNELSPECS,
        kept_kernels,
        sync_kernelspecs,
    )
    from jupyter_remote.store import JupyterServer

    run(manager.add_server({"name": "flood", "url": "http://127.0.0.1:1/", "auth": "none"}))
    server = manager.store.get_server("flood")
    assert isinstance(server, JupyterServer)
    spec = {"argv": ["x"], "display_name": "K", "language": "python"}
    answer = {f"k{i:05d}": {"spec": spec} for i in range(5000)}
    kept = sync_kernelspecs(server, answer)
    assert len(kept) == MAX_KERNELSPECS == len(kept_kernels(answer))
    assert (
        len([n for n in KernelSpecManager().find_kernel_specs() if n.startswith("remote-flood--")])
        == MAX_KERNELSPECS
    )
    run(manager.remove_server("flood"))
    assert not [
        n for n in KernelSpecManager().find_kernel_specs() if n.startswith("remote-flood--")
    ]
