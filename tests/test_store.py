"""DreamStore on SQLite and PostgreSQL: every method, orderings, limits, idempotence, migrations."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import attrs
import pytest

from dreamcore.errors import NotFoundError, StoreError
from dreamcore.models import (
    AdaptationPlan,
    DreamGenerationRun,
    DreamMetrics,
    DreamStatus,
    DreamTier,
    DreamType,
    TestOutcome,
)
from dreamcore.store.dream_store import DreamStore
from dreamcore.store.migrations import SCHEMA_VERSION
from tests.factories import EPOCH, dream, procedure

METRIC_COLUMNS = [a.name for a in attrs.fields(DreamMetrics) if a.name not in ("timestamp", "run_id", "id",
                                                                               "extra_components")]


@pytest.fixture
def base_id(store):
    return store.upsert_procedure(procedure())


def test_store_and_get_dream_roundtrip(store, base_id):
    original = dream(base_id, 1, dream_type=DreamType.CROSS_PROJECT, model_used="qwen")
    dream_id = store.store_dream(original)
    loaded = store.get_dream(dream_id)
    assert loaded.id == dream_id
    original.id = dream_id
    original.fingerprint = loaded.fingerprint
    assert loaded == original


def test_storing_the_same_dream_twice_is_a_noop(store, base_id):
    first = store.store_dream(dream(base_id, 1))
    again = store.store_dream(dream(base_id, 1, reasoning="different words, same code"))
    assert first == again
    assert store.count_by_status()[DreamStatus.PENDING_EVALUATION] == 1
    assert store.get_dream(first).reasoning == "scale the increment"


def test_batch_returns_ids_in_order_and_skips_duplicates(store, base_id):
    existing = store.store_dream(dream(base_id, 3))
    ids = store.store_dreams_batch([dream(base_id, n) for n in range(6)])
    assert len(ids) == 6 and len(set(ids)) == 6
    assert ids[3] == existing
    assert [store.get_dream(i).generated_description for i in ids] == [f"increment by {n + 2}" for n in range(6)]
    assert sum(store.count_by_status().values()) == 6
    assert store.store_dreams_batch([]) == []


def test_batch_larger_than_one_insert_chunk(store, base_id):
    ids = store.store_dreams_batch([dream(base_id, n) for n in range(2500)])
    assert len(set(ids)) == 2500
    assert store.get_statistics()["total_dreams"] == 2500


def test_same_code_for_different_procedures_is_two_dreams(store, base_id):
    other = store.upsert_procedure(procedure())
    a = store.store_dream(dream(base_id, 1))
    b = store.store_dream(dream(other, 1))
    assert a != b


def test_unknown_base_procedure_is_a_clear_error(store):
    with pytest.raises(StoreError, match="rejected by the database"):
        store.store_dream(dream(9999, 1))


def test_update_and_delete(store, base_id):
    dream_id = store.store_dream(dream(base_id, 1))
    loaded = store.get_dream(dream_id)
    loaded.status = DreamStatus.EVALUATED
    loaded.tier = DreamTier.VIABLE
    loaded.viability_score = 0.85
    loaded.claude_reasoning = "sound"
    loaded.evaluated_at = EPOCH
    store.update_dream(loaded)
    assert store.get_dream(dream_id) == loaded
    assert store.delete_dream(dream_id) is True
    assert store.delete_dream(dream_id) is False
    with pytest.raises(NotFoundError, match=f"no dream with id {dream_id}"):
        store.get_dream(dream_id)
    with pytest.raises(NotFoundError):
        store.update_dream(loaded)


def _evaluated(store, base_id, n, tier, viability, **fields):
    return store.store_dream(
        dream(base_id, n, status=DreamStatus.EVALUATED, tier=tier, viability_score=viability, **fields)
    )


def test_pending_is_newest_first_and_limited(store, base_id):
    ids = store.store_dreams_batch([dream(base_id, n) for n in range(5)])
    _evaluated(store, base_id, 10, DreamTier.VIABLE, 0.9)
    pending = store.get_pending_evaluation(limit=3)
    assert [d.id for d in pending] == ids[::-1][:3]
    assert len(store.get_pending_evaluation()) == 5


def test_by_status_type_and_base(store, base_id):
    other = store.upsert_procedure(procedure())
    a = store.store_dream(dream(base_id, 1, dream_type="conditional"))
    b = store.store_dream(dream(other, 2, dream_type="conditional"))
    c = _evaluated(store, base_id, 3, DreamTier.ARCHIVE, 0.1)
    assert [d.id for d in store.get_by_status(DreamStatus.PENDING_EVALUATION)] == [b, a]
    assert [d.id for d in store.get_by_status(DreamStatus.EVALUATED)] == [c]
    assert [d.id for d in store.get_by_type(DreamType.CONDITIONAL)] == [b, a]
    assert [d.id for d in store.get_by_type("conditional", limit=1)] == [b]
    assert [d.id for d in store.get_by_base_procedure(base_id)] == [c, a]


def test_by_tier_is_best_viability_first_and_skips_unevaluated(store, base_id):
    low = _evaluated(store, base_id, 1, DreamTier.VIABLE, 0.61)
    high = _evaluated(store, base_id, 2, DreamTier.VIABLE, 0.97)
    mid = store.store_dream(
        dream(base_id, 3, status=DreamStatus.TESTED, tier=DreamTier.VIABLE, viability_score=0.8)
    )
    store.store_dream(dream(base_id, 4, status=DreamStatus.ARCHIVED, tier=DreamTier.VIABLE, viability_score=0.99))
    _evaluated(store, base_id, 5, DreamTier.SPECULATIVE, 0.5)
    assert [d.id for d in store.get_by_tier(DreamTier.VIABLE)] == [high, mid, low]
    assert [d.id for d in store.get_by_tier(1, limit=2)] == [high, mid]


def test_high_novelty(store, base_id):
    a = _evaluated(store, base_id, 1, DreamTier.VIABLE, 0.9, novelty_score=0.95)
    b = _evaluated(store, base_id, 2, DreamTier.SPECULATIVE, 0.4, novelty_score=0.7)
    _evaluated(store, base_id, 3, DreamTier.VIABLE, 0.9, novelty_score=0.69)
    store.store_dream(dream(base_id, 4, novelty_score=0.99))  # not evaluated
    assert [d.id for d in store.get_high_novelty()] == [a, b]
    assert [d.id for d in store.get_high_novelty(min_score=0.9)] == [a]


def test_cross_project_viable(store, base_id):
    a = _evaluated(store, base_id, 1, DreamTier.VIABLE, 0.7, cross_project_matches=5)
    b = _evaluated(store, base_id, 2, DreamTier.VIABLE, 0.9, cross_project_matches=2)
    _evaluated(store, base_id, 3, DreamTier.VIABLE, 0.9, cross_project_matches=1)
    _evaluated(store, base_id, 4, DreamTier.SPECULATIVE, 0.5, cross_project_matches=9)
    assert [d.id for d in store.get_cross_project_viable()] == [a, b]
    assert [d.id for d in store.get_cross_project_viable(min_matches=3)] == [a]


def test_find_dreams_combines_filters(store, base_id):
    a = _evaluated(store, base_id, 1, DreamTier.VIABLE, 0.7, dream_type="parameter")
    _evaluated(store, base_id, 2, DreamTier.VIABLE, 0.7, dream_type="conditional")
    _evaluated(store, base_id, 3, DreamTier.ARCHIVE, 0.1, dream_type="parameter")
    found = store.find_dreams(status=DreamStatus.EVALUATED, tier=DreamTier.VIABLE, dream_type="parameter")
    assert [d.id for d in found] == [a]
    assert len(store.find_dreams(limit=2)) == 2


def test_counts_and_statistics(store, base_id):
    store.store_dream(dream(base_id, 1))
    _evaluated(store, base_id, 2, DreamTier.VIABLE, 0.8, novelty_score=0.6, test_outcome=TestOutcome.SUCCESS)
    _evaluated(store, base_id, 3, DreamTier.VIABLE, 0.6, novelty_score=0.2, test_outcome=TestOutcome.FAILURE)
    _evaluated(store, base_id, 4, DreamTier.ARCHIVE, 0.1, dream_type="conditional")
    assert store.count_by_status() == {
        DreamStatus.PENDING_EVALUATION: 1,
        DreamStatus.EVALUATED: 3,
        DreamStatus.PENDING_TEST: 0,
        DreamStatus.TESTED: 0,
        DreamStatus.ARCHIVED: 0,
    }
    assert store.count_by_tier() == {DreamTier.VIABLE: 2, DreamTier.SPECULATIVE: 0, DreamTier.ARCHIVE: 1}
    stats = store.get_statistics()
    assert stats["total_dreams"] == 4
    assert stats["total_procedures"] == 1
    assert stats["by_type"] == {"conditional": 1, "parameter": 3}
    assert stats["average_viability"] == pytest.approx(0.5)
    assert stats["average_novelty"] == pytest.approx(0.4)
    assert stats["tier1_tested"] == 2
    assert stats["tier1_success_rate"] == pytest.approx(0.5)
    assert stats["database_bytes"] > 0


def test_generation_runs_insert_update_and_order(store):
    first = DreamGenerationRun(strategy="light", timestamp=EPOCH)
    first.id = store.record_generation_run(first)
    second_id = store.record_generation_run(DreamGenerationRun(strategy="deep", timestamp=EPOCH.replace(day=2)))
    first.status = "finished"
    first.dreams_by_type = {"parameter": 5}
    first.model_usage = {"local": {"calls": 0}}
    assert store.record_generation_run(first) == first.id
    runs = store.get_generation_runs()
    assert [r.id for r in runs] == [second_id, first.id]
    assert runs[1] == first
    with pytest.raises(NotFoundError):
        store.record_generation_run(DreamGenerationRun(strategy="x", id=999))


def test_metrics_latest(store):
    assert store.get_latest_metrics() is None
    store.store_metrics(DreamMetrics(timestamp=EPOCH, compound_health_score=0.4))
    newest = DreamMetrics(timestamp=EPOCH.replace(day=3), compound_health_score=0.7, tier1_count=3)
    newest.id = store.store_metrics(newest)
    store.store_metrics(DreamMetrics(timestamp=EPOCH.replace(day=2), compound_health_score=0.5))
    assert store.get_latest_metrics() == newest


def test_procedure_versions(store):
    first = store.upsert_procedure(procedure(qualname="pay"))
    assert store.upsert_procedure(procedure(qualname="pay")) == first
    changed = store.upsert_procedure(procedure(qualname="pay", source="def pay(x):\n    return x * 2\n"))
    assert changed != first
    assert store.get_procedure(changed).previous_id == first
    assert [p.id for p in store.get_procedures()] == [changed]
    assert [p.id for p in store.get_procedures(current_only=False)] == [first, changed]
    assert store.get_procedures(project="weather") == []
    with pytest.raises(NotFoundError):
        store.get_procedure(12345)


def test_transition_is_conditional(store, base_id):
    dream_id = store.store_dream(dream(base_id, 1, status=DreamStatus.PENDING_TEST))
    moved = store.transition(
        dream_id, DreamStatus.PENDING_TEST, DreamStatus.TESTED, test_outcome=TestOutcome.SUCCESS, test_timestamp=EPOCH
    )
    assert moved is True
    again = store.transition(dream_id, DreamStatus.PENDING_TEST, DreamStatus.TESTED, test_outcome=TestOutcome.FAILURE)
    assert again is False
    loaded = store.get_dream(dream_id)
    assert (loaded.status, loaded.test_outcome, loaded.test_timestamp) == (DreamStatus.TESTED, TestOutcome.SUCCESS, EPOCH)


def test_claims_are_exclusive_and_expire(store, base_id):
    store.store_dreams_batch([dream(base_id, n) for n in range(5)])
    first = store.claim_dreams(DreamStatus.PENDING_EVALUATION, "w1", limit=3)
    second = store.claim_dreams(DreamStatus.PENDING_EVALUATION, "w2", limit=3)
    assert len(first) == 3 and len(second) == 2
    assert not {d.id for d in first} & {d.id for d in second}
    assert all(d.claimed_by == "w1" for d in first)
    assert store.claim_dreams(DreamStatus.PENDING_EVALUATION, "w3") == []
    assert store.release_claims([d.id for d in first], "w2") == 0
    assert store.release_claims([d.id for d in first], "w1") == 3
    assert len(store.claim_dreams(DreamStatus.PENDING_EVALUATION, "w3")) == 3
    stale = store.claim_dreams(DreamStatus.PENDING_EVALUATION, "w4", lease_seconds=0)
    assert len(stale) == 5


def test_nul_characters_are_replaced_the_same_on_every_backend(store, base_id):
    dream_id = store.store_dream(dream(base_id, 1, reasoning="a\x00b"))
    assert store.get_dream(dream_id).reasoning == "a\ufffdb"


def test_invalid_enum_value_in_database_is_a_clear_error(store, base_id):
    dream_id = store.store_dream(dream(base_id, 1))
    store.db.execute_sql(f"UPDATE dream_procedures SET status = 'dreaming' WHERE id = {dream_id}")
    with pytest.raises(StoreError, match=r"dream_procedures row \d+: invalid stored value .*'dreaming'"):
        store.get_dream(dream_id)
    with pytest.raises(StoreError, match="invalid stored status 'dreaming'"):
        store.count_by_status()


def _undo_v9(store):
    store.db.execute_sql("ALTER TABLE dream_procedures DROP COLUMN extra_scores")
    store.db.execute_sql("ALTER TABLE dream_metrics DROP COLUMN extra_components")


def _undo_v8(store):
    _undo_v9(store)
    store.db.execute_sql("ALTER TABLE dream_generation_runs DROP COLUMN executor")
    store.db.execute_sql("ALTER TABLE dream_generation_runs DROP COLUMN stages")
    for table in ("dream_metrics", "adaptation_plans"):
        store.db.execute_sql(f'DROP INDEX "{table}_run_id"')
        store.db.execute_sql(f'CREATE INDEX "{table}_run_id" ON {table} (run_id)')


def _undo_v7(store):
    _undo_v8(store)
    for column in ("quality_score", "leverage_score", "efficiency_score", "compound_score", "base_callers", "scored_at"):
        store.db.execute_sql(f"ALTER TABLE dream_procedures DROP COLUMN {column}")
    store.db.execute_sql("DROP TABLE adaptation_decisions")
    store.db.execute_sql("DROP TABLE adaptation_plans")


def _undo_v5(store):
    _undo_v7(store)
    for column in ("failure_category", "equivalence_rate", "speedup", "test_cases"):
        store.db.execute_sql(f"ALTER TABLE dream_procedures DROP COLUMN {column}")
    store.db.execute_sql("ALTER TABLE dream_generation_runs DROP COLUMN stop_reason")
    store.db.execute_sql("DROP TABLE failure_patterns")
    store.db.execute_sql("DROP TABLE adoptions")


def test_migration_from_v1_keeps_every_row_and_adds_later_tables(store_url):
    with DreamStore(store_url) as old:
        base = old.upsert_procedure(procedure())
        ids = old.store_dreams_batch([dream(base, n) for n in range(3)])
        old.db.execute_sql("ALTER TABLE dream_procedures DROP COLUMN eval_attempts")
        old.db.execute_sql("ALTER TABLE dream_procedures DROP COLUMN last_error")
        old.db.execute_sql("DROP TABLE rejected_drafts")
        old.db.execute_sql("ALTER TABLE dream_generation_runs DROP COLUMN seed")
        _undo_v5(old)
        old.db.execute_sql("UPDATE schema_version SET version = 1")
        assert old.schema_version() == 1
    with DreamStore(store_url) as upgraded:
        assert upgraded.schema_version() == SCHEMA_VERSION
        loaded = [upgraded.get_dream(i) for i in ids]
        assert [d.generated_description for d in loaded] == ["increment by 2", "increment by 3", "increment by 4"]
        assert all(d.eval_attempts == 0 and d.last_error is None for d in loaded)
        assert all(d.test_cases == 0 and d.speedup is None and d.failure_category is None for d in loaded)
        assert upgraded.get_rejections() == []
        run_id = upgraded.record_generation_run(DreamGenerationRun(strategy="light", seed=42))
        assert upgraded.get_generation_runs()[0].seed == 42 and run_id


def test_migration_from_v6_adds_scores_and_adaptation_tables(store_url):
    with DreamStore(store_url) as old:
        base = old.upsert_procedure(procedure())
        ids = old.store_dreams_batch([dream(base, n, novelty_score=0.5) for n in range(2)])
        _undo_v7(old)
        old.db.execute_sql("UPDATE schema_version SET version = 6")
        assert old.schema_version() == 6
    with DreamStore(store_url) as upgraded:
        assert upgraded.schema_version() == SCHEMA_VERSION
        loaded = [upgraded.get_dream(i) for i in ids]
        assert all(d.novelty_score == 0.5 and d.compound_score is None and d.scored_at is None for d in loaded)
        assert [d.id for d in upgraded.dreams_to_score()] == list(ids)
        assert upgraded.latest_plan() is None


def test_migration_to_v8_keeps_one_metrics_row_and_plan_per_run(store_url):
    with DreamStore(store_url) as old:
        run_id = old.record_generation_run(DreamGenerationRun(strategy="light"))
        _undo_v8(old)
        old.db.execute_sql("UPDATE schema_version SET version = 7")
        for n in range(3):  # what a score or adapt stage run twice left before v8
            old.db.execute_sql(f"INSERT INTO dream_metrics (timestamp, run_id, {', '.join(METRIC_COLUMNS)}) "
                               f"VALUES ('2026-01-0{n + 1} 00:00:00', {run_id}, {', '.join(['0'] * len(METRIC_COLUMNS))})")
            old.db.execute_sql("INSERT INTO adaptation_plans (run_id, created_at, mode, budget, reason) "
                               f"VALUES ({run_id}, '2026-01-0{n + 1} 00:00:00', 'adaptive', {n + 1}, 'r')")
        old.db.execute_sql("INSERT INTO dream_metrics (timestamp, run_id, "
                           f"{', '.join(METRIC_COLUMNS)}) VALUES ('2026-01-05 00:00:00', NULL, "
                           f"{', '.join(['0'] * len(METRIC_COLUMNS))})")
    with DreamStore(store_url) as upgraded:
        assert upgraded.schema_version() == SCHEMA_VERSION
        assert upgraded.get_generation_run(run_id).executor == "local"
        assert [m.run_id for m in upgraded.get_metrics_since(datetime(2026, 1, 1, tzinfo=UTC))] == [run_id, None]
        assert [p.budget for p in upgraded.get_plans()] == [1]  # the first plan of the run is kept


def test_migration_to_v9_gives_every_dream_and_metrics_row_empty_extra_components(store_url):
    with DreamStore(store_url) as old:
        base = old.upsert_procedure(procedure())
        ids = old.store_dreams_batch([dream(base, n, novelty_score=0.5) for n in range(2)])
        old.store_metrics(DreamMetrics(total_dreams=2))
        _undo_v9(old)
        old.db.execute_sql("UPDATE schema_version SET version = 8")
    with DreamStore(store_url) as upgraded:
        assert upgraded.schema_version() == SCHEMA_VERSION
        assert [(d.novelty_score, d.extra_scores) for d in map(upgraded.get_dream, ids)] == [(0.5, {}), (0.5, {})]
        assert upgraded.get_latest_metrics().extra_components == {}


def test_a_run_keeps_its_first_metrics_row_and_plan(store):
    run_id = store.record_generation_run(DreamGenerationRun(strategy="light"))
    first = store.store_metrics(DreamMetrics(run_id=run_id, total_dreams=5))
    assert store.store_metrics(DreamMetrics(run_id=run_id, total_dreams=9)) == first
    assert store.get_latest_metrics().total_dreams == 5
    plan = AdaptationPlan(mode="adaptive", budget=4, reason="first", run_id=run_id)
    again = AdaptationPlan(mode="adaptive", budget=8, reason="again", run_id=run_id)
    assert store.save_plan(plan) == store.save_plan(again) == again.id
    assert [(p.budget, p.reason) for p in store.get_plans()] == [(4, "first")]
    assert store.store_metrics(DreamMetrics(total_dreams=1)) != store.store_metrics(DreamMetrics(total_dreams=2))


def test_figures_added_by_jobs_are_all_kept(store):
    run_id = store.record_generation_run(DreamGenerationRun(strategy="light", model_usage={"m": {"calls": 1}}))
    for n in range(5):
        store.add_run_figures(run_id, "model_usage", {"m": {"calls": 2, "cost_usd": 0.001}, f"j{n % 2}": {"evaluation_calls": 1}})
        store.add_run_figures(run_id, "stages", {"test": {"dreams": 3, "errors": [f"job {n}"], "sandbox": "docker"}})
    run = store.get_generation_run(run_id)
    assert run.model_usage == {"m": {"calls": 11, "cost_usd": 0.005}, "j0": {"evaluation_calls": 3}, "j1": {"evaluation_calls": 2}}
    assert run.stages == {"test": {"dreams": 15, "errors": [f"job {n}" for n in range(5)], "sandbox": "docker"}}
    store.add_run_figures(run_id, "stages", {"test": {"errors": ["x"] * 50}})
    assert len(store.get_generation_run(run_id).stages["test"]["errors"]) == 20
    with pytest.raises(NotFoundError):
        store.add_run_figures(run_id + 1, "model_usage", {"m": {"calls": 1}})


def test_newer_schema_is_refused(store_url):
    with DreamStore(store_url) as store:
        store.db.execute_sql(f"INSERT INTO schema_version (version, applied_at) VALUES ({SCHEMA_VERSION + 1}, '2026-01-01')")
    with pytest.raises(StoreError, match=f"schema v{SCHEMA_VERSION + 1}, newer than this dreamcore"):
        DreamStore(store_url)


def test_rejections_run_counts_and_resume_bookkeeping(store, base_id):
    from dreamcore.models import RejectedDraft

    other = store.upsert_procedure(procedure())
    run_id = store.record_generation_run(DreamGenerationRun(strategy="light", seed=7))
    assert store.get_unfinished_run().id == run_id
    store.store_dreams_batch([dream(base_id, 1, run_id=run_id), dream(base_id, 2, run_id=run_id, dream_type="conditional")])
    rejected = [
        RejectedDraft(base_procedure_id=other, dream_type="parameter", model_used="local", category="unsafe",
                      reason="imports os", code="import os", run_id=run_id),
        RejectedDraft(base_procedure_id=other, dream_type="parameter", model_used="qwen", category="syntax",
                      reason="does not parse", run_id=run_id),
    ]
    assert store.record_rejections(rejected) == 2
    assert [r.reason for r in store.get_rejections(run_id)] == ["does not parse", "imports os"]
    assert store.procedures_dreamt_in_run(run_id) == {base_id, other}
    assert store.run_counts(run_id) == {
        "dreams_by_type": {"conditional": 1, "parameter": 1},
        "rejected_by_reason": {"syntax": 1, "unsafe": 1},
        "model_usage": {"local": {"drafts": 3, "dreams": 2}, "qwen": {"drafts": 1, "dreams": 0}},
    }
    run = store.get_unfinished_run()
    run.status = "finished"
    store.record_generation_run(run)
    assert store.get_unfinished_run() is None


def test_atomic_groups_writes(store, base_id):
    with pytest.raises(RuntimeError), store.atomic():
        store.store_dream(dream(base_id, 1))
        raise RuntimeError("crash between two writes")
    assert store.get_statistics()["total_dreams"] == 0


# -- dream_counts, v4 indexes, query plans ------------------------------------------------------
def _expected_statistics(store) -> dict:
    """What the counts and statistics must say, computed from every dream."""
    dreams = store.find_dreams(limit=None)
    tiered = [d for d in dreams if d.tier is not None]
    viability = [d.viability_score for d in tiered if d.viability_score is not None]
    novelty = [d.novelty_score for d in tiered if d.novelty_score is not None]
    tested = [d for d in dreams if d.tier == DreamTier.VIABLE and d.test_outcome != TestOutcome.PENDING]
    return {
        "by_status": {s: sum(d.status == s for d in dreams) for s in DreamStatus},
        "by_tier": {t: sum(d.tier == t for d in dreams) for t in DreamTier},
        "by_type": dict(sorted(Counter(str(d.dream_type) for d in dreams).items())),
        "average_viability": sum(viability) / len(viability) if viability else None,
        "average_novelty": sum(novelty) / len(novelty) if novelty else None,
        "tier1_tested": len(tested),
        "tier1_success_rate": (
            sum(d.test_outcome == TestOutcome.SUCCESS for d in tested) / len(tested) if tested else None
        ),
    }


def _assert_counts_match(store) -> None:
    expected = _expected_statistics(store)
    assert store.count_by_status() == expected["by_status"]
    assert store.count_by_tier() == expected["by_tier"]
    stats = store.get_statistics()
    assert stats["total_dreams"] == sum(expected["by_status"].values())
    assert stats["by_status"] == {s.value: n for s, n in expected["by_status"].items()}
    assert stats["by_tier"] == {int(t): n for t, n in expected["by_tier"].items()}
    for key in ("by_type", "average_viability", "average_novelty", "tier1_tested", "tier1_success_rate"):
        assert stats[key] == (pytest.approx(expected[key]) if expected[key] is not None else None), key


def test_counts_follow_every_kind_of_write(store, base_id):
    existing = store.store_dream(dream(base_id, 0))
    ids = store.store_dreams_batch(
        [dream(base_id, 0), dream(base_id, 1, dream_type="conditional"), dream(base_id, 1), dream(base_id, 2)]
        + [
            dream(base_id, n, status=DreamStatus.EVALUATED, tier=DreamTier(1 + n % 3), viability_score=n / 20,
                  novelty_score=None if n % 4 == 0 else n / 25)
            for n in range(3, 15)
        ]
    )
    assert ids[0] == existing and ids[1] == ids[2] and existing not in ids.new
    assert len(ids.new) == 14
    _assert_counts_match(store)

    loaded = store.get_dream(ids[4])
    loaded.status, loaded.tier, loaded.viability_score = DreamStatus.TESTED, DreamTier.VIABLE, 0.9
    loaded.test_outcome = TestOutcome.SUCCESS
    store.update_dream(loaded)
    store.update_dream(loaded)  # unchanged: counted once
    assert store.transition(ids[5], DreamStatus.EVALUATED, DreamStatus.PENDING_TEST, tier=DreamTier.VIABLE)
    assert store.transition(ids[6], DreamStatus.EVALUATED, DreamStatus.TESTED, test_outcome=TestOutcome.FAILURE,
                            novelty_score=0.33)
    assert store.delete_dream(ids[7])
    store.claim_dreams(DreamStatus.PENDING_EVALUATION, "w1")
    _assert_counts_match(store)

    # Hand-made changes are counted too (triggers), cascading deletes included.
    store.db.execute_sql(f"UPDATE dream_procedures SET status = 'archived', tier = 3 WHERE id = {ids[8]}")
    other = store.upsert_procedure(procedure())
    store.store_dreams_batch([dream(other, n, status=DreamStatus.ARCHIVED) for n in range(3)])
    store.db.execute_sql(f"DELETE FROM procedures WHERE id = {other}")
    _assert_counts_match(store)
    with store.atomic():
        store.delete_dream(ids[9])
        store.store_dream(dream(base_id, 99, status=DreamStatus.PENDING_TEST))
    _assert_counts_match(store)


def test_counts_roll_back_with_the_dreams(store, base_id):
    store.store_dream(dream(base_id, 1))
    with pytest.raises(RuntimeError), store.atomic():
        store.store_dreams_batch([dream(base_id, n) for n in range(2, 6)])
        store.transition(store.get_pending_evaluation()[0].id, DreamStatus.PENDING_EVALUATION, DreamStatus.ARCHIVED)
        raise RuntimeError("crash")
    assert sum(store.count_by_status().values()) == 1
    _assert_counts_match(store)


def _index_names(store) -> set[str]:
    return {index.name for index in store.db.get_indexes("dream_procedures") if not index.name.endswith("_pkey")}


def test_migration_from_v3_rebuilds_indexes_and_counts(store_url):
    with DreamStore(store_url) as fresh:
        wanted = _index_names(fresh)
        base = fresh.upsert_procedure(procedure())
        fresh.store_dreams_batch(
            [dream(base, n, status=DreamStatus.EVALUATED, tier=DreamTier(1 + n % 3), viability_score=n / 10,
                   novelty_score=n / 10) for n in range(6)] + [dream(base, n) for n in range(6, 9)]
        )
        # Turn it into what v3 left: its indexes, no dream_counts table, no triggers.
        on = " ON dream_procedures" if fresh.is_postgres else ""
        for trigger in ("dream_counts_on_update", "dream_counts_on_delete"):
            fresh.db.execute_sql(f"DROP TRIGGER {trigger}{on}")
        fresh.db.execute_sql("DROP TABLE dream_counts")
        for name in wanted - {"dream_procedures_run_id", "dream_procedures_base_procedure_id_fingerprint"}:
            fresh.db.execute_sql(f'DROP INDEX "{name}"')
        for columns in ("base_procedure_id", "status, generated_at", "tier, viability_score", "dream_type, generated_at",
                        "base_procedure_id, generated_at", "status, novelty_score", "tier, cross_project_matches",
                        "status, tier, test_outcome"):
            name = "dream_procedures_" + columns.replace(", ", "_")
            fresh.db.execute_sql(f'CREATE INDEX "{name}" ON dream_procedures ({columns})')
        _undo_v5(fresh)
        fresh.db.execute_sql("UPDATE schema_version SET version = 3")
    with DreamStore(store_url) as upgraded:
        assert upgraded.schema_version() == SCHEMA_VERSION == 9
        assert _index_names(upgraded) == wanted
        _assert_counts_match(upgraded)
        pending = upgraded.get_pending_evaluation()[0]
        assert upgraded.transition(pending.id, DreamStatus.PENDING_EVALUATION, DreamStatus.EVALUATED, tier=1)
        _assert_counts_match(upgraded)


def test_best_evaluated_dreams_are_merged_across_statuses(store, base_id):
    statuses = [DreamStatus.EVALUATED, DreamStatus.PENDING_TEST, DreamStatus.TESTED, DreamStatus.ARCHIVED]
    store.store_dreams_batch(
        [
            dream(base_id, n, status=statuses[n % 4], tier=DreamTier.VIABLE, viability_score=round(n % 7 / 7, 3),
                  novelty_score=round(0.5 + n % 5 / 10, 2))
            for n in range(60)
        ]
    )
    evaluated = [d for d in store.find_dreams(limit=None) if d.status != DreamStatus.ARCHIVED]
    by_viability = sorted(evaluated, key=lambda d: (-d.viability_score, d.id))
    by_novelty = sorted((d for d in evaluated if d.novelty_score >= 0.7), key=lambda d: (-d.novelty_score, d.id))
    for limit in (1, 7, 20, None):
        assert [d.id for d in store.get_by_tier(DreamTier.VIABLE, limit=limit)] == [d.id for d in by_viability][:limit]
        assert [d.id for d in store.get_high_novelty(limit=limit)] == [d.id for d in by_novelty][:limit]


def test_claims_take_the_oldest_dreams_first(store, base_id):
    ids = store.store_dreams_batch([dream(base_id, n) for n in (5, 1, 4, 2, 3)])
    claimed = store.claim_dreams(DreamStatus.PENDING_EVALUATION, "w1", limit=2)
    assert [d.id for d in claimed] == sorted([ids[1], ids[3]])


def test_invalid_stored_timestamp_is_a_clear_error(sqlite_store):
    base_id = sqlite_store.upsert_procedure(procedure())
    dream_id = sqlite_store.store_dream(dream(base_id, 1))
    sqlite_store.db.execute_sql(f"UPDATE dream_procedures SET generated_at = 'yesterday' WHERE id = {dream_id}")
    with pytest.raises(StoreError, match="dream_procedures.generated_at: invalid stored timestamp 'yesterday'"):
        sqlite_store.get_dream(dream_id)


QUERIES = {
    "get_pending_evaluation": lambda s: s.get_pending_evaluation(),
    "get_by_status": lambda s: s.get_by_status(DreamStatus.EVALUATED),
    "get_by_type": lambda s: s.get_by_type("parameter"),
    "get_by_base_procedure": lambda s: s.get_by_base_procedure(1),
    "get_by_tier": lambda s: s.get_by_tier(DreamTier.VIABLE),
    "get_high_novelty": lambda s: s.get_high_novelty(),
    "get_cross_project_viable": lambda s: s.get_cross_project_viable(),
    "find_dreams": lambda s: s.find_dreams(status=DreamStatus.EVALUATED, tier=DreamTier.VIABLE, dream_type="parameter"),
    "claim_dreams": lambda s: s.claim_dreams(DreamStatus.PENDING_EVALUATION, "w1"),
}


@pytest.mark.parametrize("query", QUERIES.values(), ids=QUERIES.keys())
def test_sqlite_reads_use_an_index_without_sorting_or_scanning(sqlite_store, query):
    """Without ANALYZE statistics, SQLite must still find each query's index and read it in order."""
    base_id = sqlite_store.upsert_procedure(procedure())
    sqlite_store.store_dream(dream(base_id, 1))
    plans = []
    execute_sql = sqlite_store.db.execute_sql

    def explain(sql, params=None):
        if sql.lstrip().upper().startswith(("SELECT", "UPDATE")) and "dream_procedures" in sql:
            plans.append([row[3] for row in execute_sql("EXPLAIN QUERY PLAN " + sql, params)])
        return execute_sql(sql, params)

    sqlite_store.db.execute_sql = explain
    query(sqlite_store)
    assert plans
    for plan in plans:
        text = " | ".join(plan)
        assert not [line for line in plan if line.startswith(("SCAN t", "SCAN dream_procedures"))], text
        if "CO-ROUTINE best" not in text:  # get_by_tier, get_high_novelty sort only <= limit ids per status
            assert "TEMP B-TREE FOR ORDER BY" not in text, text


def test_numbers_of_any_kind_in_one_batch(store, base_id):
    """Scores may be given as ints, mixed with floats in one batch; small and large ints mix too."""
    scored = {"status": DreamStatus.EVALUATED, "tier": DreamTier.VIABLE}
    ids = store.store_dreams_batch(
        [dream(base_id, 1, viability_score=1, novelty_score=0, cross_project_matches=2**31 - 1, **scored),
         dream(base_id, 2, viability_score=0.5, novelty_score=1, effectiveness_metric=1, eval_attempts=True,
               cross_project_matches=0, **scored)]
    )
    loaded = [store.get_dream(dream_id) for dream_id in ids]
    assert [(d.viability_score, d.novelty_score) for d in loaded] == [(1.0, 0.0), (0.5, 1.0)]
    assert [(d.cross_project_matches, d.eval_attempts) for d in loaded] == [(2**31 - 1, 0), (0, 1)]
    assert all(isinstance(d.viability_score, float) and isinstance(d.novelty_score, float) for d in loaded)
    assert store.get_statistics()["average_viability"] == pytest.approx(0.75)


def test_adoption_is_recorded_once_and_needs_a_known_dream(store):
    base = store.upsert_procedure(procedure())
    first, second = store.store_dreams_batch([dream(base, 1), dream(base, 2)])
    assert store.record_adoption(first, "merged in #12") is True
    assert store.record_adoption(first) is False
    assert store.adopted_dream_ids() == {first}
    with pytest.raises(NotFoundError):
        store.record_adoption(second + 1000)
    store.delete_dream(first)
    assert store.adopted_dream_ids() == set()
