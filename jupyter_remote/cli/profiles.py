"""``jupyter remote profile ...`` and ``jupyter remote kernel ...``."""

from __future__ import annotations

import asyncio
import datetime as dt
import sys
from typing import Any

from ..errors import ValidationError
from ..manager import RemoteManager
from ..store.durations import format_duration
from ..text import printable
from . import jupyter as jupyter_cli
from . import slurm as slurm_cli
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
    if args.display_name is not None:
        data["display_name"] = args.display_name
    if args.standby is not None:
        data["standby"] = args.standby
    slurm = slurm_cli.settings(args)
    if slurm is not None:
        data["slurm"] = slurm
        if args.idle_timeout is None:
            data.pop("idle_timeout")  # a Slurm profile's default: 1 h (store/slurm.py)
    progress(f"Checking {args.python} on {args.server} ...")
    profile = await manager.add_profile(
        data,
        install_ipykernel=args.install_ipykernel,
        create_cwd=args.create_cwd,
        on_output=_show,
        replace=args.replace,
    )
    _print_saved(args, profile)
    return 0


async def profile_edit(manager: RemoteManager, args: Any) -> int:
    """``profile edit NAME [options]``: only what is given changes; the kernelspec follows."""
    current = await manager.get_profile(args.name)
    changes: dict[str, Any] = {}
    for option in ("server", "python", "display_name"):
        if getattr(args, option) is not None:
            changes[option] = getattr(args, option)
    if args.cwd is not None:
        changes["cwd"] = args.cwd or None
    if args.idle_timeout is not None:
        changes["idle_timeout"] = args.idle_timeout
    if args.standby is not None:
        changes["standby"] = args.standby
    slurm = slurm_cli.settings(args, current.get("slurm"))
    if args.no_slurm or slurm is not None:
        changes["slurm"] = None if args.no_slurm else slurm
    if args.env or args.unset_env:
        env = {**current["env"], **_parse_env(args.env)}
        for key in args.unset_env:
            if env.pop(key, None) is None:
                raise ValidationError(f"--unset-env {key}: the profile has no such variable.")
        changes["env"] = env
    if not changes and not (args.create_cwd or args.install_ipykernel):
        raise ValidationError(
            "Nothing to change.",
            hint="Give the options to change, e.g. --cwd DIR or --env KEY=VALUE "
            "(`jupyter remote profile edit --help`).",
        )
    progress(f"Saving profile {args.name} ...")
    profile = await manager.update_profile(
        args.name,
        changes,
        install_ipykernel=args.install_ipykernel,
        create_cwd=args.create_cwd,
        on_output=_show,
    )
    _print_saved(args, profile)
    return 0


def _show(line: str) -> None:
    """pip's output, streamed to stderr (the remote's words: control characters escaped)."""
    print(printable(line), file=sys.stderr, flush=True)


def _print_saved(args: Any, profile: dict[str, Any]) -> None:
    slurm_cli.print_warnings(profile)
    if args.json:
        print_json(profile)
        return
    print(
        printable(
            f"Saved profile {profile['name']}: kernelspec {profile['kernel_name']} "
            f"({profile['display_name']})."
        )
    )
    print(f"Try it: jupyter console --kernel {profile['kernel_name']}")


async def profile_list(manager: RemoteManager, args: Any) -> int:
    return print_listing(
        args,
        await manager.list_profiles(),
        empty="No profiles yet. Add one with:\n"
        "  jupyter remote profile add NAME --server SERVER --python PATH",
        headers=["name", "kernel", "server", "python", "cwd", "idle", "slurm", "standby", "source"],
        row=lambda p: [
            p["name"],
            p["kernel_name"],
            p["server"],
            p["python"] or p["kernelspec"],
            p["cwd"] or "~",
            format_duration(p["idle_timeout"] or 0),
            slurm_cli.describe(p.get("slurm")),
            "on" if p.get("standby") else "",
            "admin" if p["readonly"] else "",
        ],
    )


async def profile_remove(manager: RemoteManager, args: Any) -> int:
    await manager.remove_profile(args.name)
    print(f"Removed profile {args.name} and its kernelspec.")
    return 0


async def profile_standby(manager: RemoteManager, args: Any) -> int:
    """``profile standby NAME``: whether a standby kernel is kept, the one running and
    what it costs on the remote (its resident memory)."""
    progress(f"Asking about the standby kernel of {args.name} ...")
    found = await manager.profile_standby(args.name)
    if args.json:
        print_json(found)
        return 0
    if not found["enabled"]:
        print(f"Profile {args.name} keeps no standby kernel (turn it on: --standby).")
    if found["state"] == "ready":
        mib = (found.get("rss") or 0) / (1024 * 1024)
        print(
            f"Standby kernel {found['kernel_id']}: ready, pid {found.get('pid')}, started "
            f"{_age(found.get('started'))}, {mib:.0f} MiB on the remote."
        )
    elif found["enabled"]:
        print(f"Standby kernel of {args.name}: {found['state']}.")
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
    while True:
        print_listing(
            args,
            await manager.remote_kernels(args.server),
            empty=f"No kernels of ours on {args.server}.",
            headers=["kernel", "state", "pid", "profile", "python", "cwd", "started", "job"],
            row=lambda k: [
                k["kernel_id"],
                _state_text(k),
                k.get("pid"),
                k.get("profile") or "",
                k.get("python") or "",
                k.get("cwd") or "",
                _age(k.get("started")),
                slurm_cli.job_text(k),
            ],
        )
        if not getattr(args, "watch", None):
            return 0
        await asyncio.sleep(max(1.0, args.watch))  # --watch: until Ctrl-C
        print(flush=True)


def _state_text(kernel: dict[str, Any]) -> str:
    """``kernel list``'s state column: a standby says so, a dead kernel says why (its
    record is removed once listed: this is the one time it is told)."""
    if kernel.get("standby"):
        return f"{kernel['state']} (standby)"
    if kernel.get("state") == "dead" and kernel.get("reason"):
        return f"dead: {kernel['reason']}"
    return str(kernel["state"])


async def kernel_stop(manager: RemoteManager, args: Any) -> int:
    await manager.stop_remote_kernel(args.server, args.kernel_id)
    print(f"Stopped kernel {args.kernel_id} on {args.server}; its files are removed.")
    return 0
