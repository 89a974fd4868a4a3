"""Python environments (and other kernelspecs) on a saved server, probed once and cached.

Callers: the REST handler ``GET /remote/servers/{name}/environments`` and the
CLI ``jupyter remote env list``, both through ``Discovery.of(manager)`` so one
process keeps one in-memory cache per RemoteContext.

A probe is ONE exec on the server's pooled SSH connection: the fixed command
line ``remote.command_on_path()`` runs ``remote/probe.py``, which arrives on
stdin with its JSON request (cwds, time budget); see that script for the
request and answer formats. Results are cached per server in memory and on
disk (``<store root>/cache/envs-<server>.json``, i.e.
``jupyter_data_dir()/remote/cache/``, 0600 in a 0700 directory) so each new
CLI process benefits too. A cached result is reused while the server's
endpoint is unchanged and it covered the requested cwds; ``refresh=True``
probes again. There is no expiry: environments change when the user changes
them, and the user asks for a refresh then.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
import weakref
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, ClassVar

from ..context import RemoteContext
from ..errors import RemoteCommandError, ValidationError
from ..remote import command_on_path, script_text, stdin_payload
from ..remote.protocol import ENV_KINDS, PROBE_RESULT_MARKER
from ..ssh import Endpoint
from ..ssh.exec import PROBE_OUTPUT, ExecResult, run
from ..store import validate_remote_path
from ..store.files import private_dir, write_private_json
from ..text import RemoteJSONError, parse_remote_json, printable, printable_tree
from . import gpus, slurm_info

log = logging.getLogger(__name__)

#: Kinds of entries, in display order (``kernelspec``: a non-Python kernel).
KINDS = ENV_KINDS
RESULT_MARKER = PROBE_RESULT_MARKER
CACHE_VERSION = 1
DEFAULT_BUDGET = 20.0
DEFAULT_PER_ENV = 10.0
SSH_SLACK = 20.0  # connect-free margin on top of the probe's own budget
MAX_CWDS = 64
MAX_TEXT = 4096
MAX_ENVS = 2000  # entries kept from one probe answer
EXIT_NO_PYTHON = 127

_PROBE = script_text("probe")


def clean_env(raw: Any) -> dict[str, Any] | None:
    """One probe entry as we hand it on: known fields, right types; None if unusable.

    The remote is the user's, but its answer still goes into our UI, JSON and
    terminals: strings are bounded, control characters escaped (``printable``),
    and ``kind`` must be one we know. Also applied to entries read from the cache.
    """
    if not isinstance(raw, dict) or raw.get("kind") not in KINDS:
        return None
    python = _text(raw.get("python"))
    if not python.startswith("/"):
        return None
    env: dict[str, Any] = {
        "python": python,
        "kind": raw["kind"],
        "name": _text(raw.get("name")) or os.path.basename(python),
        "version": _text(raw.get("version")),
        "ipykernel": raw.get("ipykernel") is True,
        "path": _text(raw.get("path")),
        "source": _text(raw.get("source")),
        "error": _text(raw.get("error")) or None,
    }
    if env["kind"] == "kernelspec":
        env["display_name"] = _text(raw.get("display_name")) or env["name"]
        env["language"] = _text(raw.get("language"))
    return env


def _text(value: Any) -> str:
    """A remote string as we show it: bounded, control characters escaped."""
    return printable(value[:MAX_TEXT]) if isinstance(value, str) else ""


def _tools(raw: Any) -> dict[str, str | None]:
    """Where uv and conda are on the remote (absolute paths), as the probe said."""
    raw = raw if isinstance(raw, dict) else {}
    found = {name: _text(raw.get(name)) for name in ("uv", "conda")}
    return {name: path if path.startswith("/") else None for name, path in found.items()}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def parse_answer(result: ExecResult, server: str) -> dict[str, Any]:
    """The probe's JSON answer from its exec result, or a RemoteCommandError with a fix.

    Called by ``Discovery._probe`` on output ``run`` bounded to PROBE_OUTPUT; the JSON
    goes through ``parse_remote_json`` (too deep, too many values: refused).
    """
    at = result.stdout.rfind(RESULT_MARKER)
    answer: Any = None
    if at >= 0:
        start = at + len(RESULT_MARKER)
        end = result.stdout.find("\n", start)
        line = result.stdout[start : end if end >= 0 else len(result.stdout)]
        try:
            answer = parse_remote_json(line)
        except RemoteJSONError as exc:
            raise RemoteCommandError(
                f"The environment probe on {server!r} gave an unusable answer: {exc}.",
                hint="Something on the remote answers in place of python3 (a wrapper or "
                "a broken interpreter first on the login PATH); "
                "`jupyter remote server test` shows which python3 it finds.",
            ) from None
    if isinstance(answer, dict) and isinstance(answer.get("envs"), list):
        return answer
    detail = result.stderr.strip() or printable(result.stdout[-2000:].strip(), keep_newlines=True)
    detail = detail[-600:]
    if result.exit_status == EXIT_NO_PYTHON:
        raise RemoteCommandError(
            f"There is no python3 or python on the login PATH of {server!r}.",
            hint="Install Python >= 3.8 there, or put it on the PATH in ~/.profile "
            "(or ~/.bashrc), then refresh.",
        )
    raise RemoteCommandError(
        f"The environment probe on {server!r} failed (exit status {result.exit_status}). "
        f"{detail}".strip(),
        hint="The probe needs python3 >= 3.8 on the login PATH of the remote; "
        "`jupyter remote server test` shows which one it finds.",
    )


class Discovery:
    """Environments of saved servers: probe over the pool, cache in memory and on disk."""

    _instances: ClassVar[weakref.WeakKeyDictionary[RemoteContext, Discovery]] = (
        weakref.WeakKeyDictionary()
    )

    def __init__(
        self,
        manager: RemoteContext,
        *,
        budget: float = DEFAULT_BUDGET,
        per_env: float = DEFAULT_PER_ENV,
        cache_dir: Path | None = None,
    ) -> None:
        self.manager = manager
        self.budget = budget
        self.per_env = per_env
        self.cache_dir = cache_dir or Path(manager.store.root) / "cache"
        self._memory: dict[str, dict[str, Any]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    @classmethod
    def of(cls, manager: RemoteContext) -> Discovery:
        """The process's Discovery for ``manager`` (created on first use)."""
        found = cls._instances.get(manager)
        if found is None:
            found = cls._instances[manager] = cls(manager)
        return found

    # ------------------------------------------------------------ public

    async def environments(
        self, server: str, *, refresh: bool = False, cwds: Iterable[str] = ()
    ) -> list[dict[str, Any]]:
        """Entries (python, kind, name, version, ipykernel, path, source, error) of ``server``."""
        return list((await self.lookup(server, refresh=refresh, cwds=cwds))["envs"])

    async def lookup(
        self,
        server: str,
        *,
        refresh: bool = False,
        cwds: Iterable[str] = (),
        on_probe: Callable[[], None] | None = None,
    ) -> dict[str, Any]:
        """The cache entry of ``server`` (probing when needed), plus ``cached: bool``.

        Keys: server, endpoint, cwds, pythons, probed_at (epoch s), elapsed, errors,
        probe, tools (uv, conda: paths or None), gpus (``gpus.parse``: None without
        nvidia-smi), envs, cached. ``cwds`` (remote dirs whose ``.venv`` to look at) are
        added to the cwds of the server's profiles; the interpreters of its profiles are
        always looked at. ``on_probe`` is called before a probe
        really runs (the CLI shows a progress line).
        """
        endpoint = await self.manager.endpoint(server)  # validates the name; 404
        wanted = await self._wanted_cwds(server, cwds)
        pythons = await self._profile_pythons(server)
        asked_at = time.time()
        lock = self._locks.setdefault(server, asyncio.Lock())
        async with lock:
            entry = await self._cached(server, endpoint, wanted, pythons)
            # After waiting for a probe someone else started, its fresh result will do.
            if entry is not None and (not refresh or entry["probed_at"] >= asked_at):
                return {**entry, "cached": entry["probed_at"] < asked_at}
            if on_probe is not None:
                on_probe()
            entry = await self._probe(server, endpoint, wanted, pythons)
        return {**entry, "cached": False}

    async def gpus(self, server: str, *, refresh: bool = False) -> dict[str, Any]:
        """``{"gpus": ..., "probed_at": ...}`` of the last probe of ``server`` (memory, then
        disk; both None when it was never probed), or of a new probe with ``refresh``."""
        await self.manager.endpoint(server)  # validates the name; 404
        if refresh:
            entry: dict[str, Any] | None = await self.lookup(server, refresh=True)
        else:
            entry = self._memory.get(server) or await asyncio.to_thread(self._read_cache, server)
        if entry is None:
            return {"server": server, "gpus": None, "probed_at": None}
        return {"server": server, "gpus": entry.get("gpus"), "probed_at": entry.get("probed_at")}

    async def last_probe(self, server: str) -> dict[str, Any] | None:
        """The last probe's entry of ``server`` (memory, then disk), never a new probe; None
        when it was never probed. ``slurm_memory.partition_of`` reads its Slurm."""
        return self._memory.get(server) or await asyncio.to_thread(self._read_cache, server)

    async def forget(self, server: str) -> None:
        """Drop the cached result of ``server`` (memory and disk)."""
        self._memory.pop(server, None)
        with contextlib.suppress(FileNotFoundError):
            await asyncio.to_thread(os.unlink, self._cache_path(server))

    # ------------------------------------------------------------ probing

    async def _wanted_cwds(self, server: str, cwds: Iterable[str]) -> list[str]:
        given = list(cwds)
        if len(given) > MAX_CWDS:
            raise ValidationError(f"At most {MAX_CWDS} working directories.", field="cwd")
        wanted = {validate_remote_path(c, "cwd", allow_empty=False) for c in given}
        profiles = await asyncio.to_thread(self.manager.store.list_profiles)
        wanted |= {p.cwd for p in profiles if p.server == server and p.cwd}
        return sorted(c for c in wanted if c)

    async def _profile_pythons(self, server: str) -> list[str]:
        profiles = await asyncio.to_thread(self.manager.store.list_profiles)
        return sorted({p.python for p in profiles if p.server == server and p.python})

    async def _probe(
        self, server: str, endpoint: Endpoint, cwds: list[str], pythons: list[str]
    ) -> dict[str, Any]:
        request = {"cwds": cwds, "pythons": pythons, "budget": self.budget, "per_env": self.per_env}
        payload = stdin_payload(_PROBE, request)
        started = time.monotonic()
        async with self.manager.pool.connection(endpoint) as conn:
            result = await run(
                conn,
                command_on_path(),
                stdin=payload,
                timeout=self.budget + SSH_SLACK,
                max_output=PROBE_OUTPUT,
                what="the environment probe's answer",
                where=repr(server),
            )
        answer = parse_answer(result, server)
        envs = [e for e in map(clean_env, answer["envs"]) if e is not None][:MAX_ENVS]
        entry: dict[str, Any] = {
            "version": CACHE_VERSION,
            "server": server,
            "endpoint": endpoint.describe(),
            "cwds": cwds,
            "pythons": pythons,
            "probed_at": time.time(),
            "elapsed": round(time.monotonic() - started, 3),
            "errors": [_text(e) for e in _list(answer.get("errors")) if isinstance(e, str)][:50],
            "probe": printable_tree(answer["probe"])
            if isinstance(answer.get("probe"), dict)
            else {},
            "tools": _tools(answer.get("tools")),
            "gpus": gpus.parse(answer.get("gpus")),
            "slurm": slurm_info.parse(answer.get("slurm")),
            "envs": envs,
        }
        log.info("Probed %s: %d environments in %.1f s", server, len(envs), entry["elapsed"])
        self._memory[server] = entry
        try:
            await asyncio.to_thread(self._write_cache, server, entry)
        except OSError as exc:  # the answer is still good; only the next process re-probes
            log.warning("Cannot write the environments cache of %s: %s", server, exc)
        return entry

    # ------------------------------------------------------------ cache

    def _cache_path(self, server: str) -> Path:
        return self.cache_dir / f"envs-{server}.json"

    async def _cached(
        self, server: str, endpoint: Endpoint, cwds: list[str], pythons: list[str]
    ) -> dict[str, Any] | None:
        entry = self._memory.get(server)
        if entry is None:
            entry = await asyncio.to_thread(self._read_cache, server)
        if entry is None or not self._usable(entry, endpoint, cwds, pythons):
            return None
        self._memory[server] = entry
        return entry

    @staticmethod
    def _usable(
        entry: dict[str, Any], endpoint: Endpoint, cwds: list[str], pythons: list[str]
    ) -> bool:
        return (
            entry.get("version") == CACHE_VERSION
            and entry.get("endpoint") == endpoint.describe()
            and isinstance(entry.get("probed_at"), (int, float))
            and isinstance(entry.get("envs"), list)
            and set(cwds) <= set(entry.get("cwds") or [])
            and set(pythons) <= set(entry.get("pythons") or [])
        )

    def _read_cache(self, server: str) -> dict[str, Any] | None:
        """Worker thread: the disk entry, or None when absent or unreadable."""
        try:
            with open(self._cache_path(server), encoding="utf-8") as f:
                data = json.load(f)
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict):
            return None
        data["envs"] = [e for e in map(clean_env, data.get("envs") or []) if e is not None]
        data["tools"] = _tools(data.get("tools"))
        cached_gpus = data.get("gpus")
        data["gpus"] = printable_tree(cached_gpus) if isinstance(cached_gpus, dict) else None
        if "slurm" in data:  # absent: probed by an older version (RemoteManager probes again)
            slurm = data["slurm"]
            data["slurm"] = printable_tree(slurm) if isinstance(slurm, dict) else None
        return data

    def _write_cache(self, server: str, entry: dict[str, Any]) -> None:
        """Worker thread: atomic write, 0600 from the first byte, in a 0700 directory."""
        private_dir(self.cache_dir)
        write_private_json(self._cache_path(server), entry, indent=1)
