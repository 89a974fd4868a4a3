"""The process-wide RemoteManager, and the event loop its SSH connections live on.

Inside the Jupyter server, RemoteExtensionApp registers its manager with
:func:`use_server_manager`; the server's loop runs forever, so SSH work runs on
it directly. Standalone (papermill, nbclient, ``jupyter console``, a plain
``KernelManager``), nobody guarantees a running loop between calls, yet port
forwards must keep pumping: the first caller starts a daemon thread with its
own loop and every SSH coroutine runs there (:func:`on_ssh_loop`).
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from jupyter_core.paths import jupyter_config_path
from traitlets.config.loader import Config, JSONFileConfigLoader, PyFileConfigLoader

from .manager import RemoteManager
from .store import Store

T = TypeVar("T")
CONFIG_NAMES = ("jupyter_server_config", "jupyter_remote_config")

_lock = threading.Lock()
_manager: RemoteManager | None = None
_loop: asyncio.AbstractEventLoop | None = None  # None: the caller's loop (server mode)
_progress_printer: list[Callable[[], None]] = []


def load_admin_config() -> Config:
    """Admin config for the CLI and standalone kernels, merged (lowest priority first).

    Called by :func:`manager_from_config`. Reads ``jupyter_server_config`` and
    ``jupyter_remote_config`` (.json, then .py) from Jupyter's config path only
    (``jupyter_config_path()``: JUPYTER_CONFIG_DIR, ~/.jupyter, the environment's
    and the system's etc/jupyter). Never from the working directory: a ``.py``
    config file is executed, and the working directory may be a checkout of
    someone else's repository (invariant 13).
    """
    merged = Config()
    for directory in reversed(jupyter_config_path()):
        for name in CONFIG_NAMES:
            for loader_cls, suffix in (
                (JSONFileConfigLoader, ".json"),
                (PyFileConfigLoader, ".py"),
            ):
                if not (Path(directory) / f"{name}{suffix}").is_file():
                    continue
                try:
                    merged.merge(loader_cls(f"{name}{suffix}", path=directory).load_config())
                except Exception as exc:
                    print(f"warning: ignoring {directory}/{name}{suffix}: {exc}", file=sys.stderr)
    return merged


def manager_from_config(**kwargs: Any) -> RemoteManager:
    """A manager whose store includes admin-defined servers and profiles (CLI, standalone)."""
    cfg = load_admin_config().get("RemoteExtensionApp", Config())
    store = Store(admin_servers=cfg.get("servers", {}), admin_profiles=cfg.get("profiles", {}))
    return RemoteManager(store, **kwargs)


def use_server_manager(manager: RemoteManager) -> None:
    """Called by RemoteExtensionApp.initialize_settings: kernels share the server's pool."""
    global _manager, _loop
    with _lock:
        _manager = manager
        _loop = None


def release_server_manager(manager: RemoteManager) -> None:
    """Called by RemoteExtensionApp.stop_extension: later standalone use starts afresh."""
    global _manager
    with _lock:
        if _manager is manager:
            _manager = None


def _start_loop_thread() -> asyncio.AbstractEventLoop:
    loop = asyncio.new_event_loop()
    ready = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.call_soon(ready.set)
        loop.run_forever()

    threading.Thread(target=run, name="jupyter-remote-ssh", daemon=True).start()
    ready.wait()
    return loop


def _print_progress(event: dict[str, Any]) -> None:
    """Standalone clients (jupyter console, papermill) show start-up stages on a terminal."""
    if event.get("type") == "progress" and sys.stderr.isatty():
        detail = f": {event['message']}" if event.get("message") else ""
        print(f"[jupyter-remote] {event['stage']}{detail}", file=sys.stderr, flush=True)


def current_manager() -> RemoteManager:
    """The process's manager; standalone, created on first use with its own SSH loop."""
    global _manager, _loop
    with _lock:
        if _manager is None:
            from .sessions import registry

            _loop = _start_loop_thread()
            _manager = manager_from_config()
            if not _progress_printer:
                _progress_printer.append(registry.subscribe(_print_progress))
        return _manager


def current() -> tuple[RemoteManager, asyncio.AbstractEventLoop | None]:
    """The manager and its SSH loop (None: the server's own loop). Provisioners pin this
    pair at launch, so a kernel keeps its loop even after the server lets go of the
    process-wide manager (kernels are shut down after extensions stop)."""
    manager = current_manager()
    with _lock:
        return manager, _loop


async def on_ssh_loop(
    func: Callable[[RemoteManager], Awaitable[T]],
    pinned: tuple[RemoteManager, asyncio.AbstractEventLoop | None] | None = None,
) -> T:
    """Run ``func(manager)`` on the loop that owns the SSH connections, from any loop."""
    manager, loop = pinned if pinned is not None else current()
    if loop is None:
        return await func(manager)
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        return await func(manager)
    future = asyncio.run_coroutine_threadsafe(_call(func, manager), loop)
    return await asyncio.wrap_future(future)


async def _call(func: Callable[[RemoteManager], Awaitable[T]], manager: RemoteManager) -> T:
    return await func(manager)
