"""``validate``: reject a negative (or non-positive) amount, count, size, timeout... at entry."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from typing import Any

from dreamcore.analysis.nodes import body_start, call_name, number
from dreamcore.analysis.syntax import name_tokens, snippet

from .subject import Change, Subject, annotation_names, inserting, is_name

NONNEGATIVE = frozenset({"amount", "count", "size", "limit", "timeout", "quantity", "qty", "price", "retries",
                         "attempts", "capacity", "ttl", "delay", "backoff", "window", "concurrency", "length",
                         "cost", "weight", "duration", "interval", "entries", "pages", "workers", "tokens",
                         "width", "depth", "step", "ceiling", "cap"})
POSITIVE = frozenset({"timeout", "ttl", "size", "capacity", "window", "interval", "concurrency", "workers",
                      "width"})


def candidates(s: Subject, config: Any) -> Iterator[Change]:
    """A check for each numeric parameter named like a quantity that the body computes with unchecked."""
    position = body_start(s.function)
    anchor = s.function.body[position] if position < len(s.function.body) else s.function
    for arg, default in s.params():
        name = arg.arg
        tokens = set(name_tokens(name))
        if not tokens & NONNEGATIVE or s.already_checked(name) or s.reassigned(name):
            continue
        names = annotation_names(arg.annotation)
        numeric_default = number(default) is not None
        if arg.annotation is not None and not (names & {"int", "float"} and names <= {"int", "float", "None"}):
            continue
        if arg.annotation is None and not numeric_default:
            continue
        use = _numeric_use(s, name)
        if use is None:
            continue  # only formatted or passed through: a negative value may be meaningful there
        optional = "None" in names or (isinstance(default, ast.Constant) and default.value is None)
        positive = bool(tokens & POSITIVE)
        op, rule = ("<=", "positive") if positive else ("<", "non-negative")
        test = f"{name} is not None and {name} {op} 0" if optional else f"{name} {op} 0"
        guard = f"if {test}:\n    raise ValueError(f'{name} must be {rule}, got {{{name}!r}}')"
        bad = "non-positive" if positive else "negative"
        yield Change(
            kind="validate",
            rewrite=inserting(guard),
            description=f"reject {bad} `{name}` with ValueError at entry (`if {test}: raise ValueError(...)`, "
                        f"inserted at line {s.line(anchor)}; `{name}` is used in `{snippet(use, 50)}`, line "
                        f"{s.line(use)})",
            reasoning=f"Nothing in `{s.name}` checks `{name}`, yet a {bad} value flows straight into "
                      f"`{snippet(use, 50)}` and gives a plausible-looking wrong result"
                      + (" (or a failure far from the cause)" if positive else "")
                      + f". A {bad} `{name}` is almost always a caller bug; failing at the boundary names the "
                        f"argument and its value.",
        )


def _numeric_use(s: Subject, name: str) -> ast.AST | None:
    """The first place the body computes with ``name``: arithmetic, a comparison, range(), a sleep,
    or a keyword argument of the same name (``timeout=timeout``)."""
    for node in s.nodes:
        if isinstance(node, ast.BinOp) and (is_name(node.left, name) or is_name(node.right, name)):
            return node
        if isinstance(node, ast.AugAssign) and is_name(node.value, name):
            return node
        if (isinstance(node, ast.Compare) and any(is_name(o, name) for o in [node.left, *node.comparators])
                and all(isinstance(op, ast.Lt | ast.LtE | ast.Gt | ast.GtE | ast.Eq | ast.NotEq) for op in node.ops)):
            return node
        if (isinstance(node, ast.Assign) and is_name(node.value, name) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Attribute)):
            return node  # self.ttl = ttl: kept for later use, so the constructor is the place to check it
        if isinstance(node, ast.Call):
            if call_name(node) in {"range", "sleep", "wait_for", "deque", "Semaphore", "islice", "min", "max"} and any(
                is_name(a, name) for a in node.args
            ):
                return node
            if any(k.arg == name and is_name(k.value, name) for k in node.keywords):
                return node
    return None
