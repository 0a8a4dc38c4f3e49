"""``no_wait``: sleeps removed, or time limits lifted (``asyncio.wait_for`` unwrapped, ``timeout=None``)."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from dreamcore.analysis.nodes import FunctionNode, dotted_name, is_sleep
from dreamcore.analysis.syntax import is_none, scope_nodes
from dreamcore.generation.drafts import GenerationContext
from dreamcore.generation.local import Candidate

from .edits import own_nodes, remove_statements, short, transformed


def candidates(function: FunctionNode, context: GenerationContext) -> Iterator[Candidate]:
    """One variant without the function's sleeps, one without its time limits."""
    sleeps = [
        node for node in own_nodes(function)
        if isinstance(node, ast.Expr)
        and is_sleep(node.value.value if isinstance(node.value, ast.Await) else node.value)
    ]
    if sleeps:
        code = transformed(function, remove_statements(function, sleeps))
        shown = ", ".join(f"`{short(s, 50)}`" for s in sleeps)
        yield Candidate(
            kind="no_wait",
            code=code,
            description=f"Removes the wait{'s' if len(sleeps) > 1 else ''} {shown}; the next step follows at once.",
            reasoning=(
                "Violates the assumption that pausing is needed (backoff between retries, politeness, "
                "letting others run). Without it the function finishes sooner and a retry lands while the "
                "caller still waits; it assumes the failure is not load- or rate-related, where immediate "
                "retries make it worse."
            ),
        )
    timeouts = list(_timeouts(function))
    if timeouts:

        def lift(copy_fn: FunctionNode) -> None:
            for node in scope_nodes(copy_fn.body):
                if not isinstance(node, ast.Call):
                    continue
                if _is_wait_for(node) and node.args and isinstance(node.args[0], ast.Call):
                    awaited = node.args[0]
                    node.func, node.args, node.keywords = awaited.func, awaited.args, awaited.keywords
                    continue
                for keyword in node.keywords:
                    if keyword.arg == "timeout" and not is_none(keyword.value):
                        keyword.value = ast.Constant(None)

        code = transformed(function, lift)
        shown = ", ".join(f"`{text}`" for text in dict.fromkeys(timeouts))
        yield Candidate(
            kind="no_wait",
            code=code,
            description=f"Lifts the time limit: {shown} now wait{'s' if len(timeouts) == 1 else ''} without a timeout.",
            reasoning=(
                "Violates the assumption that a slow call is a failed call. A call that would have finished "
                "just after the deadline now succeeds instead of being retried or reported; it assumes the "
                "callee does eventually answer, since a hung call now blocks the caller forever."
            ),
        )


def _timeouts(function: FunctionNode) -> Iterator[str]:
    for node in own_nodes(function):
        if not isinstance(node, ast.Call):
            continue
        if _is_wait_for(node) and node.args and isinstance(node.args[0], ast.Call):
            yield short(node, 50)
            continue
        for keyword in node.keywords:
            if keyword.arg == "timeout" and not is_none(keyword.value):
                yield f"{dotted_name(node.func)}(timeout={short(keyword.value, 20)})"


def _is_wait_for(call: ast.Call) -> bool:
    return dotted_name(call.func) in {"asyncio.wait_for", "wait_for"}
