"""The module map of harness/: lines per module, and which harness modules each stage imports.

A restructuring is judged by the map before and after it; this prints it so the two can be
compared as text (run it on each commit: `python bench/module_map.py [--stages] [--within PACKAGE]`).
A stage is a top-level module or package of harness/; its imports are every `harness.X` it names at
any depth (imports inside functions included: they are dependencies all the same), folded to X.
`--within PACKAGE` adds the same for each module of one package (the phases of harness/evaluate/),
with the package's own modules named in full.
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

HARNESS = Path(__file__).resolve().parent.parent / "harness"


def stage_of(path: Path) -> str:
    """`harness/report/costs.py` -> report, `harness/evaluate.py` -> evaluate."""
    return path.relative_to(HARNESS).parts[0].removesuffix(".py")


def imported(path: Path, within: str | None = None) -> set[str]:
    """The harness stages a module names in its import statements (`within`'s modules in full)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] + ([f"{node.module}.{a.name}" for a in node.names] if node.module == "harness" else [])
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] != "harness" or len(parts) < 2 or not _is_module(parts[1]):
                continue
            found.add(".".join(parts[1:3]) if parts[1] == within and len(parts) > 2 else parts[1])
    return found


def _is_module(name: str) -> bool:
    return (HARNESS / f"{name}.py").is_file() or (HARNESS / name).is_dir()


def main() -> None:
    modules = sorted(p for p in HARNESS.rglob("*.py"))
    stages: dict[str, set[str]] = defaultdict(set)
    for path in modules:
        stages[stage_of(path)] |= imported(path) - {stage_of(path)}
    if "--stages" not in sys.argv:
        for path in modules:
            print(f"{len(path.read_text(encoding='utf-8').splitlines()):5d}  {path.relative_to(HARNESS.parent)}")
        print()
    for stage in sorted(stages):
        print(f"{stage:12s} {len(stages[stage]):2d}  {', '.join(sorted(stages[stage]))}")
    if "--within" in sys.argv:
        package = sys.argv[sys.argv.index("--within") + 1]
        print()
        for path in sorted((HARNESS / package).glob("*.py")):
            found = sorted(imported(path, package) - {package})
            print(f"{package}/{path.name:14s} {len(path.read_text(encoding='utf-8').splitlines()):4d} lines {len(found):2d}  {', '.join(found)}")


if __name__ == "__main__":
    main()
