"""Local ZMQ endpoints of a kernel that runs on a remote Jupyter server, fed by its websocket.

The Jupyter server's clients (and papermill, nbclient, ``jupyter console``) connect to
these sockets on fixed loopback ports as to any local kernel: ROUTER for shell, control
and stdin, PUB for iopub, an echo for the heartbeat. What they send is checked against
the LOCAL session key (HMAC, as a kernel would: another local user can reach 127.0.0.1),
then travels on the remote server's kernel websocket with its header untouched, so msg_id
and parent continuity hold and the remote server signs it with the remote kernel's key.
What comes back is re-signed with the local key and routed to the client that sent the
request (by the parent's msg_id), or published on iopub.

Created and driven by :class:`jupyter_remote.sessions.jupyter.JupyterKernelSession`:
:meth:`attach` after each (re)connect of the websocket, :meth:`detach` when it drops
(local sockets stay; requests sent meanwhile wait and go when the link is back),
:meth:`close` at the end. A client's ``shutdown_request`` is not passed on (the remote
server's restarter would bring the kernel back): the session shuts down or restarts the
kernel through the REST API and answers it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from typing import Any

from jupyter_client.session import Session

from ..jupyter import V1, ProtocolError, decode_legacy, decode_v1, encode_legacy, encode_v1
from ..jupyter.wsproto import header_of
from .local_channels import DELIM, REQUEST_CHANNELS, LocalChannels, verified

log = logging.getLogger(__name__)

MAX_ROUTES = 20000  # requests whose replies we still route (oldest forgotten first)
MAX_WAITING = 10000  # requests kept while the link is down
ShutdownHandler = Callable[[bool], Awaitable[None]]


class BridgedChannels(LocalChannels):
    """Shell/control/stdin/iopub/hb of one remote Jupyter kernel on local ports."""

    def __init__(
        self,
        ports: dict[str, int],
        *,
        key: bytes,
        signature_scheme: str,
        on_shutdown_request: ShutdownHandler,
    ) -> None:
        super().__init__(ports)
        self.session = Session(
            key=key, signature_scheme=signature_scheme, username="jupyter-remote"
        )
        self._on_shutdown_request = on_shutdown_request
        self._ws: Any = None
        self._binary = True  # v1 protocol; False: legacy JSON
        self._reader: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[None]] = set()
        self._routes: OrderedDict[str, list[bytes]] = OrderedDict()
        self._waiting: deque[tuple[str, list[bytes]]] = deque()
        #: execute/other shell requests sent and not answered yet: msg_id -> (sent, busy seen)
        self.inflight: dict[str, tuple[float, bool]] = {}
        self.execution_state = "unknown"
        self.received = 0  # messages from the remote (replays included)
        self.closed = asyncio.Event()  # set when an attached websocket ends

    @property
    def attached(self) -> bool:
        return self._ws is not None

    # ------------------------------------------------------------ link

    def attach(self, ws: Any) -> None:
        """Use this websocket from now on; send what waited while the link was down."""
        self.detach()
        self._ws = ws
        self._binary = ws.selected_subprotocol == V1
        self.closed = asyncio.Event()
        while self._waiting:
            channel, parts = self._waiting.popleft()
            self._send_remote(channel, parts)
        self._reader = asyncio.ensure_future(self._from_remote(ws))

    def detach(self) -> None:
        """The websocket is gone (or replaced): local sockets stay, requests now wait."""
        ws, self._ws = self._ws, None
        if self._reader is not None and self._reader is not asyncio.current_task():
            self._reader.cancel()
        self._reader = None
        if ws is not None:
            with contextlib.suppress(Exception):
                ws.close()

    # ------------------------------------------------------------ local -> remote

    def _verified(self, frames: list[bytes]) -> tuple[list[bytes], list[bytes]] | None:
        """(identities, parts) of a signed local message, None if not (``verified``)."""
        return verified(self.session, frames)

    def from_client(self, name: str, frames: list[Any]) -> None:
        """A message a local client sent, as the event loop reads it: a heartbeat ping is
        echoed while the websocket is up (unanswered while it is down); a request is
        checked and sent on (or kept for the next link)."""
        if name == "hb":
            if self._ws is not None:
                self.send_local("hb", frames)
        else:
            self._from_local(name, frames)

    def _from_local(self, channel: str, frames: list[bytes]) -> None:
        found = self._verified(frames)
        if found is None:
            log.warning("dropped a message with a bad signature on local %s port", channel)
            return
        idents, parts = found
        header = header_of(parts)
        msg_id = str(header.get("msg_id", ""))
        if channel != "stdin" and msg_id:
            self._remember(msg_id, idents)
        if channel == "control" and header.get("msg_type") == "shutdown_request":
            content = header_of(parts, 3)  # {} unless a JSON object
            task = asyncio.ensure_future(
                self._shutdown(bool(content.get("restart")), header, idents)
            )
            self._background.add(task)
            task.add_done_callback(self._background.discard)
            return
        if channel == "shell" and msg_id:
            self.inflight[msg_id] = (time.monotonic(), False)
        self._send_remote(channel, parts)

    def _remember(self, msg_id: str, idents: list[bytes]) -> None:
        self._routes[msg_id] = idents
        while len(self._routes) > MAX_ROUTES:
            self._routes.popitem(last=False)

    def _send_remote(self, channel: str, parts: list[bytes]) -> None:
        ws = self._ws
        if ws is None:
            self._waiting.append((channel, parts))
            while len(self._waiting) > MAX_WAITING:
                self._waiting.popleft()
            return
        frame = encode_v1(channel, parts) if self._binary else encode_legacy(channel, parts)
        try:
            ws.write_message(frame, binary=isinstance(frame, bytes))
        except Exception:  # closed under us: keep it for the next link
            self._waiting.appendleft((channel, parts))

    async def _shutdown(self, restart: bool, header: dict[str, Any], idents: list[bytes]) -> None:
        try:
            await self._on_shutdown_request(restart)
            status = "ok"
        except Exception as exc:
            log.warning("shutdown through the remote server failed: %s", exc)
            status = "error"
        await self.reply(
            "control", idents, "shutdown_reply", {"status": status, "restart": restart}, header
        )

    # ------------------------------------------------------------ remote -> local

    async def _from_remote(self, ws: Any) -> None:
        try:
            while True:
                frame = await ws.read_message()
                if frame is None:
                    break
                try:
                    channel, parts = (
                        decode_v1(frame)
                        if self._binary and isinstance(frame, bytes)
                        else decode_legacy(frame)
                    )
                except (ProtocolError, UnicodeDecodeError) as exc:
                    log.warning("the remote server sent a malformed frame: %s", exc)
                    continue
                self.received += 1
                await self._deliver(channel, parts)
        except Exception as exc:
            log.debug("kernel websocket ended: %r", exc)
        finally:
            if self._ws is ws:
                self._ws = None
            self.closed.set()

    async def _deliver(self, channel: str, parts: list[bytes]) -> None:
        header = header_of(parts)
        parent = str(header_of(parts, 1).get("msg_id", ""))
        msg_type = str(header.get("msg_type", ""))
        self._track(channel, msg_type, parent, parts)
        signed = [DELIM, self.session.sign(parts[:4]), *parts]
        if channel == "iopub":
            self.publish([f"kernel.{msg_type}".encode(), *signed])
            return
        if channel not in REQUEST_CHANNELS:
            return
        idents = self._routes.get(parent)
        if idents is None:
            log.debug("no local client for a %s on %s (parent %s)", msg_type, channel, parent)
            return
        if channel in ("shell", "control") and msg_type.endswith("_reply"):
            self._routes.pop(parent, None)
        self.send_local(channel, [*idents, *signed])

    def _track(self, channel: str, msg_type: str, parent: str, parts: list[bytes]) -> None:
        """Keep what the session needs to say honestly what a dropped link cost."""
        if channel == "iopub" and msg_type == "status":
            content = header_of(parts, 3)  # {} unless a JSON object: a kernel may send any
            if "execution_state" in content:
                self.execution_state = str(content["execution_state"])
            if parent in self.inflight and self.execution_state == "busy":
                self.inflight[parent] = (self.inflight[parent][0], True)
        elif channel == "shell" and msg_type.endswith("_reply"):
            self.inflight.pop(parent, None)

    # ------------------------------------------------------------ our own messages

    async def reply(
        self,
        channel: str,
        idents: list[bytes],
        msg_type: str,
        content: dict[str, Any],
        parent: dict[str, Any],
    ) -> None:
        """A reply of our own (signed with the local key) to one local client."""
        msg = self.session.msg(msg_type, content, parent=parent)
        self.send_local(channel, self.session.serialize(msg, ident=idents))

    async def notice(self, text: str, parent_msg_id: str = "") -> None:
        """A stderr line in the notebook (under the cell of ``parent_msg_id`` if given)."""
        parent = {"msg_id": parent_msg_id, "msg_type": "execute_request"} if parent_msg_id else {}
        msg = self.session.msg("stream", {"name": "stderr", "text": text}, parent=parent)
        self.publish(self.session.serialize(msg, ident=[b"stream"]))

    async def give_up_on(self, msg_id: str, text: str) -> None:
        """Answer a request whose reply the link lost, so its cell does not wait forever:
        the notebook shows ``text`` as the cell's error, and the kernel is idle."""
        self.inflight.pop(msg_id, None)
        idents = self._routes.pop(msg_id, None)
        parent = {"msg_id": msg_id, "msg_type": "execute_request"}
        error = {"ename": "ConnectionLost", "evalue": text, "traceback": [text]}
        err = self.session.msg("error", error, parent=parent)
        self.publish(self.session.serialize(err, ident=[b"error"]))
        if idents is not None:
            content = {"status": "error", "execution_count": None, **error}
            await self.reply("shell", idents, "execute_reply", content, parent)
        idle = self.session.msg("status", {"execution_state": "idle"}, parent=parent)
        self.publish(self.session.serialize(idle, ident=[b"status"]))
