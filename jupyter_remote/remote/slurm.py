"""Kernels in Slurm jobs: the agent's side of it, on the login node and in the job.

Part of the agent script (see ``jupyter_remote/remote/__init__.py``). Stdlib only,
Python >= 3.8. On the login node (the agent run over SSH as usual):

- ``submit``: ``sbatch`` with the arguments the local side built from the profile (an
  argv list: no shell), the job script (``job.py``: fixed text) on its stdin; records
  ``jobs/<kernel id>.json`` (0600) so that ``list`` finds the kernel while it is
  queued and after a local restart;
- ``cancel``: ``scancel`` the job, wait until ``squeue`` no longer shows it (its holder
  has stopped the kernel and removed its files by then), forget the record, and remove
  what a holder that could not clean up left (its node failed): also asked once the
  scheduler ended the job;
- :func:`job_records` for ``list``.

In the job (the agent run by ``srun --jobid=J --overlap`` on the compute node),
:func:`hand_to_holder` gives the prepared supervisor to the job's holder, which runs
it inside the batch step (see ``job.py`` for why).
"""

import json
import os
import re
import socket
import subprocess
import time

# <local-imports> removed when the script is sent: the parts before it define these
from jupyter_remote.remote.kernel_dirs import _remove_empty_parents, _remove_owned_tree
from jupyter_remote.remote.pid_files import _alive
from jupyter_remote.remote.protocol import recv_frame, send_frame
from jupyter_remote.remote.state import (
    HOLDERS,
    JOBS,
    ROOT,
    AgentError,
    _kernel_dir,
    _private_dir,
    _read_json,
    _write_private,
)

# </local-imports>

JOB_ID = re.compile(r"^[0-9]{1,12}$")
SLURM_TIMEOUT = 120
CANCEL_WAIT = 30.0


def _tail_text(text, size=800):
    """The end of a command's output, for an error message."""
    return text.strip()[-size:]


def _job_id(value):
    value = str(value or "")
    if not JOB_ID.match(value):
        raise AgentError("invalid job id")
    return value


def _slurm(argv, stdin=None, timeout=SLURM_TIMEOUT):
    """Run a Slurm command (argv list, no shell); (status, stdout, stderr)."""
    try:
        proc = subprocess.run(
            argv,
            input=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            timeout=timeout,
            cwd=os.path.expanduser("~"),
        )
    except FileNotFoundError:
        raise AgentError(
            "%s is not on the login PATH of this host" % argv[0],
            "Is this the cluster's login node? Slurm's commands must be on the PATH of a "
            "non-interactive login (set it in ~/.profile or ~/.bashrc).",
        ) from None
    except subprocess.TimeoutExpired:
        raise AgentError("%s did not answer within %ss" % (argv[0], timeout)) from None
    return (
        proc.returncode,
        proc.stdout.decode("utf-8", "replace"),
        proc.stderr.decode("utf-8", "replace"),
    )


def op_submit(req):
    """sbatch the kernel's job; answer its id."""
    kernel_id = req.get("kernel_id")
    _kernel_dir(kernel_id)  # validates the id
    args = req.get("args")
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        raise AgentError("bad sbatch arguments")
    script = str(req.get("script") or "").encode("utf-8")
    status, out, err = _slurm(["sbatch", "--parsable"] + args, stdin=script)
    if status != 0:
        raise AgentError(
            "sbatch refused the job: %s" % (_tail_text(err) or "exit status %d" % status),
            "Check the profile's Slurm settings (partition, time, account, ...) against "
            "`sinfo` and `sacctmgr show assoc user=$USER` on the login node.",
        )
    job_id = out.strip().split(";")[0]
    if not JOB_ID.match(job_id):
        raise AgentError("sbatch answered no job id: %r" % out[:200])
    _private_dir(ROOT)
    _private_dir(JOBS)
    record = {
        "kernel_id": kernel_id,
        "job_id": job_id,
        "profile": req.get("profile") or "",
        "server": req.get("server") or "",
        "submitted": time.time(),
    }
    _write_private(os.path.join(JOBS, kernel_id + ".json"), json.dumps(record))
    return {"job_id": job_id}


def op_cancel(req):
    """scancel the job and wait until it is gone from the queue; forget its record."""
    kernel_id = req.get("kernel_id")
    _kernel_dir(kernel_id)
    job_id = _job_id(req.get("job_id") or (_job_record(kernel_id) or {}).get("job_id"))
    status, _, err = _slurm(["scancel", job_id])
    gone = _wait_gone(job_id, float(req.get("wait") or CANCEL_WAIT))
    if gone:
        _remove_leftovers(kernel_id, job_id)
    _forget(kernel_id)
    return {"cancelled": status == 0, "stopped": True, "gone": gone, "error": _tail_text(err)}


def _wait_gone(job_id, timeout):
    """Until squeue no longer lists the job (pending, running or completing). Only
    squeue's word makes it gone: an answer without it, or "Invalid job id" (a job past
    MinJobAge); a controller out of reach is no proof (its leftovers are kept then)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        status, out, err = _slurm(["squeue", "-h", "-j", job_id, "-o", "%i"], timeout=30)
        if status == 0 and job_id not in out.split():
            return True
        if status != 0 and "invalid job id" in err.lower():
            return True
        time.sleep(0.5)
    return False


def _remove_leftovers(kernel_id, job_id):
    """Once the job is gone (no process of it runs anywhere): what its holder did not
    remove because it was killed with its node: the holder's and the kernel's directories
    in the (shared) home and the private socket directories they name, where those are
    on this host and ours (``_remove_owned_tree``: never through a symlink)."""
    holder = os.path.join(HOLDERS, job_id)
    kdir = _kernel_dir(kernel_id)
    held = _read_json(os.path.join(holder, "holder.json")) or {}
    info = _read_json(os.path.join(kdir, "info.json")) or {}
    paths = [os.path.dirname(str(held["socket"]))] if held.get("socket") else []
    if str(info.get("job")) == job_id:
        paths += [str(info["sockdir"])] if info.get("sockdir") else []
        paths.append(kdir)
    for path in paths + [holder]:
        if os.path.isabs(path):
            _remove_owned_tree(path)


def _job_record(kernel_id):
    record = _read_json(os.path.join(JOBS, kernel_id + ".json"))
    return record if isinstance(record, dict) else None


def _forget(kernel_id):
    try:
        os.unlink(os.path.join(JOBS, kernel_id + ".json"))
    except OSError:
        pass
    _remove_empty_parents()


def job_records():
    """The kernels in jobs submitted from here (``list``): what their records say."""
    try:
        names = sorted(os.listdir(JOBS))
    except OSError:
        return []
    entries = []
    for name in names:
        kernel_id = name[: -len(".json")]
        record = _job_record(kernel_id) if name.endswith(".json") else None
        if record and JOB_ID.match(str(record.get("job_id"))):
            entries.append(
                {
                    "kernel_id": kernel_id,
                    "state": "job",
                    "job_id": str(record["job_id"]),
                    "profile": record.get("profile"),
                    "server": record.get("server"),
                    "started": record.get("submitted"),
                }
            )
    return entries


def job_elsewhere(kernel_id, kdir):
    """The job of a kernel that runs in a Slurm job other than the one we are in (its
    processes are on a compute node: never signal pids from here), else None."""
    info = _read_json(os.path.join(kdir, "info.json")) or {}
    job = info.get("job") or (_job_record(kernel_id) or {}).get("job_id")
    if job and str(job) != os.environ.get("SLURM_JOB_ID"):
        return str(job)
    return None


def is_job_kernel(kdir):
    """A kernel directory made inside a job (listed through its record, not its pid: on a
    shared home the login node sees it, but its processes run on the compute node)."""
    info = _read_json(os.path.join(kdir, "info.json")) or {}
    return bool(info.get("job"))


class HeldSupervisor:
    """The supervisor the holder started for us: alive while its pid is (same node)."""

    def __init__(self, pid):
        self.pid = pid

    def poll(self):
        return None if _alive(self.pid) else 1


def hand_to_holder(kdir, job_id, python, script, payload, loader=None):
    """In the job (srun --overlap): have the job's holder start the supervisor (behind
    ``loader``, the bytecode cache's, when there is one)."""
    holder = _read_json(os.path.join(HOLDERS, _job_id(job_id), "holder.json")) or {}
    path = holder.get("socket") or ""
    if not path or holder.get("node") != socket.gethostname():
        raise AgentError(
            "job %s has no holder on this node" % job_id,
            "The job's script did not start (is python3 >= 3.8 on the compute node's "
            "PATH?), or it already ended.",
        )
    try:
        if os.stat(path).st_uid != os.getuid():
            raise AgentError("the holder socket of job %s is not ours" % job_id)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(30)
        sock.connect(path)
        request = {
            "kernel_id": os.path.basename(kdir),
            "python": python,
            "script": script,
            "loader": loader,
            "payload": payload,
        }
        send_frame(sock, request)
        answer = recv_frame(sock, 1 << 20)
        sock.close()
    except (OSError, ValueError) as exc:
        raise AgentError(
            "the holder of job %s did not take the kernel: %s" % (job_id, exc),
            "Another kernel may still run in this job; stop it first.",
        ) from None
    if not answer.get("ok"):
        raise AgentError(str(answer.get("error") or "the holder refused the kernel"))
    return HeldSupervisor(int(answer["pid"]))
