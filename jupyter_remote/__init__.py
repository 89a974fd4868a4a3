"""jupyterlab-remote: Jupyter kernels on remote machines over SSH."""

from __future__ import annotations

from typing import Any

from ._version import __version__


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "jupyterlab-remote"}]


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from .app import RemoteExtensionApp

    return [{"module": "jupyter_remote", "app": RemoteExtensionApp}]


__all__ = ["__version__"]
