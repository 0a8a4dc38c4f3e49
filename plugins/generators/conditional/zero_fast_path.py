"""``zero_fast_path``: ``if x == 0: return <value>`` before a final return that folds at ``x == 0``."""

from __future__ import annotations

import ast
import math
from collections.abc import Iterator
from typing import Any

from dreamcore.analysis.nodes import has_effects, number
from dreamcore.analysis.syntax import snippet

from .subject import Change, Subject, annotation_names, inserting

_UNKNOWN = object()


def candidates(s: Subject, config: Any) -> Iterator[Change]:
    """A fast path for each numeric parameter at which the final ``return`` folds to a constant."""
    body = s.function.body
    if not body or not isinstance(body[-1], ast.Return) or body[-1].value is None or s.is_generator:
        return
    final = body[-1]
    returns = annotation_names(s.function.returns)
    for arg, _ in s.params():
        names = annotation_names(arg.annotation)
        if not names or not names <= {"int", "float"} or s.reassigned(arg.arg):
            continue
        if arg.arg not in {n.id for n in ast.walk(final.value) if isinstance(n, ast.Name)}:
            continue
        zero: int | float = 0.0 if "float" in names else 0
        folded = _fold(final.value, arg.arg, zero)
        if folded is None or folded is _UNKNOWN:
            continue
        value = folded[0]
        if folded[1]:  # the fold multiplied unknown values by zero: the type comes from the annotation
            if returns == {"float"}:
                value = float(value)
            elif returns == {"int"} and float(value).is_integer():
                value = int(value)
            else:
                continue
        if isinstance(value, float) and not math.isfinite(value):
            continue
        literal = repr(value)
        guard = f"if {arg.arg} == 0:\n    return {literal}"
        yield Change(
            kind="zero_fast_path",
            rewrite=inserting(guard, len(body) - 1),
            description=f"fast path `if {arg.arg} == 0: return {literal}` before the final `{snippet(final, 60)}` "
                        f"(line {s.line(final)})",
            reasoning=f"At `{arg.arg} == 0` the result `{snippet(final.value, 50)}` folds to {literal}; answering "
                      f"it directly skips the arithmetic for a common trivial input"
                      + (" (and never multiplies an infinite or NaN factor by zero)" if folded[1] else "")
                      + f". Where `{arg.arg}` is often zero in practice the shortcut pays off; elsewhere it costs "
                        f"one comparison per call.",
        )


def _fold(node: ast.AST, name: str, zero: float) -> tuple[int | float, bool] | object | None:
    """``node`` evaluated at ``name == zero``: (value, whether unknown factors were multiplied by zero),
    ``_UNKNOWN`` when it depends on other values, None when it cannot be evaluated (division by zero)."""
    constant = number(node)
    if constant is not None:
        return constant, False
    if isinstance(node, ast.Name) and node.id == name:
        return zero, False
    if isinstance(node, ast.Name | ast.Attribute):
        return _UNKNOWN
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _fold(node.operand, name, zero)
        return inner if inner is None or inner is _UNKNOWN else (-inner[0], inner[1])
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Sub | ast.Mult | ast.Div):
        left, right = _fold(node.left, name, zero), _fold(node.right, name, zero)
        if left is None or right is None:
            return None
        if isinstance(node.op, ast.Mult) and (left is _UNKNOWN or right is _UNKNOWN):
            known = right if left is _UNKNOWN else left
            if known is not _UNKNOWN and known[0] == 0 and not has_effects(node.left if left is _UNKNOWN
                                                                            else node.right):
                return 0, True
            return _UNKNOWN
        if isinstance(node.op, ast.Div) and left is not _UNKNOWN and left[0] == 0 and right is _UNKNOWN:
            return _UNKNOWN  # 0 / x is 0 only when x is not zero: not known here
        if left is _UNKNOWN or right is _UNKNOWN:
            return _UNKNOWN
        try:
            value = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
                     ast.Div: lambda a, b: a / b}[type(node.op)](left[0], right[0])
        except ZeroDivisionError:
            return None
        return value, left[1] or right[1]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in {"round", "float", "int",
                                                                                        "abs"}:
        if not node.args or node.keywords or len(node.args) > (2 if node.func.id == "round" else 1):
            return _UNKNOWN
        inner = _fold(node.args[0], name, zero)
        if inner is None or inner is _UNKNOWN:
            return inner
        value, approximate = inner
        if node.func.id == "round":
            if len(node.args) == 1:
                return round(value), approximate
            digits = _fold(node.args[1], name, zero)
            if digits is _UNKNOWN or digits is None:
                # round(0, n) is 0 for any n; the type follows the value's
                return (value, True) if value == 0 else _UNKNOWN
            return round(value, int(digits[0])), approximate
        return {"float": float, "int": int, "abs": abs}[node.func.id](value), approximate
    return _UNKNOWN
