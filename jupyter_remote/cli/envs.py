"""``jupyter remote env list SERVER [--refresh] [--json]``: environments (and GPUs) found
on a server; ``env create SERVER --python BASE [--name N] [--with venv|uv|conda]``."""

from __future__ import annotations

import sys
import time
from typing import Any

from ..kernels import gpus
from ..kernels.discovery import KINDS, Discovery
from ..manager import RemoteManager
from ..store.durations import format_duration
from ..text import printable
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
            "PYTHON -m pip install ipykernel, or, for a system Python (PEP 668), a new "
            f"environment: jupyter remote env create {result['server']} --python PYTHON"
        )
    for error in result.get("errors") or []:
        print(f"warning: {error}", file=sys.stderr)
    print_gpus(result.get("gpus"))
    if result.get("cached"):
        print(f"\n(cached, probed {ago(result['probed_at'])}; --refresh to probe again)")


def print_gpus(found: Any) -> None:
    """The GPUs line(s) of ``env list`` and ``server test`` (nothing without nvidia-smi)."""
    if not isinstance(found, dict):
        return
    devices = found.get("devices") or []
    if devices:
        print(f"\nGPUs ({len(devices)}):")
        for line in gpus.summary(devices).splitlines():
            print(f"  {printable(line)}")
    if found.get("error"):
        print(f"\nGPUs: {printable(str(found['error']))}")


async def env_create(manager: RemoteManager, args: Any) -> int:
    """``env create``: make the environment, streaming its output to stderr."""
    progress(f"Creating a {args.tool} environment on {args.server} from {args.python} ...")
    created = await manager.create_environment(
        args.server,
        python=args.python,
        env_name=args.name,
        tool=args.tool,
        on_output=lambda line: print(printable(line), file=sys.stderr, flush=True),
    )
    if args.json:
        print_json(created)
        return 0
    print(printable(f"Created {created['name']} ({created['tool']}): {created['python']}"))
    print(
        f"Use it: jupyter remote profile add NAME --server {args.server} "
        f"--python {created['python']}"
    )
    return 0


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
    """``"5m ago"``, ``"1h30m ago"``: the age of a timestamp to the minute, in the one
    human form of durations (store/durations.py)."""
    minutes = int(max(0.0, (now if now is not None else time.time()) - epoch) // 60)
    if minutes < 1:
        return "less than a minute ago"
    return f"{format_duration(minutes * 60)} ago"
