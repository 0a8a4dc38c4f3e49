"""``zero_division``: reject a zero divisor parameter at entry."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from typing import Any

from dreamcore.analysis.syntax import snippet

from .subject import Change, Subject, annotation_names, inserting


def candidates(s: Subject, config: Any) -> Iterator[Change]:
    """A check for each parameter the body divides by (or takes a modulo of) without checking it."""
    params = s.param_names()
    seen: set[str] = set()
    for node in s.nodes:
        divisor = None
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div | ast.FloorDiv | ast.Mod):
            if isinstance(node.op, ast.Mod) and isinstance(node.left, ast.Constant | ast.JoinedStr):
                continue  # "%s" % x formats, it does not divide
            divisor, expression = node.right, node
        elif isinstance(node, ast.AugAssign) and isinstance(node.op, ast.Div | ast.FloorDiv | ast.Mod):
            divisor, expression = node.value, node
        if not isinstance(divisor, ast.Name) or divisor.id not in params or divisor.id in seen:
            continue
        name = divisor.id
        if s.reassigned(name) or s.already_checked(name):
            continue
        annotation = annotation_names(next(a.annotation for a, _ in s.params() if a.arg == name))
        if annotation and not annotation <= {"int", "float", "None", "Decimal", "Fraction"}:
            continue  # a divisor of another type (a vector, a path) has its own idea of zero
        seen.add(name)
        guard = f"if {name} == 0:\n    raise ValueError('{name} must not be zero')"
        yield Change(
            kind="zero_division",
            rewrite=inserting(guard),
            description=f"reject `{name} == 0` with ValueError at entry, before `{snippet(expression, 50)}` "
                        f"(line {s.line(expression)}) divides by it",
            reasoning=f"`{s.name}` divides by `{name}` without checking it; a zero now fails up front with a "
                      f"ValueError naming the argument instead of a bare ZeroDivisionError from the middle of "
                      f"`{snippet(expression, 40)}`, after any work done before it.",
        )
