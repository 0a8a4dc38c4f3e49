"""Dream generator ``conditional``: the same function with a guard, fast path, cache or retry added.

Each transform applies only where the procedure's shape says it makes sense, and each draft records
exactly what was inserted and where:

``empty_guard``
    An early return for an empty or None input, right before a top-level loop (or a returned
    comprehension) over a parameter, returning the value the function would have returned for an
    empty input — only when that value is known at that point (accumulators built before the loop,
    ``[]``/``{}``/``0``/``False`` for comprehensions and their reducers, nothing for generators).
``zero_fast_path``
    ``if x == 0: return <value>`` before a final ``return`` whose expression can be folded at
    ``x == 0`` (products with ``x`` as a factor, arithmetic on ``x`` and literals), for numeric
    parameters.
``memoize``
    ``@functools.lru_cache`` for module functions and static methods whose parameters are hashable
    scalars (annotated int/str/float/bool/bytes/tuple/frozenset...), that are neither async nor
    generators, return no mutable container, do some real work, and have no side effects according
    to ``dreamcore.analysis.dataflow.analyze_dependencies``.
``retry``
    A bounded retry loop with exponential backoff around a statement whose call looks like I/O
    (``fetch``, ``request``, ``charge``, ``send``, ``load``, ``read``, ``get_page``...) and is not
    already inside a ``try``; ``await asyncio.sleep`` in async functions, ``time.sleep`` otherwise.
    Functions that already retry (a ``try`` inside a loop, or "retry" in the name) are left alone.
``validate``
    ``raise ValueError`` at entry for a negative (or, for timeouts and sizes, non-positive) value of a
    numeric parameter named like an amount, count, size, limit, timeout, delay... that the body does
    not already compare against a literal.
``zero_division``
    ``raise ValueError`` at entry when a parameter the body divides by is zero, unless the body
    already compares that parameter against a literal.

Only the local mode exists: drafts are pure AST rewrites (``ast.unparse``: comments are lost,
decorators and docstrings kept), offline, deterministic given ``context.rng``. ``_local_drafts`` is
where another mode (a model writing the branch) would sit beside it.
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Callable, Iterator
from functools import cached_property
from typing import Any

import attrs

from dreamcore import hookimpl
from dreamcore.analysis.syntax import (
    docstring_free,
    function_in,
    name_tokens,
    parameters,
    resolved_annotation,
    scope_nodes,
    snippet,
    statement_position,
    walk_with_parents,
)
from dreamcore.generation.drafts import DreamDraft, GenerationContext

_Function = ast.FunctionDef | ast.AsyncFunctionDef

TRANSFORMS = ("empty_guard", "zero_fast_path", "memoize", "retry", "validate", "zero_division")

HASHABLE = frozenset({"int", "str", "float", "bool", "bytes", "complex", "tuple", "frozenset", "None", "Decimal",
                      "Fraction", "Literal", "Optional", "date", "datetime", "time", "timedelta", "Enum"})
CONTAINER_ANNOTATIONS = frozenset({"list", "dict", "set", "tuple", "frozenset", "str", "bytes", "List", "Dict",
                                   "Set", "Tuple", "FrozenSet", "Sequence", "MutableSequence", "Mapping",
                                   "MutableMapping", "Collection", "AbstractSet", "MutableSet", "deque",
                                   "OrderedDict", "defaultdict", "Counter"})
CHEAP_CALLS = frozenset({"round", "int", "float", "str", "bool", "abs", "min", "max", "len", "isinstance",
                         "repr", "ValueError", "TypeError", "KeyError"})
# a call whose name starts with one of these looks like I/O on its own ...
IO_VERBS = frozenset({"fetch", "request", "charge", "send", "sendall", "download", "upload", "post", "query",
                      "connect", "recv", "receive", "poll", "submit", "publish", "refund", "pull", "authorize",
                      "capture"})
# ... these only when the callee is an injected callable (a parameter) or names something remote
WEAK_IO_VERBS = frozenset({"get", "read", "load", "put", "list", "call", "invoke"})
REMOTE_NOUNS = frozenset({"page", "pages", "url", "http", "api", "remote", "resource", "json", "document", "feed",
                          "endpoint", "blob", "object", "records", "observations", "payload", "response",
                          "service", "server"})
# receivers that look like a connection to something remote
CLIENT_NOUNS = frozenset({"client", "session", "conn", "connection", "sock", "socket", "transport", "api", "http",
                          "gateway", "processor", "service", "remote", "stub", "channel", "proactor", "broker",
                          "requests", "httpx", "smtp", "ftp", "imap", "bucket", "s3", "redis", "db", "database"})
# names that mark event-loop plumbing, signals and callbacks, not remote calls
NOT_IO = frozenset({"signal", "exception", "handler", "callback", "soon", "later", "threadsafe", "hook", "hooks",
                    "event", "loop", "retry", "retries", "extra", "info", "buffer", "name", "ident"})
NONNEGATIVE = frozenset({"amount", "count", "size", "limit", "timeout", "quantity", "qty", "price", "retries",
                         "attempts", "capacity", "ttl", "delay", "backoff", "window", "concurrency", "length",
                         "cost", "weight", "duration", "interval", "entries", "pages", "workers", "tokens",
                         "width", "depth", "step", "ceiling", "cap"})
POSITIVE = frozenset({"timeout", "ttl", "size", "capacity", "window", "interval", "concurrency", "workers",
                      "width"})
IMMUTABLE_VALUES = frozenset({"Decimal", "Fraction"})
PURE_VALUE_METHODS = frozenset({"quantize", "scaleb", "is_finite", "is_nan", "normalize", "limit_denominator"})
REDUCERS = {"sum": ast.Constant(0), "any": ast.Constant(False), "all": ast.Constant(True), "len": ast.Constant(0)}
BUILDERS = {"list": "[]", "sorted": "[]", "tuple": "()", "set": "set()", "frozenset": "frozenset()", "dict": "{}"}


@attrs.frozen
class Candidate:
    """One transform applied at one target: how to rewrite a fresh parse, and what to say about it."""

    transform: str
    target: str  # what it applies to, unique within the transform (a parameter, a line)
    rewrite: Callable[[ast.Module, _Function], list[str]]  # mutates the tree; returns modules to import
    description: str
    reasoning: str


@attrs.define
class Subject:
    """The procedure being transformed, parsed (and its own nodes walked) once for the analyses."""

    context: GenerationContext
    tree: ast.Module
    function: _Function
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
                if any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(target)):
                    return True
        return False

    def already_checked(self, name: str) -> bool:
        """Whether the body already checks ``name``: compares it against a number, or tests its truth
        (``if length:``, ``x and ...``, ``not x``)."""
        def is_name(node: ast.AST) -> bool:
            return isinstance(node, ast.Name) and node.id == name

        for node in self.nodes:
            if isinstance(node, ast.If | ast.IfExp | ast.While | ast.Assert) and is_name(node.test):
                return True
            if isinstance(node, ast.BoolOp) and any(is_name(v) for v in node.values):
                return True
            if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not) and is_name(node.operand):
                return True
            if isinstance(node, ast.Compare):
                operands = [node.left, *node.comparators]
                if any(isinstance(o, ast.Name) and o.id == name for o in operands) and any(
                    _number(o) is not None for o in operands
                ):
                    return True
        return False


class ConditionalGenerator:
    """Adds guards, fast paths, memoisation and retries where they fit (see the module docstring)."""

    name = "conditional"
    dream_type = "conditional"

    @attrs.define
    class Config:
        """[plugins.conditional]: which transforms run, and the numbers the inserted code uses."""

        transforms: list[str] = attrs.field(
            factory=lambda: list(TRANSFORMS), metadata={"help": "transforms to try: " + ", ".join(TRANSFORMS)}
        )
        retry_attempts: int = attrs.field(default=3, metadata={"help": "attempts of an inserted retry loop"})
        retry_base_delay: float = attrs.field(
            default=0.1, metadata={"help": "first wait of an inserted retry loop, doubled each time"}
        )
        cache_size: int = attrs.field(default=128, metadata={"help": "maxsize of an inserted functools.lru_cache"})

        @transforms.validator
        def _known(self, attribute: Any, value: list[str]) -> None:
            unknown = [t for t in value if t not in TRANSFORMS]
            if unknown:
                raise ValueError(f"unknown transforms {', '.join(unknown)} (known: {', '.join(TRANSFORMS)})")

        @retry_attempts.validator
        def _attempts(self, attribute: Any, value: int) -> None:
            if not 2 <= value <= 10:
                raise ValueError("retry_attempts must be between 2 and 10")

        @retry_base_delay.validator
        def _delay(self, attribute: Any, value: float) -> None:
            if not 0 < value <= 60:
                raise ValueError("retry_base_delay must be in (0, 60] seconds")

        @cache_size.validator
        def _cache(self, attribute: Any, value: int) -> None:
            if value < 1:
                raise ValueError("cache_size must be at least 1")

    def __init__(self, config: Config | None = None) -> None:
        self.config = config if config is not None else self.Config()

    async def generate(self, procedure: Any, context: GenerationContext) -> list[DreamDraft]:
        """At most ``context.variants`` drafts, each with one transform at one target."""
        return self._local_drafts(context)

    # -- local mode: AST rewrites -------------------------------------------------------------

    def _local_drafts(self, context: GenerationContext) -> list[DreamDraft]:
        if context.variants <= 0:
            return []
        try:
            tree = ast.parse(context.source)
        except (SyntaxError, ValueError):
            return []
        function = function_in(tree.body, context.procedure.name)
        if function is None:
            return []
        subject = Subject(context, tree, function, (context.procedure.line_start or 1) - 1)
        groups = [list(getattr(self, f"_{name}")(subject)) for name in self.config.transforms]
        groups = [g for g in groups if g]
        if not groups:
            return []
        rng = context.rng
        rng.shuffle(groups)
        for group in groups:
            rng.shuffle(group)
        ordered: list[Candidate] = []
        while any(groups):
            for group in groups:
                if group:
                    ordered.append(group.pop(0))
        drafts: list[DreamDraft] = []
        seen = {ast.unparse(tree) + "\n"}
        for candidate in ordered:
            code = _build(context, candidate)
            if code is None or code in seen:
                continue
            seen.add(code)
            drafts.append(DreamDraft(code=code, description=candidate.description, reasoning=candidate.reasoning))
            if len(drafts) == context.variants:
                break
        return drafts

    # -- transforms: each yields the candidates it finds ----------------------------------------

    def _empty_guard(self, s: Subject) -> Iterator[Candidate]:
        body = s.function.body
        params = {arg.arg: arg for arg, _ in s.params() if arg.arg not in ("self", "cls")}
        for position, statement in enumerate(body):
            if isinstance(statement, ast.For | ast.AsyncFor) and not statement.orelse:
                param = _iterated_param(statement.iter, params)
                if param is None or s.reassigned(param):
                    continue
                neutral = self._neutral_after_loop(s, position)
                if neutral is None:
                    continue
                loop = f"for {ast.unparse(statement.target)} in {ast.unparse(statement.iter)}"
                yield self._guard_candidate(s, position, param, params[param], neutral, f"the loop `{loop}`",
                                            statement)
            elif isinstance(statement, ast.Return) and statement.value is not None:
                found = _comprehension_neutral(statement.value, params)
                if found is None:
                    continue
                param, neutral = found
                if s.reassigned(param):
                    continue
                yield self._guard_candidate(s, position, param, params[param], neutral,
                                            f"`{snippet(statement, 60)}`", statement)

    def _neutral_after_loop(self, s: Subject, position: int) -> ast.expr | None | bool:
        """What the function returns when the loop at ``position`` runs zero times, if known there:
        an expression, ``True`` for a bare ``return``, or None when it is not cheap to know."""
        body = s.function.body
        after = body[position + 1:]
        if s.is_generator:
            return True if not after or (len(after) == 1 and _bare_return(after[0])) else None
        if not after:
            returns_value = any(isinstance(n, ast.Return) and n.value is not None for n in s.nodes)
            return None if returns_value else True
        if len(after) != 1 or not isinstance(after[0], ast.Return):
            return None
        value = after[0].value
        if value is None:
            return True
        before = body[:position]
        names = [n for n in ast.walk(value) if isinstance(n, ast.Name)]
        if not all(isinstance(n, ast.Name | ast.Tuple | ast.Constant | ast.Load) for n in ast.walk(value)):
            return None
        assigned = {}
        for statement in before:
            if isinstance(statement, ast.Assign) and len(statement.targets) == 1 and isinstance(
                statement.targets[0], ast.Name
            ):
                assigned[statement.targets[0].id] = statement.value
            elif isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name) and statement.value:
                assigned[statement.target.id] = statement.value
        if not names or any(n.id not in assigned for n in names):
            return None
        # a lone accumulator initialised with a literal: return that literal; otherwise the names
        if isinstance(value, ast.Name) and _is_literal(assigned[value.id]):
            return assigned[value.id]
        return value

    def _guard_candidate(self, s: Subject, position: int, param: str, arg: ast.arg, neutral: ast.expr | bool,
                         where: str, anchor: ast.stmt) -> Candidate:
        iterator_like = _annotation_names(arg.annotation) & {"Iterable", "Iterator", "Generator", "AsyncIterable",
                                                             "AsyncIterator", "AsyncGenerator", "Callable"}
        test = f"{param} is None" if iterator_like else f"not {param}"
        returned = "" if neutral is True else ast.unparse(neutral)
        guard = f"if {test}:\n    return{' ' + returned if returned else ''}"
        condition = "is None" if iterator_like else "is empty or None"

        def rewrite(tree: ast.Module, function: _Function) -> list[str]:
            function.body.insert(position, ast.parse(guard).body[0])
            return []

        shown = f"`return {returned}`" if returned else "bare `return`"
        what = "yields nothing" if s.is_generator else (f"returns {returned}" if returned else "returns None")
        description = (f"early {shown} when `{param}` {condition}, inserted before {where} "
                       f"(line {s.line(anchor)})")
        if iterator_like:
            reasoning = (f"`{param}` is consumed as an iterable, so it cannot be tested for emptiness without "
                         f"consuming it; the guard only catches None, which would otherwise fail with a TypeError "
                         f"in {where}, and answers with what an empty input produces ({what}).")
        else:
            reasoning = (f"For an empty `{param}` the function already {what} without doing anything in {where}; "
                         f"the guard makes that explicit and cheap, and lets a None `{param}` take the same path "
                         f"instead of raising TypeError — useful when callers pass optional collections through.")
        return Candidate("empty_guard", f"{param}@{position}", rewrite, description, reasoning)

    def _zero_fast_path(self, s: Subject) -> Iterator[Candidate]:
        body = s.function.body
        if not body or not isinstance(body[-1], ast.Return) or body[-1].value is None or s.is_generator:
            return
        final = body[-1]
        returns = _annotation_names(s.function.returns)
        for arg, _ in s.params():
            names = _annotation_names(arg.annotation)
            if not names or not names <= {"int", "float"} or s.reassigned(arg.arg):
                continue
            if arg.arg not in {n.id for n in ast.walk(final.value) if isinstance(n, ast.Name)}:
                continue
            zero: int | float = 0.0 if "float" in names else 0
            folded = _fold(final.value, arg.arg, zero)
            if folded is None or folded is _UNKNOWN:
                continue
            value = folded[0]
            if folded[1]:  # the fold multiplied unknown values by zero: the type comes from the annotation
                if returns == {"float"}:
                    value = float(value)
                elif returns == {"int"} and float(value).is_integer():
                    value = int(value)
                else:
                    continue
            if isinstance(value, float) and not math.isfinite(value):
                continue
            literal = repr(value)
            position = len(body) - 1
            guard = f"if {arg.arg} == 0:\n    return {literal}"

            def rewrite(tree: ast.Module, function: _Function, guard: str = guard, position: int = position) -> list[str]:
                function.body.insert(position, ast.parse(guard).body[0])
                return []

            yield Candidate(
                "zero_fast_path", arg.arg, rewrite,
                f"fast path `if {arg.arg} == 0: return {literal}` before the final `{snippet(final, 60)}` "
                f"(line {s.line(final)})",
                f"At `{arg.arg} == 0` the result `{snippet(final.value, 50)}` folds to {literal}; answering it "
                f"directly skips the arithmetic for a common trivial input"
                + (" (and never multiplies an infinite or NaN factor by zero)" if folded[1] else "")
                + f". Where `{arg.arg}` is often zero in practice the shortcut pays off; elsewhere it costs one "
                  f"comparison per call.",
            )

    def _memoize(self, s: Subject) -> Iterator[Candidate]:
        function = s.function
        if s.is_async or s.is_generator or function.args.vararg or function.args.kwarg:
            return
        decorators = set(s.decorators)
        if decorators - {"staticmethod"}:
            return  # unknown wrappers (property, cache, custom decorators) may not pass arguments through
        if s.is_method and "staticmethod" not in decorators:
            return  # self/cls in the key would keep instances alive and share nothing between them
        params = s.params()
        if not params:
            return
        for arg, default in params:
            names = _annotation_names(arg.annotation)
            if arg.annotation is None:
                if not isinstance(default, ast.Constant):  # unknown type: only a literal default vouches for it
                    return
            elif not names or not names <= HASHABLE:
                return
        if _returns_mutable(s):
            return
        if not _does_work(s):
            return
        effects = _side_effects(s)
        if effects is None or effects:
            return
        size = self.config.cache_size
        imported = _bound_names(s.context)
        constants = [c for c in _constants_read(s) if c not in imported]
        signature = ", ".join(
            f"{arg.arg}: {ast.unparse(arg.annotation)}" if arg.annotation is not None else arg.arg for arg, _ in params
        )

        def rewrite(tree: ast.Module, function: _Function) -> list[str]:
            function.decorator_list.append(ast.parse(f"functools.lru_cache(maxsize={size})", mode="eval").body)
            return ["functools"]

        yield Candidate(
            "memoize", "lru_cache", rewrite,
            f"memoised with `@functools.lru_cache(maxsize={size})`"
            + (" under @staticmethod" if "staticmethod" in decorators else "")
            + f": every parameter ({signature}) is a hashable scalar and the body has no side effects",
            f"`{s.name}` is a pure function of hashable scalar arguments, so repeated calls with the same "
            f"arguments can be answered from a bounded cache of {size} entries instead of redoing "
            f"{_work_kind(s, imported)}; its results are immutable, so sharing them between callers is safe"
            + (f". The cache assumes the module constants {', '.join(constants)} are not changed at runtime."
               if constants else "."),
        )

    def _retry(self, s: Subject) -> Iterator[Candidate]:
        if "retry" in s.name.lower():
            return
        if s.name.startswith("__") and s.name.endswith("__"):
            return  # constructors, __repr__, __del__...: no sleeping retries there
        nodes, parents = walk_with_parents(s.function)
        if _already_retries(nodes, parents):
            return
        attempts, base = self.config.retry_attempts, self.config.retry_base_delay
        for scope, statement, call in _io_statements(s.function, nodes, parents):
            callee = snippet(call.func, 40)
            is_async = isinstance(scope, ast.AsyncFunctionDef)
            module = "asyncio" if is_async else "time"
            sleep = f"await asyncio.sleep({base} * 2 ** _attempt)" if is_async else f"time.sleep({base} * 2 ** _attempt)"
            index = _index_of(s.tree, statement)
            is_return = isinstance(statement, ast.Return)
            waits = ", ".join(f"{base * 2 ** i:g}s" for i in range(attempts - 1))

            def rewrite(tree: ast.Module, function: _Function, index: int = index, sleep: str = sleep,
                        is_return: bool = is_return, module: str = module) -> list[str]:
                target = list(ast.walk(tree))[index]
                loop = ast.parse(
                    f"for _attempt in range({attempts}):\n"
                    f"    try:\n"
                    f"        pass\n"
                    f"    except (ConnectionError, TimeoutError):\n"
                    f"        if _attempt == {attempts - 1}:\n"
                    f"            raise\n"
                    f"        {sleep}\n"
                    + ("" if is_return else "    else:\n        break\n")
                ).body[0]
                loop.body[0].body = [target]
                statements, position = statement_position(tree, target)
                statements[position] = loop
                return [module]

            line = s.line(statement)
            yield Candidate(
                "retry", f"line {line}", rewrite,
                f"retry `{snippet(statement, 60)}` (line {line}) up to {attempts} attempts on ConnectionError/"
                f"TimeoutError, sleeping {waits} between attempts ({module}.sleep)",
                f"`{callee}` looks like I/O, where connection resets and timeouts are usually transient; "
                f"{attempts} bounded attempts with exponential backoff ride out a blip without hammering the "
                f"other side, and the last failure still propagates unchanged. Only safe if `{callee}` is "
                f"idempotent — a retried {'charge or send' if set(name_tokens(callee)) & {'charge', 'send', 'post'} else 'call'} "
                f"that had actually gone through would happen twice.",
            )

    def _validate(self, s: Subject) -> Iterator[Candidate]:
        position = _after_docstring(s.function)
        anchor = s.function.body[position] if position < len(s.function.body) else s.function
        for arg, default in s.params():
            name = arg.arg
            tokens = set(name_tokens(name))
            if not tokens & NONNEGATIVE or s.already_checked(name) or s.reassigned(name):
                continue
            names = _annotation_names(arg.annotation)
            numeric_default = _number(default) is not None
            if arg.annotation is not None and not (names & {"int", "float"} and names <= {"int", "float", "None"}):
                continue
            if arg.annotation is None and not numeric_default:
                continue
            use = _numeric_use(s, name)
            if use is None:
                continue  # only formatted or passed through: a negative value may be meaningful there
            optional = "None" in names or (isinstance(default, ast.Constant) and default.value is None)
            positive = bool(tokens & POSITIVE)
            op, rule = ("<=", "positive") if positive else ("<", "non-negative")
            test = f"{name} is not None and {name} {op} 0" if optional else f"{name} {op} 0"
            guard = f"if {test}:\n    raise ValueError(f'{name} must be {rule}, got {{{name}!r}}')"

            def rewrite(tree: ast.Module, function: _Function, guard: str = guard) -> list[str]:
                function.body.insert(_after_docstring(function), ast.parse(guard).body[0])
                return []

            bad = "non-positive" if positive else "negative"
            yield Candidate(
                "validate", name, rewrite,
                f"reject {bad} `{name}` with ValueError at entry (`if {test}: raise ValueError(...)`, inserted "
                f"at line {s.line(anchor)}; `{name}` is used in `{snippet(use, 50)}`, line {s.line(use)})",
                f"Nothing in `{s.name}` checks `{name}`, yet a {bad} value flows straight into "
                f"`{snippet(use, 50)}` and gives a plausible-looking wrong result"
                + (" (or a failure far from the cause)" if positive else "")
                + f". A {bad} `{name}` is almost always a caller bug; failing at the boundary names the argument "
                f"and its value.",
            )

    def _zero_division(self, s: Subject) -> Iterator[Candidate]:
        params = s.param_names()
        seen: set[str] = set()
        for node in s.nodes:
            divisor = None
            if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div | ast.FloorDiv | ast.Mod):
                if isinstance(node.op, ast.Mod) and isinstance(node.left, ast.Constant | ast.JoinedStr):
                    continue  # "%s" % x formats, it does not divide
                divisor, expression = node.right, node
            elif isinstance(node, ast.AugAssign) and isinstance(node.op, ast.Div | ast.FloorDiv | ast.Mod):
                divisor, expression = node.value, node
            if not isinstance(divisor, ast.Name) or divisor.id not in params or divisor.id in seen:
                continue
            name = divisor.id
            if s.reassigned(name) or s.already_checked(name):
                continue
            annotation = _annotation_names(next(a.annotation for a, _ in s.params() if a.arg == name))
            if annotation and not annotation <= {"int", "float", "None", "Decimal", "Fraction"}:
                continue  # a divisor of another type (a vector, a path) has its own idea of zero
            seen.add(name)
            guard = f"if {name} == 0:\n    raise ValueError('{name} must not be zero')"

            def rewrite(tree: ast.Module, function: _Function, guard: str = guard) -> list[str]:
                function.body.insert(_after_docstring(function), ast.parse(guard).body[0])
                return []

            yield Candidate(
                "zero_division", name, rewrite,
                f"reject `{name} == 0` with ValueError at entry, before `{snippet(expression, 50)}` "
                f"(line {s.line(expression)}) divides by it",
                f"`{s.name}` divides by `{name}` without checking it; a zero now fails up front with a "
                f"ValueError naming the argument instead of a bare ZeroDivisionError from the middle of "
                f"`{snippet(expression, 40)}`, after any work done before it.",
            )


# -- helpers -----------------------------------------------------------------------------------


def _number(node: ast.AST | None) -> int | float | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        inner = _number(node.operand)
        return None if inner is None else (-inner if isinstance(node.op, ast.USub) else inner)
    return None


def _annotation_names(annotation: ast.AST | None) -> set[str]:
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


def _after_docstring(function: _Function) -> int:
    return len(function.body) - len(docstring_free(function.body))


def _bare_return(statement: ast.stmt) -> bool:
    return isinstance(statement, ast.Return) and statement.value is None


def _is_literal(node: ast.AST) -> bool:
    """An empty display, a constant, or a call of list()/dict()/set() without arguments."""
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.List | ast.Tuple | ast.Set) and not node.elts:
        return True
    if isinstance(node, ast.Dict) and not node.keys:
        return True
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in BUILDERS
            and not node.args and not node.keywords)


def _iterated_param(iterable: ast.AST, params: dict[str, ast.arg]) -> str | None:
    """The parameter a loop walks: ``p``, ``enumerate(p)``, ``sorted(p)``, ``p.items()``..."""
    if isinstance(iterable, ast.Name):
        return iterable.id if iterable.id in params else None
    if isinstance(iterable, ast.Call):
        func = iterable.func
        if isinstance(func, ast.Name) and func.id in {"enumerate", "sorted", "reversed", "list", "tuple", "set",
                                                      "iter"} and iterable.args:
            return _iterated_param(iterable.args[0], params)
        if (isinstance(func, ast.Attribute) and func.attr in {"items", "keys", "values"} and not iterable.args
                and isinstance(func.value, ast.Name) and func.value.id in params):
            return func.value.id
    return None


def _comprehension_neutral(value: ast.expr, params: dict[str, ast.arg]) -> tuple[str, ast.expr] | None:
    """For ``return [.. for x in p]``, ``sorted(.. for x in p)``, ``sum(..)``...: (p, the empty result)."""
    neutral: ast.expr | None = None
    comprehension = value
    if isinstance(value, ast.ListComp):
        neutral = ast.List(elts=[], ctx=ast.Load())
    elif isinstance(value, ast.SetComp):
        neutral = ast.parse("set()", mode="eval").body
    elif isinstance(value, ast.DictComp):
        neutral = ast.Dict(keys=[], values=[])
    elif (isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and len(value.args) == 1
          and not value.keywords and isinstance(value.args[0], ast.GeneratorExp | ast.ListComp)):
        comprehension = value.args[0]
        if value.func.id in REDUCERS:
            neutral = REDUCERS[value.func.id]
        elif value.func.id in BUILDERS:
            neutral = ast.parse(BUILDERS[value.func.id], mode="eval").body
    if neutral is None or not isinstance(comprehension, ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp):
        return None
    param = _iterated_param(comprehension.generators[0].iter, params)
    return None if param is None else (param, neutral)


_UNKNOWN = object()


def _fold(node: ast.AST, name: str, zero: float) -> tuple[int | float, bool] | object | None:
    """``node`` evaluated at ``name == zero``: (value, whether unknown factors were multiplied by zero),
    ``_UNKNOWN`` when it depends on other values, None when it cannot be evaluated (division by zero)."""
    number = _number(node)
    if number is not None:
        return number, False
    if isinstance(node, ast.Name) and node.id == name:
        return zero, False
    if isinstance(node, ast.Name | ast.Attribute):
        return _UNKNOWN
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _fold(node.operand, name, zero)
        return inner if inner is None or inner is _UNKNOWN else (-inner[0], inner[1])
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Sub | ast.Mult | ast.Div):
        left, right = _fold(node.left, name, zero), _fold(node.right, name, zero)
        if left is None or right is None:
            return None
        if isinstance(node.op, ast.Mult) and (left is _UNKNOWN or right is _UNKNOWN):
            known = right if left is _UNKNOWN else left
            if known is not _UNKNOWN and known[0] == 0 and not _has_call(node.left if left is _UNKNOWN else node.right):
                return 0, True
            return _UNKNOWN
        if isinstance(node.op, ast.Div) and left is not _UNKNOWN and left[0] == 0 and right is _UNKNOWN:
            return _UNKNOWN  # 0 / x is 0 only when x is not zero: not known here
        if left is _UNKNOWN or right is _UNKNOWN:
            return _UNKNOWN
        try:
            value = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
                     ast.Div: lambda a, b: a / b}[type(node.op)](left[0], right[0])
        except ZeroDivisionError:
            return None
        return value, left[1] or right[1]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in {"round", "float", "int",
                                                                                        "abs"}:
        if not node.args or node.keywords or len(node.args) > (2 if node.func.id == "round" else 1):
            return _UNKNOWN
        inner = _fold(node.args[0], name, zero)
        if inner is None or inner is _UNKNOWN:
            return inner
        value, approximate = inner
        if node.func.id == "round":
            if len(node.args) == 1:
                return round(value), approximate
            digits = _fold(node.args[1], name, zero)
            if digits is _UNKNOWN or digits is None:
                # round(0, n) is 0 for any n; the type follows the value's
                return (value, True) if value == 0 else _UNKNOWN
            return round(value, int(digits[0])), approximate
        return {"float": float, "int": int, "abs": abs}[node.func.id](value), approximate
    return _UNKNOWN


def _numeric_use(s: Subject, name: str) -> ast.AST | None:
    """The first place the body computes with ``name``: arithmetic, a comparison, range(), a sleep,
    or a keyword argument of the same name (``timeout=timeout``)."""
    def is_name(node: ast.AST) -> bool:
        return isinstance(node, ast.Name) and node.id == name

    for node in s.nodes:
        if isinstance(node, ast.BinOp) and (is_name(node.left) or is_name(node.right)):
            return node
        if isinstance(node, ast.AugAssign) and is_name(node.value):
            return node
        if (isinstance(node, ast.Compare) and any(is_name(o) for o in [node.left, *node.comparators])
                and all(isinstance(op, ast.Lt | ast.LtE | ast.Gt | ast.GtE | ast.Eq | ast.NotEq) for op in node.ops)):
            return node
        if (isinstance(node, ast.Assign) and is_name(node.value) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Attribute)):
            return node  # self.ttl = ttl: kept for later use, so the constructor is the place to check it
        if isinstance(node, ast.Call):
            callee = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
            if callee in {"range", "sleep", "wait_for", "deque", "Semaphore", "islice", "min", "max"} and any(
                is_name(a) for a in node.args
            ):
                return node
            if any(k.arg == name and is_name(k.value) for k in node.keywords):
                return node
    return None


def _has_call(node: ast.AST) -> bool:
    return any(isinstance(n, ast.Call | ast.Await | ast.Yield | ast.NamedExpr) for n in ast.walk(node))


def _returns_mutable(s: Subject) -> bool:
    """Whether any return hands back a list, dict or set (a cached one could be mutated by a caller)."""
    for node in s.nodes:
        if isinstance(node, ast.Return) and node.value is not None:
            value = node.value
            if isinstance(value, ast.List | ast.Dict | ast.Set | ast.ListComp | ast.DictComp | ast.SetComp):
                return True
            if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id in {
                "list", "dict", "set", "sorted", "bytearray", "deque", "defaultdict", "OrderedDict", "Counter"
            }:
                return True
            if isinstance(value, ast.Name):  # a local container being returned
                for other in s.nodes:
                    if isinstance(other, ast.Assign | ast.AnnAssign) and _is_container(other.value) and any(
                        isinstance(t, ast.Name) and t.id == value.id
                        for t in (other.targets if isinstance(other, ast.Assign) else [other.target])
                    ):
                        return True
    annotation = _annotation_names(s.function.returns)
    return bool(annotation & {"list", "dict", "set", "List", "Dict", "Set", "deque", "bytearray", "Any"})


def _is_container(node: ast.AST | None) -> bool:
    return isinstance(node, ast.List | ast.Dict | ast.Set | ast.ListComp | ast.DictComp | ast.SetComp) or (
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in BUILDERS
    )


def _does_work(s: Subject) -> bool:
    """Whether caching could save anything: a loop, a comprehension, or a call beyond cheap builtins."""
    for node in s.nodes:
        if isinstance(node, ast.For | ast.While | ast.comprehension):
            return True
        if isinstance(node, ast.Call):
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
            if name not in CHEAP_CALLS:
                return True
    return False


def _work_kind(s: Subject, modules: set[str]) -> str:
    """What a cache hit saves, in words: "a loop and calls to .strip(), math.log"."""
    parts = []
    if any(isinstance(n, ast.For | ast.While | ast.comprehension) for n in s.nodes):
        parts.append("a loop")
    calls = []
    for node in s.nodes:
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name):
            short, name = func.id, func.id
        elif isinstance(func, ast.Attribute):
            short = func.attr
            module = isinstance(func.value, ast.Name) and func.value.id in modules
            name = f"{func.value.id}.{func.attr}" if module else f".{func.attr}()"
        else:
            continue
        if short not in CHEAP_CALLS and not re.search(r"(Error|Exception)$", short) and name not in calls:
            calls.append(name)
    if calls:
        parts.append("calls to " + ", ".join(calls[:3]) + (" ..." if len(calls) > 3 else ""))
    return " and ".join(parts) or "the computation"


def _side_effects(s: Subject) -> list[str] | None:
    """The side effects the dependency analysis reports that would matter to a cache (None when it
    cannot say). Raising does not (exceptions are not cached), nor does building the exception, an
    immutable number (Decimal, Fraction), matching a module-level compiled pattern, reading a
    module-level constant mapping, or ``next`` over a generator expression."""
    try:
        analysis = s.context.analysis
    except (ValueError, RecursionError):  # the analysis cannot read this procedure: treat it as impure
        return None
    effects = getattr(analysis, "side_effects", None)
    if effects is None:
        return None
    raised = {effect.split(" ", 1)[1] for effect in effects if effect.startswith("raises ")}
    nexts = [n for n in s.nodes
             if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "next"]
    harmless_next = all(n.args and isinstance(n.args[0], ast.GeneratorExp) for n in nexts)
    left = []
    for effect in effects:
        verb, _, what = effect.partition(" ")
        if verb in ("raises", "re-raises"):
            continue
        if verb == "calls":
            root = what.split(".")[0].split("(")[0]
            if what in raised or re.search(r"(Error|Exception|Warning)$", what):
                continue
            if root in IMMUTABLE_VALUES and all(
                part.endswith(")") or part in PURE_VALUE_METHODS for part in what.split(".")[1:]
            ):
                continue
            if what == "next" and harmless_next:
                continue
            if re.fullmatch(r"[A-Z][A-Z0-9_]*\.(match|fullmatch|search|findall|get)", what):
                continue
        left.append(effect)
    left += [ast.unparse(n) for n in s.nodes if isinstance(n, ast.Global | ast.Nonlocal)]
    return left


def _constants_read(s: Subject) -> list[str]:
    """Module-level constants (UPPER_CASE names) the function reads."""
    names = {n.id for n in s.nodes if isinstance(n, ast.Name) and re.fullmatch(r"[A-Z][A-Z0-9_]+", n.id)}
    return sorted(names)


def _already_retries(nodes: list[ast.AST], parents: dict[int, ast.AST]) -> bool:
    """A try statement inside a loop (see ``walk_with_parents``): the function has its own retry or
    fallback logic."""
    for node in nodes:
        if isinstance(node, ast.Try):
            parent = parents.get(id(node))
            while parent is not None:
                if isinstance(parent, ast.For | ast.AsyncFor | ast.While):
                    return True
                parent = parents.get(id(parent))
    return False


def _io_call(node: ast.AST, params: set[str]) -> ast.Call | None:
    """The I/O-looking call a statement's value is (``x = fetch(...)``, ``await client.send(...)``).

    An injected callable (a parameter) named with an I/O verb (``fetch``, ``get_page``); a method with
    an I/O verb on something that looks like a client (``self.session.get``, ``sock.sendall``) or on an
    injected object (``sink.send``, strong verbs only); a function named with a strong I/O verb and
    nothing else or something remote (``fetch_observations``, not ``request_host``)."""
    if isinstance(node, ast.Await):
        node = node.value
    if not isinstance(node, ast.Call):
        return None
    func = node.func
    name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
    words = _words(name)
    if not words or NOT_IO & set(words) or name[:1].isupper():  # Request(...) builds, it does not send
        return None
    strong, weak = words[0] in IO_VERBS, words[0] in WEAK_IO_VERBS
    weak = weak and (len(words) == 1 or bool(REMOTE_NOUNS & set(words[1:])))
    if isinstance(func, ast.Name):
        if func.id in params:  # an injected callable: get_page(...) is as remote as it gets
            return node if strong or words[0] in WEAK_IO_VERBS else None
        return node if strong and (len(words) == 1 or REMOTE_NOUNS & set(words[1:])) else None
    if isinstance(func, ast.Attribute):
        receiver = func.value
        receiver_name = receiver.id if isinstance(receiver, ast.Name) else getattr(receiver, "attr", "")
        client_like = bool(CLIENT_NOUNS & set(_words(receiver_name)))
        injected = isinstance(receiver, ast.Name) and receiver.id in params and receiver.id not in ("self", "cls")
        if client_like and (strong or weak) or injected and strong:
            return node
    return None


def _words(name: str) -> list[str]:
    """``fetchPage``, ``_fetch_page`` -> ["fetch", "page"]."""
    return [t for t in re.split(r"_+", re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()) if t]


def _io_statements(function: _Function, nodes: list[ast.AST],
                   parents: dict[int, ast.AST]) -> Iterator[tuple[_Function, ast.stmt, ast.Call]]:
    """(enclosing function, statement, call) for each simple statement whose value is an I/O call
    (``nodes`` and ``parents`` from ``walk_with_parents(function)``)."""
    params = {a.arg for n in nodes if isinstance(n, _Function)
              for a in [*n.args.posonlyargs, *n.args.args, *n.args.kwonlyargs]}
    for node in nodes:
        if not isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign | ast.Expr | ast.Return):
            continue
        call = None if node.value is None else _io_call(node.value, params)
        if call is None or any(isinstance(n, ast.Yield | ast.YieldFrom) for n in ast.walk(node)):
            continue
        scope, inside_try, parent = None, False, parents.get(id(node))
        while parent is not None:
            if isinstance(parent, ast.Try | getattr(ast, "TryStar", ast.Try)):
                inside_try = True
            if isinstance(parent, _Function | ast.Lambda | ast.ClassDef):
                scope = parent
                break
            parent = parents.get(id(parent))
        if scope is None:
            scope = function
        if inside_try or not isinstance(scope, _Function):
            continue
        yield scope, node, call


def _index_of(tree: ast.Module, node: ast.AST) -> int:
    for index, other in enumerate(ast.walk(tree)):
        if other is node:
            return index
    raise ValueError("node not in tree")


def _build(context: GenerationContext, candidate: Candidate) -> str | None:
    """The draft's code: the candidate's rewrite on a fresh parse, plus the imports it needs."""
    tree = ast.parse(context.source)
    function = function_in(tree.body, context.procedure.name)
    if function is None:
        return None
    modules = candidate.rewrite(tree, function)
    ast.fix_missing_locations(tree)
    code = ast.unparse(tree) + "\n"
    bound = _bound_names(context)
    missing = [m for m in modules if m not in bound]
    if missing:
        code = "".join(f"import {m}\n" for m in missing) + "\n" + code
    return code


def _bound_names(context: GenerationContext) -> set[str]:
    """Names the procedure's module imports (``import time`` binds ``time``)."""
    names: set[str] = set()
    for statement in context.procedure.imports:
        try:
            parsed = ast.parse(statement)
        except SyntaxError:
            continue
        for node in parsed.body:
            if isinstance(node, ast.Import):
                names |= {alias.asname or alias.name.partition(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                names |= {alias.asname or alias.name for alias in node.names}
    return names


@hookimpl
def register_generators(register) -> None:
    register(ConditionalGenerator)
