"""The ``efficiency`` scorer: how much faster a tested dream runs than its base.

A dream that passed its tests scores 0.5 + 0.5 * log2(speedup) / log2(full_speedup), clipped to
[0, 1]: as fast as the base 0.5, ``full_speedup`` times faster 1, that many times slower 0. A dream
that failed, erred or timed out (it used up its time budget) scores 0. Untested dreams, and passes
without a measured speedup, have no efficiency (None).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import attrs

from dreamcore import hookimpl
from dreamcore.learning.scoring import ScoringContext
from dreamcore.models import DreamProcedure, TestOutcome


class EfficiencyScorer:
    """Speedup and resource use measured by the sandbox tests."""

    name = "efficiency"

    @attrs.define(kw_only=True)
    class Config:
        """How speedups map to scores."""

        full_speedup: float = attrs.field(
            default=4.0, validator=attrs.validators.gt(1.0),
            metadata={"help": "speedup (base time / dream time) that scores 1.0; its inverse scores 0.0"},
        )

    def __init__(self, config: Config | None = None) -> None:
        self.config = config or self.Config()

    def efficiency(self, dream: DreamProcedure) -> float | None:
        """One dream's efficiency, or None when its tests measured nothing."""
        if dream.test_outcome == TestOutcome.PENDING:
            return None
        if dream.test_outcome != TestOutcome.SUCCESS:
            return 0.0
        if dream.speedup is None or dream.speedup <= 0:
            return None
        value = 0.5 + 0.5 * math.log2(dream.speedup) / math.log2(self.config.full_speedup)
        return min(1.0, max(0.0, value))

    def score(self, dreams: Sequence[DreamProcedure], context: ScoringContext) -> list[float | None]:
        return [self.efficiency(dream) for dream in dreams]


@hookimpl
def register_scorers(register) -> None:
    register(EfficiencyScorer)
