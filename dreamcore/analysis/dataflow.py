"""Data flow inside one function: what each top-level statement reads, writes, calls and changes.

``analyze_dependencies`` tells which adjacent statements may swap places and which runs of calls
could run concurrently. Purity is judged by name only (``PURE_BUILTINS``, ``PURE_MODULES``,
``PURE_FUNCTIONS``, ``PURE_METHODS``); every other call counts as a side effect, and so do assigning
an attribute or item, ``del``, ``global``/``nonlocal``, ``raise``, ``yield``, ``await`` and entering
a ``with`` block. Objects passed to a call are assumed not to be changed by it, except the receiver
of a known mutating method (``MUTATING_METHODS``), so a step's data dependencies are exact only up
to aliasing.
"""

from __future__ import annotations

import ast
import copy
from collections.abc import Iterator, Sequence
from functools import lru_cache

import attrs

from dreamcore.analysis.syntax import BLOCK_FIELDS, SCOPE_NODES, docstring_free, parse_function

_Function = ast.FunctionDef | ast.AsyncFunctionDef

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


def callee_name(node: ast.expr) -> str:
    """Dotted name of what is called: ``time.sleep``, ``self.client.get``, ``make()().run``."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{callee_name(node.value)}.{node.attr}"
    if isinstance(node, ast.Call):
        return f"{callee_name(node.func)}()"
    if isinstance(node, ast.Subscript):
        return f"{callee_name(node.value)}[]"
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
        if isinstance(statement, SCOPE_NODES):
            continue
        nested: list[ast.stmt] = []
        for field in BLOCK_FIELDS:
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
        name = callee_name(node.func)
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
        what = callee_name(node.value.func) if isinstance(node.value, ast.Call) else _short(node.value)
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
            self._effect(f"raises {callee_name(exc)}")
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
    blocks = [field for field in BLOCK_FIELDS if getattr(stmt, field, None)]
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


