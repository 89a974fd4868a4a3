"""Remote files when someone else is on the remote (issue 14; review s22 F2, F5), against
a real OpenSSH sshd as ``jrfiles``: another user of the host (``jrfilesevil``) cannot
hijack, read or plant what our uploads, saves and checkpoints use; a hostile SFTP server
whose endless listing stays bounded, or whose home is refused; new files get the remote
login's umask. Host and helpers: tests/harness/files.py.
"""

from __future__ import annotations

import base64
import contextlib
import os
import secrets
import shlex
import shutil
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from jupyter_remote.errors import (
    RemoteCommandError,
    RemotePermissionError,
)
from jupyter_remote.files import transfers
from jupyter_remote.manager import RemoteManager
from jupyter_remote.ssh.sftp import TEMP_MARK
from tests.harness import files
from tests.harness.files import USER, leftovers
from tests.harness.servers import server_input, trust_host
from tests.harness.sshd_host import SSHTestHost, as_user_argv, ensure_user

files_host = files.files_host  # the fixtures, by name (tests/harness/files.py)
workdir = files.workdir
box = files.box


# ------------------------------------------------------------------ another user of the remote


@pytest.fixture
def shared_dir(files_host: SSHTestHost) -> Iterator[Path]:
    """A world-writable sticky directory, as /tmp or a group's scratch space."""
    path = Path(f"/tmp/jr-shared-{secrets.token_hex(4)}")
    path.mkdir()
    path.chmod(0o1777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


async def test_another_user_cannot_hijack_or_read_an_upload_in_a_shared_directory(
    box: RemoteManager, files_host: SSHTestHost, workdir: Path, shared_dir: Path
) -> None:
    """The attacker plants symlinks at temporary names a predictable scheme would use,
    pointing at a file of the victim, and tries to read the upload while it is written."""
    attacker = ensure_user("jrfilesevil")
    canary = workdir / "canary.txt"
    canary.write_text("the victim's file")
    os.chown(canary, files_host.uid, files_host.gid)
    guesses = [f".data.bin{TEMP_MARK}{i:016x}" for i in range(200)] + [
        f".data.bin{TEMP_MARK}",
        ".data.bin.tmp",
        "data.bin.part",
        ".data.bin.swp",
    ]
    plant = "import os, sys\nfor n in sys.argv[3:]: os.symlink(sys.argv[2], sys.argv[1] + '/' + n)"
    argv = ["/usr/bin/python3", "-c", plant, str(shared_dir), str(canary), *guesses]
    planted = subprocess.run(
        as_user_argv(attacker.pw_name, argv), capture_output=True, text=True, check=False
    )
    assert planted.returncode == 0, planted.stderr
    target = f"{shared_dir}/data.bin"
    chunk = os.urandom(1 << 20)
    part = base64.b64encode(chunk).decode()
    for number in (1, 2):
        body = {"type": "file", "format": "base64", "chunk": number, "content": part}
        await box.files.save("box", target, body)
    temps = [n for n in os.listdir(shared_dir) if TEMP_MARK in n and n not in guesses]
    assert len(temps) == 1 and len(temps[0].rpartition(TEMP_MARK)[2]) == 16
    temp = shared_dir / temps[0]
    assert temp.stat().st_mode & 0o777 == 0o600 and temp.stat().st_uid == files_host.uid
    for attempt in (["cat", str(temp)], ["rm", "-f", str(temp)], ["mv", str(temp), "/tmp/x"]):
        tried = subprocess.run(as_user_argv(attacker.pw_name, attempt), capture_output=True,
                               text=True, check=False)  # fmt: skip
        assert tried.returncode != 0, attempt
    await box.files.save("box", target, {"type": "file", "format": "base64", "chunk": -1,
                                         "content": base64.b64encode(b"end").decode()})  # fmt: skip
    assert (shared_dir / "data.bin").read_bytes() == chunk * 2 + b"end"
    assert canary.read_text() == "the victim's file"
    assert all((shared_dir / g).is_symlink() for g in guesses)  # nothing followed them
    assert [n for n in os.listdir(shared_dir) if TEMP_MARK in n and n not in guesses] == []


async def test_an_upload_whose_rename_fails_leaves_nothing_readable_behind(
    box: RemoteManager, files_host: SSHTestHost, shared_dir: Path
) -> None:
    """Another user owns ``results.bin`` (mode 0666) in a sticky shared directory, so the
    victim's rename over it fails at the last chunk: the error is clear, the attacker's file
    is untouched, and the victim's whole upload is not left there under its temporary name
    (with the target's 0666 it would be the attacker's to read)."""
    attacker = ensure_user("jrfilesevil")
    target = shared_dir / "results.bin"
    target.write_text("the attacker's file")
    os.chown(target, attacker.pw_uid, attacker.pw_gid)
    target.chmod(0o666)
    part = base64.b64encode(os.urandom(1 << 16)).decode()
    await box.files.save("box", str(target), {"type": "file", "format": "base64", "chunk": 1,
                                              "content": part})  # fmt: skip
    assert [n for n in os.listdir(shared_dir) if TEMP_MARK in n], "control: a temporary file"
    with pytest.raises(RemotePermissionError):
        await box.files.save("box", str(target), {"type": "file", "format": "base64",
                                                  "chunk": -1, "content": part})  # fmt: skip
    assert target.read_text() == "the attacker's file"
    assert [n for n in os.listdir(shared_dir) if TEMP_MARK in n] == []


async def test_checkpoints_another_user_prepared_are_never_used(
    box: RemoteManager, files_host: SSHTestHost, workdir: Path, shared_dir: Path
) -> None:
    """In a shared directory another user made ``.ipynb_checkpoints`` (world-writable)
    and planted a checkpoint: no copy of the victim's notebook goes there, the planted
    one is neither listed nor restored over the notebook. Control: in the victim's own
    directory a checkpoint is created, listed and restored."""
    checkpoints = box.files.checkpoints
    mine = workdir / "own.ipynb"
    mine.write_text("first")
    os.chown(mine, files_host.uid, files_host.gid)
    await checkpoints.create("box", str(mine))
    assert [c["id"] for c in await checkpoints.list("box", str(mine))] == ["checkpoint"]
    mine.write_text("second")
    await checkpoints.restore("box", str(mine), "checkpoint")
    assert mine.read_text() == "first", "control: our own checkpoints work"

    attacker = ensure_user("jrfilesevil")
    notebook = shared_dir / "analysis.ipynb"
    notebook.write_text("the victim's notebook")
    os.chown(notebook, files_host.uid, files_host.gid)
    folder = shared_dir / ".ipynb_checkpoints"
    folder.mkdir()
    planted = folder / "analysis-checkpoint.ipynb"
    planted.write_text("the attacker's code")
    for path in (folder, planted):
        os.chown(path, attacker.pw_uid, attacker.pw_gid)
    folder.chmod(0o777)
    with pytest.raises(RemotePermissionError) as info:
        await checkpoints.create("box", str(notebook))
    assert "other users may write" in info.value.message
    assert sorted(os.listdir(folder)) == ["analysis-checkpoint.ipynb"]
    assert planted.read_text() == "the attacker's code"
    assert await checkpoints.list("box", str(notebook)) == []
    with pytest.raises(RemotePermissionError):
        await checkpoints.restore("box", str(notebook), "checkpoint")
    assert notebook.read_text() == "the victim's notebook"


async def test_a_save_never_follows_a_symlink_another_user_planted(
    box: RemoteManager, files_host: SSHTestHost, workdir: Path, shared_dir: Path
) -> None:
    """Another user plants ``report.txt`` in a shared sticky directory as a symlink to
    a file of the victim: saving there is refused and writes nothing anywhere (as the
    kernel's protected_symlinks would, which SFTP's resolution never meets). Control:
    the victim's own symlink in the same directory is saved through."""
    attacker = ensure_user("jrfilesevil")
    victim_file = workdir / "notes.txt"
    victim_file.write_text("the victim's notes")
    os.chown(victim_file, files_host.uid, files_host.gid)
    planted = shared_dir / "report.txt"
    planted.symlink_to(victim_file)
    os.lchown(planted, attacker.pw_uid, attacker.pw_gid)
    model = {"type": "file", "format": "text", "content": "the report"}
    with pytest.raises(RemotePermissionError) as info:
        await box.files.save("box", str(planted), model)
    assert "symbolic link another user made" in info.value.message
    assert victim_file.read_text() == "the victim's notes"
    assert planted.is_symlink() and os.lstat(planted).st_uid == attacker.pw_uid
    assert sorted(os.listdir(shared_dir)) == ["report.txt"], "no temporary file left"
    # the user's own link to the planted one: the chain's second link is refused too
    chain = workdir / "latest-report.txt"
    chain.symlink_to(planted)
    os.lchown(chain, files_host.uid, files_host.gid)
    with pytest.raises(RemotePermissionError):
        await box.files.save("box", str(chain), model)
    assert victim_file.read_text() == "the victim's notes"
    chain.unlink()

    own = shared_dir / "mine.txt"
    own.symlink_to(victim_file)
    os.lchown(own, files_host.uid, files_host.gid)
    await box.files.save("box", str(own), model)
    assert victim_file.read_text() == "the report", "control: our own link is followed"


async def test_removing_or_editing_a_server_lets_its_file_link_go(
    box: RemoteManager, files_host: SSHTestHost, workdir: Path
) -> None:
    """The SFTP link the file browser keeps for a while holds the server's connection:
    editing or removing the server lets it go, so nothing keeps talking to a host the
    user edited or forgot (and the next connection checks its host key again)."""
    await box.files.get("box", str(workdir))
    assert box.pool.open_count() == 1
    await box.update_server("box", {"channel_transport": "unix"})
    assert box.pool.open_count() == 0, "an edit: the next operation connects anew"
    await box.files.get("box", str(workdir))
    assert box.pool.open_count() == 1
    await box.remove_server("box")
    assert box.pool.open_count() == 0


# ------------------------------------------------------------------ a hostile remote


def _hostile_sftp(*args: str) -> SSHTestHost:
    """An sshd whose sftp subsystem is tests/hostile_sftp.py with ``args``."""
    host = SSHTestHost(name="hostilesftp", user=USER, remote_env=False, start=False)
    script = host.workdir / "hostile_sftp.py"
    shutil.copy(Path(__file__).with_name("hostile_sftp.py"), script)
    script.chmod(0o755)
    argv = " ".join(shlex.quote(a) for a in ("/usr/bin/python3", str(script), *args))
    host.extra_config["Subsystem"] = f"sftp {argv}"
    host._write_config()
    host.start()
    return host


@pytest.fixture
def hostile_sftp_host(tmp_path: Path) -> Iterator[SSHTestHost]:
    """An sshd whose sftp subsystem is tests/hostile_sftp.py (an endless listing)."""
    host = _hostile_sftp()
    try:
        yield host
    finally:
        host.close()


async def test_an_endless_hostile_listing_stays_bounded(
    manager: RemoteManager, hostile_sftp_host: SSHTestHost
) -> None:
    from jupyter_remote.store import Server

    manager.store.save_server(Server.from_input(server_input(hostile_sftp_host, "evil")))
    trust_host(manager.store, hostile_sftp_host)
    listing = await manager.files.get("evil", "/home/x", limit=20_000)
    assert listing["truncated"] is True and len(listing["content"]) == 20_000
    assert listing["pages"] == 21  # it stopped asking one page past the limit
    for entry in listing["content"][:50]:
        assert "\x1b" not in entry["name"] and "\u202e" not in entry["name"]
        assert "\x07" not in entry["name"]
    with contextlib.suppress(Exception):
        await manager.files.links.close()


@pytest.mark.parametrize(
    "home", ["/../../../../../api/shutdown", "/home/x/../../api", "home/x", "/home/x/", "//x"]
)
async def test_a_hostile_sftp_home_is_refused_with_the_remote_named(
    manager: RemoteManager, home: str
) -> None:
    """Review s22 F2: a remote whose SFTP server answers a home that is not a normalized
    absolute path gets no link: every use of its files (``~``, the home, a new notebook
    in ``~``, an absolute path too) is a 502 naming the server, and no link is kept."""
    from jupyter_remote.store import Server

    host = _hostile_sftp(home)
    try:
        manager.store.save_server(Server.from_input(server_input(host, "evil")))
        trust_host(manager.store, host)
        files = manager.files
        for use in (
            lambda: files.get("evil", "~", content=False),
            lambda: files.home("evil"),
            lambda: files.new_untitled("evil", "~", type="notebook"),
            lambda: files.get("evil", "/home/x"),
        ):
            with pytest.raises(RemoteCommandError) as refused:
                await use()
            assert refused.value.status == 502
            assert "SFTP server of evil" in refused.value.message
            assert "not a normalized absolute path" in refused.value.message
            assert refused.value.hint
        assert files.links._held == {}
    finally:
        with contextlib.suppress(Exception):
            await manager.files.links.close()
        host.close()


# ------------------------------------------------------------------ new files' mode


@pytest.fixture
def umask077_host() -> Iterator[SSHTestHost]:
    """The files user on an sshd started with umask 077: its logins' umask (no PAM, /bin/sh
    reads no rc file), as login.defs' UMASK 077 or pam_umask give a real account."""
    host = SSHTestHost(name="umask077", user=USER, start=False)
    old = os.umask(0o077)
    try:
        host.start()
    finally:
        os.umask(old)
    try:
        yield host
    finally:
        host.close()


async def _login_umask(manager: RemoteManager, server: str) -> int:
    """The umask of a login on ``server`` (``umask`` run over the files' own connection)."""
    async with manager.files.links.use(server) as link:
        done = await link.lease.conn.run("umask", check=True)
    return int(str(done.stdout).strip(), 8)


async def test_new_files_get_the_remote_logins_umask(
    manager: RemoteManager, umask077_host: SSHTestHost, shared_dir: Path, tmp_path: Path
) -> None:
    """Review s22 F5: in a shared project directory, a new notebook (Open notebook, Attach,
    New), a new file saved and a new upload are 0666 less the login's umask, 0600 for a
    077 user (were 0644 whatever it was), so jrattacker cannot read them; a file saved
    over keeps its own mode. The CLI's upload (``jupyter remote files upload``) follows
    the same rule: it gave 0644 less the laptop's umask, new file or not."""
    from jupyter_remote.store import Server

    manager.store.save_server(Server.from_input(server_input(umask077_host, "private")))
    trust_host(manager.store, umask077_host)
    assert await _login_umask(manager, "private") == 0o077
    files = manager.files
    made = await files.new_untitled("private", str(shared_dir), type="notebook")
    text = {"type": "file", "format": "text", "content": "x"}
    saved = await files.save("private", f"{shared_dir}/new.txt", text)
    await files.save("private", f"{shared_dir}/up.bin", {**text, "chunk": 1})
    await files.save("private", f"{shared_dir}/up.bin", {**text, "chunk": -1})
    for path in (made["path"], saved["path"], f"{shared_dir}/up.bin"):
        info = os.stat(path)
        assert info.st_uid == umask077_host.uid and stat.S_IMODE(info.st_mode) == 0o600, path
    kept = shared_dir / "kept.txt"
    kept.write_text("old")
    os.chown(kept, umask077_host.uid, umask077_host.gid)
    kept.chmod(0o644)
    await files.save("private", str(kept), text)
    assert stat.S_IMODE(kept.stat().st_mode) == 0o644 and kept.read_text() == "x"
    source = tmp_path / "cli.bin"
    source.write_bytes(b"cli")
    await transfers.upload(files, "private", str(source), f"{shared_dir}/cli-new.bin")
    assert stat.S_IMODE(os.stat(shared_dir / "cli-new.bin").st_mode) == 0o600
    over = shared_dir / "cli-over.bin"
    over.write_text("old")
    os.chown(over, umask077_host.uid, umask077_host.gid)
    over.chmod(0o640)
    await transfers.upload(files, "private", str(source), str(over))
    assert stat.S_IMODE(over.stat().st_mode) == 0o640 and over.read_bytes() == b"cli"
    attacker = ensure_user("jrattacker").pw_name
    for path, readable in ((made["path"], False), (saved["path"], False), (str(kept), True)):
        read = subprocess.run(as_user_argv(attacker, ["cat", path]), capture_output=True,
                              text=True, check=False)  # fmt: skip
        assert (read.returncode == 0) is readable, (path, read.stderr)
    assert leftovers(shared_dir) == []
    with contextlib.suppress(Exception):
        await files.links.close()


async def test_new_files_under_the_usual_umask_are_0644(box: RemoteManager, workdir: Path) -> None:
    """The other side of the test above: the files host's logins (umask 022, the
    default) get 0644 new files, as before."""
    login_umask = await _login_umask(box, "box")
    assert login_umask == 0o022
    made = await box.files.new_untitled("box", str(workdir), type="notebook")
    assert stat.S_IMODE(os.stat(made["path"]).st_mode) == 0o644
