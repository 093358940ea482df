"""What `pip install .` (no extras) brings must be enough to run the pipeline: every package that a module of
orchestration/ imports at module level comes with the project's own dependencies (directly or through them).
A dev-only package imported at run time passes every test (the tests install dev) and fails a user's run."""

from __future__ import annotations

import ast
import re
import sys
from importlib.metadata import distribution, packages_distributions
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "orchestration"


def _name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;(]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _installed_closure(root: str) -> set[str]:
    """The distributions `pip install root` brings (no extras of root; extras its dependencies ask for)."""
    seen: set[str] = set()
    todo = [(root, set())]
    while todo:
        name, extras = todo.pop()
        if name in seen and not extras:
            continue
        seen.add(name)
        try:
            requires = distribution(name).requires or []
        except Exception:  # an optional dependency not installed here cannot be required
            continue
        for requirement in requires:
            marker = requirement.split(";", 1)[1] if ";" in requirement else ""
            wanted = re.findall(r"extra\s*==\s*['\"]([^'\"]+)['\"]", marker)
            if wanted and not set(wanted) & extras:
                continue
            if "python_version" in marker or "sys_platform" in marker or "platform_" in marker:
                continue  # environment-specific extras of dependencies are not what this checks
            inner = re.search(r"\[([^\]]+)\]", requirement.split(";", 1)[0])
            todo.append((_name(requirement), set(inner.group(1).split(",")) if inner else set()))
    return seen


def _module_level_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = set()
    for node in tree.body:  # module level only: imports inside functions are for optional engines (Spark)
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def test_every_module_level_import_comes_with_the_main_dependencies():
    closure = {name.replace("_", "-") for name in _installed_closure("customer360")}
    owners = packages_distributions()
    missing = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for module in _module_level_imports(path):
            if module in sys.stdlib_module_names or module in ("orchestration", "__future__"):
                continue
            distributions = {d.lower().replace("_", "-") for d in owners.get(module, [])}
            if distributions and not distributions & closure:
                missing.setdefault(module, []).append(path.relative_to(PACKAGE.parent).as_posix())
    assert not missing, f"imported at run time but only in an extra: {missing}"
