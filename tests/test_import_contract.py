"""The package's layout holds: no forbidden import arrow appears (issue 12, docs/ARCHITECTURE.md).

Read from the source with ``ast`` (every import statement, also inside functions and
``TYPE_CHECKING`` blocks), so a new arrow fails here before it can grow into a cycle.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "jupyter_remote"
#: ... and 3.12+'s builtin SHA-2 module, which bootcache.py imports there (_sha256 before)
STDLIB = set(sys.stdlib_module_names) | {"_sha2"}


def modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        if "labextension" in path.parts:
            continue
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        name = ".".join(rel.parts)
        yield (name[: -len(".__init__")] if name.endswith(".__init__") else name), path


def imports_of(name: str, path: Path) -> set[str]:
    """Absolute names of every module ``name`` imports (relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return found


MODULES = dict(modules())
IMPORTS = {name: imports_of(name, path) for name, path in MODULES.items()}


def top(name: str) -> str:
    return name.split(".")[0]


def inside(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def test_the_scan_sees_the_package() -> None:
    """Controls: the scan finds what it must (else every rule below passes vacuously)."""
    assert "jupyter_remote.ssh.pool" in MODULES and "jupyter_remote.web.routes" in MODULES
    assert "asyncssh" in IMPORTS["jupyter_remote.ssh.pool"]
    assert any(top(i) == "tornado" for i in IMPORTS["jupyter_remote.web.base"])
    assert "jupyter_remote.context" in IMPORTS["jupyter_remote.kernels.provisioner"] | {
        i
        for i in IMPORTS["jupyter_remote.kernels.provisioner"]
        if i.startswith("jupyter_remote.context")
    }


#: packages that may also import a library: the HTTP client of a remote Jupyter server
#: (jupyter/) speaks HTTP and websockets with tornado's client, as web/ serves with it
ALSO_AT_HOME = {"tornado": ("jupyter_remote.jupyter",)}


@pytest.mark.parametrize(
    ("library", "home"),
    [
        ("asyncssh", "jupyter_remote.ssh"),  # the only code that touches an SSH connection
        ("tornado", "jupyter_remote.web"),  # handlers, websockets, the forward proxies
    ],
)
def test_a_library_is_imported_only_by_its_package(library: str, home: str) -> None:
    homes = (home, *ALSO_AT_HOME.get(library, ()))
    offenders = sorted(
        name
        for name, found in IMPORTS.items()
        if not any(inside(name, h) for h in homes) and any(top(i) == library for i in found)
    )
    assert offenders == [], f"{library} imported outside {home}: {offenders}"


def test_nothing_below_the_web_layer_imports_it() -> None:
    """The provisioner (which papermill and console load without a server), the sessions,
    the ssh layer and the store never import the web layer."""
    offenders = sorted(
        name
        for name, found in IMPORTS.items()
        if not inside(name, "jupyter_remote.web")
        and name not in ("jupyter_remote.app",)  # the extension wires the routes
        and any(inside(i, "jupyter_remote.web") for i in found)
    )
    assert offenders == []


def test_kernels_and_sessions_need_the_context_not_the_facade() -> None:
    """The provisioner, discovery and sessions use the pool and the endpoint resolver
    (context.py), never the RemoteManager facade: no loop through it."""
    offenders = sorted(
        name
        for name, found in IMPORTS.items()
        if (inside(name, "jupyter_remote.kernels") or inside(name, "jupyter_remote.sessions"))
        and "jupyter_remote.manager" in found
    )
    assert offenders == []


@pytest.mark.parametrize(
    ("layer", "allowed"),
    [
        (
            "jupyter_remote.store",
            {"jupyter_remote.errors", "jupyter_remote.text", "jupyter_remote.remote.protocol"},
        ),
        (
            "jupyter_remote.ssh",
            {
                "jupyter_remote.errors",
                "jupyter_remote.text",
                "jupyter_remote.store",
                "jupyter_remote.remote.protocol",  # the shared definitions: a stdlib leaf
                "jupyter_remote.context",  # TYPE_CHECKING only: the caller's context
            },
        ),
    ],
)
def test_lower_layers_import_only_what_is_below_them(layer: str, allowed: set[str]) -> None:
    offenders = sorted(
        f"{name} -> {i}"
        for name, found in IMPORTS.items()
        if inside(name, layer)
        for i in found
        if top(i) == "jupyter_remote"
        and not inside(i, layer)
        and not any(inside(i, ok) for ok in allowed)
    )
    assert offenders == []


def test_remote_scripts_import_only_the_stdlib_pyzmq_and_each_other() -> None:
    """What runs ON the remote: stdlib and pyzmq (which ipykernel brings); the kernel
    launcher runs as the kernel itself, so it may also import ipykernel and debugpy."""
    offenders = []
    for name, found in IMPORTS.items():
        if not inside(name, "jupyter_remote.remote") or name == "jupyter_remote.remote":
            continue  # remote/__init__ is the local assembler of the scripts
        extra = {"ipykernel", "debugpy"} if name.endswith("kernel_launcher") else set()
        for i in found:
            root = top(i)
            if root in STDLIB or root in {"zmq", "__future__"} | extra:
                continue
            if inside(i, "jupyter_remote.remote"):
                continue
            offenders.append(f"{name} -> {i}")
    assert offenders == []


def test_remote_parts_reference_earlier_parts_only_in_their_local_imports_block() -> None:
    """A part's imports of the other parts are in its ``# <local-imports>`` block, which
    the assembler drops (remote/__init__.py): on the remote they are plain globals."""
    from jupyter_remote.remote import SCRIPTS, part_text

    for parts in SCRIPTS.values():
        for part in parts:
            text = part_text(part)
            lines = text.splitlines()
            in_block = False
            for line in lines:
                if line.startswith("# <local-imports>"):
                    in_block = True
                elif line.startswith("# </local-imports>"):
                    in_block = False
                elif "jupyter_remote" in line and line.lstrip().startswith(("from ", "import ")):
                    assert in_block, f"{part}: {line!r} would run on the remote"


def test_the_package_never_imports_the_harness_the_bench_or_the_scripts() -> None:
    """tests.harness (an sshd with throwaway keys, users with known passwords), bench and
    scripts import in a checkout (the editable install puts its root on sys.path): the
    package must not lean on them, and the wheel holds only jupyter_remote."""
    offenders = [
        f"{name} -> {i}"
        for name, found in IMPORTS.items()
        for i in found
        if top(i) in {"tests", "bench", "scripts", "ui_tests"}
    ]
    assert offenders == []


#: what loads jsonschema, whose rfc3987_syntax format checker builds a lark grammar at
#: import (~1.1 s of every CLI command, bench/analysis.md "Reconnect, discovery and 64
#: kernels"): the server needs them, the ``jupyter remote`` CLI never does
SLOW_IMPORTS = ("jupyter_events", "jsonschema", "nbformat")

#: a CLI process: the entry point runs (``--help``: nothing else), then an upload reports
#: its end on the event bus as ``files put`` does; prints which slow modules were loaded
CLI_RUN = """
import sys
from jupyter_remote.cli.main import main
{call}
from jupyter_remote.files import progress
progress.transfer("gpu", "/home/u/x.csv", "upload", "done", 3, total=3)
print("loaded:", ",".join(m for m in {slow!r} if m in sys.modules))
"""


def _loaded_by(call: str) -> str:
    code = CLI_RUN.format(call=call, slow=SLOW_IMPORTS)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
    return run.stdout.rpartition("loaded:")[2].strip()


def test_importing_the_cli_loads_neither_jupyter_events_nor_jsonschema() -> None:
    code = "import sys, jupyter_remote.cli.main; print([m for m in %r if m in sys.modules])"
    run = subprocess.run(
        [sys.executable, "-c", code % (SLOW_IMPORTS,)], capture_output=True, text=True, check=False
    )
    assert (run.returncode, run.stdout.strip()) == (0, "[]"), run.stderr


def test_a_cli_command_that_emits_an_event_does_not_load_jsonschema() -> None:
    """``files put``/``get``, ``forward`` and ``terminal`` emit events (transfers, session
    states) that never leave the CLI's process: they are not checked against the schemas.
    The control: a process that is not the CLI (the server) still checks them."""
    assert _loaded_by("try:\n    main(['--help'])\nexcept SystemExit:\n    pass") == ""
    assert _loaded_by("") == "jupyter_events,jsonschema"
