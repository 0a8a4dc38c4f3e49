"""``empty_guard``: an early return for an empty or None input, before a loop or comprehension over it."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from typing import Any

from dreamcore.analysis.syntax import snippet

from .subject import BUILDERS, Change, Subject, annotation_names, inserting

REDUCERS = {"sum": ast.Constant(0), "any": ast.Constant(False), "all": ast.Constant(True), "len": ast.Constant(0)}


def candidates(s: Subject, config: Any) -> Iterator[Change]:
    """A guard before each top-level loop (or returned comprehension) over a parameter whose empty
    result is known there."""
    body = s.function.body
    params = {arg.arg: arg for arg, _ in s.params() if arg.arg not in ("self", "cls")}
    for position, statement in enumerate(body):
        if isinstance(statement, ast.For | ast.AsyncFor) and not statement.orelse:
            param = _iterated_param(statement.iter, params)
            if param is None or s.reassigned(param):
                continue
            neutral = _neutral_after_loop(s, position)
            if neutral is None:
                continue
            loop = f"for {ast.unparse(statement.target)} in {ast.unparse(statement.iter)}"
            yield _guard_candidate(s, position, param, params[param], neutral, f"the loop `{loop}`", statement)
        elif isinstance(statement, ast.Return) and statement.value is not None:
            found = _comprehension_neutral(statement.value, params)
            if found is None:
                continue
            param, neutral = found
            if s.reassigned(param):
                continue
            yield _guard_candidate(s, position, param, params[param], neutral, f"`{snippet(statement, 60)}`",
                                   statement)


def _neutral_after_loop(s: Subject, position: int) -> ast.expr | None | bool:
    """What the function returns when the loop at ``position`` runs zero times, if known there:
    an expression, ``True`` for a bare ``return``, or None when it is not cheap to know."""
    body = s.function.body
    after = body[position + 1:]
    if s.is_generator:
        return True if not after or (len(after) == 1 and _bare_return(after[0])) else None
    if not after:
        returns_value = any(isinstance(n, ast.Return) and n.value is not None for n in s.nodes)
        return None if returns_value else True
    if len(after) != 1 or not isinstance(after[0], ast.Return):
        return None
    value = after[0].value
    if value is None:
        return True
    before = body[:position]
    names = [n for n in ast.walk(value) if isinstance(n, ast.Name)]
    if not all(isinstance(n, ast.Name | ast.Tuple | ast.Constant | ast.Load) for n in ast.walk(value)):
        return None
    assigned = {}
    for statement in before:
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1 and isinstance(
            statement.targets[0], ast.Name
        ):
            assigned[statement.targets[0].id] = statement.value
        elif isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name) and statement.value:
            assigned[statement.target.id] = statement.value
    if not names or any(n.id not in assigned for n in names):
        return None
    # a lone accumulator initialised with a literal: return that literal; otherwise the names
    if isinstance(value, ast.Name) and _is_literal(assigned[value.id]):
        return assigned[value.id]
    return value


def _guard_candidate(s: Subject, position: int, param: str, arg: ast.arg, neutral: ast.expr | bool,
                     where: str, anchor: ast.stmt) -> Change:
    iterator_like = annotation_names(arg.annotation) & {"Iterable", "Iterator", "Generator", "AsyncIterable",
                                                        "AsyncIterator", "AsyncGenerator", "Callable"}
    test = f"{param} is None" if iterator_like else f"not {param}"
    returned = "" if neutral is True else ast.unparse(neutral)
    guard = f"if {test}:\n    return{' ' + returned if returned else ''}"
    condition = "is None" if iterator_like else "is empty or None"
    shown = f"`return {returned}`" if returned else "bare `return`"
    what = "yields nothing" if s.is_generator else (f"returns {returned}" if returned else "returns None")
    description = (f"early {shown} when `{param}` {condition}, inserted before {where} "
                   f"(line {s.line(anchor)})")
    if iterator_like:
        reasoning = (f"`{param}` is consumed as an iterable, so it cannot be tested for emptiness without "
                     f"consuming it; the guard only catches None, which would otherwise fail with a TypeError "
                     f"in {where}, and answers with what an empty input produces ({what}).")
    else:
        reasoning = (f"For an empty `{param}` the function already {what} without doing anything in {where}; "
                     f"the guard makes that explicit and cheap, and lets a None `{param}` take the same path "
                     f"instead of raising TypeError — useful when callers pass optional collections through.")
    return Change(kind="empty_guard", rewrite=inserting(guard, position), description=description,
                  reasoning=reasoning)


def _bare_return(statement: ast.stmt) -> bool:
    return isinstance(statement, ast.Return) and statement.value is None


def _is_literal(node: ast.AST) -> bool:
    """An empty display, a constant, or a call of list()/dict()/set() without arguments."""
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.List | ast.Tuple | ast.Set) and not node.elts:
        return True
    if isinstance(node, ast.Dict) and not node.keys:
        return True
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in BUILDERS
            and not node.args and not node.keywords)


def _iterated_param(iterable: ast.AST, params: dict[str, ast.arg]) -> str | None:
    """The parameter a loop walks: ``p``, ``enumerate(p)``, ``sorted(p)``, ``p.items()``..."""
    if isinstance(iterable, ast.Name):
        return iterable.id if iterable.id in params else None
    if isinstance(iterable, ast.Call):
        func = iterable.func
        if isinstance(func, ast.Name) and func.id in {"enumerate", "sorted", "reversed", "list", "tuple", "set",
                                                      "iter"} and iterable.args:
            return _iterated_param(iterable.args[0], params)
        if (isinstance(func, ast.Attribute) and func.attr in {"items", "keys", "values"} and not iterable.args
                and isinstance(func.value, ast.Name) and func.value.id in params):
            return func.value.id
    return None


def _comprehension_neutral(value: ast.expr, params: dict[str, ast.arg]) -> tuple[str, ast.expr] | None:
    """For ``return [.. for x in p]``, ``sorted(.. for x in p)``, ``sum(..)``...: (p, the empty result)."""
    neutral: ast.expr | None = None
    comprehension = value
    if isinstance(value, ast.ListComp):
        neutral = ast.List(elts=[], ctx=ast.Load())
    elif isinstance(value, ast.SetComp):
        neutral = ast.parse("set()", mode="eval").body
    elif isinstance(value, ast.DictComp):
        neutral = ast.Dict(keys=[], values=[])
    elif (isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and len(value.args) == 1
          and not value.keywords and isinstance(value.args[0], ast.GeneratorExp | ast.ListComp)):
        comprehension = value.args[0]
        if value.func.id in REDUCERS:
            neutral = REDUCERS[value.func.id]
        elif value.func.id in BUILDERS:
            neutral = ast.parse(BUILDERS[value.func.id], mode="eval").body
    if neutral is None or not isinstance(comprehension, ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp):
        return None
    param = _iterated_param(comprehension.generators[0].iter, params)
    return None if param is None else (param, neutral)
