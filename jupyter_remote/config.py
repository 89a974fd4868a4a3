"""Admin configuration for the CLI and standalone kernels, from Jupyter's config path only.

Inside the Jupyter server, RemoteExtensionApp's traits come from the server's own
config. Outside it (``jupyter remote``, papermill, ``jupyter console``), this module
reads the same files so admin-defined servers and profiles are there too.
"""

from __future__ import annotations

import sys
from pathlib import Path

from jupyter_core.paths import jupyter_config_path
from traitlets.config.loader import Config, JSONFileConfigLoader, PyFileConfigLoader

from .store import Store

CONFIG_NAMES = ("jupyter_server_config", "jupyter_remote_config")


def load_admin_config() -> Config:
    """Admin config for the CLI and standalone kernels, merged (lowest priority first).

    Called by :func:`store_from_config`. Reads ``jupyter_server_config`` and
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


def store_from_config() -> Store:
    """A store that includes admin-defined servers and profiles (CLI, standalone kernels)."""
    cfg = load_admin_config().get("RemoteExtensionApp", Config())
    return Store(admin_servers=cfg.get("servers", {}), admin_profiles=cfg.get("profiles", {}))
