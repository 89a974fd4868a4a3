"""The holder: the batch script of a kernel's Slurm job, ON the compute node.

Script ``job`` (protocol, state, job: see ``jupyter_remote/remote/__init__.py``), sent
to ``sbatch`` on its stdin by the agent's ``submit`` (``slurm.py``) behind a
``#!/usr/bin/env python3`` line. Fixed text: no user data, no secret (Slurm keeps a
job's script, and its owner and the admins can read it back). Stdlib only, Python 3.8.

Why a holder: the kernel must live in the job's batch step (a process started by a
short ``srun`` step dies with that step where Slurm tracks processes by cgroup), and a
restart must keep the allocation. So the batch step runs this loop:

1. make ``~/.local/share/jupyter-remote/holders/<job id>/`` (0700) and a unix socket in
   a short private directory (``mkdtemp``, 0700), named in ``holder.json`` there;
2. wait for a launch: the agent's ``launch`` runs in the job with ``srun --overlap``
   (``slurm.hand_to_holder``), prepares the kernel's directory and connection file as
   on any host, and sends the supervisor's command and stdin here; the holder starts
   it as its own child (so it is in the job), with the batch step's environment
   (SLURM_*, the GPUs Slurm gave the job) under the profile's variables;
3. when that supervisor ends (the kernel stopped for a restart, or crashed; a supervisor
   that was killed has its kernel's group stopped and its end told: ``kernel_guard.py``), wait for
   the next launch, at most :data:`RELAUNCH_WAIT` seconds or the kernel's idle timeout
   when shorter (never under :data:`RELAUNCH_FLOOR`: a restart takes a few seconds);
   else end, which ends the job (the first launch may take :data:`FIRST_WAIT`). A
   kernel its job's memory limit killed (the OOM kill count of the holder's memory
   cgroup grew: Slurm's task/cgroup puts the batch step's processes there) ends the job
   at once: Slurm then records it as OUT_OF_MEMORY, and the session says so;
4. on SIGTERM (``scancel``, the time limit) stop the kernel, remove its files and
   everything of the holder, and exit.

Only the job's owner reaches the socket (0700 directories; the peer's uid is checked
where the OS tells it).
"""

import json
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
from typing import Any

# <local-imports> removed when the script is sent: the parts before it define these
from jupyter_remote.remote.kernel_dirs import _remove_empty_parents, _remove_owned_tree
from jupyter_remote.remote.kernel_guard import end_orphan, retell_end
from jupyter_remote.remote.kernel_stop import _stop_dir
from jupyter_remote.remote.pid_files import _read_int
from jupyter_remote.remote.protocol import BOOTSTRAP, recv_frame, send_frame
from jupyter_remote.remote.state import (
    HOLDERS,
    JOBS,
    ROOT,
    SIGNAL_NAMES,
    _kernel_dir,
    _private_dir,
    _read_json,
    _write_private,
)

# </local-imports>

FIRST_WAIT = 600.0
RELAUNCH_WAIT = 120.0
RELAUNCH_FLOOR = 15.0
MAX_REQUEST = 16 * 1024 * 1024


class Stopped(Exception):
    """SIGTERM or SIGINT: the job is being cancelled or reached its time limit."""

    def __init__(self, signum):
        Exception.__init__(self, signum)
        self.signum = signum


def _on_signal(signum, frame):
    raise Stopped(signum)


class Holder:
    """One job's holder: its directories, its socket, the supervisor it runs."""

    def __init__(self, job_id):
        self.job_id = job_id
        self.dir = os.path.join(HOLDERS, job_id)
        self.sockdir: Any = None
        self.server: Any = None
        self.child: Any = None
        self.kernel_id: Any = None
        self.relaunch_wait = RELAUNCH_WAIT

    def open(self):
        for path in (ROOT, HOLDERS, self.dir):
            _private_dir(path)
        self.sockdir = tempfile.mkdtemp(prefix="jr-job-", dir=_short_tmp())
        path = os.path.join(self.sockdir, "holder")
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(path)
        os.chmod(path, 0o600)
        self.server.listen(4)
        info = {"pid": os.getpid(), "socket": path, "node": socket.gethostname()}
        _write_private(os.path.join(self.dir, "holder.json"), json.dumps(info))

    def serve(self):
        """Launch after launch, until none comes in time."""
        wait = FIRST_WAIT
        while True:
            conn = self._accept(wait)
            if conn is None:
                return
            try:
                started = self._start(conn)
            finally:
                conn.close()
            if started:
                oom_before = _oom_kills()
                if self.child.wait():  # killed, or failed: its kernel must not stay
                    _after_supervisor(self.kernel_id, self.child.returncode)
                self.child = None
                self.kernel_id = None
                if oom_before is not None and (_oom_kills() or 0) > oom_before:
                    sys.stderr.write("jupyter-remote: the kernel hit the job's memory limit\n")
                    return
            wait = self.relaunch_wait

    def _accept(self, timeout):
        self.server.settimeout(timeout)
        try:
            conn, _ = self.server.accept()
        except socket.timeout:
            return None
        conn.settimeout(30)
        if not _same_user(conn):
            conn.close()
            return self._accept(timeout)
        return conn

    def _start(self, conn):
        """Read one launch request, start its supervisor, answer its pid."""
        try:
            request = recv_frame(conn, MAX_REQUEST)
            kdir = _kernel_dir(request.get("kernel_id"))
            child = self._spawn(kdir, request)
        except Exception as exc:  # the launch step reports it; the holder goes on
            send_frame(conn, {"ok": False, "error": "the job could not start it: %s" % exc})
            return False
        self.child, self.kernel_id = child, request["kernel_id"]
        self.relaunch_wait = _relaunch_wait(request["payload"].get("idle_timeout"))
        send_frame(conn, {"ok": True, "pid": child.pid, "node": socket.gethostname()})
        return True

    def _spawn(self, kdir, request):
        payload = dict(request["payload"])
        env = dict(os.environ)
        env.pop("JPY_PARENT_PID", None)
        env.update(payload.get("env") or {})
        payload["env"] = env
        payload["held"] = True  # no watcher: we see it die (_after_supervisor), at no RSS
        body = request["script"].encode("utf-8")
        loader = request.get("loader")  # the bytecode cache's: no compile of the script
        framed = b""
        if isinstance(loader, str) and loader:
            framed = str(len(loader.encode("utf-8"))).encode() + b"\n" + loader.encode("utf-8")
        log = os.open(
            os.path.join(kdir, "kernel.log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600
        )
        try:
            child = subprocess.Popen(
                [request["python"], "-c", BOOTSTRAP],
                stdin=subprocess.PIPE,
                stdout=log,
                stderr=log,
                cwd=kdir,
                close_fds=True,
            )
        finally:
            os.close(log)
        assert child.stdin is not None
        child.stdin.write(framed + str(len(body)).encode() + b"\n" + body)
        child.stdin.write(json.dumps(payload).encode())
        child.stdin.write(b"\n")
        child.stdin.close()
        return child

    def close(self):
        """Stop what runs, remove every file of the kernel and of the holder."""
        if self.kernel_id:
            try:
                _stop_dir(_kernel_dir(self.kernel_id), 2)
            except Exception:
                pass
        if self.child is not None and self.child.poll() is None:
            self.child.kill()
        if self.server is not None:
            self.server.close()
        if self.sockdir:
            _remove_owned_tree(self.sockdir)
        _remove_owned_tree(self.dir)
        _forget_record(self.job_id)
        _remove_empty_parents()


def _after_supervisor(kernel_id, returncode):
    """The supervisor this holder ran ended without stopping its kernel's group (killed:
    by SIGKILL, or by the job's memory limit; or failed): the kernel (its parent-death
    signal and the supervisor's watcher normally took it already) and what its cells
    started are stopped, and its end is told with how the supervisor ended."""
    kdir = _kernel_dir(kernel_id)
    pid = _read_int(os.path.join(kdir, "kernel.pid"))
    if not pid:
        return
    if returncode < 0:
        name = SIGNAL_NAMES.get(-returncode, "signal %d" % -returncode)
        how = "was killed by %s" % name
        if -returncode == signal.SIGKILL:
            how += " (kill -9, or the job's memory limit)"
    else:
        how = "failed (exit status %d)" % returncode
    end_orphan(kdir, pid, how)
    retell_end(kdir, how)


def _relaunch_wait(idle_timeout):
    """How long the job waits for a restart once its kernel ended: RELAUNCH_WAIT, or the
    kernel's idle timeout when that is shorter (a job nobody relaunches in is as idle as
    a kernel nobody uses), at least RELAUNCH_FLOOR."""
    try:
        idle = float(idle_timeout or 0)
    except (TypeError, ValueError):
        idle = 0.0
    if idle <= 0:
        return RELAUNCH_WAIT
    return max(RELAUNCH_FLOOR, min(RELAUNCH_WAIT, idle))


def _oom_kills():
    """OOM kills counted in this process's memory cgroup (cgroup v1 memory.oom_control,
    v2 memory.events), or None where there is none (Slurm without task/cgroup)."""
    try:
        with open("/proc/self/cgroup") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        if "memory" in parts[1].split(","):
            path = "/sys/fs/cgroup/memory" + parts[2] + "/memory.oom_control"
        elif parts[0] == "0" and not parts[1]:
            path = "/sys/fs/cgroup" + parts[2] + "/memory.events"
        else:
            continue
        try:
            with open(path) as f:
                for entry in f.read().splitlines():
                    name, _, value = entry.partition(" ")
                    if name == "oom_kill" and value.strip().isdigit():
                        return int(value)
        except OSError:
            continue
    return None


def _short_tmp():
    for base in (os.environ.get("TMPDIR"), "/tmp", "/var/tmp", "/dev/shm"):
        if base and os.path.isabs(base) and len(base) < 60 and os.path.isdir(base):
            return base
    return None


def _same_user(conn):
    """The peer is this user (Linux SO_PEERCRED); elsewhere the 0700 directory decides."""
    option = getattr(socket, "SO_PEERCRED", None)
    if option is None:
        return True
    try:
        creds = conn.getsockopt(socket.SOL_SOCKET, option, struct.calcsize("3i"))
    except OSError:
        return False
    return struct.unpack("3i", creds)[1] == os.getuid()


def _forget_record(job_id):
    """The login node's record of this job, when the home is shared and it names us."""
    try:
        names = os.listdir(JOBS)
    except OSError:
        return
    for name in names:
        path = os.path.join(JOBS, name)
        record = _read_json(path)
        if isinstance(record, dict) and str(record.get("job_id")) == job_id:
            try:
                os.unlink(path)
            except OSError:
                pass


def main():
    job_id = os.environ.get("SLURM_JOB_ID", "")
    if not job_id.isdigit():
        sys.stderr.write("jupyter-remote: not in a Slurm job (no SLURM_JOB_ID)\n")
        return 2
    os.umask(0o077)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    holder = Holder(job_id)
    stopped = None
    try:
        holder.open()
        holder.serve()
    except Stopped as exc:
        stopped = exc.signum
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        holder.close()
    if stopped:  # end by that signal, as any job's script would: Slurm reports it (0:15)
        signal.signal(stopped, signal.SIG_DFL)
        os.kill(os.getpid(), stopped)
    return 0


if __name__ == "__main__":
    sys.exit(main())
