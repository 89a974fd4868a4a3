"""One interpreter on the remote: what kind of environment it is, and a timed check.

Part of the probe script (protocol, interpreters, probe: see
``jupyter_remote/remote/__init__.py``). Stdlib only, Python >= 3.8. ``classify``
tells conda / uv / venv / virtualenv from an environment's files; ``untrusted_prefix``
says why an environment another user controls must never be run; ``check_python``
runs the interpreter once (its own session, killed with its process group on
timeout) for its version, prefix and whether ipykernel imports; ``check_many`` runs
one interpreter per distinct binary and reads the other venvs on that binary from
their files (``venv_has``), so 50 venvs of one Python cost one interpreter start.
"""

import json
import os
import signal
import stat
import subprocess
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Dict, List, Optional, Tuple

CHECK_MARKER = "@@jupyter-remote-check@@ "

#: Whether ``s``, what ``importlib.util.find_spec("ipykernel")`` found, is ipykernel: a
#: bare directory (a namespace package, left by a half-removed install) is not. The one
#: test of "ipykernel installed": discovery's CHECK and the profile check
#: (``kernels/profiles.py``) both run it.
IPYKERNEL_FOUND = '(s is not None and s.origin not in (None, "namespace"))'

# Runs in each candidate interpreter; Python 2 compatible so old envs still get
# a version instead of a syntax error.
CHECK = r"""
import sys, json
k = False
try:
    import importlib.util
    s = importlib.util.find_spec("ipykernel")
    k = IPYKERNEL_FOUND
except Exception:
    try:
        import imp
        imp.find_module("ipykernel")
        k = True
    except Exception:
        k = False
sys.stdout.write("\n" + MARKER + json.dumps({
    "version": "%d.%d.%d" % tuple(sys.version_info[:3]),
    "ipykernel": k,
    "prefix": sys.prefix,
}) + "\n")
""".replace("MARKER", repr(CHECK_MARKER)).replace("IPYKERNEL_FOUND", IPYKERNEL_FOUND)


def _home() -> str:
    return os.path.expanduser("~")


def _tilde(path: str) -> str:
    """``/home/u/x`` -> ``~/x`` for the ``source`` field."""
    home = _home()
    if path == home or path.startswith(home + os.sep):
        return "~" + path[len(home) :]
    return path


def _last_marked(text: str, marker: str) -> Optional[Dict[str, Any]]:
    at = text.rfind(marker)
    if at < 0:
        return None
    try:
        data = json.loads(text[at + len(marker) :].splitlines()[0])
    except (ValueError, IndexError):
        return None
    return data if isinstance(data, dict) else None


def read_pyvenv_cfg(prefix: str) -> Optional[Dict[str, str]]:
    """Keys of ``prefix/pyvenv.cfg`` (lower-cased), or None when there is none."""
    try:
        with open(os.path.join(prefix, "pyvenv.cfg"), encoding="utf-8", errors="replace") as f:
            text = f.read(65536)
    except OSError:
        return None
    cfg = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            cfg[key.strip().lower()] = value.strip()
    return cfg


def classify(prefix: str) -> Optional[str]:
    """conda / uv / virtualenv / venv from markers in ``prefix``; None if none."""
    if os.path.isdir(os.path.join(prefix, "conda-meta")):
        return "conda"
    cfg = read_pyvenv_cfg(prefix)
    if cfg is None:
        return None
    if "uv" in cfg:
        return "uv"
    if "virtualenv" in cfg:
        return "virtualenv"
    return "venv"


def env_python(prefix: str) -> Optional[str]:
    """The interpreter of an env prefix (not resolved: a venv's python is a symlink)."""
    for rel in ("bin/python", "bin/python3"):
        path = os.path.join(prefix, rel)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


def env_name(prefix: str) -> str:
    """Directory name; a project's ``.venv`` is named after the project."""
    base = os.path.basename(prefix.rstrip(os.sep)) or prefix
    if base in (".venv", "venv", ".env", "env"):
        parent = os.path.basename(os.path.dirname(prefix.rstrip(os.sep)))
        return parent or base
    return base


def _kill_group(proc: "subprocess.Popen[bytes]") -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        pass
    try:
        proc.kill()
        proc.wait(timeout=2)
    except (OSError, subprocess.TimeoutExpired):
        pass
    for pipe in (proc.stdout, proc.stderr):
        try:
            if pipe is not None:
                pipe.close()
        except OSError:
            pass


def _shared_group_writable(st: "os.stat_result") -> bool:
    """Group-writable by a group other than the user's own private one (the user-private
    group scheme, umask 002, makes a user's own directories group-writable harmlessly)."""
    if not st.st_mode & stat.S_IWGRP:
        return False
    try:
        import grp
        import pwd

        me = pwd.getpwuid(os.getuid()).pw_name
        group = grp.getgrgid(st.st_gid)
    except (ImportError, KeyError):
        return True
    return not (group.gr_name == me and not [m for m in group.gr_mem if m != me])


def untrusted_prefix(prefix: str) -> Optional[str]:
    """Why the environment at ``prefix`` must not be run, or None when it may.

    Called by the probe for every environment it finds (a project's ``.venv`` in a
    working directory, conda lists, ...) before it runs its interpreter: whoever owns
    the environment, may write into it, or may replace it in the directory holding it
    would get their code run as this user. So the prefix, its ``bin`` and the directory
    holding it must belong to this user or root and be writable by nobody else (a
    root-owned sticky directory such as /tmp may hold it)."""
    me = os.getuid()
    real = os.path.realpath(prefix)
    checks = ((real, False), (os.path.join(real, "bin"), False), (os.path.dirname(real), True))
    for path, holder in checks:
        try:
            st = os.stat(path)
        except OSError:
            continue
        if st.st_uid not in (me, 0):
            return "%s belongs to another user (uid %d)" % (path, st.st_uid)
        sticky = holder and st.st_uid == 0 and st.st_mode & stat.S_ISVTX
        if not sticky and (st.st_mode & stat.S_IWOTH or _shared_group_writable(st)):
            return "other users may write in %s" % path
    return None


def check_python(python: str, timeout: float) -> Dict[str, Any]:
    """Run CHECK in ``python`` (own session, killed on timeout): version, ipykernel, prefix."""
    if timeout <= 0:
        return {"error": "not checked: the probe's time budget was used up"}
    try:
        proc = subprocess.Popen(
            [python, "-c", CHECK],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd="/",
            close_fds=True,
            start_new_session=True,
        )
    except OSError as exc:
        return {"error": "cannot run: %s" % (exc.strerror or exc)}
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        return {"error": "timed out after %.0f s" % timeout}
    data = _last_marked(out.decode("utf-8", "replace"), CHECK_MARKER)
    if proc.returncode != 0 or data is None:
        lines = err.decode("utf-8", "replace").strip().splitlines()
        detail = lines[-1][:300] if lines else "no output"
        return {"error": "exit status %s: %s" % (proc.returncode, detail)}
    return data


def _binary(python: str) -> Optional[Tuple[int, int]]:
    """The interpreter's real file (device, inode): venvs' symlinks and conda's hard
    links to one build share it, and so share the version the check reports."""
    try:
        st = os.stat(python)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def venv_has(prefix: str, version: str, module: str = "ipykernel") -> Optional[bool]:
    """Whether ``module`` imports in the venv at ``prefix`` (Python ``version``), from
    its files alone: True when its site-packages holds the module (``module.py``, or
    ``module/__init__.py``: a directory without it, left by a half-removed install, is
    no package, as :data:`CHECK` says), False when it does not and nothing else could
    put it on sys.path (system site-packages, PYTHONPATH, PYTHONHOME, a .pth file), None
    when only running the interpreter can tell (no pyvenv.cfg, no lib/pythonX.Y, e.g.
    PyPy or a free-threaded build)."""
    cfg = read_pyvenv_cfg(prefix)
    parts = version.split(".")
    if cfg is None or len(parts) < 2:
        return None
    xy = "python%s.%s" % (parts[0], parts[1])
    libs = [os.path.join(prefix, lib, xy) for lib in ("lib", "lib64")]
    sites = [os.path.join(lib, "site-packages") for lib in libs if os.path.isdir(lib)]
    if not sites:
        return None
    for site in sites:
        package = os.path.isfile(os.path.join(site, module, "__init__.py"))
        if package or os.path.isfile(os.path.join(site, module + ".py")):
            return True
    if cfg.get("include-system-site-packages", "false").lower() == "true":
        return None
    if os.environ.get("PYTHONPATH") or os.environ.get("PYTHONHOME"):
        return None
    for site in sites:
        try:
            names = os.listdir(site)
        except FileNotFoundError:
            continue
        except OSError:
            return None
        if [n for n in names if n.endswith(".pth") and n != "distutils-precedence.pth"]:
            return None
    return False


Check = Callable[[Dict[str, Any]], Dict[str, Any]]


def check_many(candidates: List[Dict[str, Any]], check: Check, workers: int) -> List[Any]:
    """``check`` (the probe's: runs the interpreter) for every candidate, in order.

    Called by ``Probe.check_all``. The first candidate on each interpreter binary is
    run; a venv on a binary already run takes that run's version and reads whether it
    has ipykernel from its site-packages (:func:`venv_has`), and is run only when its
    files cannot tell. Same answers, one interpreter start per binary."""
    first = {}  # type: Dict[Any, int]
    twin_of = {}  # type: Dict[int, int]
    for i, candidate in enumerate(candidates):
        key = _binary(candidate["python"]) if candidate.get("path") else None
        if key is not None and key in first:
            twin_of[i] = first[key]
        elif key is not None:
            first[key] = i
    results = [None] * len(candidates)  # type: List[Any]
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(candidates)))) as pool:
        todo = [i for i in range(len(candidates)) if i not in twin_of]
        for i, env in zip(todo, pool.map(lambda i: check(candidates[i]), todo)):
            results[i] = env
        for i, twin in twin_of.items():
            results[i] = _from_twin(candidates[i], results[twin])
        todo = [i for i in twin_of if results[i] is None]
        for i, env in zip(todo, pool.map(lambda i: check(candidates[i]), todo)):
            results[i] = env
    return results


def _from_twin(candidate: Dict[str, Any], twin: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """The env of a venv whose binary was run for ``twin``; None: run it too."""
    if twin.get("error") or not twin.get("version"):
        return None
    has = venv_has(candidate["path"], twin["version"])
    if has is None:
        return None
    env = {k: v for k, v in candidate.items() if k != "key"}
    env.update(version=twin["version"], ipykernel=has, error=None)
    return env
