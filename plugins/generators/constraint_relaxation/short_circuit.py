"""``short_circuit``: return early when a cheap condition already decides the result, or leave a loop
once the answer is known."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from dreamcore.analysis.nodes import FunctionNode, body_start, dotted_name, has_effects
from dreamcore.analysis.syntax import copy_tree, read_names, scope_nodes
from dreamcore.generation.drafts import GenerationContext
from dreamcore.generation.local import Candidate

from .edits import find_copy, is_terminal, own_nodes, short, transformed, walk_scope, written_names


def candidates(function: FunctionNode, context: GenerationContext) -> Iterator[Candidate]:
    """Early exits moved up, loops left once the answer is known, ``any``/``all`` fed lazily."""
    yield from _hoisted_exits(function)
    yield from _loop_breaks(function)
    yield from _threshold_breaks(function)
    yield from _accumulate_exits(function)
    yield from _lazy_any_all(function)


def _hoisted_exits(function: FunctionNode) -> Iterator[Candidate]:
    """Move ``if cheap: return value`` above the earlier top-level steps it does not depend on."""
    body = function.body
    first = body_start(function)
    for index, statement in enumerate(body):
        if index <= first or not _is_early_exit(statement):
            continue
        needs = read_names(statement)
        position = index
        while position > first and not (written_names(body[position - 1]) & needs) \
                and not is_terminal(body[position - 1]) and not _contains_exit(body[position - 1]):
            position -= 1
        if position == index:
            continue
        skipped = body[position:index]

        def hoist(copy_fn: FunctionNode, index=index, position=position) -> None:
            moved = copy_fn.body.pop(index)
            copy_fn.body.insert(position, moved)

        shown = ", ".join(f"`{short(s, 40)}`" for s in skipped[:3]) + (" ..." if len(skipped) > 3 else "")
        yield Candidate(
            kind="short_circuit",
            code=transformed(function, hoist),
            description=(
                f"Checks the early exit `{short(statement.test, 50)}` first: "
                f"`{short(statement.body[0], 40)}` now happens before {shown}."
            ),
            reasoning=(
                "Violates the assumption that every earlier step must run before the cheap exit is taken. "
                "The exit condition reads nothing those steps compute, so when it holds the work (and any "
                "validation) they do is skipped; it assumes their side effects and errors do not matter for "
                "such inputs."
            ),
        )


def _contains_exit(statement: ast.stmt) -> bool:
    """Another early exit (or a yield): moving past it would change which answer wins."""
    return any(isinstance(n, ast.Return | ast.Yield | ast.YieldFrom) for n in (statement, *walk_scope(statement)))


def _is_early_exit(statement: ast.stmt) -> bool:
    return (
        isinstance(statement, ast.If)
        and not statement.orelse
        and len(statement.body) == 1
        and isinstance(statement.body[0], ast.Return)
        and not has_effects(statement.test)
    )


def _loop_breaks(function: FunctionNode) -> Iterator[Candidate]:
    """``for ...: if cond: x = value`` (last match wins) gets a ``break`` after the assignment."""
    for loop in (n for n in own_nodes(function) if isinstance(n, ast.For | ast.AsyncFor)):
        if loop.orelse or len(loop.body) != 1 or any(isinstance(n, ast.Break) for n in walk_scope(loop)):
            continue
        inner = loop.body[0]
        if not isinstance(inner, ast.If) or inner.orelse:
            continue
        if not all(isinstance(s, ast.Assign | ast.AnnAssign) for s in inner.body):
            continue
        constant = all(isinstance(s.value, ast.Constant) for s in inner.body)  # type: ignore[union-attr]
        if not constant and _threshold_loop(loop):
            continue  # handled by _threshold_breaks, which keeps the last-match semantics

        def add_break(copy_fn: FunctionNode, loop=loop) -> None:
            find_copy(copy_fn, loop).body[0].body.append(ast.Break())

        assigned = ", ".join(sorted(set().union(*(written_names(s) for s in inner.body))))
        if constant:
            reasoning = (
                f"Violates the assumption that every item must be examined. Once `{short(inner.test, 40)}` "
                f"holds, later iterations can only assign the same constant to `{assigned}` again, so the "
                "rest of the loop is wasted work — unless the condition itself has side effects."
            )
        else:
            reasoning = (
                f"Violates the assumption that the last matching item must win: `{assigned}` now keeps the "
                "first match and the loop stops there. Cheaper on long inputs; equivalent only if at most "
                "one item matches or all matches agree."
            )
        yield Candidate(
            kind="short_circuit",
            code=transformed(function, add_break),
            description=(
                f"Leaves the loop `{short(loop, 40)}` with `break` as soon as `{short(inner.test, 40)}` "
                f"has set `{assigned}`."
            ),
            reasoning=reasoning,
        )


def _threshold_loop(loop: ast.For | ast.AsyncFor) -> bool:
    """A loop over ``sorted(...)``/``range(...)`` whose single ``if`` compares against the loop variable."""
    if not isinstance(loop.iter, ast.Call) or dotted_name(loop.iter.func) not in {"sorted", "range"}:
        return False
    if not isinstance(loop.target, ast.Name) or len(loop.body) != 1 or not isinstance(loop.body[0], ast.If):
        return False
    test = loop.body[0].test
    if not isinstance(test, ast.Compare) or len(test.ops) != 1:
        return False
    if not isinstance(test.ops[0], ast.Lt | ast.LtE | ast.Gt | ast.GtE):
        return False
    sides = [test.left, test.comparators[0]]
    return any(isinstance(s, ast.Name) and s.id == loop.target.id for s in sides)


def _threshold_breaks(function: FunctionNode) -> Iterator[Candidate]:
    """``for t in sorted(ts): if x >= t: ...`` gets ``else: break``: later thresholds cannot match."""
    for loop in (n for n in own_nodes(function) if isinstance(n, ast.For | ast.AsyncFor)):
        if loop.orelse or not _threshold_loop(loop) or loop.body[0].orelse:
            continue
        if any(isinstance(n, ast.Break) for n in walk_scope(loop)):
            continue
        if dotted_name(loop.iter.func) == "sorted" and any(k.arg == "reverse" for k in loop.iter.keywords):
            continue
        test = loop.body[0].test

        def add_else(copy_fn: FunctionNode, loop=loop) -> None:
            find_copy(copy_fn, loop).body[0].orelse = [ast.Break()]

        yield Candidate(
            kind="short_circuit",
            code=transformed(function, add_else),
            description=(
                f"Stops the loop `{short(loop, 40)}` at the first item where `{short(test, 40)}` fails "
                f"(adds `else: break`)."
            ),
            reasoning=(
                f"Violates the assumption that every item of `{short(loop.iter, 30)}` must be compared. The "
                "items come in ascending order, so once the comparison fails it should fail for all larger "
                "ones too; that only holds if the comparison is monotone in the loop variable and the order "
                "is really ascending."
            ),
        )


def _accumulate_exits(function: FunctionNode) -> Iterator[Candidate]:
    """``acc += x`` in a loop, then ``return acc > LIMIT``: return True inside the loop once it is exceeded."""
    body = function.body
    for index, loop in enumerate(body):
        if not isinstance(loop, ast.For | ast.While) or loop.orelse:
            continue
        for later in body[index + 1:]:
            if isinstance(later, ast.Return):
                break
        else:
            continue
        test = later.value
        if not (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Gt | ast.GtE)):
            continue
        if not isinstance(test.left, ast.Name):
            continue
        accumulator = test.left.id
        between = body[index + 1: body.index(later)]
        if any(accumulator in written_names(s) for s in between):
            continue
        limit_names = read_names(test.comparators[0])
        if limit_names & set().union(*(written_names(s) for s in loop.body)):
            continue
        positions = [
            k for k, s in enumerate(loop.body)
            if isinstance(s, ast.AugAssign) and isinstance(s.op, ast.Add)
            and isinstance(s.target, ast.Name) and s.target.id == accumulator
        ]
        if not positions:
            continue

        def insert(copy_fn: FunctionNode, index=index, position=positions[-1], test=test) -> None:
            copy_loop = copy_fn.body[index]
            check = ast.If(test=copy_tree(test), body=[ast.Return(value=ast.Constant(True))], orelse=[])
            copy_loop.body.insert(position + 1, check)

        yield Candidate(
            kind="short_circuit",
            code=transformed(function, insert),
            description=(
                f"Returns True from inside the loop `{short(loop, 40)}` as soon as `{short(test, 40)}` "
                f"holds, instead of finishing the sum first."
            ),
            reasoning=(
                "Violates the assumption that the whole input must be summed before comparing. If every "
                f"increment of `{accumulator}` is non-negative, the comparison cannot become false again, so "
                "the answer is known early; negative increments would make the early answer wrong."
            ),
        )


def _lazy_any_all(function: FunctionNode) -> Iterator[Candidate]:
    """``any([...])`` / ``all([...])`` build the whole list; a generator stops at the first decisive item."""
    targets = [node for node in own_nodes(function) if _any_all_of_list(node)]
    if not targets:
        return

    def lazy(copy_fn: FunctionNode) -> None:
        for node in scope_nodes(copy_fn.body):
            if _any_all_of_list(node):
                comp = node.args[0]
                node.args[0] = ast.GeneratorExp(elt=comp.elt, generators=comp.generators)

    shown = ", ".join(f"`{short(t, 40)}`" for t in targets)
    yield Candidate(
        kind="short_circuit",
        code=transformed(function, lazy),
        description=f"Feeds {shown} a generator instead of a list, so it stops at the first decisive item.",
        reasoning=(
            "Violates the assumption that every element is computed: with a generator, `any`/`all` stop as "
            "soon as the answer is known. Equivalent unless computing an element has side effects the caller "
            "relies on."
        ),
    )


def _any_all_of_list(node: ast.AST) -> bool:
    """``any([...])`` or ``all([...])`` over a list comprehension."""
    return isinstance(node, ast.Call) and dotted_name(node.func) in {"any", "all"} and len(node.args) == 1 \
        and isinstance(node.args[0], ast.ListComp)
