"""The morning report's figures, read from the store: what the HTML page (``report_html``) shows.

Everything is counted from the store over the report's window (the dreams generated, runs started,
metrics rows and plans made in the last ``since_days``): the health rows per cycle, tiers and
failure categories per run, dreams per type and model, return on spend (``health.return_on_spend``),
the adaptation plans, the best dreams of the newest run with their base code, and the journal.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import attrs

from dreamcore.learning.health import label, return_on_spend, trend
from dreamcore.models import (
    AdaptationPlan,
    DreamGenerationRun,
    DreamMetrics,
    DreamProcedure,
    Procedure,
    utcnow,
)

if TYPE_CHECKING:
    from dreamcore.store.dream_store import DreamStore

UNEVALUATED = "unevaluated"


@attrs.define
class BestDream:
    """One of the night's best dreams, with the source of its base procedure (None if unknown)."""

    dream: DreamProcedure
    base: Procedure | None


@attrs.define
class ReportData:
    """Every figure of the report (``runs``, ``metrics`` and ``plans`` oldest first, ``journal`` newest first)."""

    generated_at: datetime
    since: datetime
    runs: list[DreamGenerationRun]
    metrics: list[DreamMetrics]
    plans: list[AdaptationPlan]
    journal: list[DreamProcedure]
    projects: dict[int, str]  # base procedure id -> project
    tiers_per_run: dict[int, Counter[str]]  # run id -> tier ("1", "2", "3", "unevaluated") -> dreams
    failures_per_run: dict[int, Counter[str]]  # run id -> category -> rejected drafts and failed tests
    by_type_and_model: dict[str, dict[str, int]]  # dream type -> model -> dreams
    spend: dict[str, list[dict[str, Any]]]
    best: list[BestDream]
    health: dict[str, Any]  # the newest metrics row's score, label and trend (empty without rows)

    @property
    def empty(self) -> bool:
        return not (self.journal or self.runs or self.metrics or self.plans)


def tier_name(dream: DreamProcedure) -> str:
    return str(int(dream.tier)) if dream.tier is not None else UNEVALUATED


def _best_key(dream: DreamProcedure) -> tuple:
    """Best first: highest compound score, then viability, then newest."""
    return (-(dream.compound_score or 0.0), -(dream.viability_score or 0.0), -(dream.id or 0))


def collect(store: DreamStore, since_days: int = 30, best: int = 10, now: datetime | None = None) -> ReportData:
    """The report's figures over the ``since_days`` before ``now``; ``best``: how many dreams of the
    newest run to show with their diffs."""
    now = now or utcnow()
    since = now - timedelta(days=since_days)
    dreams = store.dreams_between(since, now)
    runs = store.get_runs_between(since, now)
    tiers: dict[int, Counter[str]] = {run.id: Counter() for run in runs}
    failures = {run.id: Counter(store.run_counts(run.id)["rejected_by_reason"]) for run in runs}
    by_type: dict[str, Counter[str]] = {}
    for dream in dreams:
        by_type.setdefault(dream.dream_type, Counter())[dream.model_used] += 1
        if dream.run_id in tiers:
            tiers[dream.run_id][tier_name(dream)] += 1
            if dream.failure_category:
                failures[dream.run_id][dream.failure_category] += 1
    metrics = store.get_metrics_since(since)
    procedures = {p.id: p for p in store.get_procedures(current_only=False)}
    return ReportData(
        generated_at=now, since=since, runs=runs, metrics=metrics, plans=store.get_plans(since),
        journal=sorted(dreams, key=lambda d: (d.generated_at, d.id or 0), reverse=True),
        projects={pid: p.project for pid, p in procedures.items()},
        tiers_per_run=tiers, failures_per_run=failures,
        by_type_and_model={t: dict(sorted(m.items())) for t, m in sorted(by_type.items())},
        spend=return_on_spend(store, since),
        best=[BestDream(d, procedures.get(d.base_procedure_id)) for d in _night(dreams, runs)[:best]],
        health=_health(metrics),
    )


def _night(dreams: list[DreamProcedure], runs: list[DreamGenerationRun]) -> list[DreamProcedure]:
    """The dreams of the newest run that made any (all dreams of the window if none has a run), best first."""
    made = {d.run_id for d in dreams if d.run_id is not None}
    newest = next((run.id for run in reversed(runs) if run.id in made), None)
    chosen = [d for d in dreams if d.run_id == newest] if newest is not None else dreams
    return sorted(chosen, key=_best_key)


def _health(metrics: list[DreamMetrics]) -> dict[str, Any]:
    if not metrics:
        return {}
    score = metrics[-1].compound_health_score
    return {"score": score, "label": label(score), "trend": trend(metrics)}
