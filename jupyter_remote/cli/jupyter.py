"""The CLI of Jupyter servers: ``server add NAME --url URL [--token | --password] [--via
SSHSERVER] [--kernel K] [--ca-file PEM]``, ``server edit NAME`` (the same options), and
what ``server test``, ``env list`` and ``kernel list`` print for one. Secrets are prompted
for (or read from stdin), never argv.
"""

from __future__ import annotations

import argparse
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
    return await _report_saved(manager, args, server)


def add_edit_parser(servers: Any) -> None:
    """``server edit NAME``: the options that change a saved Jupyter server (cli/main.py)."""
    p: argparse.ArgumentParser = servers.add_parser(
        "edit",
        help="change a saved Jupyter server (URL, auth, --via, default kernel, CA file)",
        description="Only the options given change. A new token or password is prompted "
        "for (or read from stdin), never taken from the command line; a new URL or --via "
        "forgets the saved one (give it again with --token/--password).",
    )
    p.add_argument("name")
    p.add_argument("--url", help="http(s)://HOST:PORT/BASE/ (JupyterHub: /user/NAME/)")
    auth = p.add_mutually_exclusive_group()
    auth.add_argument("--token", action="store_true", help="token auth; prompt for the token")
    auth.add_argument(
        "--password", action="store_true", help="password auth; prompt for the password"
    )
    auth.add_argument("--no-auth", action="store_true", help="the server asks for nothing")
    p.add_argument(
        "--via", metavar="SSHSERVER", help="reach the URL from this SSH server ('': directly)"
    )
    p.add_argument("--kernel", metavar="KERNELSPEC", help="its default kernel ('': the server's)")
    p.add_argument(
        "--ca-file", metavar="PEM", help="a CA its HTTPS certificate chains to ('': none)"
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=server_edit)


#: a saved Jupyter server's own fields (its JSON also has warnings, has_secret, readonly)
EDITABLE = ("name", "kind", "url", "auth", "via", "default_kernel", "ca_file")


def _edits(args: Any) -> dict[str, Any]:
    """The PATCH body of ``server edit``: only what was given ('' clears an optional one)."""
    data: dict[str, Any] = {}
    if args.url is not None:
        data["url"] = args.url
    if args.token or args.password or args.no_auth:
        data["auth"] = "token" if args.token else "password" if args.password else "none"
    for option, key in (("via", "via"), ("kernel", "default_kernel"), ("ca_file", "ca_file")):
        value = getattr(args, option)
        if value is not None:
            data[key] = value or None
    if not data:
        raise ValidationError(
            "Nothing to change.",
            hint="Give at least one of --url, --token, --password, --no-auth, --via, --kernel, "
            "--ca-file.",
        )
    return data


async def server_edit(manager: RemoteManager, args: Any) -> int:
    """``server edit NAME``: validate the edit, ask the new secret, PATCH, list kernelspecs."""
    current = await manager.get_server(args.name)
    if current.get("kind") != "jupyter":
        raise ValidationError(
            f"{args.name} is an SSH server; `server edit` changes Jupyter servers.",
            hint="Edit an SSH server with Edit on its item in JupyterLab's Remote sidebar, or "
            "remove it and add it again.",
        )
    data = _edits(args)
    merged = {key: current.get(key) for key in EDITABLE} | data
    JupyterServer.from_input(merged)  # validate before prompting for the secret
    data.update(_secret(args))
    moved = current["url"] != merged["url"] or current.get("via") != merged.get("via")
    server = await manager.update_server(args.name, data)
    if moved and server["auth"] != "none" and not ({"token", "password"} & set(data)):
        print(
            f"note: the URL or tunnel changed, so the saved {server['auth']} was forgotten; "
            f"give it with `jupyter remote server edit {args.name} --{server['auth']}`.",
            file=sys.stderr,
        )
    return await _report_saved(manager, args, server)


async def _report_saved(manager: RemoteManager, args: Any, server: dict[str, Any]) -> int:
    """After ``server add`` or ``edit``: its kernelspecs read (ours written), then printed."""
    specs: list[dict[str, Any]] = []
    try:
        progress(f"Reading the kernelspecs of {args.name} ...")
        specs = await manager.jupyter_kernelspecs(args.name)
    except RemoteError as exc:
        print(f"warning: saved, but: {exc.message}\nhint: {exc.hint}", file=sys.stderr)
    if args.json:
        print_json({**server, "kernelspecs": specs})
        return 0
    via = f" via {server['via']}" if server.get("via") else ""
    print(f"Saved Jupyter server {server['name']} ({server['url']}{via}, auth {server['auth']}).")
    for spec in specs:
        default = " (default)" if spec["default"] else ""
        print(f"  kernel {spec['kernel_name']}: {spec['display_name']}{default}")
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
