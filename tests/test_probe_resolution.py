"""The reconnect probes' name resolution (``ssh/probe.py``) when the resolver finds nothing.

A session probes its host every 0.15 s in the first seconds of an outage. A name's
addresses are kept for RESOLVED_FOR s; a resolution that found nothing (no such name, or
a name server that failed: a VPN down) is not asked again for UNRESOLVED_FOR s, so the
probes do not start a resolver thread each. A stand-in ``getaddrinfo`` answers for the
test's names as glibc does (its error, or a real local listener's address); no hosts.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

from jupyter_remote.ssh import probe

NAME = "jr-no-such-name.test"
PROBES, EVERY = 20, 0.15  # a reconnect loop's fast probes


def test_a_name_that_resolves_to_nothing_is_not_asked_at_every_probe(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Review s22 note: a name the resolver did not find was not remembered, so each
    fast probe started a thread to ask again (20 probes, 20 resolutions). Now it is asked
    once per UNRESOLVED_FOR s, and again after that; a name known before and not found
    now is probed at its last known address meanwhile."""
    asked: list[str] = []
    found = {"ok": False}
    real_getaddrinfo = socket.getaddrinfo

    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]

        def resolver(host: Any, port_: Any, *args: Any, **kw: Any) -> Any:
            if host != NAME:
                return real_getaddrinfo(host, port_, *args, **kw)
            asked.append(host)
            if not found["ok"]:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
            return real_getaddrinfo("127.0.0.1", port_, *args, **kw)

        monkeypatch.setattr(socket, "getaddrinfo", resolver)

        async def probes() -> list[bool]:
            seen = []
            for _ in range(PROBES):
                seen.append(await probe.tcp_reachable(NAME, port, timeout=2))
                await asyncio.sleep(EVERY)
            return seen

        async def go() -> dict[str, Any]:
            out: dict[str, Any] = {"unknown": await probes(), "asked_unknown": len(asked)}
            assert out["unknown"] == [False] * PROBES
            assert 1 <= out["asked_unknown"] <= PROBES // 4, out  # before: 20
            await asyncio.sleep(probe.UNRESOLVED_FOR)
            found["ok"] = True  # the name server is back
            out["back"] = await probe.tcp_reachable(NAME, port, timeout=2)  # asked again
            monkeypatch.setattr(probe, "RESOLVED_FOR", 0.0)  # every probe refreshes it
            found["ok"] = False  # and the name server fails again
            before = len(asked)
            out["known"] = await probes()
            out["asked_known"] = len(asked) - before
            return out

        out = asyncio.run(go())
    assert out["back"], "not asked again once UNRESOLVED_FOR had passed"
    assert out["known"] == [True] * PROBES  # the last known address, still probed
    assert 1 <= out["asked_known"] <= PROBES // 4, out  # before: 20
