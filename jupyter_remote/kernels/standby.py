"""Standby kernels: one pre-warmed kernel per profile that asks for it (``standby``).

A standby is an ordinary remote kernel of ours (``launch_request.py``: the same request
the provisioner sends, with the profile's interpreter, cwd, env and idle timeout; same
private socket directory, same relay) marked as the profile's standby on the remote
(``remote/standby.py``). It is no session here: nothing counts or shows it as the user's
until a start of the profile takes it (the provisioner calls :meth:`Standbys.take`: in
the process that launched it, a CLAIM through the standby's own relay, no remote exec;
else one agent exec whose answer is the kernel's connection, as for re-attaching:
``standby_take.py``; the answer is checked before use). Inside the Jupyter server one is
started in the background when the server starts, after each take, and whenever the
profile is saved with the option on; it is stopped (the agent's ``discard``: only while
it still is a standby, never a kernel a start has just taken) when the profile is
removed, the option is switched off, its server is removed and the Jupyter server stops
(``app.py``). The remote idle timeout stops it like any kernel, and it is then not
replaced until the profile is used or saved again. While it keeps a standby of a server,
the keeper holds that server's SSH connection open, so a take needs no handshake.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import uuid
import weakref
from collections.abc import AsyncIterator
from typing import Any, ClassVar

from ..context import RemoteContext
from ..errors import RemoteError
from ..store import Profile
from ..text import printable
from .agent_client import MAX_ERROR_TEXT, AgentClient, error_hint
from .launch_request import fingerprint, launch_request
from .standby_take import Launched, launched
from .standby_take import take as take_standby

log = logging.getLogger("jupyter_remote")

#: seconds between a take and the start of its replacement: the taken kernel's first
#: cells do not share the remote's CPU with a kernel starting beside them
REPLACE_AFTER = 2.0
STANDBY_START_TIMEOUT = 60.0
#: seconds between two looks at a standby that has not answered yet (``_watch_start``)
WATCH_EVERY = 1.0


def wanted(profile: Profile) -> bool:
    """A profile keeps a standby: the option is on, and it is no Slurm profile (a
    standby would hold a job, and its allocation, while nobody uses it)."""
    return bool(profile.standby) and profile.slurm is None


class Standbys:
    """The standby kernels of one RemoteContext's profiles (one per process)."""

    _instances: ClassVar[weakref.WeakKeyDictionary[RemoteContext, Standbys]] = (
        weakref.WeakKeyDictionary()
    )

    def __init__(self, ctx: RemoteContext) -> None:
        self.ctx = ctx
        #: inside the Jupyter server (app.py sets it): replacements start in the
        #: background; elsewhere (the CLI) saving a profile waits for its standby
        self.background = False
        self._locks: dict[str, asyncio.Lock] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._kept: dict[str, str] = {}  # profile -> server, of standbys started here
        self._launched: dict[str, Launched | None] = {}  # profile -> its standby launched here
        #: server -> the keeper's lease on its connection, held while a standby of it is
        #: kept here: a take then finds the connection open (no SSH handshake)
        self._held: dict[str, Any] = {}
        self._stopping: set[str] = set()  # profiles whose standbys are being stopped
        self._again: set[str] = set()  # taken while its replacement was still starting
        self._watches: set[asyncio.Task[None]] = set()  # standbys not answered yet

    @classmethod
    def of(cls, ctx: RemoteContext) -> Standbys:
        """The process's Standbys for ``ctx`` (created on first use)."""
        found = cls._instances.get(ctx)
        if found is None:
            found = cls._instances[ctx] = cls(ctx)
        return found

    @contextlib.asynccontextmanager
    async def _agent(self, profile: Profile) -> AsyncIterator[AgentClient]:
        endpoint = await self.ctx.endpoint(profile.server)
        async with self.ctx.pool.connection(endpoint) as conn:
            yield AgentClient(conn, python=profile.python)

    async def _standbys_of(
        self, agent: AgentClient, profile: str, server: str
    ) -> list[dict[str, Any]]:
        kernels = await agent.list(report=False)
        return [
            k
            for k in kernels
            if k.get("standby") and k.get("profile") == profile and k.get("server") == server
        ]

    # ------------------------------------------------------------ keeping one

    async def ensure(self, profile: Profile) -> None:
        """One standby of ``profile`` runs, started as the profile says now (a stale one,
        started before an edit, is stopped first). The launch answers once its relay
        listens; whether its kernel then starts is watched (``_watch_start``): in the
        background inside the Jupyter server, here elsewhere (the CLI)."""
        started = await self._ensure(profile)
        if started is None:
            return
        watch = asyncio.get_running_loop().create_task(self._watch_start(*started))
        self._watches.add(watch)
        watch.add_done_callback(self._watches.discard)
        if not self.background:
            await watch

    async def _ensure(self, profile: Profile) -> tuple[Profile, str] | None:
        """:meth:`ensure` under the profile's lock: the profile and the id of the standby
        it launched (None: one runs already, or none is wanted)."""
        lock = self._locks.setdefault(profile.name, asyncio.Lock())
        async with lock:
            current = await self._current(profile)  # as saved now, not as captured
            if current is None:
                return None
            profile = current
            server = await asyncio.to_thread(self.ctx.store.get_ssh_server, profile.server)
            wanted_print = fingerprint(profile)
            async with self._agent(profile) as agent:
                found = await self._standbys_of(agent, profile.name, profile.server)
                fresh = [k for k in found if k.get("fingerprint") == wanted_print]
                self._forget_gone(profile.name, fresh[:1])
                for stale in found:
                    if stale not in fresh[:1]:
                        await discard(agent, str(stale["kernel_id"]))
                if profile.name in self._stopping:
                    return None
                self._kept[profile.name] = profile.server  # stopped at the server's exit
                await self._hold(profile.server)
                if fresh:
                    return None
                transport = server.channel_transport
                request = launch_request(
                    profile,
                    kernel_id=str(uuid.uuid4()),
                    key=str(uuid.uuid4()),
                    scheme="hmac-sha256",
                    cwd=profile.cwd,
                    transport=transport,
                    relay=True,
                    relay_token=secrets.token_urlsafe(24) if transport == "tcp" else "",
                    startup_timeout=STANDBY_START_TIMEOUT,
                )
                request["standby"] = wanted_print
                answer = await agent.launch(request, timeout=STANDBY_START_TIMEOUT + 30)
                self._launched[profile.name] = launched(request, answer, transport)
                log.info("standby kernel of %s started: pid %s", profile.name, answer.get("pid"))
                return profile, str(request["kernel_id"])

    async def _watch_start(self, profile: Profile, kernel_id: str) -> None:
        """Until the standby ``kernel_id`` has answered its relay (warm), was taken or
        stopped: a start that fails is logged with why, as a cold start's error says it
        (review s21 F5: the launch answered before the kernel booted, and nobody attaches
        to a standby to hear its relay's error)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + STANDBY_START_TIMEOUT + 30
        while loop.time() < deadline:
            await asyncio.sleep(WATCH_EVERY)
            try:
                async with self._agent(profile) as agent:
                    status = await agent.status(kernel_id)
            except RemoteError as exc:
                log.info("standby kernel of %s not watched: %s", profile.name, exc)
                return
            state = status.get("state")
            if state == "running" and (status.get("answered") or not status.get("standby")):
                return  # warm, or taken by a start (whose own attach waits for it)
            if state in ("missing", "dead"):
                self._forget_gone(profile.name, [], only=kernel_id)
            if state == "missing" or profile.name in self._stopping:
                return  # stopped (the profile changed, or the server stops)
            if state == "dead":
                error = status.get("startup_error") or status.get("reason") or "it ended"
                log.warning(
                    "standby kernel of %s failed its start: %s. %s",
                    profile.name,
                    printable(str(error)[:MAX_ERROR_TEXT]),
                    printable(error_hint(status.get("hint"))),
                )
                return

    def _forget_gone(
        self, profile: str, alive: list[dict[str, Any]], only: str | None = None
    ) -> None:
        """The standby remembered for ``profile`` (if ``only``: when it is that kernel) is
        forgotten unless it is among ``alive`` (what the agent lists now): one that ended,
        was taken elsewhere or discarded is never CLAIMed; its old socket path or port may
        be anyone's (review s22 F1: the relay's proof is the defence, this the depth)."""
        kept = self._launched.get(profile)
        if kept is None or only not in (None, kept.connection["kernel_id"]):
            return
        if kept.connection["kernel_id"] not in {k.get("kernel_id") for k in alive}:
            self._launched.pop(profile, None)

    async def _hold(self, server: str) -> None:
        """Keep ``server``'s connection open while a standby of it is kept (the pool
        closes a connection with its last lease; a take would open a new one)."""
        held = self._held.get(server)
        if held is not None and not held.lost:
            return
        self._held[server] = await self.ctx.pool.acquire(await self.ctx.endpoint(server))
        if held is not None:
            await held.release()

    async def _let_go(self, server: str) -> None:
        """No standby of ``server`` is kept any more: its connection may close."""
        if server in self._kept.values():
            return
        held = self._held.pop(server, None)
        if held is not None:
            await held.release()

    async def _current(self, profile: Profile) -> Profile | None:
        """``profile`` as the store has it now, if it still wants a standby (a background
        ensure may run after an edit, or after the profile was removed)."""
        try:
            current = await asyncio.to_thread(self.ctx.store.get_profile, profile.name)
        except RemoteError:
            return None
        return current if wanted(current) else None

    def replace_soon(self, profile: Profile, delay: float = REPLACE_AFTER) -> None:
        """In the background (inside the Jupyter server only): :meth:`ensure`, once."""
        if not self.background or not wanted(profile):
            return
        running = self._tasks.get(profile.name)
        if running is not None and not running.done():
            self._again.add(profile.name)  # it may have been taken already: ensure again
            return

        async def run() -> None:
            await asyncio.sleep(delay)
            while True:
                self._again.discard(profile.name)
                try:
                    await self.ensure(profile)
                except Exception as exc:  # a background start: said in the log, never raised
                    log.warning("standby kernel of %s not started: %s", profile.name, exc)
                if profile.name not in self._again:
                    return

        self._tasks[profile.name] = asyncio.get_running_loop().create_task(run())

    async def start_all(self, delay: float = REPLACE_AFTER) -> None:
        """The Jupyter server, once it serves: a standby for every profile with the option
        (in the background; one a killed server left is found and kept, not doubled)."""
        try:
            profiles = await asyncio.to_thread(self.ctx.store.list_profiles)
        except (OSError, RemoteError) as exc:
            log.warning("standby kernels not started: %s", exc)
            return
        for profile in profiles:
            self.replace_soon(profile, delay=delay)

    async def profile_saved(self, profile: Profile) -> None:
        """After a profile was added or edited: its standby started (or replaced when the
        profile changed), or stopped when the option is off."""
        if not wanted(profile):
            await self.stop(profile.name, profile.server)
            return
        if self.background:
            self.replace_soon(profile, delay=0.0)
            return
        await self.ensure(profile)

    # ------------------------------------------------------------ taking one

    async def take(
        self, profile: Profile, cwd: str | None, agent: AgentClient | None = None
    ) -> dict[str, Any] | None:
        """The provisioner, starting a kernel of ``profile`` in ``cwd``: the standby's
        connection (kernel_id, key, channels, relay: as ``connection`` answers), now
        nobody else's; None when there is none ready (the start is then a cold one).
        ``agent``: on the kernel's own connection (no connection opened for the take)."""
        if not wanted(profile) or (cwd or None) != (profile.cwd or None):
            return None
        request = {
            "op": "claim",
            "profile": profile.name,
            "server": profile.server,
            "fingerprint": fingerprint(profile),
        }
        kept = self._launched.pop(profile.name, None)  # taken now, or not at all
        try:
            if agent is not None:
                return await take_standby(agent, request, kept)
            async with self._agent(profile) as leased:
                return await take_standby(leased, request, kept)
        finally:
            self.replace_soon(profile)

    # ------------------------------------------------------------ stopping

    async def stop(self, profile: str, server: str) -> int:
        """Stop every standby of ``profile`` on ``server``; how many there were. A
        replacement being started is let finish first (cancelled mid-launch, its kernel
        would be left running on the remote), then stopped with the others."""
        self._stopping.add(profile)
        try:
            task = self._tasks.pop(profile, None)
            if task is not None and not task.done():
                with contextlib.suppress(BaseException):
                    await asyncio.wait_for(asyncio.shield(task), STANDBY_START_TIMEOUT + 30)
            self._kept.pop(profile, None)
            self._launched.pop(profile, None)
            endpoint = await self.ctx.endpoint(server)
            async with self.ctx.pool.connection(endpoint) as conn:
                agent = AgentClient(conn)
                found = await self._standbys_of(agent, profile, server)
                for standby in found:
                    await discard(agent, str(standby["kernel_id"]))
        except RemoteError as exc:
            log.warning("standby kernel of %s not stopped: %s", profile, exc)
            return 0
        finally:
            self._stopping.discard(profile)
            await self._let_go(server)
        return len(found)

    async def stop_all(self) -> None:
        """At the Jupyter server's exit: the standbys it started go."""
        for watch in list(self._watches):
            watch.cancel()
        for profile, server in list(self._kept.items()):
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.stop(profile, server), 20)
        for server in list(self._held):
            await self._let_go(server)

    # ------------------------------------------------------------ showing one

    async def status(self, profile: Profile) -> dict[str, Any]:
        """What the card and ``profile standby`` show: whether a standby is kept, and
        the one running (its pid, when it started, its memory on the remote)."""
        out: dict[str, Any] = {"profile": profile.name, "enabled": wanted(profile)}
        async with self._agent(profile) as agent:
            found = await self._standbys_of(agent, profile.name, profile.server)
        self._forget_gone(profile.name, found)
        task = self._tasks.get(profile.name)
        starting = task is not None and not task.done()
        if not found:
            out.update(state="starting" if starting else "none", kernel_id=None)
            return out
        first = next((k for k in found if k.get("takeable")), found[0])
        out.update(
            # ready: a start takes it now; starting: its relay is not listening yet
            state="ready" if first.get("takeable") else "starting",
            # warm: its kernel has answered its relay too (a take runs a cell at once)
            warm=first.get("answered") is True,
            kernel_id=first.get("kernel_id"),
            pid=first.get("pid"),
            started=first.get("started"),
            rss=first.get("rss") or 0,
            current=first.get("fingerprint") == fingerprint(profile),
        )
        return out


async def discard(agent: AgentClient, kernel_id: str) -> bool:
    """Stop a standby only while it still is one (the agent's ``discard``): a kernel a
    start has just taken runs on. Whether it was stopped."""
    request = {"op": "discard", "kernel_id": kernel_id, "timeout": 1.0}
    answer = await agent.call(request, timeout=31)
    return answer.get("stopped") is True


async def profile_saved(ctx: RemoteContext, name: str, old: Profile | None) -> None:
    """kernels/profiles.py after a profile was added or edited (``old``: as it was before):
    its standby follows (started, replaced, moved with its server, or stopped)."""
    keeper = Standbys.of(ctx)
    profile = await asyncio.to_thread(ctx.store.get_profile, name)
    try:
        if old is not None and wanted(old) and old.server != profile.server:
            await keeper.stop(old.name, old.server)
        if wanted(profile) or (old is not None and wanted(old)):
            await keeper.profile_saved(profile)
    except RemoteError as exc:  # the profile is saved; a kernel start may take it later
        log.warning("standby kernel of %s: %s", name, exc)


async def profile_removed(ctx: RemoteContext, old: Profile) -> None:
    """RemoteManager after a profile was removed: its standby goes."""
    if wanted(old) or old.name in Standbys.of(ctx)._kept:
        await Standbys.of(ctx).stop(old.name, old.server)
