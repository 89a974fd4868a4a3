"""What a test host's login PATH holds besides Debian: a system-like Python that refuses
pip (PEP 668) and has no ipykernel, and an ``nvidia-smi`` stand-in (there is no GPU here).

Stdlib only. ``HostTools()`` makes a directory (0755, readable by the remote user)
with ``bin/python3`` and ``bin/nvidia-smi``; put ``tools.bin`` first on the login PATH
with ``SSHTestHost(extra_config={"SetEnv": f"PATH={tools.bin}:/usr/bin:/bin"})``.

- ``bin/python3`` is a copy of Debian's interpreter binary in a prefix of its own whose
  stdlib is Debian's (symlinks) plus an ``EXTERNALLY-MANAGED`` marker, with Debian's
  dist-packages (pip, no ipykernel): pip refuses to install into it exactly as into
  /usr/bin/python3, which is never touched. ``python3 -m venv`` works from it.
- ``bin/nvidia-smi`` answers the two queries jupyter-remote makes in the real tool's
  formats (``--format=csv,noheader,nounits`` and ``--format=csv,noheader``), from files a
  test writes with :meth:`HostTools.gpus`; :meth:`HostTools.no_driver` makes it fail as
  the real one does on a machine without the driver (exit 9, its message on stdout).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

SYSTEM_PYTHON = "/usr/bin/python3"

#: What the real nvidia-smi prints (stdout) and its exit status without a driver.
NO_DRIVER_TEXT = (
    "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. "
    "Make sure that the latest NVIDIA driver is installed and running.\n"
)
NO_DRIVER_STATUS = 9
GPU_QUERY = "--query-gpu=index,uuid,name,memory.used,memory.total,utilization.gpu"
APPS_QUERY = "--query-compute-apps=gpu_uuid,pid"

#: The stand-in: a query it does not know is refused like the real tool (exit 2).
NVIDIA_SMI = f"""#!/bin/sh
here=$(dirname "$0")/../smi
if [ -f "$here/no-driver" ]; then
  printf '%s' "$(cat "$here/no-driver")"
  printf '\\n'
  exit {NO_DRIVER_STATUS}
fi
case "$1 $2" in
  "{GPU_QUERY} --format=csv,noheader,nounits") cat "$here/gpus.csv" 2>/dev/null ;;
  "{APPS_QUERY} --format=csv,noheader") cat "$here/apps.csv" 2>/dev/null ;;
  *) echo 'Invalid combination of input arguments. Please run "nvidia-smi -h" for help.'
     exit 2 ;;
esac
exit 0
"""

EXTERNALLY_MANAGED = """[externally-managed]
Error=This test interpreter is managed by the system (PEP 668), like Debian's python3.
 Create a virtual environment to install packages.
"""


class HostTools:
    """The tools directory of one test host (remove it with :meth:`close`)."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="jr-host-tools-", dir="/tmp"))
        os.chmod(self.root, 0o755)  # noqa: S103 - the remote user reads and runs it
        self.bin = self.root / "bin"
        self.smi = self.root / "smi"
        self.bin.mkdir(mode=0o755)
        self.smi.mkdir(mode=0o755)
        self.python = str(self.bin / "python3")
        self._make_python()
        smi = self.bin / "nvidia-smi"
        smi.write_text(NVIDIA_SMI)
        smi.chmod(0o755)
        self.gpus([], [])

    def _make_python(self) -> None:
        real = os.path.realpath(SYSTEM_PYTHON)  # /usr/bin/python3.11
        version = os.path.basename(real)
        stdlib_src = Path("/usr/lib") / version
        if not stdlib_src.is_dir():  # pragma: no cover - another distribution
            raise RuntimeError(f"{stdlib_src} not found: HostTools needs Debian's python3")
        shutil.copy2(real, self.python)
        stdlib = self.root / "lib" / version
        stdlib.mkdir(parents=True)
        for entry in stdlib_src.iterdir():
            if entry.name != "EXTERNALLY-MANAGED":
                (stdlib / entry.name).symlink_to(entry)
        (stdlib / "EXTERNALLY-MANAGED").write_text(EXTERNALLY_MANAGED)
        dist = self.root / "lib" / "python3"
        dist.mkdir()
        (dist / "dist-packages").symlink_to("/usr/lib/python3/dist-packages")
        for path in (self.root / "lib", stdlib, dist):
            os.chmod(path, 0o755)  # noqa: S103

    def gpus(self, devices: list[str], apps: list[str]) -> None:
        """The stand-in answers with these CSV lines (each as the real tool prints one)."""
        with contextlib.suppress(FileNotFoundError):
            (self.smi / "no-driver").unlink()
        (self.smi / "gpus.csv").write_text("".join(f"{line}\n" for line in devices))
        (self.smi / "apps.csv").write_text("".join(f"{line}\n" for line in apps))
        for name in ("gpus.csv", "apps.csv"):
            os.chmod(self.smi / name, 0o644)

    def no_driver(self, text: str = NO_DRIVER_TEXT.rstrip("\n")) -> None:
        """Fail as nvidia-smi does on a machine without the NVIDIA driver."""
        (self.smi / "no-driver").write_text(text)
        os.chmod(self.smi / "no-driver", 0o644)

    def path(self) -> str:
        """The login PATH to give the test host: these tools first, then the system's."""
        return f"{self.bin}:/usr/local/bin:/usr/bin:/bin"

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


#: Two A100s as ``nvidia-smi`` prints them; the second reports no utilisation (MIG mode).
SAMPLE_GPUS = [
    "0, GPU-6e1c2b3a-0f3e-d7a1-5c4e-7b2f9a8d1c01, NVIDIA A100-SXM4-80GB, 10541, 81920, 87",
    "1, GPU-0b9d42f1-77aa-4c1e-9e55-3c2d1e0f4a92, NVIDIA A100-SXM4-80GB, 4, 81920, [N/A]",
]
#: Two compute processes on GPU 0, none on GPU 1.
SAMPLE_APPS = [
    "GPU-6e1c2b3a-0f3e-d7a1-5c4e-7b2f9a8d1c01, 48211",
    "GPU-6e1c2b3a-0f3e-d7a1-5c4e-7b2f9a8d1c01, 48377",
]
