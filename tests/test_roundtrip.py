"""Property tests: every model comes back from the store exactly as it went in, on both backends.

Hypothesis draws arbitrary unicode text (no NUL: the store replaces it, checked separately),
timezone-aware UTC datetimes with microseconds, scores in [0, 1] or None, 32-bit ints, every enum
value, built-in and third-party dream types, and JSON-able dicts. The ``store`` fixture is shared
by all examples of one test, so fingerprints are made unique per example (a drawn UUID plus a
counter: storing the same (procedure, fingerprint) twice is intentionally a no-op).
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import attrs
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from dreamcore.models import (
    DreamGenerationRun,
    DreamMetrics,
    DreamProcedure,
    DreamStatus,
    DreamTier,
    DreamType,
    Procedure,
    TestOutcome,
)
from dreamcore.store.rows import code_fingerprint
from tests.factories import procedure as make_procedure

ROUNDTRIP = settings(
    max_examples=40,
    deadline=None,
    database=None,  # keep no example database in the project folder
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

_unique = itertools.count()

# -- strategies -------------------------------------------------------------------------------
# codec="utf-8" leaves out lone surrogates, which no UTF-8 database can hold (plain st.text() does too)
texts = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"))
optional_texts = st.none() | texts
nul_texts = st.builds(lambda a, b: f"{a}\x00{b}", st.text(st.characters(codec="utf-8")), texts)  # >= 1 NUL
datetimes = st.datetimes(
    min_value=datetime(1971, 1, 1),
    max_value=datetime(2100, 12, 31, 23, 59, 59, 999999),
    timezones=st.just(UTC),
)
optional_datetimes = st.none() | datetimes
unit_floats = st.floats(min_value=0.0, max_value=1.0)
optional_unit_floats = st.none() | unit_floats
positive_floats = st.floats(min_value=0.0, max_value=1e300, allow_nan=False, allow_infinity=False)
int32 = st.integers(min_value=-(2**31), max_value=2**31 - 1)
optional_int32 = st.none() | int32
int64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
identifiers = st.from_regex(r"[a-z_][a-z0-9_]{0,30}", fullmatch=True)
dream_types = st.sampled_from(list(DreamType)) | identifiers
fingerprints = st.uuids().map(lambda u: f"{u}-{next(_unique)}")

json_scalars = st.none() | st.booleans() | int32 | st.floats(allow_nan=False, allow_infinity=False) | texts
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(texts, children, max_size=4),
    max_leaves=12,
)
counts_by_name = st.dictionaries(texts, st.integers(min_value=0, max_value=2**31 - 1), max_size=6)
model_usage = st.dictionaries(
    texts,
    st.dictionaries(
        texts, int32 | st.floats(allow_nan=False, allow_infinity=False) | texts | json_values, max_size=4
    )
    | json_values,
    max_size=5,
)


def procedures(text=texts, optional_text=optional_texts):
    return st.builds(
        Procedure,
        project=text,
        module=text,
        qualname=text,
        source=text,
        signature=text,
        docstring=optional_text,
        file_path=optional_text,
        line_start=optional_int32,
        line_end=optional_int32,
        fingerprint=fingerprints,
        decorators=st.lists(texts, max_size=4),
        imports=st.lists(texts, max_size=4),
        previous_id=st.none(),
        discovered_at=datetimes,
    )


component_names = st.text(st.characters(categories=["Ll"]), min_size=1, max_size=8)


def dreams(base_id: int, run_id: int | None, text=texts, optional_text=optional_texts):
    return st.builds(
        DreamProcedure,
        base_procedure_id=st.just(base_id),
        base_procedure_name=text,
        dream_type=dream_types,
        code=text,
        model_used=text,
        reasoning=text,
        generated_description=text,
        status=st.sampled_from(list(DreamStatus)),
        tier=st.none() | st.sampled_from(list(DreamTier)),
        viability_score=optional_unit_floats,
        claude_reasoning=optional_text,
        test_outcome=st.sampled_from(list(TestOutcome)),
        test_error=optional_text,
        test_timestamp=optional_datetimes,
        novelty_score=optional_unit_floats,
        extra_scores=st.dictionaries(component_names, optional_unit_floats, max_size=3),
        cross_project_matches=int32,
        effectiveness_metric=optional_unit_floats,
        generated_at=datetimes,
        evaluated_at=optional_datetimes,
        created_by=text,
        fingerprint=fingerprints,
        run_id=st.sampled_from([None, run_id]),
        eval_attempts=int32,
        last_error=optional_text,
        claimed_by=optional_text,
        claimed_at=optional_datetimes,
    )


def runs():
    return st.builds(
        DreamGenerationRun,
        strategy=texts,
        timestamp=datetimes,
        total_dreams_generated=int32,
        dreams_by_type=counts_by_name,
        rejected_by_reason=counts_by_name,
        duration_seconds=positive_floats,
        model_usage=model_usage,
        status=texts,
        finished_at=optional_datetimes,
        seed=st.none() | int64,
    )


def metrics(run_id: int | None):
    fields = {f.name: unit_floats for f in attrs.fields(DreamMetrics) if f.type in ("float", float)}
    fields.update(
        {f.name: int32 for f in attrs.fields(DreamMetrics) if f.type in ("int", int) and f.name != "id"}
    )
    fields.update(average_generation_time=positive_floats, api_requests_per_dream=positive_floats)
    fields.update(extra_components=st.dictionaries(component_names, unit_floats, max_size=3))
    return st.builds(DreamMetrics, timestamp=datetimes, run_id=st.sampled_from([None, run_id]), **fields)


@pytest.fixture
def base_and_run(store):
    base_id = store.upsert_procedure(make_procedure())
    run_id = store.record_generation_run(DreamGenerationRun(strategy="fixture"))
    return base_id, run_id


def _scrubbed(obj):
    """``obj`` with every NUL in its top-level strings replaced as the store does."""
    changes = {
        f.name: getattr(obj, f.name).replace("\x00", "\ufffd")
        for f in attrs.fields(type(obj))
        if isinstance(getattr(obj, f.name), str)
    }
    return attrs.evolve(obj, **changes)


# -- procedures -------------------------------------------------------------------------------
def test_procedure_roundtrip(store):
    newest_by_key: dict[tuple[str, str, str], int] = {}

    @ROUNDTRIP
    @given(original=procedures(), link_previous=st.booleans())
    def check(original: Procedure, link_previous: bool) -> None:
        key = (original.project, original.module, original.qualname)
        if link_previous and newest_by_key:
            # an explicit previous_id is kept when no earlier version of the same key exists
            original.previous_id = min(newest_by_key.values())
        procedure_id = store.upsert_procedure(original)
        expected_previous = newest_by_key.get(key) or original.previous_id
        newest_by_key[key] = procedure_id
        assert store.upsert_procedure(original) == procedure_id  # same version: same row
        loaded = store.get_procedure(procedure_id)
        assert loaded == attrs.evolve(original, id=procedure_id, previous_id=expected_previous)
        assert loaded in store.get_procedures(current_only=False)

    check()


def test_procedure_fingerprint_computed_by_store(store):
    @ROUNDTRIP
    @given(original=procedures(), marker=st.uuids())
    def check(original: Procedure, marker) -> None:
        original.fingerprint = ""
        original.project = f"{original.project}{marker}-{next(_unique)}"  # a new key: no previous version
        procedure_id = store.upsert_procedure(original)
        loaded = store.get_procedure(procedure_id)
        assert loaded == attrs.evolve(
            original, id=procedure_id, fingerprint=code_fingerprint(original.source)
        )

    check()


# -- dreams -----------------------------------------------------------------------------------
def test_dream_roundtrip_store_dream(store, base_and_run):
    base_id, run_id = base_and_run

    @ROUNDTRIP
    @given(original=dreams(base_id, run_id))
    def check(original: DreamProcedure) -> None:
        dream_id = store.store_dream(original)
        loaded = store.get_dream(dream_id)
        assert loaded == attrs.evolve(original, id=dream_id)
        assert store.store_dream(original) == dream_id  # the same fingerprint again is a no-op

    check()


def test_dream_roundtrip_batch(store, base_and_run):
    base_id, run_id = base_and_run

    @ROUNDTRIP
    @given(originals=st.lists(dreams(base_id, run_id), min_size=1, max_size=6))
    def check(originals: list[DreamProcedure]) -> None:
        ids = store.store_dreams_batch(originals)
        assert len(set(ids)) == len(originals)
        for original, dream_id in zip(originals, ids, strict=True):
            assert store.get_dream(dream_id) == attrs.evolve(original, id=dream_id)

    check()


def test_dream_roundtrip_update(store, base_and_run):
    base_id, run_id = base_and_run

    @ROUNDTRIP
    @given(first=dreams(base_id, run_id), second=dreams(base_id, run_id))
    def check(first: DreamProcedure, second: DreamProcedure) -> None:
        dream_id = store.store_dream(first)
        second.id = dream_id
        store.update_dream(second)
        assert store.get_dream(dream_id) == second

    check()


def test_dream_fingerprint_computed_by_store(store, base_and_run):
    base_id, run_id = base_and_run

    @ROUNDTRIP
    @given(original=dreams(base_id, run_id), marker=st.uuids())
    def check(original: DreamProcedure, marker) -> None:
        original.fingerprint = ""
        original.code = f"{original.code}\n# {marker}-{next(_unique)}"  # unique code: not a duplicate
        dream_id = store.store_dream(original)
        loaded = store.get_dream(dream_id)
        assert loaded == attrs.evolve(original, id=dream_id, fingerprint=code_fingerprint(original.code))

    check()


def test_dream_type_aliases_normalise(store, base_and_run):
    base_id, _ = base_and_run
    dream_id = store.store_dream(
        DreamProcedure(
            base_procedure_id=base_id,
            base_procedure_name="f",
            dream_type="parameter_exploration",
            code="x",
            fingerprint="alias",
        )
    )
    loaded = store.get_dream(dream_id)
    assert loaded.dream_type is DreamType.PARAMETER
    assert [d.id for d in store.get_by_type(DreamType.PARAMETER)] == [dream_id]


# -- runs and metrics -------------------------------------------------------------------------
def _run(**fields) -> DreamGenerationRun:
    return DreamGenerationRun(strategy="s", timestamp=datetime(2026, 1, 1, tzinfo=UTC), **fields)


def test_generation_run_roundtrip_insert_and_update(store):
    @ROUNDTRIP
    @given(first=runs(), second=runs())
    # doubles a 4-byte float cannot hold: run first, so a failure shows at once, unshrunk
    @example(first=_run(duration_seconds=0.1), second=_run(duration_seconds=16777217.0))
    @example(first=_run(duration_seconds=1e39), second=_run(duration_seconds=1e300))
    def check(first: DreamGenerationRun, second: DreamGenerationRun) -> None:
        run_id = store.record_generation_run(first)
        by_id = {run.id: run for run in store.get_generation_runs(limit=None)}
        assert by_id[run_id] == attrs.evolve(first, id=run_id)
        second.id = run_id
        assert store.record_generation_run(second) == run_id
        by_id = {run.id: run for run in store.get_generation_runs(limit=None)}
        assert by_id[run_id] == second

    check()


def test_metrics_roundtrip(store, base_and_run):
    _, run_id = base_and_run

    @ROUNDTRIP
    @given(original=metrics(run_id))
    def check(original: DreamMetrics) -> None:
        store.db.execute_sql("DELETE FROM dream_metrics")  # so this example's row is the latest
        metrics_id = store.store_metrics(original)
        assert store.get_latest_metrics() == attrs.evolve(original, id=metrics_id)

    check()


@pytest.mark.parametrize("seconds", [0.1, 16777217.0, 1e39, 5e-324])
def test_generation_run_duration_keeps_double_precision(store, seconds):
    """duration_seconds is a Python float (a double) and must come back unchanged."""
    run_id = store.record_generation_run(_run(duration_seconds=seconds))
    assert [r.duration_seconds for r in store.get_generation_runs() if r.id == run_id] == [seconds]


# -- NUL characters ---------------------------------------------------------------------------
def test_nul_in_dream_text_is_replaced_on_every_backend(store, base_and_run):
    base_id, run_id = base_and_run

    @ROUNDTRIP
    @given(original=dreams(base_id, run_id, text=nul_texts, optional_text=st.none() | nul_texts))
    def check(original: DreamProcedure) -> None:
        dream_id = store.store_dream(original)
        expected = _scrubbed(attrs.evolve(original, id=dream_id))
        assert store.get_dream(dream_id) == expected

    check()


def test_nul_in_run_text_is_replaced_on_every_backend(store):
    @ROUNDTRIP
    @given(original=runs(), strategy=nul_texts, status=nul_texts)
    def check(original: DreamGenerationRun, strategy: str, status: str) -> None:
        original.strategy, original.status = strategy, status
        original.duration_seconds = 0.5  # exact in any float width: this test is about text only
        run_id = store.record_generation_run(original)
        by_id = {run.id: run for run in store.get_generation_runs(limit=None)}
        assert by_id[run_id] == _scrubbed(attrs.evolve(original, id=run_id))

    check()


def test_nul_in_procedure_text_is_replaced_on_every_backend(store):
    """Procedure text with NUL is stored with U+FFFD, and storing it again finds the same row."""

    @ROUNDTRIP
    @given(original=procedures(text=nul_texts, optional_text=st.none() | nul_texts))
    @example(original=make_procedure(project="a\x00b", qualname="f\x00", fingerprint="nul-procedure-example"))
    def check(original: Procedure) -> None:
        procedure_id = store.upsert_procedure(original)
        assert procedure_id is not None
        loaded = store.get_procedure(procedure_id)
        assert loaded == _scrubbed(attrs.evolve(original, id=procedure_id, previous_id=loaded.previous_id))
        assert store.upsert_procedure(original) == procedure_id  # same version: same row

    check()


def test_nul_in_fingerprints_is_replaced_like_other_text(store, base_and_run):
    """Caller-given fingerprints follow the same NUL rule as every other text field."""
    base_id, _ = base_and_run
    procedure_id = store.upsert_procedure(make_procedure(qualname="fp", fingerprint="p\x00q"))
    assert store.get_procedure(procedure_id).fingerprint == "p\ufffdq"
    assert store.upsert_procedure(make_procedure(qualname="fp", fingerprint="p\x00q")) == procedure_id
    original = DreamProcedure(
        base_procedure_id=base_id,
        base_procedure_name="f",
        dream_type="parameter",
        code="x = 1",
        fingerprint="d\x00e",
    )
    dream_id = store.store_dream(original)
    assert store.get_dream(dream_id).fingerprint == "d\ufffde"
    assert store.store_dream(original) == dream_id
