"""Parsing Python procedures and small AST readers the generators and scorers share.

Everything works on the AST; no code is ever executed or imported. Sources are dedented first, so a
method cut out of its class parses like a top-level function (a source whose docstring lines sit
left of its ``def`` parses too). ``canonical_fingerprint`` is the SHA-256 of the AST with docstrings
(module, class, function) removed, so formatting, comments and docstrings do not count; constants,
operators, names, defaults, annotations and decorators do.
"""

from __future__ import annotations

import ast
import hashlib
import re
import textwrap
from collections.abc import Iterable, Iterator
from functools import lru_cache

_Function = ast.FunctionDef | ast.AsyncFunctionDef
SCOPE_NODES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
DOCUMENTED_NODES = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
BLOCK_FIELDS = ("body", "handlers", "orelse", "finalbody", "cases")  # fields holding a compound statement's blocks

# -- parsing -----------------------------------------------------------------------------------


# every generator and the checks parse the same procedure's source: dedent it once
_dedent = lru_cache(maxsize=256)(textwrap.dedent)


def parse_module(source: str) -> ast.Module:
    """The module parsed from the dedented source; ValueError (mentioning "parse") when it cannot be."""
    text = _dedent(source)
    try:
        return ast.parse(text)
    except SyntaxError as exc:
        problem = f"{exc.msg} (line {exc.lineno})"
    except ValueError as exc:  # e.g. null bytes
        problem = str(exc)
    except RecursionError:
        problem = "nested too deeply"
    if text[:1].isspace():  # e.g. a method whose docstring has lines left of its def
        try:
            wrapped = ast.parse("if True:\n" + text)
        except (SyntaxError, ValueError, RecursionError):
            pass
        else:
            return ast.Module(body=wrapped.body[0].body, type_ignores=[])
    raise ValueError(f"source does not parse: {problem}")


def parse_function(source: str, name: str | None = None) -> ast.FunctionDef | ast.AsyncFunctionDef:
    """The function ``name`` defined in ``source`` (top level first, then class bodies, outer first),
    or the first top-level function when ``name`` is None. ValueError if there is none or no parse."""
    tree = parse_module(source)
    if name is None:
        for node in tree.body:
            if isinstance(node, _Function):
                return node
        raise ValueError("the source defines no top-level function")
    level: list[ast.stmt] = tree.body
    while level:
        function = function_in(level, name)
        if function is not None:
            return function
        level = [node for cls in level if isinstance(cls, ast.ClassDef) for node in cls.body]
    raise ValueError(f"the source defines no function named {name!r}")


def _normalised(source: str) -> ast.Module:
    """The parsed source without docstrings and string-prefix marks."""
    tree = parse_module(source)
    for node in ast.walk(tree):
        if isinstance(node, DOCUMENTED_NODES):
            node.body = docstring_free(node.body)
        elif isinstance(node, ast.Constant):
            node.kind = None
    return tree


def canonical_fingerprint(source: str) -> str:
    """SHA-256 hex of the normalised AST: equal for code that differs only in formatting, comments,
    docstrings or indentation. ValueError if the source does not parse."""
    dump = ast.dump(_normalised(source))
    return hashlib.sha256(dump.encode("utf-8", "surrogatepass")).hexdigest()


def signature_of(function: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    """Canonical signature text, e.g. ``"(a, b: int = ..., *args, key=..., **kw) -> bool"``, prefixed
    with ``"async "`` for coroutines. Names, order, kinds, annotations and which parameters have a
    default all count; default *values* do not (every caller still calls the function the same way,
    and tuning a default is exactly what a parameter dream does)."""
    args = function.args

    def param(arg: ast.arg, default: ast.expr | None = None, prefix: str = "") -> str:
        text = prefix + arg.arg
        if arg.annotation is not None:
            text += f": {ast.unparse(arg.annotation)}"
        if default is not None:
            text += " = ..." if arg.annotation is not None else "=..."
        return text

    named = parameters(args)
    split = len(args.posonlyargs) + len(args.args)
    parts = [param(arg, default) for arg, default in named[:split]]
    if args.posonlyargs:
        parts.insert(len(args.posonlyargs), "/")
    if args.vararg is not None:
        parts.append(param(args.vararg, prefix="*"))
    elif args.kwonlyargs:
        parts.append("*")
    parts += [param(arg, default) for arg, default in named[split:]]
    if args.kwarg is not None:
        parts.append(param(args.kwarg, prefix="**"))
    type_params = getattr(function, "type_params", None)
    generics = f"[{', '.join(ast.unparse(p) for p in type_params)}]" if type_params else ""
    returns = f" -> {ast.unparse(function.returns)}" if function.returns is not None else ""
    prefix = "async " if isinstance(function, ast.AsyncFunctionDef) else ""
    return f"{prefix}{generics}({', '.join(parts)}){returns}"


def identifiers(source: str) -> frozenset[str]:
    """Every identifier in the source: names, attributes, parameters, keywords, definitions, imports.
    ValueError if the source does not parse."""
    return identifiers_in(ast.walk(parse_module(source)))


def identifiers_in(nodes: Iterable[ast.AST]) -> frozenset[str]:
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Name):
            found.add(node.id)
        elif isinstance(node, ast.Attribute):
            found.add(node.attr)
        elif isinstance(node, (ast.arg, ast.keyword)) and node.arg:
            found.add(node.arg)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found.add(node.name)
        elif isinstance(node, ast.alias):
            found.add(node.asname or node.name.split(".")[0])
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            found.update(node.names)
        elif isinstance(node, (ast.ExceptHandler, ast.MatchAs, ast.MatchStar)) and node.name:
            found.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            found.add(node.rest)
    return frozenset(found)


# -- AST helpers the generators share ----------------------------------------------------------


def function_in(statements: list[ast.stmt], name: str) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    """The first function definition named ``name`` among ``statements`` (not nested ones), or None."""
    for node in statements:
        if isinstance(node, _Function) and node.name == name:
            return node
    return None


def scope_nodes(nodes: Iterable[ast.AST]) -> Iterator[ast.AST]:
    """``nodes`` and every node under them that belongs to their scope, in source order (pre-order,
    children in field order): nested functions, lambdas and classes are yielded but not entered."""
    stack = list(nodes)[::-1]
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, SCOPE_NODES):
            stack.extend(list(ast.iter_child_nodes(node))[::-1])


def walk_with_parents(node: ast.AST) -> tuple[list[ast.AST], dict[int, ast.AST]]:
    """``list(ast.walk(node))`` and, from the same walk, each node's parent keyed by ``id`` (``node``
    itself has none; for the parser's shared ``Load``/``Store``/operator nodes the entry is arbitrary)."""
    nodes, parents = [node], {}
    for parent in nodes:  # appending while iterating: breadth-first, like ast.walk
        for child in ast.iter_child_nodes(parent):
            parents[id(child)] = parent
            nodes.append(child)
    return nodes, parents


def statement_position(root: ast.AST, statement: ast.stmt) -> tuple[list[ast.stmt], int]:
    """The ``body``/``orelse``/``finalbody`` list under ``root`` that holds ``statement`` (handlers and
    match cases included), and its index there. ValueError if there is none."""
    for node in ast.walk(root):
        for field in ("body", "orelse", "finalbody"):
            statements = getattr(node, field, None)
            if isinstance(statements, list):
                for index, candidate in enumerate(statements):
                    if candidate is statement:
                        return statements, index
    raise ValueError("statement not found")


def copy_tree(node: ast.AST) -> ast.AST:
    """A deep copy of an AST (fields, positions and any other attributes), several times faster than
    ``copy.deepcopy``. Nodes shared within the tree (the parser's ``Load``/``Store`` singletons) are
    copied once per use."""
    duplicate = type(node).__new__(type(node))
    attributes = vars(duplicate)
    for key, value in vars(node).items():
        if isinstance(value, ast.AST):
            value = copy_tree(value)
        elif isinstance(value, list):
            value = [copy_tree(item) if isinstance(item, ast.AST) else item for item in value]
        attributes[key] = value
    return duplicate


def is_generator(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """Whether the function's own body yields (a ``yield`` in a nested function or lambda does not count)."""
    return any(isinstance(node, (ast.Yield, ast.YieldFrom)) for node in scope_nodes(function.body))


def is_docstring(statement: ast.stmt) -> bool:
    """Whether the statement is a bare string (a docstring when it comes first in a body)."""
    return isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant) \
        and isinstance(statement.value.value, str)


def docstring_free(body: list[ast.stmt]) -> list[ast.stmt]:
    """``body`` without its leading docstring (the list itself when there is none)."""
    return body[1:] if body and is_docstring(body[0]) else body


def is_none(node: ast.expr) -> bool:
    """Whether the expression is the literal ``None``."""
    return isinstance(node, ast.Constant) and node.value is None


def read_names(node: ast.AST) -> set[str]:
    """Every name read (``Load`` context) anywhere under ``node``, nested scopes included."""
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def parameters(args: ast.arguments) -> list[tuple[ast.arg, ast.expr | None]]:
    """(parameter, its default or None) for every named parameter, in order (not ``*args``/``**kwargs``)."""
    positional = args.posonlyargs + args.args
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    return [*zip(positional, defaults), *zip(args.kwonlyargs, args.kw_defaults)]


def resolved_annotation(annotation: ast.expr | None) -> ast.expr | None:
    """The annotation, a string one (``"list[int]"``) parsed into its expression; None for none or for a
    string that does not parse."""
    if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
        try:
            return ast.parse(annotation.value, mode="eval").body
        except SyntaxError:
            return None
    return annotation


def snippet(node: ast.AST, limit: int = 70) -> str:
    """The node's source on one line (white space folded), cut to ``limit`` characters with "..."."""
    text = " ".join(ast.unparse(node).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def name_tokens(*names: str) -> list[str]:
    """The lowercased words of identifiers, in order: ``maxDelay``, ``max_delay`` -> ["max", "delay"]."""
    tokens: list[str] = []
    for name in names:
        spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name)
        tokens += [t for t in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if t]
    return tokens


