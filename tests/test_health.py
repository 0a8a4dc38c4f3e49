"""Health metrics equal hand-computed values on a fixture database; label, trend, return on spend."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from factories import dream, procedure

from dreamcore import DreamCore
from dreamcore.cli.root import main
from dreamcore.learning.health import compute_metrics, label, return_on_spend, trend
from dreamcore.learning.scoring import DEFAULT_WEIGHTS
from dreamcore.models import DreamGenerationRun, DreamMetrics, DreamStatus, DreamTier, TestOutcome, utcnow

NOW = utcnow().replace(microsecond=0)


@pytest.fixture
def fixture_db(store):
    """Two finished runs in the window (one using an API model), one older; six dreams in the window."""
    base = store.upsert_procedure(procedure("billing", "charge"))
    recent = store.record_generation_run(DreamGenerationRun(
        strategy="light", timestamp=NOW - timedelta(days=1), status="finished", duration_seconds=30.0,
        total_dreams_generated=4, model_usage={"local": {"dreams": 2}, "deepseek": {"calls": 6, "cost_usd": 0.02}},
    ))
    other = store.record_generation_run(DreamGenerationRun(
        strategy="light", timestamp=NOW - timedelta(days=2), status="finished", duration_seconds=10.0,
        total_dreams_generated=2, model_usage={"local": {"dreams": 2}},
    ))
    store.record_generation_run(DreamGenerationRun(
        strategy="light", timestamp=NOW - timedelta(days=20), status="finished", duration_seconds=999.0,
        total_dreams_generated=50, model_usage={"deepseek": {"calls": 100}},
    ))
    store.record_generation_run(DreamGenerationRun(strategy="light", timestamp=NOW, status="running"))
    # (tier, viability, outcome, novelty, quality, leverage, efficiency, matches, model, run)
    rows = [
        (1, 0.9, TestOutcome.SUCCESS, 0.8, 1.0, 0.5, 0.75, 2, "deepseek", recent),
        (1, 0.7, TestOutcome.FAILURE, 0.75, 0.58, 0.25, 0.0, 1, "deepseek", recent),
        (1, 0.6, TestOutcome.PENDING, 0.2, 0.84, 0.0, None, 0, "local", recent),
        (2, 0.4, TestOutcome.PENDING, 0.5, 0.46, 0.1, None, 3, "local", recent),
        (3, 0.1, TestOutcome.PENDING, 0.05, 0.04, 0.0, None, 0, "local", other),
        (None, None, TestOutcome.PENDING, None, None, None, None, 0, "local", other),
    ]
    ids = store.store_dreams_batch([
        dream(base, n, tier=tier, viability_score=v, test_outcome=outcome, novelty_score=nov, quality_score=q,
              leverage_score=lev, efficiency_score=eff, cross_project_matches=m, model_used=model, run_id=run,
              status=DreamStatus.TESTED if outcome != TestOutcome.PENDING else DreamStatus.EVALUATED,
              generated_at=NOW - timedelta(hours=n + 1))
        for n, (tier, v, outcome, nov, q, lev, eff, m, model, run) in enumerate(rows)
    ])
    store.store_dream(dream(base, 99, tier=DreamTier.VIABLE, viability_score=0.0, generated_at=NOW - timedelta(days=9)))
    store.record_adoption(ids[0])
    store.record_adoption(ids[2])
    return ids


def test_metrics_equal_hand_computed_values(store, fixture_db):
    metrics = compute_metrics(store, DEFAULT_WEIGHTS, window_days=7, now=NOW)
    novelty = (0.8 + 0.75 + 0.2 + 0.5 + 0.05) / 5
    quality = (1.0 + 0.58 + 0.84 + 0.46 + 0.04) / 5
    leverage = (0.5 + 0.25 + 0.0 + 0.1 + 0.0) / 5
    efficiency = (0.75 + 0.0) / 2
    expected = DreamMetrics(
        timestamp=NOW,
        total_dreams=6,
        average_viability_score=pytest.approx((0.9 + 0.7 + 0.6 + 0.4 + 0.1) / 5),
        tier1_count=3, tier2_count=1, tier3_count=1,
        tier1_test_success_rate=0.5, tier1_tested_count=2,
        average_novelty_score=pytest.approx(novelty),
        high_novelty_count=2,  # 0.8 and 0.75 (> 0.7)
        cross_project_adoption_rate=pytest.approx(1 / 3),  # of 3 dreams with matches, the first was adopted
        adopted_count=2,
        average_generation_time=pytest.approx(40.0 / 6),
        api_requests_per_dream=pytest.approx(6 / 6),
        novelty_component=pytest.approx(novelty),
        quality_component=pytest.approx(quality),
        leverage_component=pytest.approx(leverage),
        efficiency_component=pytest.approx(efficiency),
        compound_health_score=pytest.approx(0.6 * novelty + 0.15 * quality + 0.15 * leverage + 0.1 * efficiency),
    )
    assert metrics == expected
    metrics.id = store.store_metrics(metrics)
    assert store.get_latest_metrics() == metrics


def test_labels_and_trend():
    assert [label(x) for x in (0.0, 0.29, 0.3, 0.59, 0.6, 1.0)] == ["poor", "poor", "fair", "fair", "healthy", "healthy"]
    rising = [DreamMetrics(timestamp=NOW + timedelta(days=d), compound_health_score=0.3 + 0.01 * d) for d in range(5)]
    assert trend(rising) == {"direction": "improving", "change": 0.3, "points": 5}
    assert trend(rising[::-1][:1]) == {"direction": "stable", "change": 0.0, "points": 1}
    falling = [DreamMetrics(timestamp=m.timestamp, compound_health_score=1 - m.compound_health_score) for m in rising]
    assert trend(falling)["direction"] == "declining"
    flat = [DreamMetrics(timestamp=m.timestamp, compound_health_score=0.5 + 0.001 * (i % 2)) for i, m in enumerate(rising)]
    assert trend(flat)["direction"] == "stable"


def test_return_on_spend_per_generator_and_model(store, fixture_db):
    spend = return_on_spend(store)
    models = {row["name"]: row for row in spend["model"]}
    # deepseek: 2 dreams of the recent run, 1 success; the run's 0.02 USD are all deepseek's;
    # the run's 30 s are shared by its 4 dreams
    assert models["deepseek"] == {"name": "deepseek", "dreams": 2, "yield": 1, "cost_usd": 0.02, "seconds": 15.0,
                                  "yield_per_usd": 50.0, "yield_per_second": round(1 / 15, 4)}
    # local: 2 dreams of the recent run (one untested tier 1 = success), 2 of the other run, 1 without a run
    assert models["local"]["dreams"] == 5 and models["local"]["yield"] == 2 and models["local"]["cost_usd"] == 0
    assert models["local"]["yield_per_usd"] is None and models["local"]["seconds"] == pytest.approx(25.0)
    generators = {row["name"]: row for row in spend["generator"]}
    assert generators["parameter"]["dreams"] == 7


def test_health_and_stats_commands(tmp_path, capsys, fixture_db, store_url):
    config = tmp_path / "dreams.toml"
    config.write_text(f'[store]\nurl = "{store_url}"\n')
    assert main(["--config", str(config), "health", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["source"] == "live" and report["label"] == label(report["compound_health_score"])
    assert report["metrics"]["total_dreams"] >= 6 and report["trend"]["points"] == 0
    assert {row["name"] for row in report["return_on_spend"]["model"]} == {"deepseek", "local"}
    assert main(["--config", str(config), "health"]) == 0
    assert "health " in capsys.readouterr().out
    assert main(["--config", str(config), "stats", "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["database_bytes"] > 0 and stats["return_on_spend"]["model"]
    assert main(["--config", str(config), "stats"]) == 0
    assert "return on spend:" in capsys.readouterr().out
    with DreamCore(config) as core:
        assert core.store.get_latest_metrics() is None  # health computed live, stored nothing


def test_archive_and_purge_on_every_backend(store):
    base = store.upsert_procedure(procedure("billing", "charge"))
    old = NOW - timedelta(days=20)
    ids = store.store_dreams_batch([
        dream(base, 0, tier=DreamTier.ARCHIVE, status=DreamStatus.TESTED, generated_at=old),
        dream(base, 1, tier=DreamTier.ARCHIVE, status=DreamStatus.PENDING_EVALUATION, generated_at=old),
        dream(base, 2, tier=DreamTier.SPECULATIVE, status=DreamStatus.EVALUATED, generated_at=old),
        dream(base, 3, tier=DreamTier.ARCHIVE, status=DreamStatus.EVALUATED, generated_at=old),
    ])
    store.record_adoption(ids[3])
    assert store.archive_dreams(NOW - timedelta(days=10)) == 2
    assert store.count_by_status()[DreamStatus.ARCHIVED] == 2
    assert store.purge_archived(NOW - timedelta(days=30)) == 0
    assert store.purge_archived(NOW - timedelta(days=10)) == 1
    assert [d.id for d in store.get_by_status(DreamStatus.ARCHIVED)] == [ids[3]]
    assert store.get_dream(ids[1]).status == DreamStatus.PENDING_EVALUATION
