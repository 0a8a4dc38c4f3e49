"""``relax_validation``: an ``if ...: raise`` guard dropped, widened, clamped to its bound, or (in a
loop) turned into skipping the offending item."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from dreamcore.analysis.nodes import FunctionNode, is_guard, is_retry_loop, number, raised_name
from dreamcore.analysis.syntax import copy_tree, read_names
from dreamcore.generation.drafts import GenerationContext
from dreamcore.generation.local import Candidate

from .edits import (
    enclosing_loop,
    find_copy,
    own_nodes,
    replace_statement,
    short,
    stored_names,
    transformed,
    walk_scope,
)

_VALIDATION_ERRORS = frozenset(
    {"ValueError", "TypeError", "KeyError", "IndexError", "OverflowError", "AssertionError"}
)
_FLIP_POSITIVE = {ast.LtE: ast.Lt, ast.GtE: ast.Gt}  # guard rejects x <= b: now only x < b
_FLIP_NEGATIVE = {ast.Lt: ast.LtE, ast.Gt: ast.GtE}  # guard rejects not (x < b): now not (x <= b)
_COMPOUND_WITHOUT_HEADER = (ast.With, ast.AsyncWith, ast.Try, getattr(ast, "TryStar", ast.Try), ast.Match,
                            ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)


def candidates(function: FunctionNode, context: GenerationContext) -> Iterator[Candidate]:
    """Each guard (``if cond: raise``) outside ``except`` handlers: dropped, widened, clamped or skipped.

    A raise inside a handler decides whether a caught failure propagates; ``lenient_error`` deals with
    those, so they are not treated as input validation here."""
    found = [node for node in own_nodes(function) if is_guard(node)]
    if not found:
        return
    handled = {id(n) for h in own_nodes(function) if isinstance(h, ast.ExceptHandler) for n in walk_scope(h)}
    local = _local_names(function)
    for guard in found:
        if id(guard) in handled:
            continue
        raised = raised_name(guard.body[0])
        validation = raised in _VALIDATION_ERRORS
        kind = "validation" if validation else "error check"
        condition = short(guard.test, 60)
        raising = f"raise {raised}(...)"
        checked = sorted(read_names(guard.test) & local)
        use = _first_use(function, guard, set(checked))
        consequence = (
            f"such values now reach `{use}` unchecked" if use else "execution simply continues past it"
        )
        if validation:
            assumption = f"Violates the assumption that a call where `{condition}` holds must fail with {raised}"
        else:
            assumption = f"Violates the assumption that `{condition}` is fatal (it raised {raised})"

        def drop(_: FunctionNode) -> list[ast.stmt]:
            return []

        yield Candidate(
            kind="relax_validation",
            code=transformed(function, replace_statement(function, guard, drop)),
            description=f"Removes the {kind} `if {condition}: {raising}`; {consequence}.",
            reasoning=(
                f"{assumption}. If the later computation copes with such values (or every caller already "
                "checks), the guard is redundant work and a source of spurious errors; if not, differential "
                "tests show the input where it was load-bearing."
            ),
        )
        widened = _widened(guard.test)
        if widened is not None:
            new_test, how, admitted = widened

            def widen(copy_fn: FunctionNode, new_test=new_test, guard=guard) -> None:
                find_copy(copy_fn, guard).test = copy_tree(new_test)

            yield Candidate(
                kind="relax_validation",
                code=transformed(function, widen),
                description=(
                    f"Widens the {kind} `if {condition}: {raising}` to `if {short(new_test, 60)}: ...` "
                    f"({how}), so {admitted} "
                    f"{'are' if admitted.startswith('values') or '==' not in admitted else 'is'} now "
                    "accepted."
                ),
                reasoning=(
                    f"Violates the assumption that the limit in `{condition}` sits exactly where it must. "
                    "Limits are often set one step stricter than the computation needs; this assumes these "
                    f"values still give a meaningful result downstream{f' (`{use}`)' if use else ''}."
                ),
            )
        clamp = _clamp(guard.test)
        if clamp is not None and validation:
            variable, bound = clamp

            def clamped(_: FunctionNode, variable=variable, bound=bound) -> ast.stmt:
                return ast.Assign(targets=[ast.Name(id=variable, ctx=ast.Store())], value=copy_tree(bound))

            yield Candidate(
                kind="relax_validation",
                code=transformed(function, replace_statement(function, guard.body[0], clamped)),
                description=(
                    f"Clamps instead of rejecting: when `{condition}`, sets `{variable} = "
                    f"{ast.unparse(bound)}` and carries on instead of raising {raised}."
                ),
                reasoning=(
                    f"Violates the assumption that an out-of-range `{variable}` is an error. Saturating at "
                    f"the limit `{ast.unparse(bound)}` gives the caller a bounded result instead of an "
                    f"exception; it assumes the caller does not need to know `{variable}` was adjusted."
                ),
            )
        loop = enclosing_loop(function, guard)
        if loop is not None and validation and not is_retry_loop(loop):

            def skip(_: FunctionNode) -> ast.stmt:
                return ast.Continue()

            target = short(loop.target, 30) if isinstance(loop, ast.For | ast.AsyncFor) else "the current item"
            yield Candidate(
                kind="relax_validation",
                code=transformed(function, replace_statement(function, guard.body[0], skip)),
                description=(
                    f"Skips the offending item: inside `{short(loop, 50)}`, `if {condition}` now "
                    f"`continue`s to the next {target} instead of raising {raised}."
                ),
                reasoning=(
                    f"Violates the assumption that one bad `{target}` invalidates the whole call. The other "
                    "items are still processed and returned; it assumes partial output beats none and that "
                    "the caller can live with silently missing items."
                ),
            )


def _local_names(function: FunctionNode) -> set[str]:
    """Parameters and names the function's statements bind (not globals, modules or builtins)."""
    args = function.args
    params = {a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg) if a}
    bound = set().union(*(stored_names(statement) for statement in function.body))
    return (params | bound) - {"self", "cls"}


def _first_use(function: FunctionNode, after: ast.stmt, names: set[str]) -> str:
    """The first statement after ``after`` (in source order) that reads one of ``names``."""
    if not names:
        return ""
    end = getattr(after, "end_lineno", None) or after.lineno
    best: tuple[int, int, str] | None = None
    for node in own_nodes(function):
        if not isinstance(node, ast.stmt) or node.lineno <= end:
            continue
        if isinstance(node, ast.If | ast.While):
            header: ast.AST = node.test
        elif isinstance(node, ast.For | ast.AsyncFor):
            header = node.iter
        elif isinstance(node, _COMPOUND_WITHOUT_HEADER):
            continue
        else:
            header = node
        if read_names(header) & names:
            key = (node.lineno, node.col_offset, short(node, 60))
            if best is None or key < best:
                best = key
    return best[2] if best else ""


def _comparisons(test: ast.expr, positive: bool = True) -> Iterator[tuple[ast.Compare, bool]]:
    """The comparisons a condition built with ``not``, ``and`` and ``or`` is made of, each with whether
    the condition holds when the comparison does (False under an odd number of ``not``)."""
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        yield from _comparisons(test.operand, not positive)
    elif isinstance(test, ast.BoolOp):
        for value in test.values:
            yield from _comparisons(value, positive)
    elif isinstance(test, ast.Compare):
        yield test, positive


def _widened(test: ast.expr) -> tuple[ast.expr, str, str] | None:
    """The guard condition made true for fewer inputs: non-strict bounds become strict, or constant limits
    move outwards. (new condition, what changed, which values are newly admitted) or None."""
    new = copy_tree(test)
    changes: list[str] = []
    admitted: list[str] = []
    for node, positive in _comparisons(new):
        table = _FLIP_POSITIVE if positive else _FLIP_NEGATIVE
        operands = [node.left, *node.comparators]
        for index, op in enumerate(node.ops):
            replacement = table.get(type(op))
            if replacement is not None:
                changes.append(f"`{_op_text(op)}` becomes `{_op_text(replacement())}`")
                left, right = operands[index], operands[index + 1]
                admitted.append(f"`{short(left, 25)} == {short(right, 25)}`")
                node.ops[index] = replacement()
    if changes:
        values = " and ".join(dict.fromkeys(admitted))
        return new, ", ".join(dict.fromkeys(changes)), values
    new = copy_tree(test)
    for node, positive in _comparisons(new):
        if len(node.ops) != 1:
            continue
        constant = number(node.comparators[0])
        if constant is None or constant == 0:
            continue
        op = type(node.ops[0])
        if op not in (ast.Lt, ast.LtE, ast.Gt, ast.GtE):
            continue
        upper = (op in (ast.Gt, ast.GtE)) == positive  # the guard caps the left side from above
        factor = 2 if (constant > 0) == upper else 0.5
        value: int | float = constant * factor
        if isinstance(constant, int):
            value = int(value) if factor == 2 else int(constant / 2)
        if value == constant:
            continue
        node.comparators[0] = _number_node(value)
        changes.append(f"limit {constant} becomes {value}")
        low, high = sorted((constant, value))
        admitted.append(f"values of `{short(node.left, 25)}` between {low} and {high}")
    if changes:
        return new, ", ".join(dict.fromkeys(changes)), " and ".join(dict.fromkeys(admitted))
    return None


def _clamp(test: ast.expr) -> tuple[str, ast.expr] | None:
    """(variable, bound) for a guard ``if x < LOW`` / ``if x > HIGH`` with a side-effect-free bound."""
    if not isinstance(test, ast.Compare) or len(test.ops) != 1 or not isinstance(test.ops[0], ast.Lt | ast.Gt):
        return None
    left, right = test.left, test.comparators[0]
    if isinstance(left, ast.Name) and _pure(right):
        return left.id, right
    if isinstance(right, ast.Name) and _pure(left):
        return right.id, left
    return None


def _pure(node: ast.expr) -> bool:
    return all(isinstance(n, ast.Name | ast.Constant | ast.Attribute | ast.UnaryOp | ast.BinOp | ast.Load |
                          ast.operator | ast.unaryop) for n in ast.walk(node))


def _number_node(value: float) -> ast.expr:
    if value < 0:
        return ast.UnaryOp(op=ast.USub(), operand=ast.Constant(-value))
    return ast.Constant(value)


def _op_text(op: ast.cmpop) -> str:
    return {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}.get(type(op), "?")
