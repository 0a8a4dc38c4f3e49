"""``memoize``: ``@functools.lru_cache`` on a pure function of hashable scalars that does real work."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from typing import Any

from dreamcore.analysis.nodes import FunctionNode, call_name

from .subject import BUILDERS, Change, Subject, annotation_names

HASHABLE = frozenset({"int", "str", "float", "bool", "bytes", "complex", "tuple", "frozenset", "None", "Decimal",
                      "Fraction", "Literal", "Optional", "date", "datetime", "time", "timedelta", "Enum"})
CHEAP_CALLS = frozenset({"round", "int", "float", "str", "bool", "abs", "min", "max", "len", "isinstance",
                         "repr", "ValueError", "TypeError", "KeyError"})
IMMUTABLE_VALUES = frozenset({"Decimal", "Fraction"})
PURE_VALUE_METHODS = frozenset({"quantize", "scaleb", "is_finite", "is_nan", "normalize", "limit_denominator"})


def candidates(s: Subject, config: Any) -> Iterator[Change]:
    """The cache, for a module function or static method that qualifies (see the package docstring)."""
    function = s.function
    if s.is_async or s.is_generator or function.args.vararg or function.args.kwarg:
        return
    decorators = set(s.decorators)
    if decorators - {"staticmethod"}:
        return  # unknown wrappers (property, cache, custom decorators) may not pass arguments through
    if s.is_method and "staticmethod" not in decorators:
        return  # self/cls in the key would keep instances alive and share nothing between them
    params = s.params()
    if not params:
        return
    for arg, default in params:
        names = annotation_names(arg.annotation)
        if arg.annotation is None:
            if not isinstance(default, ast.Constant):  # unknown type: only a literal default vouches for it
                return
        elif not names or not names <= HASHABLE:
            return
    if _returns_mutable(s):
        return
    if not _does_work(s):
        return
    effects = _side_effects(s)
    if effects is None or effects:
        return
    size = config.cache_size
    constants = [c for c in _constants_read(s) if c not in s.imported]
    signature = ", ".join(
        f"{arg.arg}: {ast.unparse(arg.annotation)}" if arg.annotation is not None else arg.arg for arg, _ in params
    )

    def rewrite(tree: ast.Module, function: FunctionNode) -> list[str]:
        function.decorator_list.append(ast.parse(f"functools.lru_cache(maxsize={size})", mode="eval").body)
        return ["functools"]

    yield Change(
        kind="memoize",
        rewrite=rewrite,
        description=f"memoised with `@functools.lru_cache(maxsize={size})`"
                    + (" under @staticmethod" if "staticmethod" in decorators else "")
                    + f": every parameter ({signature}) is a hashable scalar and the body has no side effects",
        reasoning=f"`{s.name}` is a pure function of hashable scalar arguments, so repeated calls with the same "
                  f"arguments can be answered from a bounded cache of {size} entries instead of redoing "
                  f"{_work_kind(s, s.imported)}; its results are immutable, so sharing them between callers is "
                  f"safe" + (f". The cache assumes the module constants {', '.join(constants)} are not changed at "
                             f"runtime." if constants else "."),
    )


def _returns_mutable(s: Subject) -> bool:
    """Whether any return hands back a list, dict or set (a cached one could be mutated by a caller)."""
    for node in s.nodes:
        if isinstance(node, ast.Return) and node.value is not None:
            value = node.value
            if isinstance(value, ast.List | ast.Dict | ast.Set | ast.ListComp | ast.DictComp | ast.SetComp):
                return True
            if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id in {
                "list", "dict", "set", "sorted", "bytearray", "deque", "defaultdict", "OrderedDict", "Counter"
            }:
                return True
            if isinstance(value, ast.Name):  # a local container being returned
                for other in s.nodes:
                    if isinstance(other, ast.Assign | ast.AnnAssign) and _is_container(other.value) and any(
                        isinstance(t, ast.Name) and t.id == value.id
                        for t in (other.targets if isinstance(other, ast.Assign) else [other.target])
                    ):
                        return True
    annotation = annotation_names(s.function.returns)
    return bool(annotation & {"list", "dict", "set", "List", "Dict", "Set", "deque", "bytearray", "Any"})


def _is_container(node: ast.AST | None) -> bool:
    return isinstance(node, ast.List | ast.Dict | ast.Set | ast.ListComp | ast.DictComp | ast.SetComp) or (
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in BUILDERS
    )


def _does_work(s: Subject) -> bool:
    """Whether caching could save anything: a loop, a comprehension, or a call beyond cheap builtins."""
    for node in s.nodes:
        if isinstance(node, ast.For | ast.While | ast.comprehension):
            return True
        if isinstance(node, ast.Call) and call_name(node) not in CHEAP_CALLS:
            return True
    return False


def _work_kind(s: Subject, modules: set[str]) -> str:
    """What a cache hit saves, in words: "a loop and calls to .strip(), math.log"."""
    parts = []
    if any(isinstance(n, ast.For | ast.While | ast.comprehension) for n in s.nodes):
        parts.append("a loop")
    calls = []
    for node in s.nodes:
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name):
            short, name = func.id, func.id
        elif isinstance(func, ast.Attribute):
            short = func.attr
            module = isinstance(func.value, ast.Name) and func.value.id in modules
            name = f"{func.value.id}.{func.attr}" if module else f".{func.attr}()"
        else:
            continue
        if short not in CHEAP_CALLS and not re.search(r"(Error|Exception)$", short) and name not in calls:
            calls.append(name)
    if calls:
        parts.append("calls to " + ", ".join(calls[:3]) + (" ..." if len(calls) > 3 else ""))
    return " and ".join(parts) or "the computation"


def _side_effects(s: Subject) -> list[str] | None:
    """The side effects the dependency analysis reports that would matter to a cache (None when it
    cannot say). Raising does not (exceptions are not cached), nor does building the exception, an
    immutable number (Decimal, Fraction), matching a module-level compiled pattern, reading a
    module-level constant mapping, or ``next`` over a generator expression."""
    try:
        analysis = s.context.analysis
    except (ValueError, RecursionError):  # the analysis cannot read this procedure: treat it as impure
        return None
    effects = getattr(analysis, "side_effects", None)
    if effects is None:
        return None
    raised = {effect.split(" ", 1)[1] for effect in effects if effect.startswith("raises ")}
    nexts = [n for n in s.nodes
             if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "next"]
    harmless_next = all(n.args and isinstance(n.args[0], ast.GeneratorExp) for n in nexts)
    left = []
    for effect in effects:
        verb, _, what = effect.partition(" ")
        if verb in ("raises", "re-raises"):
            continue
        if verb == "calls":
            root = what.split(".")[0].split("(")[0]
            if what in raised or re.search(r"(Error|Exception|Warning)$", what):
                continue
            if root in IMMUTABLE_VALUES and all(
                part.endswith(")") or part in PURE_VALUE_METHODS for part in what.split(".")[1:]
            ):
                continue
            if what == "next" and harmless_next:
                continue
            if re.fullmatch(r"[A-Z][A-Z0-9_]*\.(match|fullmatch|search|findall|get)", what):
                continue
        left.append(effect)
    left += [ast.unparse(n) for n in s.nodes if isinstance(n, ast.Global | ast.Nonlocal)]
    return left


def _constants_read(s: Subject) -> list[str]:
    """Module-level constants (UPPER_CASE names) the function reads."""
    names = {n.id for n in s.nodes if isinstance(n, ast.Name) and re.fullmatch(r"[A-Z][A-Z0-9_]+", n.id)}
    return sorted(names)
