"""A kernel's state directory made whole at launch, and removed whole at its end.

Part of the agent and job scripts, after ``pid_files.py``. ``launch`` makes a kernel's
directory with :func:`_make_kernel_dir`; whatever ends a kernel removes its files with
:func:`_remove_kernel_files` (its supervisor after a stop or a shutdown request, a
failed start, ``kernel_stop._stop_dir``, the agent once an end was reported), and the
state directories go with the last kernel (:func:`_remove_empty_parents`, also the
Slurm side's). The sweeps: ``launch`` and ``list`` forget the records of kernels that
died more than ``state.ENDED_KEPT`` s ago (:func:`_forget_old_ends`), and every
``launch`` the temporary directories of launches killed before their rename.
"""

import os
import shutil
import stat
import tempfile
import time

# <local-imports> removed when the script is sent: the parts before it define these
from jupyter_remote.remote.pid_files import _ours_and_alive, _write_pid
from jupyter_remote.remote.state import (
    CODE_CACHE,
    ENDED_KEPT,
    HOLDERS,
    JOBS,
    KERNELS,
    ROOT,
    AgentError,
    _kernel_names,
    _read_json,
    _write_private,
)

# </local-imports>

#: In a kernel's directory from the moment it exists: the launching agent's pid and
#: identity (as ``pid_files._write_pid`` writes). The directory is made under a temporary
#: name (:data:`UNBORN`, its pid in it) with this file inside and renamed into place, so a
#: kernel without a supervisor yet is "starting" exactly while that very process runs:
#: no clock compared (an NFS server's may be far from ours; review s22 F4).
LAUNCHING = "launching"
UNBORN = ".launching-"


def _make_kernel_dir(kdir, early=None):
    """``launch``: ``kdir`` (0700) appears at once, holding :data:`LAUNCHING` and the
    ``early`` files (name: text); temporary directories of killed launches go first."""
    _forget_unborn()
    made = tempfile.mkdtemp(prefix="%s%d-" % (UNBORN, os.getpid()), dir=KERNELS)
    try:
        _write_pid(os.path.join(made, LAUNCHING), os.getpid())
        for name, text in (early or {}).items():
            _write_private(os.path.join(made, name), text)
        os.rename(made, kdir)
    except BaseException as exc:
        shutil.rmtree(made, ignore_errors=True)
        if isinstance(exc, OSError):
            raise AgentError("could not make the kernel's directory: %s" % exc) from None
        raise


def _forget_unborn():
    """The temporary directories of launches killed before their rename (whose agent,
    named in the directory's name, runs no more)."""
    try:
        names = os.listdir(KERNELS)
    except OSError:
        return
    for name in names:
        pid = name[len(UNBORN) :].split("-", 1)[0]
        if name.startswith(UNBORN) and pid.isdigit() and not _ours_and_alive(int(pid)):
            _remove_scratch(os.path.join(KERNELS, name))
            _remove_owned_tree(os.path.join(KERNELS, name))


def _remove_owned_tree(path):
    """rm -r ``path`` if it is a real directory of ours (never through a symlink)."""
    try:
        st = os.lstat(path)
    except OSError:
        return
    if stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid():
        shutil.rmtree(path, ignore_errors=True)


def _remove_empty_parents():
    """The state directories no kernel needs any more; the bytecode cache once no kernel,
    job or holder state is left (nothing of ours outlives the kernels)."""
    for d in (KERNELS, JOBS, HOLDERS):
        try:
            os.rmdir(d)
        except OSError:
            pass
    if not any(os.path.isdir(d) for d in (KERNELS, JOBS, HOLDERS)):
        _remove_owned_tree(CODE_CACHE)
    try:
        os.rmdir(ROOT)
    except OSError:
        pass


def _remove_scratch(kdir):
    """The kernel's socket directory and ipykernel's cell-file directory."""
    info = _read_json(os.path.join(kdir, "info.json")) or {}
    if info.get("sockdir"):
        _remove_owned_tree(info["sockdir"])
    try:
        with open(os.path.join(kdir, "ipykernel_tmp")) as f:
            _remove_owned_tree(f.read().strip())
    except OSError:
        pass


def _remove_kernel_files(kdir):
    """Everything of one kernel: scratch directories, then its state directory."""
    _remove_scratch(kdir)
    shutil.rmtree(kdir, ignore_errors=True)
    _remove_empty_parents()


def _forget_old_ends(now=None):
    """Remove the records of kernels that died more than ENDED_KEPT seconds ago, reported
    or not (``launch`` and ``list`` call this: nothing on the remote runs in between)."""
    now = time.time() if now is None else now
    for name in _kernel_names():
        kdir = os.path.join(KERNELS, name)
        ended = _read_json(os.path.join(kdir, "ended.json"))
        if not isinstance(ended, dict):
            continue
        when = ended.get("ended")
        if isinstance(when, (int, float)) and now - when > ENDED_KEPT:
            _remove_kernel_files(kdir)
