"""Meta-tests: every hook has a spec docstring, a documented exact signature and a test_hook_<hook> test."""

from __future__ import annotations

import ast
import functools
import inspect
from pathlib import Path

import pytest

from dreamcore import hookspecs

ROOT = Path(__file__).resolve().parents[1]
HOOKS = sorted(
    name
    for name, function in vars(hookspecs).items()
    if inspect.isfunction(function) and hasattr(function, "dreamcore_spec")
)


def test_there_are_hooks():
    assert "register_generators" in HOOKS and "cycle_finished" in HOOKS


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_has_a_docstring(hook):
    assert (getattr(hookspecs, hook).__doc__ or "").strip()


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_documented_with_its_exact_signature(hook):
    parameters = ", ".join(inspect.signature(getattr(hookspecs, hook)).parameters)
    assert f"### `{hook}({parameters})`" in (ROOT / "docs" / "plugins.md").read_text()


@functools.cache
def collected_test_functions() -> dict[str, list[str]]:
    """The test functions pytest collects from tests/test_*.py, by name: the files defining each.
    Module-level functions and methods of module-level ``Test*`` classes count; a function nested in
    another one (never collected) does not."""
    found: dict[str, list[str]] = {}
    for path in sorted((ROOT / "tests").glob("test_*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        functions = [node for node in tree.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)]
        for node in tree.body:
            if isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
                functions += [n for n in node.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
        for function in functions:
            found.setdefault(function.name, []).append(path.name)
    return found


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_has_a_test_named_after_it(hook):
    assert f"test_hook_{hook}" in collected_test_functions(), f"no tests/test_*.py defines test_hook_{hook}"
