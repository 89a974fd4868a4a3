"""``server test``: connect through the pool, then describe the host in one round trip.

Called by RemoteManager.test_server (REST POST /remote/servers/NAME/test, CLI
``jupyter remote server test``): host key and where its trust comes from, connect
time, the best of three command round trips, the OS and the login python.
"""

from __future__ import annotations

import asyncio
import platform
import time
from typing import TYPE_CHECKING, Any

from ..text import printable
from .exec import run
from .hostkeys import OfferedKey

# Sent on stdin to `sh -s`: fixed text, nothing user-supplied in it.
SERVER_INFO_SCRIPT = r"""
os=$(uname -srm 2>/dev/null || echo unknown)
if [ -r /etc/os-release ]; then
  pretty=$(. /etc/os-release 2>/dev/null; printf '%s' "$PRETTY_NAME")
  [ -n "$pretty" ] && os="$pretty ($os)"
fi
printf 'os=%s\n' "$os"
for p in python3 python; do
  if path=$(command -v "$p" 2>/dev/null); then
    printf 'python=%s\n' "$path"
    version=$("$path" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])' 2>/dev/null)
    printf 'python_version=%s\n' "$version"
    break
  fi
done
if command -v nvidia-smi >/dev/null 2>&1; then
  out=$(nvidia-smi --query-gpu=index,uuid,name,memory.used,memory.total,utilization.gpu \
        --format=csv,noheader,nounits 2>&1); st=$?
  printf 'gpus_status=%s\n' "$st"
  printf '%s\n' "$out" | head -n 256 | sed 's/^/gpus_line=/'
  if [ "$st" = 0 ]; then
    out=$(nvidia-smi --query-compute-apps=gpu_uuid,pid --format=csv,noheader 2>&1); st=$?
    printf 'apps_status=%s\n' "$st"
    printf '%s\n' "$out" | head -n 10000 | sed 's/^/apps_line=/'
  fi
fi
"""

if TYPE_CHECKING:  # the context is the caller's; ssh/ does not depend on it
    from ..context import RemoteContext


MAX_INFO_TEXT = 256  # one value of SERVER_INFO_SCRIPT's answer (os, python path, version)


async def test_server(ctx: RemoteContext, name: str) -> dict[str, Any]:
    """Connect (through the pool), then report host key, round trip, OS and python."""
    endpoint = await ctx.endpoint(name)
    started = time.monotonic()
    lease = await ctx.pool.acquire(endpoint)
    try:
        connect_ms = (time.monotonic() - started) * 1000
        conn = lease.conn
        key = conn.get_server_host_key()
        trusted = await asyncio.to_thread(ctx.hostkeys.trusted_keys, endpoint)
        offered = OfferedKey.from_key(endpoint.host_id, key) if key else None
        rtts = []
        for _ in range(3):
            t0 = time.monotonic()
            await run(conn, "exit 0", timeout=15, where=repr(name))
            rtts.append((time.monotonic() - t0) * 1000)
        result = await run(
            conn,
            "sh -s",
            stdin=SERVER_INFO_SCRIPT.encode(),
            timeout=20,
            what="the server's description of itself",
            where=repr(name),
        )
    finally:
        await lease.release()
    info: dict[str, str] = {}
    smi: dict[str, list[str]] = {"gpus_line": [], "apps_line": []}
    for line in result.stdout.splitlines():
        k, sep, v = line.partition("=")
        if sep and k in smi:  # nvidia-smi's CSV, raw: kernels/gpus.py parses and escapes it
            smi[k].append(v)
        elif sep:  # the remote's words: bounded, control characters escaped
            info[k.strip()] = printable(v.strip()[:MAX_INFO_TEXT])
    return {
        "server": name,
        "endpoint": endpoint.describe(),
        "reachable": True,
        "auth": "ok",
        "auth_method": endpoint.auth,
        "host_key": {
            **(offered.to_json() if offered else {}),
            "status": "trusted",
            "source": trusted.source_of(key) if key else "",
            "warnings": list(trusted.warnings),  # known_hosts lines/files skipped
        },
        "connect_ms": round(connect_ms, 1),
        "rtt_ms": round(min(rtts), 1),
        "os": info.get("os", "unknown"),
        "python": {
            "path": info.get("python") or None,
            "version": info.get("python_version") or None,
        },
        "client": f"jupyterlab-remote on Python {platform.python_version()}",
        # raw; RemoteManager.test_server turns it into "gpus" (kernels/gpus.py)
        "nvidia_smi": {
            "found": "gpus_status" in info,
            "gpus": {
                "status": _status(info.get("gpus_status")),
                "output": "\n".join(smi["gpus_line"]),
            },
            "apps": {
                "status": _status(info.get("apps_status")),
                "output": "\n".join(smi["apps_line"]),
            },
        },
    }


def _status(text: str | None) -> int | None:
    """An exit status the script printed, or None."""
    return int(text) if text is not None and text.isdigit() and len(text) < 4 else None
