"""Environment probe: runs ON the remote host, sent over stdin, never installed.

Stdlib only, Python >= 3.8 (no 3.9+ syntax or API). ``discovery.Discovery``
runs it with ONE SSH exec: the command line is ``remote.command_on_path()``
(fixed text) and stdin is ``remote.stdin_payload(script_text("probe"), REQUEST)``.

REQUEST, one JSON line after the framed script (every field optional)::

    {"cwds": ["/srv/proj", "~/work"],   # profile working dirs: their .venv / venv
     "pythons": ["~/envs/t/bin/python"], # interpreters of profiles: always listed
     "budget": 20,                      # seconds for the whole probe
     "per_env": 10,                     # seconds for one interpreter check
     "workers": 8}                      # interpreters checked in parallel

ANSWER on stdout: the last line starting with :data:`protocol.PROBE_RESULT_MARKER`, followed
by one JSON object (login files may print noise before it)::

    {"protocol": 1, "elapsed": 1.42, "errors": ["..."], "home": "/home/u",
     "probe": {"python": "/usr/bin/python3", "version": "3.11.2"},
     "tools": {"uv": "/home/u/.local/bin/uv", "conda": null},
     "gpus": {"found": true, "gpus": {"status": 0, "output": "CSV"}, "apps": {...}},
     "slurm": {"found": true, "version": {"status": 0, "output": "..."}, ...},
     "envs": [ENV, ...]}

``gpus`` is nvidia-smi's raw answer (``remote/gpus.py``); ``kernels/gpus.py`` parses it.
``slurm`` is the raw answer of Slurm's commands (``remote/slurm_probe.py``);
``kernels/slurm_info.py`` parses it.

ENV of a Python environment (kind conda|venv|virtualenv|uv|pyenv|system)::

    {"python": "/home/u/.virtualenvs/t/bin/python",  # what to launch (never resolved:
     "path": "/home/u/.virtualenvs/t",                #  venv pythons symlink to the base)
     "kind": "virtualenv", "name": "t", "version": "3.11.2", "ipykernel": true,
     "source": "~/.virtualenvs", "error": null}

``error`` is a string (``"timed out after 10 s"``, ``"exit status 1: ..."``) when
the interpreter could not be checked; then version is "" and ipykernel false.

ENV of a non-Python kernelspec (R, Julia, ...); one whose argv[0] cannot be
found is left out and named in ``errors``::

    {"python": "/usr/bin/R",    # absolute argv[0] (shutil.which); the field keeps its
     "path": "/home/u/.local/share/jupyter/kernels/ir",  # name so every ENV looks alike
     "kind": "kernelspec", "name": "ir", "display_name": "R", "language": "R",
     "version": "", "ipykernel": false, "source": "...kernels", "error": null}

Python kernelspecs are not listed as ``kernelspec``: their env already is. When
argv[0] of one is an interpreter not found otherwise (absolute, or a name on the
login PATH), that interpreter is checked and listed as an environment of its own
(source "kernelspec NAME"). So is each interpreter of a profile (source "profile"),
also when it no longer runs (with its error), so the list always holds them.

Every interpreter runs in its own session with a timeout (killed with its whole
process group), all in parallel, under one time budget: a hanging env comes
back as an error, it never hangs the probe.

Kinds: ``conda-meta/`` makes conda; else ``pyvenv.cfg`` keys decide: ``uv`` ->
uv, ``virtualenv`` -> virtualenv (pipenv, pyenv-virtualenv...), else venv; a
``.venv`` next to ``poetry.lock`` counts as venv. Plain interpreters under
pyenv's ``versions/`` are pyenv; the login PATH's python3 is system unless its
prefix is one of the kinds above. Duplicates go by env prefix (realpath of the
env directory, not of its python).
"""

import json
import os
import shutil
import sys
import time
from typing import Any, Dict, List, Optional

# <local-imports> removed when the script is sent: the parts before it define these
from jupyter_remote.remote.gpus import collect_gpus
from jupyter_remote.remote.interpreters import (
    _home,
    _tilde,
    check_many,
    check_python,
    classify,
    env_name,
    env_python,
    untrusted_prefix,
)
from jupyter_remote.remote.kernelspec_scan import KernelspecScan
from jupyter_remote.remote.protocol import ENV_KINDS, PROBE_RESULT_MARKER
from jupyter_remote.remote.slurm_probe import collect_slurm
from jupyter_remote.remote.tools import find_tools

# </local-imports>

PROTOCOL = 1

CONDA_ROOTS = (
    "~/miniconda3",
    "~/anaconda3",
    "~/miniforge3",
    "~/mambaforge",
    "~/micromamba",
    "~/.local/share/mamba",
    "/opt/conda",
    "/opt/miniconda3",
    "/opt/anaconda3",
    "/opt/miniforge3",
    "/opt/mambaforge",
    "/usr/local/miniconda3",
    "/usr/local/anaconda3",
)
VENV_HOMES = (
    "~/.virtualenvs",
    "~/venvs",
    "~/envs",
    "~/.venvs",
    "~/.cache/pypoetry/virtualenvs",
    "~/.local/share/virtualenvs",
)
PROJECT_VENVS = (".venv", "venv")
MAX_CWDS = 64
MAX_CHILDREN = 500


class Probe(KernelspecScan):
    """One probe run: scan for candidates, check them in parallel, answer.

    Kernelspecs are found by ``kernelspec_scan.KernelspecScan`` (the part before)."""

    def __init__(self, request: Dict[str, Any]) -> None:
        self.started = time.monotonic()
        self.budget = _number(request.get("budget"), 20.0, 1.0, 600.0)
        self.per_env = _number(request.get("per_env"), 10.0, 0.5, self.budget)
        self.workers = int(_number(request.get("workers"), 8, 1, 32))
        self.cwds = _cwds(request.get("cwds"))
        self.pythons = _cwds(request.get("pythons"))
        self.errors = []  # type: List[str]
        self.candidates = []  # type: List[Dict[str, Any]]
        self.kernelspecs = []  # type: List[Dict[str, Any]]
        self.prefixes = []  # type: List[str]
        self.seen = set()  # type: set
        self.seen_specs = set()  # type: set

    # ------------------------------------------------------------ filesystem

    def children(self, directory: str) -> List[str]:
        """Sub-directories of ``directory`` (sorted, capped); missing dir -> []."""
        try:
            names = sorted(os.listdir(directory))[:MAX_CHILDREN]
        except (FileNotFoundError, NotADirectoryError):
            return []
        except OSError as exc:
            self.errors.append("cannot list %s: %s" % (_tilde(directory), exc.strerror))
            return []
        paths = [os.path.join(directory, n) for n in names]
        return [p for p in paths if os.path.isdir(p)]

    def read_lines(self, path: str) -> List[str]:
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                return [line.strip() for line in f.read(1 << 20).splitlines() if line.strip()]
        except (FileNotFoundError, NotADirectoryError):
            return []
        except OSError as exc:
            self.errors.append("cannot read %s: %s" % (_tilde(path), exc.strerror))
            return []

    # ------------------------------------------------------------ candidates

    def add(
        self,
        prefix: str,
        kind: str,
        source: str,
        python: Optional[str] = None,
        name: Optional[str] = None,
        chosen: bool = False,
    ) -> None:
        """Remember an env prefix once (by realpath of the prefix directory). One that
        another user controls is never run (named in errors instead), unless the user
        chose it for a saved profile (``chosen``)."""
        key = os.path.realpath(prefix)
        if key in self.seen:
            return
        unsafe = None if chosen else untrusted_prefix(prefix)
        if unsafe is not None:
            self.errors.append("not run: %s (%s)" % (_tilde(prefix), unsafe))
            return
        self.seen.add(key)
        self.prefixes.append(prefix)
        python = python or env_python(prefix)
        if python is None:
            return  # e.g. an R-only conda env: only its kernelspecs matter
        self.candidates.append(
            {
                "python": python,
                "path": prefix,
                "kind": kind,
                "name": name or env_name(prefix),
                "source": source,
                "key": key,
            }
        )

    def add_if_env(self, prefix: str, source: str, default: Optional[str] = None) -> None:
        kind = classify(prefix) or default
        if kind is not None:
            self.add(prefix, kind, source)

    def scan_cwds(self) -> None:
        for cwd in self.cwds:
            for sub in PROJECT_VENVS:
                prefix = os.path.join(cwd, sub)
                kind = classify(prefix)
                if kind is None:
                    continue
                if kind == "virtualenv" and os.path.isfile(os.path.join(cwd, "poetry.lock")):
                    kind = "venv"  # poetry's in-project env
                self.add(prefix, kind, "cwd " + _tilde(cwd))

    def scan_conda(self) -> None:
        home = _home()
        txt = os.path.join(home, ".conda", "environments.txt")
        for line in self.read_lines(txt):
            if os.path.isabs(line):
                self.add_if_env(line, "~/.conda/environments.txt")
        roots = [os.path.expanduser(r) for r in CONDA_ROOTS]
        env = os.environ
        if env.get("CONDA_EXE"):
            roots.insert(0, os.path.dirname(os.path.dirname(env["CONDA_EXE"])))
        for var in ("MAMBA_ROOT_PREFIX", "CONDA_PREFIX"):
            if env.get(var):
                roots.insert(0, env[var])
        env_dirs = [os.path.join(home, ".conda", "envs")]
        env_dirs += [p for p in env.get("CONDA_ENVS_PATH", "").split(os.pathsep) if p]
        for root in roots:
            if os.path.isdir(os.path.join(root, "conda-meta")):
                self.add(root, "conda", _tilde(root))
            env_dirs.append(os.path.join(root, "envs"))
        for directory in env_dirs:
            for prefix in self.children(directory):
                if os.path.isdir(os.path.join(prefix, "conda-meta")):
                    self.add(prefix, "conda", _tilde(directory))

    def scan_venvs(self) -> None:
        homes = [os.path.expanduser(h) for h in VENV_HOMES]
        if os.environ.get("WORKON_HOME"):
            homes.insert(0, os.path.expanduser(os.environ["WORKON_HOME"]))
        for directory in homes:
            for prefix in self.children(directory):
                self.add_if_env(prefix, _tilde(directory))

    def scan_pyenv(self) -> None:
        root = os.environ.get("PYENV_ROOT") or os.path.join(_home(), ".pyenv")
        versions = os.path.join(os.path.expanduser(root), "versions")
        for prefix in self.children(versions):
            self.add_if_env(prefix, _tilde(versions), default="pyenv")

    def scan_profiles(self) -> None:
        """The interpreters of saved profiles: listed even when nothing else finds them."""
        for python in self.pythons:
            prefix = os.path.dirname(os.path.dirname(python))
            kind = classify(prefix)
            if kind is not None:
                self.add(prefix, kind, "profile", python=python, chosen=True)
            else:
                self.add_undeclared(python, os.path.basename(python), "profile")

    def scan_path(self) -> None:
        """The login PATH's python3: system, unless it lives in an env of a known kind."""
        python = shutil.which("python3") or shutil.which("python")
        if python is None:
            self.errors.append("no python3 or python on the login PATH")
            return
        prefix = os.path.dirname(os.path.dirname(python))
        kind = classify(prefix)
        if kind is not None:
            self.add(prefix, kind, "PATH", python=python)
        else:
            self.add_undeclared(python, "system", "PATH")

    def add_undeclared(self, python: str, name: str, source: str) -> None:
        """An interpreter whose env prefix is only known after checking it."""
        if any(c["python"] == python for c in self.candidates):
            return
        self.candidates.append(
            {"python": python, "path": "", "kind": "system", "name": name, "source": source}
        )

    # ------------------------------------------------------------ checks

    def remaining(self) -> float:
        return self.budget - 0.3 - (time.monotonic() - self.started)

    def check(self, candidate: Dict[str, Any]) -> Dict[str, Any]:
        result = check_python(candidate["python"], min(self.per_env, self.remaining()))
        env = {k: v for k, v in candidate.items() if k != "key"}
        env.update(version="", ipykernel=False, error=None)
        if "error" in result:
            env["error"] = str(result["error"])
            return env
        env["version"] = str(result.get("version") or "")
        env["ipykernel"] = bool(result.get("ipykernel"))
        if not env["path"]:
            env["path"] = str(result.get("prefix") or "")
        return env

    def check_all(self) -> List[Dict[str, Any]]:
        if not self.candidates:
            return []
        checked = check_many(self.candidates, self.check, self.workers)
        declared = {c["key"] for c in self.candidates if "key" in c}
        envs = []
        for candidate, env in zip(self.candidates, checked):
            if "key" not in candidate and env["path"]:
                if os.path.realpath(env["path"]) in declared:
                    continue  # PATH's python3 is an env listed already
                declared.add(os.path.realpath(env["path"]))
            envs.append(env)
        return envs

    def run(self) -> Dict[str, Any]:
        for scan in (
            self.scan_cwds,
            self.scan_conda,
            self.scan_venvs,
            self.scan_pyenv,
            self.scan_path,
            self.scan_kernelspecs,
            self.scan_profiles,
        ):
            try:
                scan()
            except Exception as exc:  # one odd directory must not cost the whole answer
                self.errors.append("%s failed: %s: %s" % (scan.__name__, type(exc).__name__, exc))
        tools = find_tools()
        gpus = collect_gpus()
        slurm = collect_slurm()
        envs = self.check_all() + self.kernelspecs
        envs.sort(key=lambda e: (ENV_KINDS.index(e["kind"]), e["name"].lower(), e["python"]))
        return {
            "protocol": PROTOCOL,
            "envs": envs,
            "elapsed": round(time.monotonic() - self.started, 3),
            "errors": self.errors,
            "home": _home(),
            "probe": {"python": sys.executable, "version": "%d.%d.%d" % sys.version_info[:3]},
            "tools": tools,
            "gpus": gpus,
            "slurm": slurm,
        }


def _number(value: Any, default: float, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return default
    return float(min(max(value, low), high))


def _cwds(value: Any) -> List[str]:
    """Request cwds as absolute paths (``~`` expanded, relative = under home); data only."""
    if not isinstance(value, list):
        return []
    cwds = []
    for item in value[:MAX_CWDS]:
        if not isinstance(item, str) or not item or "\0" in item or len(item) > 4096:
            continue
        path = os.path.expanduser(item) if item.startswith("~") else item
        cwds.append(os.path.normpath(os.path.join(_home(), path)))
    return cwds


def main() -> int:
    """Read the request line from stdin, probe, print the marked answer."""
    line = sys.stdin.buffer.readline().decode("utf-8", "replace")
    try:
        request = json.loads(line) if line.strip() else {}
    except ValueError:
        request = {}
    if not isinstance(request, dict):
        request = {}
    answer = Probe(request).run()
    sys.stdout.write("\n" + PROBE_RESULT_MARKER + json.dumps(answer) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
