"""``jupyter remote terminal SERVER [--persistent]``: a shell on the remote in this terminal.

Like ``ssh -t SERVER``, but through our pool, host-key policy and saved servers: the
local terminal goes into raw mode, keystrokes go to a pty on the remote, its output
comes back, the window size follows (SIGWINCH). It is a client of the same
:class:`~jupyter_remote.sessions.terminal.TerminalSession` the browser uses, so when the
link drops it says so and reconnects by itself (a new shell, or with ``--persistent``
the same tmux or screen session). Exits with the remote shell's exit status (255 when there is
none), or with our error's exit code (a host key refused, gave up reconnecting).
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import os
import shutil
import signal
import sys
import termios
import tty
from collections.abc import Iterator
from typing import Any

from ..manager import RemoteManager
from ..sessions import registry
from ..sessions.terminal import TerminalSession, open_terminal

NO_STATUS = 255  # as ssh: the remote said nothing about how the shell ended


def _size() -> tuple[int, int]:
    """(rows, cols) of the local terminal (24 x 80 when there is none)."""
    size = shutil.get_terminal_size((80, 24))
    return max(1, min(size.lines, 1000)), max(1, min(size.columns, 1000))


def _write_all(fd: int, data: bytes) -> None:
    while data:
        try:
            data = data[os.write(fd, data) :]
        except BlockingIOError:
            continue


@contextlib.contextmanager
def _raw(fd: int) -> Iterator[None]:
    """The local terminal in raw mode (keys go to the remote as they are), then restored."""
    if not os.isatty(fd):
        yield
        return
    saved = termios.tcgetattr(fd)
    tty.setraw(fd, termios.TCSANOW)  # keep what was typed ahead
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


async def terminal(manager: RemoteManager, args: Any) -> int:
    rows, cols = _size()
    session = await open_terminal(
        manager, args.server, persistent=bool(args.persistent), rows=rows, cols=cols
    )
    stdin, stdout = sys.stdin.fileno(), sys.stdout.fileno()

    async def output(text: str) -> None:
        _write_all(stdout, text.encode("utf-8", "replace"))

    replay, detach = session.attach(output, lambda status: None)
    _write_all(stdout, replay.encode("utf-8", "replace"))
    try:
        with _raw(stdin):
            return await _follow(session, stdin)
    finally:
        detach()
        await session.stop()


async def _follow(session: TerminalSession, stdin: int) -> int:
    """Pump keystrokes and window changes until the terminal ends; its exit status."""
    loop = asyncio.get_running_loop()
    changed = asyncio.Event()
    stop_signal: list[int] = []
    decoder = codecs.getincrementaldecoder("utf-8")("replace")

    def on_stdin() -> None:
        try:
            data = os.read(stdin, 65536)
        except BlockingIOError:
            return
        if not data:  # stdin ended (not a terminal): like typing Ctrl-D
            loop.remove_reader(stdin)
            session.write("\x04")
            return
        session.write(decoder.decode(data))

    def on_signal(signum: int) -> None:
        stop_signal.append(signum)
        changed.set()

    loop.add_reader(stdin, on_stdin)
    loop.add_signal_handler(signal.SIGWINCH, lambda: session.resize(*_size()))
    for signum in (signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(signum, on_signal, signum)

    def on_event(event: dict[str, Any]) -> None:
        loop.call_soon_threadsafe(changed.set)

    unsubscribe = registry.subscribe(on_event)
    try:
        while not stop_signal:
            if session.state == "disconnected" and session.error is not None:
                raise session.error  # host key or auth refused, or gave up: its exit code
            ended = asyncio.ensure_future(session.wait_ended())
            waiting = asyncio.ensure_future(changed.wait())
            await asyncio.wait({ended, waiting}, return_when=asyncio.FIRST_COMPLETED)
            waiting.cancel()
            if ended.done():
                status = ended.result()
                return NO_STATUS if status is None else status
            ended.cancel()
            changed.clear()
        return 128 + stop_signal[0]
    finally:
        unsubscribe()
        loop.remove_reader(stdin)
        for signum in (signal.SIGWINCH, signal.SIGTERM, signal.SIGHUP):
            loop.remove_signal_handler(signum)
