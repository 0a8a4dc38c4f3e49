"""The procedure a conditional transform works on, and what the transforms share."""

from __future__ import annotations

import ast
from collections.abc import Callable
from functools import cached_property

import attrs

from dreamcore.analysis.nodes import (
    FunctionNode,
    body_start,
    bound_name,
    counterpart,
    number,
    parsed_imports,
    source_of,
)
from dreamcore.analysis.syntax import parameters, resolved_annotation, scope_nodes
from dreamcore.generation.drafts import GenerationContext
from dreamcore.generation.local import Candidate

# a rewrite edits a fresh parse of the source (the module and the function in it) and returns the
# modules the new code needs imported
Rewrite = Callable[[ast.Module, FunctionNode], list[str]]

BUILDERS = {"list": "[]", "sorted": "[]", "tuple": "()", "set": "set()", "frozenset": "frozenset()", "dict": "{}"}


@attrs.frozen(kw_only=True)
class Change:
    """One transform at one place, before its code is built (only the changes drafts need are)."""

    kind: str
    rewrite: Rewrite
    description: str
    reasoning: str


@attrs.define
class Subject:
    """The procedure being transformed, parsed (and its own nodes walked) once for the analyses."""

    context: GenerationContext
    tree: ast.Module
    function: FunctionNode
    offset: int

    @property
    def name(self) -> str:
        return self.function.name

    @property
    def is_async(self) -> bool:
        return isinstance(self.function, ast.AsyncFunctionDef)

    @cached_property
    def nodes(self) -> tuple[ast.AST, ...]:
        """The nodes of the function's body, not descending into nested functions, lambdas or classes."""
        return tuple(scope_nodes(self.function.body))

    @cached_property
    def is_generator(self) -> bool:
        return any(isinstance(n, ast.Yield | ast.YieldFrom) for n in self.nodes)

    @property
    def is_method(self) -> bool:
        return "." in self.context.procedure.qualname

    @property
    def decorators(self) -> list[str]:
        return [ast.unparse(d) for d in self.function.decorator_list]

    @cached_property
    def imported(self) -> set[str]:
        """Names the procedure's module imports (``import time`` binds ``time``)."""
        return {bound_name(alias) for statement in parsed_imports(self.context.procedure.imports)
                if isinstance(statement, ast.Import | ast.ImportFrom) for alias in statement.names}

    def params(self) -> list[tuple[ast.arg, ast.expr | None]]:
        """(argument, default) of every named parameter, in order (not *args/**kwargs)."""
        return parameters(self.function.args)

    def param_names(self) -> set[str]:
        return {arg.arg for arg, _ in self.params()}

    def line(self, node: ast.AST) -> int:
        return getattr(node, "lineno", 1) + self.offset

    def reassigned(self, name: str) -> bool:
        """Whether the body ever rebinds ``name``."""
        for node in self.nodes:
            targets: list[ast.AST] = []
            if isinstance(node, ast.Assign):
                targets = node.targets
            elif isinstance(node, ast.AugAssign | ast.AnnAssign | ast.For | ast.AsyncFor | ast.NamedExpr):
                targets = [node.target]
            elif isinstance(node, ast.With | ast.AsyncWith):
                targets = [item.optional_vars for item in node.items if item.optional_vars is not None]
            for target in targets:
                if any(is_name(n, name) for n in ast.walk(target)):
                    return True
        return False

    def already_checked(self, name: str) -> bool:
        """Whether the body already checks ``name``: compares it against a number, or tests its truth
        (``if length:``, ``x and ...``, ``not x``)."""
        for node in self.nodes:
            if isinstance(node, ast.If | ast.IfExp | ast.While | ast.Assert) and is_name(node.test, name):
                return True
            if isinstance(node, ast.BoolOp) and any(is_name(v, name) for v in node.values):
                return True
            if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not) and is_name(node.operand, name):
                return True
            if isinstance(node, ast.Compare):
                operands = [node.left, *node.comparators]
                if any(is_name(o, name) for o in operands) and any(number(o) is not None for o in operands):
                    return True
        return False

    def build(self, change: Change) -> Candidate:
        """The change made: its rewrite applied to a fresh parse of the source, after the imports it
        needs that the procedure's module lacks."""
        tree = ast.parse(self.context.source)
        modules = change.rewrite(tree, counterpart(self.function, self.tree, tree))
        code = source_of(tree)
        missing = [m for m in modules if m not in self.imported]
        if missing:
            code = "".join(f"import {m}\n" for m in missing) + "\n" + code
        return Candidate(kind=change.kind, code=code, description=change.description, reasoning=change.reasoning)


def is_name(node: ast.AST, name: str) -> bool:
    """Whether ``node`` is the name ``name``."""
    return isinstance(node, ast.Name) and node.id == name


def inserting(statement: str, position: int | None = None) -> Rewrite:
    """A rewrite inserting ``statement`` (source text) into the function's body at ``position``, or
    right after its docstring."""

    def rewrite(tree: ast.Module, function: FunctionNode) -> list[str]:
        where = body_start(function) if position is None else position
        function.body.insert(where, ast.parse(statement).body[0])
        return []

    return rewrite


def annotation_names(annotation: ast.AST | None) -> set[str]:
    """Type names in an annotation: ``dict[str, Any] | None`` -> {"dict", "str", "Any", "None"}."""
    if annotation is None:
        return set()
    annotation = resolved_annotation(annotation)
    if annotation is None:
        return {"?"}
    names: set[str] = set()
    for node in ast.walk(annotation):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Attribute):
            names.add(node.attr)
        elif isinstance(node, ast.Constant) and node.value is None:
            names.add("None")
    return names
