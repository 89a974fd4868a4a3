"""Install jupyterlab-remote as users do, and check that it works (``make test`` runs this).

Builds the sdist and the wheel with ``python -m build`` (the wheel from the sdist, as
pip would), installs the wheel with JupyterLab into a fresh virtual environment, and
checks there: the server extension is enabled, the lab extension is enabled, the
``jupyter remote`` command runs, and jupyter_client finds our kernel provisioner.
Exits 1 with what failed. ``--keep DIR`` leaves the venv and the files in DIR.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(argv: list[str], **kwargs: object) -> str:
    """Run a step; its output, or exit 1 showing it."""
    print("+", " ".join(argv), flush=True)
    proc = subprocess.run(argv, capture_output=True, text=True, check=False, **kwargs)  # type: ignore[call-overload]
    if proc.returncode != 0:
        print(proc.stdout[-4000:], proc.stderr[-4000:], sep="\n", file=sys.stderr)
        sys.exit(f"check_dist: {' '.join(argv[:3])} ... failed ({proc.returncode})")
    return str(proc.stdout) + str(proc.stderr)


def expect(output: str, *words: str, what: str) -> None:
    lines = [line for line in output.splitlines() if all(w in line for w in words)]
    if not lines:
        print(output, file=sys.stderr)
        sys.exit(f"check_dist: {what}: no line with {words!r}")
    print(f"ok: {what}: {lines[0].strip()}")


def check(work: Path) -> None:
    started = time.monotonic()
    dist = work / "dist"
    run([sys.executable, "-m", "build", "--outdir", str(dist), str(ROOT)], cwd=ROOT)
    sdists = sorted(dist.glob("jupyterlab_remote-*.tar.gz"))
    wheels = sorted(dist.glob("jupyterlab_remote-*.whl"))
    if not (sdists and wheels):
        sys.exit(f"check_dist: build made {sorted(p.name for p in dist.iterdir())}")
    print(f"ok: built {sdists[0].name} and {wheels[0].name}")

    venv = work / "venv"
    run([sys.executable, "-m", "venv", str(venv)])
    bin_dir = venv / "bin"
    run([str(bin_dir / "pip"), "install", "-q", "jupyterlab>=4.6,<5", str(wheels[0])])
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(work / "home")}
    (work / "home").mkdir(exist_ok=True)
    jupyter = str(bin_dir / "jupyter")
    expect(
        run([jupyter, "server", "extension", "list"], env=env),
        "jupyter_remote",
        "OK",
        what="server extension enabled",
    )
    expect(
        run([jupyter, "labextension", "list"], env=env),
        "jupyterlab-remote",
        "enabled",
        "OK",
        what="lab extension enabled",
    )
    expect(run([jupyter, "remote", "--help"], env=env), "server", what="jupyter remote runs")
    code = (
        "from importlib.metadata import entry_points;"
        "eps = entry_points(group='jupyter_client.kernel_provisioners');"
        "print([e.name for e in eps if e.load().__name__ == 'SSHProvisioner'])"
    )
    expect(
        run([str(bin_dir / "python"), "-c", code], env=env),
        "ssh-provisioner",
        what="kernel provisioner registered",
    )
    print(f"check_dist: all good in {time.monotonic() - started:.0f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keep", type=Path, help="work in DIR and leave it there")
    args = parser.parse_args()
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        check(args.keep)
    else:
        with tempfile.TemporaryDirectory(prefix="jr-dist-") as work:
            check(Path(work))
    return 0


if __name__ == "__main__":
    sys.exit(main())
