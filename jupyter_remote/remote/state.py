"""Per-kernel state on the remote: where it lives, its private files, the kernel ids.

Part of the agent and job scripts (``jupyter_remote/remote/__init__.py`` joins the parts
its ``SCRIPTS`` lists, in order, into one script sent over stdin), the first after
``protocol``: every other part reads and writes state through these. Stdlib only,
Python >= 3.8. State: ``~/.local/share/jupyter-remote/kernels/<kernel_id>/`` (0700)
holding ``info.json``, ``connection.json`` (key scrubbed once read), ``kernel.log``,
``kernel.pid``, ``supervisor.pid``, ``launch.py``, ``relay.json``, ``ended.json``
(after a crash); the sockets are in a short private directory of their own (see
``agent._socket_dir``), named in ``info.json``. The pid files are ``pid_files.py``'s,
the directory is made and removed by ``kernel_dirs.py``, its processes stopped by
``kernel_stop.py``.

What is left when a kernel ends: nothing, when it was stopped (``stop``, its idle
timeout) or ended by a shutdown request it obeyed. A kernel that died otherwise keeps
its directory with ``ended.json`` (how it ended) until that end has been reported once
(the provisioner's ``status`` poll, ``kernel list``), or for :data:`ENDED_KEPT` seconds
(swept by the next ``launch`` or ``list`` on the host), whichever comes first.
"""

import json
import os
import re
import signal

# <local-imports> removed when the script is sent: the parts before it define these
from jupyter_remote.remote.protocol import CODE_CACHE_DIR, KERNEL_ID_PATTERN, STATE_DIR

# </local-imports>

ROOT = os.path.join(os.path.expanduser("~"), STATE_DIR)
#: How long the record of a kernel that died waits for its report (seconds): one day,
#: enough for a laptop that slept overnight to learn why its kernel is gone.
ENDED_KEPT = 24 * 3600
KERNELS = os.path.join(ROOT, "kernels")
#: Kernels in Slurm jobs: the login node's record of each (``slurm.py``), and each job's
#: holder state on its compute node (``job.py``).
JOBS = os.path.join(ROOT, "jobs")
HOLDERS = os.path.join(ROOT, "holders")
#: The agent's bytecode cache (``bootcache.py``): it goes with the last kernel's state.
CODE_CACHE = os.path.join(os.path.expanduser("~"), CODE_CACHE_DIR)
KERNEL_ID = re.compile("^%s$" % KERNEL_ID_PATTERN)
#: In a standby's directory once a start took it (``standby.py``), until the taker's first
#: connection reaches its relay (``relay.py`` removes it): a take left unfinished shows.
CLAIMED = "claimed"
SIGNAL_NAMES = {
    int(getattr(signal, n)): n
    for n in dir(signal)
    if n.startswith("SIG") and not n.startswith("SIG_") and isinstance(getattr(signal, n), int)
}


class AgentError(Exception):
    def __init__(self, message, hint=""):
        Exception.__init__(self, message)
        self.message = message
        self.hint = hint


def _private_dir(path):
    os.makedirs(path, mode=0o700, exist_ok=True)
    os.chmod(path, 0o700)


def _write_private(path, data):
    fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(data)
    os.chmod(path + ".tmp", 0o600)
    os.replace(path + ".tmp", path)


def _read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _kernel_dir(kernel_id):
    if not isinstance(kernel_id, str) or not KERNEL_ID.match(kernel_id):
        raise AgentError("invalid kernel id")
    return os.path.join(KERNELS, kernel_id)


#: characters of a log's tail an error carries: with "Its output:\n" it fits the local
#: side's 2,000-character cut (which keeps the head: a traceback's last line must survive)
TAIL_CHARS = 1900


def _tail(path, lines=20):
    """The last ``lines`` whole lines of a log within its last TAIL_CHARS characters (a
    failed start's hint; the last line of a traceback is the error)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - 8192))
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return ""
    kept = text.splitlines()[-lines:]
    while len(kept) > 1 and sum(len(line) + 1 for line in kept) - 1 > TAIL_CHARS:
        kept.pop(0)
    if kept and len(kept[0]) > TAIL_CHARS:  # one long last line: its end
        kept[0] = kept[0][-TAIL_CHARS:]
    return "\n".join(kept)


def _describe_end(returncode):
    if returncode is None:
        return "gone (the kernel process no longer exists)"
    if returncode < 0:
        name = SIGNAL_NAMES.get(-returncode, "signal %d" % -returncode)
        if -returncode == signal.SIGKILL:
            return "killed by SIGKILL (out of memory, or kill -9)"
        return "killed by %s" % name
    return "exited with status %d" % returncode


def _kernel_names():
    """The ids of every kernel state directory of ours, sorted (none when there is no
    state yet); the agent's ``list``, the standby ``claim`` and the sweeps walk these."""
    try:
        names = os.listdir(KERNELS)
    except OSError:
        return []
    return sorted(name for name in names if KERNEL_ID.match(name))
