"""The agent's bytecode cache on the remote: the loader that runs a script from it.

Compiling the agent script (~160 KB) cost every agent exec 25-40 ms on the remote, a
third of the way from "starting kernel" to the kernel's process (issue 17 item 2).
This loader travels on stdin ahead of the script (``remote.stdin_payload_cached``; the
fixed bootstrap runs it as any script): it reads the framed script that follows, runs
the code object marshalled in the cache under a key of the script's exact bytes and
this interpreter, or compiles and stores it. Stdlib only, Python >= 3.8; the script
then reads its request from the rest of stdin, and finds its own text in ``_jr_src``.

Trust: the cache is ``~/<CODE_CACHE_DIR>``, inside the agent's private state directory.
A file is used only when the state directory and the cache directory are real
directories (never symlinks) of this user that no one else may write, the file is a
regular file of this user that no one else may write (opened without following a
symlink), and its header carries its own key (its file name: another entry renamed or
copied there is refused) and the SHA-256 of its body; anything else is compiled from the
source that came on stdin. Entries are written (0600, atomically) only while a kernel of
ours has state on the host, never making the state directory; state.py removes the cache
with the last one (and a writer that finds the last one gone drops it itself), and an
exec that finds a cache with no kernel state left (an older supervisor ended the last
kernel: its cleanup did not know the cache) drops it, so nothing of it outlives the
kernels.
"""

import hashlib
import marshal
import os
import stat
import sys

# <local-imports> removed when the loader is sent: stdin_payload_cached defines it first
from types import CodeType
from typing import Callable

from jupyter_remote.remote.protocol import CODE_CACHE_DIR

# </local-imports>

_CODE_TYPE = type(compile("", "", "exec"))
_HEADER = b"jupyter-remote code "


def _cache_dir() -> str:
    return os.path.join(os.path.expanduser("~"), CODE_CACHE_DIR)


def _private(path: str, kind: "Callable[[int], bool]") -> bool:
    """``path`` is a ``kind`` (stat.S_ISDIR/S_ISREG) of this user, not a symlink, that
    neither its group nor others may write (lstat: a symlink is never followed)."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return kind(st.st_mode) and st.st_uid == os.getuid() and not st.st_mode & 0o022


def _trusted_dirs() -> bool:
    """The state directory and the cache directory in it are private to this user."""
    cache = _cache_dir()
    return _private(os.path.dirname(cache), stat.S_ISDIR) and _private(cache, stat.S_ISDIR)


def cache_key(name: str, source: bytes) -> "str | None":
    """The entry's file name: the script's name, this interpreter's bytecode tag and a
    SHA-256 of the script's exact bytes with the interpreter's full version and its
    optimisation level (-O/PYTHONOPTIMIZE strips asserts and docstrings at compile)."""
    tag = sys.implementation.cache_tag
    if not tag:
        return None
    build = "\0%s\0%d\0%d" % (sys.version, marshal.version, sys.flags.optimize)
    digest = hashlib.sha256(source + build.encode())
    return "%s-%s-%s" % (name, tag, digest.hexdigest())


def load_cached(path: str) -> "CodeType | None":
    """The code object stored at ``path``, or None unless every trust check holds and
    its header names its own key (the file name) and its body's digest."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o022:
            return None
        if not _trusted_dirs():
            return None
        with os.fdopen(os.dup(fd), "rb") as f:
            data = f.read()
    except OSError:
        return None
    finally:
        os.close(fd)
    header, _, body = data.partition(b"\n")
    if header != _header(os.path.basename(path), body):
        return None
    try:
        code = marshal.loads(body)
    except (ValueError, EOFError, TypeError):
        return None
    return code if isinstance(code, _CODE_TYPE) else None


def _header(key: str, body: bytes) -> bytes:
    """An entry's first line: its key (its file name) and the SHA-256 of its body."""
    return _HEADER + key.encode() + b" " + hashlib.sha256(body).hexdigest().encode()


def _kernels_live() -> bool:
    """Some kernel (or Slurm job) of ours has state here: entries may be written."""
    state = os.path.dirname(_cache_dir())
    return any(os.path.isdir(os.path.join(state, d)) for d in ("kernels", "jobs", "holders"))


def store(path: str, code: "CodeType") -> None:
    """Write ``code`` at ``path`` (0600, atomically) and remove this script's older
    entries for this interpreter; silently nothing when it cannot be done safely."""
    if not _kernels_live():
        return
    cache = os.path.dirname(path)
    tmp = "%s.%d.tmp" % (path, os.getpid())
    try:
        if not os.path.isdir(cache):
            os.mkdir(cache, 0o700)  # in the state directory, never making it
        if not _trusted_dirs():
            return
        body = marshal.dumps(code)
        fd = os.open(
            tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600
        )
        with os.fdopen(fd, "wb") as f:
            f.write(_header(os.path.basename(path), body) + b"\n" + body)
        os.replace(tmp, path)
        _prune(cache, os.path.basename(path))
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass
    if not _kernels_live():  # the last kernel went meanwhile: its stop may have missed this
        _drop(cache)


def _drop(cache: str) -> None:
    """The cache and the emptied state directory, as state._remove_empty_parents does
    when a kernel's stop runs while an entry is written (either of them removes it)."""
    try:
        for entry in os.listdir(cache):
            os.unlink(os.path.join(cache, entry))
        os.rmdir(cache)
        os.rmdir(os.path.dirname(cache))
    except OSError:
        pass


def _drop_orphaned(cache: str) -> None:
    """``script_code``, first: a cache of ours with no kernel, job or holder state left
    is dropped with the emptied state directory (review s24 F5: a kernel started before
    the cache existed keeps its old supervisor, whose cleanup does not know it). One
    lstat per exec while there is no cache."""
    try:
        st = os.lstat(cache)
    except OSError:
        return
    if stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and not _kernels_live():
        _drop(cache)


def _prune(cache: str, keep: str) -> None:
    """Older entries of the same script and interpreter (an earlier version's)."""
    prefix = keep.rsplit("-", 1)[0] + "-"
    for entry in os.listdir(cache):
        if entry != keep and entry.startswith(prefix) and not entry.endswith(".tmp"):
            try:
                os.unlink(os.path.join(cache, entry))
            except OSError:
                pass


def script_code(name: str, source: bytes) -> "CodeType":
    """The code of ``source`` (bytes): from the cache, or compiled (and stored)."""
    _drop_orphaned(_cache_dir())
    key = cache_key(name, source)
    path = os.path.join(_cache_dir(), key) if key else None
    code = load_cached(path) if path else None
    if code is None:
        code = compile(source, "<jupyter-remote>", "exec")
        if path:
            store(path, code)
    return code


def run_next_script(name: str) -> None:
    """Read the framed script behind this loader on stdin and run it in these globals
    (``__main__``'s: the bootstrap's), its text in ``_jr_src`` as the bootstrap keeps it."""
    n = int(sys.stdin.buffer.readline())
    source = sys.stdin.buffer.read(n)
    main_globals = sys.modules["__main__"].__dict__
    main_globals["_jr_src"] = source
    exec(script_code(name, source), main_globals)


if __name__ == "__main__":
    run_next_script(globals()["SCRIPT_NAME"])  # stdin_payload_cached defines it first
