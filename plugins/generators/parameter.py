"""Dream generator ``parameter``: the same function with one or two of its tuning knobs moved.

A *knob* is a literal the behaviour is tuned by: a keyword argument of a call (``timeout=30``), the
delay of a sleep (``asyncio.sleep(0)`` becomes a short real pause), the stop of a ``range`` and the
offset of a retry-loop bound (``range(retries + 1)``), a literal an ordering comparison tests
against (``len(items) > 100``), a head/tail slice size of a collection, the growth factor of a
backoff (``delay *= 2``, ``backoff * 2 ** attempt``), a rounding precision, an entry of a numeric
lookup table (``{10_000: 5.0, ...}``), a literal assigned to a knob-like name (``max_attempts = 5``),
and the defaults of parameters. Each knob gets a *kind* (timeout, retries, delay, ttl, size,
threshold, ratio, flag, other) from the names around it; the kind decides how it is varied and what
the draft's reasoning says.

Left alone: protocol and calendar constants (``200 <= status < 300``), 0 and ±1 in comparisons (sign
and emptiness checks), negative comparison literals (physical floors such as -273.15), slice offsets
of text being parsed (``token[:2]``), unit conversions (``timeout * 1000.0``), sentinels and counter
starts (``count = 0``), and diagnostics keywords (``exc_info=``, ``stacklevel=``).

Values explored: numbers scaled by the configured factors (ints stay ints and must change; a
non-zero count never becomes 0 unless zero is meaningful, as for retries or delays; boundaries and
table entries only move within x0.5..x2), ``n - 1`` and ``n + 1`` for small ints, booleans flipped.
Most variants move one knob; some move two (up to ``max_knobs_per_variant``). Choices use only
``context.rng``, so a run is reproducible.

Parameter defaults are knobs too: the draft checker's signature comparison counts which
parameters have defaults, not their values, so a dream may retune ``timeout=30.0`` to ``15.0``
while every caller still calls it the same way. Defaults of nested functions and lambdas are knobs
as well.

Only the local mode exists: drafts are pure AST rewrites (``ast.unparse``, so comments are lost,
decorators and docstrings kept), offline and deterministic.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Iterator
from typing import Any

import attrs

from dreamcore import hookimpl
from dreamcore.analysis.nodes import FunctionNode, call_name, dotted_name, literal, raised
from dreamcore.analysis.syntax import function_in, name_tokens, parameters, snippet, walk_with_parents
from dreamcore.generation.drafts import DreamDraft, GenerationContext, round_robin
from dreamcore.generation.local import Candidate, LocalGenerator, distinct

# name tokens -> knob kind, checked in this order (the first kind with a matching token wins)
KIND_TOKENS: tuple[tuple[str, frozenset[str]], ...] = (
    ("timeout", frozenset({"timeout", "timeouts", "deadline"})),
    ("retries", frozenset({"retries", "retry", "attempts", "attempt", "tries"})),
    ("ttl", frozenset({"ttl", "expiry", "expires", "expire", "age", "lifetime", "stale", "staleness"})),
    ("delay", frozenset({"delay", "backoff", "sleep", "wait", "interval", "pause", "cooldown", "jitter", "poll"})),
    ("ratio", frozenset({"ratio", "rate", "factor", "percent", "fraction", "multiplier", "weight",
                         "probability", "alpha", "decay", "discount", "tax", "share"})),
    ("size", frozenset({"size", "limit", "batch", "chunk", "page", "pages", "capacity", "entries", "maxlen",
                        "maxsize", "window", "buffer", "width", "len", "length", "count", "concurrency",
                        "workers", "pool", "items", "visible", "precision", "digits", "depth"})),
    ("threshold", frozenset({"threshold", "min", "max", "cap", "ceiling", "floor", "tolerance", "epsilon",
                             "eps", "bound", "cutoff", "grace", "minimum", "maximum", "credit", "balance"})),
)
# names whose literals are protocol or calendar constants, not tuning knobs
FIXED_TOKENS = frozenset({"status", "code", "http", "port", "year", "month", "day", "version", "byte", "bytes"})
SLEEPS = {"time.sleep", "asyncio.sleep", "trio.sleep", "anyio.sleep"}
NOUNS = {
    "timeout": "timeout", "retries": "retry bound", "ttl": "time-to-live", "delay": "delay",
    "ratio": "rate", "size": "size limit", "threshold": "threshold", "flag": "flag", "other": "constant",
}
SMALL_INT = 10
# keyword arguments that steer diagnostics or encoding, not behaviour worth exploring
NOT_KNOBS = frozenset({"exc_info", "stack_info", "stacklevel", "flush", "sep", "end", "file", "encoding", "errors",
                       "newline", "closefd", "indent", "sort_keys", "ensure_ascii", "mode", "level"})
BOUNDARY_ROLES = ("comparison", "slice", "table")
BOUNDARY_FACTORS = (0.5, 2.0)
# names of sliced values that hold text being parsed: their slice bounds are offsets, not sizes
TEXT_TOKENS = frozenset({"text", "token", "line", "string", "str", "s", "raw", "name", "word", "cleaned", "stripped",
                         "digits", "chars", "key", "code", "prefix", "suffix", "path", "url", "value"})


@attrs.frozen
class Knob:
    """One tunable literal: where it is (``index`` into ``ast.walk`` of the parsed source) and what it is."""

    index: int
    value: int | float | bool
    kind: str
    role: str  # default keyword comparison sleep range range-offset slice multiplier precision table assignment
    label: str  # e.g. "`timeout=`", "threshold", "default of `retries`"
    where: str  # e.g. "in the call to fetch", "in `len(digits) < 12`"
    line: int
    named: bool  # the kind came from a name, not only from the knob's position
    effect: str = ""  # comparisons: what follows when the condition holds ("rejects", "returns", ...)
    detail: str = ""  # comparisons: the raised exception, the return statement...; tables: the key
    rises_when_larger: bool | None = None  # comparisons: does a larger literal make the condition hold more often
    target: str = ""  # the call or name the knob belongs to, for the reasoning
    floor: int | None = None  # values must stay above this (the start of range(start, stop))


@attrs.frozen
class Move:
    """One knob set to one new value."""

    knob: Knob
    value: int | float | bool
    change: str  # "x0.5", "+1", "flipped"


class ParameterGenerator(LocalGenerator):
    """Explores the values of a procedure's tuning knobs (see the module docstring)."""

    name = "parameter"
    dream_type = "parameter"

    @attrs.define
    class Config:
        """[plugins.parameter]: how knob values are explored."""

        factors: list[float] = attrs.field(
            factory=lambda: [0.5, 0.75, 1.5, 2.0, 5.0, 10.0], metadata={"help": "scales applied to numeric knobs"}
        )
        max_knobs_per_variant: int = attrs.field(default=2, metadata={"help": "knobs changed together in one dream"})

        @factors.validator
        def _positive(self, attribute: Any, value: list[float]) -> None:
            if not value or any(not math.isfinite(f) or f <= 0 or f == 1 for f in value):
                raise ValueError("factors must be positive, finite, not 1, and at least one")

        @max_knobs_per_variant.validator
        def _at_least_one(self, attribute: Any, value: int) -> None:
            if value < 1:
                raise ValueError("max_knobs_per_variant must be at least 1")

    def local_drafts(self, context: GenerationContext) -> list[DreamDraft]:
        """At most ``context.variants`` drafts, each moving one or two knobs."""
        source = context.source
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError):
            return []
        function = function_in(tree.body, context.procedure.name)
        if function is None:
            return []
        offset = (context.procedure.line_start or 1) - 1
        knobs = list(_knobs(tree, function, offset))
        moves = {knob.index: self._moves(knob) for knob in knobs}
        knobs = [k for k in knobs if moves[k.index]]
        if not knobs:
            return []
        candidates = (
            Candidate(kind=self.dream_type, code=_apply(source, chosen), description=_describe(chosen),
                      reasoning=_reason(chosen))
            for chosen in self._plan(knobs, moves, context)
        )
        return distinct(candidates, context.variants, exclude=[ast.unparse(tree) + "\n"])

    def _moves(self, knob: Knob) -> list[Move]:
        """Every new value worth trying for one knob, without duplicates, in a stable order."""
        if isinstance(knob.value, bool):
            return [Move(knob, not knob.value, "flipped")]
        value = knob.value
        if value == 0 and knob.role == "sleep":  # asyncio.sleep(0) only yields: try a short real pause
            return [Move(knob, 0.01, "+0.01s"), Move(knob, 0.1, "+0.1s")]
        if value == 0 or not math.isfinite(value):
            return []
        zero_ok = knob.kind in ("retries", "delay") and knob.role != "comparison"
        if knob.role in ("range-offset", "precision"):  # range(retries + 1), round(x, 2): one more or less
            candidates = [(value - 1, "-1"), (value + 1, "+1")]
            return [Move(knob, v, c) for v, c in candidates if v >= 0 and (v != 0 or zero_ok)]
        sign, magnitude = (-1 if value < 0 else 1), abs(value)
        candidates: list[tuple[int | float, str]] = []
        if isinstance(value, int) and magnitude <= SMALL_INT and sign > 0:
            candidates += [(magnitude - 1, "-1"), (magnitude + 1, "+1")]
        for factor in self.config.factors:
            if knob.role in BOUNDARY_ROLES and not BOUNDARY_FACTORS[0] <= factor <= BOUNDARY_FACTORS[1]:
                continue  # a boundary moved tenfold is a different rule, not a tuning
            scaled = magnitude * factor
            new = math.floor(scaled + 0.5) if isinstance(value, int) else _round_float(scaled)
            candidates.append((new, f"x{factor:g}"))
        moves: list[Move] = []
        values: set[int | float] = set()
        for new, change in candidates:
            if new == magnitude or new in values or new < 0 or (new == 0 and not zero_ok):
                continue
            if knob.floor is not None and sign * new <= knob.floor:
                continue  # range(1, 4) -> range(1, 1) would be an empty loop
            values.add(new)
            moves.append(Move(knob, sign * new, change))
        return moves

    def _plan(self, knobs: list[Knob], moves: dict[int, list[Move]], context: GenerationContext) -> list[list[Move]]:
        """The variants to try, best first: single-knob moves round-robin over the knobs (knobs
        named by their surroundings before anonymous ones), then a few two-knob combinations."""
        rng = context.rng
        named = [k for k in knobs if k.named]
        anonymous = [k for k in knobs if not k.named]
        rng.shuffle(named)
        rng.shuffle(anonymous)
        queues = []
        for knob in named + anonymous:
            options = list(moves[knob.index])
            rng.shuffle(options)
            queues.append(options)
        singles = [[move] for move in round_robin(queues, sum(map(len, queues)))]
        wanted = context.variants
        combos: list[list[Move]] = []
        width = min(self.config.max_knobs_per_variant, len(knobs))
        if width >= 2 and wanted >= 3:
            pool = named + anonymous
            for _ in range(max(1, wanted // 4) * 4):  # a few tries; duplicates are dropped later
                if len(combos) == max(1, wanted // 4):
                    break
                size = rng.randint(2, width)
                chosen = rng.sample(pool[: max(size, min(len(pool), 4))], size)
                combos.append([rng.choice(moves[k.index]) for k in sorted(chosen, key=lambda k: k.index)])
        head = singles[: max(0, wanted - len(combos))]
        return head + combos + singles[len(head):]


# -- finding knobs -----------------------------------------------------------------------------


def _classify(names: list[str], default: str = "other") -> tuple[str, bool] | None:
    """(kind, named) from the names around a knob; None for protocol constants (HTTP statuses...)."""
    tokens = name_tokens(*names)
    if FIXED_TOKENS & set(tokens):
        return None
    for kind, words in KIND_TOKENS:
        if words & set(tokens):
            return kind, True
    return default, False


def _names_in(node: ast.AST | None) -> list[str]:
    """Identifiers read in an expression: names, attributes and called functions, in order."""
    if node is None:
        return []
    names = []
    for child in ast.walk(node):
        if isinstance(child, ast.Name):
            names.append(child.id)
        elif isinstance(child, ast.Attribute):
            names.append(child.attr)
    return names


def _knobs(tree: ast.Module, function: FunctionNode, offset: int) -> Iterator[Knob]:
    """Every knob of ``function``, in source-walk order, each literal at most once."""
    nodes, parents = walk_with_parents(tree)
    index = {id(node): i for i, node in enumerate(nodes)}
    taken: set[int] = set()

    def knob(node: ast.AST, role: str, label: str, where: str, names: list[str], *, default_kind: str = "other",
             **extra: Any) -> Iterator[Knob]:
        value = literal(node)
        if value is None or id(node) in taken:
            return
        if isinstance(value, bool):
            kind, named = "flag", True
        else:
            classified = _classify(names, default_kind)
            if classified is None:
                return
            kind, named = classified
        taken.add(id(node))
        line = getattr(node, "lineno", 1) + offset
        label = label.format(noun=NOUNS[kind])
        yield Knob(index[id(node)], value, kind, role, label, where, line, named, **extra)

    # parameter defaults of the function itself (the signature check ignores their values)
    for arg, default in parameters(function.args):
        if default is None:
            continue
        yield from knob(default, "default", f"default of `{arg.arg}`", f"in the signature of {function.name}",
                        [arg.arg], target=arg.arg)

    body_nodes = [n for statement in function.body for n in ast.walk(statement)]
    body_nodes += [n for d in function.decorator_list for n in ast.walk(d)]
    for node in body_nodes:
        if isinstance(node, ast.Call):
            callee = call_name(node)
            if dotted_name(node.func) in SLEEPS and node.args:
                yield from knob(node.args[0], "sleep", "sleep", f"in `{snippet(node)}`", ["delay"],
                                target=dotted_name(node.func))
            elif callee == "range" and node.args:
                yield from _range_knobs(node, parents, knob)
            elif callee == "round" and len(node.args) == 2 and isinstance(literal(node.args[1]), int):
                yield from knob(node.args[1], "precision", "rounding precision", f"in `{snippet(node)}`",
                                ["precision"], target="round")
            for keyword in node.keywords:
                if keyword.arg is not None and keyword.arg not in NOT_KNOBS:
                    yield from knob(keyword.value, "keyword", f"`{keyword.arg}=`",
                                    f"in the call to {callee or snippet(node.func)}", [keyword.arg], target=callee)
        elif isinstance(node, ast.Compare):
            yield from _compare_knobs(node, parents, knob)
        elif isinstance(node, ast.Dict) and len(node.keys) >= 2 and all(
            isinstance(literal(k), int | float) and not isinstance(literal(k), bool) for k in node.keys
        ) and all(isinstance(literal(v), int | float) and not isinstance(literal(v), bool) for v in node.values):
            owner = _owner_name(node, parents)
            for key, value in zip(node.keys, node.values):
                yield from knob(value, "table", f"entry for {ast.unparse(key)} of the table `{owner}`",
                                f"in `{snippet(node, 60)}`", [owner], target=owner, detail=ast.unparse(key))
        elif isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Slice) and _is_collection(node.value):
            piece, sliced = node.slice, snippet(node.value, 30)
            if piece.lower is None and piece.step is None and (literal(piece.upper) or 0) > 1:
                yield from knob(piece.upper, "slice", "head size", f"in `{snippet(node)}`", ["size"],
                                default_kind="size", target=sliced)
            elif piece.upper is None and piece.step is None and (literal(piece.lower) or 0) < -1:
                yield from knob(piece.lower, "slice", "tail size", f"in `{snippet(node)}`", ["size"],
                                default_kind="size", target=sliced)
        elif isinstance(node, ast.AugAssign) and isinstance(node.op, ast.Mult):
            names = _names_in(node.target)
            if _classify(names) and _classify(names)[0] == "delay" and 1 < (literal(node.value) or 0) < 10:
                yield from knob(node.value, "multiplier", "backoff multiplier", f"in `{snippet(node)}`",
                                names, target=names[-1] if names else "")
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult | ast.Pow):
            yield from _multiplier_knobs(node, parents, knob)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if len(targets) == 1 and isinstance(targets[0], ast.Name | ast.Attribute) and node.value is not None:
                names = _names_in(targets[0])[-1:]
                classified = _classify(names)
                value = literal(node.value)
                if isinstance(value, int) and not isinstance(value, bool) and abs(value) <= 1:
                    continue  # count = 0, length = -1: initial values and sentinels, not settings
                if classified is not None and classified[1]:
                    yield from knob(node.value, "assignment", f"`{ast.unparse(targets[0])}`",
                                    f"in `{snippet(node)}`", names, target=names[0])
        elif isinstance(node, ast.Lambda | ast.FunctionDef | ast.AsyncFunctionDef):
            owner = "a lambda" if isinstance(node, ast.Lambda) else f"nested {node.name}"
            for arg, default in parameters(node.args):
                if default is None:
                    continue
                yield from knob(default, "default", f"default of `{arg.arg}`", f"of {owner}", [arg.arg],
                                target=arg.arg)


def _owner_name(node: ast.AST, parents: dict[int, ast.AST]) -> str:
    """The name a literal is assigned to, looking through ``x if c else {...}``: "tiers"."""
    parent = parents.get(id(node))
    while isinstance(parent, ast.IfExp | ast.BoolOp):
        parent = parents.get(id(parent))
    if isinstance(parent, ast.Assign) and len(parent.targets) == 1:
        return ast.unparse(parent.targets[0])
    if isinstance(parent, ast.AnnAssign | ast.AugAssign):
        return ast.unparse(parent.target)
    return "table"


def _is_collection(node: ast.AST) -> bool:
    """Whether a sliced value looks like a list of records (``items``, ``self.history``), not text."""
    names = _names_in(node)
    if not names or not isinstance(node, ast.Name | ast.Attribute):
        return False
    tokens = name_tokens(names[-1] if isinstance(node, ast.Name) else node.attr)
    return bool(tokens) and not TEXT_TOKENS & set(tokens) and (tokens[-1].endswith("s") or tokens[-1] in {
        "history", "queue", "buffer", "data", "batch", "window", "backlog"})


def _range_knobs(call: ast.Call, parents: dict[int, ast.AST], knob: Any) -> Iterator[Knob]:
    """range(N), range(a, N) and range(retries + 1): the stop (a loop bound), never the start."""
    stop = call.args[0] if len(call.args) == 1 else call.args[1]
    loop = parents.get(id(call))
    loop_names = _names_in(loop.target) if isinstance(loop, ast.For | ast.comprehension) else []
    start = literal(call.args[0]) if len(call.args) > 1 else 0
    if literal(stop) is not None and isinstance(start, int):
        yield from knob(stop, "range", "loop bound", f"in `{snippet(call)}`", [*loop_names, "count"],
                        default_kind="size", floor=start)
    elif (isinstance(stop, ast.BinOp) and isinstance(stop.op, ast.Add | ast.Sub)
          and isinstance(literal(stop.right), int) and literal(stop.right) > 0):
        names = _names_in(stop.left)
        classified = _classify(names + loop_names)
        label = "retry-loop bound" if classified and classified[0] == "retries" else "loop bound"
        yield from knob(stop.right, "range-offset", label, f"in `{snippet(call)}`", names + loop_names + ["count"],
                        default_kind="size", target=ast.unparse(stop.left))


def _compare_knobs(compare: ast.Compare, parents: dict[int, ast.AST], knob: Any) -> Iterator[Knob]:
    """Literals in ordering comparisons (``x > 100``), except 0 and ±1 (sign and emptiness checks)."""
    operands = [compare.left, *compare.comparators]
    for position, node in enumerate(operands):
        value = literal(node)
        if value is None or isinstance(value, bool) or value <= 1:  # negatives: physical floors (-273.15)
            continue
        # the operator next to the literal, seen with the literal on the right: ``x < N``
        if position > 0:
            op, other = compare.ops[position - 1], operands[position - 1]
            larger_widens = isinstance(op, ast.Lt | ast.LtE)
        else:
            op, other = compare.ops[0], operands[1]
            larger_widens = isinstance(op, ast.Gt | ast.GtE)
        if not isinstance(op, ast.Lt | ast.LtE | ast.Gt | ast.GtE):
            continue
        names = _names_in(other)
        effect, detail, negated = _effect(compare, parents)
        yield from knob(node, "comparison", "{noun}", f"in `{snippet(compare)}`", names,
                        default_kind="threshold", effect=effect, detail=detail,
                        rises_when_larger=larger_widens != negated, target=snippet(other, 40))


def _effect(node: ast.AST, parents: dict[int, ast.AST]) -> tuple[str, str, bool]:
    """(what happens when a condition holds, a short detail, whether the condition is negated),
    read from the statement that tests it."""
    child, parent, negated = node, parents.get(id(node)), False
    while isinstance(parent, ast.BoolOp | ast.UnaryOp):
        if isinstance(parent, ast.UnaryOp) and isinstance(parent.op, ast.Not):
            negated = not negated
        child, parent = parent, parents.get(id(parent))
    if isinstance(parent, ast.If) and parent.test is child and parent.body:
        first = parent.body[0]
        if isinstance(first, ast.Raise):
            exception = raised(first)
            return "rejects", snippet(exception, 30) if exception is not None else "the exception", negated
        if isinstance(first, ast.Return):
            return "returns", snippet(first, 40), negated
        if isinstance(first, ast.Break | ast.Continue):
            return "leaves the loop", type(first).__name__.lower(), negated
        return "branch", snippet(first, 40), negated
    if isinstance(parent, ast.While):
        return "loops", "", negated
    if isinstance(parent, ast.comprehension):
        return "filters", "", negated
    if isinstance(parent, ast.IfExp):
        return "picks", snippet(parent.body, 30), negated
    return "value", "", negated


def _multiplier_knobs(node: ast.BinOp, parents: dict[int, ast.AST], knob: Any) -> Iterator[Knob]:
    """``backoff * 2 ** attempt``, ``delay * 1.5``: literal factors of delay-like expressions."""
    names = _names_in(node)  # the growing value itself must be named like a delay: 60 * 60 * 24 is not
    classified = _classify(names) if names else None
    if classified is None or classified[0] not in ("delay", "retries"):
        return
    for side in (node.left, node.right):
        value = literal(side)
        if value is None or isinstance(value, bool) or not 1 < value < 10:
            continue  # growth factors are small; timeout * 1000.0 converts units
        label = "backoff base" if isinstance(node.op, ast.Pow) else "backoff multiplier"
        yield from knob(side, "multiplier", label, f"in `{snippet(node)}`", ["backoff"],
                        target=classified[0])


# -- applying moves ----------------------------------------------------------------------------


def _round_float(value: float) -> float:
    """Three significant digits: 0.375, 22.5, 64800.0."""
    return float(f"{value:.3g}")


def _apply(source: str, moves: list[Move]) -> str:
    """The function with the moves applied, on a fresh parse of the source (every node keeps its
    location: values change, and a dropped ``+ n`` leaves its left operand in place)."""
    tree = ast.parse(source)
    nodes = list(ast.walk(tree))
    drops: dict[int, ast.AST] = {}
    for move in moves:
        node = nodes[move.knob.index]
        if move.knob.role == "range-offset" and move.value == 0:
            parent = next(p for p in nodes if isinstance(p, ast.BinOp) and p.right is node)
            drops[id(parent)] = parent.left
        elif isinstance(node, ast.UnaryOp):
            node.operand.value = abs(move.value)
        else:
            node.value = move.value
    if drops:
        tree = _Substitute(drops).visit(tree)
    return ast.unparse(tree) + "\n"


class _Substitute(ast.NodeTransformer):
    """Replaces each node whose id is a key of ``replacements`` with the value."""

    def __init__(self, replacements: dict[int, ast.AST]) -> None:
        self.replacements = replacements

    def visit(self, node: ast.AST) -> ast.AST:
        if id(node) in self.replacements:
            return self.visit(self.replacements[id(node)])
        return super().visit(node)


# -- describing moves --------------------------------------------------------------------------


def _show(value: float | bool) -> str:
    return repr(value)


def _describe(moves: list[Move]) -> str:
    parts = []
    for move in moves:
        knob = move.knob
        if move.change == "flipped":
            parts.append(f"{knob.label} {_show(knob.value)} -> {_show(move.value)} {knob.where} (line {knob.line})")
        elif knob.role == "range-offset" and move.value == 0:
            parts.append(f"{knob.label} `{knob.target} + {knob.value}` -> `{knob.target}` {knob.where} "
                         f"(line {knob.line})")
        else:
            parts.append(f"{knob.label} {_show(knob.value)} -> {_show(move.value)} ({move.change}) {knob.where} "
                         f"(line {knob.line})")
    return "; ".join(parts)


def _reason(moves: list[Move]) -> str:
    reasons = [_reason_one(move) for move in moves]
    if len(reasons) == 1:
        return reasons[0]
    return " ".join(reasons) + " Moving these together tests whether the knobs interact rather than act alone."


def _reason_one(move: Move) -> str:
    knob, old, new = move.knob, move.knob.value, move.value
    up = not isinstance(new, bool) and abs(new) > abs(old)
    if knob.role == "comparison":
        return _reason_comparison(move, up)
    if knob.kind == "flag":
        return (f"Flipping {knob.label} to {new} {knob.where} takes the other code path that flag selects; "
                f"it shows whether the current {old} is a deliberate choice the callers rely on or an accident.")
    if knob.role == "multiplier":
        if new == 1:
            return (f"A multiplier of 1 (was {old}) turns the exponential backoff into a constant delay: retries "
                    f"stay evenly spaced, which keeps worst-case latency linear but gives an overloaded dependency "
                    f"no growing relief.")
        if up:
            return (f"A steeper backoff ({old} -> {new}) spreads later attempts out faster, giving an overloaded "
                    f"or rate-limiting dependency more room to recover; the total wait before giving up grows "
                    f"quickly with each attempt.")
        return (f"A gentler backoff ({old} -> {new}) keeps later attempts closer together, so recovery after a "
                f"short outage is noticed sooner; it backs off less from a service that is genuinely overloaded.")
    if knob.role == "range-offset":
        if knob.label == "retry-loop bound":
            if up:
                return (f"One more attempt (`{knob.target} + {new}`) rides out one more transient failure before "
                        f"the error reaches the caller, at the cost of one more wait and call in the worst case.")
            return (f"One attempt fewer (`{knob.target}{f' + {new}' if new else ''}`) bounds the worst-case "
                    f"latency and the load put on a failing dependency; a blip that one retry would have "
                    f"absorbed now surfaces.")
        return (f"Running the loop {'one more' if up else 'one fewer'} time (`{knob.target}` offset {old} -> {new}) "
                f"probes an off-by-one at the loop bound: whether the last iteration is needed or one is missing.")
    if knob.role == "table":
        return (f"The table `{knob.target}` maps {knob.detail} to {old}; {'raising' if up else 'lowering'} "
                f"that entry to {new} changes the result only for inputs that land on it, probing whether the "
                f"table was tuned to real data or copied from somewhere.")
    reason = _KIND_REASONS.get(knob.kind, _KIND_REASONS["other"])
    return reason(knob, old, new, up)


def _reason_comparison(move: Move, up: bool) -> str:
    knob = move.knob
    more = up == bool(knob.rises_when_larger)
    often = "more" if more else "fewer"
    effect = {
        "rejects": f"{often} inputs are rejected with {knob.detail}",
        "returns": f"the early `{knob.detail}` fires for {often} inputs",
        "leaves the loop": f"the loop's {knob.detail} triggers for {often} values",
        "branch": f"`{knob.detail}` runs for {often} inputs",
        "loops": f"the loop runs {'longer' if more else 'shorter'}",
        "filters": f"{often} items pass the filter",
        "picks": f"`{knob.detail}` is picked for {often} inputs",
        "value": f"the comparison is true for {often} inputs",
    }[knob.effect]
    if knob.kind == "size":
        why = ("a length or count limit like this is often a guess; real inputs near it show whether it is "
               "too strict (rejecting valid data) or too loose (letting oversized data through)")
    elif knob.effect == "rejects":
        why = ("validation bounds decide what counts as bad input; moving one shows which callers and data sit "
               "near the edge and whether the bound is a hard fact or a policy choice")
    else:
        why = ("the cut-off decides which regime a value falls into; inputs between the old and new value "
               "switch behaviour, exposing how sensitive results are to where the line is drawn")
    return f"With {move.value} instead of {knob.value} {knob.where}, {effect}: {why}."


def _timeout_reason(knob: Knob, old: Any, new: Any, up: bool) -> str:
    what = f"the call to {knob.target}" if knob.role == "keyword" and knob.target else "the guarded operation"
    if up:
        return (f"A longer timeout ({old} -> {new}) tolerates slow upstreams and large payloads without spurious "
                f"timeouts, at the cost of holding the caller longer when {what} is truly stuck.")
    return (f"A shorter timeout ({old} -> {new}) makes a stalled {what} fail fast, freeing the caller and "
            f"surfacing outages sooner; the risk is cutting off slow but healthy responses.")


def _retries_reason(knob: Knob, old: Any, new: Any, up: bool) -> str:
    if up:
        return (f"More attempts ({old} -> {new}) ride out transient flakiness — network blips, 5xx responses, "
                f"timeouts — before giving up; worst-case latency and the load on a struggling dependency grow "
                f"with every extra attempt.")
    if new == 0:
        return (f"No retries at all ({old} -> 0): every failure reaches the caller at once, which keeps latency "
                f"predictable and leaves retry policy to a layer that may already have one.")
    return (f"Fewer attempts ({old} -> {new}) bound worst-case latency and stop hammering a dependency that is "
            f"already failing, so errors surface sooner — at the price of failing on blips a retry would absorb.")


def _delay_reason(knob: Knob, old: Any, new: Any, up: bool) -> str:
    if knob.role == "sleep" and old == 0:
        return (f"`{knob.target}(0)` only yields to the event loop; a real pause of {new}s between iterations "
                f"acts as a crude rate limit, giving the other side and other tasks room at the cost of "
                f"{new}s per iteration.")
    if up:
        return (f"A longer {knob.label.strip('`=')} ({old}s -> {new}s) gives an overloaded or rate-limiting service "
                f"more time to recover between attempts and avoids retry storms; each wait adds latency.")
    if new == 0:
        return (f"No wait at all ({old}s -> 0) retries immediately: fastest recovery from a one-off glitch, "
                f"but no relief for a service that failed because it was overloaded.")
    return (f"A shorter {knob.label.strip('`=')} ({old}s -> {new}s) recovers from brief glitches with less added "
            f"latency; the risk is retrying into the same outage before it clears.")


def _ttl_reason(knob: Knob, old: Any, new: Any, up: bool) -> str:
    if up:
        return (f"A longer time-to-live ({old} -> {new}) keeps entries cached longer: a higher hit rate and fewer "
                f"upstream calls, at the cost of serving staler data and holding more memory.")
    return (f"A shorter time-to-live ({old} -> {new}) serves fresher data and frees memory sooner, at the cost of "
            f"more misses and more calls to the source.")


def _size_reason(knob: Knob, old: Any, new: Any, up: bool) -> str:
    tokens = set(name_tokens(knob.label, knob.target))
    bigger = "larger" if up else "smaller"
    if tokens & {"page", "pages", "batch", "chunk", "limit", "items"}:
        if up:
            return (f"Larger batches ({old} -> {new}) mean fewer round trips and less per-call overhead over big "
                    f"collections, but more memory and latency per call and more work lost when one call fails.")
        return (f"Smaller batches ({old} -> {new}) lower memory and per-call latency and lose less work on a "
                f"failure, at the cost of more round trips over big collections.")
    if tokens & {"capacity", "entries", "maxlen", "maxsize", "buffer", "pool"}:
        effect = ("keeps more entries: fewer evictions and a higher hit rate, for more memory" if up
                  else "bounds memory more tightly, at the cost of more evictions and misses")
        return f"A {bigger} capacity ({old} -> {new}) {effect}."
    if tokens & {"concurrency", "workers"}:
        effect = ("raises throughput while the other side keeps up, but puts more pressure on it" if up
                  else "eases pressure on the other side and on local resources, at the cost of throughput")
        return f"{'More' if up else 'Less'} concurrency ({old} -> {new}) {effect}."
    if tokens & {"window"}:
        effect = ("smooths more noise but reacts later to real changes" if up
                  else "reacts faster to real changes but passes more noise through")
        return f"A {'wider' if up else 'narrower'} window ({old} -> {new}) {effect}."
    if tokens & {"precision", "digits"}:
        if up:
            return (f"Rounding to {new} digits instead of {old} {knob.where} keeps precision that callers comparing "
                    f"or summing these values may need, at the cost of noisier output.")
        return (f"Rounding to {new} digits instead of {old} {knob.where} gives steadier, more readable values and "
                f"hides float noise, at the cost of precision that downstream sums may need.")
    return (f"A {bigger} {knob.label.strip('`=')} ({old} -> {new}) {knob.where} changes how much is handled per "
            f"step; it tests whether the current size is tuned or arbitrary.")


def _ratio_reason(knob: Knob, old: Any, new: Any, up: bool) -> str:
    return (f"A {'higher' if up else 'lower'} {knob.label.strip('`=')} ({old} -> {new}) {knob.where} scales every "
            f"result that depends on it; checking how outputs move with it shows whether {old} is a business rule "
            f"or a placeholder.")


def _threshold_reason(knob: Knob, old: Any, new: Any, up: bool) -> str:
    return (f"{'Raising' if up else 'Lowering'} {knob.label.strip('`=')} ({old} -> {new}) {knob.where} moves the "
            f"boundary between the two behaviours it separates; values near the old boundary now fall on the "
            f"other side.")


def _other_reason(knob: Knob, old: Any, new: Any, up: bool) -> str:
    return (f"{knob.label} is hard-coded as {old} {knob.where}; trying {new} probes whether behaviour is "
            f"sensitive to it or the value is incidental.")


_KIND_REASONS = {
    "timeout": _timeout_reason, "retries": _retries_reason, "delay": _delay_reason, "ttl": _ttl_reason,
    "size": _size_reason, "ratio": _ratio_reason, "threshold": _threshold_reason, "other": _other_reason,
}


@hookimpl
def register_generators(register) -> None:
    register(ParameterGenerator)
