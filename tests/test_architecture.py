"""The layout holds: which package may import which (docs/architecture.md), no cycles, lean plugins.

Imports are read from the source (every ``import`` statement, also inside functions; not those under
``if TYPE_CHECKING:``, which never run), so a forbidden arrow fails here before it fails a user.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from functools import cache
from pathlib import Path

import pytest

import dreamcore

ROOT = Path(__file__).resolve().parent.parent
PACKAGE_DIRS = {"dreamcore": ROOT / "dreamcore", "dreamcore_plugins": ROOT / "plugins"}
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())

# The layers of docs/architecture.md, lowest first: a unit imports only units of its own layer or below.
LAYERS = [
    {"dreamcore.errors", "dreamcore.models"},
    {"dreamcore.config", "dreamcore.hookspecs", "dreamcore.progress", "dreamcore.output"},
    {"dreamcore.store", "dreamcore.analysis", "dreamcore.llm"},
    {"dreamcore.plugin_manager", "dreamcore.pipeline", "dreamcore.executor", "dreamcore.core"},
    {"dreamcore.generation", "dreamcore.evaluation", "dreamcore.sandbox", "dreamcore.learning"},
    {"dreamcore.report", "dreamcore.distributed"},
    {"dreamcore", "dreamcore.cli", "dreamcore.testing", "dreamcore.__main__"},
]
MAX_TOP_LEVEL_MODULES = 15
MAX_MODULE_LINES = 900


def _module_name(path: Path) -> str:
    for package, folder in PACKAGE_DIRS.items():
        if path.is_relative_to(folder):
            parts = [package, *path.relative_to(folder).with_suffix("").parts]
            return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
    raise AssertionError(path)


@cache
def modules() -> dict[str, Path]:
    """Every module of both packages, by dotted name."""
    return {_module_name(path): path for folder in PACKAGE_DIRS.values() for path in sorted(folder.rglob("*.py"))}


def _type_checking_blocks(tree: ast.Module) -> set[int]:
    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(child) for stmt in node.body for child in ast.walk(stmt))
    return skipped


@cache
def imports_of(name: str) -> frozenset[str]:
    """The project modules a module imports at run time (``from pkg import sub`` counts as ``pkg.sub``)."""
    tree = ast.parse(modules()[name].read_text())
    skipped = _type_checking_blocks(tree)
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if submodule in modules() else node.module)
    return frozenset(m for m in found if m.split(".")[0] in PACKAGE_DIRS)


def unit(name: str) -> str:
    """The unit an arrow is drawn between: a package of dreamcore, or a top-level module of it."""
    parts = name.split(".")
    if parts[0] == "dreamcore_plugins":
        return "dreamcore_plugins"
    return ".".join(parts[:2])


def layer(name: str) -> int:
    return next(i for i, units in enumerate(LAYERS) if name in units)


def arrows() -> set[tuple[str, str, str]]:
    """(importing unit, imported unit, importing module) for every import between two dreamcore units."""
    found = set()
    for name in modules():
        if name.startswith("dreamcore."):
            for imported in imports_of(name):
                if unit(imported) != unit(name):
                    found.add((unit(name), unit(imported), name))
    return found


def test_every_unit_of_dreamcore_has_a_layer():
    units = {unit(name) for name in modules() if name.split(".")[0] == "dreamcore"}
    assert units == set().union(*LAYERS)


def test_the_core_never_imports_the_builtin_plugins():
    offenders = [name for name in modules() if name.startswith("dreamcore.")
                 for imported in imports_of(name) if imported.startswith("dreamcore_plugins")]
    assert not offenders


def test_imports_go_down_the_layers():
    upward = sorted(f"{module} imports {imported}" for importer, imported, module in arrows()
                    if imported != "dreamcore_plugins" and layer(imported) > layer(importer))
    assert not upward


def test_no_import_cycle_between_units():
    graph: dict[str, set[str]] = {}
    for importer, imported, _ in arrows():
        graph.setdefault(importer, set()).add(imported)

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in graph.get(start, ()):
            if nxt == goal or (nxt not in seen and not seen.add(nxt) and reaches(nxt, goal, seen)):
                return True
        return False

    assert not sorted(f"{a} -> {b} -> ... -> {a}" for a in graph for b in graph[a] if reaches(b, a, {b}))


def test_the_store_imports_only_models_and_errors():
    allowed = {"dreamcore.models", "dreamcore.errors"}
    offenders = {f"{name} imports {imported}" for name in modules() if unit(name) == "dreamcore.store"
                 for imported in imports_of(name) if unit(imported) != "dreamcore.store" and imported not in allowed}
    assert not offenders


def _plugin_roots() -> set[str]:
    """The modules (or packages) the built-in entry points name: one plugin each."""
    return {target.split(":")[0] for target in PYPROJECT["project"]["entry-points"]["dreamcore"].values()
            if target.startswith("dreamcore_plugins.")}


def plugin_of(name: str) -> str | None:
    return next((root for root in _plugin_roots() if name == root or name.startswith(root + ".")), None)


def test_every_builtin_plugin_module_belongs_to_one_plugin():
    strays = [name for name in modules() if name.startswith("dreamcore_plugins.")
              and plugin_of(name) is None and modules()[name].name != "__init__.py"]
    assert not strays


@pytest.mark.parametrize("plugin", sorted(_plugin_roots()))
def test_a_plugin_imports_no_cli_no_store_internals_no_other_plugin(plugin):
    offenders = set()
    for name in modules():
        if plugin_of(name) != plugin:
            continue
        for imported in imports_of(name):
            other = plugin_of(imported)
            if unit(imported) == "dreamcore.cli" or imported.startswith("dreamcore.store."):
                offenders.add(f"{name} imports {imported}")
            elif imported.startswith("dreamcore_plugins.") and other != plugin and imported in modules() \
                    and modules()[imported].name != "__init__.py":
                offenders.add(f"{name} imports {imported} (another plugin)")
    assert not offenders


def test_top_level_modules_are_few_and_no_module_is_long():
    top = [p.name for p in (ROOT / "dreamcore").glob("*.py")]
    assert len(top) <= MAX_TOP_LEVEL_MODULES, sorted(top)
    long = {name: n for name, path in modules().items() if (n := len(path.read_text().splitlines())) > MAX_MODULE_LINES}
    assert not long


def test_every_package_is_shipped():
    """A package missing from pyproject's list installs from a checkout but not from a wheel."""
    packages = {name for name, path in modules().items() if path.name == "__init__.py"}
    assert packages == set(PYPROJECT["tool"]["setuptools"]["packages"])


@pytest.mark.parametrize(("old", "new"), sorted(dreamcore.MOVED_MODULES.items()))
def test_a_moved_module_still_imports_from_its_old_path_as_the_same_module(old, new):
    code = (f"import warnings, importlib\nwarnings.simplefilter('error')\n"
            f"try:\n    importlib.import_module({old!r})\nexcept DeprecationWarning as w:\n    print(w)\n"
            f"warnings.simplefilter('ignore')\nold, new = importlib.import_module({old!r}), importlib.import_module({new!r})\n"
            f"print(old is new, new.__spec__.name)")
    ran = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert ran.stdout.splitlines() == [f"{old} moved to {new}", f"True {new}"]
