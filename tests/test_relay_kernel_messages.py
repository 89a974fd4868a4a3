"""What a kernel publishes, however odd, never ends the relay nor is lost there.

The relay reads every message a kernel sends (``remote/relay_kernel.py`` ``_drain``,
from its readiness callbacks and from the acker every 0.2 s) and notes a status
message's state; user code in the kernel may publish anything, a status whose content
is a JSON array included. Harness of tests/test_relay.py: a real ipykernel, the relay
in a thread, the local side over a plain unix socket.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from jupyter_remote.remote.supervisor_idle import _idle_step
from tests.test_relay import cell_lines, joined, kernel_factory  # noqa: F401 (the fixture)
from tests.test_zmtp import peak_rss, peak_rss_reset, vm_rss

#: a cell publishing ODD status messages whose content is a JSON array, then printing
ODD = 20
ODD_STATUSES = f"""
import json
k = get_ipython().kernel
for n in range({ODD}):  # content as JSON text: Session.send packs only a dict itself
    k.session.send(k.iopub_socket, "status", json.dumps([n, "odd"]), parent=k.get_parent("shell"))
print("sent", flush=True)
"""


async def odd_and_lines(kc: Any, msg_id: str) -> tuple[list[Any], str]:
    """The array-content statuses and the stream text of ``msg_id``, until its idle."""
    odd, text = [], ""
    while True:
        msg = await kc.get_iopub_msg(timeout=30)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        content = msg["content"]
        if msg["msg_type"] == "status" and isinstance(content, list):
            odd.append(content)
        elif msg["msg_type"] == "stream":
            text += content["text"]
        elif msg["msg_type"] == "status" and content["execution_state"] == "idle":
            return odd, text


async def test_a_status_whose_content_is_an_array_is_relayed_and_the_relay_goes_on(
    kernel_factory: Any,  # noqa: F811
) -> None:
    """Review s22 note: ``_note_status`` called ``.get`` on the parsed content, so such a
    message raised before it was kept: lost, and from the acker's drain the exception
    ended the relay. Now each is relayed in order, again after the acker's turns, and
    the kernel is still served."""
    async with joined(kernel_factory) as (_, _, kc):
        for _ in range(2):
            odd, text = await odd_and_lines(kc, kc.execute(ODD_STATUSES))
            assert odd == [[n, "odd"] for n in range(ODD)] and text == "sent\n"
            await asyncio.sleep(0.5)  # the acker drains the sockets twice meanwhile
        _, text = await odd_and_lines(kc, kc.execute("print(6 * 7)"))
        assert text == "42\n"


class _Sub:
    """A SUB socket's poll/recv_multipart over a fixed list of messages."""

    def __init__(self, messages: list[list[bytes]]) -> None:
        self.messages = messages

    def poll(self, timeout: int) -> bool:
        return bool(self.messages)

    def recv_multipart(self) -> list[bytes]:
        return self.messages.pop(0)


def _status(content: bytes) -> list[bytes]:
    return [b"<IDS|MSG>", b"sig", b'{"msg_type": "status"}', b"{}", b"{}", content]


def test_the_supervisors_idle_watch_reads_past_an_odd_status() -> None:
    """The supervisor's own idle watch (a kernel without a relay, ``_idle_step``) called
    ``.get`` on whatever JSON a status held: an array raised, and the messages read with
    it were lost to the watch. Now it is skipped and the real status after it counts."""
    busy = _Sub([_status(b"[1]"), _status(b'{"execution_state": "busy"}')])
    assert _idle_step(busy) is True
    idle = _Sub([_status(b'{"execution_state": "busy"}'), [b"<IDS|MSG>", b"s", b"[]"]])
    assert _idle_step(idle) is True  # the odd header is no status: the busy one stands
    assert _idle_step(_Sub([_status(b'"text"')])) is False


#: a cell publishing one display_data of 6 + 65,536 frames (no ident: no topic frame), more
#: than a relay record carries, its last buffer 96 MiB, then printing
TOO_MANY_PARTS = """
k = get_ipython().kernel
k.session.send(k.iopub_socket, "display_data", {"data": {}, "metadata": {}},
               parent=k.get_parent("shell"), buffers=[b"."] * 65535 + [b"x" * (96 << 20)])
print("after", flush=True)
"""


async def test_a_message_of_more_parts_than_a_record_carries_becomes_a_gap_marker(
    kernel_factory: Any,  # noqa: F811
) -> None:
    """A real ipykernel publishes a message of 65,542 frames (MAX_FRAMES is 65,535, what a
    record's part count carries): the relay reads it to its end without keeping it (this
    process's peak RSS, the relay's thread's included, grows by far less than its 96 MiB
    last frame), its connection to the kernel stays up, the cell's marker says why it is
    missing and what to do, and what the cell prints after it arrives, in order; the
    next cell runs. The old code cut the relay's iopub connection (no marker, and what was
    in flight on it lost)."""
    async with joined(kernel_factory) as (kernel, channels, kc):
        iopub = kernel.relay.socks["iopub"]
        before = vm_rss()
        peak_rss_reset()
        text = await cell_lines(kc, kc.execute(TOO_MANY_PARTS))
        grown = peak_rss() - before
        assert len(text) == 2 and text[1] == "after", text
        assert text[0].startswith("[jupyter-remote] 1 output message (65,542 parts, "), text
        assert "was dropped: more than 65,535 parts, which the relay cannot carry" in text[0]
        assert "fewer, larger buffers" in text[0]
        assert channels.gaps == 1 and iopub.connections == 1
        assert grown < 48 << 20, f"peak RSS grew {grown >> 20} MiB"
        assert await cell_lines(kc, kc.execute("print(6 * 7)")) == ["42"]


async def test_the_links_send_buffer_is_widened_and_a_large_output_arrives_whole(
    kernel_factory: Any,  # noqa: F811
) -> None:
    """The relay asks for LINK_SNDBUF on the client's socket (as far as the OS allows:
    Linux doubles it, capped by net.core.wmem_max), and 12 MB of 1 MB prints arrive
    through it whole and in order, a detach midway included."""
    import socket

    from jupyter_remote.remote import relay as relay_mod
    from tests.test_relay import UnixLink

    wmem_max = int(Path("/proc/sys/net/core/wmem_max").read_text())
    async with joined(kernel_factory) as (kernel, channels, kc):
        await cell_lines(kc, kc.execute("pass"))
        sock = kernel.relay.client.get_extra_info("socket")
        sndbuf = sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)
        assert sndbuf >= 2 * min(relay_mod.LINK_SNDBUF, wmem_max)
        code = "for i in range(12):\n    print(f'{i:02d}' + 'x' * 1_000_000, flush=True)"
        msg_id = kc.execute(code)
        await asyncio.sleep(0.05)
        channels.detach()
        await asyncio.sleep(0.5)
        await channels.attach(UnixLink(), kernel.path)
        lines = await cell_lines(kc, msg_id)
        assert [line[:2] for line in lines] == [f"{i:02d}" for i in range(12)]
        assert all(line == line[:2] + "x" * 1_000_000 for line in lines)
        assert kernel.relay.dropped == 0


def test_widening_the_send_buffer_of_a_link_without_a_socket_does_nothing() -> None:
    """A transport that has no socket to tell (``get_extra_info`` None) keeps its own."""
    from jupyter_remote.remote import relay as relay_mod

    class NoSocket:
        def get_extra_info(self, name: str) -> None:
            return None

    relay_mod._widen_send_buffer(NoSocket())


def pre_s24_gap_text(info: dict[str, Any]) -> str:
    """What a laptop before s24 (acb6740 ``RelayedChannels._publish_gap``) made of every
    GAP record, whatever its kind: a KeyError here ended its link and every later output."""
    return (
        f"[jupyter-remote] {info['count']} output messages ({info['bytes'] / 1e6:.1f} MB) "
        f"were dropped while the link was down: the remote keeps at most "
        f"{info['bound'] / 1e6:.0f} MB of output for an absent client.\n"
    )


async def test_every_gap_the_relay_emits_carries_count_bytes_and_bound(tmp_path: Path) -> None:
    """Review s24 F4: the relay's two kinds of GAP (a run of output evicted at its bound,
    and a message of more parts than a record carries) both say count, bytes and bound,
    so a laptop of either version shows them and keeps its link. A bare Relay (no kernel):
    three 600 KiB outputs against a 1 MiB bound with no client (two evicted), then an
    oversized message, written by the pump to a stand-in writer and parsed back."""
    import json

    from jupyter_remote.kernels.relay_link import gap_text
    from jupyter_remote.remote.protocol import GAP, MSG, RELAYED
    from jupyter_remote.remote.relay import Relay
    from jupyter_remote.remote.relay_kernel import DELIM

    relay = Relay(str(tmp_path), {"ip": str(tmp_path / "kernel-ipc"), "key": ""}, 1 << 20)
    head = [b"stream", DELIM, b"", b"{}", b'{"msg_id": "cell"}', b"{}", b"{}"]
    for _ in range(3):
        relay._append(RELAYED.index("iopub"), [*head, b"x" * (600 << 10)])
    relay._oversized("iopub", head, 70_000, 5_000_000)
    records = await pumped_records(relay)
    assert [kind for kind, _ in records] == [GAP, MSG, GAP]
    infos = [json.loads(bytes(parts[0])) for kind, parts in records if kind == GAP]
    assert [info.get("reason") for info in infos] == [None, "parts"]
    for info in infos:
        assert {"count", "bytes", "bound"} <= set(info), info
        assert info["bound"] == relay.bound
        assert pre_s24_gap_text(info).startswith(f"[jupyter-remote] {info['count']} output")
    assert gap_text(infos[0]).startswith("[jupyter-remote] 2 output messages (1.2 MB) were")
    assert gap_text(infos[1]).startswith("[jupyter-remote] 1 output message (70,000 parts, 5.0")


async def pumped_records(relay: Any) -> list[tuple[int, list[Any]]]:
    """What a bare Relay's pump writes of its buffer to a client (a stand-in for its
    LinkWriter), parsed back into (kind, parts) records. Called by the GAP tests here and
    in test_gap_notices."""
    from jupyter_remote.remote.protocol import RecordParser

    written: list[bytes] = []

    class Writer:  # what the pump uses of a LinkWriter (remote/relay_writer.py)
        def get_write_buffer_size(self) -> int:
            return 0

        def writelines(self, pieces: Any) -> None:
            written.extend(bytes(p) for p in pieces)

        async def drain(self) -> None:
            pass

    relay.generation = 1
    pump = asyncio.create_task(relay._pump(Writer(), 1))
    for _ in range(100):
        if relay.next_send > relay.seq:
            break
        await asyncio.sleep(0)
    relay.generation = 2
    relay.wake.set()
    await pump
    records: list[tuple[int, list[Any]]] = []
    RecordParser(lambda kind, _c, _s, parts: records.append((kind, parts))).feed(b"".join(written))
    return records
