"""The two sides of a combination: the base procedure and a related one, parsed, with what the
strategies need to know about them and what it takes to inline the related one."""

from __future__ import annotations

import ast
import builtins
import os
import textwrap
from functools import cached_property, lru_cache
from pathlib import Path

import attrs

from dreamcore.analysis.nodes import FunctionNode, dotted_name, guards, is_sleep, number
from dreamcore.analysis.syntax import (
    copy_tree,
    docstring_free,
    is_docstring,
    is_generator,
    parameters,
    parse_function,
    read_names,
    scope_nodes,
)
from dreamcore.models import Procedure

from .inlining import free_names, import_ok, import_table, strip_annotations, substitute_defaults

BUILTIN_EXCEPTIONS = frozenset(
    name for name in dir(builtins) if isinstance(getattr(builtins, name), type)
    and issubclass(getattr(builtins, name), BaseException)
)
_MAX_INLINED_LINES = 120


@attrs.define
class Param:
    """One parameter of either side."""

    name: str
    kind: str  # "positional_only", "positional", "keyword", "varargs", "kwargs"
    annotation: ast.expr | None
    required: bool


def params_of(function: FunctionNode) -> list[Param]:
    """The function's parameters, in order."""
    args = function.args
    named = parameters(args)
    split = len(args.posonlyargs) + len(args.args)
    params = [
        Param(arg.arg, "positional_only" if index < len(args.posonlyargs) else "positional", arg.annotation,
              default is None)
        for index, (arg, default) in enumerate(named[:split])
    ]
    if args.vararg:
        params.append(Param(args.vararg.arg, "varargs", args.vararg.annotation, False))
    params += [Param(arg.arg, "keyword", arg.annotation, default is None) for arg, default in named[split:]]
    if args.kwarg:
        params.append(Param(args.kwarg.arg, "kwargs", args.kwarg.annotation, False))
    return params


def parse(source: str, name: str) -> FunctionNode | None:
    """The function ``name`` of ``source``, or None when there is none or the source does not parse."""
    try:
        return parse_function(source, name)
    except (ValueError, RecursionError):
        return None


class Base:
    """The base procedure's function and the facts the strategies need about it (the costlier ones
    worked out on first use, once for all related procedures)."""

    def __init__(self, function: FunctionNode) -> None:
        self.function = function
        self.params = params_of(function)
        self.is_async = isinstance(function, ast.AsyncFunctionDef)
        self.is_generator = is_generator(function)

    @cached_property
    def names(self) -> set[str]:
        """Every name the base uses: variables, parameters, nested definitions."""
        names = set()
        for node in ast.walk(self.function):
            if isinstance(node, ast.Name):
                names.add(node.id)
            elif isinstance(node, ast.arg):
                names.add(node.arg)
            elif isinstance(node, FunctionNode | ast.ClassDef):
                names.add(node.name)
        return names

    @cached_property
    def checked_params(self) -> set[str]:
        """Parameters the base already validates in an ``if ...: raise`` of its own."""
        names = {p.name for p in self.params}
        return {name for guard in guards(self.function) for name in read_names(guard.test) & names}

    def fresh(self, wanted: str) -> str:
        """A name not used anywhere in the base."""
        name, counter = wanted, 2
        while name in self.names:
            name, counter = f"{wanted}_{counter}", counter + 1
        return name


class Related:
    """A related procedure, parsed, with what is needed to inline it into another function."""

    def __init__(self, procedure: Procedure, function: FunctionNode, module: ast.Module | None) -> None:
        self.procedure = procedure
        self.function = function
        self.module = module
        self.params = params_of(function)
        self.label = f"{procedure.project}.{procedure.module}.{procedure.qualname}".replace("..", ".").strip(".")
        self.is_async = isinstance(function, ast.AsyncFunctionDef)
        self.is_generator = is_generator(function)
        self.decorators = [dotted_name(d.func if isinstance(d, ast.Call) else d) for d in function.decorator_list]

    @classmethod
    def load(cls, procedure: Procedure) -> Related | None:
        """The related procedure parsed, or None if it does not parse; cached (see ``_load_related``), as
        the same few hundred procedures are related to many bases."""
        path = procedure.file_path or ""
        return _load_related(procedure.project, procedure.module, procedure.qualname, procedure.source,
                             procedure.docstring, tuple(procedure.imports), path, _modified(path))

    @cached_property
    def imports(self) -> dict[str, ast.stmt]:
        """See ``import_table`` (only a related procedure that is inlined needs it)."""
        return import_table(self.procedure, self.module)

    @cached_property
    def guards(self) -> tuple[ast.If, ...]:
        """The ``if ...: raise`` statements of its own scope."""
        return tuple(guards(self.function))

    @cached_property
    def retry_shape(self) -> tuple[int, float, str, list[str]] | None:
        """See ``_retry_shape``."""
        return _retry_shape(self)

    @property
    def uses_instance(self) -> bool:
        """Whether the body needs its object (an instance or class method reading ``self``/``cls``)."""
        if "staticmethod" in self.decorators:
            return False
        first = (self.function.args.posonlyargs + self.function.args.args)[:1]
        return bool(first) and first[0].arg in ("self", "cls") and "." in self.procedure.qualname

    def helper_name(self, base: Base) -> str:
        """The name of the nested helper the related procedure becomes inside ``base``."""
        return base.fresh(f"_{_identifier(self.procedure.project)}_{self.function.name}".replace("__", "_"))

    # ---------------------------------------------------------------- inlining

    def inline(self, name: str) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
        """The related function as a self-contained nested def called ``name``, or None."""
        if self.uses_instance or any(d not in ("staticmethod",) for d in self.decorators):
            return None
        helper = copy_tree(self.function)
        helper.name = name
        helper.decorator_list = []
        strip_annotations(helper)
        helper.body = docstring_free(helper.body) or [ast.Pass()]
        if not substitute_defaults(helper, self):
            return None
        prelude = self.prelude(free_names(helper))
        if prelude is None:
            return None
        helper.body[0:0] = prelude
        if not helper.body:
            helper.body = [ast.Pass()]
        ast.fix_missing_locations(helper)
        if len(ast.unparse(helper).splitlines()) > _MAX_INLINED_LINES:
            return None
        return helper

    def prelude(self, names: set[str]) -> list[ast.stmt] | None:
        """Statements binding ``names`` inside an inlined body: imports, constants, helpers, aliases."""
        statements: list[ast.stmt] = []
        done: set[str] = set()
        active: set[str] = set()

        def resolve(name: str, depth: int) -> bool:
            if name in done:
                return True
            if name in active or depth > 4:
                return False
            active.add(name)
            made = self._definition(name)
            if made is None:
                return False
            statement, needs = made
            for need in sorted(needs):
                if not resolve(need, depth + 1):
                    return False
            active.discard(name)
            done.add(name)
            statements.append(statement)
            return True

        for name in sorted(names):
            if not resolve(name, 0):
                return None
        return statements

    def _definition(self, name: str) -> tuple[ast.stmt, set[str]] | None:
        """(statement binding ``name``, names that statement needs) from the import table or module."""
        statement = self.imports.get(name)
        if statement is not None:
            return (statement, set()) if import_ok(statement) else None
        if self.module is None:
            return None
        for node in self.module.body:
            value = _assigned(node, name)
            if value is not None:
                return ast.Assign(targets=[ast.Name(id=name, ctx=ast.Store())], value=copy_tree(value)), \
                    free_names(value)
            if isinstance(node, FunctionNode) and node.name == name and not node.decorator_list:
                function = copy_tree(node)
                strip_annotations(function)
                function.body = docstring_free(function.body) or [ast.Pass()]
                if not substitute_defaults(function, self):
                    return None
                return function, free_names(function)
            if isinstance(node, ast.ClassDef) and node.name == name:
                base = self._exception_base(node, 0)
                if base is None:
                    return None
                alias = ast.Assign(targets=[ast.Name(id=name, ctx=ast.Store())], value=ast.Name(id=base, ctx=ast.Load()))
                return alias, set()
        return None

    def _exception_base(self, node: ast.ClassDef, depth: int) -> str | None:
        """The builtin exception an exception class (docstring-only body) derives from."""
        if depth > 4 or len(node.bases) != 1 or node.keywords:
            return None
        if not _only_pass(node):
            return None
        base = node.bases[0]
        if isinstance(base, ast.Name) and base.id in BUILTIN_EXCEPTIONS:
            return base.id
        if isinstance(base, ast.Name) and self.module is not None:
            for other in self.module.body:
                if isinstance(other, ast.ClassDef) and other.name == base.id:
                    return self._exception_base(other, depth + 1)
        return None

    def builtin_exception(self, node: ast.expr) -> str | None:
        """The builtin (or allowed stdlib) exception an ``except`` clause's class stands for."""
        text = ast.unparse(node)
        if text in BUILTIN_EXCEPTIONS:
            return text
        if text in ("asyncio.TimeoutError", "asyncio.CancelledError"):
            return "TimeoutError" if text == "asyncio.TimeoutError" else None
        if isinstance(node, ast.Name) and self.module is not None:
            for other in self.module.body:
                if isinstance(other, ast.ClassDef) and other.name == node.id:
                    return self._exception_base(other, 0)
        return None

    def literal(self, name: str) -> ast.expr | None:
        """A module constant's value when it is a plain literal (safe to paste where it is used)."""
        if self.module is None:
            return None
        for node in self.module.body:
            value = _assigned(node, name)
            if value is not None:
                try:
                    ast.literal_eval(value)
                except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                    return None
                return copy_tree(value)
        return None


def _assigned(statement: ast.stmt, name: str) -> ast.expr | None:
    """The value a module-level ``name = value`` (or ``name: T = value``) statement binds, else None."""
    target = statement.targets[0] if isinstance(statement, ast.Assign) and len(statement.targets) == 1 else \
        statement.target if isinstance(statement, ast.AnnAssign) else None
    return statement.value if isinstance(target, ast.Name) and target.id == name else None


@lru_cache(maxsize=512)
def _load_related(project: str, module: str, qualname: str, source: str, docstring: str | None,
                  imports: tuple[str, ...], path: str, modified: int | None) -> Related | None:
    """``Related.load`` of a procedure given by the fields it depends on, its module file's modification
    time included (so an edited module is read again)."""
    procedure = Procedure(project=project, module=module, qualname=qualname, source=source, docstring=docstring,
                          imports=list(imports), file_path=path or None)
    function = parse(textwrap.dedent(source), procedure.name)
    if function is None:
        return None
    return Related(procedure, function, _parse_module(path, modified) if modified is not None else None)


def _modified(path: str) -> int | None:
    """The modification time of the module a related procedure came from; None when it is not readable."""
    if not path:
        return None
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


@lru_cache(maxsize=64)
def _parse_module(path: str, stamp: int) -> ast.Module | None:
    """The top level of a related procedure's module: what inlining looks up (imports, constants, helper
    functions, exception classes). A class whose body is more than ``pass`` and a docstring keeps only
    ``...`` for a body: nothing here reads its members, and the cached trees stay small."""
    try:
        tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, SyntaxError, ValueError, RecursionError):
        return None
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and not _only_pass(node):
            node.body = [ast.Expr(value=ast.Constant(value=...))]
    return tree


def _only_pass(cls: ast.ClassDef) -> bool:
    """Whether the class body holds nothing but ``pass`` and a docstring (an exception declaration)."""
    return all(isinstance(s, ast.Pass) or is_docstring(s) for s in cls.body)


def _identifier(text: str) -> str:
    cleaned = "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in text).strip("_")
    return cleaned or "other"


# -- the related procedure's retry loop ------------------------------------------------------------


def _retry_shape(other: Related) -> tuple[int, float, str, list[str]] | None:
    """(retries, backoff seconds, "exponential"|"linear", caught builtin exceptions) of a retry loop."""
    function = other.function
    loops = [n for n in scope_nodes(function.body) if isinstance(n, ast.For | ast.While)]
    for loop in loops:
        tries = [n for n in ast.walk(loop) if isinstance(n, ast.Try) and n.handlers]
        sleeps = [n for n in ast.walk(loop) if is_sleep(n)]
        if not tries or not sleeps:
            continue
        caught: list[str] = []
        for handler in tries[0].handlers:
            types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
            for node in types:
                if node is None:
                    continue
                name = other.builtin_exception(node) or "Exception"
                if name not in caught:
                    caught.append(name)
        if not caught:
            caught = ["Exception"]
        if "Exception" in caught:
            caught = ["Exception"]
        defaults = {arg.arg: number(default) for arg, default in parameters(function.args) if default is not None}
        retries = next((defaults[n] for n in ("retries", "max_retries", "attempts", "max_attempts", "tries")
                        if isinstance(defaults.get(n), int)), None)
        if retries is None:  # for attempt in range(3): three attempts, two retries
            count = number(loop.iter.args[0]) if isinstance(loop, ast.For) and isinstance(loop.iter, ast.Call) \
                and dotted_name(loop.iter.func) == "range" and len(loop.iter.args) == 1 else None
            retries = count - 1 if isinstance(count, int) and count > 1 else 3
        backoff = next((defaults[n] for n in ("backoff", "delay", "base_delay", "backoff_factor", "wait")
                        if defaults.get(n) is not None), None)
        if backoff is None:  # time.sleep(0.1 * 2 ** attempt): the first factor is the base delay
            argument = sleeps[0].args[0] if sleeps[0].args else None
            while isinstance(argument, ast.BinOp):
                argument = argument.left
            backoff = number(argument) if isinstance(argument, ast.Constant) else None
            if backoff is None:
                backoff = 0.5
        growth = "exponential" if _grows_exponentially(other) else "linear"
        retries = max(1, min(int(retries), 10))
        backoff = float(min(max(backoff, 0.0), 60.0))
        return retries, backoff, growth, caught
    return None


def _grows_exponentially(other: Related) -> bool:
    nodes = list(ast.walk(other.function))
    called = {dotted_name(n.func) for n in nodes if isinstance(n, ast.Call)}
    if other.module is not None:  # helpers the loop calls, e.g. a backoff schedule
        for node in other.module.body:
            if isinstance(node, FunctionNode) and node.name in called:
                nodes.extend(ast.walk(node))
    for node in nodes:
        if isinstance(node, ast.AugAssign) and isinstance(node.op, ast.Mult):
            return True
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
            return True
    return False
