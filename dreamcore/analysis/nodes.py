"""Small readers of AST nodes the generators share: numeric literals, the names of calls, imports and
raised exceptions, guards, sleeps and retry loops, where a body starts after its docstring, and
turning a function back into source.

Nothing here changes a tree it is given (``source_of`` only fills in missing locations).
"""

from __future__ import annotations

import ast
import copy
from collections.abc import Iterable, Iterator

from dreamcore.analysis.syntax import docstring_free, scope_nodes

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef


# -- literals ------------------------------------------------------------------------------------


def number(node: ast.AST | None) -> int | float | None:
    """The value of a numeric literal, signs included (``3``, ``-2.5``, ``+1``); None for anything else,
    booleans included."""
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        inner = number(node.operand)
        return None if inner is None else (-inner if isinstance(node.op, ast.USub) else inner)
    return None


def literal(node: ast.AST | None) -> int | float | bool | None:
    """The value of a boolean constant, else ``number(node)``."""
    if isinstance(node, ast.Constant) and isinstance(node.value, bool):
        return node.value
    return number(node)


# -- names ---------------------------------------------------------------------------------------


def dotted_name(node: ast.AST) -> str:
    """``a.b.c`` for a name or a chain of attributes on a name; "" for anything else (``f().b``)."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return ""


def call_name(call: ast.Call) -> str:
    """The last part of the called name (``sleep`` for ``time.sleep(...)``); "" for a computed callee."""
    func = call.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def root_name(node: ast.AST) -> str | None:
    """The name an attribute or subscript chain starts from (``self`` in ``self.items[0]``), or None."""
    while isinstance(node, ast.Attribute | ast.Subscript):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def bound_name(alias: ast.alias) -> str:
    """The name an import binds: ``os`` for ``import os.path``, ``p`` for ``import os.path as p``."""
    return alias.asname or alias.name.partition(".")[0]


def parsed_imports(lines: Iterable[str]) -> list[ast.stmt]:
    """The statements of the import lines that parse (a procedure's ``imports``)."""
    statements: list[ast.stmt] = []
    for line in lines:
        try:
            statements.extend(ast.parse(line).body)
        except SyntaxError:
            continue
    return statements


# -- statements and expressions ------------------------------------------------------------------


def raised(statement: ast.Raise) -> ast.expr | None:
    """What a ``raise`` names: the class in ``raise E(...)``, the expression in ``raise e``, None for a
    bare ``raise``."""
    return statement.exc.func if isinstance(statement.exc, ast.Call) else statement.exc


def raised_name(statement: ast.Raise) -> str:
    """``raised(statement)`` as source text; "" for a bare ``raise``."""
    exc = raised(statement)
    return ast.unparse(exc) if exc is not None else ""


def is_guard(node: ast.AST) -> bool:
    """Whether ``node`` is ``if <condition>: raise <exception>``: one statement, no ``else``."""
    return isinstance(node, ast.If) and not node.orelse and len(node.body) == 1 \
        and isinstance(node.body[0], ast.Raise) and node.body[0].exc is not None


def guards(function: FunctionNode) -> Iterator[ast.If]:
    """The guards (see ``is_guard``) of the function's own scope, in source order."""
    return (node for node in scope_nodes(function.body) if is_guard(node))


def has_effects(node: ast.AST) -> bool:
    """Whether evaluating ``node`` may do more than compute: it calls, awaits, yields or assigns (``:=``)."""
    return any(isinstance(n, ast.Call | ast.Await | ast.Yield | ast.NamedExpr) for n in ast.walk(node))


def is_sleep(node: ast.AST | None) -> bool:
    """Whether ``node`` calls a ``sleep``: ``time.sleep(...)``, ``asyncio.sleep(...)``, ``sleep(...)``."""
    return isinstance(node, ast.Call) and dotted_name(node.func).split(".")[-1] == "sleep"


def is_retry_loop(loop: ast.AST) -> bool:
    """Whether a loop retries: it holds a ``try`` and a sleep (nested functions and classes not entered)."""
    nodes = list(scope_nodes(ast.iter_child_nodes(loop)))
    return any(isinstance(n, ast.Try) for n in nodes) and any(is_sleep(n) for n in nodes)


# -- functions -----------------------------------------------------------------------------------


def body_start(function: FunctionNode) -> int:
    """The index in ``function.body`` of the first statement after the docstring."""
    return len(function.body) - len(docstring_free(function.body))


def with_body(function: FunctionNode, body: list[ast.stmt]) -> FunctionNode:
    """A shallow copy of ``function`` with another body: everything else, and the statements ``body``
    reuses, stays shared with the original, so the copy may arrange them but not change them."""
    copied = copy.copy(function)
    copied.body = body
    return copied


def counterpart(node: ast.AST, original: ast.AST, other: ast.AST) -> ast.AST:
    """The node of ``other`` (a copy or a fresh parse of ``original``) at the place ``node`` has in
    ``original``. ValueError if ``node`` is not in ``original``."""
    for mine, theirs in zip(ast.walk(original), ast.walk(other)):
        if mine is node:
            return theirs
    raise ValueError("node not found")


def source_of(node: ast.AST) -> str:
    """The source text of ``node`` ending in a newline, after filling in the locations new nodes lack."""
    ast.fix_missing_locations(node)
    return ast.unparse(node) + "\n"
