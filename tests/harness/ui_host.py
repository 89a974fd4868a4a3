"""Start a real OpenSSH sshd test host for the UI tests and keep it running.

Started by ui-tests/global-setup.js. Reuses sshd_host.py (SSHTestHost): sshd on a free
127.0.0.1 port with its own host key and user key, and a "remote" Python environment
holding ipykernel. Its details go to a JSON file the Playwright specs read:

    {"pid", "host", "port", "user", "identity", "host_id", "key_type",
     "fingerprint", "previous_fingerprint", "remote_python", "system_python",
     "home", "running", "generation"}

The login PATH starts with ``host_tools.py``'s directory: ``system_python`` is a Python
without ipykernel that pip refuses (PEP 668's marker), and ``nvidia-smi`` answers with
two GPUs (``host_tools.SAMPLE_GPUS``), so the wizard can create an environment and the
server card shows GPUs.

Control (the file is rewritten after each, with "generation" + 1):

    SIGUSR1   restart sshd with a brand-new host key (an impostor)
    SIGUSR2   stop sshd if it runs (an outage), start it if it does not
    SIGHUP    back to the original host key, running
    SIGTERM / SIGINT, or the parent process going away: stop and clean up

Usage (from the repository root): python -m tests.harness.ui_host --json PATH
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

from .host_tools import SAMPLE_APPS, SAMPLE_GPUS, HostTools
from .sshd_host import IS_ROOT, SSHTestHost


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.harness.ui_host", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--json", required=True, help="where to write the host's details")
    parser.add_argument("--name", default="ui", help="name of the test host (work dir prefix)")
    parser.add_argument(
        "--user",
        default="jrui" if IS_ROOT else None,
        help="remote user (root only; default jrui: not the pytest suite's jrtest, whose "
        "kernels and state its fixtures wipe, so both can run at the same time)",
    )
    args = parser.parse_args()

    out = Path(args.json).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)

    requests: list[str] = []
    wake = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        requests.append(
            {
                signal.SIGUSR1: "impostor",
                signal.SIGUSR2: "outage",
                signal.SIGHUP: "restore",
            }.get(signal.Signals(signum), "exit")
        )
        wake.set()

    for sig in (signal.SIGUSR1, signal.SIGUSR2, signal.SIGHUP, signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)

    parent = os.getppid()
    tools = HostTools()
    tools.gpus(SAMPLE_GPUS, SAMPLE_APPS)
    host = SSHTestHost(
        name=args.name, user=args.user, extra_config={"SetEnv": f"PATH={tools.path()}"}
    )
    generation = 0

    def write() -> None:
        data = {
            "pid": os.getpid(),
            "host": host.host,
            "port": host.port,
            "user": host.user,
            "identity": str(host.user_key),
            "host_id": f"[{host.host}]:{host.port}",
            "key_type": host.host_key_type,
            "fingerprint": host.host_key_fingerprint,
            "previous_fingerprint": host.previous_host_key_fingerprint,
            "remote_python": host.remote_python,
            "system_python": tools.python,
            "home": str(host.home),
            "running": host.running,
            "generation": generation,
        }
        tmp = out.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2) + "\n")
        os.replace(tmp, out)

    try:
        write()
        print(f"ui_host: {host!r}, details in {out}", flush=True)
        while True:
            wake.wait(1.0)
            wake.clear()
            if os.getppid() != parent:  # the test runner went away
                break
            changed = False
            while requests:
                what = requests.pop(0)
                if what == "exit":
                    return 0
                if what == "impostor":
                    host.restart_with_new_host_key()
                elif what == "outage":
                    host.stop() if host.running else host.start()
                elif what == "restore":
                    host.ensure_pristine()
                changed = True
                print(f"ui_host: {what} -> {host!r}", flush=True)
            if changed:
                generation += 1
                write()
    finally:
        host.close()
        tools.close()
        out.unlink(missing_ok=True)
        time.sleep(0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
