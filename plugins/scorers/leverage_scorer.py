"""The ``leverage`` scorer: how far a dream's idea could reach.

The idea of a dream is its change against the base, in three parts: the structure it adds and the
structure it removes (the structural tokens of ``dreamcore.analysis.shape.structural_tokens``: node types,
parent.field>child edges, node-type pairs in order), and the knobs it retunes (the places in the
base — a keyword, parameter default, assigned name, called function or compared name — of numeric
constants the dream no longer has as often). A procedure of ANOTHER project takes the idea when it is related
to the base (``RelatedIndex`` score >= ``min_related``, among the ``candidates`` best), contains
everything the idea removes, has every knob it retunes, and lacks something the idea adds (else it
has the idea already). ``cross_project_matches`` is how many procedures take it; ``base_callers``
how many procedures of the base's own project call the base. The score is
match_weight * min(1, matches / match_scale) + (1 - match_weight) * min(1, callers / caller_scale).
"""

from __future__ import annotations

import ast
import textwrap
from collections import Counter
from collections.abc import Sequence
from functools import cached_property

import attrs

from dreamcore import hookimpl
from dreamcore.analysis.shape import structural_tokens
from dreamcore.learning.scoring import Score, ScoringContext
from dreamcore.models import DreamProcedure, Procedure


@attrs.frozen(slots=False)
class Shape:
    """What an idea is matched against: structural tokens, constants and knobs (place=value) of code."""

    structure: Counter[str]
    names: Counter[str]
    knobs: Counter[str]

    @cached_property
    def places(self) -> frozenset[str]:
        return frozenset(knob.split("=", 1)[0] for knob in self.knobs)


def _place(node: ast.AST, parent: ast.AST | None) -> str:
    """Where a numeric constant sits: the name it configures, or '' when it configures nothing named."""
    if isinstance(parent, ast.keyword) and parent.arg:
        return parent.arg
    if isinstance(parent, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        targets = parent.targets if isinstance(parent, ast.Assign) else [parent.target]
        names = [t.id if isinstance(t, ast.Name) else getattr(t, "attr", "") for t in targets]
        return names[0] if names else ""
    if isinstance(parent, ast.Call):
        func = parent.func
        return func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
    if isinstance(parent, ast.Compare) and isinstance(parent.left, (ast.Name, ast.Attribute)):
        return parent.left.id if isinstance(parent.left, ast.Name) else parent.left.attr
    return ""


_NODE_FIELDS: dict[type, tuple[str, ...]] = {}
_NUMBERS = (int, float)


def _node_fields(cls: type) -> tuple[str, ...]:
    """The fields of an AST class that can hold nodes (cached per class)."""
    fields = _NODE_FIELDS.get(cls)
    if fields is None:
        fields = _NODE_FIELDS[cls] = tuple(f for f in cls._fields if f not in ("ctx", "type_comment"))
    return fields


def _defaults(node: ast.arguments) -> dict[int, str]:
    """id(default value node) -> the parameter it belongs to."""
    positional = [*node.posonlyargs, *node.args]
    named = {id(d): a.arg for a, d in zip(positional[len(positional) - len(node.defaults):], node.defaults)}
    named.update({id(d): a.arg for a, d in zip(node.kwonlyargs, node.kw_defaults) if d is not None})
    return named


def knobs(source: str) -> Counter[str]:
    """Numeric constants of a function with a named place, as "place=value" (ValueError if it does not parse)."""
    try:
        tree = ast.parse(textwrap.dedent(source))
    except SyntaxError as exc:
        raise ValueError(str(exc)) from None
    found: list[str] = []
    defaults: dict[int, str] = {}
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        cls = node.__class__
        if cls is ast.arguments:
            defaults.update(_defaults(node))
        for field in _node_fields(cls):
            value = getattr(node, field, None)
            for child in value if value.__class__ is list else (value,):
                if not isinstance(child, ast.AST):
                    continue
                stack.append(child)
                if child.__class__ is ast.Constant and child.value.__class__ in _NUMBERS:
                    place = defaults.get(id(child)) or _place(child, node)
                    if place:
                        found.append(f"{place}={child.value!r}")
    return Counter(found)


def shape(source: str, with_knobs: bool = True) -> Shape:
    """The structure, constants and (unless ``with_knobs`` is False) knobs of a function's source."""
    structure, names = structural_tokens(textwrap.dedent(source))
    return Shape(structure, names, knobs(source) if with_knobs else Counter())


@attrs.frozen
class Idea:
    """A dream's change against its base (see the module docstring)."""

    added: Counter[str]
    removed: Counter[str]
    retuned: frozenset[str]

    @classmethod
    def between(cls, base: Shape, dream: Shape) -> Idea:
        """The change from ``base`` (with knobs) to ``dream`` (knobs not needed)."""
        retuned = set()
        for knob in base.knobs:
            place, value = knob.split("=", 1)
            if dream.names["=" + value] < base.names["=" + value]:
                retuned.add(place)
        return cls(dream.structure - base.structure, base.structure - dream.structure, frozenset(retuned))

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.retuned)

    def applies_to(self, target: Shape) -> bool:
        """True when ``target`` has what the idea changes and lacks something it adds."""
        if not self.retuned <= target.places:
            return False
        if any(target.structure[token] < count for token, count in self.removed.items()):
            return False
        return not self.added or any(target.structure[token] < count for token, count in self.added.items())


class LeverageScorer:
    """Cross-project matches of the dream's idea, and callers of its base."""

    name = "leverage"

    @attrs.define(kw_only=True)
    class Config:
        """How leverage is measured and scaled."""

        candidates: int = attrs.field(default=50, validator=attrs.validators.ge(1), metadata={
            "help": "related procedures of other projects considered per base procedure"})
        min_related: float = attrs.field(default=0.05, validator=attrs.validators.ge(0.0), metadata={
            "help": "least relatedness (0-1) for a procedure of another project to be considered"})
        match_scale: int = attrs.field(default=3, validator=attrs.validators.ge(1), metadata={
            "help": "cross-project matches that give the full match part"})
        caller_scale: int = attrs.field(default=5, validator=attrs.validators.ge(1), metadata={
            "help": "callers of the base that give the full caller part"})
        match_weight: float = attrs.field(
            default=0.75, validator=[attrs.validators.ge(0.0), attrs.validators.le(1.0)],
            metadata={"help": "weight of cross-project matches; callers get the rest"})

    def __init__(self, config: Config | None = None) -> None:
        self.config = config or self.Config()

    def score(self, dreams: Sequence[DreamProcedure], context: ScoringContext) -> list[Score]:
        shapes: dict[int, Shape | None] = {}
        candidates: dict[int, list[Procedure]] = {}
        scores = []
        for dream in dreams:
            base = context.base(dream)
            if base is None:
                scores.append(Score(None))
                continue
            if base.id not in candidates:
                related = context.related_index.related(base, limit=self.config.candidates)
                candidates[base.id] = [p for p, s in related if s >= self.config.min_related]
            matches = self.matches(dream, base, candidates[base.id], shapes)
            callers = context.callers(base)
            c = self.config
            value = c.match_weight * min(1.0, matches / c.match_scale)
            value += (1 - c.match_weight) * min(1.0, callers / c.caller_scale)
            scores.append(Score(value, {"cross_project_matches": matches, "base_callers": callers}))
        return scores

    @staticmethod
    def matches(dream: DreamProcedure, base: Procedure, others: list[Procedure], shapes: dict) -> int:
        """How many of ``others`` take the dream's idea."""
        def shape_of(procedure: Procedure) -> Shape | None:
            if procedure.id not in shapes:
                try:
                    shapes[procedure.id] = shape(procedure.source)
                except ValueError:
                    shapes[procedure.id] = None
            return shapes[procedure.id]

        base_shape = shape_of(base)
        try:
            idea = Idea.between(base_shape, shape(dream.code, with_knobs=False)) if base_shape else None
        except ValueError:
            idea = None
        if not idea:
            return 0
        return sum(1 for other in others if (target := shape_of(other)) is not None and idea.applies_to(target))


@hookimpl
def register_scorers(register) -> None:
    register(LeverageScorer)
