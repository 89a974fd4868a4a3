"""Kernelspecs on the probed host: runs ON the remote, part of the probe script.

Mixed into ``Probe`` (``probe.py``, the next part), whose ``run`` calls
``scan_kernelspecs`` after the environments are known (each env's
``share/jupyter/kernels`` is searched too). A Python kernelspec adds its interpreter
as an environment (``Probe.add`` / ``Probe.add_undeclared``); any other kind is listed
as a ``kernelspec`` ENV when its argv[0] is found, else named in ``errors``. Stdlib
only, Python >= 3.8.
"""

import json
import os
import shutil
from typing import Any, Callable, Dict, List, Optional

# <local-imports> removed when the script is sent: the parts before it define these
from jupyter_remote.remote.interpreters import _tilde, classify, env_python

# </local-imports>

USER_KERNEL_DIRS = ("~/.local/share/jupyter/kernels", "~/Library/Jupyter/kernels")
SYSTEM_KERNEL_DIRS = ("/usr/local/share/jupyter/kernels", "/usr/share/jupyter/kernels")
MAX_KERNEL_JSON = 1 << 20


class KernelspecScan:
    """What ``Probe`` does with kernelspecs (a mixin: the state is Probe's)."""

    # Probe's state and steps, set in Probe.__init__ or defined there
    errors: List[str]
    kernelspecs: List[Dict[str, Any]]
    prefixes: List[str]
    seen_specs: set
    children: Callable[[str], List[str]]
    add: Callable[..., None]
    add_undeclared: Callable[[str, str, str], None]

    def kernel_dirs(self) -> List[str]:
        dirs = []
        for base in os.environ.get("JUPYTER_PATH", "").split(os.pathsep):
            if base:
                dirs.append(os.path.join(base, "kernels"))
        if os.environ.get("JUPYTER_DATA_DIR"):
            dirs.append(os.path.join(os.environ["JUPYTER_DATA_DIR"], "kernels"))
        dirs += [os.path.expanduser(d) for d in USER_KERNEL_DIRS]
        dirs += [os.path.join(p, "share", "jupyter", "kernels") for p in self.prefixes]
        dirs += list(SYSTEM_KERNEL_DIRS)
        return dirs

    def scan_kernelspecs(self) -> None:
        for directory in self.kernel_dirs():
            for spec_dir in self.children(directory):
                key = os.path.realpath(spec_dir)
                if key in self.seen_specs:
                    continue
                self.seen_specs.add(key)
                spec = self.read_spec(spec_dir)
                if spec is not None:
                    self.add_kernelspec(spec_dir, spec, _tilde(directory))

    def read_spec(self, spec_dir: str) -> Optional[Dict[str, Any]]:
        path = os.path.join(spec_dir, "kernel.json")
        try:
            with open(path, "rb") as f:
                spec = json.loads(f.read(MAX_KERNEL_JSON).decode("utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            self.errors.append("cannot read %s: %s" % (_tilde(path), exc))
            return None
        argv = spec.get("argv") if isinstance(spec, dict) else None
        if not isinstance(argv, list) or not argv or not isinstance(argv[0], str) or not argv[0]:
            self.errors.append("%s has no argv" % _tilde(path))
            return None
        return spec

    def add_kernelspec(self, spec_dir: str, spec: Dict[str, Any], source: str) -> None:
        name = os.path.basename(spec_dir)
        argv0 = spec["argv"][0]
        language = str(spec.get("language") or "")
        if language.lower() == "python":
            python = argv0 if os.path.isabs(argv0) else self.spec_python(spec_dir, argv0)
            if python is None:
                return
            prefix = os.path.dirname(os.path.dirname(python))
            kind = classify(prefix)
            if kind is not None:
                self.add(prefix, kind, "kernelspec " + name, python=python)
            else:
                self.add_undeclared(python, name, "kernelspec " + name)
            return
        resolved = shutil.which(argv0)
        if resolved is None:
            self.errors.append("kernelspec %s: %s is not an executable on the PATH" % (name, argv0))
            return
        self.kernelspecs.append(
            {
                "python": os.path.abspath(resolved),
                "path": spec_dir,
                "kind": "kernelspec",
                "name": name,
                "display_name": str(spec.get("display_name") or name),
                "language": language,
                "version": "",
                "ipykernel": False,
                "source": source,
                "error": None,
            }
        )

    def spec_python(self, spec_dir: str, argv0: str) -> Optional[str]:
        """The interpreter a kernelspec's bare ``python`` means: the env holding the spec
        (PREFIX/share/jupyter/kernels/NAME), else that name on the login PATH."""
        prefix = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(spec_dir))))
        if os.path.basename(os.path.dirname(os.path.dirname(spec_dir))) == "jupyter":
            python = env_python(prefix)
            if python is not None:
                return python
        found = shutil.which(argv0)
        return os.path.abspath(found) if found else None
