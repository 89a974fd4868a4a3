"""``jupyter remote env list SERVER [--refresh] [--json]``: environments found on a server."""

from __future__ import annotations

import sys
import time
from typing import Any

from ..kernels.discovery import KINDS, Discovery
from ..manager import RemoteManager
from . import jupyter as jupyter_cli
from .common import print_json, print_table, progress


async def env_list(manager: RemoteManager, args: Any) -> int:
    """Called by ``cli.main`` for ``env list``: probe (or reuse the cache) and print; for a
    Jupyter server, its kernelspecs."""
    if await jupyter_cli.is_jupyter(manager, args.server):
        return await jupyter_cli.env_list(manager, args)
    result = await Discovery.of(manager).lookup(
        args.server,
        refresh=args.refresh,
        on_probe=lambda: progress(f"Probing Python environments on {args.server} ..."),
    )
    if args.json:
        print_json(result["envs"])  # the grammar: a list of objects
        return 0
    print_envs(result)
    return 0


def print_envs(result: dict[str, Any]) -> None:
    """Human output: one table grouped by kind, then failures, notes and cache age."""
    envs = sorted(result["envs"], key=lambda e: (KINDS.index(e["kind"]), e["name"].lower()))
    if not envs:
        print(f"No Python environments found on {result['server']}.")
    else:
        print_table([_row(e) for e in envs], ["kind", "name", "version", "ipykernel", "python"])
    failed = [e for e in envs if e["error"]]
    if failed:
        print(f"\n{len(failed)} could not be checked:")
        for env in failed:
            print(f"  {env['name']} ({env['python']}): {env['error']}")
    if any(not e["ipykernel"] and not e["error"] and e["kind"] != "kernelspec" for e in envs):
        print(
            "\nEnvironments without ipykernel need it before they can run kernels: "
            "PYTHON -m pip install ipykernel"
        )
    for error in result.get("errors") or []:
        print(f"warning: {error}", file=sys.stderr)
    if result.get("cached"):
        print(f"\n(cached, probed {ago(result['probed_at'])}; --refresh to probe again)")


def _row(env: dict[str, Any]) -> list[str]:
    if env["kind"] == "kernelspec":
        language = env.get("language") or "?"
        return [env["kind"], f"{env['name']} ({language})", "-", "-", env["python"]]
    if env["error"]:
        return [env["kind"], env["name"], "?", "?", env["python"]]
    return [
        env["kind"],
        env["name"],
        env["version"],
        "yes" if env["ipykernel"] else "no",
        env["python"],
    ]


def ago(epoch: float, now: float | None = None) -> str:
    """``"N min ago"`` style age of a timestamp."""
    minutes = int(max(0.0, (now if now is not None else time.time()) - epoch) // 60)
    if minutes < 1:
        return "less than a minute ago"
    if minutes < 120:
        return f"{minutes} min ago"
    if minutes < 48 * 60:
        return f"{minutes // 60} h ago"
    return f"{minutes // (24 * 60)} days ago"
