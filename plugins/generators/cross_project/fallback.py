"""``fallback``: the base's own logic first; when it raises, what the related procedure computes from
the same arguments (only when its parameters can be fed from the base's and the return types agree)."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from dreamcore.analysis.nodes import FunctionNode, raised_name, source_of, with_body
from dreamcore.analysis.syntax import scope_nodes
from dreamcore.generation.local import Candidate

from .matching import annotation_key, exception_type, map_params, purpose, same_job, split_docstring
from .sides import BUILTIN_EXCEPTIONS, Base, Param, Related

_NUMBERS = frozenset({"int", "float"})


def candidates(base: Base, other: Related) -> Iterator[Candidate]:
    """try: <base body> except <what the base raises>: return <related>(<same arguments>)."""
    if base.is_async != other.is_async and other.is_async:
        return
    if base.is_generator != other.is_generator:
        return
    if not _returns_fit(base.function.returns, other.function.returns):
        return
    mapping = map_params(base.params, other.params)
    if not mapping:
        return
    same_inputs = all(mapping.get(p.name) == p.name for p in other.params if p.required)
    if not same_job(base.function.name, other.function.name) and not same_inputs:
        return  # related by name (parse_a / parse_b), or taking exactly the same named inputs
    name = other.helper_name(base)
    helper = other.inline(name)
    if helper is None:
        return
    call = _call(name, other.params, mapping)
    if other.is_async:
        call = ast.Await(value=call)
    caught = _raised_builtins(base.function)
    handler_type = exception_type(caught)
    fallback: ast.stmt = (
        ast.Expr(value=ast.YieldFrom(value=call)) if base.is_generator else ast.Return(value=call)
    )
    head, body = split_docstring(base.function)
    function = with_body(base.function, head + [
        helper,
        ast.Try(body=body or [ast.Pass()], handlers=[ast.ExceptHandler(type=handler_type, name=None, body=[fallback])],
                orelse=[], finalbody=[]),
    ])
    caught_text = ast.unparse(handler_type)
    arguments = ", ".join(f"{r}={b}" for r, b in mapping.items())
    yield Candidate(
        kind="fallback",
        code=source_of(function),
        description=(
            f"Fallback chain with {other.label}: runs the base logic and, if it raises {caught_text}, "
            f"returns what {other.label} computes instead (inlined as nested `{name}`, called with "
            f"{arguments})."
        ),
        reasoning=(
            f"{purpose(other)} It takes the same input ({_describe_inputs(mapping)}) and returns "
            f"{_describe_types(base.function.returns, other.function.returns)}, so where the base gives up "
            f"the {other.procedure.project} project's approach may still produce an answer. Violates the "
            "assumption that a failure of the base logic means there is no answer, and assumes both "
            "projects' results mean the same thing for the same input."
        ),
    )


def _returns_fit(base: ast.expr | None, other: ast.expr | None) -> bool:
    """Whether the related result can stand in for the base's: same outer type, both numbers, or unknown."""
    a, b = annotation_key(base), annotation_key(other)
    if a is None or b is None or "Any" in (a, b) or a == b:
        return True
    return a in _NUMBERS and b in _NUMBERS


def _call(name: str, params: list[Param], mapping: dict[str, str]) -> ast.Call:
    args: list[ast.expr] = []
    keywords: list[ast.keyword] = []
    for param in params:
        if param.name not in mapping:
            continue
        value = ast.Name(id=mapping[param.name], ctx=ast.Load())
        if param.kind == "positional_only":
            args.append(value)
        else:
            keywords.append(ast.keyword(arg=param.name, value=value))
    return ast.Call(func=ast.Name(id=name, ctx=ast.Load()), args=args, keywords=keywords)


def _raised_builtins(function: FunctionNode) -> list[str]:
    """Builtin exception classes the function raises itself, in source order; [] if any other kind."""
    found: list[str] = []
    for node in scope_nodes(function.body):
        if isinstance(node, ast.Raise) and node.exc is not None:
            name = raised_name(node)
            if name not in BUILTIN_EXCEPTIONS:
                return []
            if name not in found:
                found.append(name)
    return found


def _describe_types(base: ast.expr | None, other: ast.expr | None) -> str:
    if base is None and other is None:
        return "a result"
    if base is None or other is None or ast.unparse(base) == ast.unparse(other):
        return f"`{ast.unparse(base if base is not None else other)}` too"
    return f"`{ast.unparse(other)}` where the base returns `{ast.unparse(base)}`"


def _describe_inputs(mapping: dict[str, str]) -> str:
    names = sorted(set(mapping.values()))
    return "`" + "`, `".join(names) + "`" if names else "no arguments"
