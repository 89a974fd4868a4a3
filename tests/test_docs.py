"""docs/ARCHITECTURE.md matches the tree: every module it names exists, every module is named.

And the README and docs point nowhere outside the repository.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "ARCHITECTURE.md"


def layout_modules() -> set[str]:
    """Module paths (relative to jupyter_remote/) listed in the layout block of the doc."""
    text = DOC.read_text(encoding="utf-8")
    block = text.split("## Layout", 1)[1].split("```", 2)[1]
    return {m.group(1) for m in re.finditer(r"^  ([\w/]+\.(?:py|json))\s", block, re.M)}


def package_modules() -> set[str]:
    package = ROOT / "jupyter_remote"
    found = {
        str(p.relative_to(package)) for p in package.rglob("*.py") if "labextension" not in p.parts
    }
    return found | {"openapi.json"}


def test_the_layout_names_exactly_the_modules_of_the_package() -> None:
    named, present = layout_modules(), package_modules()
    assert len(named) > 40  # control: the block was found and read
    assert sorted(named - present) == [], "named in docs/ARCHITECTURE.md but missing"
    assert sorted(present - named) == [], "in the package but not in docs/ARCHITECTURE.md"


def test_tests_named_by_the_invariants_table_exist() -> None:
    text = DOC.read_text(encoding="utf-8")
    table = text.split("## Invariants", 1)[1].split("##", 1)[0]
    files = set(re.findall(r"`((?:tests|ui-tests/tests)/[\w./-]+\.(?:py|ts))", table))
    assert len(files) >= 10
    assert [f for f in sorted(files) if not (ROOT / f).is_file()] == []
    for path, name in re.findall(r"`(tests/[\w./]+\.py)::(\w+)`", table):
        assert f"def {name}(" in (ROOT / path).read_text(encoding="utf-8"), (path, name)


def test_readme_and_docs_point_nowhere_outside_the_repository() -> None:
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = path.read_text(encoding="utf-8")
        assert "../shared" not in text, path
        for target in re.findall(r"\]\(([^)#]+)", text):
            if re.match(r"[a-z]+:", target):
                continue  # a URL, not a file
            assert (path.parent / target).resolve().is_relative_to(ROOT), (path, target)
            assert (path.parent / target).exists(), (path, target)
