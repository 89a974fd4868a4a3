"""Event-loop turns and CPU per message on both sides of the relay (issue 17 item 3).

    python -m bench.relay_wakeups [--tree DIR] [--cells 500] [--streams 2]

No hosts, no SSH: a real ipykernel and the relay run in a child process as the remote
supervisor runs them (``--relay-child``), and the local side (``RelayedChannels``) on
its own event-loop thread here, attached straight to the relay's unix socket; a
jupyter_client on this process's main thread sends ``pass`` cells, then 200 MB of
stream output (metric 3's code). Printed per cell and per 200 MB: the event-loop turns
(``_run_once`` calls) of the local side's loop and of the relay's, and the CPU time
(/proc schedstat, all threads) of the local loop thread, this whole process, the relay
process and the kernel. ``--tree DIR`` runs another checkout's ``jupyter_remote`` (e.g.
``git archive HEAD~3 jupyter_remote | tar -x -C /tmp/old``) for a before/after in one
sitting; the figures are noisy on a shared machine: alternate runs.
"""

from __future__ import annotations

import argparse
import asyncio
import asyncio.base_events
import glob
import json
import os
import secrets
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from tests.harness.unix_link import UnixLink

_TURNS: dict[str, Any] = {"count": 0, "loop": None}
_run_once: Any = getattr(asyncio.base_events.BaseEventLoop, "_run_once")  # noqa: B009


def _count_turns(loop: Any) -> None:
    if _TURNS["loop"] is None or loop is _TURNS["loop"]:
        _TURNS["count"] += 1
    _run_once(loop)


#: the kernel's channels in the order of their ipc socket numbers (``relay_child``)
_KERNEL_CHANNELS = ("shell", "control", "stdin", "iopub", "hb")


def relay_child(kdir: Path) -> None:
    """The remote half: a kernel on ipc sockets and the relay in a thread, as the
    supervisor starts them; answers a line on stdin with the relay loop's turn count."""
    from jupyter_remote.remote import relay as relay_mod

    setattr(asyncio.base_events.BaseEventLoop, "_run_once", _count_turns)  # noqa: B010
    kdir.mkdir(mode=0o700, exist_ok=True)
    key = secrets.token_hex(16)
    names = _KERNEL_CHANNELS
    conn: dict[str, Any] = {"transport": "ipc", "ip": str(kdir / "k"), "key": key}
    conn.update({f"{name}_port": n for n, name in enumerate(names, 1)})
    conn["signature_scheme"] = "hmac-sha256"
    (kdir / "connection.json").write_text(json.dumps(conn))
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", str(kdir / "connection.json")]
    kernel = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        relay = relay_mod.start_relay(str(kdir), 512 * 1024 * 1024, 60)
        assert relay is not None and relay.ready.wait(60) and not relay.failure
        print(json.dumps({"path": str(kdir / "relay"), "key": key, "kernel": kernel.pid}))
        sys.stdout.flush()
        for _ in sys.stdin:
            print(_TURNS["count"], flush=True)
    finally:
        kernel.kill()


def _faults(pid: int) -> int:
    """Minor page faults of a process so far (/proc/PID/stat field 10)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat[stat.rindex(")") + 2 :].split()[7])


def _cpu(pid: int, tid: int | None = None) -> float:
    """CPU seconds of a process (all its threads) or of one thread."""
    paths = (
        [f"/proc/{pid}/task/{tid}/schedstat"] if tid else glob.glob(f"/proc/{pid}/task/*/schedstat")
    )
    return sum(int(Path(p).read_text().split()[0]) for p in paths) / 1e9


def _cell(kc: Any) -> None:
    msg_id = kc.execute("pass", store_history=False)
    while kc.get_shell_msg(timeout=30)["parent_header"].get("msg_id") != msg_id:
        pass
    _until_idle(kc, msg_id)


def _until_idle(kc: Any, msg_id: str) -> None:
    while True:
        msg = kc.get_iopub_msg(timeout=60)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            return


def compare_round_trips(kc: Any, key: str, kdir: Path, blocks: int) -> str:
    """Median ``pass`` round trip through the relay and link (``kc``) against a client on
    the kernel's own ipc sockets, in alternated blocks of 100 cells: what the relay and
    the local link cost without SSH (``--rtt-blocks``)."""
    import statistics
    import time

    from jupyter_client import BlockingKernelClient

    direct = BlockingKernelClient()
    conn: dict[str, Any] = {f"{n}_port": i for i, n in enumerate(_KERNEL_CHANNELS, 1)}
    conn.update(transport="ipc", ip=str(kdir / "k"), key=key, signature_scheme="hmac-sha256")
    direct.load_connection_info(conn)  # type: ignore[arg-type]
    direct.start_channels(hb=False)
    direct.wait_for_ready(timeout=60)
    samples: dict[str, list[float]] = {"link": [], "direct": []}
    for _ in range(20):
        _cell(direct)
    for _ in range(blocks):
        for label, client in (("link", kc), ("direct", direct)):
            for _ in range(100):
                t0 = time.perf_counter()
                _cell(client)
                samples[label].append((time.perf_counter() - t0) * 1000)
    direct.stop_channels()
    link, own = (statistics.median(samples[k]) for k in ("link", "direct"))
    return (
        f"round trip median: through relay and link {link:.3f} ms, direct {own:.3f} ms, "
        f"+{link - own:.3f} ms"
    )


def measure(cells: int, streams: int, rtt_blocks: int = 0) -> None:
    from jupyter_client import BlockingKernelClient

    from bench.metrics.output_throughput import CODE, SETUP
    from jupyter_remote.kernels.relay_link import RelayedChannels
    from jupyter_remote.remote.protocol import RELAYED
    from jupyter_remote.ssh.forwards import free_local_ports

    kdir = Path(f"/tmp/jr-wakeups-{os.getpid()}")
    child = subprocess.Popen(
        [sys.executable, "-m", "bench.relay_wakeups", "--relay-child", str(kdir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert child.stdin is not None and child.stdout is not None
    stdin, stdout = child.stdin, child.stdout
    try:
        info = json.loads(stdout.readline())
        loop = asyncio.new_event_loop()
        _TURNS["loop"] = loop
        setattr(asyncio.base_events.BaseEventLoop, "_run_once", _count_turns)  # noqa: B010
        threading.Thread(target=loop.run_forever, daemon=True).start()
        names = (*RELAYED, "hb")
        ports = dict(zip(names, free_local_ports(len(names)), strict=True))

        async def attach() -> tuple[Any, int]:
            channels = RelayedChannels(
                ports, key=info["key"].encode(), signature_scheme="hmac-sha256"
            )
            await channels.attach(UnixLink(), info["path"])
            return channels, threading.get_native_id()

        channels, loop_tid = asyncio.run_coroutine_threadsafe(attach(), loop).result(30)
        kc = BlockingKernelClient()
        conn: dict[str, Any] = {f"{n}_port": p for n, p in ports.items()}
        conn.update(
            transport="tcp", ip="127.0.0.1", key=info["key"], signature_scheme="hmac-sha256"
        )
        kc.load_connection_info(conn)  # type: ignore[arg-type]
        kc.start_channels(hb=False)
        kc.wait_for_ready(timeout=60)
        kc.execute_interactive(SETUP, timeout=60)
        if rtt_blocks:
            print(compare_round_trips(kc, info["key"], kdir, rtt_blocks), flush=True)

        def relay_turns() -> int:
            stdin.write(b"?\n")
            stdin.flush()
            return int(stdout.readline())

        def stream() -> None:
            _until_idle(kc, kc.execute(CODE["stream"], store_history=False))

        for label, run, n in (
            ("cell", lambda: _cell(kc), cells),
            ("200 MB stream", stream, streams),
        ):
            pids = (os.getpid(), child.pid, int(info["kernel"]))
            turns0, relay0 = _TURNS["count"], relay_turns()
            cpu0 = [_cpu(os.getpid(), loop_tid), *(_cpu(p) for p in pids)]
            faults0, relay_faults0 = _faults(os.getpid()), _faults(child.pid)
            for _ in range(n):
                run()
            cpu1 = [_cpu(os.getpid(), loop_tid), *(_cpu(p) for p in pids)]
            faults = (_faults(os.getpid()) - faults0) / n
            relay_faults = (_faults(child.pid) - relay_faults0) / n
            turns = ((_TURNS["count"] - turns0) / n, (relay_turns() - relay0) / n)
            ms = [(b - a) * 1000 / n for a, b in zip(cpu0, cpu1, strict=True)]
            print(
                f"per {label}: event-loop turns local {turns[0]:.1f}, relay {turns[1]:.1f}; CPU ms "
                f"local loop {ms[0]:.3f}, local process {ms[1]:.3f}, relay {ms[2]:.3f}, "
                f"kernel {ms[3]:.3f}; page faults local {faults:.0f}, relay {relay_faults:.0f}",
                flush=True,
            )
        kc.stop_channels()
        loop.call_soon_threadsafe(channels.close)
    finally:
        stdin.close()
        child.wait(10)
        shutil.rmtree(kdir, ignore_errors=True)


def main() -> None:
    p = argparse.ArgumentParser(
        prog="python -m bench.relay_wakeups", description=__doc__.splitlines()[0]
    )
    p.add_argument("--tree", help="a directory holding another jupyter_remote to measure")
    p.add_argument("--cells", type=int, default=500)
    p.add_argument("--streams", type=int, default=2)
    p.add_argument(
        "--rtt-blocks",
        type=int,
        default=0,
        help="first: this many alternated blocks of 100 cells, through the link and direct",
    )
    p.add_argument(
        "--steady-alloc",
        action="store_true",
        help="this (local) process keeps freed buffers (files.transfers.steady_allocator)",
    )
    p.add_argument("--relay-child", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.tree:  # before anything imports jupyter_remote; the relay child inherits it
        os.environ["JR_WAKEUPS_TREE"] = str(Path(args.tree).resolve())
    if os.environ.get("JR_WAKEUPS_TREE"):
        sys.path.insert(0, os.environ["JR_WAKEUPS_TREE"])
    if args.relay_child:
        relay_child(Path(args.relay_child))
    else:
        if args.steady_alloc:
            from jupyter_remote.files.transfers import steady_allocator

            steady_allocator()
        measure(args.cells, args.streams, args.rtt_blocks)


if __name__ == "__main__":
    main()
