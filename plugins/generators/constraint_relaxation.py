"""Generator ``constraint_relaxation``: variants that each break exactly one assumption of the base.

A procedure silently assumes things: that its steps run in the written order, one call at a time;
that a failure must propagate; that bad input must be rejected; that it has to wait between
attempts; that every item of a loop must be visited; that its logging matters. Each dream drops one
such assumption and says which, so the judge and the differential tests can find out whether it was
load-bearing.

Local mode (the default) works on the AST: the procedure's dedented source is parsed, a copy
of the function is transformed and unparsed. It is offline and deterministic: every candidate is
computed in a fixed order and ``context.rng`` alone picks which of them become drafts. The kinds:

``reorder``
    swap two adjacent top-level steps the dependency analysis marks as reorderable.
``concurrency``
    in an ``async def``, await independent calls together with ``asyncio.gather`` (adjacent awaited
    statements the analysis puts in one parallel group, or a loop awaiting one call per item). Plain
    functions are left alone: the safety gate refuses ``threading`` and ``concurrent``.
``lenient_error``
    an ``except`` that re-raises continues with the next item or returns a default instead.
``relax_validation``
    an ``if ...: raise`` guard is dropped, its bound widened (``<=`` becomes ``<`` ...), the value
    clamped to the bound, or (in a loop) the offending item skipped.
``no_wait``
    sleeps are removed, or timeouts lifted (``asyncio.wait_for`` unwrapped, ``timeout=None``).
``short_circuit``
    return early when a cheap condition already decides the result, or leave a loop once the answer
    is known.
``drop_side_effect``
    logging, printing and statistics counters are removed.

LLM mode (``mode = "llm"``, or ``"both"`` beside the local drafts) asks the configured model chain
for variants with the prompt template ``prompts/constraint_relaxation.txt``, fed with the procedure's
source and its dependency analysis (steps, reorderable pairs, independent groups, side effects).
"""

from __future__ import annotations

import ast
import copy
import itertools
import logging
import re
from collections.abc import Callable, Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

import attrs

from dreamcore import hookimpl
from dreamcore.analysis.dataflow import DependencyAnalysis, Step
from dreamcore.analysis.syntax import (
    copy_tree,
    docstring_free,
    is_generator,
    is_none,
    parse_function,
    read_names,
    resolved_annotation,
    scope_nodes,
)
from dreamcore.generation.drafts import DreamDraft, GenerationContext, new_code, round_robin
from dreamcore.generation.llm_drafts import bullets, fenced, mode_drafts
from dreamcore.llm.hub import LLMOptions, route_default

KINDS = (
    "reorder",
    "concurrency",
    "lenient_error",
    "relax_validation",
    "no_wait",
    "short_circuit",
    "drop_side_effect",
)

_Function = ast.FunctionDef | ast.AsyncFunctionDef
_Scope = ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef
_Loop = ast.For | ast.AsyncFor | ast.While
_STATEMENT_FIELDS = ("body", "orelse", "finalbody")
_SLEEPS = {"sleep"}
_LOG_METHODS = {"debug", "info", "warning", "warn", "error", "exception", "critical", "log"}
_LOGGER_NAMES = re.compile(r"(^|_)(log|logger|logging|_log|_logger)$")
_COUNTERS = re.compile(
    r"(^|_)(hits|misses|count|counter|calls|requests|errors|failures|stats|reads|writes|sent|received)$"
)
_FLIP_POSITIVE = {ast.LtE: ast.Lt, ast.GtE: ast.Gt}  # guard rejects x <= b: now only x < b
_FLIP_NEGATIVE = {ast.Lt: ast.LtE, ast.Gt: ast.GtE}  # guard rejects not (x < b): now not (x <= b)
_SHORT = 70
_log = logging.getLogger(__name__)
_COMPOUND_WITHOUT_HEADER = (ast.With, ast.AsyncWith, ast.Try, getattr(ast, "TryStar", ast.Try), ast.Match,
                            ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
_VALIDATION_ERRORS = frozenset(
    {"ValueError", "TypeError", "KeyError", "IndexError", "OverflowError", "AssertionError"}
)


def _validate_kinds(instance: Any, attribute: attrs.Attribute, value: list[str]) -> None:
    unknown = sorted(set(value) - set(KINDS))
    if unknown:
        raise ValueError(f"unknown relaxation kinds {unknown} (known: {', '.join(KINDS)})")


@attrs.define(kw_only=True)
class Candidate:
    """One finished variant before selection: the new function and what it gives up."""

    kind: str
    code: str
    description: str
    reasoning: str


class ConstraintRelaxation:
    """Dreams that each violate one assumption of the base procedure."""

    name = "constraint_relaxation"
    dream_type = "constraint_relaxation"
    prompt_file = Path(__file__).parent / "prompts" / "constraint_relaxation.txt"
    prompt_fields = ("function", "source", "analysis", "kinds", "hints", "count")

    @attrs.define(kw_only=True)
    class Config(LLMOptions):
        """``[plugins.constraint_relaxation]``: which relaxation kinds may be proposed, and the LLM mode
        (off by default; the seed's route: a DeepSeek chat model, a Mistral fallback, temperature 0.8)."""

        models: list[str] = route_default("models", ["deepseek/deepseek-chat-v3.1", "mistralai/devstral-2512"])
        temperature: float = route_default("temperature", 0.8)
        max_tokens: int = route_default("max_tokens", 2000)
        variants_per_call: int = route_default("variants_per_call", 5)

        kinds: list[str] = attrs.field(
            factory=lambda: list(KINDS),
            validator=_validate_kinds,
            metadata={"help": "relaxations to try: " + ", ".join(KINDS)},
        )

    def __init__(self, config: Config | None = None) -> None:
        self.config = config if config is not None else self.Config()

    async def generate(self, procedure, context: GenerationContext) -> list[DreamDraft]:
        """At most ``context.variants`` drafts, each relaxing a different assumption."""
        if context.variants <= 0:
            return []
        return await mode_drafts(context, lambda: self._local_drafts(context), lambda: self._prompt_values(context))

    def _prompt_values(self, context: GenerationContext) -> dict[str, str]:
        """What the prompt template is filled with; the procedure's code only inside fences."""
        return {
            "function": context.procedure.name,
            "source": fenced(context.source),
            "analysis": fenced(_analysis_text(context.analysis), "text"),
            "kinds": ", ".join(self.config.kinds),
            "hints": bullets(context.hints),
        }

    # -- local mode ------------------------------------------------------------------------

    def _local_drafts(self, context: GenerationContext) -> list[DreamDraft]:
        """Drafts from AST transforms, chosen among all candidates with ``context.rng``."""
        try:
            function = parse_function(context.source, context.procedure.name)
        except (ValueError, RecursionError):
            return []
        _number_nodes(function)
        avoided = _avoided(context.hints)
        kinds = [kind for kind in self.config.kinds if kind not in avoided]
        candidates = _candidates(function, context, kinds)
        chosen = _choose(candidates, kinds, context)
        return [
            DreamDraft(code=c.code, description=c.description, reasoning=c.reasoning, model_used="local")
            for c in chosen
        ]


def _analysis_text(analysis: DependencyAnalysis) -> str:
    """The dependency analysis as lines a model can read (step numbers count from 1)."""
    lines = [
        f"parameters: {', '.join(analysis.params) or 'none'}",
        f"async: {analysis.is_async}; generator: {analysis.is_generator}; loops: {analysis.loops}; "
        f"conditionals: {analysis.conditionals}",
        f"calls: {', '.join(analysis.calls) or 'none'}",
        f"side effects: {', '.join(analysis.side_effects) or 'none'}",
        "steps:",
    ]
    for step in analysis.steps:
        effect = "; side effect" if step.side_effect else ""
        lines.append(f"  {step.index + 1}. [{step.kind}] {step.text}  (reads: {', '.join(sorted(step.reads)) or '-'}; "
                     f"writes: {', '.join(sorted(step.writes)) or '-'}{effect})")
    pairs = ", ".join(f"{a + 1}<->{b + 1}" for a, b in analysis.reorderable)
    groups = ", ".join("(" + ", ".join(str(i + 1) for i in group) + ")" for group in analysis.parallel_groups)
    lines.append(f"reorderable step pairs: {pairs or 'none'}")
    lines.append(f"independent step groups (could run concurrently): {groups or 'none'}")
    return "\n".join(lines)


# -- choosing ----------------------------------------------------------------------------------


def _avoided(hints) -> set[str]:
    """Relaxation kinds named in ``avoid: ...`` adaptation hints."""
    avoided: set[str] = set()
    for hint in hints:
        text = str(hint).lower()
        if text.startswith("avoid:"):
            avoided |= {kind for kind in KINDS if kind in text or kind.replace("_", " ") in text}
    return avoided


def _choose(candidates: list[Candidate], kinds: list[str], context: GenerationContext) -> list[Candidate]:
    """Round-robin over the kinds (in an rng order), each kind's candidates in an rng order."""
    by_kind: dict[str, list[Candidate]] = {kind: [] for kind in kinds}
    seen: set[str] = set()
    for candidate in candidates:
        if new_code(candidate.code, seen):
            by_kind[candidate.kind].append(candidate)
    order = [kind for kind in kinds if by_kind[kind]]
    context.rng.shuffle(order)
    for kind in order:
        context.rng.shuffle(by_kind[kind])
    return round_robin([by_kind[kind] for kind in order], context.variants)


# -- candidates ------------------------------------------------------------------------------


def _candidates(function: _Function, context: GenerationContext, kinds: list[str]) -> list[Candidate]:
    makers: dict[str, Callable[[_Function, GenerationContext], Iterator[Candidate]]] = {
        "reorder": _reorder,
        "concurrency": _concurrency,
        "lenient_error": _lenient_error,
        "relax_validation": _relax_validation,
        "no_wait": _no_wait,
        "short_circuit": _short_circuit,
        "drop_side_effect": _drop_side_effects,
    }
    found: list[Candidate] = []
    for kind in kinds:
        try:
            found.extend(makers[kind](function, context))
        except (ValueError, TypeError, AttributeError, RecursionError, IndexError, KeyError):
            # one transform that cannot cope with an odd shape must not cost the others
            _log.debug("relaxation %r failed on %s", kind, context.procedure.qualname, exc_info=True)
    return found


# reorder -------------------------------------------------------------------------------------


def _reorder(function: _Function, context: GenerationContext) -> Iterator[Candidate]:
    """Swap two adjacent top-level steps that the dependency analysis marks as reorderable."""
    body = docstring_free(function.body)
    if all(_is_terminal(a) or _is_terminal(b) for a, b in itertools.pairwise(body)):
        return  # no pair could be swapped whatever the analysis says: spare it
    offset = len(function.body) - len(body)
    analysis = context.analysis
    steps = list(analysis.steps)
    for first, second in analysis.reorderable:
        if second != first + 1 or second >= len(body):
            continue
        a, b = body[first], body[second]
        if _is_terminal(a) or _is_terminal(b):
            continue

        yield Candidate(
            kind="reorder",
            code=_swapped(function, first + offset, second + offset),
            description=(
                f"Runs step {second + 1} `{_short(b, 50)}` before step {first + 1} `{_short(a, 50)}` "
                f"(the two are swapped; nothing else changes)."
            ),
            reasoning=_reorder_reasoning(a, b, steps[first], steps[second]),
        )


def _swapped(function: _Function, i: int, j: int) -> str:
    """Unparsed source of the function with statements ``i`` and ``j`` of its body swapped: only the body
    list changes, so the statements are shared with the original rather than copied."""
    swapped = copy.copy(function)
    swapped.body = list(function.body)
    swapped.body[i], swapped.body[j] = swapped.body[j], swapped.body[i]
    return ast.unparse(swapped) + "\n"


def _reorder_reasoning(a: ast.stmt, b: ast.stmt, step_a: Step, step_b: Step) -> str:
    facts = (
        f"Step {step_b.index + 1} does not read {_names_text(sorted(step_a.writes)) or 'anything'} written by the "
        f"step before it, nor does that step read {_names_text(sorted(step_b.writes)) or 'anything'}"
    )
    effects = [s for s in (step_a, step_b) if s.side_effect]
    if effects:
        calls = ", ".join(f"`{c}()`" for c in effects[0].calls[:3])
        risk = (f"one of them has a side effect ({calls}), so this assumes nothing observes the order of that "
                f"effect relative to the other step")
    elif any(isinstance(n, ast.Call | ast.Subscript | ast.BinOp) for n in (*ast.walk(a), *ast.walk(b))):
        risk = ("if both can fail, the error that surfaces first changes, so this assumes callers do not depend "
                "on which error they see")
    else:
        risk = "this should be behaviour-neutral unless a hidden dependency exists the analysis cannot see"
    return (
        f"Violates the assumption that the written order of these steps matters. {facts}; {risk}. Moving the "
        f"later step first lets a cheaper or likelier-to-fail step go first and is the precondition for "
        f"overlapping the two."
    )


def _is_terminal(statement: ast.stmt) -> bool:
    """Statements whose position is their meaning: returns, raises, yields-only lines, jumps."""
    if isinstance(statement, ast.Return | ast.Raise | ast.Break | ast.Continue | ast.Global | ast.Nonlocal):
        return True
    return isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant)


# concurrency ---------------------------------------------------------------------------------


def _concurrency(function: _Function, context: GenerationContext) -> Iterator[Candidate]:
    """Async functions only: the default safety gate refuses ``threading`` and ``concurrent`` (threads
    outlive the call the sandbox times), so a plain function has no sanctioned way to overlap calls."""
    if isinstance(function, ast.AsyncFunctionDef):
        groups = _analysis_groups(function, context)
        yield from _gather_adjacent(function, groups)
        yield from _gather_loop(function)


def _analysis_groups(function: _Function, context: GenerationContext) -> list[tuple[int, int]]:
    """(start, end) in ``function.body`` of the analysis's parallel groups of top-level steps."""
    offset = len(function.body) - len(docstring_free(function.body))
    found = []
    for group in context.analysis.parallel_groups:
        indexes = sorted(group)
        if len(indexes) >= 2 and indexes == list(range(indexes[0], indexes[-1] + 1)):
            found.append((indexes[0] + offset, indexes[-1] + 1 + offset))
    return found


def _runs(
    function: _Function, groups: list[tuple[int, int]], pick: Callable[[ast.stmt], ast.Call | None]
) -> Iterator[tuple[ast.AST, str, list[ast.stmt], int, int]]:
    """Runs of >= 2 adjacent independent picked statements: in the body, inside the analysis's parallel
    groups; in nested blocks (which the analysis does not split into steps), by a stricter own check
    that also treats every method call as changing its receiver."""
    for owner, field, statements in _statement_lists(function):
        if owner is function:
            for start, end in groups:
                for sub_start, sub_end in _independent_runs(statements[start:end], pick, trusted=True):
                    yield owner, field, statements, start + sub_start, start + sub_end
        else:
            for start, end in _independent_runs(statements, pick):
                yield owner, field, statements, start, end


def _awaited_call(statement: ast.stmt) -> ast.Call | None:
    """The call of ``x = await f(...)`` / ``await f(...)`` (not a sleep), else None."""
    if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
        value, target = statement.value, statement.targets[0]
        if not isinstance(target, ast.Name | ast.Tuple):
            return None
    elif isinstance(statement, ast.Expr) or (
        isinstance(statement, ast.AnnAssign) and statement.value is not None and isinstance(statement.target, ast.Name)
    ):
        value = statement.value
    else:
        return None
    if isinstance(value, ast.Await) and isinstance(value.value, ast.Call) and not _is_sleep(value.value):
        return value.value
    return None


def _independent_runs(
    statements: list[ast.stmt], pick: Callable[[ast.stmt], ast.Call | None], *, trusted: bool = False
) -> Iterator[tuple[int, int]]:
    """(start, end) of maximal runs of >= 2 adjacent picked statements that are pairwise independent
    (``trusted``: the dependency analysis already established that; only the picking is left)."""
    start = 0
    while start < len(statements):
        if pick(statements[start]) is None:
            start += 1
            continue
        end = start + 1
        while end < len(statements) and pick(statements[end]) is not None and (trusted or all(
            _independent(statements[k], statements[end]) for k in range(start, end)
        )):
            end += 1
        if end - start >= 2:
            yield start, end
        start = end


def _gather_adjacent(function: ast.AsyncFunctionDef, groups: list[tuple[int, int]]) -> Iterator[Candidate]:
    for owner, field, statements, start, end in _runs(function, groups, _awaited_call):
        run = statements[start:end]
        if _uses_name(function, "_"):
            continue

        def edit(copy_fn: _Function, owner=owner, field=field, start=start, end=end) -> None:
            target_list = _same_list(copy_fn, owner, field)
            group = target_list[start:end]
            calls = [_awaited_call(s) for s in group]
            targets = [_assign_target(s) for s in group]
            gather = ast.Await(
                value=ast.Call(
                    func=ast.Attribute(value=ast.Name(id="asyncio", ctx=ast.Load()), attr="gather", ctx=ast.Load()),
                    args=calls,
                    keywords=[],
                )
            )
            if all(t is None for t in targets):
                replacement: ast.stmt = ast.Expr(value=gather)
            else:
                elts = [t if t is not None else ast.Name(id="_", ctx=ast.Store()) for t in targets]
                replacement = ast.Assign(targets=[ast.Tuple(elts=elts, ctx=ast.Store())], value=gather)
            target_list[start:end] = [replacement]
            _ensure_import(copy_fn, "asyncio")

        code = _transformed(function, edit)
        names = ", ".join(f"`{_call_name(_awaited_call(s))}()`" for s in run)
        yield Candidate(
            kind="concurrency",
            code=code,
            description=(
                f"Awaits {names} together with `asyncio.gather(...)` instead of one after another "
                f"(lines `{_short(run[0])}` .. `{_short(run[-1])}`)."
            ),
            reasoning=(
                "Violates the assumption that these awaited calls must run sequentially. None of them reads "
                "a name another assigns, so they can overlap and the wall time becomes the slowest call "
                "instead of the sum — if the callees do not depend on each other's side effects or ordering, "
                "and if an early failure no longer preventing the later calls is acceptable."
            ),
        )


def _gather_loop(function: ast.AsyncFunctionDef) -> Iterator[Candidate]:
    """``for x in xs: acc.append(await f(x))`` -> ``acc.extend(await asyncio.gather(*(f(x) for x in xs)))``."""
    for owner, field, statements in _statement_lists(function):
        for index, loop in enumerate(statements):
            if not isinstance(loop, ast.For) or loop.orelse or len(loop.body) != 1:
                continue
            inner = loop.body[0]
            appended = _append_of_await(inner)
            call = appended[1] if appended else _awaited_call(inner) if isinstance(inner, ast.Expr) else None
            if call is None:
                continue
            loop_names = _stored_names(loop.target)
            if loop_names & _read_names_after(function, loop):
                continue  # the loop variable is used after the loop: a comprehension would not bind it
            if any(isinstance(n, ast.Await) for n in ast.walk(call)) or any(
                isinstance(n, ast.Await) for n in ast.walk(loop.iter)
            ):
                continue

            def edit(copy_fn: _Function, owner=owner, field=field, index=index, appended=appended) -> None:
                target_list = _same_list(copy_fn, owner, field)
                copy_loop = target_list[index]
                copy_inner = copy_loop.body[0]
                copy_call = _append_of_await(copy_inner)[1] if appended else _awaited_call(copy_inner)
                generator = ast.GeneratorExp(
                    elt=copy_call,
                    generators=[ast.comprehension(target=copy_loop.target, iter=copy_loop.iter, ifs=[], is_async=0)],
                )
                gather = ast.Await(
                    value=ast.Call(
                        func=ast.Attribute(value=ast.Name(id="asyncio", ctx=ast.Load()), attr="gather", ctx=ast.Load()),
                        args=[ast.Starred(value=generator, ctx=ast.Load())],
                        keywords=[],
                    )
                )
                if appended:
                    receiver = _append_of_await(copy_inner)[0]
                    value: ast.expr = ast.Call(
                        func=ast.Attribute(value=receiver, attr="extend", ctx=ast.Load()), args=[gather], keywords=[]
                    )
                else:
                    value = gather
                target_list[index] = ast.Expr(value=value)
                _ensure_import(copy_fn, "asyncio")

            code = _transformed(function, edit)
            yield Candidate(
                kind="concurrency",
                code=code,
                description=(
                    f"Replaces the loop `{_short(loop)}` that awaits `{_call_name(call)}()` once per item "
                    "with a single `asyncio.gather` over all items (results kept in order)."
                ),
                reasoning=(
                    "Violates the assumption that the per-item awaits must happen one at a time. Each "
                    "iteration only depends on its own item, so all calls can be in flight together; this "
                    "assumes the callee tolerates concurrent use (no rate limit, no shared cursor) and that "
                    "a failure need not stop the remaining items from starting."
                ),
            )


def _append_of_await(statement: ast.stmt) -> tuple[ast.expr, ast.Call] | None:
    """(receiver, call) of ``receiver.append(await call(...))``."""
    if not isinstance(statement, ast.Expr) or not isinstance(statement.value, ast.Call):
        return None
    outer = statement.value
    if not isinstance(outer.func, ast.Attribute) or outer.func.attr != "append" or len(outer.args) != 1:
        return None
    argument = outer.args[0]
    if outer.keywords or not isinstance(argument, ast.Await) or not isinstance(argument.value, ast.Call):
        return None
    if _is_sleep(argument.value):
        return None
    return outer.func.value, argument.value


# lenient_error -------------------------------------------------------------------------------


def _lenient_error(function: _Function, context: GenerationContext) -> Iterator[Candidate]:
    """A ``raise`` inside an ``except`` handler becomes ``continue`` or ``return <default>``."""
    handlers = [n for n in _own_nodes(function) if isinstance(n, ast.ExceptHandler)]
    if not handlers:
        return
    default = _default_return(function)
    for handler in handlers:
        for raise_node in _handler_raises(handler):
            caught = ast.unparse(handler.type) if handler.type is not None else "Exception"
            in_loop = _enclosing_loop(function, handler) is not None
            sole = len(handler.body) == 1 and handler.body[0] is raise_node
            if in_loop and sole:
                replacement_text = "continue"

                def make(_: _Function) -> ast.stmt:
                    return ast.Continue()

                effect = "moves on to the next iteration of the loop"
            else:
                replacement_text = "return" if default is None else f"return {ast.unparse(default)}"

                def make(_: _Function, default=default) -> ast.stmt:
                    return ast.Return(value=copy_tree(default) if default is not None else None)

                effect = (
                    "ends the generator quietly" if is_generator(function) else
                    f"returns the neutral value `{ast.unparse(default) if default is not None else 'None'}`"
                )
            code = _transformed(function, _replace_statement(function, raise_node, make))
            what = "re-raise" if raise_node.exc is None else f"`{_short(raise_node)}`"
            yield Candidate(
                kind="lenient_error",
                code=code,
                description=(
                    f"In the `except {caught}` handler, replaces {what} with `{replacement_text}`: the "
                    f"failure is swallowed and the function {effect}."
                ),
                reasoning=(
                    f"Violates the assumption that a caught `{caught}` must reach the caller"
                    f"{'' if raise_node.exc is None else f' as `{_raised_name(raise_node)}`'}. Callers that "
                    "only need a best-effort answer get one instead of an exception, and a batch keeps "
                    "going; it assumes "
                    f"{'skipping this iteration' if replacement_text == 'continue' else f'`{replacement_text}`'} "
                    "is an acceptable answer, which hides the failure from the caller."
                ),
            )


def _handler_raises(handler: ast.ExceptHandler) -> Iterator[ast.Raise]:
    for node in _walk_scope(handler):
        if isinstance(node, ast.Raise):
            yield node


# relax_validation ----------------------------------------------------------------------------


def _guards(function: _Function) -> Iterator[ast.If]:
    """``if <condition>: raise ...`` statements of the function's own scope."""
    for node in _own_nodes(function):
        if isinstance(node, ast.If) and not node.orelse and len(node.body) == 1 and isinstance(node.body[0], ast.Raise):
            yield node


def _relax_validation(function: _Function, context: GenerationContext) -> Iterator[Candidate]:
    """Each guard (``if cond: raise``) outside ``except`` handlers: dropped, widened, clamped or skipped.

    A raise inside a handler decides whether a caught failure propagates; ``lenient_error`` deals with
    those, so they are not treated as input validation here."""
    guards = list(_guards(function))
    if not guards:
        return
    handled = {id(n) for h in _own_nodes(function) if isinstance(h, ast.ExceptHandler) for n in _walk_scope(h)}
    local = _local_names(function)
    for guard in guards:
        if id(guard) in handled:
            continue
        raised = _raised_name(guard.body[0])
        validation = raised in _VALIDATION_ERRORS
        kind = "validation" if validation else "error check"
        condition = _short(guard.test, 60)
        raising = "raise" if guard.body[0].exc is None else f"raise {raised}(...)"
        checked = sorted(read_names(guard.test) & local)
        use = _first_use(function, guard, set(checked))
        consequence = (
            f"such values now reach `{use}` unchecked" if use else "execution simply continues past it"
        )
        if validation:
            assumption = f"Violates the assumption that a call where `{condition}` holds must fail with {raised}"
        else:
            assumption = f"Violates the assumption that `{condition}` is fatal (it raised {raised})"

        def drop(_: _Function) -> list[ast.stmt]:
            return []

        yield Candidate(
            kind="relax_validation",
            code=_transformed(function, _replace_statement(function, guard, drop)),
            description=f"Removes the {kind} `if {condition}: {raising}`; {consequence}.",
            reasoning=(
                f"{assumption}. If the later computation copes with such values (or every caller already "
                "checks), the guard is redundant work and a source of spurious errors; if not, differential "
                "tests show the input where it was load-bearing."
            ),
        )
        widened = _widened(guard.test)
        if widened is not None:
            new_test, how, admitted = widened

            def widen(copy_fn: _Function, new_test=new_test, guard=guard) -> None:
                _find_copy(copy_fn, guard).test = copy_tree(new_test)

            yield Candidate(
                kind="relax_validation",
                code=_transformed(function, widen),
                description=(
                    f"Widens the {kind} `if {condition}: {raising}` to `if {_short(new_test, 60)}: ...` "
                    f"({how}), so {admitted} "
                    f"{'are' if admitted.startswith('values') or '==' not in admitted else 'is'} now "
                    "accepted."
                ),
                reasoning=(
                    f"Violates the assumption that the limit in `{condition}` sits exactly where it must. "
                    "Limits are often set one step stricter than the computation needs; this assumes these "
                    f"values still give a meaningful result downstream{f' (`{use}`)' if use else ''}."
                ),
            )
        clamp = _clamp(guard.test)
        if clamp is not None and validation:
            variable, bound = clamp

            def clamped(_: _Function, variable=variable, bound=bound) -> ast.stmt:
                return ast.Assign(targets=[ast.Name(id=variable, ctx=ast.Store())], value=copy_tree(bound))

            yield Candidate(
                kind="relax_validation",
                code=_transformed(function, _replace_statement(function, guard.body[0], clamped)),
                description=(
                    f"Clamps instead of rejecting: when `{condition}`, sets `{variable} = "
                    f"{ast.unparse(bound)}` and carries on instead of raising {raised}."
                ),
                reasoning=(
                    f"Violates the assumption that an out-of-range `{variable}` is an error. Saturating at "
                    f"the limit `{ast.unparse(bound)}` gives the caller a bounded result instead of an "
                    f"exception; it assumes the caller does not need to know `{variable}` was adjusted."
                ),
            )
        loop = _enclosing_loop(function, guard)
        if loop is not None and validation and not _retry_loop(loop):

            def skip(_: _Function) -> ast.stmt:
                return ast.Continue()

            target = _short(loop.target, 30) if isinstance(loop, ast.For | ast.AsyncFor) else "the current item"
            yield Candidate(
                kind="relax_validation",
                code=_transformed(function, _replace_statement(function, guard.body[0], skip)),
                description=(
                    f"Skips the offending item: inside `{_short(loop, 50)}`, `if {condition}` now "
                    f"`continue`s to the next {target} instead of raising {raised}."
                ),
                reasoning=(
                    f"Violates the assumption that one bad `{target}` invalidates the whole call. The other "
                    "items are still processed and returned; it assumes partial output beats none and that "
                    "the caller can live with silently missing items."
                ),
            )


def _local_names(function: _Function) -> set[str]:
    """Parameters and names the function's statements bind (not globals, modules or builtins)."""
    args = function.args
    params = {a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg) if a}
    bound = set().union(*(_stored_names(statement) for statement in function.body))
    return (params | bound) - {"self", "cls"}


def _first_use(function: _Function, after: ast.stmt, names: set[str]) -> str:
    """The first statement after ``after`` (in source order) that reads one of ``names``."""
    if not names:
        return ""
    end = getattr(after, "end_lineno", None) or after.lineno
    best: tuple[int, int, str] | None = None
    for node in _own_nodes(function):
        if not isinstance(node, ast.stmt) or node.lineno <= end:
            continue
        if isinstance(node, ast.If | ast.While):
            header: ast.AST = node.test
        elif isinstance(node, ast.For | ast.AsyncFor):
            header = node.iter
        elif isinstance(node, _COMPOUND_WITHOUT_HEADER):
            continue
        else:
            header = node
        if read_names(header) & names:
            key = (node.lineno, node.col_offset, _short(node, 60))
            if best is None or key < best:
                best = key
    return best[2] if best else ""


def _names_text(names: list[str]) -> str:
    if not names:
        return ""
    shown = [f"`{n}`" for n in names[:3]]
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1]


def _retry_loop(loop: ast.AST) -> bool:
    """A loop that retries: it contains a ``try`` and a sleep."""
    nodes = list(_walk_scope(loop))
    return any(isinstance(n, ast.Try) for n in nodes) and any(isinstance(n, ast.Call) and _is_sleep(n) for n in nodes)


def _widened(test: ast.expr) -> tuple[ast.expr, str, str] | None:
    """The guard condition made true for fewer inputs: non-strict bounds become strict, or constant limits
    move outwards. (new condition, what changed, which values are newly admitted) or None."""
    new = copy_tree(test)
    changes: list[str] = []
    admitted: list[str] = []

    def visit(node: ast.expr, positive: bool) -> None:
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            visit(node.operand, not positive)
        elif isinstance(node, ast.BoolOp):
            for value in node.values:
                visit(value, positive)
        elif isinstance(node, ast.Compare):
            table = _FLIP_POSITIVE if positive else _FLIP_NEGATIVE
            operands = [node.left, *node.comparators]
            for index, op in enumerate(node.ops):
                replacement = table.get(type(op))
                if replacement is not None:
                    changes.append(f"`{_op_text(op)}` becomes `{_op_text(replacement())}`")
                    left, right = operands[index], operands[index + 1]
                    admitted.append(f"`{_short(left, 25)} == {_short(right, 25)}`")
                    node.ops[index] = replacement()

    visit(new, True)
    if changes:
        values = " and ".join(dict.fromkeys(admitted))
        return new, ", ".join(dict.fromkeys(changes)), values
    new = copy_tree(test)

    def scale(node: ast.expr, positive: bool) -> None:
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            scale(node.operand, not positive)
        elif isinstance(node, ast.BoolOp):
            for value in node.values:
                scale(value, positive)
        elif isinstance(node, ast.Compare) and len(node.ops) == 1:
            constant = _number(node.comparators[0])
            if constant is None or constant == 0:
                return
            op = type(node.ops[0])
            if op not in (ast.Lt, ast.LtE, ast.Gt, ast.GtE):
                return
            upper = (op in (ast.Gt, ast.GtE)) == positive  # the guard caps the left side from above
            factor = 2 if (constant > 0) == upper else 0.5
            value: int | float = constant * factor
            if isinstance(constant, int):
                value = int(value) if factor == 2 else int(constant / 2)
            if value == constant:
                return
            node.comparators[0] = _number_node(value)
            changes.append(f"limit {constant} becomes {value}")
            low, high = sorted((constant, value))
            admitted.append(f"values of `{_short(node.left, 25)}` between {low} and {high}")

    scale(new, True)
    if changes:
        return new, ", ".join(dict.fromkeys(changes)), " and ".join(dict.fromkeys(admitted))
    return None


def _clamp(test: ast.expr) -> tuple[str, ast.expr] | None:
    """(variable, bound) for a guard ``if x < LOW`` / ``if x > HIGH`` with a side-effect-free bound."""
    if not isinstance(test, ast.Compare) or len(test.ops) != 1 or not isinstance(test.ops[0], ast.Lt | ast.Gt):
        return None
    left, right = test.left, test.comparators[0]
    if isinstance(left, ast.Name) and _pure(right):
        return left.id, right
    if isinstance(right, ast.Name) and _pure(left):
        return right.id, left
    return None


def _pure(node: ast.expr) -> bool:
    return all(isinstance(n, ast.Name | ast.Constant | ast.Attribute | ast.UnaryOp | ast.BinOp | ast.Load |
                          ast.operator | ast.unaryop) for n in ast.walk(node))


def _number(node: ast.expr) -> int | float | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _number(node.operand)
        return -inner if inner is not None else None
    return None


def _number_node(value: float) -> ast.expr:
    if value < 0:
        return ast.UnaryOp(op=ast.USub(), operand=ast.Constant(-value))
    return ast.Constant(value)


def _op_text(op: ast.cmpop) -> str:
    return {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}.get(type(op), "?")


def _raised_name(statement: ast.Raise) -> str:
    exc = statement.exc
    if isinstance(exc, ast.Call):
        exc = exc.func
    if exc is None:
        return "the caught exception"
    return ast.unparse(exc)


# no_wait ------------------------------------------------------------------------------------


def _no_wait(function: _Function, context: GenerationContext) -> Iterator[Candidate]:
    sleeps = [
        node for node in _own_nodes(function)
        if isinstance(node, ast.Expr)
        and _is_sleep(node.value.value if isinstance(node.value, ast.Await) else node.value)
    ]
    if sleeps:
        code = _transformed(function, _remove_statements(function, sleeps))
        shown = ", ".join(f"`{_short(s, 50)}`" for s in sleeps)
        yield Candidate(
            kind="no_wait",
            code=code,
            description=f"Removes the wait{'s' if len(sleeps) > 1 else ''} {shown}; the next step follows at once.",
            reasoning=(
                "Violates the assumption that pausing is needed (backoff between retries, politeness, "
                "letting others run). Without it the function finishes sooner and a retry lands while the "
                "caller still waits; it assumes the failure is not load- or rate-related, where immediate "
                "retries make it worse."
            ),
        )
    timeouts = list(_timeouts(function))
    if timeouts:

        def lift(copy_fn: _Function) -> None:
            for node in scope_nodes(copy_fn.body):
                if not isinstance(node, ast.Call):
                    continue
                if _is_wait_for(node) and node.args and isinstance(node.args[0], ast.Call):
                    awaited = node.args[0]
                    node.func, node.args, node.keywords = awaited.func, awaited.args, awaited.keywords
                    continue
                for keyword in node.keywords:
                    if keyword.arg == "timeout" and not is_none(keyword.value):
                        keyword.value = ast.Constant(None)

        code = _transformed(function, lift)
        shown = ", ".join(f"`{text}`" for text in dict.fromkeys(timeouts))
        yield Candidate(
            kind="no_wait",
            code=code,
            description=f"Lifts the time limit: {shown} now wait{'s' if len(timeouts) == 1 else ''} without a timeout.",
            reasoning=(
                "Violates the assumption that a slow call is a failed call. A call that would have finished "
                "just after the deadline now succeeds instead of being retried or reported; it assumes the "
                "callee does eventually answer, since a hung call now blocks the caller forever."
            ),
        )


def _timeouts(function: _Function) -> Iterator[str]:
    for node in _own_nodes(function):
        if not isinstance(node, ast.Call):
            continue
        if _is_wait_for(node) and node.args and isinstance(node.args[0], ast.Call):
            yield _short(node, 50)
            continue
        for keyword in node.keywords:
            if keyword.arg == "timeout" and not is_none(keyword.value):
                yield f"{_call_name(node)}(timeout={_short(keyword.value, 20)})"


def _is_wait_for(call: ast.Call) -> bool:
    return _call_name(call) in {"asyncio.wait_for", "wait_for"}


def _is_sleep(node: ast.AST | None) -> bool:
    return isinstance(node, ast.Call) and _call_name(node).split(".")[-1] in _SLEEPS


# short_circuit -------------------------------------------------------------------------------


def _short_circuit(function: _Function, context: GenerationContext) -> Iterator[Candidate]:
    yield from _hoisted_exits(function)
    yield from _loop_breaks(function)
    yield from _threshold_breaks(function)
    yield from _accumulate_exits(function)
    yield from _lazy_any_all(function)


def _hoisted_exits(function: _Function) -> Iterator[Candidate]:
    """Move ``if cheap: return value`` above the earlier top-level steps it does not depend on."""
    body = function.body
    first = len(body) - len(docstring_free(function.body))
    for index, statement in enumerate(body):
        if index <= first or not _is_early_exit(statement):
            continue
        needs = read_names(statement)
        position = index
        while position > first and not (_written_names(body[position - 1]) & needs) \
                and not _is_terminal(body[position - 1]) and not _contains_exit(body[position - 1]):
            position -= 1
        if position == index:
            continue
        skipped = body[position:index]

        def hoist(copy_fn: _Function, index=index, position=position) -> None:
            moved = copy_fn.body.pop(index)
            copy_fn.body.insert(position, moved)

        shown = ", ".join(f"`{_short(s, 40)}`" for s in skipped[:3]) + (" ..." if len(skipped) > 3 else "")
        yield Candidate(
            kind="short_circuit",
            code=_transformed(function, hoist),
            description=(
                f"Checks the early exit `{_short(statement.test, 50)}` first: "
                f"`{_short(statement.body[0], 40)}` now happens before {shown}."
            ),
            reasoning=(
                "Violates the assumption that every earlier step must run before the cheap exit is taken. "
                "The exit condition reads nothing those steps compute, so when it holds the work (and any "
                "validation) they do is skipped; it assumes their side effects and errors do not matter for "
                "such inputs."
            ),
        )


def _contains_exit(statement: ast.stmt) -> bool:
    """Another early exit (or a yield): moving past it would change which answer wins."""
    return any(isinstance(n, ast.Return | ast.Yield | ast.YieldFrom) for n in (statement, *_walk_scope(statement)))


def _is_early_exit(statement: ast.stmt) -> bool:
    return (
        isinstance(statement, ast.If)
        and not statement.orelse
        and len(statement.body) == 1
        and isinstance(statement.body[0], ast.Return)
        and not any(isinstance(n, ast.Call | ast.Await | ast.NamedExpr | ast.Yield) for n in ast.walk(statement.test))
    )


def _loop_breaks(function: _Function) -> Iterator[Candidate]:
    """``for ...: if cond: x = value`` (last match wins) gets a ``break`` after the assignment."""
    for loop in (n for n in _own_nodes(function) if isinstance(n, ast.For | ast.AsyncFor)):
        if loop.orelse or len(loop.body) != 1 or any(isinstance(n, ast.Break) for n in _walk_scope(loop)):
            continue
        inner = loop.body[0]
        if not isinstance(inner, ast.If) or inner.orelse:
            continue
        if not all(isinstance(s, ast.Assign | ast.AnnAssign) for s in inner.body):
            continue
        constant = all(isinstance(s.value, ast.Constant) for s in inner.body)  # type: ignore[union-attr]
        if not constant and _threshold_loop(loop):
            continue  # handled by _threshold_breaks, which keeps the last-match semantics

        def add_break(copy_fn: _Function, loop=loop) -> None:
            _find_copy(copy_fn, loop).body[0].body.append(ast.Break())

        assigned = ", ".join(sorted(set().union(*(_written_names(s) for s in inner.body))))
        if constant:
            reasoning = (
                f"Violates the assumption that every item must be examined. Once `{_short(inner.test, 40)}` "
                f"holds, later iterations can only assign the same constant to `{assigned}` again, so the "
                "rest of the loop is wasted work — unless the condition itself has side effects."
            )
        else:
            reasoning = (
                f"Violates the assumption that the last matching item must win: `{assigned}` now keeps the "
                "first match and the loop stops there. Cheaper on long inputs; equivalent only if at most "
                "one item matches or all matches agree."
            )
        yield Candidate(
            kind="short_circuit",
            code=_transformed(function, add_break),
            description=(
                f"Leaves the loop `{_short(loop, 40)}` with `break` as soon as `{_short(inner.test, 40)}` "
                f"has set `{assigned}`."
            ),
            reasoning=reasoning,
        )


def _threshold_loop(loop: ast.For | ast.AsyncFor) -> bool:
    """A loop over ``sorted(...)``/``range(...)`` whose single ``if`` compares against the loop variable."""
    if not isinstance(loop.iter, ast.Call) or _call_name(loop.iter) not in {"sorted", "range"}:
        return False
    if not isinstance(loop.target, ast.Name) or len(loop.body) != 1 or not isinstance(loop.body[0], ast.If):
        return False
    test = loop.body[0].test
    if not isinstance(test, ast.Compare) or len(test.ops) != 1:
        return False
    if not isinstance(test.ops[0], ast.Lt | ast.LtE | ast.Gt | ast.GtE):
        return False
    sides = [test.left, test.comparators[0]]
    return any(isinstance(s, ast.Name) and s.id == loop.target.id for s in sides)


def _threshold_breaks(function: _Function) -> Iterator[Candidate]:
    """``for t in sorted(ts): if x >= t: ...`` gets ``else: break``: later thresholds cannot match."""
    for loop in (n for n in _own_nodes(function) if isinstance(n, ast.For | ast.AsyncFor)):
        if loop.orelse or not _threshold_loop(loop) or loop.body[0].orelse:
            continue
        if any(isinstance(n, ast.Break) for n in _walk_scope(loop)):
            continue
        if _call_name(loop.iter) == "sorted" and any(k.arg == "reverse" for k in loop.iter.keywords):
            continue
        test = loop.body[0].test

        def add_else(copy_fn: _Function, loop=loop) -> None:
            _find_copy(copy_fn, loop).body[0].orelse = [ast.Break()]

        yield Candidate(
            kind="short_circuit",
            code=_transformed(function, add_else),
            description=(
                f"Stops the loop `{_short(loop, 40)}` at the first item where `{_short(test, 40)}` fails "
                f"(adds `else: break`)."
            ),
            reasoning=(
                f"Violates the assumption that every item of `{_short(loop.iter, 30)}` must be compared. The "
                "items come in ascending order, so once the comparison fails it should fail for all larger "
                "ones too; that only holds if the comparison is monotone in the loop variable and the order "
                "is really ascending."
            ),
        )


def _accumulate_exits(function: _Function) -> Iterator[Candidate]:
    """``acc += x`` in a loop, then ``return acc > LIMIT``: return True inside the loop once it is exceeded."""
    body = function.body
    for index, loop in enumerate(body):
        if not isinstance(loop, ast.For | ast.While) or loop.orelse:
            continue
        for later in body[index + 1:]:
            if isinstance(later, ast.Return):
                break
        else:
            continue
        test = later.value
        if not (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Gt | ast.GtE)):
            continue
        if not isinstance(test.left, ast.Name):
            continue
        accumulator = test.left.id
        between = body[index + 1: body.index(later)]
        if any(accumulator in _written_names(s) for s in between):
            continue
        limit_names = read_names(test.comparators[0])
        if limit_names & set().union(*(_written_names(s) for s in loop.body)):
            continue
        positions = [
            k for k, s in enumerate(loop.body)
            if isinstance(s, ast.AugAssign) and isinstance(s.op, ast.Add)
            and isinstance(s.target, ast.Name) and s.target.id == accumulator
        ]
        if not positions:
            continue

        def insert(copy_fn: _Function, index=index, position=positions[-1], test=test) -> None:
            copy_loop = copy_fn.body[index]
            check = ast.If(test=copy_tree(test), body=[ast.Return(value=ast.Constant(True))], orelse=[])
            copy_loop.body.insert(position + 1, check)

        yield Candidate(
            kind="short_circuit",
            code=_transformed(function, insert),
            description=(
                f"Returns True from inside the loop `{_short(loop, 40)}` as soon as `{_short(test, 40)}` "
                f"holds, instead of finishing the sum first."
            ),
            reasoning=(
                "Violates the assumption that the whole input must be summed before comparing. If every "
                f"increment of `{accumulator}` is non-negative, the comparison cannot become false again, so "
                "the answer is known early; negative increments would make the early answer wrong."
            ),
        )


def _lazy_any_all(function: _Function) -> Iterator[Candidate]:
    """``any([...])`` / ``all([...])`` build the whole list; a generator stops at the first decisive item."""
    targets = [
        node for node in _own_nodes(function)
        if isinstance(node, ast.Call) and _call_name(node) in {"any", "all"} and len(node.args) == 1
        and isinstance(node.args[0], ast.ListComp)
    ]
    if not targets:
        return

    def lazy(copy_fn: _Function) -> None:
        for node in scope_nodes(copy_fn.body):
            if isinstance(node, ast.Call) and _call_name(node) in {"any", "all"} and len(node.args) == 1 \
                    and isinstance(node.args[0], ast.ListComp):
                comp = node.args[0]
                node.args[0] = ast.GeneratorExp(elt=comp.elt, generators=comp.generators)

    shown = ", ".join(f"`{_short(t, 40)}`" for t in targets)
    yield Candidate(
        kind="short_circuit",
        code=_transformed(function, lazy),
        description=f"Feeds {shown} a generator instead of a list, so it stops at the first decisive item.",
        reasoning=(
            "Violates the assumption that every element is computed: with a generator, `any`/`all` stop as "
            "soon as the answer is known. Equivalent unless computing an element has side effects the caller "
            "relies on."
        ),
    )


# drop_side_effect ----------------------------------------------------------------------------


def _drop_side_effects(function: _Function, context: GenerationContext) -> Iterator[Candidate]:
    logs = [
        node for node in _own_nodes(function)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) and _is_logging(node.value)
    ]
    if logs:
        shown = ", ".join(f"`{_short(s, 40)}`" for s in logs[:3]) + (" ..." if len(logs) > 3 else "")
        yield Candidate(
            kind="drop_side_effect",
            code=_transformed(function, _remove_statements(function, logs)),
            description=f"Drops the logging/printing {shown}; the computation is unchanged.",
            reasoning=(
                "Violates the assumption that the diagnostic output is part of the job. Formatting and "
                "writing log lines costs time in hot paths; it assumes nobody parses that output and that "
                "the lost trail is not needed when something goes wrong."
            ),
        )
    counters = [
        node for node in _own_nodes(function)
        if isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Attribute)
        and _COUNTERS.search(node.target.attr) and isinstance(node.value, ast.Constant)
    ]
    if counters:
        shown = ", ".join(f"`{_short(s, 40)}`" for s in counters)
        yield Candidate(
            kind="drop_side_effect",
            code=_transformed(function, _remove_statements(function, counters)),
            description=f"Stops updating the statistics counter{'s' if len(counters) > 1 else ''} {shown}.",
            reasoning=(
                "Violates the assumption that usage statistics must be kept on every call. The result is the "
                "same and the hot path does less (and touches less shared state); it assumes nothing reads "
                "those counters to make decisions."
            ),
        )


def _is_logging(call: ast.Call) -> bool:
    name = _call_name(call)
    if name in {"print", "warnings.warn", "pprint", "pprint.pprint"}:
        return True
    parts = name.split(".")
    if len(parts) >= 2 and parts[-1] in _LOG_METHODS:
        return any(_LOGGER_NAMES.search(part) for part in parts[:-1])
    return False


# -- AST helpers -----------------------------------------------------------------------------


def _walk_scope(node: ast.AST) -> Iterator[ast.AST]:
    """Nodes under ``node`` (itself excluded) that belong to its scope: nested defs are not entered."""
    return scope_nodes(ast.iter_child_nodes(node))


@lru_cache(maxsize=4)
def _own_nodes(function: _Function) -> tuple[ast.AST, ...]:
    """The base function's own nodes (body only: no decorators, defaults or annotations; no nested
    scopes), walked once: the transforms ask for them many times and never edit the base (edits work
    on copies, see ``_transformed``). A copy's nodes come from ``scope_nodes`` directly."""
    return tuple(scope_nodes(function.body))


@lru_cache(maxsize=4)
def _parents(function: _Function) -> dict[int, ast.AST]:
    """id(node) -> parent, for the base function's body statements and the children of its own nodes."""
    parents: dict[int, ast.AST] = {id(statement): function for statement in function.body}
    for node in _own_nodes(function):
        if not isinstance(node, _Scope):
            parents.update((id(child), node) for child in ast.iter_child_nodes(node))
    return parents


def _statement_lists(function: _Function) -> Iterator[tuple[ast.AST, str, list[ast.stmt]]]:
    """(owner, field, list) for every statement list of the function's own scope, the body first."""
    yield function, "body", function.body
    for node in _own_nodes(function):
        if isinstance(node, _Scope):
            continue
        for field in _STATEMENT_FIELDS:
            value = getattr(node, field, None)
            if isinstance(value, list) and value and isinstance(value[0], ast.stmt):
                yield node, field, value


def _number_nodes(function: _Function) -> None:
    """Tag every node with its position, so that a copy's node can be matched to the original's."""
    for index, node in enumerate(ast.walk(function)):
        node._cr_id = index  # type: ignore[attr-defined]


def _find_copy(copy_fn: _Function, node: ast.AST) -> Any:
    """The node of the copied function that corresponds to ``node`` of the (numbered) original."""
    for candidate in ast.walk(copy_fn):
        if getattr(candidate, "_cr_id", None) == node._cr_id:  # type: ignore[attr-defined]
            return candidate
    raise ValueError("node not found in the copy")


def _same_list(copy_fn: _Function, owner: ast.AST, field: str) -> list[ast.stmt]:
    return getattr(_find_copy(copy_fn, owner), field)


def _transformed(function: _Function, edit: Callable[[_Function], None]) -> str:
    """Unparsed source of a transformed copy of ``function`` (its nodes numbered, see ``_number_nodes``)."""
    duplicate = copy_tree(function)
    edit(duplicate)
    _fill_empty_bodies(duplicate)
    ast.fix_missing_locations(duplicate)
    return ast.unparse(duplicate) + "\n"


def _fill_empty_bodies(function: _Function) -> None:
    """Removing statements may leave a block empty: give it a ``pass``."""
    for node in ast.walk(function):
        if isinstance(getattr(node, "body", None), list) and not node.body:
            node.body.append(ast.Pass())
        if isinstance(node, ast.Try | getattr(ast, "TryStar", ast.Try)) and not node.handlers and not node.finalbody:
            node.finalbody.append(ast.Pass())


def _containing_list(function: _Function, node: ast.AST) -> tuple[ast.AST, str, int]:
    """(owner, field, index) of a statement of the function's own scope."""
    owner = _parents(function).get(id(node))
    for field in _STATEMENT_FIELDS:
        for index, statement in enumerate(getattr(owner, field, None) or ()):
            if statement is node:
                return owner, field, index
    raise ValueError("statement not found")


def _replace_statement(
    function: _Function, node: ast.stmt, make: Callable[[_Function], ast.stmt | list[ast.stmt]]
) -> Callable[[_Function], None]:
    """An edit replacing ``node`` (a statement of ``function``) with what ``make`` returns."""
    owner, field, _ = _containing_list(function, node)

    def edit(copy_fn: _Function) -> None:
        statements = _same_list(copy_fn, owner, field)
        target = _find_copy(copy_fn, node)
        index = next(k for k, s in enumerate(statements) if s is target)
        replacement = make(copy_fn)
        statements[index:index + 1] = replacement if isinstance(replacement, list) else [replacement]

    return edit


def _remove_statements(function: _Function, nodes: list[ast.stmt]) -> Callable[[_Function], None]:
    edits = [_replace_statement(function, node, lambda _: []) for node in nodes]

    def edit(copy_fn: _Function) -> None:
        for each in edits:
            each(copy_fn)

    return edit


def _ensure_import(function: _Function, module: str) -> None:
    """Add ``import module`` at the top of the body (after the docstring) unless already imported there."""
    for statement in function.body:
        if isinstance(statement, ast.Import) and any(alias.name == module and alias.asname is None
                                                     for alias in statement.names):
            return
    position = len(function.body) - len(docstring_free(function.body))
    function.body.insert(position, ast.Import(names=[ast.alias(name=module)]))


def _enclosing_loop(function: _Function, node: ast.AST) -> _Loop | None:
    """The innermost loop of the function's own scope that has ``node`` in its body (at any depth)."""
    parents = _parents(function)
    child, parent = node, parents.get(id(node))
    while parent is not None and parent is not function:
        if isinstance(parent, _Loop) and any(child is s for s in parent.body):
            return parent
        child, parent = parent, parents.get(id(parent))
    return None


def _default_return(function: _Function) -> ast.expr | None:
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


def _call_name(call: ast.Call | None) -> str:
    """Dotted name of a call's function (``time.sleep``), or "" for computed callees."""
    if call is None:
        return ""
    parts: list[str] = []
    node: ast.expr = call.func
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return ""


def _stored_names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store | ast.Del)}


def _written_names(statement: ast.AST) -> set[str]:
    """Names a statement binds, plus objects it mutates through attributes, subscripts or method calls."""
    names = _stored_names(statement)
    for node in ast.walk(statement):
        if isinstance(node, ast.Attribute | ast.Subscript) and isinstance(node.ctx, ast.Store | ast.Del):
            root = _root_name(node)
            if root:
                names.add(root)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            root = _root_name(node.func.value)
            if root:
                names.add(root)  # a method call may mutate its receiver
        elif isinstance(node, _Function | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names |= {(a.asname or a.name).partition(".")[0] for a in node.names}
    return names


def _root_name(node: ast.expr) -> str | None:
    while isinstance(node, ast.Attribute | ast.Subscript):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _independent(a: ast.stmt, b: ast.stmt) -> bool:
    wa, wb = _written_names(a), _written_names(b)
    return not (wa & (read_names(b) | wb)) and not (wb & read_names(a))


def _assign_target(statement: ast.stmt) -> ast.expr | None:
    if isinstance(statement, ast.Assign):
        return statement.targets[0]
    if isinstance(statement, ast.AnnAssign):
        return statement.target
    return None


def _uses_name(function: _Function, name: str) -> bool:
    return any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(function)) or any(
        a.arg == name for a in ast.walk(function) if isinstance(a, ast.arg)
    )


def _read_names_after(function: _Function, node: ast.stmt) -> set[str]:
    """Names read by statements that follow ``node`` in its statement list (and in enclosing lists)."""
    if not any(statement is node for statement in ast.walk(function)):
        return set()
    end = getattr(node, "end_lineno", None) or 0
    return {n.id for n in ast.walk(function) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
            and (getattr(n, "lineno", 0) or 0) > end}


def _short(node: ast.AST, limit: int = _SHORT) -> str:
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
    elif isinstance(node, _Function | ast.ClassDef):
        text = f"def {node.name}(...)" if not isinstance(node, ast.ClassDef) else f"class {node.name}"
    else:
        text = ast.unparse(node)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


@hookimpl
def register_generators(register) -> None:
    register(ConstraintRelaxation)
