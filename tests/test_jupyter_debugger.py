"""The debugger through a kernel of a remote Jupyter server (issue 15).

A real `jupyter server` with a token on 127.0.0.1 (no extension of ours); its python3
kernel is ipykernel with debugpy. Through our bridge, jupyter_client sends the DAP
requests JupyterLab's debugger sends (initialize, attach, dumpCell, setBreakpoints,
configurationDone), runs the cell, sees the ``stopped`` debug_event on iopub, reads the
stack, scopes and variables, and continues; the cell then finishes.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from jupyter_client.blocking import BlockingKernelClient

from jupyter_remote.manager import RemoteManager
from tests.harness.clients import execute, started_kernel
from tests.harness.fixtures import run_on_runtime
from tests.harness.jupyter_servers import PlainJupyter

CELL = "a = 40\nb = a + 2\nprint('b is', b)\n"


@pytest.fixture(scope="module")
def direct() -> Iterator[PlainJupyter]:
    with PlainJupyter() as server:
        yield server


run = run_on_runtime


@pytest.fixture
def manager(runtime_manager: RemoteManager) -> RemoteManager:
    """The runtime's manager (tests/harness/fixtures.py), as kernels of this process see it."""
    return runtime_manager


class Debugger:
    """DAP over the control channel, events from iopub, as JupyterLab's debugger does."""

    def __init__(self, kc: BlockingKernelClient) -> None:
        self.kc, self.seq = kc, 0
        self.events: list[dict[str, Any]] = []

    def request(self, command: str, **arguments: Any) -> dict[str, Any]:
        self.seq += 1
        content = {"seq": self.seq, "type": "request", "command": command}
        content["arguments"] = arguments
        msg = self.kc.session.msg("debug_request", content)
        self.kc.control_channel.send(msg)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            reply = self.kc.get_control_msg(timeout=60)
            if reply["parent_header"].get("msg_id") == msg["header"]["msg_id"]:
                assert reply["msg_type"] == "debug_reply"
                return dict(reply["content"])
        raise AssertionError(f"no debug_reply to {command}")

    def event(self, name: str, timeout: float = 60) -> dict[str, Any]:
        """The next debug_event ``name`` on iopub (others are kept in ``events``)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = self.kc.get_iopub_msg(timeout=timeout)
            if msg["msg_type"] == "debug_event":
                self.events.append(msg["content"])
                if msg["content"].get("event") == name:
                    return dict(msg["content"])
        raise AssertionError(f"no debug_event {name}")


def test_the_debugger_stops_at_a_breakpoint_and_shows_variables(
    manager: RemoteManager, direct: PlainJupyter
) -> None:
    run(manager.add_server({"name": "dbg", "url": direct.url, "token": direct.token}))
    specs = run(manager.jupyter_kernelspecs("dbg"))
    assert specs[0]["debugger"] is True  # ipykernel says so: JupyterLab shows the bug icon
    with started_kernel("remote-dbg--python3") as (_km, kc):
        info = kc.kernel_info(reply=True, timeout=30)["content"]
        # ipykernel 7 says it in supported_features, older ones in "debugger"
        assert "debugger" in info.get("supported_features", []) or info.get("debugger") is True
        dbg = Debugger(kc)
        init = dbg.request(
            "initialize",
            clientID="jupyterlab",
            clientName="JupyterLab",
            adapterID="python",
            pathFormat="path",
            linesStartAt1=True,
            columnsStartAt1=True,
            supportsVariableType=True,
            supportsVariablePaging=True,
            supportsRunInTerminalRequest=True,
            locale="en-us",
        )
        assert init["success"], init
        assert dbg.request("attach")["success"]
        dumped = dbg.request("dumpCell", code=CELL)
        assert dumped["success"], dumped
        source = dumped["body"]["sourcePath"]
        bps = dbg.request(
            "setBreakpoints",
            source={"path": source},
            breakpoints=[{"line": 2}],
            sourceModified=False,
        )
        assert bps["success"] and bps["body"]["breakpoints"][0]["verified"], bps
        assert dbg.request("configurationDone")["success"]

        msg_id = kc.execute(CELL)
        stopped = dbg.event("stopped")
        assert stopped["body"]["reason"] == "breakpoint", stopped
        thread = stopped["body"]["threadId"]
        frames = dbg.request("stackTrace", threadId=thread)["body"]["stackFrames"]
        assert frames[0]["line"] == 2 and frames[0]["source"]["path"] == source
        scopes = dbg.request("scopes", frameId=frames[0]["id"])["body"]["scopes"]
        ref = next(s["variablesReference"] for s in scopes if s["name"] == "Locals")
        variables = dbg.request("variables", variablesReference=ref)["body"]["variables"]
        values = {v["name"]: v["value"] for v in variables}
        assert values.get("a") == "40" and "b" not in values  # stopped before line 2 ran

        assert dbg.request("continue", threadId=thread)["success"]
        reply = kc.get_shell_msg(timeout=60)
        while reply["parent_header"].get("msg_id") != msg_id:
            reply = kc.get_shell_msg(timeout=60)
        assert reply["content"]["status"] == "ok"
        assert dbg.request("disconnect", restart=False, terminateDebuggee=False)["success"]
        assert execute(kc, "print(b)")[1] == "42\n"  # the kernel carries on after the debugger
