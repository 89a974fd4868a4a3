"""Client side of the remote agent (``remote/agent.py``): one exec per request.

Used by the provisioner (launch, status, signal, stop) and by the remote
kernels list/stop commands. The request, including the kernel's HMAC key,
travels on stdin; the command line is the quoted interpreter plus the fixed
bootstrap (invariants 4 and 5).
"""

from __future__ import annotations

import json
from typing import Any

from .errors import RemoteCommandError
from .remote import command_on_path, command_with, script_text, stdin_payload
from .ssh.exec import HeldProcess, run

#: relay.py defines the relay the supervisor runs; agent.py's main() runs at the end
_AGENT = script_text("relay") + "\n" + script_text("agent")


class AgentClient:
    """Talks to the agent over one pooled connection ``conn``."""

    def __init__(self, conn: Any, *, python: str | None = None) -> None:
        self.conn = conn
        self.command = command_with(python) if python else command_on_path()

    async def call(self, request: dict[str, Any], *, timeout: float = 60.0) -> dict[str, Any]:
        result = await run(
            self.conn, self.command, stdin=stdin_payload(_AGENT, request), timeout=timeout
        )
        line = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
        try:
            answer = json.loads(line)
        except ValueError:
            detail = (result.stderr or result.stdout).strip()[-800:]
            raise RemoteCommandError(
                f"The remote agent did not answer ({request.get('op')}): "
                f"exit status {result.exit_status}. {detail}",
                hint="Check that the profile's python runs on the remote (Python >= 3.8).",
            ) from None
        if not answer.get("ok"):
            raise RemoteCommandError(
                str(answer.get("error") or "the remote agent failed"),
                hint=str(answer.get("hint") or ""),
            )
        return dict(answer.get("result") or {})

    async def launch(self, request: dict[str, Any], *, timeout: float) -> dict[str, Any]:
        return await self.call({"op": "launch", **request}, timeout=timeout)

    async def status(self, kernel_id: str) -> dict[str, Any]:
        return await self.call({"op": "status", "kernel_id": kernel_id}, timeout=30)

    async def signal(self, kernel_id: str, signum: int) -> None:
        await self.call({"op": "signal", "kernel_id": kernel_id, "signum": int(signum)}, timeout=30)

    async def stop(self, kernel_id: str, *, timeout: float = 5.0) -> dict[str, Any]:
        return await self.call(
            {"op": "stop", "kernel_id": kernel_id, "timeout": timeout}, timeout=timeout + 30
        )

    async def connection(self, kernel_id: str) -> dict[str, Any]:
        """Key and channel targets of a running kernel, to re-attach to it."""
        return await self.call({"op": "connection", "kernel_id": kernel_id}, timeout=30)

    async def hold_presence(self, kernel_id: str) -> HeldProcess:
        """Tell the remote supervisor a client is here until the returned process closes."""
        payload = stdin_payload(_AGENT, {"op": "presence", "kernel_id": kernel_id})
        return await HeldProcess.start(self.conn, self.command, payload)

    async def list(self) -> list[dict[str, Any]]:
        return list((await self.call({"op": "list"}, timeout=30)).get("kernels", []))
