"""Generator ``cross_project``: the base combined with a related procedure from another project.

``context.related`` holds procedures of other projects, best match first (nothing related, nothing
dreamt). A dream must stay one standalone function, so whatever it borrows is *inlined*: the related
procedure becomes a nested helper (renamed ``_<project>_<name>`` so it cannot clash), the module
constants, helper functions and stdlib imports it needs are copied into that helper, and its own
exception classes become their builtin base class. Whatever cannot be resolved that way (another
module of its project, ``self``) means that combination is not proposed.

Local strategies (offline, deterministic: ``context.rng`` only orders the strategies):

``fallback``
    try the base's own logic; when it raises, return what the related procedure computes from the
    same arguments (only when its parameters can be fed from the base's and the return types agree);
``composition``
    a call chain: the base's result fed through the related procedure, or a base argument
    pre-processed by it (only for ``T -> T`` procedures whose ``T`` matches);
``guard``
    the related procedure's input validation (``if ...: raise ValueError``) transplanted onto the
    base parameters with the same name or annotation, when the base does not check them already;
``retry``
    the related procedure's retry shape (attempts, backoff growth, caught errors) wrapped around the
    base's call of a callable it was given (its I/O).

LLM mode (``mode = "llm"``, or ``"both"`` beside the local drafts) asks the configured model chain
with the prompt template ``prompts/cross_project.txt``, fed with the base and its related procedures
(each inside its own fence, as data).
"""

from __future__ import annotations

import ast
import builtins
import copy
import logging
import os
import re
import sys
import textwrap
from collections.abc import Callable, Iterator
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

import attrs

from dreamcore import hookimpl
from dreamcore.analysis.dataflow import PURE_METHODS
from dreamcore.analysis.safety import check_code
from dreamcore.analysis.syntax import (
    copy_tree,
    docstring_free,
    is_docstring,
    is_generator,
    is_none,
    parameters,
    parse_function,
    read_names,
    resolved_annotation,
    scope_nodes,
    snippet,
    statement_position,
)
from dreamcore.config import SafetyPolicy
from dreamcore.generation.drafts import DreamDraft, GenerationContext, new_code, round_robin
from dreamcore.generation.llm_drafts import bullets, fenced, mode_drafts
from dreamcore.llm.hub import LLMOptions, route_default
from dreamcore.models import Procedure

STRATEGIES = ("fallback", "composition", "guard", "retry")

_Function = ast.FunctionDef | ast.AsyncFunctionDef
_BUILTINS = frozenset(dir(builtins))
_BUILTIN_EXCEPTIONS = frozenset(
    name for name in dir(builtins) if isinstance(getattr(builtins, name), type)
    and issubclass(getattr(builtins, name), BaseException)
)
_VALIDATION_ERRORS = frozenset({"ValueError", "TypeError", "KeyError", "IndexError", "OverflowError"})
_NUMBERS = frozenset({"int", "float"})
_MAX_INLINED_LINES = 120
_log = logging.getLogger(__name__)


def _validate_strategies(instance: Any, attribute: attrs.Attribute, value: list[str]) -> None:
    unknown = sorted(set(value) - set(STRATEGIES))
    if unknown:
        raise ValueError(f"unknown cross-project strategies {unknown} (known: {', '.join(STRATEGIES)})")


@attrs.define(kw_only=True)
class Candidate:
    """One finished combination before selection."""

    strategy: str
    code: str
    description: str
    reasoning: str


class CrossProject:
    """Dreams that combine the base with what a related procedure of another project does."""

    name = "cross_project"
    dream_type = "cross_project"
    prompt_file = Path(__file__).parent / "prompts" / "cross_project.txt"
    prompt_fields = ("function", "project", "source", "related", "strategies", "hints", "count")

    @attrs.define(kw_only=True)
    class Config(LLMOptions):
        """``[plugins.cross_project]``: which strategies to use, how many related procedures, and the LLM
        mode (off by default; the seed's route: a Qwen coder model, a DeepSeek fallback, temperature 0.7)."""

        models: list[str] = route_default("models", ["qwen/qwen3-coder", "deepseek/deepseek-chat-v3.1"])
        temperature: float = route_default("temperature", 0.7)
        max_tokens: int = route_default("max_tokens", 3000)
        variants_per_call: int = route_default("variants_per_call", 3)

        strategies: list[str] = attrs.field(
            factory=lambda: list(STRATEGIES),
            validator=_validate_strategies,
            metadata={"help": "ways to combine: " + ", ".join(STRATEGIES)},
        )
        max_related: int = attrs.field(
            default=5, validator=attrs.validators.ge(1), metadata={"help": "related procedures considered"}
        )

    def __init__(self, config: Config | None = None) -> None:
        self.config = config if config is not None else self.Config()

    async def generate(self, procedure, context: GenerationContext) -> list[DreamDraft]:
        """At most ``context.variants`` drafts; none without related procedures."""
        if context.variants <= 0 or not self._related(context):
            return []
        return await mode_drafts(context, lambda: self._local_drafts(context), lambda: self._prompt_values(context))

    def _related(self, context: GenerationContext) -> list[Procedure]:
        """Related procedures of other projects, at most ``max_related``, best first."""
        return [
            r for r in context.related
            if r.project != context.procedure.project or not context.procedure.project
        ][: self.config.max_related]

    def _prompt_values(self, context: GenerationContext) -> dict[str, str]:
        """What the prompt template is filled with; all code only inside fences."""
        related = [
            f"{number}. {other.project}: {other.module}.{other.qualname}\n{fenced(textwrap.dedent(other.source))}"
            for number, other in enumerate(self._related(context), start=1)
        ]
        return {
            "function": context.procedure.name,
            "project": context.procedure.project,
            "source": fenced(context.source),
            "related": "\n\n".join(related),
            "strategies": ", ".join(self.config.strategies),
            "hints": bullets(context.hints),
        }

    # -- local mode ------------------------------------------------------------------------

    def _local_drafts(self, context: GenerationContext) -> list[DreamDraft]:
        """Drafts from AST combinations with each related procedure, chosen with ``context.rng``."""
        base = _parse(context.source, context.procedure.name)
        if base is None:
            return []
        related = self._related(context)
        makers: dict[str, Callable[[_Base, _Related], Iterator[Candidate]]] = {
            "fallback": _fallback,
            "composition": _composition,
            "guard": _guard,
            "retry": _retry,
        }
        by_strategy: dict[str, list[Candidate]] = {s: [] for s in self.config.strategies}
        base_info = _Base(base)
        seen: set[str] = set()
        for procedure in related:
            other = _Related.load(procedure)
            if other is None:
                continue
            for strategy in self.config.strategies:
                try:
                    found = list(makers[strategy](base_info, other))
                except (ValueError, TypeError, AttributeError, KeyError, IndexError, RecursionError):
                    _log.debug("strategy %r failed on %s with %s", strategy, context.procedure.qualname,
                               other.label, exc_info=True)
                    continue
                by_strategy[strategy] += [c for c in found if new_code(c.code, seen)]
        order = [s for s in self.config.strategies if by_strategy[s]]
        context.rng.shuffle(order)
        chosen = round_robin([by_strategy[s] for s in order], context.variants)  # best related first
        return [
            DreamDraft(code=c.code, description=c.description, reasoning=c.reasoning, model_used="local")
            for c in chosen
        ]


# -- the two sides -----------------------------------------------------------------------------


class _Base:
    """The base procedure's function and the facts the strategies need about it (the costlier ones
    worked out on first use, once for all related procedures)."""

    def __init__(self, function: _Function) -> None:
        self.function = function
        self.params = _params(function)
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
            elif isinstance(node, _Function | ast.ClassDef):
                names.add(node.name)
        return names

    @cached_property
    def checked_params(self) -> set[str]:
        """Parameters the base already validates in an ``if ...: raise`` of its own."""
        names = {p.name for p in self.params}
        return {name for guard in _guards(self.function) for name in read_names(guard.test) & names}

    def fresh(self, wanted: str) -> str:
        """A name not used anywhere in the base."""
        name, counter = wanted, 2
        while name in self.names:
            name, counter = f"{wanted}_{counter}", counter + 1
        return name


class _Related:
    """A related procedure, parsed, with what is needed to inline it into another function."""

    def __init__(self, procedure: Procedure, function: _Function, module: ast.Module | None) -> None:
        self.procedure = procedure
        self.function = function
        self.module = module
        self.params = _params(function)
        self.label = f"{procedure.project}.{procedure.module}.{procedure.qualname}".replace("..", ".").strip(".")
        self.is_async = isinstance(function, ast.AsyncFunctionDef)
        self.is_generator = is_generator(function)
        self.decorators = [_dotted(d) for d in function.decorator_list]

    @classmethod
    def load(cls, procedure: Procedure) -> _Related | None:
        """The related procedure parsed, or None if it does not parse; cached (see ``_load_related``), as
        the same few hundred procedures are related to many bases."""
        path = procedure.file_path or ""
        return _load_related(procedure.project, procedure.module, procedure.qualname, procedure.source,
                             procedure.docstring, tuple(procedure.imports), path, _modified(path))

    @cached_property
    def imports(self) -> dict[str, ast.stmt]:
        """See ``_import_table`` (only a related procedure that is inlined needs it)."""
        return _import_table(self.procedure, self.module)

    @cached_property
    def guards(self) -> tuple[ast.If, ...]:
        """The ``if ...: raise`` statements of its own scope."""
        return tuple(_guards(self.function))

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

    def helper_name(self, base: _Base) -> str:
        return base.fresh(f"_{_identifier(self.procedure.project)}_{self.function.name}".replace("__", "_"))

    # ---------------------------------------------------------------- inlining

    def inline(self, name: str) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
        """The related function as a self-contained nested def called ``name``, or None."""
        if self.uses_instance or any(d not in ("staticmethod",) for d in self.decorators):
            return None
        helper = copy_tree(self.function)
        helper.name = name
        helper.decorator_list = []
        _strip_annotations(helper)
        helper.body = docstring_free(helper.body) or [ast.Pass()]
        if not _substitute_defaults(helper, self):
            return None
        prelude = self.prelude(_free_names(helper))
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
            return (statement, set()) if _import_ok(statement) else None
        if self.module is None:
            return None
        for node in self.module.body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name) \
                    and node.targets[0].id == name:
                return ast.Assign(targets=[ast.Name(id=name, ctx=ast.Store())], value=copy_tree(node.value)), \
                    _free_names(node.value)
            if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id == name \
                    and node.value is not None:
                return ast.Assign(targets=[ast.Name(id=name, ctx=ast.Store())], value=copy_tree(node.value)), \
                    _free_names(node.value)
            if isinstance(node, _Function) and node.name == name and not node.decorator_list:
                function = copy_tree(node)
                _strip_annotations(function)
                function.body = docstring_free(function.body) or [ast.Pass()]
                if not _substitute_defaults(function, self):
                    return None
                return function, _free_names(function)
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
        if isinstance(base, ast.Name) and base.id in _BUILTIN_EXCEPTIONS:
            return base.id
        if isinstance(base, ast.Name) and self.module is not None:
            for other in self.module.body:
                if isinstance(other, ast.ClassDef) and other.name == base.id:
                    return self._exception_base(other, depth + 1)
        return None

    def builtin_exception(self, node: ast.expr) -> str | None:
        """The builtin (or allowed stdlib) exception an ``except`` clause's class stands for."""
        text = ast.unparse(node)
        if text in _BUILTIN_EXCEPTIONS:
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
            target = node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1 else \
                node.target if isinstance(node, ast.AnnAssign) else None
            if isinstance(target, ast.Name) and target.id == name and node.value is not None:
                try:
                    ast.literal_eval(node.value)
                except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                    return None
                return copy_tree(node.value)
        return None


# -- strategies --------------------------------------------------------------------------------


def _fallback(base: _Base, other: _Related) -> Iterator[Candidate]:
    """try: <base body> except <what the base raises>: return <related>(<same arguments>)."""
    if base.is_async != other.is_async and other.is_async:
        return
    if base.is_generator != other.is_generator:
        return
    if not _returns_fit(base.function.returns, other.function.returns):
        return
    mapping = _map_params(base.params, other.params)
    if not mapping:
        return
    same_inputs = all(mapping.get(p.name) == p.name for p in other.params if p.required)
    if not _same_job(base.function.name, other.function.name) and not same_inputs:
        return  # related by name (parse_a / parse_b), or taking exactly the same named inputs
    name = other.helper_name(base)
    helper = other.inline(name)
    if helper is None:
        return
    call = _call(name, other.params, mapping)
    if other.is_async:
        call = ast.Await(value=call)
    caught = _raised_builtins(base.function)
    handler_type: ast.expr = (
        ast.Name(id=caught[0], ctx=ast.Load()) if len(caught) == 1 else
        ast.Tuple(elts=[ast.Name(id=c, ctx=ast.Load()) for c in caught], ctx=ast.Load()) if caught else
        ast.Name(id="Exception", ctx=ast.Load())
    )
    fallback: ast.stmt = (
        ast.Expr(value=ast.YieldFrom(value=call)) if base.is_generator else ast.Return(value=call)
    )
    head, body = _split_docstring(base.function)
    function = _with_body(base.function, head + [
        helper,
        ast.Try(body=body or [ast.Pass()], handlers=[ast.ExceptHandler(type=handler_type, name=None, body=[fallback])],
                orelse=[], finalbody=[]),
    ])
    caught_text = ast.unparse(handler_type)
    arguments = ", ".join(f"{r}={b}" for r, b in mapping.items())
    yield Candidate(
        strategy="fallback",
        code=_unparse(function),
        description=(
            f"Fallback chain with {other.label}: runs the base logic and, if it raises {caught_text}, "
            f"returns what {other.label} computes instead (inlined as nested `{name}`, called with "
            f"{arguments})."
        ),
        reasoning=(
            f"{_purpose(other)} It takes the same input ({_describe_inputs(mapping)}) and returns "
            f"{_describe_types(base.function.returns, other.function.returns)}, so where the base gives up "
            f"the {other.procedure.project} project's approach may still produce an answer. Violates the "
            "assumption that a failure of the base logic means there is no answer, and assumes both "
            "projects' results mean the same thing for the same input."
        ),
    )


def _composition(base: _Base, other: _Related) -> Iterator[Candidate]:
    """The base's result piped through the related procedure, or a base argument pre-processed by it."""
    if other.is_async or other.is_generator or base.is_generator:
        return
    required = [p for p in other.params if p.required and p.name not in ("self", "cls")]
    if len(required) != 1:
        return
    single = required[0]
    domain, codomain = _annotation_key(single.annotation), _annotation_key(other.function.returns)
    if domain is None or domain != codomain:
        return
    if not _same_job(base.function.name, other.function.name) and not _is_normaliser(other.function.name):
        return
    name = other.helper_name(base)
    # post: every result of the base goes through the related procedure
    if _annotation_key(base.function.returns) == domain and _has_value_returns(base.function) and (
        _same_job(base.function.name, other.function.name)
        or _name_words(other.function.name) & _name_words(base.function.name)
    ):
        helper = other.inline(name)
        if helper is not None:
            function = copy_tree(base.function)
            head, body = _split_docstring(function)
            for node in scope_nodes(body):
                if isinstance(node, ast.Return) and node.value is not None and not is_none(node.value):
                    node.value = _call_one(name, single, node.value)
            function.body = head + [helper] + body
            yield Candidate(
                strategy="composition",
                code=_unparse(function),
                description=(
                    f"Composition with {other.label}: every value the base returns is passed through it "
                    f"(inlined as nested `{name}`) before being returned."
                ),
                reasoning=(
                    f"{_purpose(other)} The base returns `{_unparse_annotation(base.function.returns)}` and "
                    f"this maps `{domain}` to `{domain}`, so the call chain fits and callers get the "
                    "post-processed value directly. Violates the assumption that the base's raw result is "
                    "what callers want."
                ),
            )
    # pre: a parameter of the base is normalised by the related procedure first
    for param in base.params:
        if param.kind not in ("positional", "keyword") or param.name in ("self", "cls"):
            continue
        if _annotation_key(param.annotation) != domain:
            continue
        if not _same_job(base.function.name, other.function.name) and not (
            _name_words(other.function.name) & (_name_words(param.name) | _name_words(base.function.name))
        ):
            continue  # normalize_email may pre-process an `email`, not any string
        helper = other.inline(name)
        if helper is None:
            return
        head, body = _split_docstring(base.function)
        assign = ast.Assign(
            targets=[ast.Name(id=param.name, ctx=ast.Store())],
            value=_call_one(name, single, ast.Name(id=param.name, ctx=ast.Load())),
        )
        function = _with_body(base.function, head + [helper, assign] + body)
        yield Candidate(
            strategy="composition",
            code=_unparse(function),
            description=(
                f"Composition with {other.label}: `{param.name}` is first passed through it (inlined as "
                f"nested `{name}`), then the base logic runs on the result."
            ),
            reasoning=(
                f"{_purpose(other)} It turns a `{domain}` into a `{domain}`, the type of `{param.name}`, so "
                "it can run as a pre-processing step and input the base would reject or mis-handle arrives "
                f"normalised. Violates the assumption that `{param.name}` already comes in the form the base "
                "expects."
            ),
        )
        return


def _guard(base: _Base, other: _Related) -> Iterator[Candidate]:
    """The related procedure's ``if ...: raise ValueError`` checks, adapted to the base's parameters."""
    mapping = _map_params(base.params, other.params, partial=True) or {}
    renames = {r: b for r, b in mapping.items() if b not in ("self", "cls")}
    if not renames:
        return
    checked = base.checked_params
    borrowed: list[ast.If] = []
    imports: list[ast.stmt] = []
    notes: list[str] = []
    for guard in other.guards:
        raised = _raised_name(guard.body[0])
        if raised not in _VALIDATION_ERRORS:
            continue
        parts = guard.test.values if isinstance(guard.test, ast.BoolOp) and isinstance(guard.test.op, ast.Or) \
            else [guard.test]
        kept = []
        for part in parts:
            by_type = {r for r in read_names(part) if r in renames and renames[r] != r}
            if any(not _name_words(r) & _name_words(renames[r]) for r in by_type) and not _emptiness_check(part):
                continue  # a limit only transfers between like-named parameters; emptiness checks transfer by type
            adapted = _adapt(part, renames, other, imports)
            if adapted is None:
                continue
            reads = read_names(adapted) & {p.name for p in base.params}
            if not reads or reads <= checked:
                continue
            kept.append(adapted)
        if not kept:
            continue
        message = _adapt(guard.body[0], renames, other, imports)
        if message is None:
            continue
        test = kept[0] if len(kept) == 1 else ast.BoolOp(op=ast.Or(), values=kept)
        borrowed.append(ast.If(test=test, body=[message], orelse=[]))
        notes.append(f"`if {snippet(test, 50)}: raise {raised}(...)`")
    if not borrowed:
        return
    head, body = _split_docstring(base.function)
    leading = 0
    while leading < len(body) and _is_guard(body[leading]):
        leading += 1
    unique_imports = list({ast.dump(i): i for i in imports}.values())
    function = _with_body(base.function, head + unique_imports + body[:leading] + borrowed + body[leading:])
    renamed = ", ".join(f"its `{r}` checked as `{b}`" if r != b else f"same parameter `{r}`"
                        for r, b in renames.items() if any(b in read_names(g.test) for g in borrowed))
    yield Candidate(
        strategy="guard",
        code=_unparse(function),
        description=(
            f"Borrows input validation from {other.label}: {', '.join(notes)} now "
            f"run{'s' if len(notes) == 1 else ''} before the base logic ({renamed})."
        ),
        reasoning=(
            f"{_purpose(other)} It rejects such input up front, while the base lets it through to fail later "
            "or to return a wrong value quietly. Violates the base's assumption that its callers never pass "
            "such values, and assumes the mapped parameters mean the same thing in both projects."
        ),
    )


def _retry(base: _Base, other: _Related) -> Iterator[Candidate]:
    """Wrap the base's call of a callable parameter in the related procedure's retry shape."""
    shape = other.retry_shape
    if shape is None or _retry_shape_of(base.function):
        return
    target = _io_statement(base)
    if target is None:
        return
    statement, callee = target
    attempts_name, error_name = base.fresh("_attempt"), None
    retries, backoff, growth, caught = shape
    function = copy_tree(base.function)
    copied = _same_node(function, base.function, statement)
    owner_list, index = statement_position(function, copied)
    if base.is_async:
        sleep: ast.stmt = ast.Expr(value=ast.Await(value=ast.Call(
            func=ast.Attribute(value=ast.Name(id="asyncio", ctx=ast.Load()), attr="sleep", ctx=ast.Load()),
            args=[_delay(growth, backoff, attempts_name)], keywords=[])))
        module = "asyncio"
    else:
        sleep = ast.Expr(value=ast.Call(
            func=ast.Attribute(value=ast.Name(id="time", ctx=ast.Load()), attr="sleep", ctx=ast.Load()),
            args=[_delay(growth, backoff, attempts_name)], keywords=[]))
        module = "time"
    handler_type: ast.expr = (
        ast.Name(id=caught[0], ctx=ast.Load()) if len(caught) == 1 else
        ast.Tuple(elts=[ast.Name(id=c, ctx=ast.Load()) for c in caught], ctx=ast.Load())
    )
    loop = ast.For(
        target=ast.Name(id=attempts_name, ctx=ast.Store()),
        iter=ast.Call(func=ast.Name(id="range", ctx=ast.Load()), args=[ast.Constant(retries + 1)], keywords=[]),
        body=[ast.Try(
            body=[copied],
            handlers=[ast.ExceptHandler(type=handler_type, name=error_name, body=[
                ast.If(test=ast.Compare(left=ast.Name(id=attempts_name, ctx=ast.Load()), ops=[ast.Eq()],
                                        comparators=[ast.Constant(retries)]),
                       body=[ast.Raise(exc=None, cause=None)], orelse=[]),
                sleep,
            ])],
            orelse=[ast.Break()],
            finalbody=[],
        )],
        orelse=[],
    )
    owner_list[index] = loop
    head, body = _split_docstring(function)
    function.body = head + [ast.Import(names=[ast.alias(name=module)])] + body
    growth_text = {
        "exponential": f"{backoff}s doubling each time",
        "linear": f"{backoff}s growing by {backoff}s each time",
    }[growth]
    yield Candidate(
        strategy="retry",
        code=_unparse(function),
        description=(
            f"Borrows the retry shape of {other.label}: `{snippet(statement, 50)}` (the call of `{callee}`) "
            f"is retried up to {retries} times on {ast.unparse(handler_type)}, waiting {growth_text}."
        ),
        reasoning=(
            f"{_purpose(other)} The {other.procedure.project} project treats this kind of injected I/O call "
            "as unreliable and retries it; the base gives up on the first failure. Violates the assumption "
            f"that `{callee}` either works or fails for good, and assumes repeating the call is harmless "
            "(idempotent)."
        ),
    )


# -- strategy helpers ---------------------------------------------------------------------------


@attrs.define
class _Param:
    name: str
    kind: str  # "positional_only", "positional", "keyword", "varargs", "kwargs"
    annotation: ast.expr | None
    required: bool


def _params(function: _Function) -> list[_Param]:
    args = function.args
    named = parameters(args)
    split = len(args.posonlyargs) + len(args.args)
    params = [
        _Param(arg.arg, "positional_only" if index < len(args.posonlyargs) else "positional", arg.annotation,
               default is None)
        for index, (arg, default) in enumerate(named[:split])
    ]
    if args.vararg:
        params.append(_Param(args.vararg.arg, "varargs", args.vararg.annotation, False))
    params += [_Param(arg.arg, "keyword", arg.annotation, default is None) for arg, default in named[split:]]
    if args.kwarg:
        params.append(_Param(args.kwarg.arg, "kwargs", args.kwarg.annotation, False))
    return params


def _map_params(base: list[_Param], other: list[_Param], *, partial: bool = False) -> dict[str, str] | None:
    """Related parameter -> base parameter, by name, then annotation, then position; None if a required
    related parameter cannot be fed (unless ``partial``)."""
    usable = [p for p in base if p.kind not in ("varargs", "kwargs") and p.name not in ("self", "cls")]
    mapping: dict[str, str] = {}
    taken: set[str] = set()
    wanted = [p for p in other if p.kind not in ("varargs", "kwargs") and p.name not in ("self", "cls")]
    for param in wanted:
        match = next((b for b in usable if b.name == param.name and b.name not in taken), None)
        if match is not None:
            mapping[param.name] = match.name
            taken.add(match.name)
    for param in wanted:
        if param.name in mapping:
            continue
        key = _annotation_key(param.annotation)
        if key is None:
            continue
        same = [b for b in usable if b.name not in taken and _annotation_key(b.annotation) == key]
        others_same = [o for o in wanted if o.name not in mapping and _annotation_key(o.annotation) == key]
        match = None
        if len(same) == 1 and len(others_same) == 1:
            match = same[0]
        else:
            rank = others_same.index(param)
            if rank < len(same):
                match = same[rank]
        if match is not None and (param.required or not partial):
            mapping[param.name] = match.name
            taken.add(match.name)
    if not partial:
        mapping = {r: b for r, b in mapping.items()
                   if next(p for p in other if p.name == r).required or r == b}
        if any(p.required and p.name not in mapping for p in wanted):
            return None
        if any(p.kind == "positional_only" and p.name not in mapping for p in wanted if p.required):
            return None
    return mapping


def _annotation_key(annotation: ast.expr | None) -> str | None:
    """A loose type key: the outer name of an annotation (``dict[str, Any]`` -> ``dict``)."""
    annotation = resolved_annotation(annotation)
    if annotation is None:
        return None
    if isinstance(annotation, ast.Subscript):
        annotation = annotation.value
    text = ast.unparse(annotation).split(".")[-1]
    return {"Dict": "dict", "List": "list", "Tuple": "tuple", "Set": "set"}.get(text, text)


def _returns_fit(base: ast.expr | None, other: ast.expr | None) -> bool:
    """Whether the related result can stand in for the base's: same outer type, both numbers, or unknown."""
    a, b = _annotation_key(base), _annotation_key(other)
    if a is None or b is None or "Any" in (a, b) or a == b:
        return True
    return a in _NUMBERS and b in _NUMBERS


def _call(name: str, params: list[_Param], mapping: dict[str, str]) -> ast.Call:
    args: list[ast.expr] = []
    keywords: list[ast.keyword] = []
    for param in params:
        if param.name not in mapping:
            continue
        value = ast.Name(id=mapping[param.name], ctx=ast.Load())
        if param.kind == "positional_only":
            args.append(value)
        else:
            keywords.append(ast.keyword(arg=param.name, value=value))
    return ast.Call(func=ast.Name(id=name, ctx=ast.Load()), args=args, keywords=keywords)


def _call_one(name: str, param: _Param, value: ast.expr) -> ast.Call:
    if param.kind == "positional_only" or param.kind == "positional":
        return ast.Call(func=ast.Name(id=name, ctx=ast.Load()), args=[value], keywords=[])
    return ast.Call(func=ast.Name(id=name, ctx=ast.Load()), args=[], keywords=[ast.keyword(arg=param.name, value=value)])


def _raised_builtins(function: _Function) -> list[str]:
    """Builtin exception classes the function raises itself, in source order; [] if any other kind."""
    found: list[str] = []
    for node in scope_nodes(function.body):
        if isinstance(node, ast.Raise) and node.exc is not None:
            name = _raised_name(node)
            if name not in _BUILTIN_EXCEPTIONS:
                return []
            if name not in found:
                found.append(name)
    return found


def _guards(function: _Function) -> Iterator[ast.If]:
    for node in scope_nodes(function.body):
        if _is_guard(node):
            yield node


def _is_guard(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and not node.orelse and len(node.body) == 1 \
        and isinstance(node.body[0], ast.Raise) and node.body[0].exc is not None


def _adapt(node: ast.AST, renames: dict[str, str], other: _Related, imports: list[ast.stmt]) -> Any:
    """A copy of a guard part with related parameters renamed to the base's, literals pasted for module
    constants and stdlib modules imported; None when it reads anything else of the related procedure."""
    params = {p.name for p in other.params}
    adapted = copy_tree(node)
    needed: list[ast.stmt] = []
    for child in list(ast.walk(adapted)):
        for field, value in ast.iter_fields(child):
            if isinstance(value, ast.Name) and isinstance(value.ctx, ast.Load):
                replacement = _adapt_name(value, renames, params, other, needed)
                if replacement is None:
                    return None
                setattr(child, field, replacement)
            elif isinstance(value, list):
                for index, item in enumerate(value):
                    if isinstance(item, ast.Name) and isinstance(item.ctx, ast.Load):
                        replacement = _adapt_name(item, renames, params, other, needed)
                        if replacement is None:
                            return None
                        value[index] = replacement
    if isinstance(adapted, ast.Name):
        adapted = _adapt_name(adapted, renames, params, other, needed)
        if adapted is None:
            return None
    if any(isinstance(n, ast.Name) and n.id in ("self", "cls") for n in ast.walk(adapted)):
        return None
    for child in ast.walk(adapted):  # messages name the parameters too: "customer_id is required"
        if isinstance(child, ast.Constant) and isinstance(child.value, str):
            for old, new in renames.items():
                child.value = re.sub(rf"(?<![A-Za-z0-9_]){re.escape(old)}(?![A-Za-z0-9_])", new, child.value)
    if any(isinstance(n, ast.NamedExpr | ast.Await | ast.Yield | ast.YieldFrom | ast.Lambda) for n in ast.walk(adapted)):
        return None
    imports.extend(needed)
    return adapted


def _adapt_name(name: ast.Name, renames: dict[str, str], params: set[str], other: _Related,
                needed: list[ast.stmt]) -> ast.expr | None:
    if name.id in renames:
        return ast.Name(id=renames[name.id], ctx=ast.Load())
    if name.id in params:
        return None  # a related parameter the base has no counterpart for
    if name.id in _BUILTINS:
        return name
    literal = other.literal(name.id)
    if literal is not None:
        return literal
    statement = other.imports.get(name.id)
    if statement is not None and isinstance(statement, ast.Import) and _import_ok(statement):
        needed.append(copy_tree(statement))
        return name
    return None


def _retry_shape(other: _Related) -> tuple[int, float, str, list[str]] | None:
    """(retries, backoff seconds, "exponential"|"linear", caught builtin exceptions) of a retry loop."""
    function = other.function
    loops = [n for n in scope_nodes(function.body) if isinstance(n, ast.For | ast.While)]
    for loop in loops:
        tries = [n for n in ast.walk(loop) if isinstance(n, ast.Try) and n.handlers]
        sleeps = [n for n in ast.walk(loop) if isinstance(n, ast.Call) and _dotted(n.func).split(".")[-1] == "sleep"]
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
        defaults = _defaults(function)
        retries = next((defaults[n] for n in ("retries", "max_retries", "attempts", "max_attempts", "tries")
                        if isinstance(defaults.get(n), int) and not isinstance(defaults.get(n), bool)), None)
        if retries is None:  # for attempt in range(3): three attempts, two retries
            count = _literal(loop.iter.args[0]) if isinstance(loop, ast.For) and isinstance(loop.iter, ast.Call) \
                and _dotted(loop.iter.func) == "range" and len(loop.iter.args) == 1 else None
            retries = count - 1 if isinstance(count, int) and not isinstance(count, bool) and count > 1 else 3
        backoff = next((defaults[n] for n in ("backoff", "delay", "base_delay", "backoff_factor", "wait")
                        if isinstance(defaults.get(n), int | float) and not isinstance(defaults.get(n), bool)), None)
        if backoff is None:  # time.sleep(0.1 * 2 ** attempt): the first factor is the base delay
            argument = sleeps[0].args[0] if sleeps[0].args else None
            while isinstance(argument, ast.BinOp):
                argument = argument.left
            backoff = _literal(argument) if isinstance(argument, ast.Constant) else None
            if not isinstance(backoff, int | float) or isinstance(backoff, bool):
                backoff = 0.5
        growth = "exponential" if _grows_exponentially(other, loop) else "linear"
        retries = max(1, min(int(retries), 10))
        backoff = float(min(max(backoff, 0.0), 60.0))
        return retries, backoff, growth, caught
    return None


def _retry_shape_of(function: _Function) -> bool:
    """Whether the function already retries (a loop with a try and a sleep)."""
    for loop in (n for n in scope_nodes(function.body) if isinstance(n, ast.For | ast.While | ast.AsyncFor)):
        if any(isinstance(n, ast.Try) for n in ast.walk(loop)) and any(
            isinstance(n, ast.Call) and _dotted(n.func).split(".")[-1] == "sleep" for n in ast.walk(loop)
        ):
            return True
    return False


def _grows_exponentially(other: _Related, loop: ast.AST) -> bool:
    nodes = list(ast.walk(other.function))
    called = {_dotted(n.func) for n in nodes if isinstance(n, ast.Call)}
    if other.module is not None:  # helpers the loop calls, e.g. a backoff schedule
        for node in other.module.body:
            if isinstance(node, _Function) and node.name in called:
                nodes.extend(ast.walk(node))
    for node in nodes:
        if isinstance(node, ast.AugAssign) and isinstance(node.op, ast.Mult):
            return True
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
            return True
    return False


def _delay(growth: str, backoff: float, attempt: str) -> ast.expr:
    counter = ast.Name(id=attempt, ctx=ast.Load())
    if growth == "exponential":
        grown = ast.BinOp(left=ast.Constant(backoff), op=ast.Mult(),
                          right=ast.BinOp(left=ast.Constant(2), op=ast.Pow(), right=counter))
    else:
        grown = ast.BinOp(left=ast.Constant(backoff), op=ast.Mult(),
                          right=ast.BinOp(left=counter, op=ast.Add(), right=ast.Constant(1)))
    return ast.Call(func=ast.Name(id="min", ctx=ast.Load()), args=[grown, ast.Constant(30.0)], keywords=[])


_DATA_TYPES = frozenset({"str", "bytes", "int", "float", "bool", "complex", "list", "dict", "tuple", "set",
                         "frozenset", "Sequence", "Mapping", "Iterable", "Iterator", "Decimal", "Fraction"})


def _io_statement(base: _Base) -> tuple[ast.stmt, str] | None:
    """The first simple statement of the base's own scope that calls an injected collaborator: a callable
    parameter (``fetch(url)``) or a method of a parameter that is not plain data (``client.get(url)``)."""
    callables = {p.name for p in base.params if p.name not in ("self", "cls")}
    objects = {p.name for p in base.params if p.name not in ("self", "cls")
               and _annotation_key(p.annotation) not in _DATA_TYPES}
    for node in scope_nodes(base.function.body):
        if not isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign | ast.Expr | ast.Return):
            continue
        if any(isinstance(n, ast.Yield | ast.YieldFrom) for n in ast.walk(node)):
            continue
        if isinstance(node, ast.Return) and base.is_generator:
            continue
        for call in (n for n in ast.walk(node) if isinstance(n, ast.Call)):
            func = call.func
            if isinstance(func, ast.Name) and func.id in callables and _io_words(func.id):
                return node, func.id
            if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id in objects \
                    and func.attr not in PURE_METHODS and not func.attr.startswith("_") \
                    and _io_words(f"{func.value.id}_{func.attr}"):
                return node, f"{func.value.id}.{func.attr}"
    return None


_IO_WORDS = frozenset({
    "fetch", "get", "load", "read", "write", "send", "recv", "receive", "request", "call", "charge", "pay", "post",
    "put", "delete", "download", "upload", "query", "client", "session", "conn", "connection", "transport", "http",
    "api", "probe", "sink", "source", "reader", "writer", "stream", "socket", "remote", "service", "server",
    "backend", "store", "publish", "poll", "submit",
})


def _io_words(name: str) -> bool:
    """Whether a callee's name sounds like I/O (``fetch_page``, ``client.get_orders``), not a hook or key."""
    return any(word in _IO_WORDS for word in name.lower().split("_"))


def _same_node(copy_root: ast.AST, original_root: ast.AST, node: ast.AST) -> Any:
    """The node of a deep copy at the same walk position as ``node`` in the original."""
    for original, copied in zip(ast.walk(original_root), ast.walk(copy_root)):
        if original is node:
            return copied
    raise ValueError("node not found")


def _has_value_returns(function: _Function) -> bool:
    return any(isinstance(n, ast.Return) and n.value is not None and not is_none(n.value)
               for n in scope_nodes(function.body))


_GENERIC_WORDS = frozenset({
    "get", "set", "put", "make", "do", "run", "with", "for", "new", "from", "into", "value", "values", "data",
    "item", "items", "info", "the", "and", "can", "has",
})
_NORMALISERS = frozenset({"normalize", "normalise", "clean", "sanitize", "sanitise", "canonical", "canonicalize",
                          "strip", "round", "clamp", "trim"})


def _name_words(name: str) -> set[str]:
    words = set()
    for word in name.replace("-", "_").split("_"):
        word = word.lower()
        if len(word) < 3 or word in _GENERIC_WORDS:
            continue
        words.add(word[:-1] if word.endswith("s") and len(word) > 3 else word)
    return words


def _same_job(a: str, b: str) -> bool:
    """Whether two function names share a meaningful word (parse_amount / parse_coordinate)."""
    return bool(_name_words(a) & _name_words(b))


def _is_normaliser(name: str) -> bool:
    first = name.lstrip("_").split("_")[0].lower()
    return first in _NORMALISERS


def _emptiness_check(node: ast.expr) -> bool:
    """``not x``, ``x is None``, ``not x.strip()``, ``len(x) == 0``: meaningful for any parameter of the same type,
    unlike a limit such as ``status > 599`` or ``rate <= 0`` whose sense depends on what the parameter means."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        inner = node.operand
        if isinstance(inner, ast.Call) and isinstance(inner.func, ast.Attribute) and not inner.args:
            inner = inner.func.value  # not x.strip()
        return isinstance(inner, ast.Name)
    if isinstance(node, ast.Compare) and len(node.ops) == 1:
        left, op, right = node.left, node.ops[0], node.comparators[0]
        if isinstance(op, ast.Is | ast.IsNot) and isinstance(right, ast.Constant) and right.value is None:
            return isinstance(left, ast.Name)
        if isinstance(left, ast.Call) and _dotted(left.func) == "len" and isinstance(right, ast.Constant):
            return right.value in (0, 1) and isinstance(op, ast.Eq | ast.Lt | ast.LtE)
    return False


def _purpose(other: _Related) -> str:
    """``label: "docstring summary"`` — what the related procedure is for, in its own words."""
    doc = ast.get_docstring(other.function) or other.procedure.docstring or ""
    summary = " ".join(doc.strip().split("\n\n")[0].split())
    if len(summary) > 140:
        summary = summary[:137] + "..."
    if not summary:
        return f"{other.label} does the same kind of work in the {other.procedure.project} project."
    return f"{other.label}: \"{summary.rstrip('.')}.\""


def _describe_types(base: ast.expr | None, other: ast.expr | None) -> str:
    if base is None and other is None:
        return "a result"
    if base is None or other is None or ast.unparse(base) == ast.unparse(other):
        return f"`{ast.unparse(base if base is not None else other)}` too"
    return f"`{ast.unparse(other)}` where the base returns `{ast.unparse(base)}`"


def _describe_inputs(mapping: dict[str, str]) -> str:
    names = sorted(set(mapping.values()))
    return "`" + "`, `".join(names) + "`" if names else "no arguments"


def _unparse_annotation(annotation: ast.expr | None) -> str:
    return ast.unparse(annotation) if annotation is not None else "value"


def _defaults(function: _Function) -> dict[str, Any]:
    return {arg.arg: _literal(default) for arg, default in parameters(function.args) if default is not None}


def _literal(node: ast.expr) -> Any:
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None


# -- inlining helpers ---------------------------------------------------------------------------


@lru_cache(maxsize=512)
def _load_related(project: str, module: str, qualname: str, source: str, docstring: str | None,
                  imports: tuple[str, ...], path: str, modified: int | None) -> _Related | None:
    """``_Related.load`` of a procedure given by the fields it depends on, its module file's modification
    time included (so an edited module is read again)."""
    procedure = Procedure(project=project, module=module, qualname=qualname, source=source, docstring=docstring,
                          imports=list(imports), file_path=path or None)
    function = _parse(textwrap.dedent(source), procedure.name)
    if function is None:
        return None
    return _Related(procedure, function, _parse_module(path, modified) if modified is not None else None)


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


def _import_table(procedure: Procedure, module: ast.Module | None) -> dict[str, ast.stmt]:
    """Bound name -> a one-name import statement, from the procedure's imports and its module's."""
    table: dict[str, ast.stmt] = {}
    statements: list[ast.stmt] = []
    for text in procedure.imports:
        try:
            statements.extend(ast.parse(text).body)
        except SyntaxError:
            continue
    if module is not None:
        statements.extend(n for n in module.body if isinstance(n, ast.Import | ast.ImportFrom))
    for statement in statements:
        if isinstance(statement, ast.Import):
            for alias in statement.names:
                table.setdefault(alias.asname or alias.name.partition(".")[0], ast.Import(names=[alias]))
        elif isinstance(statement, ast.ImportFrom) and statement.module != "__future__":
            for alias in statement.names:
                if alias.name != "*":
                    table.setdefault(alias.asname or alias.name,
                                     ast.ImportFrom(module=statement.module, names=[alias], level=statement.level))
    return table


def _import_ok(statement: ast.stmt) -> bool:
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
    return _passes_gate(f"def _probe():\n    {ast.unparse(statement)}\n")


def _free_names(node: ast.AST) -> set[str]:
    """Names read in ``node`` that it neither binds itself nor gets from builtins."""
    bound: set[str] = set()
    for child in ast.walk(node):
        if isinstance(child, ast.Name) and isinstance(child.ctx, ast.Store | ast.Del):
            bound.add(child.id)
        elif isinstance(child, ast.arg):
            bound.add(child.arg)
        elif isinstance(child, _Function | ast.ClassDef) or (isinstance(child, ast.ExceptHandler) and child.name):
            bound.add(child.name)
        elif isinstance(child, ast.Import | ast.ImportFrom):
            bound |= {(a.asname or a.name).partition(".")[0] for a in child.names}
        elif isinstance(child, ast.MatchAs | ast.MatchStar) and child.name:
            bound.add(child.name)
    reads = {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    if isinstance(node, _Function):
        reads -= {node.name}
    return reads - bound - _BUILTINS


def _strip_annotations(function: ast.AST) -> None:
    """Parameter and return annotations are evaluated when a nested def runs: drop them all."""
    for node in ast.walk(function):
        if isinstance(node, ast.arg):
            node.annotation = None
        elif isinstance(node, _Function):
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


def _substitute_defaults(function: _Function, other: _Related) -> bool:
    """Defaults are evaluated where the helper is defined: module constants must become literals."""
    args = function.args
    for defaults in (args.defaults, args.kw_defaults):
        for index, default in enumerate(defaults):
            if default is None:
                continue
            for name in sorted(_free_names(default)):
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


# -- small AST helpers ------------------------------------------------------------------------


def _parse(source: str, name: str) -> _Function | None:
    try:
        return parse_function(source, name)
    except (ValueError, RecursionError):
        return None


def _with_body(function: _Function, body: list[ast.stmt]) -> _Function:
    """A copy of ``function`` with another body; everything else, and the statements reused in ``body``, is
    shared with the original, so the new body may arrange them but not change them."""
    copied = copy.copy(function)
    copied.body = body
    return copied


def _split_docstring(function: _Function) -> tuple[list[ast.stmt], list[ast.stmt]]:
    """(the docstring statement or nothing, the rest of the body as a new list)."""
    body = docstring_free(function.body)
    return function.body[: len(function.body) - len(body)], list(body)


def _raised_name(statement: ast.Raise) -> str:
    exc = statement.exc.func if isinstance(statement.exc, ast.Call) else statement.exc
    return ast.unparse(exc) if exc is not None else ""


def _dotted(node: ast.expr) -> str:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Call):
        return _dotted(node.func)
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return ""


def _identifier(text: str) -> str:
    cleaned = "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in text).strip("_")
    return cleaned or "other"


def _unparse(function: _Function) -> str:
    ast.fix_missing_locations(function)
    return ast.unparse(function) + "\n"


def _passes_gate(code: str) -> bool:
    """Whether the default safety policy accepts the code (the run's own policy decides later)."""
    return check_code(code, SafetyPolicy()).ok


@hookimpl
def register_generators(register) -> None:
    register(CrossProject)
