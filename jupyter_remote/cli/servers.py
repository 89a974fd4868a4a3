"""``jupyter remote server ...`` and ``jupyter remote hostkey ...``."""

from __future__ import annotations

import sys
from typing import Any

from ..errors import HostKeyUnknownError, RemoteError, ValidationError
from ..manager import RemoteManager
from . import jupyter as jupyter_cli
from .common import print_json, print_listing, progress, read_secret
from .envs import print_gpus

MAX_TRUST_HOPS = 6


def _secrets_from_flags(manager: RemoteManager, name: str, args: Any) -> dict[str, str]:
    found: dict[str, str] = {}
    if getattr(args, "password", False):
        found["password"] = read_secret("Password")
    if getattr(args, "passphrase", False):
        found["passphrase"] = read_secret("Key passphrase")
    if found and manager.secrets.backend == "memory":
        print(
            "note: no keyring is available here, so the secret is kept only in this "
            "process; enter it again in JupyterLab or with --password/--passphrase.",
            file=sys.stderr,
        )
    return found


async def server_add(manager: RemoteManager, args: Any) -> int:
    if getattr(args, "url", None):
        return await jupyter_cli.server_add(manager, args)
    if not args.host:
        raise ValidationError(
            "Give --host HOST (an SSH server) or --url URL (a Jupyter server).", field="host"
        )
    if getattr(args, "token", False) or getattr(args, "via", None):
        raise ValidationError("--token and --via are for Jupyter servers (--url).")
    data: dict[str, Any] = {
        "name": args.name,
        "host": args.host,
        "port": args.port,
        "user": args.user,
        "identity": args.identity,
        "jump": args.jump,
        "auth": args.auth or ("password" if args.password else "key"),
        "channel_transport": args.channel_transport or "unix",
    }
    from ..store import Server

    Server.from_input(data)  # validate before prompting for secrets
    data.update(_secrets_from_flags(manager, args.name, args))
    server = await manager.add_server(data)
    if args.json:
        print_json(server)
    else:
        print(f"Saved server {server['name']}. Next: jupyter remote server test {server['name']}")
        for warning in server["warnings"]:
            print(f"warning: {warning}", file=sys.stderr)
    return 0


async def server_list(manager: RemoteManager, args: Any) -> int:
    servers = await manager.list_servers()
    print_listing(
        args,
        servers,
        empty="No servers yet. Add one with: jupyter remote server add NAME --host HOST",
        headers=["name", "host", "port", "user", "auth", "jump", "channels", "source"],
        row=lambda s: (
            _jupyter_row(s)
            if s.get("kind") == "jupyter"
            else [
                s["name"],
                s["host"],
                s["port"] or "(ssh config)",
                s["user"] or "(ssh config)",
                s["auth"],
                s["jump"] or "",
                s["channel_transport"] + (" (!)" if s["warnings"] else ""),
                "admin" if s["readonly"] else "",
            ]
        ),
    )
    for server in servers:
        for warning in server["warnings"]:
            print(f"warning: {server['name']}: {warning}", file=sys.stderr)
    return 0


def _jupyter_row(s: dict[str, Any]) -> list[Any]:
    """A Jupyter server in ``server list``: its URL where an SSH server has its host."""
    via = f"via {s['via']}" if s.get("via") else ""
    return [
        s["name"],
        s["url"],
        "",
        "",
        s["auth"],
        via,
        "jupyter",
        "admin" if s["readonly"] else "",
    ]


async def server_remove(manager: RemoteManager, args: Any) -> int:
    await manager.remove_server(args.name)
    print(f"Removed server {args.name}.")
    return 0


async def server_test(manager: RemoteManager, args: Any) -> int:
    server = await manager.get_server(args.name)  # validates the name, 404 if absent
    for kind, value in _secrets_from_flags(manager, args.name, args).items():
        manager.secrets.set(kind, server["name"], value)  # type: ignore[arg-type]
    trusted_now = []
    for _ in range(MAX_TRUST_HOPS):
        progress(f"Connecting to {args.name} ...")
        try:
            result = await manager.test_server(args.name)
            break
        except HostKeyUnknownError as exc:
            if not args.trust:
                raise
            print(f"Trusting {exc.host_id}: {exc.key_type} {exc.fingerprint}", file=sys.stderr)
            trusted_now.append(await manager.trust_hostkey(args.name, exc.fingerprint))
    else:
        raise RemoteError("Too many untrusted hops on the way to this server.")
    result["trusted_now"] = trusted_now
    if args.json:
        print_json(result)
        return 0
    if result.get("kind") == "jupyter":
        jupyter_cli.print_test(result)
        return 0
    key = result["host_key"]
    python = result["python"]
    rows = [
        ["server", result["server"]],
        ["endpoint", result["endpoint"]],
        ["reachable", "yes"],
        [
            "host key",
            f"{key.get('type')} {key.get('fingerprint')} ({key['status']}, {key['source']})",
        ],
        ["auth", f"ok ({result['auth_method']})"],
        ["connect", f"{result['connect_ms']} ms"],
        ["round trip", f"{result['rtt_ms']} ms"],
        ["remote os", result["os"]],
        [
            "python",
            f"{python['path']} ({python['version']})" if python["path"] else "not found on PATH",
        ],
    ]
    for label, value in rows:
        print(f"{label:<11} {value}")
    print_gpus(result.get("gpus"))
    return 0


async def hostkey_list(manager: RemoteManager, args: Any) -> int:
    return print_listing(
        args,
        await manager.list_hostkeys(),
        empty="No trusted host keys. `jupyter remote server test NAME --trust` trusts one.",
        headers=["host", "type", "fingerprint", "source", "added"],
        row=lambda k: [k["host_id"], k["key_type"], k["fingerprint"], k["source"], k["added"]],
    )


async def hostkey_remove(manager: RemoteManager, args: Any) -> int:
    removed = await manager.remove_hostkey(args.host)
    print(f"Removed {removed} trusted key(s) for {args.host}.")
    return 0
