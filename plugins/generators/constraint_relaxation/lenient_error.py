"""``lenient_error``: an ``except`` that re-raises continues with the next item or returns a default."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from dreamcore.analysis.nodes import FunctionNode, raised_name
from dreamcore.analysis.syntax import copy_tree, is_generator
from dreamcore.generation.drafts import GenerationContext
from dreamcore.generation.local import Candidate

from .edits import (
    default_return,
    enclosing_loop,
    own_nodes,
    replace_statement,
    short,
    transformed,
    walk_scope,
)


def candidates(function: FunctionNode, context: GenerationContext) -> Iterator[Candidate]:
    """A ``raise`` inside an ``except`` handler becomes ``continue`` or ``return <default>``."""
    handlers = [n for n in own_nodes(function) if isinstance(n, ast.ExceptHandler)]
    if not handlers:
        return
    default = default_return(function)
    for handler in handlers:
        for raise_node in (node for node in walk_scope(handler) if isinstance(node, ast.Raise)):
            caught = ast.unparse(handler.type) if handler.type is not None else "Exception"
            in_loop = enclosing_loop(function, handler) is not None
            sole = len(handler.body) == 1 and handler.body[0] is raise_node
            if in_loop and sole:
                replacement_text = "continue"

                def make(_: FunctionNode) -> ast.stmt:
                    return ast.Continue()

                effect = "moves on to the next iteration of the loop"
            else:
                replacement_text = "return" if default is None else f"return {ast.unparse(default)}"

                def make(_: FunctionNode, default=default) -> ast.stmt:
                    return ast.Return(value=copy_tree(default) if default is not None else None)

                effect = (
                    "ends the generator quietly" if is_generator(function) else
                    f"returns the neutral value `{ast.unparse(default) if default is not None else 'None'}`"
                )
            code = transformed(function, replace_statement(function, raise_node, make))
            what = "re-raise" if raise_node.exc is None else f"`{short(raise_node)}`"
            yield Candidate(
                kind="lenient_error",
                code=code,
                description=(
                    f"In the `except {caught}` handler, replaces {what} with `{replacement_text}`: the "
                    f"failure is swallowed and the function {effect}."
                ),
                reasoning=(
                    f"Violates the assumption that a caught `{caught}` must reach the caller"
                    f"{'' if raise_node.exc is None else f' as `{raised_name(raise_node)}`'}. Callers that "
                    "only need a best-effort answer get one instead of an exception, and a batch keeps "
                    "going; it assumes "
                    f"{'skipping this iteration' if replacement_text == 'continue' else f'`{replacement_text}`'} "
                    "is an acceptable answer, which hides the failure from the caller."
                ),
            )
