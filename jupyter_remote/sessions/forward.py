"""Service forwards: a local 127.0.0.1 port to a port on the remote's 127.0.0.1.

TensorBoard, a web app, a debugger port: a :class:`ForwardSession` listens on a
local loopback port and forwards every connection over the server's ONE pooled
SSH connection (invariant 1) to ``127.0.0.1:REMOTE_PORT`` on the remote. It is a
session like a kernel's (``registry.sessions``, same states, same events): when
the connection drops it goes ``reconnecting``, waits for the host to answer on
TCP, reconnects with jittered exponential backoff and listens again on the SAME
local port. Host-key and auth failures are never retried (``disconnected``).

Inside the Jupyter server a forward is reached in a browser so that its pages are
never same-origin with Jupyter (invariant 11; forward_proxy.py, forward_origin.py):

- ``/remote/forward/<id>/<path>`` (the session's ``url``): Jupyter-authenticated,
  serves nothing, redirects to one of
- ``http://jr-<origin_secret>.localhost:<port>/<path>``, the forward's own origin on
  the origin listener, when the browser runs on this machine: the Host header
  (``origin_label``) is the credential;
- ``/remote/sandbox/<id>/<secret>/<path>`` otherwise: the reverse proxy under
  Jupyter. Every answer is sandboxed (``Content-Security-Policy: sandbox`` without
  ``allow-same-origin``), so the page has an opaque origin and no Jupyter cookie; its
  own requests are authenticated by ``secret``.

Both secrets are 128-bit capabilities of this forward that stand for the Jupyter
user who opened it (``owner``). The local port itself is a plain TCP tunnel, like
``ssh -L``: the UI never offers it as a link (a page there shares the browser's
cookies of 127.0.0.1, cookies ignore ports). The CLI ``jupyter remote forward`` opens
a forward in its own process (no proxy there: only the tunnel).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import secrets
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..context import RemoteContext
from ..errors import (
    ConflictError,
    HostKeyError,
    RemoteError,
    SSHAuthError,
    SSHConnectError,
    ValidationError,
)
from ..ssh.forwards import Forwards, free_local_ports, release_local_ports
from ..text import ascii_digits
from .linked import LinkedSession
from .roster import registry, session_fields

log = logging.getLogger(__name__)

KIND = "forward"
PROXY_PREFIX = "remote/forward"
SANDBOX_PREFIX = "remote/sandbox"
ORIGIN_LABEL_PREFIX = "jr-"
#: compared against when no forward has the id, so both misses take as long
_NO_SECRET = secrets.token_urlsafe(16)
_NO_LABEL = f"{ORIGIN_LABEL_PREFIX}{secrets.token_hex(16)}"
_BIND_TRIES = 5


def _port(value: Any, what: str, *, allow_zero: bool) -> int:
    """An int in 1..65535 (0 or None allowed for "pick one" when ``allow_zero``)."""
    if value is None and allow_zero:
        return 0
    if isinstance(value, str) and ascii_digits(value.strip()) and len(value.strip()) <= 5:
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"{what} must be a port number (1-65535).", field=what)
    if value == 0 and allow_zero:
        return 0
    if not 1 <= value <= 65535:
        raise ValidationError(f"{what} must be between 1 and 65535, not {value}.", field=what)
    return value


def validate_ports(remote_port: Any, local_port: Any = None) -> tuple[int, int]:
    """(remote_port, local_port) checked; local_port 0 means "pick a free one"."""
    return (
        _port(remote_port, "remote_port", allow_zero=False),
        _port(local_port, "local_port", allow_zero=True),
    )


def proxy_path(session_id: str) -> str:
    """The entry route of a forward (Jupyter auth, redirects to the sandbox route),
    relative to the Jupyter server's base_url."""
    return f"/{PROXY_PREFIX}/{session_id}/"


def sandbox_prefix(session_id: str, secret: str) -> str:
    """The sandbox route of a forward without the trailing slash, relative to base_url.
    It holds the capability: never log it, never put it in a REST answer."""
    return f"/{SANDBOX_PREFIX}/{session_id}/{secret}"


@dataclass
class ForwardSession(LinkedSession):
    """One forwarded service port: lease, listener, state machine (see LinkedSession)."""

    remote_port: int
    local_port: int = 0
    id: str = field(default_factory=lambda: f"fwd-{secrets.token_hex(6)}")
    forwards: Forwards = field(default_factory=Forwards)
    #: capability of the sandbox route (128 bits); never in to_json, repr or logs
    secret: str = field(default_factory=lambda: secrets.token_urlsafe(16), repr=False)
    #: capability of the forward's own origin, the DNS label ``jr-<it>`` (128 bits,
    #: lowercase hex: host names are case-insensitive); never in to_json, repr or logs
    origin_secret: str = field(default_factory=lambda: secrets.token_hex(16), repr=False)
    #: the Jupyter user who opened the forward: a request with the capability acts as it
    owner: Any = field(default=None, repr=False, compare=False)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _version: int = 0

    #: someone took our local port while the link was down: retrying cannot help
    final_errors: ClassVar[tuple[type[RemoteError], ...]] = (
        HostKeyError,
        SSHAuthError,
        ConflictError,
    )

    # ------------------------------------------------------------ view

    @property
    def url(self) -> str:
        return proxy_path(self.id)

    @property
    def sandbox_prefix(self) -> str:
        """Base-relative prefix of the sandbox route (holds the secret)."""
        return sandbox_prefix(self.id, self.secret)

    @property
    def origin_label(self) -> str:
        """The DNS label of the forward's own origin, ``jr-<origin_secret>``."""
        return f"{ORIGIN_LABEL_PREFIX}{self.origin_secret}"

    def to_json(self) -> dict[str, Any]:
        return {
            **session_fields(self, id=self.id, kind=KIND),
            "remote_port": self.remote_port,
            "local_port": self.local_port,
            "url": self.url,
        }

    def _set(self, state: str, reason: str = "") -> None:
        who = f"forward {self.id} ({self.server}:{self.remote_port} -> 127.0.0.1:{self.local_port})"
        if registry.set_state(self, log, who, state, reason):
            self._version += 1
            self._changed.set()

    @property
    def version(self) -> int:
        """Counts state changes; pass it to :meth:`wait_changed`."""
        return self._version

    async def wait_changed(self, seen: int) -> int:
        """Until the state changed after ``version`` was ``seen`` (the CLI follows it so)."""
        while self._version == seen:
            self._changed.clear()
            await self._changed.wait()
        return self._version

    # ------------------------------------------------------------ open / stop

    async def open(self) -> ForwardSession:
        """Connect and listen; errors propagate (nothing stays open or registered)."""
        self.remote_port, self.local_port = validate_ports(self.remote_port, self.local_port)
        self.endpoint = await self.manager.endpoint(self.server)  # 400/404 before anything
        sessions = registry.sessions
        sessions[self.id] = self
        registry.emit({"type": "session", "session": self.to_json()})
        try:
            self.lease = await self.manager.pool.acquire(self.endpoint)
            await self._listen(pick=self.local_port == 0)
        except BaseException as exc:
            if self.lease is not None:
                with contextlib.suppress(Exception):
                    await self.lease.release()
                self.lease = None
            sessions.pop(self.id, None)
            message = exc.message if isinstance(exc, RemoteError) else "cancelled"
            self._closing = True
            self._set("stopped", message)
            raise
        self._set("running")
        self._watch_in_background()
        return self

    async def _listen(self, *, pick: bool = False) -> None:
        """Listen on local_port (a fresh free one first when ``pick``), over the lease."""
        assert self.lease is not None
        for attempt in range(_BIND_TRIES if pick else 1):
            if pick:
                self.local_port = free_local_ports(1)[0]
            try:
                await self.forwards.open(self.lease.conn, {self.local_port: self.remote_port})
                return
            except SSHConnectError as exc:  # Forwards.open: only a local listen failure
                if pick and attempt + 1 < _BIND_TRIES:
                    continue
                raise ConflictError(
                    f"Cannot listen on 127.0.0.1:{self.local_port}: {exc.message}",
                    hint="Another program uses that port; pick another --local-port "
                    "(or leave it out to get a free one).",
                    local_port=self.local_port,
                ) from None

    async def stop(self) -> None:
        """Close the listener, drop its connections and release the lease."""
        if self._closing and self.state == "stopped":
            return
        await self._stop_watching()
        self.forwards.close()
        release_local_ports([self.local_port])
        await self._drop_lease()
        self._set("stopped")
        registry.sessions.pop(self.id, None)

    close = stop

    # ------------------------------------------------------------ reconnect

    async def _on_link_lost(self) -> None:
        self.forwards.close()

    async def _on_reconnected(self) -> None:
        await self._listen()


# ---------------------------------------------------------------- helpers for callers


async def open_forward(
    manager: RemoteContext,
    server: Any,
    remote_port: Any,
    local_port: Any = None,
    *,
    owner: Any = None,
) -> ForwardSession:
    """Validate, connect and listen; the session is registered once it runs.

    Called by ForwardsHandler.post with ``owner`` = the Jupyter user asking.
    """
    if not isinstance(server, str) or not server:
        raise ValidationError("server must be the name of a saved server.", field="server")
    remote, local = validate_ports(remote_port, local_port)
    session = ForwardSession(manager, server, remote, local, owner=owner)
    return await session.open()


def forward_sessions(manager: RemoteContext | None = None) -> list[ForwardSession]:
    """The forwards of this process (of ``manager`` only, when given)."""
    return [
        s
        for s in list(registry.sessions.values())
        if isinstance(s, ForwardSession) and (manager is None or s.manager is manager)
    ]


def get_forward(session_id: str) -> ForwardSession | None:
    session = registry.sessions.get(session_id)
    return session if isinstance(session, ForwardSession) else None


def forward_by_capability(session_id: str, secret: str) -> ForwardSession | None:
    """The forward whose id AND secret match (constant-time compare), else None.

    Called by the sandbox route's handlers on every request; a forward without an
    owner (none opened it through the REST API) has no usable capability.
    """
    session = get_forward(session_id)
    expected = session.secret if session is not None else _NO_SECRET
    matches = hmac.compare_digest(secret.encode(), expected.encode())
    if session is None or not matches or session.owner is None:
        return None
    return session


def forward_by_origin(label: str) -> ForwardSession | None:
    """The forward whose origin label is ``label`` (``jr-<origin_secret>``), else None.

    Called by the origin listener on every request with the first label of its Host.
    Every forward's label is compared, in constant time each, so the time taken does
    not depend on how much of a guess matches; a forward without an owner has no
    usable capability.
    """
    wanted = label.encode()
    found: ForwardSession | None = None
    for session in forward_sessions():
        if hmac.compare_digest(wanted, session.origin_label.encode()):
            found = session
    hmac.compare_digest(wanted, _NO_LABEL.encode())
    if found is None or found.owner is None:
        return None
    return found


async def stop_all(manager: RemoteContext | None = None) -> None:
    """Stop every forward (of ``manager``): server shutdown, CLI exit."""
    for session in forward_sessions(manager):
        with contextlib.suppress(Exception):
            await session.stop()
