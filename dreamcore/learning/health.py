"""System health: the DreamMetrics row of a cycle, its label and trend, and return on spend.

Every figure is counted from the store. A cycle's row covers the dreams generated in the
``window_days`` before it (so dreams evaluated, tested or adopted later in the week count) and the
finished runs that started in that window.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from dreamcore.learning.scoring import compound
from dreamcore.models import (
    SCORE_COMPONENTS,
    DreamGenerationRun,
    DreamMetrics,
    DreamProcedure,
    DreamTier,
    TestOutcome,
    component_scores,
    is_success,
    utcnow,
)

if TYPE_CHECKING:
    from dreamcore.store.dream_store import DreamStore

HIGH_NOVELTY = 0.7  # the seed's threshold: novelty above it counts as high
LABELS = ((0.6, "healthy"), (0.3, "fair"), (0.0, "poor"))  # compound health score >= bound -> label
TREND_DAYS = 30
TREND_CHANGE = 0.05  # compound change over the trend window that counts as improving or declining
TESTED = (TestOutcome.SUCCESS, TestOutcome.FAILURE, TestOutcome.ERROR, TestOutcome.TIMEOUT)


def _mean(values: Iterable[float | None]) -> float:
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if known else 0.0


def _calls(run: DreamGenerationRun) -> int:
    return sum(int(counters.get("calls", 0)) for counters in run.model_usage.values() if isinstance(counters, dict))


def metrics_of(
    dreams: list[DreamProcedure], runs: list[DreamGenerationRun], adopted: set[int], weights: Mapping[str, float]
) -> DreamMetrics:
    """The seed's metrics over these dreams and runs (``adopted``: ids of adopted dreams)."""
    tiers = {tier: [d for d in dreams if d.tier == tier] for tier in DreamTier}
    tier1_tested = [d for d in tiers[DreamTier.VIABLE] if d.test_outcome in TESTED]
    successes = sum(1 for d in tier1_tested if d.test_outcome == TestOutcome.SUCCESS)
    reusable = [d for d in dreams if d.cross_project_matches >= 1]
    finished = [r for r in runs if r.status != "running"]
    generated = sum(r.total_dreams_generated for r in finished)
    scores = [component_scores(d) for d in dreams]
    components = {c: _mean(s.get(c) for s in scores) for c in weights}
    return DreamMetrics(
        total_dreams=len(dreams),
        average_viability_score=_mean(d.viability_score for d in dreams),
        tier1_count=len(tiers[DreamTier.VIABLE]),
        tier2_count=len(tiers[DreamTier.SPECULATIVE]),
        tier3_count=len(tiers[DreamTier.ARCHIVE]),
        tier1_test_success_rate=successes / len(tier1_tested) if tier1_tested else 0.0,
        tier1_tested_count=len(tier1_tested),
        average_novelty_score=components["novelty"],
        high_novelty_count=sum(1 for d in dreams if d.novelty_score is not None and d.novelty_score > HIGH_NOVELTY),
        cross_project_adoption_rate=sum(1 for d in reusable if d.id in adopted) / len(reusable) if reusable else 0.0,
        adopted_count=sum(1 for d in dreams if d.id in adopted),
        average_generation_time=sum(r.duration_seconds for r in finished) / generated if generated else 0.0,
        api_requests_per_dream=sum(_calls(r) for r in finished) / generated if generated else 0.0,
        novelty_component=components["novelty"],
        quality_component=components["quality"],
        leverage_component=components["leverage"],
        efficiency_component=components["efficiency"],
        extra_components={c: value for c, value in components.items() if c not in SCORE_COMPONENTS},
        compound_health_score=compound(components, weights),
    )


def compute_metrics(
    store: DreamStore, weights: Mapping[str, float], window_days: int, now: datetime | None = None
) -> DreamMetrics:
    """The metrics row for ``now``: dreams and runs of the ``window_days`` before it."""
    now = now or utcnow()
    since = now - timedelta(days=window_days)
    metrics = metrics_of(store.dreams_between(since, now), store.get_runs_between(since, now),
                         store.adopted_dream_ids(), weights)
    metrics.timestamp = now
    return metrics


def label(score: float) -> str:
    """healthy (>= 0.6, the seed's bar), fair (>= 0.3) or poor."""
    return next(name for bound, name in LABELS if score >= bound)


def trend(rows: list[DreamMetrics]) -> dict[str, Any]:
    """Direction of the compound health score over rows (oldest first): the least-squares slope
    times the window, compared with ``TREND_CHANGE``."""
    if len(rows) < 2:
        return {"direction": "stable", "change": 0.0, "points": len(rows)}
    start = rows[0].timestamp
    xs = [(row.timestamp - start).total_seconds() / 86400 for row in rows]
    ys = [row.compound_health_score for row in rows]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys)) / spread if spread else 0.0
    change = slope * TREND_DAYS
    direction = "improving" if change > TREND_CHANGE else "declining" if change < -TREND_CHANGE else "stable"
    return {"direction": direction, "change": round(change, 4), "points": len(rows)}


def return_on_spend(store: DreamStore, since: datetime | None = None) -> dict[str, list[dict[str, Any]]]:
    """Yield (successful dreams, see ``dreamcore.models.is_success``) per USD and per second,
    for each generator (dream type), each model and each pair of them ("type/model"). A run's cost (``cost_usd`` of its models) and
    duration are shared among the dreams it produced: a model's cost among that model's dreams, the
    duration among all of them."""
    runs = {run.id: run for run in store.get_generation_runs(limit=None)}
    per_run: dict[int, list[tuple]] = {}
    for run_id, dream_type, model, _, tier, outcome, count in store.dream_outcomes(since):
        per_run.setdefault(run_id, []).append((dream_type, model, count, is_success(tier, outcome)))
    totals: dict[tuple[str, str], list[float]] = {}  # (by, name) -> [dreams, yield, cost, seconds]
    for run_id, rows in per_run.items():
        run = runs.get(run_id)
        dreams = sum(count for _, _, count, _ in rows)
        per_model = {}
        for _, model, count, _ in rows:
            per_model[model] = per_model.get(model, 0) + count
        for dream_type, model, count, good in rows:
            usage = run.model_usage.get(model, {}) if run else {}
            cost = float(usage.get("cost_usd", 0.0)) * count / per_model[model] if isinstance(usage, dict) else 0.0
            seconds = run.duration_seconds * count / dreams if run else 0.0
            for key in (("generator", dream_type), ("model", model), ("type_model", f"{dream_type}/{model}")):
                total = totals.setdefault(key, [0, 0, 0.0, 0.0])
                total[0] += count
                total[1] += count if good else 0
                total[2] += cost
                total[3] += seconds
    rows_by: dict[str, list[dict[str, Any]]] = {"generator": [], "model": [], "type_model": []}
    for (by, name), (dreams, good, cost, seconds) in sorted(totals.items()):
        rows_by[by].append({
            "name": name, "dreams": dreams, "yield": good, "cost_usd": round(cost, 6), "seconds": round(seconds, 3),
            "yield_per_usd": round(good / cost, 3) if cost else None,
            "yield_per_second": round(good / seconds, 4) if seconds else None,
        })
    return rows_by
