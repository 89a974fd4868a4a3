"""jupyter-remote agent: runs ON the remote host, sent over stdin, never installed.

The last part of the agent script (protocol, state, relay, supervisor, launch, agent: see
``jupyter_remote/remote/__init__.py``). Stdlib only, Python >= 3.8. Reads one JSON
request from stdin after the bootstrap framing, writes one JSON answer line on
stdout. The HMAC key arrives on stdin and is written only to a 0600 connection
file inside the 0700 kernel directory (and scrubbed once the kernel has read it).

Operations (``op``):

- ``launch`` (``launch.py``): start a kernel detached under its supervisor; wait until
  its sockets exist; answer pid, socket paths and the relay's address.
- ``supervise``: the supervisor process itself (internal).
- ``status``, ``signal``, ``stop``, ``list``, ``connection``, ``presence``: what the
  provisioner, re-attaching and the ``jupyter remote kernel`` commands need.
- ``claim``, ``discard`` (``standby.py``): take a profile's standby; stop one that is
  still a standby.
"""

import json
import os
import signal
import sys
import time

# <local-imports> removed when the script is sent: the parts before it define these
from jupyter_remote.remote.connector import op_connect
from jupyter_remote.remote.kernel_dirs import (
    LAUNCHING,
    _forget_old_ends,
    _remove_kernel_files,
    _remove_scratch,
)
from jupyter_remote.remote.kernel_guard import (
    GONE_TEXT,
    end_orphan,
    kill_stragglers,
    supervisor_end_text,
    supervisor_gone,
)
from jupyter_remote.remote.kernel_stop import _stop_dir
from jupyter_remote.remote.launch import _relay_answer, op_launch
from jupyter_remote.remote.pid_files import _alive, _ours_and_alive, _read_int
from jupyter_remote.remote.protocol import CHANNELS
from jupyter_remote.remote.relay import query_relay
from jupyter_remote.remote.slurm import (
    is_job_kernel,
    job_elsewhere,
    job_records,
    op_cancel,
    op_submit,
)
from jupyter_remote.remote.standby import (
    op_discard,
    standby_facts,
    sweep_unattached,
    take_mark,
)
from jupyter_remote.remote.state import (
    KERNELS,
    AgentError,
    _describe_end,
    _kernel_dir,
    _kernel_names,
    _read_json,
    _write_private,
)
from jupyter_remote.remote.supervisor import op_supervise
from jupyter_remote.remote.supervisor_idle import op_presence

# </local-imports>


def _status(kernel_id, report=False):
    """How the kernel stands. ``report``: the answer goes to whoever must know how it ended
    (the provisioner's poll, ``kernel list``), so a dead kernel's record is removed."""
    kdir = _kernel_dir(kernel_id)
    if os.path.isdir(kdir):
        _wait_for_end_record(kdir)
    if not os.path.isdir(kdir):
        return {"kernel_id": kernel_id, "state": "missing", "reason": "no such kernel on this host"}
    pid = _read_int(os.path.join(kdir, "kernel.pid"))
    ended = _read_json(os.path.join(kdir, "ended.json"))
    info = _read_json(os.path.join(kdir, "info.json")) or {}
    out = {
        "kernel_id": kernel_id,
        "pid": pid,
        "python": info.get("python"),
        "kernelspec": info.get("kernelspec"),
        "cwd": info.get("cwd"),
        "profile": info.get("profile"),
        "server": info.get("server"),
        "started": info.get("started"),
        "idle_timeout": info.get("idle_timeout"),
    }
    if ended:
        out.update(state="dead", returncode=ended.get("returncode"), reason=ended.get("reason"))
        if ended.get("startup_error"):  # a failed start (supervisor_start._failed_start)
            out.update(startup_error=ended["startup_error"], hint=ended.get("hint") or "")
    elif pid and _alive(pid) and _orphaned(kernel_id, kdir):
        out.update(state="dead", returncode=None, reason=end_orphan(kdir, pid))
    elif pid and _alive(pid):
        out.update(state="running", **standby_facts(kdir, pid))
    elif pid is None and _launching(kdir):
        out.update(state="starting")
    else:  # kernel and supervisor gone without a word (both killed): record it now
        reason = _describe_end(None)
        if pid and not job_elsewhere(kernel_id, kdir):
            kill_stragglers(kdir)  # what its cells started, whatever its process group
            reason = supervisor_end_text(GONE_TEXT) if supervisor_gone(kdir) else reason
        out.update(state="dead", returncode=None, reason=reason)
        _record_end(kdir, out)
    if out["state"] == "dead" and report:
        _remove_kernel_files(kdir)
    return out


def _orphaned(kernel_id, kdir):
    """The kernel runs but its supervisor is gone (killed with its watcher, or an older
    agent's): nobody would ever stop it. Never for a kernel in a job elsewhere (its
    pids are another node's; its holder sees to it)."""
    return supervisor_gone(kdir) and not job_elsewhere(kernel_id, kdir)


def _wait_for_end_record(kdir, timeout=3.0):
    """The kernel is gone but its supervisor still runs: it is about to record the end
    (or remove everything, after a shutdown request). Wait for it, briefly."""
    pid = _read_int(os.path.join(kdir, "kernel.pid"))
    sup = _read_int(os.path.join(kdir, "supervisor.pid"))
    if not pid or _alive(pid) or os.path.exists(os.path.join(kdir, "ended.json")):
        return
    deadline = time.time() + timeout
    while _alive(sup) and time.time() < deadline:
        time.sleep(0.05)


def _record_end(kdir, status):
    """ended.json for a kernel that left none, so that ENDED_KEPT ages it like the others;
    its sockets and cell files go (nothing runs that uses them)."""
    record = {"returncode": None, "reason": status["reason"], "ended": time.time()}
    _remove_scratch(kdir)
    try:
        _write_private(os.path.join(kdir, "ended.json"), json.dumps(record))
    except OSError:
        pass


def _launching(kdir):
    """A kernel without a pid that is being started: its supervisor runs (ours, the
    process its pid file names), or, before the supervisor is forked, the agent that made
    its directory does (state.LAUNCHING: a ``list`` then, say the card's standby status
    while a replacement starts, must not record it dead: the launch would fail as "gone").
    A launch killed before the fork is dead at once; no clock is compared (review s22 F4)."""
    sup_file = os.path.join(kdir, "supervisor.pid")
    if os.path.exists(sup_file):
        return _ours_and_alive(_read_int(sup_file))
    return _ours_and_alive(_read_int(os.path.join(kdir, LAUNCHING)))


def op_status(req):
    return _status(req.get("kernel_id"), report=bool(req.get("report")))


def op_connection(req):
    """For re-attaching: the running kernel's key and channel targets (sent over SSH only)."""
    kdir = _kernel_dir(req.get("kernel_id"))
    status = _status(req.get("kernel_id"))
    if status["state"] != "running":
        raise AgentError("kernel %s is not running (%s)" % (req.get("kernel_id"), status["state"]))
    conn = _read_json(os.path.join(kdir, "connection.json")) or {}
    channels = {name: "%s-%s" % (conn["ip"], conn.get(name + "_port")) for name in CHANNELS}
    answer = {
        "key": conn.get("key"),
        "signature_scheme": conn.get("signature_scheme"),
        "transport": conn.get("transport"),
        "channels": channels,
        "pid": status.get("pid"),
        "profile": status.get("profile"),
    }
    answer.update(_relay_answer(kdir))
    if answer["relay"]:  # the key was scrubbed from the file: the relay holds it
        try:
            info = query_relay(answer["relay"])
        except (OSError, ValueError) as exc:
            raise AgentError("the kernel's relay does not answer: %s" % exc) from None
        answer["key"] = info.get("key")
        answer["signature_scheme"] = info.get("signature_scheme")
        answer["relay_token"] = info.get("token") or ""
    return answer


def op_claim(req):
    """Take a profile's standby kernel (its mark removed: nobody else gets it); its
    connection as for re-attaching, or ``{"kernel_id": None}`` when none is ready."""
    sweep_unattached()
    kernel_id = take_mark(req.get("profile"), req.get("server"), req.get("fingerprint"))
    if kernel_id is None:
        return {"kernel_id": None}
    try:
        answer = op_connection({"kernel_id": kernel_id})
    except AgentError as exc:  # it was ending: it goes, the start is a cold one
        _stop_dir(_kernel_dir(kernel_id), 1)
        return {"kernel_id": None, "note": exc.message}
    info = _read_json(os.path.join(_kernel_dir(kernel_id), "info.json")) or {}
    answer.update(kernel_id=kernel_id, started=info.get("started"))
    return answer


def op_signal(req):
    kdir = _kernel_dir(req.get("kernel_id"))
    if job_elsewhere(req.get("kernel_id"), kdir):
        raise AgentError("this kernel runs in a Slurm job on another node")
    pid = _read_int(os.path.join(kdir, "kernel.pid"))
    signum = int(req.get("signum", signal.SIGINT))
    if not pid or not _alive(pid):
        return {
            "sent": False,
            "reason": "not running",
        }  # like Popen.send_signal on an exited process
    try:
        os.killpg(os.getpgid(pid), signum)
    except OSError:
        os.kill(pid, signum)
    return {"sent": signum}


def op_stop(req):
    kdir = _kernel_dir(req.get("kernel_id"))
    job = job_elsewhere(req.get("kernel_id"), kdir)
    if job:  # a kernel in a Slurm job, seen from the login node: end its job
        return op_cancel({"kernel_id": req.get("kernel_id"), "job_id": job})
    if not os.path.isdir(kdir):
        return {"stopped": False, "reason": "no such kernel on this host"}
    _stop_dir(kdir, float(req.get("timeout") or 5))
    return {"stopped": True}


def op_list(req):
    """Every kernel of ours here; ``report``: dead ones are said once, then removed."""
    _forget_old_ends()
    sweep_unattached()
    kernels = []
    for name in _kernel_names():
        if not is_job_kernel(os.path.join(KERNELS, name)):
            kernels.append(_status(name, report=bool(req.get("report"))))
    kernels += job_records()  # kernels in Slurm jobs: their state is the job's (local side)
    return {"kernels": [k for k in kernels if k["state"] != "missing"]}


OPS = {
    "launch": op_launch,
    "supervise": op_supervise,
    "status": op_status,
    "signal": op_signal,
    "stop": op_stop,
    "list": op_list,
    "presence": op_presence,
    "connection": op_connection,
    "claim": op_claim,
    "discard": op_discard,
    "connect": op_connect,
    "submit": op_submit,
    "cancel": op_cancel,
}


def main():
    raw = sys.stdin.buffer.readline()  # one JSON line; presence keeps stdin open after it
    try:
        req = json.loads(raw.decode("utf-8"))
        op = OPS[req["op"]]
    except (ValueError, KeyError, TypeError):
        sys.stdout.write(json.dumps({"ok": False, "error": "bad request"}) + "\n")
        return 2
    try:
        result = op(req)
    except AgentError as exc:
        sys.stdout.write(json.dumps({"ok": False, "error": exc.message, "hint": exc.hint}) + "\n")
        return 1
    if req["op"] not in ("supervise", "presence", "connect"):
        sys.stdout.write(json.dumps({"ok": True, "result": result}) + "\n")
        sys.stdout.flush()
    return 0


def _exit(code):
    """Leave as soon as the answer is out: the exec channel closes when this process ends,
    and the interpreter's own teardown cost every call 15-35 ms (issue 17 item 2)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    _exit(main())
