"""``jupyter remote profile ...`` and ``jupyter remote kernel ...``."""

from __future__ import annotations

import datetime as dt
import sys
from typing import Any

from ..errors import ValidationError
from ..manager import RemoteManager
from . import jupyter as jupyter_cli
from .common import print_json, print_listing, progress


def _parse_env(pairs: list[str]) -> dict[str, str]:
    env: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise ValidationError(f"--env takes KEY=VALUE, not {pair[:80]!r}.", field="env")
        env[key] = value
    return env


async def profile_add(manager: RemoteManager, args: Any) -> int:
    data: dict[str, Any] = {
        "name": args.name,
        "server": args.server,
        "python": args.python,
        "cwd": args.cwd,
        "env": _parse_env(args.env),
        "idle_timeout": args.idle_timeout or 0,
    }
    progress(f"Checking {args.python} on {args.server} ...")

    def show(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    profile = await manager.add_profile(
        data, install_ipykernel=args.install_ipykernel, on_output=show, replace=args.replace
    )
    if args.json:
        print_json(profile)
    else:
        print(
            f"Saved profile {profile['name']}: kernelspec {profile['kernel_name']} "
            f"({profile['display_name']})."
        )
        print(f"Try it: jupyter console --kernel {profile['kernel_name']}")
    return 0


async def profile_list(manager: RemoteManager, args: Any) -> int:
    return print_listing(
        args,
        await manager.list_profiles(),
        empty="No profiles yet. Add one with:\n"
        "  jupyter remote profile add NAME --server SERVER --python PATH",
        headers=["name", "kernel", "server", "python", "cwd", "idle", "source"],
        row=lambda p: [
            p["name"],
            p["kernel_name"],
            p["server"],
            p["python"] or p["kernelspec"],
            p["cwd"] or "~",
            p["idle_timeout"] or "never",
            "admin" if p["readonly"] else "",
        ],
    )


async def profile_remove(manager: RemoteManager, args: Any) -> int:
    await manager.remove_profile(args.name)
    print(f"Removed profile {args.name} and its kernelspec.")
    return 0


def _age(started: Any) -> str:
    if not isinstance(started, (int, float)):
        return ""
    when = dt.datetime.fromtimestamp(started, dt.timezone.utc)
    return when.strftime("%Y-%m-%d %H:%M:%S UTC")


async def kernel_list(manager: RemoteManager, args: Any) -> int:
    progress(f"Asking {args.server} ...")
    if await jupyter_cli.is_jupyter(manager, args.server):
        return await jupyter_cli.kernel_list(manager, args)
    return print_listing(
        args,
        await manager.remote_kernels(args.server),
        empty=f"No kernels of ours on {args.server}.",
        headers=["kernel", "state", "pid", "profile", "python", "cwd", "started"],
        row=lambda k: [
            k["kernel_id"],
            k["state"],
            k.get("pid"),
            k.get("profile") or "",
            k.get("python") or "",
            k.get("cwd") or "",
            _age(k.get("started")),
        ],
    )


async def kernel_stop(manager: RemoteManager, args: Any) -> int:
    await manager.stop_remote_kernel(args.server, args.kernel_id)
    print(f"Stopped kernel {args.kernel_id} on {args.server}; its files are removed.")
    return 0
