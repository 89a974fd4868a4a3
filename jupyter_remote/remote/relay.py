"""jupyter-remote relay: runs ON the remote, in the kernel's supervisor (supervisor.py).

Why: a Jupyter client talks to a kernel over ZMQ, and ZMQ drops what a kernel
publishes while no subscriber is connected, and replies meant for a peer that
is gone. Over a tunnel that comes and goes, output would be lost. The relay sits
beside the kernel, is its one permanent client, and numbers every message the
kernel sends (iopub, shell, control, stdin). It keeps them until the local side
acknowledges them, bounded in bytes; on reconnect the local side says the last
number it has, and the relay resends from there. Requests from the local side are
numbered too, so a request resent after a reconnect reaches the kernel once.
Heartbeat pings cross the same link, neither numbered nor kept.

Stdlib, Python >= 3.8 (the kernel's sockets are spoken to in ZMTP, ``zmtp.py``: no
pyzmq); part of the agent script. The side facing the kernel is ``relay_kernel.py``,
who gets in (the listeners, the
first record, the TCP token check) ``relay_gate.py`` (the parts before this one).
The wire format is in ``protocol.py`` (the local side, ``kernels/relay_link.py``,
uses the same module).

Where it listens: a unix socket ``relay`` next to the kernel's sockets, in their
private 0700 directory. Only when the server's channel transport is explicitly
"tcp" (an sshd that forbids socket forwarding) also on a TCP port of 127.0.0.1,
where other users of the host can connect: there the first record must be a HELLO
(or a standby's CLAIM) carrying the kernel's relay token (sent by the local side over
SSH, never on disk or a command line), else the connection is closed unanswered
(``relay_gate.py``).
"""

import json
import os
import sys
import threading
import time
import uuid

# <local-imports> removed when the script is sent: the parts before it define these
from jupyter_remote.remote.protocol import (
    ACK,
    GAP,
    HB,
    HELLO,
    MSG,
    RELAYED,
    encode_record,
    json_part,
    record_pieces,
    with_proof,
)
from jupyter_remote.remote.relay_answers import answer_part
from jupyter_remote.remote.relay_buffer import RUN_LEN, BufferSide
from jupyter_remote.remote.relay_gate import GateSide
from jupyter_remote.remote.relay_kernel import KernelSide
from jupyter_remote.remote.relay_start import (
    StartSide,
    _write_none,
    query_relay,  # noqa: F401 (agent)
)
from jupyter_remote.remote.relay_writer import LinkWriter
from jupyter_remote.remote.state import CLAIMED

# </local-imports>

DEFAULT_BUFFER_BYTES = 128 * 1024 * 1024
ACK_INTERVAL = 0.2
#: the send buffer asked for on the client's socket (Linux doubles it, capped by
#: net.core.wmem_max): sshd reads the relay's unix socket 32 KiB at a time, and with the
#: default ~208 KiB a stream's batches mostly waited in asyncio's buffer (one more copy,
#: one more loop turn each); 200 MB of output cost the relay ~300 ms CPU, ~215 with this
LINK_SNDBUF = 2 * 1024 * 1024


class Relay(StartSide, GateSide, KernelSide, BufferSide):
    """The kernel's permanent client; one local side at a time talks to it.

    Its side facing the kernel (sockets, nudge, reading) is ``relay_kernel.KernelSide``,
    how its start ends (HELLOs wait for it; a failed one closes all) ``relay_start``,
    its listeners and who gets in (token check, CLAIM) ``relay_gate.GateSide``, the
    numbered buffer (its bound, eviction, runs of dropped output) ``relay_buffer``;
    here: sending it to the local side, that side's connection, and start-up."""

    def __init__(self, kdir, conn, buffer_bytes=DEFAULT_BUFFER_BYTES, tcp_token=None):
        import asyncio  # only the relay needs it: at the top, every agent exec paid ~25 ms

        self.kdir = kdir
        self.conn = conn
        self.key = (conn.get("key") or "").encode("utf-8")
        self.bound = max(1024 * 1024, int(buffer_bytes or DEFAULT_BUFFER_BYTES))
        self.epoch = uuid.uuid4().hex
        self.path = os.path.join(os.path.dirname(conn["ip"]), "relay")
        self.tcp_token = tcp_token  # None: no TCP listener
        self.tcp_port = None
        self.unproven = []  # TCP connections before the token check, oldest first
        self._init_buffer()  # kernel -> client: the numbered buffer (relay_buffer)
        self.dropped = 0  # messages a client asked for that the bound had dropped
        #: the pump waits for its client's link to take what it was handed: unsent output
        #: is evicted over the bound meanwhile (``BufferSide._evict``, review s27 F2)
        self.stalled_since = 0.0
        self.next_send = 1
        # client -> kernel
        self.twin = None
        self.last_in = 0
        self.acked_in = 0
        self.client = None
        self.generation = 0
        #: a client was handed an entry (or acknowledged one): a new local side starts at
        #: ``seq + 1`` from then on, before it at ``first_seq`` (``_take_client``)
        self.delivered = False
        self.busy = False
        self.shutdown_replied = False  # the kernel answered a shutdown request: it is ending
        self.last_activity = time.time()
        self.ready = threading.Event()  # the kernel answered: the relay relays
        self.listening = threading.Event()  # relay.json written (or failed): launch answers
        self.kernel_up = asyncio.Event()  # replaced in run() (as wake); set with ready
        self.failure = ""
        self.nudges = set()
        self.nudge_until = 0.0
        self.socks = {}  # the relay's connections on the kernel's channels (relay_kernel)
        self.hb = None
        self.wake = asyncio.Event()  # replaced in run(): Python 3.8 binds it to a loop
        self._init_start()

    # ------------------------------------------------------------ lifecycle

    def serve(self, startup_timeout):
        """Thread target in the supervisor: run until the process ends."""
        import asyncio

        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self.run(startup_timeout))
        except Exception as exc:  # the supervisor must go on; the launch sees the reason
            self.failure = "relay failed: %r" % (exc,)
            sys.stderr.write("jupyter-remote: %s\n" % self.failure)
            _write_none(self.kdir, self.failure)
            self.listening.set()
            self.ready.set()

    async def run(self, startup_timeout):
        import asyncio

        self.wake = asyncio.Event()
        self._start_loop()
        self._connect_kernel()
        self.kernel_up = asyncio.Event()
        # listen while the kernel boots: the local side attaches meanwhile (its HELLO is
        # answered once the nudge has proved the iopub subscription, or the start failed)
        await self._listen()
        self.listening.set()
        try:
            await self._nudge(startup_timeout)
        except RuntimeError as exc:  # too slow, or gone: the supervisor stops it, says why
            self.nudge_failed = str(exc)
        if self.nudge_failed or self.kernel_gone:
            await self._after_failure()
            return
        self._scrub_key()
        if not self._commit_start():  # the kernel exited meanwhile: the start failed
            await self._after_failure()
            return
        self._serve_kernel()  # committed: no await from here to ready (one verdict)
        self.kernel_up.set()
        self._start_succeeded()
        self.ready.set()
        await self._acker()

    # ------------------------------------------------------------ kernel -> client

    def _append(self, channel, frames):
        """A message the kernel sent (``KernelSide._from_kernel``): numbered, kept, and
        written at once or by the pump."""
        entry = self._append_message(channel, frames)
        if entry is None or not self._write_at_once(entry):
            self.wake.set()

    async def _pump(self, writer, generation):
        """Write every entry from ``next_send`` on to the current client (its
        ``LinkWriter``)."""
        while self.generation == generation:
            self.wake.clear()
            while self.next_send <= self.seq and self.generation == generation:
                self._flush_at_once()  # a batch reads held goes before what follows
                batch, size = [], 0  # one write per batch: fewer syscalls and SSH packets
                while self.next_send <= self.seq and size < 256 * 1024:
                    entry = self._entry_at(self.next_send)
                    if entry[2] is not None:
                        pieces = record_pieces(MSG, entry[1], entry[0], entry[2])
                        self.next_send += 1
                    elif len(entry) == RUN_LEN:  # a run of output evicted: one GAP
                        pieces = self._run_gap(entry)
                    else:  # a message not kept (_parts_gap): its own GAP
                        pieces = record_pieces(GAP, 0, entry[0], [json_part(entry[4]), entry[3]])
                        self.next_send += 1
                    batch.extend(pieces)  # the frames themselves, not copied (writelines)
                    size += sum(len(piece) for piece in pieces)
                writer.writelines(batch)
                self._handed(writer)
                if writer.get_write_buffer_size() > 4 * 1024 * 1024:
                    self.stalled_since = time.time()
                    await writer.drain()
                    self.stalled_since = 0.0
            if self.generation != generation:
                return
            await self.wake.wait()

    def _run_gap(self, run):
        """``_pump``: the GAP record of a run of evicted output (``relay_buffer``), from
        ``next_send`` (its first seq but after a partial ACK) to its end."""
        start, end = self.next_send, run[0] + run[4]
        nbytes = run[5] if start == run[0] else run[5] * (end - start) // run[4]
        info = {"count": end - start, "bytes": nbytes, "bound": self.bound}
        if run[6] is not None:  # output: counted when a client finds it missing
            self.dropped += end - start
        else:  # statuses alone (a cell's idle, the next one's busy): no output lost
            info["statuses"] = True
        if run[9]:  # dropped unsent while its client read too slowly (review s27 F2)
            info["behind"] = True
        answers = []
        if run[7]:  # replies among them (review s26 R2): the laptop answers their requests
            info["replies"], info["channel"] = min(run[7], end - start), RELAYED[run[1]]
            # each with its own request and routing (review s27 F3), those from start on
            answers = [answer_part(seq, body) for seq, body in run[8] or () if seq >= start]
            info["answers"] = len(answers)
        self.next_send = end
        return record_pieces(GAP, 0, start, [json_part(info), run[3], *answers])

    def _handed(self, writer):
        """``writer`` (a client's) was just handed entries (``_pump``,
        ``_flush_at_once``): delivered, unless its link failed meanwhile."""
        if not self.delivered and not getattr(writer, "closed", False):
            self.delivered = True

    async def _acker(self):
        """Acknowledges the client's requests every ACK_INTERVAL s."""
        import asyncio

        while True:
            await asyncio.sleep(ACK_INTERVAL)
            self._ack()

    def _ack(self):
        """``_acker``: an ACK of the client's requests up to ``last_in``, if not yet sent,
        after a batch a read held (the link's order is the relay's)."""
        client = self.client
        if client is not None and self.acked_in != self.last_in:
            self.acked_in = self.last_in
            self._flush_at_once()
            client.write(encode_record(ACK, 0, self.last_in))

    # ------------------------------------------------------------ the local side

    def _take_client(self, writer, hello):
        """A (re)connecting local side replaces the previous one; answers its HELLO.
        Returns the client's generation; from here on ``self.client`` (a ``LinkWriter``
        over ``writer``'s socket) writes everything to it, ``writer`` only reads. Raises
        (OSError: the connection was reset while its HELLO waited for the start) before
        it changes anything: the previous client, if any, stays (review s25 F5)."""
        if not isinstance(hello, dict):
            raise ValueError("a HELLO must be a JSON object")
        link = LinkWriter(writer)  # os.dup of the socket: EBADF once the transport closed
        self._flush_at_once()  # a batch a read held is its client's (resent from the buffer)
        if self.client is not None:
            self.client.abort()
        self.generation += 1
        if self.generation == 1:  # the first local side: a taken standby is attached now
            try:
                os.unlink(os.path.join(self.kdir, CLAIMED))
            except OSError:
                pass
        _widen_send_buffer(writer)
        self.client = writer = link
        self.stalled_since = 0.0
        if hello.get("twin") != self.twin:  # another local side: its numbering starts anew
            self.twin = hello.get("twin")
            self.last_in = self.acked_in = 0
        last = hello.get("last")
        if hello.get("epoch") != self.epoch or not isinstance(last, int) or last < 0:
            # a new local side: from now on; while no client was handed anything yet (the
            # relay's first, or one whose earlier attach died unserved: review s25 F4) it
            # also gets what the kernel sent from its start on (relayed by _serve_kernel: a
            # message dropped as too long during the start-up nudge is a GAP there, s25)
            start = self.seq + 1 if self.delivered else self.first_seq
        else:
            start = max(last + 1, self.first_seq)
        self._trim(start - 1)
        self.next_send = start
        answer = {"epoch": self.epoch, "start": start, "last_in": self.last_in}
        answer = with_proof(answer, self.key, "hello", self.epoch, hello)  # review s22 F1
        writer.write(encode_record(HELLO, 0, 0, [json_part(answer)]))
        self.wake.set()
        return self.generation

    async def _from_client(self, records, generation):
        await self.kernel_up.wait()  # attached while the kernel boots: nothing before it
        while self.generation == generation:
            record = await records.next()
            if record is None:
                return
            kind, channel, seq, parts = record
            if kind == MSG:
                if seq <= self.last_in:
                    continue  # resent after a reconnect, already delivered
                self.last_in = seq
                await self._to_kernel(RELAYED[channel], parts)
            elif kind == ACK:
                self._trim(seq)
                self.delivered = self.delivered or seq > 0
            elif kind == HB:
                self._send_now("hb", parts)

    def info(self):
        """What re-attaching needs (the kernel's key travels back over SSH only)."""
        return {
            "key": self.key.decode("utf-8"),
            "signature_scheme": self.conn.get("signature_scheme"),
            "epoch": self.epoch,
            "client": self.client is not None,
            "buffered": self._held(),
            "buffered_bytes": self.buf_bytes,
            "dropped": self.dropped,
            "token": self.tcp_token or "",
            "port": self.tcp_port,
        }


def _widen_send_buffer(writer):
    """``_take_client``: LINK_SNDBUF on the client's socket, where the OS allows it
    (else its default stays)."""
    import socket

    sock = writer.get_extra_info("socket")
    try:
        if sock is not None and sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF) < LINK_SNDBUF:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, LINK_SNDBUF)
    except OSError:
        pass


def start_relay(kdir, buffer_bytes, startup_timeout, tcp_token=None):
    """In the supervisor, once the kernel runs: a Relay thread, or None with relay.none.

    ``tcp_token``: also listen on 127.0.0.1 TCP, for clients that present it."""
    try:
        with open(os.path.join(kdir, "connection.json")) as f:
            conn = json.load(f)
    except (OSError, ValueError):
        conn = {}
    reason = "" if conn.get("ip") else "the kernel's connection file is unreadable"
    if reason:
        _write_none(kdir, reason)
        return None
    relay = Relay(kdir, conn, buffer_bytes, tcp_token)
    thread = threading.Thread(target=relay.serve, args=(startup_timeout,), daemon=True)
    thread.start()
    relay.thread = thread  # type: ignore[attr-defined]  # (tests stop its loop, join it)
    return relay
