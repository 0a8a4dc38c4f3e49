"""What inlining a related procedure takes: the imports it may bring along, the names it reads from
its module, and the rewrites that let it run as a nested def."""

from __future__ import annotations

import ast
import builtins
import sys
from typing import TYPE_CHECKING

from dreamcore.analysis.nodes import FunctionNode, bound_name, parsed_imports
from dreamcore.analysis.safety import check_code
from dreamcore.analysis.syntax import copy_tree
from dreamcore.config import SafetyPolicy
from dreamcore.models import Procedure

if TYPE_CHECKING:
    from .sides import Related

BUILTINS = frozenset(dir(builtins))


def import_table(procedure: Procedure, module: ast.Module | None) -> dict[str, ast.stmt]:
    """Bound name -> a one-name import statement, from the procedure's imports and its module's."""
    table: dict[str, ast.stmt] = {}
    statements = parsed_imports(procedure.imports)
    if module is not None:
        statements.extend(n for n in module.body if isinstance(n, ast.Import | ast.ImportFrom))
    for statement in statements:
        if isinstance(statement, ast.Import):
            for alias in statement.names:
                table.setdefault(bound_name(alias), ast.Import(names=[alias]))
        elif isinstance(statement, ast.ImportFrom) and statement.module != "__future__":
            for alias in statement.names:
                if alias.name != "*":
                    table.setdefault(bound_name(alias),
                                     ast.ImportFrom(module=statement.module, names=[alias], level=statement.level))
    return table


def import_ok(statement: ast.stmt) -> bool:
    """A standard-library import the default safety policy allows inside a dream."""
    if isinstance(statement, ast.ImportFrom):
        if statement.level or not statement.module:
            return False
        module = statement.module
    elif isinstance(statement, ast.Import):
        module = statement.names[0].name
    else:
        return False
    if module.partition(".")[0] not in sys.stdlib_module_names:
        return False
    # the default policy here; the run's own policy decides about the dream later
    return check_code(f"def _probe():\n    {ast.unparse(statement)}\n", SafetyPolicy()).ok


def free_names(node: ast.AST) -> set[str]:
    """Names read in ``node`` that it neither binds itself nor gets from builtins."""
    bound: set[str] = set()
    for child in ast.walk(node):
        if isinstance(child, ast.Name) and isinstance(child.ctx, ast.Store | ast.Del):
            bound.add(child.id)
        elif isinstance(child, ast.arg):
            bound.add(child.arg)
        elif isinstance(child, FunctionNode | ast.ClassDef) or (isinstance(child, ast.ExceptHandler) and child.name):
            bound.add(child.name)
        elif isinstance(child, ast.Import | ast.ImportFrom):
            bound |= {bound_name(a) for a in child.names}
        elif isinstance(child, ast.MatchAs | ast.MatchStar) and child.name:
            bound.add(child.name)
    reads = {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    if isinstance(node, FunctionNode):
        reads -= {node.name}
    return reads - bound - BUILTINS


def strip_annotations(function: ast.AST) -> None:
    """Parameter and return annotations are evaluated when a nested def runs: drop them all."""
    for node in ast.walk(function):
        if isinstance(node, ast.arg):
            node.annotation = None
        elif isinstance(node, FunctionNode):
            node.returns = None
        for field in ("body", "orelse", "finalbody"):
            statements = getattr(node, field, None)
            if not isinstance(statements, list) or not statements:
                continue
            replaced: list[ast.stmt] = []
            for statement in statements:
                if isinstance(statement, ast.AnnAssign):
                    if statement.value is not None:
                        replaced.append(ast.Assign(targets=[statement.target], value=statement.value))
                else:
                    replaced.append(statement)
            statements[:] = replaced or [ast.Pass()]


def substitute_defaults(function: FunctionNode, other: Related) -> bool:
    """Defaults are evaluated where the helper is defined: module constants must become literals."""
    args = function.args
    for defaults in (args.defaults, args.kw_defaults):
        for index, default in enumerate(defaults):
            if default is None:
                continue
            for name in sorted(free_names(default)):
                literal = other.literal(name)
                if literal is None:
                    return False
                default = _replace_name(default, name, literal)
            defaults[index] = default
    return True


def _replace_name(node: ast.expr, name: str, value: ast.expr) -> ast.expr:
    class Replace(ast.NodeTransformer):
        def visit_Name(self, child: ast.Name) -> ast.expr:
            return copy_tree(value) if child.id == name and isinstance(child.ctx, ast.Load) else child

    return Replace().visit(node)
