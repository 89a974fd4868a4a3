"""RemoteExtensionApp: the Jupyter server extension (traits, wiring, handlers)."""

from __future__ import annotations

from jupyter_server.extension.application import ExtensionApp
from traitlets import Dict, Float, Int

from . import handlers, runtime, service_forwards
from .manager import RemoteManager
from .sessions import registry
from .store import Store


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

    manager: RemoteManager

    def initialize_settings(self) -> None:
        store = Store(admin_servers=self.servers, admin_profiles=self.profiles)
        self.manager = RemoteManager(
            store,
            keepalive_interval=self.keepalive_interval,
            keepalive_count_max=self.keepalive_count_max,
            connect_timeout=self.connect_timeout,
        )
        self.settings.update({"remote_manager": self.manager})
        runtime.use_server_manager(self.manager)

    def initialize_handlers(self) -> None:
        self.handlers.extend(handlers.routes())

    async def stop_extension(self) -> None:
        """Runs before jupyter_server shuts kernels down: detach those that may outlive us.

        The pool stays open: the kernels shut down next still need their connections.
        """
        await service_forwards.stop_all(self.manager)  # forwards end with their server
        detached = await registry.detach_idle_kernels()
        if detached:
            self.log.info(
                "jupyter-remote: %d remote kernel(s) left running for re-attach", detached
            )
        runtime.release_server_manager(self.manager)  # running kernels keep their pinned one
