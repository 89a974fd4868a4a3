"""Client side of the remote agent (``remote/agent.py``): one exec per request.

Used by the provisioner (launch, status, signal, stop) and by the remote
kernels list/stop commands. The request, including the kernel's HMAC key,
travels on stdin; the command line is the quoted interpreter plus the fixed
bootstrap (invariants 4 and 5).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from typing import Any

from ..errors import RemoteCommandError
from ..remote import argv_on_path, argv_python, stdin_payload_cached
from ..remote.protocol import BOOTSTRAP, CHANNELS, KERNEL_ID_PATTERN
from ..ssh.exec import AGENT_OUTPUT, ExecResult, HeldProcess, peer, run
from ..ssh.streams import ExecTarget
from ..text import RemoteJSONError, parse_remote_json, printable, printable_tree


class AgentClient:
    """Talks to the agent over one pooled connection ``conn``; ``wrap``: a command to run
    it through (``srun --jobid=J --overlap ...`` for a kernel in a Slurm job)."""

    def __init__(self, conn: Any, *, python: str | None = None, wrap: Sequence[str] = ()) -> None:
        self.conn = conn
        argv = argv_python(python, "-c", BOOTSTRAP) if python else argv_on_path()
        self.command = shlex.join([*wrap, *argv])

    async def call(self, request: dict[str, Any], *, timeout: float = 60.0) -> dict[str, Any]:
        """One request, one exec; the agent's ``result``, or RemoteCommandError with a hint.

        The answer is read up to :data:`AGENT_OUTPUT` bytes and parsed with
        ``parse_remote_json`` (no unbounded size, no deep nesting); what the agent
        says in an error goes on with its control characters escaped.
        """
        op = str(request.get("op"))
        where = peer(self.conn)
        result = await run(
            self.conn,
            self.command,
            stdin=stdin_payload_cached("agent", request),
            timeout=timeout,
            max_output=AGENT_OUTPUT,
            what=f"the remote agent's answer ({op})",
            where=where,
        )
        return _agent_result(result, op, where)

    async def launch(self, request: dict[str, Any], *, timeout: float) -> dict[str, Any]:
        return await self.call({"op": "launch", **request}, timeout=timeout)

    async def status(self, kernel_id: str, *, report: bool = False) -> dict[str, Any]:
        """How a kernel stands. ``report`` (the provisioner's poll, its owner): a dead
        kernel's record is removed once this answer has said how it ended."""
        request = {"op": "status", "kernel_id": kernel_id, "report": report}
        return await self.call(request, timeout=30)

    async def signal(self, kernel_id: str, signum: int) -> None:
        await self.call({"op": "signal", "kernel_id": kernel_id, "signum": int(signum)}, timeout=30)

    async def stop(self, kernel_id: str, *, timeout: float = 5.0) -> dict[str, Any]:
        return await self.call(
            {"op": "stop", "kernel_id": kernel_id, "timeout": timeout}, timeout=timeout + 30
        )

    async def connection(self, kernel_id: str) -> dict[str, Any]:
        """Key and channel targets of a running kernel, to re-attach to it (checked:
        :func:`connection_answer`)."""
        answer = await self.call({"op": "connection", "kernel_id": kernel_id}, timeout=30)
        return connection_answer(answer, "connection", where=peer(self.conn))

    def connect_target(self, kernel_id: str) -> ExecTarget:
        """The relay of ``kernel_id`` as a stream over this agent's stdin/stdout (the
        ``connect`` operation, ``remote/connector.py``), run as the small ``connect``
        script (``remote/connect_main.py``): it lives as long as the link."""
        payload = stdin_payload_cached("connect", {"op": "connect", "kernel_id": kernel_id})
        return ExecTarget(self.command, payload, where=peer(self.conn))

    async def submit(self, request: dict[str, Any]) -> str:
        """sbatch a kernel's job on the login node (``remote/slurm.py``); its job id."""
        answer = await self.call({"op": "submit", **request}, timeout=180)
        return str(answer.get("job_id") or "")

    async def cancel(self, kernel_id: str, job_id: str) -> dict[str, Any]:
        """scancel a kernel's job and wait until the queue no longer shows it."""
        request = {"op": "cancel", "kernel_id": kernel_id, "job_id": job_id}
        return await self.call(request, timeout=180)

    async def hold_presence(self, kernel_id: str) -> HeldProcess:
        """Tell the remote supervisor a client is here until the returned process closes."""
        payload = stdin_payload_cached("agent", {"op": "presence", "kernel_id": kernel_id})
        return await HeldProcess.start(self.conn, self.command, payload)

    async def list(self, *, report: bool = False) -> list[dict[str, Any]]:
        """Our kernels on the host. ``report`` (``kernel list``): dead ones are listed once
        with how they ended, then removed."""
        return _kernel_entries(await self.call({"op": "list", "report": report}, timeout=30))


AGENT_HINT = "Check that the profile's python runs on the remote (Python >= 3.8)."
MAX_ERROR_TEXT = 2000


_SECRET_FIELD = re.compile(r'("(?:key|relay_token|token)"\s*:\s*")[^"]*')


def _whole_lines_tail(text: str, size: int = MAX_ERROR_TEXT) -> list[str]:
    """The last whole lines of ``text`` within ``size`` characters: a line the window
    cuts is left out (a cut answer line would not start with "{" and show its secrets)."""
    tail = text[-size:]
    if len(text) > size and text[-size - 1] != "\n":
        tail = tail.partition("\n")[2]
    return tail.splitlines()


def error_hint(hint: Any) -> str:
    """A remote error's hint as shown: its last MAX_ERROR_TEXT characters in whole lines
    (a log tail's last line, a traceback's error, is what matters), control characters
    escaped. The agent's answers (``_agent_result``) and the standby keeper's log."""
    text = str(hint or "")
    if len(text) > MAX_ERROR_TEXT:
        text = "\n".join(_whole_lines_tail(text)) or text[-MAX_ERROR_TEXT:]
    return printable(text, keep_newlines=True)


def _redacted(text: str) -> str:
    """``text`` with the values of secret-looking JSON fields replaced (belt and braces)."""
    return _SECRET_FIELD.sub(r"\1(hidden)", text)


def _agent_result(result: ExecResult, op: str, where: str) -> dict[str, Any]:
    """The ``result`` object of the agent's last stdout line (``AgentClient.call``)."""
    text = result.stdout.rstrip()
    line = text[text.rfind("\n") + 1 :]
    try:
        answer = parse_remote_json(line)
        if not isinstance(answer, dict):
            raise RemoteJSONError("the answer is not a JSON object")
    except RemoteJSONError as exc:
        detail = result.stderr.strip()
        if not detail and not line.startswith(("[", "{")):  # stray output: show its end,
            # never an answer line before it (a claim's or connection's carries the key)
            stray = [x for x in _whole_lines_tail(text) if not x.lstrip().startswith("{")]
            detail = printable(_redacted("\n".join(stray)).strip(), keep_newlines=True)
        raise RemoteCommandError(
            f"The remote agent on {where} did not answer ({op}): "
            f"{exc if line else 'nothing on its standard output'}; "
            f"exit status {result.exit_status}. {detail[-800:]}".strip(),
            hint=AGENT_HINT,
        ) from None
    if not answer.get("ok"):
        error = answer.get("error") or "the remote agent failed"
        hint = answer.get("hint") or ""
        raise RemoteCommandError(
            printable(str(error)[:MAX_ERROR_TEXT], keep_newlines=True),
            hint=error_hint(hint),
        )
    value = answer.get("result") or {}
    if not isinstance(value, dict):
        raise RemoteCommandError(
            f"The remote agent on {where} answered {op} with a result that is not an object.",
            hint=AGENT_HINT,
        )
    return value


def _kernel_entries(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Entries of a ``list`` answer as callers may show them: objects with a string
    kernel_id, every string printable, ``state`` a string, ``pid``/``started`` sane numbers
    (the CLI formats ``started`` as a date: 1e300 would raise)."""
    kernels = result.get("kernels")
    if not isinstance(kernels, list):
        return []
    entries = []
    for raw in kernels:
        if not isinstance(raw, dict) or not isinstance(raw.get("kernel_id"), str):
            continue
        entry = printable_tree(raw)
        if not isinstance(entry.get("state"), str):
            entry["state"] = "unknown"
        if "pid" in entry and not _number(entry["pid"], 1 << 31, integer=True):
            entry["pid"] = None
        if "started" in entry and not _number(entry["started"], 1e11):
            entry["started"] = None
        if "rss" in entry and not _number(entry["rss"], 1 << 50, integer=True):
            entry["rss"] = 0  # a standby's memory (remote/standby.py)
        entry["standby"] = entry.get("standby") is True
        entries.append(entry)
    return entries


def _number(value: Any, below: float, *, integer: bool = False) -> bool:
    kinds = (int,) if integer else (int, float)
    return isinstance(value, kinds) and not isinstance(value, bool) and 0 <= value < below


#: HMAC signature schemes a kernel's connection may name (jupyter_client's own choices)
SIGNATURE_SCHEMES = ("hmac-sha256", "hmac-sha512", "hmac-sha384", "hmac-sha224", "hmac-sha1")
MAX_KEY = 256  # characters of a kernel's HMAC key (ours: a uuid4, 36)
MAX_PATH = 4096
_KERNEL_ID = re.compile(KERNEL_ID_PATTERN)


def connection_answer(answer: dict[str, Any], op: str, *, where: str) -> dict[str, Any]:
    """A ``connection`` or ``claim`` answer (a running kernel handed over: re-attach, a
    standby taken) as the provisioner may use it, checked like ``list`` entries are
    (:func:`_kernel_entries`): the kernel id matches the one pattern the agent accepts, the
    pid is a number, key and relay token are printable ASCII of bounded length, the scheme
    one of :data:`SIGNATURE_SCHEMES`, paths bounded strings. Otherwise RemoteCommandError
    naming the field (never its value: it may be huge or carry control characters)."""
    bad = _first_bad_field(answer, with_id=op == "claim")
    if bad:
        raise RemoteCommandError(
            f"The remote agent on {where} answered {op} with an invalid {bad}; "
            "the kernel was not used.",
            hint="The remote's answer is not what jupyter-remote's agent sends: check the "
            "profile's python on that host (a wrapper printing to stdout, or a changed host).",
        )
    return answer


def _first_bad_field(answer: dict[str, Any], *, with_id: bool) -> str:
    """The name of the first field of a connection answer that is not as the agent sends
    it, or ""."""
    kernel_id = answer.get("kernel_id")
    if with_id and not (isinstance(kernel_id, str) and _KERNEL_ID.fullmatch(kernel_id)):
        return "kernel_id"
    if not _number(answer.get("pid"), 1 << 31, integer=True) or not answer.get("pid"):
        return "pid"
    if not _ascii_text(answer.get("key"), MAX_KEY) or not answer.get("key"):
        return "key"
    if answer.get("signature_scheme") not in SIGNATURE_SCHEMES:
        return "signature_scheme"
    if not _ascii_text(answer.get("relay_token") or "", MAX_KEY):
        return "relay_token"
    relay, port = answer.get("relay"), answer.get("relay_port")
    if relay is not None and not (_text(relay, MAX_PATH) and relay):
        return "relay"
    if port is not None and not _number(port, 1 << 16, integer=True):
        return "relay_port"
    channels = answer.get("channels")
    if not isinstance(channels, dict) or any(
        not _text(channels.get(name), MAX_PATH) for name in CHANNELS
    ):
        return "channels"
    return ""


def _text(value: Any, longest: int) -> bool:
    return isinstance(value, str) and len(value) <= longest and value.isprintable()


def _ascii_text(value: Any, longest: int) -> bool:
    return _text(value, longest) and value.isascii()
