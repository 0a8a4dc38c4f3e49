"""A synthetic history of nightly runs in a store: for the report's tests and benchmark.

``fill_history`` writes what ``cycles`` nights of dreaming leave behind: procedures of two projects,
finished runs (durations, model costs), dreams of every type and several models with tiers,
scores, test results and failure categories, rejected drafts, one adaptation plan per night (the
real planner over the arms' posteriors) and one health metrics row per night (``compute_metrics``).
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from dreamcore.learning.adaptation import AdaptConfig, Arm, Posterior, make_plan, reward
from dreamcore.learning.health import compute_metrics
from dreamcore.learning.scoring import DEFAULT_WEIGHTS
from dreamcore.models import (
    DreamGenerationRun,
    DreamProcedure,
    DreamStatus,
    DreamTier,
    Procedure,
    RejectedDraft,
    TestOutcome,
    utcnow,
)

TYPES = ("parameter", "conditional", "constraint_relaxation", "cross_project")
MODELS = {"local": 0.0, "deepseek": 0.0004, "claude-sonnet": 0.003}  # model -> USD per dream
CATEGORIES = ("syntax", "unsafe", "signature_changed", "assertion", "timeout", "exception")
PROJECTS = ("billing", "weather")


def _procedure(project: str, n: int) -> Procedure:
    source = (f"def fetch_{n}(items, retries=3, timeout=2.5):\n"
              f'    """Fetch every item, retrying {n} ways."""\n'
              "    out = []\n"
              "    for item in items:\n"
              "        if item is None:\n"
              "            continue\n"
              f"        out.append(item * {n + 1})\n"
              "    return out\n")
    return Procedure(project=project, module=f"{project}.io", qualname=f"fetch_{n}", source=source)


def _dream(rng: random.Random, base: Procedure, base_id: int, run_id: int, at: datetime, n: int) -> DreamProcedure:
    tier = rng.choice([None, DreamTier.VIABLE, DreamTier.SPECULATIVE, DreamTier.SPECULATIVE, DreamTier.ARCHIVE])
    outcome = TestOutcome.PENDING
    if tier == DreamTier.VIABLE:
        outcome = rng.choice([TestOutcome.SUCCESS, TestOutcome.SUCCESS, TestOutcome.FAILURE, TestOutcome.PENDING])
    status = (DreamStatus.PENDING_EVALUATION if tier is None
              else DreamStatus.TESTED if outcome != TestOutcome.PENDING else DreamStatus.EVALUATED)
    code = base.source.replace("retries=3", f"retries={n % 9 + 4}").replace("2.5", f"{n % 7 + 1}.0")
    code = code.replace(" ways.", f" ways (variant {n}).")
    if n % 3 == 0:
        code = code.replace("        if item is None:\n            continue\n",
                            "        if not item:  # skip falsy items too\n            continue\n")
    scores = {name: round(rng.random(), 3) for name in ("novelty_score", "quality_score", "leverage_score")}
    failed = outcome == TestOutcome.FAILURE
    return DreamProcedure(
        base_procedure_id=base_id, base_procedure_name=base.qualname, dream_type=rng.choice(TYPES), code=code,
        model_used=rng.choice(list(MODELS)), reasoning="tune the retry budget",
        generated_description=f"variant {n}: retries and timeout retuned", status=status, tier=tier,
        viability_score=None if tier is None else round(rng.random(), 3),
        claude_reasoning=None if tier is None else f"Looks {'sound' if tier == 1 else 'risky'}: retries bounded.",
        test_outcome=outcome, test_cases=20 if outcome != TestOutcome.PENDING else 0,
        equivalence_rate=None if outcome == TestOutcome.PENDING else (0.7 if failed else 1.0),
        speedup=None if outcome == TestOutcome.PENDING else round(rng.uniform(0.5, 3), 2),
        failure_category=rng.choice(CATEGORIES[3:]) if failed else None,
        test_error="AssertionError: outputs differ on case 4" if failed else None,
        compound_score=round(rng.random(), 3), **scores, run_id=run_id, generated_at=at,
    )


def fill_history(store, dreams: int, cycles: int, *, seed: int = 0, now: datetime | None = None) -> list[int]:
    """Write ``cycles`` nights (one a day, the last ending just before ``now``) with ``dreams`` dreams
    in all; returns the run ids, oldest first."""
    rng = random.Random(seed)
    now = now or utcnow()
    procedures = [_procedure(project, n) for project in PROJECTS for n in range(max(2, dreams // 40))]
    ids = [store.upsert_procedure(p) for p in procedures]
    project_of = {base_id: p.project for base_id, p in zip(ids, procedures)}
    config, run_ids, made = AdaptConfig(), [], 0
    for night in range(cycles):
        start = now - timedelta(days=cycles - night, hours=-2)
        count = dreams * (night + 1) // cycles - made
        run_id = store.record_generation_run(DreamGenerationRun(strategy="balanced", timestamp=start))
        batch = []
        for k in range(count):
            i = rng.randrange(len(procedures))
            batch.append(_dream(rng, procedures[i], ids[i], run_id, start + timedelta(seconds=k), made + k))
        store.store_dreams_batch(batch)
        made += count
        rejected = [RejectedDraft(base_procedure_id=ids[rng.randrange(len(ids))], dream_type=rng.choice(TYPES),
                                  model_used=rng.choice(list(MODELS)), category=rng.choice(CATEGORIES[:3]),
                                  reason="draft did not parse", run_id=run_id, created_at=start)
                    for _ in range(rng.randrange(1, 6))]
        store.record_rejections(rejected)
        per_model: dict[str, int] = {}
        for d in batch:
            per_model[d.model_used] = per_model.get(d.model_used, 0) + 1
        usage = {m: {"dreams": n, "calls": n if MODELS[m] else 0, "cost_usd": round(n * MODELS[m], 6)}
                 for m, n in per_model.items()}
        store.record_generation_run(DreamGenerationRun(
            id=run_id, strategy="balanced", timestamp=start, status="finished", total_dreams_generated=count,
            duration_seconds=round(count * rng.uniform(0.5, 2.0), 2), model_usage=usage,
            finished_at=start + timedelta(minutes=30)))
        posteriors: dict[Arm, Posterior] = {}
        for d in store.dreams_between(start - timedelta(days=config.memory_days), start + timedelta(hours=1)):
            value = reward(d.tier, d.test_outcome.value)
            if value is not None:
                arm = Arm(d.dream_type, d.model_used, project_of[d.base_procedure_id])
                posteriors.setdefault(arm, Posterior()).add(value)
        plan = make_plan(posteriors, {}, config, budget=3 * max(1, len(posteriors)), cap=9, rng=rng)
        plan.run_id, plan.created_at = run_id, start + timedelta(minutes=31)
        store.save_plan(plan)
        metrics = compute_metrics(store, DEFAULT_WEIGHTS, 7, start + timedelta(minutes=30))
        metrics.run_id = run_id
        store.store_metrics(metrics)
        run_ids.append(run_id)
    return run_ids
