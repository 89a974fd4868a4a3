"""A real Slurm cluster and its login node's sshd, for the Slurm browser test.

Started by ui-tests/tests/slurm.spec.ts (not by global-setup: only that spec needs a
cluster). Reuses slurm_cluster.py (SlurmTestCluster: slurmctld here, one compute node
in its own network namespace, partitions ``main`` and ``tiny``) and sshd_host.py
(SSHTestHost with the cluster's environment). Its details go to a JSON file the spec
reads:

    {"pid", "host", "port", "user", "uid", "identity", "host_id", "fingerprint",
     "remote_python", "home", "slurm_conf", "node"}

The spec submits and cancels its own blocker job with ``runuser -u USER -- env
SLURM_CONF=... sbatch`` (it runs as root, as the harness does).

SIGTERM / SIGINT, or the parent process going away: every job cancelled, everything
stopped and removed (the cluster's close() leaves no daemon, namespace or file).

Usage (from the repository root, as root): python -m tests.harness.slurm_ui_host --json PATH
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from pathlib import Path

from .slurm_cluster import SlurmTestCluster, slurm_unavailable
from .sshd_host import SSHTestHost, ensure_user


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.harness.slurm_ui_host", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--json", required=True, help="where to write the details")
    parser.add_argument("--user", default="jrslurmui", help="the cluster user of the test")
    args = parser.parse_args()
    out = Path(args.json).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)
    missing = slurm_unavailable()
    if missing:
        print(f"slurm_ui_host: {missing}", file=sys.stderr, flush=True)
        return 1

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    parent = os.getppid()
    user = ensure_user(args.user)
    with (
        SlurmTestCluster(name="jrslurmui", max_time=30, tiny_max_time=10) as cluster,
        SSHTestHost(name="slurm-ui", user=args.user, extra_config=cluster.sshd_config()) as host,
    ):
        try:
            data = {
                "pid": os.getpid(),
                "host": host.host,
                "port": host.port,
                "user": host.user,
                "uid": user.pw_uid,
                "identity": str(host.user_key),
                "host_id": f"[{host.host}]:{host.port}",
                "fingerprint": host.host_key_fingerprint,
                "remote_python": host.remote_python,
                "home": str(host.home),
                "slurm_conf": str(cluster.conf_path),
                "node": cluster.nodes[0].name,
            }
            tmp = out.with_suffix(".tmp")
            tmp.write_text(json.dumps(data, indent=2) + "\n")
            os.replace(tmp, out)
            print(f"slurm_ui_host: {host!r}, details in {out}", flush=True)
            while not stop.wait(1.0):
                if os.getppid() != parent:  # the test runner went away
                    break
        finally:
            cluster.run_as(args.user, ["scancel", "-u", args.user])
            out.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
