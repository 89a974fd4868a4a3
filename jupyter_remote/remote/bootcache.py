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
directories (never symlinks) of this user that no one else may write, checked on their
open descriptors and every entry opened relative to the cache's (anchored: a directory
swapped for a symlink after the check is not followed), the file is a
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

import marshal
import os
import stat
import sys

try:  # the builtin SHA-256: hashlib loads OpenSSL's libcrypto, ~4 MB of every exec's RSS
    from _sha256 import sha256  # Python <= 3.11
except ImportError:
    try:
        from _sha2 import sha256  # 3.12+
    except ImportError:
        from hashlib import sha256

# <local-imports> removed when the loader is sent: stdin_payload_cached defines it first
from types import CodeType
from typing import Callable

from jupyter_remote.remote.protocol import CODE_CACHE_DIR

# </local-imports>

_CODE_TYPE = type(compile("", "", "exec"))
_HEADER = b"jupyter-remote code "
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # a FIFO planted as an entry never blocks the open


def _cache_dir() -> str:
    return os.path.join(os.path.expanduser("~"), CODE_CACHE_DIR)


def _ours(fd: int, kind: "Callable[[int], bool]", private: bool = True) -> bool:
    """The file open at ``fd`` is a ``kind`` (stat.S_ISDIR/S_ISREG) of this user that
    (``private``) neither its group nor others may write."""
    st = os.fstat(fd)
    if not kind(st.st_mode) or st.st_uid != os.getuid():
        return False
    return not (private and st.st_mode & 0o022)


def _open_dir(name: str, dir_fd: "int | None" = None, private: bool = True) -> "int | None":
    """Directory ``name`` (relative to ``dir_fd``) opened without following a symlink, if
    it is ours (``_ours``), else None: what is checked is what is used after, whatever
    the path names by then."""
    try:
        fd = os.open(name, os.O_RDONLY | _DIRECTORY | _NOFOLLOW, dir_fd=dir_fd)
    except OSError:
        return None
    try:
        if _ours(fd, stat.S_ISDIR, private):
            return fd
    except OSError:
        pass
    os.close(fd)
    return None


def _open_cache(make: bool = False, private: bool = True) -> "int | None":
    """The cache directory, anchored (``script_code``, ``store``, ``_drop_orphaned``): the
    state directory opened without following a symlink and checked, the cache directory
    opened relative to it and checked the same; every entry is then opened relative to
    that descriptor, so a directory swapped for a symlink after the check is never used.
    ``make``: the cache directory is created (0700) if missing, never the state one."""
    cache = _cache_dir()
    state_fd = _open_dir(os.path.dirname(cache), private=private)
    if state_fd is None:
        return None
    try:
        if make:
            try:
                os.mkdir(os.path.basename(cache), 0o700, dir_fd=state_fd)
            except OSError:
                pass  # there already (checked next), or not ours to make
        return _open_dir(os.path.basename(cache), state_fd, private)
    finally:
        os.close(state_fd)


def cache_key(name: str, source: bytes) -> "str | None":
    """The entry's file name: the script's name, this interpreter's bytecode tag and a
    SHA-256 of the script's exact bytes with the interpreter's full version and its
    optimisation level (-O/PYTHONOPTIMIZE strips asserts and docstrings at compile)."""
    tag = sys.implementation.cache_tag
    if not tag:
        return None
    build = "\0%s\0%d\0%d" % (sys.version, marshal.version, sys.flags.optimize)
    digest = sha256(source + build.encode())
    return "%s-%s-%s" % (name, tag, digest.hexdigest())


def load_cached(cache_fd: int, key: str) -> "CodeType | None":
    """The code object stored as ``key`` in the cache open at ``cache_fd`` (``_open_cache``),
    or None unless it is a private regular file of ours (opened without following a
    symlink) whose header names its own key and its body's digest."""
    try:
        fd = os.open(key, os.O_RDONLY | _NOFOLLOW | _NONBLOCK, dir_fd=cache_fd)
    except OSError:
        return None
    try:
        if not _ours(fd, stat.S_ISREG):
            return None
        with os.fdopen(os.dup(fd), "rb") as f:
            data = f.read()
    except OSError:
        return None
    finally:
        os.close(fd)
    header, _, body = data.partition(b"\n")
    if header != _header(key, body):
        return None
    try:
        code = marshal.loads(body)
    except (ValueError, EOFError, TypeError):
        return None
    return code if isinstance(code, _CODE_TYPE) else None


def _header(key: str, body: bytes) -> bytes:
    """An entry's first line: its key (its file name) and the SHA-256 of its body."""
    return _HEADER + key.encode() + b" " + sha256(body).hexdigest().encode()


def _kernels_live() -> bool:
    """Some kernel (or Slurm job) of ours has state here: entries may be written."""
    state = os.path.dirname(_cache_dir())
    return any(os.path.isdir(os.path.join(state, d)) for d in ("kernels", "jobs", "holders"))


def store(key: str, code: "CodeType") -> None:
    """Write ``code`` as ``key`` (0600, atomically, in the anchored cache directory) and
    remove this script's older entries for this interpreter; silently nothing when it
    cannot be done safely."""
    if not _kernels_live():
        return
    cache_fd = _open_cache(make=True)
    if cache_fd is None:
        return
    tmp = "%s.%d.tmp" % (key, os.getpid())
    try:
        body = marshal.dumps(code)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW
        fd = os.open(tmp, flags, 0o600, dir_fd=cache_fd)
        with os.fdopen(fd, "wb") as f:
            f.write(_header(key, body) + b"\n" + body)
        os.replace(tmp, key, src_dir_fd=cache_fd, dst_dir_fd=cache_fd)
        _prune(cache_fd, key)
    except OSError:
        try:
            os.unlink(tmp, dir_fd=cache_fd)
        except OSError:
            pass
    try:
        if not _kernels_live():  # the last kernel went meanwhile: its stop may have missed this
            _drop(cache_fd)
    finally:
        os.close(cache_fd)


def _drop(cache_fd: int) -> None:
    """The cache's entries (relative to ``cache_fd``), the cache and the emptied state
    directory (rmdir: never through a symlink, never a directory not empty), as
    kernel_dirs._remove_empty_parents does when a kernel's stop runs while an entry is written
    (either of them removes it)."""
    cache = _cache_dir()
    try:
        for entry in os.listdir(cache_fd):
            os.unlink(entry, dir_fd=cache_fd)
        os.rmdir(cache)
        os.rmdir(os.path.dirname(cache))
    except OSError:
        pass


def _drop_orphaned() -> None:
    """``script_code``, first: a cache of ours with no kernel, job or holder state left
    is dropped with the emptied state directory (review s24 F5: a kernel started before
    the cache existed keeps its old supervisor, whose cleanup does not know it). One
    lstat per exec while there is no cache."""
    try:
        st = os.lstat(_cache_dir())
    except OSError:
        return
    if not stat.S_ISDIR(st.st_mode) or _kernels_live():
        return
    cache_fd = _open_cache(private=False)  # ours, even if loose: anchored all the same
    if cache_fd is not None:
        try:
            _drop(cache_fd)
        finally:
            os.close(cache_fd)


def _prune(cache_fd: int, keep: str) -> None:
    """Older entries of the same script and interpreter (an earlier version's)."""
    prefix = keep.rsplit("-", 1)[0] + "-"
    for entry in os.listdir(cache_fd):
        if entry != keep and entry.startswith(prefix) and not entry.endswith(".tmp"):
            try:
                os.unlink(entry, dir_fd=cache_fd)
            except OSError:
                pass


def _load(key: str) -> "CodeType | None":
    """``script_code``: the entry ``key`` from the anchored cache, if all is private."""
    cache_fd = _open_cache()
    if cache_fd is None:
        return None
    try:
        return load_cached(cache_fd, key)
    finally:
        os.close(cache_fd)


def script_code(name: str, source: bytes) -> "CodeType":
    """The code of ``source`` (bytes): from the cache, or compiled (and stored)."""
    _drop_orphaned()
    key = cache_key(name, source)
    code = _load(key) if key else None
    if code is None:
        code = compile(source, "<jupyter-remote>", "exec")
        if key:
            store(key, code)
    return code


def run_next_script(name: str) -> None:
    """Read the framed script behind this loader on stdin and run it in these globals
    (``__main__``'s: the bootstrap's), its text in ``_jr_src`` as the bootstrap keeps it,
    this loader's own in ``_jr_loader`` (a job's holder starts the supervisor with it)."""
    n = int(sys.stdin.buffer.readline())
    source = sys.stdin.buffer.read(n)
    main_globals = sys.modules["__main__"].__dict__
    main_globals["_jr_loader"] = main_globals.get("_jr_src")  # launch._own_loader
    main_globals["_jr_src"] = source
    exec(script_code(name, source), main_globals)


if __name__ == "__main__":
    run_next_script(globals()["SCRIPT_NAME"])  # stdin_payload_cached defines it first
