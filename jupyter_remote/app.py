"""RemoteExtensionApp: the Jupyter server extension (traits, wiring, handlers)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jupyter_server.extension.application import ExtensionApp
from traitlets import Bool, Dict, Float, Int

from . import events, runtime
from .errors import RemoteError
from .files.documents import tag_kernel_env
from .kernels.jupyter_refresh import KernelspecRefresh, watch_listing
from .kernels.kernelspecs import sync_kernelspecs
from .kernels.standby import Standbys
from .manager import RemoteManager
from .sessions import forward as forward_sessions
from .sessions import registry
from .sessions import terminal as terminal_sessions
from .store import Store
from .web.forward_origin import ORIGINS_SETTING, ForwardOrigins
from .web.kernel_nodelay import nodelay_kernel_websockets
from .web.routes import routes


class RemoteExtensionApp(ExtensionApp):
    """Loaded by jupyter_server from jupyter-config/server-config/jupyter_remote.json."""

    name = "jupyter_remote"
    load_other_extensions = True

    servers = Dict(
        config=True,
        help=(
            "Servers defined by the administrator, read-only for users: "
            "{NAME: {host, port, user, identity, auth, jump}}."
        ),
    )
    profiles = Dict(
        config=True,
        help=(
            "Profiles defined by the administrator: "
            "{NAME: {server, python, cwd, env, idle_timeout}}."
        ),
    )
    keepalive_interval = Float(15.0, config=True, help="Seconds between SSH keepalives.")
    keepalive_count_max = Int(
        3, config=True, help="Unanswered keepalives after which a connection counts as lost."
    )
    connect_timeout = Float(20.0, config=True, help="Seconds to wait for an SSH connect and login.")
    forward_origins = Bool(
        True,
        config=True,
        help=(
            "Serve a forwarded page on an origin of its own, http://jr-<secret>.localhost:PORT/, "
            "when the browser reached Jupyter on this machine's loopback (localhost, "
            "127.0.0.1). Turn off when that is an `ssh -L` tunnel from another machine "
            "(or forward forward_origin_port too): pages are then served sandboxed under "
            "Jupyter, where apps that need workers, localStorage or cookies do not work."
        ),
    )
    forward_origin_port = Int(
        0,
        config=True,
        help="Port of the listener of forwards' own origins on 127.0.0.1 and ::1 (0: a free one).",
    )

    jupyter_kernelspecs_refresh = Float(
        60.0,
        config=True,
        help=(
            "Seconds between refreshes of the kernelspecs of saved Jupyter servers: in the "
            "background, and at most this often when JupyterLab lists kernelspecs (0: off)."
        ),
    )

    kernel_websocket_nodelay = Bool(
        True,
        config=True,
        help=(
            "Set TCP_NODELAY on the server's kernel websockets (every kernel, local ones "
            "too): without it each cell's burst of small replies waits ~40 ms for the "
            "browser's delayed ACK (jupyter_server leaves Nagle's algorithm on)."
        ),
    )

    manager: RemoteManager
    origins: ForwardOrigins
    kernelspec_refresh: KernelspecRefresh
    _unsubscribe_bus: Callable[[], None]
    _untag_kernel_env: Callable[[], None]

    def initialize_settings(self) -> None:
        store = Store(admin_servers=self.servers, admin_profiles=self.profiles)
        self.manager = RemoteManager(
            store,
            keepalive_interval=self.keepalive_interval,
            keepalive_count_max=self.keepalive_count_max,
            connect_timeout=self.connect_timeout,
        )
        assert self.serverapp is not None  # extensions are initialized by their server
        if self.kernel_websocket_nodelay:  # our settings are copied into the server's next
            nodelay_kernel_websockets(self.settings)
        self.origins = ForwardOrigins(  # listens on first use (forward_proxy's entry route)
            jupyter_settings=self.serverapp.web_app.settings,
            log=self.log,
            enabled=self.forward_origins,
            port=self.forward_origin_port,
        )
        self.settings.update({"remote_manager": self.manager, ORIGINS_SETTING: self.origins})
        runtime.use_server_context(self.manager)
        Standbys.of(self.manager).background = True  # standby kernels replaced in the background
        # notebooks of a remote drive run in their own directory (files/documents.py)
        self._untag_kernel_env = tag_kernel_env(self.serverapp.session_manager)
        self._sync_kernelspecs(store)
        self.kernelspec_refresh = KernelspecRefresh(
            self.manager, interval=self.jupyter_kernelspecs_refresh
        )
        watch_listing(self.serverapp.kernel_spec_manager, self.kernelspec_refresh)
        # our events also go out on Jupyter's own event bus (/api/events/subscribe)
        events.register_with(self.serverapp.event_logger)
        self._unsubscribe_bus = registry.subscribe(events.forward_to(self.serverapp.event_logger))

    def _sync_kernelspecs(self, store: Store) -> None:
        """At start, before serving: kernelspecs written by an older version get today's
        display name and logo (a few small files)."""
        try:
            rewritten = sync_kernelspecs(store.list_profiles())
        except (OSError, RemoteError) as exc:
            self.log.warning("jupyter-remote: kernelspecs not brought up to date: %s", exc)
            return
        if rewritten:
            self.log.info("jupyter-remote: kernelspecs brought up to date: %s", rewritten)

    def initialize_handlers(self) -> None:
        self.handlers.extend(routes())

    async def _start_jupyter_server_extension(self, serverapp: Any) -> None:
        """jupyter_server, once its loop runs: the Jupyter servers' kernelspec refresh, and
        the profiles' standby kernels (kernels/standby.py), in the background."""
        self.kernelspec_refresh.start()
        await Standbys.of(self.manager).start_all()

    async def stop_extension(self) -> None:
        """Runs before jupyter_server shuts kernels down: detach those that may outlive us.

        The pool stays open: the kernels shut down next still need their connections.
        """
        self._unsubscribe_bus()
        await self.kernelspec_refresh.stop()
        if self.serverapp is not None:
            forget_failed_starts(self.serverapp.kernel_manager, self.log)
        await forward_sessions.stop_all(self.manager)  # forwards end with their server
        await terminal_sessions.stop_all(self.manager)  # so do terminals (tmux ones too)
        await self.origins.stop()
        await Standbys.of(self.manager).stop_all()  # standby kernels are nobody's yet: they go
        detached = await registry.detach_idle_kernels()
        if detached:
            self.log.info(
                "jupyter-remote: %d remote kernel(s) left running for re-attach", detached
            )
        self._untag_kernel_env()
        await self.manager.files.close()  # unfinished uploads removed, SFTP links let go
        runtime.release_server_context(self.manager)  # running kernels keep their pinned one


def forget_failed_starts(kernel_manager: Any, log: Any) -> list[str]:
    """At server exit (stop_extension runs before Jupyter shuts its kernels down): forget
    the kernels whose start failed.

    jupyter_client's MultiKernelManager keeps a failed start's id among its pending
    kernels; its shutdown_all then asks jupyter_server's MappingKernelManager to shut that
    id down, which raises 404 "Kernel does not exist" and aborts the server's exit: the
    process kept running until a second SIGTERM (issue 13, item 3)."""
    pending = getattr(kernel_manager, "_pending_kernels", None)
    if not isinstance(pending, dict):
        return []
    failed = [
        kernel_id
        for kernel_id, task in list(pending.items())
        if getattr(task, "done", lambda: False)() and kernel_id not in kernel_manager
    ]
    for kernel_id in failed:
        pending.pop(kernel_id, None)
        log.info("jupyter-remote: kernel %s never started; nothing to shut down", kernel_id)
    return failed
