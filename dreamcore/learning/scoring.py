"""Scoring dreams: what scorers receive (``ScoringContext``), what they return, the compound score.

A scorer (``register_scorers``) fills one component of the compound score — one of the built-in
four (novelty, quality, leverage, efficiency) or one a plugin adds (``[plugins.score.components]``)
— for a whole batch of dreams at once:
``score(dreams, context) -> list[float | Score | None]`` in the dreams' order, each value in [0, 1]
or None when the dream has no data for it yet (an unevaluated dream has no quality). The compound
score is the weighted sum of the components, a missing one counting 0.
"""

from __future__ import annotations

import ast
import math
import textwrap
from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

import attrs

from dreamcore.errors import PluginError
from dreamcore.models import SCORE_COMPONENTS, DreamProcedure, Procedure, utcnow

if TYPE_CHECKING:
    from dreamcore.analysis.related import RelatedIndex
    from dreamcore.core import DreamCore
    from dreamcore.store.dream_store import DreamStore

DEFAULT_WEIGHTS = {"novelty": 0.60, "quality": 0.15, "leverage": 0.15, "efficiency": 0.10}
COLUMNS = {component: f"{component}_score" for component in SCORE_COMPONENTS}
FIGURES = ("cross_project_matches", "base_callers")  # dream columns a scorer may set besides its score


@attrs.frozen
class Score:
    """A scorer's value for one dream, with figures it measured on the way (``FIGURES`` keys)."""

    value: float | None
    figures: Mapping[str, int] = attrs.field(factory=dict)


def check_weights(weights: Mapping[str, float]) -> dict[str, float]:
    """The component weights — the built-in four, then any a plugin adds — each >= 0, summing to 1
    (ValueError naming what is wrong)."""
    missing = [c for c in SCORE_COMPONENTS if c not in weights]
    if missing:
        raise ValueError(f"weights must name exactly {', '.join(SCORE_COMPONENTS)} and any added components")
    negative = [c for c in weights if not weights[c] >= 0]
    if negative:
        raise ValueError(f"weight of {negative[0]!r} must be >= 0, got {weights[negative[0]]:g}")
    total = sum(weights.values())
    if not math.isclose(total, 1.0, abs_tol=1e-6):
        raise ValueError(f"the weights must sum to 1, got {total:g}")
    return {c: float(weights[c]) for c in [*SCORE_COMPONENTS, *(c for c in weights if c not in COLUMNS)]}


def compound(values: Mapping[str, float | None], weights: Mapping[str, float]) -> float:
    """The weighted sum of the component values (a missing value counts 0), in [0, 1]."""
    return sum(weight * (values.get(c) or 0.0) for c, weight in weights.items())


def called_names(source: str) -> frozenset[str]:
    """Names a function's code calls: ``f(...)`` gives f, ``obj.f(...)`` gives f."""
    try:
        tree = ast.parse(textwrap.dedent(source))
    except (SyntaxError, ValueError):
        return frozenset()
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            if isinstance(node.func, ast.Name):
                names.add(node.func.id)
            elif isinstance(node.func, ast.Attribute):
                names.add(node.func.attr)
    return frozenset(names)


class ScoringContext:
    """What scorers share for one batch: the base procedures, earlier dreams, callers, related
    procedures. Each part is computed on first use, once per batch; a cycle passes the related index
    it already built for generation."""

    def __init__(self, store: DreamStore, dreams: Sequence[DreamProcedure], now: datetime | None = None,
                 related_index: RelatedIndex | None = None) -> None:
        self.store = store
        self.dreams = dreams
        self.now = now or utcnow()
        if related_index is not None:
            self.related_index = related_index  # fills the cached property

    @cached_property
    def procedures(self) -> dict[int, Procedure]:
        """Every stored procedure version, by id."""
        return {p.id: p for p in self.store.get_procedures(current_only=False)}

    @cached_property
    def current(self) -> list[Procedure]:
        """The current version of every procedure."""
        return self.store.get_procedures()

    def base(self, dream: DreamProcedure) -> Procedure | None:
        """The procedure a dream varies (None if it was deleted)."""
        return self.procedures.get(dream.base_procedure_id)

    @cached_property
    def _earlier(self) -> dict[int, list[tuple[int, datetime, str]]]:
        return self.store.dream_codes({d.base_procedure_id for d in self.dreams})

    def earlier(self, dream: DreamProcedure) -> list[tuple[int, str]]:
        """(id, code) of the dreams of the same base generated before this one, oldest first."""
        key = (dream.generated_at, dream.id if dream.id is not None else math.inf)
        return [(i, code) for i, at, code in self._earlier.get(dream.base_procedure_id, ()) if (at, i) < key]

    @cached_property
    def _callers(self) -> dict[tuple[str, str], int]:
        """(project, function name) -> how many current procedures of that project call it."""
        counts: dict[tuple[str, str], int] = {}
        for procedure in self.current:
            for name in called_names(procedure.source) - {procedure.name}:
                counts[procedure.project, name] = counts.get((procedure.project, name), 0) + 1
        return counts

    def callers(self, procedure: Procedure) -> int:
        """How many other procedures of the procedure's own project call it (by name)."""
        return self._callers.get((procedure.project, procedure.name), 0)

    @cached_property
    def related_index(self) -> RelatedIndex:
        """Related procedures across projects, over the current procedures."""
        from dreamcore.analysis.related import RelatedIndex

        return RelatedIndex(self.current)


def run_scorers(
    core: DreamCore, dreams: Sequence[DreamProcedure], weights: Mapping[str, float],
    scorers: Mapping[str, str], context: ScoringContext | None = None,
) -> list[dict[str, Any]]:
    """Score dreams with one scorer per component; rows for ``DreamStore.record_scores``.
    ``context`` may be shared by several batches (it must cover their dreams)."""
    context = context or ScoringContext(core.store, dreams)
    rows = [
        {"id": d.id, "cross_project_matches": d.cross_project_matches, "base_callers": d.base_callers,
         "extra_scores": {}, "scored_at": context.now}
        for d in dreams
    ]
    for component in weights:
        name = scorers.get(component, component)
        results = core.create("scorers", name).score(dreams, context)
        if len(results) != len(dreams):
            raise PluginError(f"scorer {name!r} returned {len(results)} scores for {len(dreams)} dreams")
        for row, result in zip(rows, results):
            score = result if isinstance(result, Score) else Score(result)
            if score.value is not None and not 0.0 <= score.value <= 1.0:
                raise PluginError(f"scorer {name!r}: score {score.value!r} of dream {row['id']} is not in [0, 1]")
            if component in COLUMNS:
                row[COLUMNS[component]] = score.value
            else:
                row["extra_scores"][component] = score.value
            row.update({key: int(value) for key, value in score.figures.items() if key in FIGURES})
    for row in rows:
        values = {c: row[column] for c, column in COLUMNS.items()} | row["extra_scores"]
        row["compound_score"] = compound(values, weights)
    return rows
