"""The ``quality`` scorer: what the judge and the tests said of a dream.

quality = viability_weight * viability + tier_weight * tier value + test_weight * test value, where a
tier is worth 1 (viable), 0.5 (speculative) or 0 (archive), and a test success 1, a failure, error
or timeout 0; an untested dream's test value is its tier value (no evidence beyond the judge's). A
dream not evaluated yet has no quality (None).
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from dreamcore import hookimpl
from dreamcore.learning.scoring import ScoringContext
from dreamcore.models import DreamProcedure, DreamTier, TestOutcome

TIER_VALUES = {DreamTier.VIABLE: 1.0, DreamTier.SPECULATIVE: 0.5, DreamTier.ARCHIVE: 0.0}


class QualityScorer:
    """Viability, tier and test outcome combined."""

    name = "quality"

    @attrs.define(kw_only=True)
    class Config:
        """Weights of the quality score's parts (they must sum to 1)."""

        viability_weight: float = attrs.field(default=0.4, validator=attrs.validators.ge(0.0),
                                              metadata={"help": "weight of the judge's viability score"})
        tier_weight: float = attrs.field(default=0.3, validator=attrs.validators.ge(0.0),
                                         metadata={"help": "weight of the tier (1: 1.0, 2: 0.5, 3: 0.0)"})
        test_weight: float = attrs.field(default=0.3, validator=attrs.validators.ge(0.0),
                                         metadata={"help": "weight of the test outcome (success 1.0, else 0.0)"})

        def __attrs_post_init__(self) -> None:
            total = self.viability_weight + self.tier_weight + self.test_weight
            if abs(total - 1.0) > 1e-6:
                raise ValueError(f"viability_weight + tier_weight + test_weight must sum to 1, got {total:g}")

    def __init__(self, config: Config | None = None) -> None:
        self.config = config or self.Config()

    def quality(self, dream: DreamProcedure) -> float | None:
        """One dream's quality, or None before it is evaluated."""
        if dream.tier is None and dream.viability_score is None:
            return None
        tier = TIER_VALUES[dream.tier] if dream.tier is not None else dream.viability_score
        viability = dream.viability_score if dream.viability_score is not None else tier
        if dream.test_outcome == TestOutcome.PENDING:
            test = tier
        else:
            test = 1.0 if dream.test_outcome == TestOutcome.SUCCESS else 0.0
        c = self.config
        return min(1.0, max(0.0, c.viability_weight * viability + c.tier_weight * tier + c.test_weight * test))

    def score(self, dreams: Sequence[DreamProcedure], context: ScoringContext) -> list[float | None]:
        return [self.quality(dream) for dream in dreams]


@hookimpl
def register_scorers(register) -> None:
    register(QualityScorer)
