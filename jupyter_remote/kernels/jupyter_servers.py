"""Saved Jupyter servers: reaching one, its kernelspecs (listed, and on disk as ours), its
running kernels (list, stop, attach).

Called through RemoteManager by the REST handlers and the CLI (``server test``, ``env
list``, ``kernel list/stop``, attach), and by the provisioner (``api_for``). Each remote
kernelspec ``K`` of server ``S`` becomes the local kernelspec ``remote-S--K`` named
"<its display name> — S (Jupyter)", whose provisioner is ``jupyter-server-provisioner``;
:func:`sync_kernelspecs` writes new ones, rewrites changed ones and removes those the
remote no longer has, whenever the remote's list is read.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import shutil
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from jupyter_core.utils import ensure_async

from ..context import RemoteContext
from ..errors import (
    ConflictError,
    NotFoundError,
    SecretRequiredError,
    SSHConnectError,
    ValidationError,
)
from ..jupyter import JupyterAPI, url_host_port
from ..ssh.tunnel import PrivateTunnel
from ..store import JupyterServer
from ..text import printable
from .kernelspecs import PREFIX, kernels_dir, write_spec_dir

PROVISIONER = "jupyter-server-provisioner"
ATTACH_REMOTE_ID = "jupyter_remote_attach_remote_id"  # start_kernel kwarg: attach to it
SEPARATOR = "--"
REMOTE_ID_RE = re.compile(r"[A-Za-z0-9._-]{1,128}")
#: kernelspecs of one Jupyter server we list and write (a hostile one could send 100,000)
MAX_KERNELSPECS = 256


def kept_kernels(remote: dict[str, Any]) -> list[str]:
    """The remote kernelspec names we list and write, in order: valid names with an object
    for a spec, at most MAX_KERNELSPECS (sync_kernelspecs and kernelspecs)."""
    names = sorted(
        k
        for k, v in remote.items()
        if isinstance(k, str) and REMOTE_ID_RE.fullmatch(k) and isinstance(v, dict)
    )
    return names[:MAX_KERNELSPECS]


async def jupyter_server(ctx: RemoteContext, name: str) -> JupyterServer:
    """The saved Jupyter server ``name``; an SSH server of that name is a clear 400."""
    server = await asyncio.to_thread(ctx.store.get_server, name)
    if not isinstance(server, JupyterServer):
        raise ValidationError(
            f"{name!r} is an SSH server, not a Jupyter server.",
            field="server",
            hint="Its kernels come from profiles: `jupyter remote profile add`.",
        )
    return server


def api_for(ctx: RemoteContext, server: JupyterServer) -> JupyterAPI:
    """An API client with the server's secret from the keyring or this process's memory."""
    secret = None
    if server.auth in ("token", "password"):
        secret = ctx.secrets.get(server.auth, server.name)  # type: ignore[arg-type]
        if secret is None:
            raise SecretRequiredError(
                f"The {server.auth} of the Jupyter server {server.name} is not available in "
                "this process.",
                hint="Secrets stay in the OS keyring, or (without one) in the memory of the "
                "process they were given to: give it again with `jupyter remote server edit "
                f"{server.name} --{server.auth}` or in the server form.",
            )
    return JupyterAPI(server.name, server.url, server.auth, secret, ca_file=server.ca_file)


@contextlib.asynccontextmanager
async def reach(ctx: RemoteContext, server: JupyterServer) -> AsyncIterator[JupyterAPI]:
    """An API client for a few calls: through a private tunnel of the ``via`` SSH
    server's pooled connection if it has one (closed afterwards), else directly."""
    api = api_for(ctx, server)
    if server.via is None:
        yield api
        return
    endpoint = await ctx.endpoint(server.via)
    try:
        opened = ctx.pool.connection(endpoint)
        conn = await opened.__aenter__()
    except SSHConnectError as exc:
        raise tunnel_down(exc, server) from None
    try:
        host, port = url_host_port(server.url)
        tunnel = await PrivateTunnel(conn, host, port, via=server.via).start()
        try:
            await tunnel.check()
            api.tunnel_path = tunnel.path
            yield api
        finally:
            tunnel.close()
    finally:
        await opened.__aexit__(None, None, None)


def tunnel_down(exc: SSHConnectError, server: JupyterServer) -> SSHConnectError:
    """The SSH link under a Jupyter server's tunnel failed: say so, keep the SSH hint.
    (Host-key and auth refusals pass unchanged: they are the SSH server's, as ever.)"""
    return type(exc)(
        f"The SSH tunnel to the Jupyter server {server.name} through {server.via} is down: "
        f"{exc.message}",
        hint=exc.hint,
    )


# ---------------------------------------------------------------- kernelspecs


def spec_name(server: str, kernel: str) -> str:
    return f"{PREFIX}{server}{SEPARATOR}{kernel}".lower()


def display_name(server: str, remote_display: str) -> str:
    """'Python 3 (ipykernel) — lab-workstation (Jupyter)': where it runs, at a glance."""
    return f"{printable(remote_display)[:150]} — {server} (Jupyter)"


def kernelspec_json(server: JupyterServer, kernel: str, remote: dict[str, Any]) -> dict[str, Any]:
    """Our kernelspec for remote kernelspec ``kernel`` (its ``spec`` as the server lists it)."""
    spec = remote.get("spec") if isinstance(remote.get("spec"), dict) else {}
    assert isinstance(spec, dict)
    metadata = spec.get("metadata") if isinstance(spec.get("metadata"), dict) else {}
    assert isinstance(metadata, dict)
    message = (
        f"{spec_name(server.name, kernel)} runs on the Jupyter server {server.name} through "
        "jupyterlab-remote's jupyter-server-provisioner; install jupyterlab-remote here."
    )
    language = spec.get("language") if isinstance(spec.get("language"), str) else ""
    return {
        "argv": [sys.executable, "-c", f"raise SystemExit({message!r})", "{connection_file}"],
        "display_name": display_name(server.name, str(spec.get("display_name") or kernel)),
        "language": printable(str(language))[:64],
        "interrupt_mode": "signal",
        "metadata": {
            "kernel_provisioner": {
                "provisioner_name": PROVISIONER,
                "config": {"server": server.name, "kernel_name": kernel},
            },
            "jupyter_remote": {"server": server.name, "kernel": kernel, "kind": "jupyter"},
            "debugger": bool(metadata.get("debugger", False)),
        },
    }


def _ours(target: Path, server: str) -> bool:
    """A kernelspec directory we wrote for Jupyter server ``server`` (never a profile's)."""
    try:
        data = json.loads((target / "kernel.json").read_text(encoding="utf-8"))
        meta = data["metadata"]["jupyter_remote"]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return isinstance(meta, dict) and meta.get("kind") == "jupyter" and meta.get("server") == server


def sync_kernelspecs(server: JupyterServer, remote: dict[str, Any]) -> list[str]:
    """Make our kernelspecs of ``server`` match its remote list; returns the names kept.
    Blocking (file work): call in a thread."""
    root = kernels_dir()
    root.mkdir(parents=True, exist_ok=True)
    wanted = {
        spec_name(server.name, kernel): kernelspec_json(server, kernel, remote[kernel])
        for kernel in kept_kernels(remote)
    }
    for name, spec in wanted.items():
        target = root / name
        if target.exists() and not _ours(target, server.name):
            continue  # a profile's (or a user's) kernelspec of that name: never overwritten
        with contextlib.suppress(OSError, ValueError):
            if json.loads((target / "kernel.json").read_text(encoding="utf-8")) == spec:
                continue
        write_spec_dir(target, spec)
    prefix = spec_name(server.name, "")
    for target in root.glob(f"{prefix}*"):
        if target.name not in wanted and _ours(target, server.name):
            shutil.rmtree(target, ignore_errors=True)
    return sorted(wanted)


def remove_kernelspecs(server: str) -> None:
    """Every kernelspec we wrote for ``server`` (on server removal). Blocking."""
    for target in kernels_dir().glob(f"{spec_name(server, '')}*"):
        if _ours(target, server):
            shutil.rmtree(target, ignore_errors=True)


async def kernelspecs(ctx: RemoteContext, name: str) -> list[dict[str, Any]]:
    """The remote's kernelspecs (``env list`` of a Jupyter server), synced to disk."""
    server = await jupyter_server(ctx, name)
    async with reach(ctx, server) as api:
        answer = await api.kernelspecs()
    remote = answer["kernelspecs"]
    await asyncio.to_thread(sync_kernelspecs, server, remote)
    default = server.default_kernel or str(answer.get("default") or "")
    rows = []
    for kernel in kept_kernels(remote):
        spec = kernelspec_json(server, kernel, remote[kernel])
        rows.append(
            {
                "name": kernel,
                "kind": "jupyter-kernelspec",
                "display_name": spec["display_name"],
                "language": spec["language"],
                "kernel_name": spec_name(name, kernel),
                "default": kernel == default,
                "debugger": spec["metadata"]["debugger"],
            }
        )
    return rows


async def test_jupyter_server(ctx: RemoteContext, name: str) -> dict[str, Any]:
    """Reach, authenticate, read the version and the kernelspecs (server test)."""
    server = await jupyter_server(ctx, name)
    async with reach(ctx, server) as api:
        about = await api.about()
        specs = await api.kernelspecs()
    names = sorted(str(k) for k in specs["kernelspecs"])
    return {
        "server": name,
        "kind": "jupyter",
        "url": server.url,
        "via": server.via,
        "version": about["version"],
        "kernelspecs": [printable(n) for n in names],
        "warnings": server.warnings,
    }


# ---------------------------------------------------------------- running kernels


def check_remote_id(kernel_id: Any) -> str:
    if not isinstance(kernel_id, str) or not REMOTE_ID_RE.fullmatch(kernel_id):
        raise ValidationError("Invalid kernel id.", field="kernel_id")
    return kernel_id


async def list_kernels(ctx: RemoteContext, name: str) -> list[dict[str, Any]]:
    """Kernels the remote server runs (whoever started them)."""
    server = await jupyter_server(ctx, name)
    async with reach(ctx, server) as api:
        kernels = await api.kernels()
    return [
        {
            "kernel_id": printable(str(k.get("id", ""))),
            "kernel_name": printable(str(k.get("name", ""))),
            "local_kernel_name": spec_name(name, str(k.get("name", ""))),
            "state": "running",
            "execution_state": printable(str(k.get("execution_state", ""))),
            "connections": k.get("connections") if isinstance(k.get("connections"), int) else 0,
            "last_activity": printable(str(k.get("last_activity", ""))),
            "server": name,
        }
        for k in kernels
        if REMOTE_ID_RE.fullmatch(str(k.get("id", "")))
    ]


async def stop_kernel(ctx: RemoteContext, name: str, kernel_id: str) -> dict[str, Any]:
    check_remote_id(kernel_id)
    server = await jupyter_server(ctx, name)
    async with reach(ctx, server) as api:
        stopped = await api.shutdown(kernel_id)
    if not stopped:
        raise NotFoundError(f"No kernel {kernel_id} on {name}.")
    return {"kernel_id": kernel_id, "stopped": True}


async def attach_kernel(
    ctx: RemoteContext, kernel_manager: Any, name: str, kernel_id: str
) -> dict[str, Any]:
    """A kernel the remote server runs becomes a kernel of ``kernel_manager`` (a new
    local id; its state on the remote intact); its model."""
    check_remote_id(kernel_id)
    running = {k["kernel_id"]: k for k in await list_kernels(ctx, name)}
    found = running.get(kernel_id)
    if found is None:
        raise NotFoundError(
            f"No kernel {kernel_id} on {name}.",
            hint="List them with `jupyter remote kernel list SERVER`.",
        )
    for session in _sessions_of(name):
        if getattr(session, "remote_id", None) == kernel_id:
            raise ConflictError(f"Kernel {kernel_id} of {name} is already attached here.")
    local_id = await ensure_async(
        kernel_manager.start_kernel(
            kernel_name=found["local_kernel_name"], **{ATTACH_REMOTE_ID: kernel_id}
        )
    )
    if not hasattr(kernel_manager, "kernel_model"):  # jupyter_client's (papermill, tests)
        return {"id": local_id, "name": found["local_kernel_name"]}
    return dict(await ensure_async(kernel_manager.kernel_model(local_id)))  # the server's


def _sessions_of(server: str) -> list[Any]:
    from ..sessions import registry

    return [s for s in registry.sessions.values() if s.server == server]
