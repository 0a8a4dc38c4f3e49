"""What dreamcore knows about Python code: parsing, fingerprints, data flow, shape and kinship.

Generators and scorers share these pure functions. Everything works on the AST; no code is ever
executed or imported. Sources are dedented first, so a method cut out of its class parses like a
top-level function (a source whose docstring lines sit left of its ``def`` parses too).

- ``canonical_fingerprint``: SHA-256 of the AST with docstrings (module, class, function) removed,
  so formatting, comments and docstrings do not count; constants, operators, names, defaults,
  annotations and decorators do.
- ``analyze_dependencies``: what each top-level statement of a function reads, writes, calls and
  which side effects it has, and from that which adjacent statements may swap places and which runs
  of calls could run concurrently.
- ``structural_distance`` / ``structural_novelty``: how different two pieces of code are in shape.
- ``RelatedIndex`` / ``related_procedures``: procedures of other projects that do similar things.
- small AST helpers the generators share: ``scope_nodes``, ``walk_with_parents``, ``copy_tree``,
  ``parameters``, ``docstring_free``, ``snippet`` and the like.

Purity is judged by name only (``PURE_BUILTINS``, ``PURE_MODULES``, ``PURE_FUNCTIONS``,
``PURE_METHODS``); every other call counts as a side effect, and so do assigning an attribute or
item, ``del``, ``global``/``nonlocal``, ``raise``, ``yield``, ``await`` and entering a ``with``
block. Objects passed to a call are assumed not to be changed by it, except the receiver of a known
mutating method (``MUTATING_METHODS``), so a step's data dependencies are exact only up to aliasing.
"""

from __future__ import annotations

import ast
import copy
import hashlib
import heapq
import math
import re
import textwrap
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from functools import lru_cache
from itertools import pairwise

import attrs

from dreamcore.models import Procedure

_Function = ast.FunctionDef | ast.AsyncFunctionDef
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
_DOCUMENTED = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
_BLOCKS = ("body", "handlers", "orelse", "finalbody", "cases")  # fields holding a compound statement's blocks

PURE_BUILTINS = frozenset({
    "abs", "all", "any", "ascii", "bin", "bool", "bytes", "callable", "chr", "complex", "dict", "dir",
    "divmod", "enumerate", "filter", "float", "format", "frozenset", "getattr", "hasattr", "hash", "hex",
    "id", "int", "isinstance", "issubclass", "iter", "len", "list", "map", "max", "min", "object", "oct",
    "ord", "pow", "range", "repr", "reversed", "round", "set", "slice", "sorted", "str", "sum", "super",
    "tuple", "type", "vars", "zip",
})
PURE_MODULES = frozenset({
    "math", "cmath", "itertools", "string", "textwrap", "unicodedata", "statistics", "keyword", "os.path",
    "posixpath", "ntpath",
})
PURE_FUNCTIONS = frozenset({
    "json.dumps", "json.loads", "copy.copy", "copy.deepcopy", "re.compile", "re.match", "re.search",
    "re.fullmatch", "re.findall", "re.finditer", "re.sub", "re.subn", "re.split", "re.escape",
    "functools.partial", "functools.reduce", "operator.itemgetter", "operator.attrgetter",
    "operator.methodcaller", "dataclasses.replace", "dataclasses.asdict", "dataclasses.astuple",
    "dataclasses.fields", "collections.Counter", "collections.OrderedDict", "collections.defaultdict",
    "collections.deque", "datetime.timedelta", "datetime.date", "datetime.datetime", "decimal.Decimal",
    "fractions.Fraction", "shlex.quote", "shlex.split", "html.escape", "urllib.parse.quote",
    "urllib.parse.unquote", "urllib.parse.urlencode", "urllib.parse.urlsplit", "urllib.parse.urlparse",
    "urllib.parse.urljoin", "base64.b64encode", "base64.b64decode", "hashlib.sha256", "hashlib.sha1",
    "hashlib.md5",
})
# method names that do not change their receiver (str, bytes, dict views, sets, numbers, dates, matches)
PURE_METHODS = frozenset({
    "join", "split", "rsplit", "splitlines", "strip", "lstrip", "rstrip", "lower", "upper", "casefold",
    "title", "capitalize", "swapcase", "startswith", "endswith", "replace", "format", "format_map", "encode",
    "decode", "find", "rfind", "index", "rindex", "count", "partition", "rpartition", "isdigit", "isdecimal",
    "isnumeric", "isalpha", "isalnum", "isspace", "isupper", "islower", "istitle", "isidentifier", "isascii",
    "zfill", "ljust", "rjust", "center", "expandtabs", "removeprefix", "removesuffix", "translate", "keys",
    "values", "items", "copy", "union", "intersection", "difference", "symmetric_difference", "issubset",
    "issuperset", "isdisjoint", "bit_length", "is_integer", "as_integer_ratio", "conjugate", "hexdigest",
    "digest", "total_seconds", "isoformat", "strftime", "weekday", "isoweekday", "group", "groups",
    "groupdict", "span", "most_common",
})
# a pure-named method on one of these is still a side effect (shutil.copy, os.replace, time.time, ...)
IMPURE_ROOTS = frozenset({
    "os", "sys", "shutil", "subprocess", "socket", "time", "random", "secrets", "requests", "httpx", "urllib",
    "asyncio", "logging", "threading", "multiprocessing", "io", "sqlite3", "pathlib", "tempfile", "signal",
    "select", "ssl", "uuid",
})
MUTATING_METHODS = frozenset({
    "append", "extend", "insert", "pop", "remove", "clear", "update", "add", "discard", "setdefault", "sort",
    "reverse", "popitem", "appendleft", "extendleft", "popleft", "rotate", "difference_update",
    "intersection_update", "symmetric_difference_update", "put", "put_nowait", "write", "writelines",
})


# -- parsing -----------------------------------------------------------------------------------


# every generator and the checks parse the same procedure's source: dedent it once
_dedent = lru_cache(maxsize=256)(textwrap.dedent)


def _parse(source: str) -> ast.Module:
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
    tree = _parse(source)
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
    tree = _parse(source)
    for node in ast.walk(tree):
        if isinstance(node, _DOCUMENTED):
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
    return _identifiers(ast.walk(_parse(source)))


def _identifiers(nodes: Iterable[ast.AST]) -> frozenset[str]:
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
        if not isinstance(node, _SCOPES):
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


# -- dependency analysis -----------------------------------------------------------------------


@attrs.frozen
class Step:
    """One top-level statement of a function body and what it touches.

    ``line`` counts from the ``def`` line (the first body line is usually 1). ``reads`` and
    ``writes`` are bare names (builtins and modules read included); assigning ``obj.attr`` or
    ``obj[key]`` reads ``obj`` and is a side effect. ``text`` is the first line of the unparsed
    statement.
    """

    index: int
    line: int
    kind: str
    reads: frozenset[str]
    writes: frozenset[str]
    calls: tuple[str, ...]
    side_effect: bool
    awaits: bool
    text: str


@attrs.frozen
class DependencyAnalysis:
    """Data flow of one function (see ``analyze_dependencies``)."""

    name: str
    params: tuple[str, ...]
    steps: tuple[Step, ...]
    reads: frozenset[str]
    writes: frozenset[str]
    calls: tuple[str, ...]
    side_effects: tuple[str, ...]
    loops: int
    conditionals: int
    is_async: bool
    is_generator: bool
    reorderable: tuple[tuple[int, int], ...]
    parallel_groups: tuple[tuple[int, ...], ...]


@attrs.frozen
class _Closure:
    """What referring to a nested function brings in: its free names, and the outer names it rebinds
    (nonlocal/global) or mutates when called."""

    reads: frozenset[str]
    writes: frozenset[str]
    mutates: frozenset[str]


def _short(node: ast.AST, width: int = 48) -> str:
    text = ast.unparse(node).split("\n", 1)[0]
    return text if len(text) <= width else text[: width - 3] + "..."


def _callee(node: ast.expr) -> str:
    """Dotted name of what is called: ``time.sleep``, ``self.client.get``, ``make()().run``."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_callee(node.value)}.{node.attr}"
    if isinstance(node, ast.Call):
        return f"{_callee(node.func)}()"
    if isinstance(node, ast.Subscript):
        return f"{_callee(node.value)}[]"
    return _short(node, 32)


def _root_name(node: ast.AST) -> str | None:
    """The variable an attribute/subscript/call chain starts from (``self`` in ``self.a[0].b``)."""
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call, ast.Starred)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def _is_pure(func: ast.expr, name: str) -> bool:
    if name in PURE_FUNCTIONS or name in PURE_BUILTINS:
        return True
    parts = name.split(".")
    if any(".".join(parts[:k]) in PURE_MODULES for k in range(1, len(parts))):
        return True
    if not isinstance(func, ast.Attribute):
        return False
    return func.attr in PURE_METHODS and _root_name(func) not in IMPURE_ROOTS


def _declarations(body: list[ast.stmt]) -> dict[str, str]:
    """Names the scope declares ``global`` or ``nonlocal``, with the keyword."""
    declared = {}
    for node in _statements(body):
        if isinstance(node, (ast.Global, ast.Nonlocal)):
            keyword = "global" if isinstance(node, ast.Global) else "nonlocal"
            declared.update(dict.fromkeys(node.names, keyword))
    return declared


def _statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """The statements of a scope in source order, blocks of compound statements (``except`` and
    ``case`` blocks included) entered, nested functions and classes not: cheaper than ``scope_nodes``
    where only statements matter."""
    stack = body[::-1]
    while stack:
        statement = stack.pop()
        yield statement
        if isinstance(statement, _SCOPES):
            continue
        nested: list[ast.stmt] = []
        for field in _BLOCKS:
            for item in getattr(statement, field, ()):
                nested.extend(item.body if isinstance(item, (ast.excepthandler, ast.match_case)) else [item])
        stack.extend(nested[::-1])


def _param_names(args: ast.arguments) -> list[str]:
    every = args.posonlyargs + args.args + [args.vararg] + args.kwonlyargs + [args.kwarg]
    return [arg.arg for arg in every if arg is not None]


class _Scanner(ast.NodeVisitor):
    """Names, calls and effects of the code of one scope.

    Nested scopes are scanned by their own scanner and folded in: their free names become reads
    here; calls and effects of lambdas, comprehensions and class bodies count here too (they run, or
    are usually called, right away) while a nested function's do not (they happen when it is called).
    """

    def __init__(self, declared: dict[str, str] | None = None, comprehension: bool = False) -> None:
        self.declared = declared or {}
        self.comprehension = comprehension
        self.reads: set[str] = set()
        self.writes: set[str] = set()
        self.mutates: set[str] = set()  # names whose object is changed in place (attr/item/mutator)
        self.escapes: set[str] = set()  # walrus targets in a comprehension: bound in the enclosing scope
        self.calls: dict[str, None] = {}
        self.effects: dict[str, None] = {}
        self.defined: dict[str, _Closure] = {}
        self.impure_calls = self.awaits = self.yields = self.exits = self.declares = False

    def _effect(self, text: str) -> None:
        self.effects[text] = None

    def _bind(self, name: str, deleting: bool = False) -> None:
        self.writes.add(name)
        if deleting:
            self._effect(f"deletes {name}")
        elif name in self.declared:
            self._effect(f"assigns {self.declared[name]} {name}")

    def _mutate(self, target: ast.expr, deleting: bool) -> None:
        root = _root_name(target)
        if root is not None:
            self.mutates.add(root)
        self._effect(f"{'deletes' if deleting else 'assigns'} {_short(target)}")

    def _absorb(self, inner: _Scanner, local: set[str], runs_now: bool = True) -> None:
        """Fold in a nested scope: its free names always, its mutations, calls and effects only if it
        runs (or is usually called) right away."""
        self.reads |= inner.reads - local
        if runs_now:
            self.mutates |= inner.mutates - local
            self.calls.update(inner.calls)
            self.effects.update(inner.effects)
            self.impure_calls |= inner.impure_calls
            self.awaits |= inner.awaits

    # names and targets

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            self.reads.add(node.id)
        else:
            self._bind(node.id, isinstance(node.ctx, ast.Del))

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if not isinstance(node.ctx, ast.Load):
            self._mutate(node, isinstance(node.ctx, ast.Del))
        self.visit(node.value)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        if not isinstance(node.ctx, ast.Load):
            self._mutate(node, isinstance(node.ctx, ast.Del))
        self.visit(node.value)
        self.visit(node.slice)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self.visit(node.value)
        if isinstance(node.target, ast.Name):
            self.reads.add(node.target.id)
        self.visit(node.target)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        # annotations of local variables are never evaluated; without a value nothing is bound
        if node.value is not None:
            self.visit(node.value)
            self.visit(node.target)

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self.visit(node.value)
        if self.comprehension:
            self.escapes.add(node.target.id)
        else:
            self._bind(node.target.id)

    def visit_Import(self, node: ast.Import | ast.ImportFrom) -> None:
        for alias in node.names:
            if alias.name != "*":
                self._bind(alias.asname or alias.name.split(".")[0])

    visit_ImportFrom = visit_Import

    def visit_Global(self, node: ast.Global | ast.Nonlocal) -> None:
        self.declares = True
        keyword = "global" if isinstance(node, ast.Global) else "nonlocal"
        self._effect(f"declares {keyword} {', '.join(node.names)}")

    visit_Nonlocal = visit_Global

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.type is not None:
            self.visit(node.type)
        if node.name:
            self._bind(node.name)
        for stmt in node.body:
            self.visit(stmt)

    def visit_MatchAs(self, node: ast.MatchAs) -> None:
        if node.name:
            self._bind(node.name)
        self.generic_visit(node)

    def visit_MatchStar(self, node: ast.MatchStar) -> None:
        if node.name:
            self._bind(node.name)

    def visit_MatchMapping(self, node: ast.MatchMapping) -> None:
        if node.rest:
            self._bind(node.rest)
        self.generic_visit(node)

    # calls and effects

    def visit_Call(self, node: ast.Call) -> None:
        name = _callee(node.func)
        self.calls[name] = None
        if not _is_pure(node.func, name):
            self.impure_calls = True
            self._effect(f"calls {name}")
            if isinstance(node.func, ast.Attribute) and node.func.attr in MUTATING_METHODS:
                root = _root_name(node.func.value)
                if root is not None:
                    self.mutates.add(root)
        self.generic_visit(node)

    def visit_Await(self, node: ast.Await) -> None:
        self.awaits = True
        what = _callee(node.value.func) if isinstance(node.value, ast.Call) else _short(node.value)
        self._effect(f"awaits {what}")
        self.generic_visit(node)

    def visit_Yield(self, node: ast.Yield | ast.YieldFrom) -> None:
        self.yields = True
        self._effect("yields" if isinstance(node, ast.Yield) else f"yields from {_short(node.value)}")
        self.generic_visit(node)

    visit_YieldFrom = visit_Yield

    def visit_Return(self, node: ast.Return) -> None:
        self.exits = True
        self.generic_visit(node)

    def visit_Raise(self, node: ast.Raise) -> None:
        self.exits = True
        if node.exc is None:
            self._effect("re-raises")
        else:
            exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            self._effect(f"raises {_callee(exc)}")
        self.generic_visit(node)

    def visit_Assert(self, node: ast.Assert) -> None:
        self.exits = True
        self.generic_visit(node)

    def visit_With(self, node: ast.With | ast.AsyncWith) -> None:
        asynchronously = isinstance(node, ast.AsyncWith)
        self.awaits |= asynchronously
        for item in node.items:
            self._effect(f"enters {'asynchronously ' if asynchronously else ''}{_short(item.context_expr)}")
        self.generic_visit(node)

    visit_AsyncWith = visit_With

    def visit_AsyncFor(self, node: ast.AsyncFor) -> None:
        self.awaits = True
        self._effect(f"iterates asynchronously over {_short(node.iter)}")
        self.generic_visit(node)

    # nested scopes

    def _outer_parts(self, args: ast.arguments, annotations: bool) -> None:
        """Defaults (and annotations) are evaluated where the function is defined."""
        for default in args.defaults + [d for d in args.kw_defaults if d is not None]:
            self.visit(default)
        if annotations:
            every = args.posonlyargs + args.args + [args.vararg] + args.kwonlyargs + [args.kwarg]
            for arg in every:
                if arg is not None and arg.annotation is not None:
                    self.visit(arg.annotation)

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for decorator in node.decorator_list:
            self.visit(decorator)
        self._outer_parts(node.args, annotations=True)
        if node.returns is not None:
            self.visit(node.returns)
        declared = _declarations(node.body)
        inner = _Scanner(declared)
        for stmt in node.body:
            inner.visit(stmt)
        local = (inner.writes | set(_param_names(node.args))) - declared.keys()
        self._absorb(inner, local, runs_now=False)
        self.defined[node.name] = _Closure(
            reads=frozenset(inner.reads - local),
            writes=frozenset(inner.writes & declared.keys()),
            mutates=frozenset(inner.mutates - local),
        )
        self._bind(node.name)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self._outer_parts(node.args, annotations=False)
        inner = _Scanner()
        inner.visit(node.body)
        self._absorb(inner, inner.writes | set(_param_names(node.args)))

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for expr in node.decorator_list + node.bases + node.keywords:
            self.visit(expr)
        declared = _declarations(node.body)
        inner = _Scanner(declared)
        for stmt in node.body:
            inner.visit(stmt)
        self._absorb(inner, inner.writes - declared.keys())
        self._bind(node.name)

    def _comprehension(self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp,
                       parts: Sequence[ast.expr]) -> None:
        self.visit(node.generators[0].iter)  # evaluated in the enclosing scope
        inner = _Scanner(comprehension=True)
        for number, generator in enumerate(node.generators):
            inner.visit(generator.target)
            if number:
                inner.visit(generator.iter)
            for condition in generator.ifs:
                inner.visit(condition)
            self.awaits |= bool(generator.is_async)
        for part in parts:
            inner.visit(part)
        self._absorb(inner, inner.writes)
        for name in inner.escapes:
            if self.comprehension:
                self.escapes.add(name)
            else:
                self._bind(name)

    def visit_ListComp(self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp) -> None:
        self._comprehension(node, [node.elt])

    visit_SetComp = visit_GeneratorExp = visit_ListComp

    def visit_DictComp(self, node: ast.DictComp) -> None:
        self._comprehension(node, [node.key, node.value])


def _step_kind(stmt: ast.stmt) -> str:
    if isinstance(stmt, ast.Expr):
        value = stmt.value.value if isinstance(stmt.value, ast.Await) else stmt.value
        return "call" if isinstance(value, ast.Call) else "expr"
    kinds = {
        ast.Assign: "assign", ast.AnnAssign: "assign", ast.AugAssign: "augassign", ast.Return: "return",
        ast.Raise: "raise", ast.If: "if", ast.For: "for", ast.AsyncFor: "for", ast.While: "while",
        ast.With: "with", ast.AsyncWith: "with", ast.Try: "try", ast.Assert: "assert",
    }
    if isinstance(stmt, getattr(ast, "TryStar", ast.Try)):
        return "try"
    return kinds.get(type(stmt), "other")


def _counts(body: list[ast.stmt]) -> tuple[int, int]:
    """(loops, conditionals), counted lexically over the whole body, nested functions included."""
    loops = conditionals = 0
    for stmt in body:
        for node in ast.walk(stmt):
            if isinstance(node, (ast.For, ast.AsyncFor)):
                loops += 1
            elif isinstance(node, ast.While):
                loops += 1
                conditionals += 1
            elif isinstance(node, ast.comprehension):
                loops += 1
                conditionals += len(node.ifs)
            elif isinstance(node, (ast.If, ast.IfExp, ast.ExceptHandler, ast.match_case)):
                conditionals += 1
    return loops, conditionals


@attrs.frozen
class _Facts:
    """What the dependency rules need about a step beyond the public ``Step``."""

    touched: frozenset[str]  # writes, and names whose object is changed in place
    pinned: bool  # can leave the function (return/raise/assert), yields, or declares global/nonlocal
    parallel: bool  # makes a call that is not known to be pure


def _independent(a: Step, fa: _Facts, b: Step, fb: _Facts) -> bool:
    return not (a.reads & fb.touched or fa.touched & b.reads or fa.touched & fb.touched)


def _first_line(stmt: ast.stmt) -> str:
    """The first line of the unparsed statement (a compound statement is unparsed without its blocks,
    which start on later lines)."""
    blocks = [field for field in _BLOCKS if getattr(stmt, field, None)]
    if blocks:
        stmt = copy.copy(stmt)
        for field in blocks:
            setattr(stmt, field, [])
    return ast.unparse(stmt).split("\n", 1)[0]


@lru_cache(maxsize=64)
def analyze_dependencies(source: str, name: str | None = None) -> DependencyAnalysis:
    """Data flow of the function ``name`` (see ``parse_function``), one ``Step`` per top-level statement.

    Nested functions and lambdas add their free names to the reads of their step; a step that
    refers to a nested function also reads its free names and writes what it rebinds or mutates
    (``nonlocal``). Comprehension variables stay local; walrus targets are writes. ``loops`` counts
    for/async-for/while statements and comprehension ``for`` clauses; ``conditionals`` counts
    ``if``/``elif``, conditional expressions, ``while`` conditions, comprehension ``if`` clauses,
    ``except`` handlers and match ``case``s — both lexically over the body, nested functions included.

    ``reorderable`` holds adjacent pairs (i, i+1) with no data dependency (neither reads what the
    other writes or mutates in place, no write-write conflict) that are not both side-effecting; a
    step that can leave the function (return, raise, assert, or containing one), yields, or declares
    global/nonlocal never moves. ``parallel_groups`` are runs of two or more consecutive steps that
    are pairwise independent and each make a call not known to be pure (side effects allowed: that is
    the point of running them concurrently), found greedily from the left without overlap; steps that
    never move are never in a group. Raises ValueError like ``parse_function``. Results are cached per
    (source, name): every generator of a procedure asks for the same analysis.
    """
    function = parse_function(source, name)
    body = docstring_free(function.body)
    declared = _declarations(body)
    closures: dict[str, _Closure] = {}
    steps: list[Step] = []
    facts: list[_Facts] = []
    effects: dict[str, None] = {}
    yields = False
    for index, stmt in enumerate(body):
        scan = _Scanner(declared)
        scan.visit(stmt)
        reads, writes, mutates = set(scan.reads), set(scan.writes), set(scan.mutates)
        pending, seen = [n for n in reads if n in closures], set()
        while pending:
            closure_name = pending.pop()
            if closure_name not in seen:
                seen.add(closure_name)
                closure = closures[closure_name]
                reads |= closure.reads
                writes |= closure.writes
                mutates |= closure.mutates
                pending += [n for n in closure.reads if n in closures]
        closures.update(scan.defined)
        effects.update(scan.effects)
        yields |= scan.yields
        kind = _step_kind(stmt)
        steps.append(Step(
            index=index,
            line=stmt.lineno - function.lineno,
            kind=kind,
            reads=frozenset(reads),
            writes=frozenset(writes),
            calls=tuple(scan.calls),
            side_effect=bool(scan.effects),
            awaits=scan.awaits,
            text=_first_line(stmt),
        ))
        pinned = scan.exits or scan.yields or scan.declares
        facts.append(_Facts(frozenset(writes | mutates), pinned, scan.impure_calls and not pinned))
    reorderable = tuple(
        (i, i + 1)
        for i in range(len(steps) - 1)
        if not (facts[i].pinned or facts[i + 1].pinned)
        and not (steps[i].side_effect and steps[i + 1].side_effect)
        and _independent(steps[i], facts[i], steps[i + 1], facts[i + 1])
    )
    groups: list[tuple[int, ...]] = []
    run: list[int] = []
    for i in range(len(steps) + 1):
        fits = i < len(steps) and facts[i].parallel
        if fits and all(_independent(steps[j], facts[j], steps[i], facts[i]) for j in run):
            run.append(i)
            continue
        if len(run) >= 2:
            groups.append(tuple(run))
        run = [i] if fits else []
    loops, conditionals = _counts(body)
    return DependencyAnalysis(
        name=function.name,
        params=tuple(_param_names(function.args)),
        steps=tuple(steps),
        reads=frozenset().union(*(s.reads for s in steps)),
        writes=frozenset().union(*(s.writes for s in steps)),
        calls=tuple(dict.fromkeys(c for s in steps for c in s.calls)),
        side_effects=tuple(effects),
        loops=loops,
        conditionals=conditionals,
        is_async=isinstance(function, ast.AsyncFunctionDef),
        is_generator=yields,
        reorderable=reorderable,
        parallel_groups=tuple(groups),
    )


# -- structural distance -----------------------------------------------------------------------

STRUCTURE_WEIGHT = 0.75  # node types, parent-field-child edges and node-type bigrams in pre-order
NAMES_WEIGHT = 0.25  # identifiers and constant values


@attrs.frozen
class _Shape:
    structure: Counter[str]
    names: Counter[str]
    structure_total: int
    names_total: int


_NAMERS = {
    ast.Name: lambda node: node.id,
    ast.Attribute: lambda node: node.attr,
    ast.arg: lambda node: node.arg,
    ast.keyword: lambda node: node.arg or "**",
    ast.FunctionDef: lambda node: node.name,
    ast.AsyncFunctionDef: lambda node: node.name,
    ast.ClassDef: lambda node: node.name,
    ast.Constant: lambda node: f"={repr(node.value)[:40]}",
}
_SCALARS = frozenset({
    "ctx", "id", "name", "arg", "attr", "kind", "type_comment", "module", "level", "is_async", "conversion",
    "simple", "rest", "tag",
})
_CHILD_FIELDS: dict[type, tuple[tuple[str, str], ...]] = {}


def _child_fields(cls: type) -> tuple[tuple[str, str], ...]:
    """(field, "Type.field") for the fields of an AST class that hold nodes, last first."""
    fields = _CHILD_FIELDS.get(cls)
    if fields is None:
        names = () if cls in (ast.Constant, ast.MatchSingleton) else reversed(cls._fields)
        fields = tuple((f, f"{cls.__name__}.{f}") for f in names if f not in _SCALARS)
        _CHILD_FIELDS[cls] = fields
    return fields


@lru_cache(maxsize=4096)
def _shape(source: str) -> _Shape:
    """Multisets of structural tokens and of names of the normalised AST (see ``structural_distance``)."""
    order: list[str] = []
    edges: list[str] = []
    names: list[str] = []
    body = docstring_free(_parse(source).body)
    stack: list[tuple[ast.AST, str]] = [(stmt, "Module.body") for stmt in reversed(body)]
    while stack:  # pre-order, docstrings skipped; the module node itself is left out
        node, edge = stack.pop()
        cls = type(node)
        kind = cls.__name__
        order.append(kind)
        edges.append(f"{edge}>{kind}")
        namer = _NAMERS.get(cls)
        if namer is not None:
            names.append(namer(node))
        for field, label in _child_fields(cls):
            value = getattr(node, field, None)
            if isinstance(value, list):
                if field == "body" and cls in _DOCUMENTED:
                    value = docstring_free(value)
                stack.extend((item, label) for item in reversed(value) if isinstance(item, ast.AST))
            elif isinstance(value, ast.AST):
                stack.append((value, label))
    structure = Counter(order)
    structure.update(edges)
    structure.update([f"{a}|{b}" for a, b in pairwise(order)])
    counted = Counter(names)
    return _Shape(structure, counted, structure.total(), counted.total())


def _overlap(a: Counter[str], b: Counter[str], total_a: int, total_b: int) -> float:
    """Weighted Jaccard of two multisets: sum of minimum counts over sum of maximum counts."""
    if not total_a and not total_b:
        return 1.0
    if len(b) < len(a):
        a, b = b, a
    shared = sum(min(count, b[token]) for token, count in a.items() if token in b)
    return shared / (total_a + total_b - shared)


def structural_distance(a: str, b: str) -> float:
    """How different two pieces of code are in shape, in [0, 1]: 0 for the same canonical AST,
    1 for nothing in common.

    Each side becomes two multisets over its normalised AST (docstrings dropped, formatting gone):
    structure (node types, parent.field>child edges and consecutive node-type pairs in pre-order, so
    operators and statement order count) and names (identifiers and constant values). The distance
    is 1 - (0.75 * overlap(structure) + 0.25 * overlap(names)), overlap being the weighted Jaccard
    index. Symmetric and deterministic; results are cached per source. ValueError if either side
    does not parse.
    """
    if a == b:
        _shape(a)  # still reject what does not parse
        return 0.0
    x, y = _shape(a), _shape(b)
    similarity = STRUCTURE_WEIGHT * _overlap(x.structure, y.structure, x.structure_total, y.structure_total)
    similarity += NAMES_WEIGHT * _overlap(x.names, y.names, x.names_total, y.names_total)
    return min(1.0, max(0.0, 1.0 - similarity))


def structural_tokens(source: str) -> tuple[Counter[str], Counter[str]]:
    """The two multisets ``structural_distance`` compares: structure (node types, parent.field>child
    edges, node-type pairs in pre-order) and names (identifiers, ``=<repr>`` of constants). Cached
    with the distance's own; ValueError if the source does not parse. Do not modify the results."""
    shape = _shape(source)
    return shape.structure, shape.names


def structural_novelty(dream: str, base: str, earlier: Sequence[str] = ()) -> float:
    """Novelty of a dream in [0, 1]: its structural distance to the nearest of its base and the
    earlier dreams of the same base, so a dream identical to its base or to an earlier dream scores 0."""
    return min(structural_distance(dream, other) for other in (base, *earlier))


# -- related procedures ------------------------------------------------------------------------

# feature -> weight of its similarity in the score; the weights sum to 1
RELATED_WEIGHTS = {"calls": 0.35, "identifiers": 0.30, "params": 0.15, "docstring": 0.20}
_FEATURES = tuple(RELATED_WEIGHTS)
_WEIGHTS = tuple(RELATED_WEIGHTS.values())
_PREFIX = {"c": 0, "i": 1, "p": 2, "d": 3}  # token prefix -> position of its feature in _FEATURES
STOPWORDS = frozenset({
    "the", "and", "for", "with", "that", "this", "from", "into", "onto", "are", "was", "were", "been",
    "being", "has", "have", "had", "not", "but", "its", "it's", "then", "than", "when", "where", "which",
    "while", "who", "whom", "what", "how", "why", "all", "any", "each", "every", "one", "two", "some", "such",
    "only", "also", "may", "can", "could", "should", "would", "will", "shall", "must", "does", "did", "doing",
    "done", "per", "via", "use", "used", "uses", "using", "given", "returns", "return", "value", "values",
    "none", "true", "false", "self", "cls", "args", "kwargs", "else", "there", "their", "them", "they", "our",
    "out", "off", "over", "under", "about", "after", "before", "again", "more", "most", "other", "same",
    "very", "just", "your", "you",
})
_WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")


def _stem(word: str) -> str:
    for suffix, replacement in (("ies", "y"), ("ied", "y"), ("ing", ""), ("ed", ""), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3 and not word.endswith("ss"):
            return word[: -len(suffix)] + replacement
    return word


def _words(text: str) -> set[str]:
    """Lowercased, crudely stemmed words of a text or identifier (snake_case and camelCase split);
    stopwords, numbers and words shorter than three letters dropped."""
    found = set()
    for word in _WORD.findall(text):
        word = word.lower()
        if len(word) >= 3 and word not in STOPWORDS and not word.isdigit():
            found.add(_stem(word))
    return found


@lru_cache(maxsize=16384)
def _word_tokens(prefix: str, name: str) -> tuple[str, ...]:
    """``prefix:word`` for each of ``_words(name)``; cached, as the same names recur across procedures."""
    return tuple(f"{prefix}:{word}" for word in _words(name))


@lru_cache(maxsize=16384)
def _call_tokens(callee: str) -> tuple[str, ...]:
    """``c:`` tokens of a callee: the dotted name (``self``/``cls`` dropped) and its last part."""
    parts = [p for p in callee.split(".") if p.isidentifier()]
    if parts and parts[0] in ("self", "cls"):
        parts = parts[1:]
    return (f"c:{'.'.join(parts)}", f"c:{parts[-1]}") if parts else ()


def _signature_function(procedure: Procedure) -> _Function | None:
    """A stand-in function built from the procedure's recorded signature, if that text parses."""
    signature = procedure.signature.strip().removeprefix("async ").strip()
    if not signature.startswith("("):
        return None
    try:
        return parse_function(f"def _{signature}:\n    pass\n")
    except ValueError:
        return None


def _related_features(procedure: Procedure) -> frozenset[str]:
    """Prefixed tokens: c: callees, i: identifier words, p: parameter names and annotation types,
    d: docstring words. A source that does not parse contributes only its qualname, recorded
    signature and docstring."""
    tokens = set(_word_tokens("i", procedure.qualname))
    docstring = procedure.docstring
    function: _Function | None = None
    for name in (procedure.name, None):
        try:
            function = parse_function(procedure.source, name)
            break
        except ValueError:
            continue
    if function is not None:
        docstring = docstring or ast.get_docstring(function)
        nodes = list(ast.walk(function))
        for node in nodes:
            if isinstance(node, ast.Call):
                tokens.update(_call_tokens(_callee(node.func)))
        for ident in _identifiers(nodes):
            tokens.update(_word_tokens("i", ident))
    else:
        function = _signature_function(procedure)
    if function is not None:
        args = function.args
        every = args.posonlyargs + args.args + [args.vararg] + args.kwonlyargs + [args.kwarg]
        annotations = [function.returns]
        for arg in every:
            if arg is not None and arg.arg not in ("self", "cls"):
                tokens.add(f"p:{arg.arg.lower()}")
                tokens.update(_word_tokens("p", arg.arg))
                annotations.append(arg.annotation)
        for annotation in annotations:
            for node in ast.walk(annotation) if annotation is not None else ():
                if isinstance(node, (ast.Name, ast.Attribute)):
                    tokens.add(f"p:~{(node.id if isinstance(node, ast.Name) else node.attr).lower()}")
    tokens.update(f"d:{word}" for word in _words(docstring or ""))
    return frozenset(tokens)


class RelatedIndex:
    """Procedures indexed for finding related ones across projects.

    Each procedure's features are computed once. Tokens are weighted by rarity in the index
    (idf = ln(1 + (N + 1) / (df + 1))); per feature the similarity is the weighted Jaccard index of
    the two token sets, and the score is the weighted sum over features (``RELATED_WEIGHTS``: shared
    calls 0.35, identifier words 0.30, parameter names and annotation types 0.15, docstring words
    0.20), in [0, 1].
    """

    def __init__(self, procedures: Iterable[Procedure]) -> None:
        self._procedures = list(procedures)
        self._projects = [p.project for p in self._procedures]
        self._position = {id(p): i for i, p in enumerate(self._procedures)}
        # tuples of strings and numbers throughout: the garbage collector stops tracking those, and the
        # index lives as long as the stage that uses it
        self._tokens = [tuple(sorted(_related_features(p))) for p in self._procedures]
        postings: dict[str, list[int]] = defaultdict(list)
        for i, tokens in enumerate(self._tokens):
            for token in tokens:
                postings[token].append(i)
        self._postings = {token: tuple(indexes) for token, indexes in postings.items()}
        self._size = len(self._procedures)
        self._totals = [self._feature_totals(tokens) for tokens in self._tokens]

    def _idf(self, token: str) -> float:
        return math.log(1 + (self._size + 1) / (len(self._postings.get(token, ())) + 1))

    def _feature_totals(self, tokens: Sequence[str]) -> tuple[float, ...]:
        totals = [0.0] * len(_FEATURES)
        for token in tokens:
            totals[_PREFIX[token[0]]] += self._idf(token)
        return tuple(totals)

    def related(self, procedure: Procedure, limit: int = 5) -> list[tuple[Procedure, float]]:
        """Up to ``limit`` procedures of other projects with a score above 0, best first; ties go by
        (project, module, qualname)."""
        if limit <= 0:
            return []
        position = self._position.get(id(procedure))
        if position is not None and self._procedures[position] is procedure:
            tokens, totals = self._tokens[position], self._totals[position]
        else:
            tokens = sorted(_related_features(procedure))
            totals = self._feature_totals(tokens)
        shared: dict[int, list[float]] = {}  # index -> idf mass shared, per feature
        for token in tokens:
            weight, feature = self._idf(token), _PREFIX[token[0]]
            for i in self._postings.get(token, ()):
                if self._projects[i] != procedure.project:
                    amounts = shared.get(i)
                    if amounts is None:
                        amounts = shared[i] = [0.0] * len(_FEATURES)
                    amounts[feature] += weight
        scored = []
        for i, amounts in shared.items():
            other, score = self._totals[i], 0.0
            for f, amount in enumerate(amounts):
                if amount:
                    score += _WEIGHTS[f] * amount / (totals[f] + other[f] - amount)
            candidate = self._procedures[i]
            scored.append((-min(1.0, score), candidate.project, candidate.module, candidate.qualname, i))
        scored = heapq.nsmallest(limit, scored)
        return [(self._procedures[row[-1]], -row[0]) for row in scored]


def related_procedures(
    procedure: Procedure, candidates: Iterable[Procedure], limit: int = 5
) -> list[tuple[Procedure, float]]:
    """The candidates from other projects most related to ``procedure``, scored in [0, 1], best first
    (see ``RelatedIndex``). Candidates scoring 0 are left out; unparseable ones are scored by name,
    recorded signature and docstring."""
    return RelatedIndex(candidates).related(procedure, limit)
