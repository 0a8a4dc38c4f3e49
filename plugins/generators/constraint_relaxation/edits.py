"""What the relaxations share: the base function's own nodes, edits on numbered copies of it, and
small readers of statements."""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from functools import lru_cache
from typing import Any

from dreamcore.analysis.nodes import FunctionNode, body_start, bound_name, root_name, source_of
from dreamcore.analysis.syntax import copy_tree, is_generator, resolved_annotation, scope_nodes, snippet

Edit = Callable[[FunctionNode], None]  # changes a copy of the base function in place

_Scope = ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef
_Loop = ast.For | ast.AsyncFor | ast.While
_STATEMENT_FIELDS = ("body", "orelse", "finalbody")


# -- the base function's own scope -----------------------------------------------------------


def walk_scope(node: ast.AST) -> Iterator[ast.AST]:
    """Nodes under ``node`` (itself excluded) that belong to its scope: nested defs are not entered."""
    return scope_nodes(ast.iter_child_nodes(node))


@lru_cache(maxsize=4)
def own_nodes(function: FunctionNode) -> tuple[ast.AST, ...]:
    """The base function's own nodes (body only: no decorators, defaults or annotations; no nested
    scopes), walked once: the transforms ask for them many times and never edit the base (edits work
    on copies, see ``transformed``). A copy's nodes come from ``scope_nodes`` directly."""
    return tuple(scope_nodes(function.body))


@lru_cache(maxsize=4)
def _parents(function: FunctionNode) -> dict[int, ast.AST]:
    """id(node) -> parent, for the base function's body statements and the children of its own nodes."""
    parents: dict[int, ast.AST] = {id(statement): function for statement in function.body}
    for node in own_nodes(function):
        if not isinstance(node, _Scope):
            parents.update((id(child), node) for child in ast.iter_child_nodes(node))
    return parents


def statement_lists(function: FunctionNode) -> Iterator[tuple[ast.AST, str, list[ast.stmt]]]:
    """(owner, field, list) for every statement list of the function's own scope, the body first."""
    yield function, "body", function.body
    for node in own_nodes(function):
        if isinstance(node, _Scope):
            continue
        for field in _STATEMENT_FIELDS:
            value = getattr(node, field, None)
            if isinstance(value, list) and value and isinstance(value[0], ast.stmt):
                yield node, field, value


def enclosing_loop(function: FunctionNode, node: ast.AST) -> _Loop | None:
    """The innermost loop of the function's own scope that has ``node`` in its body (at any depth)."""
    parents = _parents(function)
    child, parent = node, parents.get(id(node))
    while parent is not None and parent is not function:
        if isinstance(parent, _Loop) and any(child is s for s in parent.body):
            return parent
        child, parent = parent, parents.get(id(parent))
    return None


# -- edits on copies -------------------------------------------------------------------------


def number_nodes(function: FunctionNode) -> None:
    """Tag every node with its position, so that a copy's node can be matched to the original's."""
    for index, node in enumerate(ast.walk(function)):
        node._cr_id = index  # type: ignore[attr-defined]


def find_copy(copy_fn: FunctionNode, node: ast.AST) -> Any:
    """The node of the copied function that corresponds to ``node`` of the (numbered) original."""
    for candidate in ast.walk(copy_fn):
        if getattr(candidate, "_cr_id", None) == node._cr_id:  # type: ignore[attr-defined]
            return candidate
    raise ValueError("node not found in the copy")


def same_list(copy_fn: FunctionNode, owner: ast.AST, field: str) -> list[ast.stmt]:
    """The copy's statement list ``field`` of the copy of ``owner``."""
    return getattr(find_copy(copy_fn, owner), field)


def transformed(function: FunctionNode, edit: Edit) -> str:
    """Unparsed source of a transformed copy of ``function`` (its nodes numbered, see ``number_nodes``)."""
    duplicate = copy_tree(function)
    edit(duplicate)
    _fill_empty_bodies(duplicate)
    return source_of(duplicate)


def _fill_empty_bodies(function: FunctionNode) -> None:
    """Removing statements may leave a block empty: give it a ``pass``."""
    for node in ast.walk(function):
        if isinstance(getattr(node, "body", None), list) and not node.body:
            node.body.append(ast.Pass())
        if isinstance(node, ast.Try | getattr(ast, "TryStar", ast.Try)) and not node.handlers and not node.finalbody:
            node.finalbody.append(ast.Pass())


def _containing_list(function: FunctionNode, node: ast.AST) -> tuple[ast.AST, str, int]:
    """(owner, field, index) of a statement of the function's own scope."""
    owner = _parents(function).get(id(node))
    for field in _STATEMENT_FIELDS:
        for index, statement in enumerate(getattr(owner, field, None) or ()):
            if statement is node:
                return owner, field, index
    raise ValueError("statement not found")


def replace_statement(
    function: FunctionNode, node: ast.stmt, make: Callable[[FunctionNode], ast.stmt | list[ast.stmt]]
) -> Edit:
    """An edit replacing ``node`` (a statement of ``function``) with what ``make`` returns."""
    owner, field, _ = _containing_list(function, node)

    def edit(copy_fn: FunctionNode) -> None:
        statements = same_list(copy_fn, owner, field)
        target = find_copy(copy_fn, node)
        index = next(k for k, s in enumerate(statements) if s is target)
        replacement = make(copy_fn)
        statements[index:index + 1] = replacement if isinstance(replacement, list) else [replacement]

    return edit


def remove_statements(function: FunctionNode, nodes: list[ast.stmt]) -> Edit:
    """An edit removing statements of ``function``."""
    edits = [replace_statement(function, node, lambda _: []) for node in nodes]

    def edit(copy_fn: FunctionNode) -> None:
        for each in edits:
            each(copy_fn)

    return edit


def ensure_import(function: FunctionNode, module: str) -> None:
    """Add ``import module`` at the top of the body (after the docstring) unless already imported there."""
    for statement in function.body:
        if isinstance(statement, ast.Import) and any(alias.name == module and alias.asname is None
                                                     for alias in statement.names):
            return
    function.body.insert(body_start(function), ast.Import(names=[ast.alias(name=module)]))


def default_return(function: FunctionNode) -> ast.expr | None:
    """A neutral value of the function's return annotation; None for generators (a bare return)."""
    if is_generator(function):
        return None
    return _neutral(function.returns)


def _neutral(annotation: ast.expr | None) -> ast.expr:
    annotation = resolved_annotation(annotation)
    if annotation is None:
        return ast.Constant(None)
    if isinstance(annotation, ast.BinOp) and isinstance(annotation.op, ast.BitOr):
        return ast.Constant(None)  # X | None, or a union: None is the least surprising
    base = annotation.value if isinstance(annotation, ast.Subscript) else annotation
    name = ast.unparse(base).split(".")[-1]
    simple: dict[str, Any] = {"int": 0, "float": 0.0, "str": "", "bool": False, "bytes": b"", "complex": 0j}
    if name in simple:
        return ast.Constant(simple[name])
    if name in {"list", "List", "Sequence", "MutableSequence", "Iterable", "Collection"}:
        return ast.List(elts=[], ctx=ast.Load())
    if name in {"dict", "Dict", "Mapping", "MutableMapping"}:
        return ast.Dict(keys=[], values=[])
    if name in {"tuple", "Tuple"}:
        return ast.Tuple(elts=[], ctx=ast.Load())
    if name in {"set", "Set", "frozenset", "FrozenSet", "AbstractSet"}:
        return ast.Call(func=ast.Name(id=name.lower() if name != "AbstractSet" else "set", ctx=ast.Load()),
                        args=[], keywords=[])
    return ast.Constant(None)


# -- readers ---------------------------------------------------------------------------------


def stored_names(node: ast.AST) -> set[str]:
    """Names bound or deleted anywhere under ``node``."""
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store | ast.Del)}


def written_names(statement: ast.AST) -> set[str]:
    """Names a statement binds, plus objects it mutates through attributes, subscripts or method calls."""
    names = stored_names(statement)
    for node in ast.walk(statement):
        if isinstance(node, ast.Attribute | ast.Subscript) and isinstance(node.ctx, ast.Store | ast.Del):
            root = root_name(node)
            if root:
                names.add(root)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            root = root_name(node.func.value)
            if root:
                names.add(root)  # a method call may mutate its receiver
        elif isinstance(node, FunctionNode | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names |= {bound_name(a) for a in node.names}
    return names


def is_terminal(statement: ast.stmt) -> bool:
    """Statements whose position is their meaning: returns, raises, yields-only lines, jumps."""
    if isinstance(statement, ast.Return | ast.Raise | ast.Break | ast.Continue | ast.Global | ast.Nonlocal):
        return True
    return isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant)


def short(node: ast.AST, limit: int = 70) -> str:
    """One-line source of a node (a compound statement shows its header), cut at ``limit``."""
    if isinstance(node, ast.For | ast.AsyncFor):
        text = f"for {ast.unparse(node.target)} in {ast.unparse(node.iter)}"
    elif isinstance(node, ast.While):
        text = f"while {ast.unparse(node.test)}"
    elif isinstance(node, ast.If):
        text = f"if {ast.unparse(node.test)}: ..."
    elif isinstance(node, ast.With | ast.AsyncWith):
        text = "with " + ", ".join(ast.unparse(item) for item in node.items)
    elif isinstance(node, ast.Try):
        text = "try: ..."
    elif isinstance(node, FunctionNode | ast.ClassDef):
        text = f"def {node.name}(...)" if not isinstance(node, ast.ClassDef) else f"class {node.name}"
    else:
        return snippet(node, limit)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
