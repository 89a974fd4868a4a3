"""How a relay's start ends: runs ON the remote, part of the agent script.

Mixed into ``Relay`` (``relay.py``, the next part). The relay listens before its kernel
has answered, so the launch answers at once and the local side attaches (channel open,
HELLO) while the kernel boots. Its HELLO answer waits for the start's outcome
(``_settled_hello``): the kernel answered the relay's nudge (the usual answer goes out),
or the start failed: the kernel exited first, or did not answer within startup_timeout
(``run`` sets ``nudge_failed``); the supervisor stops it and calls ``fail_start`` with
the same error and log tail the agent used to answer. Then every HELLO is answered
``{"error", "hint"}`` until a client has been told, the kernel is being stopped, or
FAIL_GRACE s have passed; then the relay closes its listeners and every connection,
removes relay.json and leaves relay.none with the reason (a standby take skips it).
Stdlib, Python >= 3.8.
"""

import json
import os
import threading
import time
from typing import Any, Dict, Optional

# <local-imports> removed when the script is sent: the parts before it define these
from jupyter_remote.remote.protocol import (
    _LEN,
    HELLO,
    INFO,
    decode_body,
    encode_record,
    json_part,
    with_proof,
)

# </local-imports>

#: how long a failed start is still told to local sides that attach (then: closed)
FAIL_GRACE = 10.0


def query_relay(path, timeout=10.0):
    """The relay's INFO answer (blocking; the agent's ``connection`` op calls this)."""
    import socket

    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(path)
        s.sendall(encode_record(INFO, 0, 0, [b"{}"]))
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    if len(data) < 4:
        raise ValueError("the relay closed without answering")
    kind, _, _, parts = decode_body(data[4 : 4 + _LEN.unpack(data[:4])[0]])
    if kind != INFO:
        raise ValueError("unexpected relay answer")
    return json.loads(bytes(parts[0]).decode("utf-8"))


class StartSide:
    """A relay's start-up outcome (a mixin: ``Relay`` calls ``_init_start`` first)."""

    # Relay's state, set in Relay.__init__, that this side reads
    kdir: str
    key: bytes
    epoch: str
    client: Optional[Any]
    ready: threading.Event
    socks: Dict[str, Any]
    hb: Any

    def _init_start(self):
        """Relay.__init__: nothing settled, nothing listening yet."""
        self.servers = []  # the listeners, closed when the start failed
        self.conns = set()  # every accepted connection's writer (closed then too)
        self.start_error = None  # {"error", "hint"} once the start failed
        self.nudge_failed = ""  # why the relay gave up on the kernel (then ready is set)
        self.kernel_gone = False  # the supervisor saw the kernel exit before it answered
        self.started_ok = False  # the relay committed to success (HELLOs told "started")
        # one verdict per start: the supervisor's "gone" and the relay's "started" exclude
        # each other (review s21 F1: a kernel exiting as it answered was both)
        self._verdict = threading.Lock()
        self.told = False  # a local side got the start's failure
        self.closed = threading.Event()  # a failed start: everything closed
        self._loop = None  # type: Any
        self._settled = None  # type: Any  # asyncio.Event, made in _start_loop

    def _start_loop(self):
        """Relay.run, first: the loop and its event (Python 3.8 binds it to a loop)."""
        import asyncio

        self._loop = asyncio.get_event_loop()
        self._settled = asyncio.Event()

    def _commit_start(self):
        """Relay.run once the kernel answered and was served: True when the start is the
        relay's to call a success (the supervisor has not seen the kernel exit first)."""
        with self._verdict:
            if self.kernel_gone or self.start_error is not None:
                return False
            self.started_ok = True
            return True

    def kernel_exited(self):
        """The supervisor, when the kernel process exited before ``ready``: False (the
        start failed; the relay's nudge stops) unless the relay had already committed to
        success (True: HELLOs were told "started"; the kernel's end is an ordinary end)."""
        with self._verdict:
            if self.started_ok:
                return True
            self.kernel_gone = True
            return False

    def _start_succeeded(self):
        """Relay.run once the kernel answered: waiting HELLOs get their answer."""
        self._settled.set()

    def fail_start(self, error, hint):
        """The supervisor (its own thread): the start failed, the kernel is being stopped.
        False (nothing done) when the relay had already committed to success."""
        with self._verdict:
            if self.started_ok:
                return False
            self.start_error = {"error": error, "hint": hint}
        _write_none(self.kdir, error)  # before anything else: a standby take skips it now
        loop = self._loop
        try:
            loop.call_soon_threadsafe(self._settled.set)
        except (AttributeError, RuntimeError):  # the relay's loop never ran, or is over
            self.closed.set()
        return True

    async def _settled_hello(self, writer, hello=None):
        """Relay._accept, after a HELLO: wait for the start's outcome. False (the
        connection then closes) when the start failed, once the failure is written (with
        the proof that it comes from the kernel's relay, as every HELLO answer)."""
        await self._settled.wait()
        if self.start_error is None:
            return True
        answer = dict(self.start_error, epoch=self.epoch)
        answer = with_proof(answer, self.key, "hello", self.epoch, hello)
        writer.write(encode_record(HELLO, 0, 0, [json_part(answer)]))
        await writer.drain()
        self.told = True
        return False

    async def _after_failure(self):
        """Relay.run when the nudge gave up or the kernel is gone: the supervisor stops it
        and says why (``fail_start``); tell local sides for a while, then close."""
        import asyncio

        self.ready.set()  # the supervisor's wait (supervisor_start._kernel_started) ends
        await self._settled.wait()
        stopping = os.path.join(self.kdir, "stopping")
        deadline = time.time() + FAIL_GRACE
        # polled: "stopping" comes from another process (the agent's stop), a stat per 50 ms
        while not self.told and time.time() < deadline and not os.path.exists(stopping):  # noqa: ASYNC110, ASYNC240
            await asyncio.sleep(0.05)
        self._close_all()
        self.closed.set()

    def _close_all(self):
        """No listener, no connection, no relay.json: the local side sees EOF or a refusal."""
        for server in self.servers:
            server.close()
        for writer in list(self.conns):
            try:
                writer.transport.abort()
            except Exception:  # closed already
                pass
        try:
            os.unlink(os.path.join(self.kdir, "relay.json"))
        except OSError:
            pass
        # the connections on the kernel's channels too (no more connects)
        for sock in list(self.socks.values()) + [getattr(self, "hb", None)]:
            if sock is not None:
                sock.close()


def _write_json(kdir, name, obj):
    """A 0600 file of the kernel directory, atomically (op_launch waits for it)."""
    path = os.path.join(kdir, name)
    fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(obj, f)
    os.replace(path + ".tmp", path)


def _write_none(kdir, reason):
    """Tell op_launch (waiting for ``relay`` or ``relay.none``) why there is no relay."""
    try:
        with open(os.path.join(kdir, "relay.none"), "w") as f:
            f.write(reason)
    except OSError:
        pass
