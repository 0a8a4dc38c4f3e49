"""The learning stages of a cycle: ``score`` (50), ``adapt`` (60) and ``archive`` (70).

score: every dream not scored yet, or evaluated or tested since it was scored, gets its four
component scores and compound score; then the cycle's DreamMetrics row is stored. adapt: the
bandit's plan for the next cycle (``dreamcore.learning.adaptation``). archive: tier-3 dreams past their age
are archived (still queryable), and archived dreams optionally purged. Each works from whatever the
store holds, so they run when no evaluate or test stage is installed.
"""

from __future__ import annotations

import math
import random
from datetime import timedelta
from typing import Any

import attrs

from dreamcore.config import InvalidValue, documented
from dreamcore.hookspecs import hookimpl
from dreamcore.learning.adaptation import (
    AdaptConfig,
    Posterior,
    candidate_arms,
    collect_hints,
    collect_posteriors,
    make_plan,
)
from dreamcore.learning.health import compute_metrics, label
from dreamcore.learning.scoring import DEFAULT_WEIGHTS, ScoringContext, check_weights, run_scorers
from dreamcore.models import SCORE_COMPONENTS, utcnow
from dreamcore.pipeline import Cycle

SCORE_BATCH = 1000  # dreams scored and written back at a time (their shapes stay in the analysis cache)


def _weight(component: str, default: float) -> Any:
    return attrs.field(default=default, validator=attrs.validators.ge(0.0), metadata={
        "help": f"weight of {component} in the compound score (all weights must sum to 1)"})


@attrs.define(kw_only=True)
class AddedComponent:
    """A compound-score component a scorer plugin adds: ``[plugins.score.components.<name>]``."""

    weight: float = attrs.field(validator=attrs.validators.ge(0.0), metadata=documented(
        "its weight in the compound score (with the built-in four, the weights must sum to 1)"))
    scorer: str | None = attrs.field(default=None, metadata=documented("the scorer that fills it (default: its name)"))


def _component_names(instance: Any, attribute: attrs.Attribute, value: dict[str, AddedComponent]) -> None:
    for name in value:
        if name in SCORE_COMPONENTS or not name.isidentifier():
            raise InvalidValue(attribute.name, f"{name!r} is a built-in component or not a plain name")


def _scorer(component: str) -> Any:
    return attrs.field(default=component, metadata={"help": f"the scorer plugin that fills the {component} component"})


class ScoreStage:
    """Score new and changed dreams, then record the cycle's health metrics."""

    name = "score"
    order = 50

    @attrs.define(kw_only=True)
    class Config:
        """The compound score and the health metrics."""

        novelty_weight: float = _weight("novelty", DEFAULT_WEIGHTS["novelty"])
        quality_weight: float = _weight("quality", DEFAULT_WEIGHTS["quality"])
        leverage_weight: float = _weight("leverage", DEFAULT_WEIGHTS["leverage"])
        efficiency_weight: float = _weight("efficiency", DEFAULT_WEIGHTS["efficiency"])
        novelty_scorer: str = _scorer("novelty")
        quality_scorer: str = _scorer("quality")
        leverage_scorer: str = _scorer("leverage")
        efficiency_scorer: str = _scorer("efficiency")
        components: dict[str, AddedComponent] = attrs.field(factory=dict, validator=_component_names, metadata=documented(
            "components scorer plugins add to the compound score, by name: {weight = 0.1, scorer = \"...\"}"))
        window_days: int = attrs.field(
            default=7, validator=attrs.validators.ge(1),
            metadata={"help": "a cycle's metrics cover the dreams generated in the last N days"})

        def __attrs_post_init__(self) -> None:
            check_weights(self.weights)

        @property
        def weights(self) -> dict[str, float]:
            """The component weights, by component."""
            added = {name: c.weight for name, c in self.components.items()}
            return {c: getattr(self, f"{c}_weight") for c in SCORE_COMPONENTS} | added

        @property
        def scorers(self) -> dict[str, str]:
            """The scorer of each component."""
            added = {name: c.scorer or name for name, c in self.components.items()}
            return {c: getattr(self, f"{c}_scorer") for c in SCORE_COMPONENTS} | added

    def __init__(self, config: Config | None = None) -> None:
        self.config = config or self.Config()

    async def run(self, cycle: Cycle) -> None:
        if cycle.dry_run:
            return
        core, weights = cycle.core, self.config.weights
        dreams = core.store.dreams_to_score()
        cycle.progress.start(self.name, len(dreams))
        context = ScoringContext(core.store, dreams, related_index=cycle.related_index)
        for start in range(0, len(dreams), SCORE_BATCH):
            batch = dreams[start : start + SCORE_BATCH]
            core.store.record_scores(run_scorers(core, batch, weights, self.config.scorers, context))
            cycle.progress.advance(self.name, len(batch))
        metrics = compute_metrics(core.store, weights, self.config.window_days)
        metrics.run_id = cycle.run.id
        core.store.store_metrics(metrics)
        health = round(metrics.compound_health_score, 4)
        cycle.report[self.name] = {"scored": len(dreams), "health": health, "label": label(health)}
        cycle.progress.finish(self.name, f"{len(dreams)} dreams scored, health {health:.3f} ({label(health)})")


class AdaptStage:
    """Plan the next cycle: variants, temperature and hints per arm, each decision with its reason."""

    name = "adapt"
    order = 60
    Config = AdaptConfig

    def __init__(self, config: AdaptConfig | None = None) -> None:
        self.config = config or AdaptConfig()

    async def run(self, cycle: Cycle) -> None:
        if cycle.dry_run:
            return
        config, store = self.config, cycle.core.store
        if config.mode != "adaptive":
            latest = store.latest_plan() if config.mode == "frozen" else None
            cycle.report[self.name] = {"mode": config.mode, "plan": latest.id if latest else None}
            return
        now = utcnow()
        procedures = {p.id: p for p in store.get_procedures(current_only=False)}
        domains, since = config.domains(), config.since(now)
        posteriors = collect_posteriors(store, procedures, domains, since)
        generators = [cycle.core.create("generators", name) for name in cycle.strategy.generators]
        for arm in candidate_arms(generators, cycle.current_procedures(), domains):
            posteriors.setdefault(arm, Posterior())
        variants = cycle.strategy.variants
        plan = make_plan(
            posteriors, collect_hints(store, procedures, domains, since, config), config,
            budget=variants * len(posteriors), cap=max(1, math.floor(variants * config.max_variants_factor)),
            rng=random.Random(f"{cycle.seed}:adapt"),
        )
        plan.run_id = cycle.run.id
        store.save_plan(plan)
        valuable = sorted({d.domain for d in plan.decisions if d.high_value})
        cycle.report[self.name] = {"plan": plan.id, "arms": len(plan.decisions), "budget": plan.budget,
                                   "high_value_domains": valuable}
        cycle.progress.note(f"adapt: plan {plan.id}, {len(plan.decisions)} arms, high-value: "
                            f"{', '.join(valuable) or 'none'}")


class ArchiveStage:
    """Archive old tier-3 dreams; purge old archived ones when configured."""

    name = "archive"
    order = 70

    @attrs.define(kw_only=True)
    class Config:
        """Retention of dreams."""

        max_age_days: float = attrs.field(
            default=10.0, validator=attrs.validators.gt(0.0),
            metadata={"help": "tier-3 dreams older than this many days are archived (the seed kept 7-10)"})
        purge_after_days: float = attrs.field(
            default=0.0, validator=attrs.validators.ge(0.0),
            metadata={"help": "delete archived dreams older than this many days (adopted ones are kept); 0 = never"})

    def __init__(self, config: Config | None = None) -> None:
        self.config = config or self.Config()

    async def run(self, cycle: Cycle) -> None:
        if cycle.dry_run:
            return
        store, now = cycle.core.store, utcnow()
        archived = store.archive_dreams(now - timedelta(days=self.config.max_age_days))
        purged = 0
        if self.config.purge_after_days:
            purged = store.purge_archived(now - timedelta(days=self.config.purge_after_days))
        cycle.report[self.name] = {"archived": archived, "purged": purged}


@hookimpl
def register_stages(register) -> None:
    register(ScoreStage)
    register(AdaptStage)
    register(ArchiveStage)
