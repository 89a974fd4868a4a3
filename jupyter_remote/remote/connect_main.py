"""The relay's connector as a script of its own: ``connect`` without the whole agent.

Script ``connect`` (protocol, state, connector, this: see ``jupyter_remote/remote/__init__.py``).
Stdlib only, Python >= 3.8. A connector lives as long as the kernel's link (in a Slurm
job, as an ``srun`` step whose memory the job's limit counts): the agent script's
imports and code cost it ~7 MB of RSS it never uses (s29: 18 MB as the agent, ~11 MB
so). Reads its one request line, then :func:`connector.op_connect` says whether it could
and copies bytes both ways, as the agent's ``connect`` operation does.
"""

import json
import os
import sys

# <local-imports> removed when the script is sent: the parts before it define these
from jupyter_remote.remote.connector import _say, op_connect

# </local-imports>


def connect_main() -> int:
    raw = sys.stdin.buffer.readline()
    try:
        req = json.loads(raw.decode("utf-8"))
    except ValueError:
        req = None
    if not isinstance(req, dict) or req.get("op") != "connect":
        _say({"ok": False, "error": "bad request"})
        return 2
    op_connect(req)
    return 0


if __name__ == "__main__":
    code = connect_main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # no interpreter teardown: the stream's end is the answer
