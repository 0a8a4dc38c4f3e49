"""Meta-tests: every hook has a spec docstring, a documented exact signature, and a test."""

from __future__ import annotations

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


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_exercised_by_a_test(hook):
    others = [p for p in (ROOT / "tests").glob("test_*.py") if p.name != Path(__file__).name]
    assert any(hook in path.read_text() for path in others), f"no test mentions {hook}"
