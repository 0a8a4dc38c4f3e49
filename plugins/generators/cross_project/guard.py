"""``guard``: the related procedure's input validation (``if ...: raise ValueError``) transplanted onto
the base parameters with the same name or annotation, when the base does not check them already."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from typing import Any

from dreamcore.analysis.nodes import dotted_name, is_guard, raised_name, source_of, with_body
from dreamcore.analysis.syntax import copy_tree, read_names, snippet
from dreamcore.generation.local import Candidate

from .inlining import BUILTINS, import_ok
from .matching import map_params, name_words, purpose, split_docstring
from .sides import Base, Related

_VALIDATION_ERRORS = frozenset({"ValueError", "TypeError", "KeyError", "IndexError", "OverflowError"})


def candidates(base: Base, other: Related) -> Iterator[Candidate]:
    """The related procedure's ``if ...: raise ValueError`` checks, adapted to the base's parameters."""
    mapping = map_params(base.params, other.params, partial=True) or {}
    renames = {r: b for r, b in mapping.items() if b not in ("self", "cls")}
    if not renames:
        return
    checked = base.checked_params
    borrowed: list[ast.If] = []
    imports: list[ast.stmt] = []
    notes: list[str] = []
    for guard in other.guards:
        raised = raised_name(guard.body[0])
        if raised not in _VALIDATION_ERRORS:
            continue
        parts = guard.test.values if isinstance(guard.test, ast.BoolOp) and isinstance(guard.test.op, ast.Or) \
            else [guard.test]
        kept = []
        for part in parts:
            by_type = {r for r in read_names(part) if r in renames and renames[r] != r}
            if any(not name_words(r) & name_words(renames[r]) for r in by_type) and not _emptiness_check(part):
                continue  # a limit only transfers between like-named parameters; emptiness checks transfer by type
            adapted = _adapt(part, renames, other, imports)
            if adapted is None:
                continue
            reads = read_names(adapted) & {p.name for p in base.params}
            if not reads or reads <= checked:
                continue
            kept.append(adapted)
        if not kept:
            continue
        message = _adapt(guard.body[0], renames, other, imports)
        if message is None:
            continue
        test = kept[0] if len(kept) == 1 else ast.BoolOp(op=ast.Or(), values=kept)
        borrowed.append(ast.If(test=test, body=[message], orelse=[]))
        notes.append(f"`if {snippet(test, 50)}: raise {raised}(...)`")
    if not borrowed:
        return
    head, body = split_docstring(base.function)
    leading = 0
    while leading < len(body) and is_guard(body[leading]):
        leading += 1
    unique_imports = list({ast.dump(i): i for i in imports}.values())
    function = with_body(base.function, head + unique_imports + body[:leading] + borrowed + body[leading:])
    renamed = ", ".join(f"its `{r}` checked as `{b}`" if r != b else f"same parameter `{r}`"
                        for r, b in renames.items() if any(b in read_names(g.test) for g in borrowed))
    yield Candidate(
        kind="guard",
        code=source_of(function),
        description=(
            f"Borrows input validation from {other.label}: {', '.join(notes)} now "
            f"run{'s' if len(notes) == 1 else ''} before the base logic ({renamed})."
        ),
        reasoning=(
            f"{purpose(other)} It rejects such input up front, while the base lets it through to fail later "
            "or to return a wrong value quietly. Violates the base's assumption that its callers never pass "
            "such values, and assumes the mapped parameters mean the same thing in both projects."
        ),
    )


def _adapt(node: ast.AST, renames: dict[str, str], other: Related, imports: list[ast.stmt]) -> Any:
    """A copy of a guard part with related parameters renamed to the base's, literals pasted for module
    constants and stdlib modules imported; None when it reads anything else of the related procedure."""
    params = {p.name for p in other.params}
    adapted = copy_tree(node)
    needed: list[ast.stmt] = []
    for child in list(ast.walk(adapted)):
        for field, value in ast.iter_fields(child):
            if isinstance(value, ast.Name) and isinstance(value.ctx, ast.Load):
                replacement = _adapt_name(value, renames, params, other, needed)
                if replacement is None:
                    return None
                setattr(child, field, replacement)
            elif isinstance(value, list):
                for index, item in enumerate(value):
                    if isinstance(item, ast.Name) and isinstance(item.ctx, ast.Load):
                        replacement = _adapt_name(item, renames, params, other, needed)
                        if replacement is None:
                            return None
                        value[index] = replacement
    if isinstance(adapted, ast.Name):
        adapted = _adapt_name(adapted, renames, params, other, needed)
        if adapted is None:
            return None
    if any(isinstance(n, ast.Name) and n.id in ("self", "cls") for n in ast.walk(adapted)):
        return None
    for child in ast.walk(adapted):  # messages name the parameters too: "customer_id is required"
        if isinstance(child, ast.Constant) and isinstance(child.value, str):
            for old, new in renames.items():
                child.value = re.sub(rf"(?<![A-Za-z0-9_]){re.escape(old)}(?![A-Za-z0-9_])", new, child.value)
    if any(isinstance(n, ast.NamedExpr | ast.Await | ast.Yield | ast.YieldFrom | ast.Lambda) for n in ast.walk(adapted)):
        return None
    imports.extend(needed)
    return adapted


def _adapt_name(name: ast.Name, renames: dict[str, str], params: set[str], other: Related,
                needed: list[ast.stmt]) -> ast.expr | None:
    if name.id in renames:
        return ast.Name(id=renames[name.id], ctx=ast.Load())
    if name.id in params:
        return None  # a related parameter the base has no counterpart for
    if name.id in BUILTINS:
        return name
    literal = other.literal(name.id)
    if literal is not None:
        return literal
    statement = other.imports.get(name.id)
    if statement is not None and isinstance(statement, ast.Import) and import_ok(statement):
        needed.append(copy_tree(statement))
        return name
    return None


def _emptiness_check(node: ast.expr) -> bool:
    """``not x``, ``x is None``, ``not x.strip()``, ``len(x) == 0``: meaningful for any parameter of the same type,
    unlike a limit such as ``status > 599`` or ``rate <= 0`` whose sense depends on what the parameter means."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        inner = node.operand
        if isinstance(inner, ast.Call) and isinstance(inner.func, ast.Attribute) and not inner.args:
            inner = inner.func.value  # not x.strip()
        return isinstance(inner, ast.Name)
    if isinstance(node, ast.Compare) and len(node.ops) == 1:
        left, op, right = node.left, node.ops[0], node.comparators[0]
        if isinstance(op, ast.Is | ast.IsNot) and isinstance(right, ast.Constant) and right.value is None:
            return isinstance(left, ast.Name)
        if isinstance(left, ast.Call) and dotted_name(left.func) == "len" and isinstance(right, ast.Constant):
            return right.value in (0, 1) and isinstance(op, ast.Eq | ast.Lt | ast.LtE)
    return False
