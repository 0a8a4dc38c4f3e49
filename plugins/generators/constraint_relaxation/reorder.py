"""``reorder``: two adjacent top-level steps the dependency analysis marks as reorderable, swapped."""

from __future__ import annotations

import ast
import itertools
from collections.abc import Iterator

from dreamcore.analysis.dataflow import Step
from dreamcore.analysis.nodes import FunctionNode, body_start, with_body
from dreamcore.generation.drafts import GenerationContext
from dreamcore.generation.local import Candidate

from .edits import is_terminal, short


def candidates(function: FunctionNode, context: GenerationContext) -> Iterator[Candidate]:
    """Swap two adjacent top-level steps that the dependency analysis marks as reorderable."""
    offset = body_start(function)
    body = function.body[offset:]
    if all(is_terminal(a) or is_terminal(b) for a, b in itertools.pairwise(body)):
        return  # no pair could be swapped whatever the analysis says: spare it
    analysis = context.analysis
    steps = list(analysis.steps)
    for first, second in analysis.reorderable:
        if second != first + 1 or second >= len(body):
            continue
        a, b = body[first], body[second]
        if is_terminal(a) or is_terminal(b):
            continue
        swapped = list(function.body)
        swapped[first + offset], swapped[second + offset] = b, a
        yield Candidate(
            kind="reorder",
            code=ast.unparse(with_body(function, swapped)) + "\n",
            description=(
                f"Runs step {second + 1} `{short(b, 50)}` before step {first + 1} `{short(a, 50)}` "
                f"(the two are swapped; nothing else changes)."
            ),
            reasoning=_reasoning(a, b, steps[first], steps[second]),
        )


def _reasoning(a: ast.stmt, b: ast.stmt, step_a: Step, step_b: Step) -> str:
    facts = (
        f"Step {step_b.index + 1} does not read {_names_text(sorted(step_a.writes)) or 'anything'} written by the "
        f"step before it, nor does that step read {_names_text(sorted(step_b.writes)) or 'anything'}"
    )
    effects = [s for s in (step_a, step_b) if s.side_effect]
    if effects:
        calls = ", ".join(f"`{c}()`" for c in effects[0].calls[:3])
        risk = (f"one of them has a side effect ({calls}), so this assumes nothing observes the order of that "
                f"effect relative to the other step")
    elif any(isinstance(n, ast.Call | ast.Subscript | ast.BinOp) for n in (*ast.walk(a), *ast.walk(b))):
        risk = ("if both can fail, the error that surfaces first changes, so this assumes callers do not depend "
                "on which error they see")
    else:
        risk = "this should be behaviour-neutral unless a hidden dependency exists the analysis cannot see"
    return (
        f"Violates the assumption that the written order of these steps matters. {facts}; {risk}. Moving the "
        f"later step first lets a cheaper or likelier-to-fail step go first and is the precondition for "
        f"overlapping the two."
    )


def _names_text(names: list[str]) -> str:
    if not names:
        return ""
    shown = [f"`{n}`" for n in names[:3]]
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1]
