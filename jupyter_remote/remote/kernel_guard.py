"""What keeps a kernel from outliving its supervisor, ON the remote.

Part of the agent script and of the job script (see ``jupyter_remote/remote/__init__.py``).
Stdlib only, Python >= 3.8. The supervisor (``supervisor.py``) is what stops its kernel
at its idle timeout and records how it ended: a supervisor that goes while its kernel
runs would leave an orphan holding memory and GPUs on a shared machine, with nobody to
stop it or to say what happened. So:

- SIGTERM and SIGINT to the supervisor are noted (:class:`Ending`: a flag set by the
  handler, a byte on a pipe through ``signal.set_wakeup_fd``, nothing else done in the
  handler), and its main thread, which waits on that pipe, stops the kernel as any stop
  does, records why (``ended.json``) and ends by that signal;
- SIGKILL cannot be caught: on Linux the kernel is started with PR_SET_PDEATHSIG =
  SIGKILL (:func:`pdeath_setter`, in its preexec; the supervisor's main thread forks it
  and lives as long as the process does), and on every system a watcher
  (:func:`start_watcher`), a small shell in the kernel's process group, blocks on a
  pipe only the supervisor holds open: when it reads EOF with the kernel's group still
  there, the supervisor died without stopping it; the watcher stops the group (what
  the cells started too) and dies with it. Where there is no prctl (macOS) the
  watcher alone stops the kernel.
- the next agent exec that finds a kernel whose supervisor is gone records why (and
  stops what still runs, in the supervisor's whole session: :func:`end_orphan`,
  :func:`kill_stragglers`, called from
  ``agent._status``); a job's holder does so at once for the supervisor it ran
  (``job.py``), with how it ended.
"""

import json
import os
import select
import signal
import socket
import sys
import threading
import time

# <local-imports> removed when the script is sent: the parts before it define these
from jupyter_remote.remote.kernel_dirs import _remove_scratch
from jupyter_remote.remote.kernel_stop import _end_session, _kill_group, _signal_session
from jupyter_remote.remote.pid_files import _alive, _ours_and_alive, _read_int
from jupyter_remote.remote.state import SIGNAL_NAMES, _read_json, _write_private

# </local-imports>

PR_SET_PDEATHSIG = 1
#: seconds a kernel whose supervisor ends has between SIGTERM and SIGKILL
STOP_GRACE = 2.0
#: ``ended.json``'s "supervisor" when the supervisor died without recording the end (an
#: agent exec's record; a job's holder, which knows how, tells it better)
SUPERVISOR_GONE = "gone"


def supervisor_end_text(how):
    """Why a kernel ended when its supervisor did: what the notebook's notice and
    ``kernel list`` say (the local side adds "The kernel ended on the remote: ")."""
    return "the kernel's supervisor on %s %s; the kernel was stopped" % (socket.gethostname(), how)


def signalled_text(signum):
    """``supervisor_end_text``'s ``how`` for a signal the supervisor caught."""
    name = SIGNAL_NAMES.get(signum, "signal %d" % signum)
    return "was %s (%s)" % ("interrupted" if signum == signal.SIGINT else "terminated", name)


GONE_TEXT = "was killed (kill -9, or the out-of-memory killer)"


def pdeath_setter():
    """The supervisor, before it starts the kernel: a function for the kernel's preexec
    that has Linux SIGKILL it when the thread that forked it (the supervisor's main
    thread) ends, and kills it at once when the supervisor is already gone. None where
    there is no prctl (not Linux, or no ctypes): the watcher alone guards it there."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
        args = [ctypes.c_ulong(n) for n in (signal.SIGKILL, 0, 0, 0)]
    except (ImportError, OSError, AttributeError):
        return None
    parent = os.getpid()

    def set_pdeathsig():  # in the forked child before exec: nothing imported or made here
        prctl(PR_SET_PDEATHSIG, *args)
        if os.getppid() != parent:  # the supervisor died before that was set
            os.kill(os.getpid(), signal.SIGKILL)

    return set_pdeathsig


class Ending:
    """SIGTERM or SIGINT to the supervisor, and its kernel's exit: what the supervisor's
    main thread waits for (``op_supervise``; made there, on the main thread, before the
    kernel starts). The handler only notes the signal; the C-level wakeup fd and a thread
    waiting for the kernel write on one pipe, which :meth:`nap` waits on."""

    def __init__(self):
        self.signum = 0
        self._r, self._w = os.pipe()
        os.set_blocking(self._r, False)
        os.set_blocking(self._w, False)
        signal.set_wakeup_fd(self._w)
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._note)

    def _note(self, signum, frame):
        if not self.signum:
            self.signum = signum

    def watch(self, proc):
        """A thread that waits for the kernel (``proc``) and wakes :meth:`nap` when it
        ends; ``proc.poll()`` elsewhere sees its returncode once it has it."""

        def wait():
            proc.wait()
            try:
                os.write(self._w, b"k")
            except OSError:
                pass

        threading.Thread(target=wait, daemon=True).start()

    def nap(self, seconds=None):
        """Up to ``seconds`` (None: until woken): cut short by a signal or the kernel's
        exit."""
        if not self.signum:
            try:
                select.select([self._r], [], [], seconds)
            except (InterruptedError, OSError):
                pass
        try:
            while os.read(self._r, 512):
                pass
        except OSError:  # BlockingIOError: drained
            pass

    def wait_kernel(self, proc):
        """Until the kernel has exited or the supervisor got SIGTERM/SIGINT."""
        while proc.poll() is None and not self.signum:
            self.nap()


#: The watcher (``/bin/sh``: ~1 MB, where a fork of the supervisor would count its ~30 MB
#: again, e.g. against a Slurm job's memory as jobacct_gather/linux sums it): deaf to the
#: signals the kernel's group gets (an interrupt, a stop's SIGTERM: SIGKILL follows), it
#: reads its stdin, a pipe only the supervisor holds open, until EOF; then the group gets
#: SIGTERM, ``$2`` s, SIGKILL (itself included). The next agent exec records the end
#: and stops the rest of the supervisor's session (:func:`kill_stragglers`: a cell's
#: child in a process group of its own): a session kill is not portable in sh.
WATCHER = (
    'trap "" INT TERM HUP QUIT USR1 USR2 PIPE; while read -r _; do :; done; '
    'kill -s TERM -- "-$1"; sleep "$2"; kill -s KILL -- "-$1"'
)


def start_watcher(kernel_pid):
    """The supervisor's main thread, right after the kernel started: the watcher, in the
    kernel's process group (so the group's id stays the kernel's while it lives, and
    every stop of the group ends it too). The pipe's write end stays open in the
    supervisor alone until it exits (returned; never closed). None if it could not
    start (the parent-death signal and the next agent exec remain)."""
    import subprocess

    r, w = os.pipe()  # not inherited by anything the supervisor starts later

    def join_group():
        os.setpgid(0, kernel_pid)

    try:
        subprocess.Popen(
            ["/bin/sh", "-c", WATCHER, "jr-watch", str(kernel_pid), "%g" % STOP_GRACE],
            stdin=r,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=join_group,
            close_fds=True,
            cwd="/",
        )
    except (OSError, subprocess.SubprocessError):  # the kernel is gone already, or no sh
        os.close(w)
        return None
    finally:
        os.close(r)
    return w


def end_orphan(kdir, kernel_pid, how=GONE_TEXT, grace=STOP_GRACE):
    """A kernel whose supervisor is gone (``agent._status``, a job's holder): SIGTERM to
    its group, up to ``grace`` s for the kernel to go, its end recorded as the
    supervisor's (unless recorded already, or being stopped: the stopper removes its
    files), its scratch directories removed, SIGKILL to the group. The reason now in
    ``ended.json`` (or ours). What the kernel's cells started in groups of their own
    goes with it: everything left in the dead supervisor's session."""
    sid = _read_int(os.path.join(kdir, "supervisor.pid"))
    _kill_group(kernel_pid, signal.SIGTERM)
    _signal_session(sid, signal.SIGTERM)
    deadline = time.time() + grace
    while _alive(kernel_pid) and time.time() < deadline:
        time.sleep(0.05)
    reason = supervisor_end_text(how)
    path = os.path.join(kdir, "ended.json")
    if os.path.isdir(kdir) and not os.path.exists(os.path.join(kdir, "stopping")):
        recorded = _read_json(path)
        if isinstance(recorded, dict) and recorded.get("reason"):
            reason = str(recorded["reason"])
        else:
            record = {"returncode": None, "reason": reason, "ended": time.time()}
            record["supervisor"] = SUPERVISOR_GONE
            _write_quietly(path, record)
        _remove_scratch(kdir)
    _kill_group(kernel_pid, signal.SIGKILL)
    _end_session(sid)
    return reason


def retell_end(kdir, how):
    """A job's holder, once the group is gone: an end recorded without knowing how the
    supervisor died (an agent exec's, meanwhile), told with ``how`` (the holder knows)."""
    path = os.path.join(kdir, "ended.json")
    record = _read_json(path)
    if isinstance(record, dict) and record.get("supervisor") == SUPERVISOR_GONE:
        record.update(reason=supervisor_end_text(how), supervisor=how)
        _write_quietly(path, record)


def _write_quietly(path, record):
    try:
        _write_private(path, json.dumps(record))
    except OSError:  # the directory went meanwhile (a stop, another reporter)
        pass


def supervisor_gone(kdir):
    """The kernel's supervisor has a pid file and runs no more (ours, that process)."""
    path = os.path.join(kdir, "supervisor.pid")
    if not os.path.exists(path):
        return False
    return not _ours_and_alive(_read_int(path))  # None: another process has its pid now


def kill_stragglers(kdir):
    """The kernel is gone with its supervisor and nobody stopped what its cells started
    (``agent._status``): every process still in the supervisor's session (its id is the
    supervisor's pid, not reused while one of them lives; whatever their process group)
    gets SIGTERM, 1 s, SIGKILL. Linux (/proc); elsewhere the watcher stopped the
    kernel's group and a process in a group of its own is not found."""
    _end_session(_read_int(os.path.join(kdir, "supervisor.pid")), grace=1.0)
