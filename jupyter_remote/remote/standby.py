"""Standby kernels on the remote: the mark that makes a kernel a profile's standby.

Part of the agent script (see ``state.py``). Stdlib only, Python >= 3.8. A standby is
an ordinary kernel of ours (same private state and socket directories, same relay)
started with ``standby`` in its launch request: its directory then holds a ``standby``
file naming what it was started for (profile, server and a fingerprint of the
profile's interpreter, cwd, env and idle timeout). Taking it (``claim``) removes that
file: the removal is atomic, so one kernel is taken once, by one taker.
"""

import json
import os

# <local-imports> removed when the script is sent: the parts before it define these
from jupyter_remote.remote.state import KERNEL_ID, KERNELS, _alive, _read_int, _write_private

# </local-imports>

STANDBY_MARK = "standby"


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
    """A standby's start is over: its relay listens (relay.json), so a take can use it."""
    return os.path.exists(os.path.join(kdir, "relay.json"))


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
    return facts


def take_mark(profile: str, server: str, fingerprint: str) -> "str | None":
    """The id of a running standby of ``profile`` on ``server`` started as
    ``fingerprint`` says, its mark removed (taken: nobody else gets it); None if none."""
    try:
        names = sorted(os.listdir(KERNELS))
    except OSError:
        return None
    for name in names:
        kdir = os.path.join(KERNELS, name)
        mark = _mark_of(kdir)
        if not KERNEL_ID.match(name) or mark is None:
            continue
        if (mark.get("profile"), mark.get("server")) != (profile, server):
            continue
        if mark.get("fingerprint") != fingerprint:
            continue
        if not _alive(_read_int(os.path.join(kdir, "kernel.pid"))):
            continue
        if not _takeable(kdir):
            continue  # still starting: its relay is not listening yet
        try:
            os.unlink(os.path.join(kdir, STANDBY_MARK))
        except OSError:
            continue  # taken by someone else meanwhile
        return name
    return None
