"""DreamStore on SQLite and PostgreSQL: every method, orderings, limits, idempotence, migrations."""

from __future__ import annotations

import pytest

from dreamcore.errors import NotFoundError, StoreError
from dreamcore.models import (
    DreamGenerationRun,
    DreamMetrics,
    DreamStatus,
    DreamTier,
    DreamType,
    TestOutcome,
)
from dreamcore.store import SCHEMA_VERSION, DreamStore
from tests.factories import EPOCH, dream, procedure


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


def test_migration_from_v1_keeps_every_row_and_adds_later_tables(store_url):
    with DreamStore(store_url) as old:
        base = old.upsert_procedure(procedure())
        ids = old.store_dreams_batch([dream(base, n) for n in range(3)])
        old.db.execute_sql("ALTER TABLE dream_procedures DROP COLUMN eval_attempts")
        old.db.execute_sql("ALTER TABLE dream_procedures DROP COLUMN last_error")
        old.db.execute_sql("DROP TABLE rejected_drafts")
        old.db.execute_sql("ALTER TABLE dream_generation_runs DROP COLUMN seed")
        old.db.execute_sql("UPDATE schema_version SET version = 1")
        assert old.schema_version() == 1
    with DreamStore(store_url) as upgraded:
        assert upgraded.schema_version() == SCHEMA_VERSION
        loaded = [upgraded.get_dream(i) for i in ids]
        assert [d.generated_description for d in loaded] == ["increment by 2", "increment by 3", "increment by 4"]
        assert all(d.eval_attempts == 0 and d.last_error is None for d in loaded)
        assert upgraded.get_rejections() == []
        run_id = upgraded.record_generation_run(DreamGenerationRun(strategy="light", seed=42))
        assert upgraded.get_generation_runs()[0].seed == 42 and run_id


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
