"""The forking side of ``bench.zygote_start``: a zygote, its children, an import audit.

Run by ``bench.zygote_start`` as ``python bench/zygote_fork.py MODE ...`` (stdlib +
ipykernel only: nothing of the measurer's is imported into a kernel):

- ``--zygote [MODULES.json]``: import ``ipykernel.kernelapp`` (or every module named in
  the file: what a booted kernel has), report what the process holds that a child would
  inherit (threads, ZMQ contexts, event loops, sqlite connections, ``random.Random``
  instances, fds, changed signal handlers), then fork one kernel per request line;
- ``--kernel STEPS PROF -f conn.json``: a fresh kernel with its init steps timed and
  profiled (the forked children do the same on request);
- ``--envaudit MODULES.json``: which environment variables, cwd, argv and tempdir those
  modules read while they import, and who read them.

A child gets its own session, fds, cwd, environment and argv, then runs ``IPKernelApp``
as ``ipykernel_launcher`` does, and ends through the interpreter's atexit handlers and
``os._exit`` (never back into the zygote's loop).
"""

from __future__ import annotations

import atexit
import contextlib
import cProfile
import gc
import importlib
import json
import os
import resource
import runpy
import select
import signal
import sqlite3
import sys
import tempfile
import time
import traceback
import types
from typing import Any, NoReturn

HERE = os.path.abspath(__file__)


def _cpu() -> float:
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime


# ---- inside a kernel process (a zygote's child, or ``--kernel``) -------------------------


def _timed_steps(record: list[tuple[str, int, float, float]]) -> None:
    """Wrap IPKernelApp's init_* steps (and the shell's and history's constructors) so
    each records (name, depth, wall s, process CPU s) when it returns."""
    from ipykernel.kernelapp import IPKernelApp
    from IPython.core.history import HistoryManager
    from IPython.core.interactiveshell import InteractiveShell

    depth = [0]

    def wrap(owner: Any, name: str, label: str) -> None:
        real = getattr(owner, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            wall, cpu = time.perf_counter(), time.process_time()
            depth[0] += 1
            try:
                return real(*args, **kwargs)
            finally:
                depth[0] -= 1
                now = time.perf_counter() - wall, time.process_time() - cpu
                record.append((label, depth[0], *now))

        setattr(owner, name, timed)

    for name in dir(IPKernelApp):
        if name.startswith("init_") and callable(getattr(IPKernelApp, name)):
            wrap(IPKernelApp, name, name)
    wrap(InteractiveShell, "__init__", "InteractiveShell.__init__")
    wrap(HistoryManager, "__init__", "HistoryManager.__init__")


def _run_kernel(steps: str | None, prof: str | None) -> None:
    """The launcher's ``launch_new_instance``, with the init steps timed and/or profiled."""
    record: list[tuple[str, int, float, float]] = []
    wall, cpu = time.perf_counter(), time.process_time()
    from ipykernel.kernelapp import IPKernelApp

    record.append(("import ipykernel.kernelapp", 0, time.perf_counter() - wall,
                   time.process_time() - cpu))  # fmt: skip
    if steps:
        _timed_steps(record)
    app = IPKernelApp.instance()
    profiler = cProfile.Profile() if prof else None
    wall, cpu = time.perf_counter(), time.process_time()
    if profiler is not None:
        profiler.enable()
    app.initialize()
    if profiler is not None and prof:
        profiler.disable()
        profiler.dump_stats(prof)
    record.append(("initialize (all)", 0, time.perf_counter() - wall, time.process_time() - cpu))
    if steps:
        with open(steps, "w") as f:
            json.dump(record, f)
    app.start()


def _child(req: dict[str, Any]) -> NoReturn:
    """A forked kernel: its own session, fds, cwd, environment and argv, then the kernel.
    Ends with the interpreter's atexit handlers (IPython's history) and ``os._exit``:
    never back into the zygote's loop."""
    code = 1
    try:
        os.setsid()
        null = os.open(os.devnull, os.O_RDONLY)
        log = os.open(req["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        for fd, src in ((0, null), (1, log), (2, log)):
            os.dup2(src, fd)
        os.closerange(3, 1024)
        os.chdir(req["cwd"])
        os.environ.clear()
        os.environ.update(req["env"])
        if req.get("script"):  # the product's launch.py: its guards, then the kernel
            sys.argv = [req["script"], "-f", req["conn"]]
            runpy.run_path(req["script"], run_name="__main__")
        else:
            sys.argv = [req["launcher"], "-f", req["conn"]]
            _run_kernel(req.get("steps"), req.get("prof"))
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 0
    except BaseException:
        traceback.print_exc()
    finally:
        try:
            atexit._run_exitfuncs()
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _holdings() -> dict[str, Any]:
    """What the zygote holds at fork time that a child would inherit."""
    import random
    import threading

    kinds: dict[str, int] = {"zmq.Context": 0, "asyncio loop": 0, "sqlite3.Connection": 0}
    owners = []
    zmq_context = getattr(sys.modules.get("zmq"), "Context", ())
    for obj in gc.get_objects():
        cls = type(obj)
        name = f"{getattr(cls, '__module__', '')}.{getattr(cls, '__qualname__', '')}"
        if isinstance(obj, random.Random):
            owners.append(name)
        elif isinstance(obj, zmq_context):
            kinds["zmq.Context"] += 1
        elif "EventLoop" in name or name.endswith("IOLoop"):
            kinds["asyncio loop"] += 1
        elif isinstance(obj, sqlite3.Connection):
            kinds["sqlite3.Connection"] += 1
    fds = {}
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            fds[fd] = os.readlink(f"/proc/self/fd/{fd}")
    return {"threads": len(os.listdir("/proc/self/task")),
            "thread_names": [t.name for t in threading.enumerate()],
            **kinds, "random.Random": owners, "fds": fds,
            "tempfile.tempdir cached": tempfile.tempdir,
            "signals changed": [int(s) for s in signal.valid_signals()
                                if _changed_signal(s)]}  # fmt: skip


def _changed_signal(sig: signal.Signals) -> bool:
    try:
        handler = signal.getsignal(sig)
    except (ValueError, OSError):
        return False
    default = {signal.SIGINT: signal.default_int_handler, signal.SIGPIPE: signal.SIG_IGN,
               signal.SIGXFSZ: signal.SIG_IGN}  # fmt: skip
    return handler not in (default.get(sig, signal.SIG_DFL), None)


def _preload(modules_file: str | None) -> list[str]:
    names = ["ipykernel.kernelapp"]
    if modules_file:
        with open(modules_file) as f:
            names = json.load(f)
    failed = []
    for name in names:
        if name in sys.modules or name.startswith("__"):
            continue
        try:
            importlib.import_module(name)
        except BaseException:
            failed.append(name)
    return [name for name in failed if name not in sys.modules]  # not imported as a dependency


def zygote_main(modules_file: str | None) -> None:
    """``--zygote [MODULES.json]``: import, say what we hold, then fork one kernel per
    request line on stdin (JSON), answering {pid, fork_cpu, fork_wall} on stdout."""
    if sys.path and os.path.realpath(sys.path[0] or ".") == os.path.dirname(HERE):
        del sys.path[0]  # as ipykernel_launcher drops its own directory
    wall, cpu = time.perf_counter(), _cpu()
    failed = _preload(modules_file)
    boot = {"import_wall": time.perf_counter() - wall, "import_cpu": _cpu() - cpu,
            "modules": len(sys.modules), "failed": failed, **_holdings()}  # fmt: skip
    gc.collect()
    gc.freeze()  # the children's collections do not touch (copy) the zygote's objects
    os.write(1, json.dumps(boot).encode() + b"\n")
    buf = b""
    while True:
        while True:  # reap ended children
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
        if not select.select([0], [], [], 0.1)[0]:
            continue
        data = os.read(0, 65536)
        if not data:
            return
        buf += data
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            req = json.loads(line)
            wall, cpu = time.perf_counter(), _cpu()
            pid = os.fork()
            if pid == 0:
                _child(req)
            done = {"pid": pid, "fork_cpu": _cpu() - cpu, "fork_wall": time.perf_counter() - wall}
            os.write(1, json.dumps(done).encode() + b"\n")


def envaudit_main(modules_file: str) -> None:
    """``--envaudit MODULES.json``: the environment variables, cwd, argv and tempdir the
    pre-imported modules read while they import (who read each), as JSON on stdout."""
    reads: dict[str, set[str]] = {}
    skip = ("os", "posixpath", "collections", "genericpath", "_collections_abc", "importlib",
            "__main__", "tempfile", "typing", "contextlib", "functools")  # fmt: skip

    def note(what: str) -> None:
        frame: types.FrameType | None = sys._getframe(2)
        while frame is not None:
            mod = str(frame.f_globals.get("__name__", "?"))
            if mod.split(".")[0] not in skip and mod != __name__:
                break
            frame = frame.f_back
        reads.setdefault(what, set()).add(mod if frame is not None else "?")

    env_cls: Any = type(os.environ)
    get_item, env_iter = env_cls.__getitem__, env_cls.__iter__
    getcwd, gettempdir = os.getcwd, tempfile.gettempdir

    def getitem(self: Any, key: str) -> Any:
        note(f"env {key}")
        return get_item(self, key)

    def iterate(self: Any) -> Any:
        note("env (all of it)")
        return env_iter(self)

    def cwd() -> str:
        note("cwd")
        return getcwd()

    def tempdir() -> str:
        note("tempfile.gettempdir")
        return gettempdir()

    env_cls.__getitem__, env_cls.__iter__ = getitem, iterate
    os.getcwd, tempfile.gettempdir = cwd, tempdir

    class Argv(list[str]):
        def __getitem__(self, i: Any) -> Any:
            note("sys.argv")
            return list.__getitem__(self, i)

        def __iter__(self) -> Any:
            note("sys.argv")
            return list.__iter__(self)

        def __len__(self) -> int:
            note("sys.argv")
            return list.__len__(self)

    sys.argv = Argv(sys.argv)
    failed = _preload(modules_file)
    env_cls.__getitem__, env_cls.__iter__ = get_item, env_iter
    os.getcwd, tempfile.gettempdir = getcwd, gettempdir
    out = {k: sorted(v) for k, v in sorted(reads.items())}
    print(json.dumps({"reads": out, "failed": failed, "tempdir cached": tempfile.tempdir}))


def main() -> None:
    mode = sys.argv[1]
    if mode == "--zygote":
        zygote_main(sys.argv[2] if len(sys.argv) > 2 else None)
    elif mode == "--envaudit":
        envaudit_main(sys.argv[2])
    elif mode == "--kernel":  # --kernel STEPS PROF -f conn.json
        steps, prof = sys.argv[2], sys.argv[3]
        del sys.argv[1:4]
        if sys.path and os.path.realpath(sys.path[0] or ".") == os.path.dirname(HERE):
            del sys.path[0]
        _run_kernel(steps or None, prof or None)


if __name__ == "__main__":
    main()
