"""Notebooks that live on a remote run with their own directory as working directory.

JupyterLab names a document of a remote drive ``SERVER:home/alice/proj/train.ipynb``
(the drive of server SERVER is rooted at the remote's ``/``). When a kernel starts for
such a session, jupyter_server still knows that path in
``SessionManager.get_kernel_env(path, name)`` and nowhere later (the kernel manager
turns it into a local directory). :func:`tag_kernel_env` (called by
RemoteExtensionApp) wraps that one method of the server's session manager to add
:data:`DOCUMENT_ENV` to the kernel's environment; the provisioner reads it back with
:func:`document_directory` and, when the document is on its own server, starts the
kernel in the document's directory instead of the profile's. Local notebooks keep the
profile's working directory. The variable never reaches the remote: the provisioner
sends only the profile's environment.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Mapping
from typing import Any

DOCUMENT_ENV = "JUPYTER_REMOTE_DOCUMENT"
_DRIVE_PATH = re.compile(r"([A-Za-z0-9._-]{1,64}):(.*)", re.DOTALL)


def tag_kernel_env(session_manager: Any) -> Callable[[], None]:
    """Make ``session_manager`` put the session's path in :data:`DOCUMENT_ENV` of the
    kernels it starts; returns the undo (RemoteExtensionApp.stop_extension)."""
    original = session_manager.get_kernel_env

    def get_kernel_env(path: str | None, name: Any = None) -> dict[str, str]:
        env = dict(original(path, name))
        if isinstance(path, str) and _DRIVE_PATH.fullmatch(path) and "\x00" not in path:
            env[DOCUMENT_ENV] = path
        return env

    session_manager.get_kernel_env = get_kernel_env

    def undo() -> None:
        if session_manager.get_kernel_env is get_kernel_env:
            session_manager.get_kernel_env = original

    return undo


def document_directory(env: Mapping[str, str] | None, server: str) -> str | None:
    """The remote directory of the session's document when it lives on ``server``'s
    drive (the provisioner's pre_launch), else None."""
    value = (env or {}).get(DOCUMENT_ENV)
    found = _DRIVE_PATH.fullmatch(value) if isinstance(value, str) else None
    if found is None or found.group(1) != server:
        return None
    directory = posixpath.dirname("/" + found.group(2).strip("/"))
    if len(directory.encode("utf-8", "surrogateescape")) > 4096:
        return None
    return directory
