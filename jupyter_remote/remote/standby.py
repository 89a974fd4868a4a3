"""Standby kernels on the remote: the mark that makes a kernel a profile's standby.

Part of the agent script (see ``state.py``). Stdlib only, Python >= 3.8. A standby is
an ordinary kernel of ours (same private state and socket directories, same relay)
started with ``standby`` in its launch request: its directory then holds a ``standby``
file naming what it was started for (profile, server and a fingerprint of the
profile's interpreter, cwd, env and idle timeout). Taking it (``claim``) renames that
file to ``claimed``: the rename is atomic, so one kernel is taken once, by one taker.
Stopping it as a standby (``discard``, the keeper's stop) renames the mark to
``stopping`` first, with the same atomicity: a kernel a start has just taken is never
stopped that way, and a take after it finds nothing (the start is a cold one). The
relay removes ``claimed`` when the taker's first connection arrives; a kernel still
``claimed`` after :data:`CLAIM_GRACE` seconds was taken by a start that failed before
attaching, and the next ``claim`` or ``list`` stops it (nothing is left orphaned).
The keeper that launched a standby takes it through the standby's own relay instead (a
CLAIM record, :func:`claim_here`: no agent exec), with the same rename.
"""

import json
import os
import time

# <local-imports> removed when the script is sent: the parts before it define these
from jupyter_remote.remote.kernel_stop import _stop_dir
from jupyter_remote.remote.pid_files import _alive, _read_int
from jupyter_remote.remote.protocol import with_proof
from jupyter_remote.remote.relay_start import query_relay
from jupyter_remote.remote.state import (
    CLAIMED,
    KERNELS,
    _kernel_dir,
    _kernel_names,
    _read_json,
    _write_private,
)

# </local-imports>

STANDBY_MARK = "standby"
#: seconds a taken standby may wait for its taker's first connection (a start takes
#: well under a second from the take to the attach; a slow link, a few)
CLAIM_GRACE = 120.0


def mark_standby(kdir: str, req: dict) -> None:
    """At launch, for a standby: the mark saying whose standby it is."""
    mark = {
        "profile": req.get("profile") or "",
        "server": req.get("server") or "",
        "fingerprint": str(req.get("standby") or ""),
    }
    _write_private(os.path.join(kdir, STANDBY_MARK), json.dumps(mark))


def _mark_of(kdir: str) -> "dict | None":
    try:
        with open(os.path.join(kdir, STANDBY_MARK)) as f:
            mark = json.load(f)
    except (OSError, ValueError):
        return None
    return mark if isinstance(mark, dict) else None


def _rss(pid: "int | None") -> int:
    """Resident memory of one process in bytes (/proc/PID/statm: one small read), or 0."""
    if not pid:
        return 0
    try:
        with open("/proc/%d/statm" % pid) as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _takeable(kdir: str) -> bool:
    """A standby's relay listens (relay.json) and its start has not failed (relay.none)."""
    has = os.path.exists
    return has(os.path.join(kdir, "relay.json")) and not has(os.path.join(kdir, "relay.none"))


def _answered(kdir: str) -> bool:
    """The standby's kernel has answered its relay's nudge (the relay then scrubs the key
    from the connection file): a start that takes it runs its first cell at once."""
    conn = _read_json(os.path.join(kdir, "connection.json"))
    return isinstance(conn, dict) and conn.get("key") == ""


def standby_facts(kdir: str, pid: int) -> dict:
    """What ``status`` adds: whether the kernel is a standby (its fingerprint, and
    whether a take would get it now), and its memory: the kernel's RSS plus its
    supervisor's (which holds the relay)."""
    mark = _mark_of(kdir)
    sup = _read_int(os.path.join(kdir, "supervisor.pid"))
    facts: dict = {"standby": mark is not None, "rss": _rss(pid) + _rss(sup)}
    if mark is not None:
        facts["fingerprint"] = str(mark.get("fingerprint") or "")
        facts["takeable"] = _takeable(kdir)
        facts["answered"] = facts["takeable"] and _answered(kdir)
    return facts


def take_mark(profile: str, server: str, fingerprint: str) -> "str | None":
    """The id of a running standby of ``profile`` on ``server`` started as
    ``fingerprint`` says, its mark removed (taken: nobody else gets it); None if none."""
    for name in _kernel_names():
        if _take(os.path.join(KERNELS, name), profile, server, fingerprint):
            return name
    return None


def _take(kdir: str, profile: str, server: str, fingerprint: str) -> bool:
    """Take the kernel of ``kdir`` if it is a running, takeable standby of ``profile`` on
    ``server`` started as ``fingerprint`` says: its mark renamed to ``claimed`` (atomic:
    one taker; a ``discard`` racing it wins or loses whole). Whether it was taken."""
    mark = _mark_of(kdir)
    if mark is None:
        return False
    if (mark.get("profile"), mark.get("server")) != (profile, server):
        return False
    if mark.get("fingerprint") != fingerprint:
        return False
    if not _alive(_read_int(os.path.join(kdir, "kernel.pid"))):
        return False
    if not _takeable(kdir):
        return False  # still starting: its relay is not listening yet
    claimed = os.path.join(kdir, CLAIMED)
    try:
        os.rename(os.path.join(kdir, STANDBY_MARK), claimed)
    except OSError:
        return False  # taken or being stopped meanwhile
    try:
        os.utime(claimed)  # when it was taken (CLAIM_GRACE counts from now)
    except OSError:
        pass
    return True


def claim_here(kdir: str, req: object, key: bytes = b"") -> dict:
    """The relay of the kernel of ``kdir``, for a CLAIM record (its keeper takes it
    without an agent exec; a TCP client's relay token was checked first): the standby
    taken as by ``claim`` (``{"ok": true}``), else why not; with the proof that this is
    the kernel's relay (``key``: the kernel's; ``relay_proof`` over its id and the
    CLAIM's nonce), which the keeper checks before it believes the answer and attaches."""
    kernel_id = os.path.basename(os.path.normpath(kdir))
    return with_proof(_claim(kdir, req), key, "claim", kernel_id, req)


def _claim(kdir: str, req: object) -> dict:
    fields = req if isinstance(req, dict) else {}
    wanted = [str(fields.get(k) or "") for k in ("profile", "server", "fingerprint")]
    if not all(wanted):
        return {"ok": False, "reason": "a malformed claim"}
    if _take(kdir, wanted[0], wanted[1], wanted[2]):
        return {"ok": True}
    return {"ok": False, "reason": "not a standby any more (taken, stopping or gone)"}


def op_discard(req: dict) -> dict:
    """The keeper stops a standby, only while it still is one: its mark is renamed to
    ``stopping`` first (atomic), so a kernel a start took meanwhile runs on."""
    kdir = _kernel_dir(req.get("kernel_id"))
    try:
        os.rename(os.path.join(kdir, STANDBY_MARK), os.path.join(kdir, "stopping"))
    except OSError:
        return {"stopped": False, "reason": "not a standby (taken, or gone)"}
    _stop_dir(kdir, float(req.get("timeout") or 5))
    return {"stopped": True}


def sweep_unattached(now: "float | None" = None) -> None:
    """Stop the kernels taken more than CLAIM_GRACE seconds ago that nobody attached to
    (the start that took one failed or was cancelled before its first connection). The
    mark's age is measured by the clock that stamped it, the file server's (an NFS home's
    may be minutes off ours): :func:`_file_clock`."""
    for name in _kernel_names():
        kdir = os.path.join(KERNELS, name)
        claimed = os.path.join(kdir, CLAIMED)
        try:
            stamped = os.stat(claimed).st_mtime
            now = _file_clock(KERNELS) if now is None else now
            if now - stamped < CLAIM_GRACE:
                continue
            if _client_attached(kdir):  # a relay of an older agent never removes the mark
                os.unlink(claimed)
                continue
            os.rename(claimed, os.path.join(kdir, "stopping"))  # not if it attached now
        except OSError:
            continue
        _stop_dir(kdir, 1)


def _file_clock(directory: str) -> float:
    """Now by the clock that stamps files in ``directory``: a fresh file's mtime (on NFS
    the server sets it); ours when no file can be made there."""
    path = os.path.join(directory, ".clock-%d" % os.getpid())
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        try:
            os.write(fd, b"x")  # the server stamps the write
        finally:
            os.close(fd)  # (NFS: close flushes; the stat then asks the server)
        return os.stat(path).st_mtime
    except OSError:
        return time.time()
    finally:
        try:
            os.unlink(path)
        except OSError:
            pass


def _client_attached(kdir: str) -> bool:
    """Whether the kernel's relay has a client now (``sweep_unattached`` asks before it
    stops a kernel still marked ``claimed``: the taker may be working in it)."""
    where = _read_json(os.path.join(kdir, "relay.json"))
    path = where.get("path") if isinstance(where, dict) else None
    if not isinstance(path, str) or not path:
        return False
    try:
        return bool(query_relay(path, timeout=2.0).get("client"))
    except (OSError, ValueError):
        return False
