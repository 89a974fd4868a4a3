"""The CLI of Jupyter servers: ``server add NAME --url URL [--token | --password] [--via
SSHSERVER] [--kernel K] [--ca-file PEM]``, and what ``server test``, ``env list`` and
``kernel list`` print for one. Secrets are prompted for (or read from stdin), never argv.
"""

from __future__ import annotations

import sys
from typing import Any

from ..errors import RemoteError, ValidationError
from ..manager import RemoteManager
from ..store import JupyterServer
from .common import print_json, print_listing, progress, read_secret


async def is_jupyter(manager: RemoteManager, name: str) -> bool:
    """True when saved server ``name`` is a Jupyter server (404 if there is none)."""
    return (await manager.get_server(name)).get("kind") == "jupyter"


def _secret(args: Any) -> dict[str, str]:
    if getattr(args, "token", False) and getattr(args, "password", False):
        raise ValidationError("Give --token or --password, not both.", field="auth")
    if getattr(args, "token", False):
        return {"token": read_secret("Token")}
    if getattr(args, "password", False):
        return {"password": read_secret("Jupyter password")}
    return {}


async def server_add(manager: RemoteManager, args: Any) -> int:
    """``server add NAME --url URL``: validate, ask the secret, save, list kernelspecs."""
    if args.host:
        raise ValidationError("Give --host (an SSH server) or --url (a Jupyter server).")
    auth = "token" if args.token else "password" if args.password else "none"
    data: dict[str, Any] = {
        "name": args.name,
        "kind": "jupyter",
        "url": args.url,
        "auth": auth,
        "via": args.via,
        "default_kernel": args.kernel,
        "ca_file": args.ca_file,
    }
    JupyterServer.from_input(data)  # validate before prompting for the secret
    data.update(_secret(args))
    if auth != "none" and manager.secrets.backend == "memory":
        print(
            f"note: no keyring is available here, so the {auth} is kept only in this process; "
            "enter it again in JupyterLab's server form for kernels started there.",
            file=sys.stderr,
        )
    server = await manager.add_server(data)
    specs: list[dict[str, Any]] = []
    try:
        progress(f"Reading the kernelspecs of {args.name} ...")
        specs = await manager.jupyter_kernelspecs(args.name)
    except RemoteError as exc:
        print(f"warning: saved, but: {exc.message}\nhint: {exc.hint}", file=sys.stderr)
    if args.json:
        print_json({**server, "kernelspecs": specs})
        return 0
    print(f"Saved Jupyter server {server['name']} ({server['url']}).")
    for spec in specs:
        print(f"  kernel {spec['kernel_name']}: {spec['display_name']}")
    for warning in server["warnings"]:
        print(f"warning: {warning}", file=sys.stderr)
    return 0


def print_test(result: dict[str, Any]) -> None:
    """``server test`` of a Jupyter server."""
    rows = [
        ["server", result["server"]],
        ["url", result["url"]],
        ["via", result["via"] or "(direct)"],
        ["reachable", "yes"],
        ["auth", "ok"],
        ["version", result["version"]],
        ["kernels", ", ".join(result["kernelspecs"]) or "(none)"],
    ]
    for label, value in rows:
        print(f"{label:<10} {value}")


async def env_list(manager: RemoteManager, args: Any) -> int:
    """``env list`` of a Jupyter server: its kernelspecs (written as ours too)."""
    progress(f"Reading the kernelspecs of {args.server} ...")
    specs = await manager.jupyter_kernelspecs(args.server)
    return print_listing(
        args,
        specs,
        empty=f"The Jupyter server {args.server} has no kernelspecs.",
        headers=["name", "kernelspec here", "display name", "language", "default"],
        row=lambda s: [
            s["name"],
            s["kernel_name"],
            s["display_name"],
            s["language"],
            "yes" if s["default"] else "",
        ],
    )


async def kernel_list(manager: RemoteManager, args: Any) -> int:
    """``kernel list`` of a Jupyter server: every kernel it runs."""
    return print_listing(
        args,
        await manager.remote_kernels(args.server),
        empty=f"The Jupyter server {args.server} runs no kernels.",
        headers=["kernel", "kernelspec", "execution", "connections", "last activity"],
        row=lambda k: [
            k["kernel_id"],
            k["kernel_name"],
            k["execution_state"],
            k["connections"],
            k["last_activity"],
        ],
    )
