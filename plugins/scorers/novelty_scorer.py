"""The ``novelty`` scorer: how far a dream's structure is from its base and every earlier dream of it.

Novelty is the structural distance (``dreamcore.analysis.shape.structural_distance``) to the nearest of
the base procedure and the dreams of the same base generated before it, so a dream that repeats
its base or an earlier dream scores 0. The distance is a metric, so an earlier dream ``e`` is
compared only when the triangle inequality allows it to be nearer: |d(x, base) - d(e, base)| < best,
the most promising first.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

from dreamcore import hookimpl
from dreamcore.analysis.shape import structural_distance
from dreamcore.learning.scoring import ScoringContext
from dreamcore.models import DreamProcedure


def nearest_distance(code: str, base: str, earlier: Sequence[tuple[int, str]], base_distances: dict[int, float]) -> float:
    """Distance from ``code`` to the nearest of ``base`` and ``earlier`` ((id, code) pairs);
    ``base_distances`` caches each earlier dream's distance to the base, by id. Earlier dreams are
    tried by their lower bound |d(code, base) - d(other, base)|, smallest first, until the bound
    reaches the best distance found."""
    own = best = structural_distance(code, base)
    bounds = []
    for other_id, other in earlier:
        other_to_base = base_distances.get(other_id)
        if other_to_base is None:
            other_to_base = base_distances[other_id] = structural_distance(other, base)
        bounds.append((abs(own - other_to_base), other_id, other))
    bounds.sort(key=lambda bound: bound[0])
    for bound, _, other in bounds:
        if bound >= best:
            break
        best = min(best, structural_distance(code, other))
    return best


class NoveltyScorer:
    """Structural distance from the base and from all earlier dreams of the same procedure."""

    name = "novelty"

    def score(self, dreams: Sequence[DreamProcedure], context: ScoringContext) -> list[float | None]:
        cache: dict[int, dict[int, float]] = {}
        scores: list[float | None] = []
        for dream in dreams:
            base = context.base(dream)
            if base is None:
                scores.append(None)
                continue
            try:
                scores.append(nearest_distance(dream.code, textwrap.dedent(base.source), context.earlier(dream),
                                               cache.setdefault(dream.base_procedure_id, {})))
            except ValueError:  # a base that does not parse: nothing to compare with
                scores.append(None)
        return scores


@hookimpl
def register_scorers(register) -> None:
    register(NoveltyScorer)
