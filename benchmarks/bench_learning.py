"""Benchmark scoring and adaptation for 10,000 dreams; prints ONE JSON object (progress to stderr).

The dreams are real: the built-in generators (strategy ``deep``) dream over copies of the example
projects (billing, weather) under several project names until there are at least ``--dreams``, in
a temporary SQLite store, and the first ``--dreams`` are kept. Each dream then gets a random tier, viability and test outcome (fixed
seed), as evaluate and test stages would leave them. Measured, each from a cold start of its stage:

* score: the four scorers over every dream, the score write-back and the metrics row
  (``ScoreStage``, one cycle, from empty caches); seconds, and seconds per 1,000 dreams (target
  well under 1 s); before it, each scorer alone over all dreams (``scorer_seconds``, also cold);
* metrics: the cycle's DreamMetrics row;
* adapt: posteriors, hints and the Thompson plan (``AdaptStage``), seconds.

Usage: python benchmarks/bench_learning.py [--dreams N] [--seed S]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

from dreamcore import DreamCore, analysis
from dreamcore.learning.health import compute_metrics
from dreamcore.learning.scoring import ScoringContext
from dreamcore.models import SCORE_COMPONENTS, TestOutcome

ROOT = Path(__file__).resolve().parents[1]
TARGET_SECONDS_PER_1000 = 1.0


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _core(folder: Path, copies: int) -> DreamCore:
    sources = [
        {"project": f"{name}{n}", "paths": [str(ROOT / "examples" / name)]}
        for n in range(copies) for name in ("billing", "weather")
    ]
    return DreamCore({"store": {"url": f"sqlite:///{folder / 'dreams.db'}"}, "sources": sources,
                      "cycle": {"strategy": "deep", "seed": 1}})


def _dream(folder: Path, wanted: int) -> DreamCore:
    copies = 1
    while True:
        core = _core(folder, copies)
        asyncio.run(core.run_cycle(stages=["mine", "generate"]))
        total = sum(core.store.count_by_status().values())
        _log(f"{copies} copies of the examples: {total} dreams")
        if total >= wanted:  # keep the first ``wanted`` dreams
            core.store.db.execute_sql(
                "DELETE FROM dream_procedures WHERE id NOT IN "
                f"(SELECT id FROM dream_procedures ORDER BY id LIMIT {int(wanted)})")
            return core
        core.close()
        copies = max(copies + 1, int(copies * wanted / max(total, 1)) + 1)


def _evaluate(core: DreamCore, seed: int) -> None:
    """Random tiers, viability and outcomes, as evaluate and test would leave them."""
    rng = random.Random(seed)
    outcomes = [TestOutcome.SUCCESS, TestOutcome.FAILURE, TestOutcome.PENDING, TestOutcome.PENDING]
    rows = core.store.db.execute_sql("SELECT id FROM dream_procedures").fetchall()
    with core.store.atomic():
        core.store.db.cursor().executemany(
            "UPDATE dream_procedures SET status = 'evaluated', tier = ?, viability_score = ?, test_outcome = ?, "
            "speedup = ?, evaluated_at = generated_at WHERE id = ?",
            [(rng.choice((1, 2, 3)), round(rng.random(), 3), rng.choice(outcomes).value,
              round(rng.uniform(0.5, 3), 3), dream_id) for (dream_id,) in rows],
        )


def _timed(function):
    started = time.perf_counter()
    result = function()
    return result, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dreams", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        core = _dream(Path(folder), args.dreams)
        _evaluate(core, args.seed)
        store = core.store
        dreams = store.dreams_to_score()
        count = len(dreams)
        _log(f"scoring {count} dreams")
        context = ScoringContext(store, dreams)
        per_scorer = {}
        for component in SCORE_COMPONENTS:
            _, per_scorer[component] = _timed(lambda c=component: core.create("scorers", c).score(dreams, context))
        for cached in vars(analysis).values():  # the stage starts cold: no shape computed before
            if hasattr(cached, "cache_clear"):
                cached.cache_clear()
        cycle = asyncio.run(core.run_cycle(stages=["score"]))
        score_seconds = cycle.run.duration_seconds
        weights = core.component_config("stages", "score").weights
        _, metrics_seconds = _timed(lambda: compute_metrics(store, weights, 7))
        adapt = asyncio.run(core.run_cycle(stages=["adapt"]))
        result = {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "dreams": count,
            "procedures": store.count_procedures(),
            "score_seconds": round(score_seconds, 3),
            "score_seconds_per_1000": round(score_seconds / count * 1000, 3),
            "scorer_seconds": {k: round(v, 3) for k, v in per_scorer.items()},
            "metrics_seconds": round(metrics_seconds, 3),
            "adapt_seconds": round(adapt.run.duration_seconds, 3),
            "adapt_arms": adapt.report["adapt"]["arms"],
            "cycle_seconds_per_1000": round((score_seconds + metrics_seconds + adapt.run.duration_seconds)
                                            / count * 1000, 3),
            "target_seconds_per_1000": TARGET_SECONDS_PER_1000,
        }
        core.close()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
