"""The Peewee tables: the shared DatabaseProxy, the column types, every table and its indexes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import peewee as pw

from dreamcore.errors import StoreError
from dreamcore.models import DreamStatus

database = pw.DatabaseProxy()  # bound to a store's database by each of its calls
EVALUATED_STATES = (DreamStatus.EVALUATED, DreamStatus.PENDING_TEST, DreamStatus.TESTED)


class UTCDateTimeField(pw.DateTimeField):
    """Timezone-aware UTC datetimes, kept as naive UTC in the database."""

    def db_value(self, value: datetime | None) -> Any:
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return super().db_value(value)

    def python_value(self, value: Any) -> datetime | None:
        try:  # the usual values fast (SQLite's ISO text, PostgreSQL's datetimes); Peewee parses the rest
            return (datetime.fromisoformat(value) if isinstance(value, str) else value).replace(tzinfo=UTC)
        except (ValueError, TypeError, AttributeError):
            pass
        parsed = super().python_value(value)
        if parsed is not None and not isinstance(parsed, datetime):
            raise StoreError(f"store: {self.model._meta.table_name}.{self.name}: invalid stored timestamp {value!r}")
        return parsed.replace(tzinfo=UTC) if parsed is not None else None


class JSONField(pw.TextField):
    """A list or dict kept as JSON text."""

    def db_value(self, value: Any) -> str | None:
        return None if value is None else json.dumps(value, separators=(",", ":"))

    def python_value(self, value: str | None) -> Any:
        return None if value is None else json.loads(value)


class Table(pw.Model):
    class Meta:
        database = database
        legacy_table_names = False


class ProcedureRow(Table):
    project = pw.TextField()
    module = pw.TextField()
    qualname = pw.TextField()
    source = pw.TextField()
    signature = pw.TextField(default="")
    docstring = pw.TextField(null=True)
    file_path = pw.TextField(null=True)
    line_start = pw.IntegerField(null=True)
    line_end = pw.IntegerField(null=True)
    fingerprint = pw.TextField()
    decorators = JSONField(default="[]")
    imports = JSONField(default="[]")
    previous_id = pw.ForeignKeyField("self", null=True, column_name="previous_id", on_delete="SET NULL")
    discovered_at = UTCDateTimeField()

    class Meta:
        table_name = "procedures"
        indexes = ((("project", "module", "qualname", "fingerprint"), True),)


class GenerationRunRow(Table):
    strategy = pw.TextField()
    timestamp = UTCDateTimeField(index=True)
    total_dreams_generated = pw.IntegerField(default=0)
    dreams_by_type = JSONField()
    rejected_by_reason = JSONField()
    duration_seconds = pw.DoubleField(default=0.0)
    model_usage = JSONField()
    status = pw.TextField()
    finished_at = UTCDateTimeField(null=True)
    seed = pw.BigIntegerField(null=True)
    stop_reason = pw.TextField(null=True)
    executor = pw.TextField(default="local")
    stages = JSONField(default="{}")

    class Meta:
        table_name = "dream_generation_runs"


class DreamRow(Table):
    base_procedure_id = pw.ForeignKeyField(  # no index of its own: the unique index below starts with it
        ProcedureRow,
        column_name="base_procedure_id",
        object_id_name="base_procedure_ref",
        on_delete="CASCADE",
        index=False,
    )
    base_procedure_name = pw.TextField()
    dream_type = pw.TextField()
    code = pw.TextField()
    model_used = pw.TextField()
    reasoning = pw.TextField()
    generated_description = pw.TextField()
    status = pw.TextField()
    tier = pw.SmallIntegerField(null=True)
    viability_score = pw.DoubleField(null=True)
    claude_reasoning = pw.TextField(null=True)
    test_outcome = pw.TextField()
    test_error = pw.TextField(null=True)
    test_timestamp = UTCDateTimeField(null=True)
    novelty_score = pw.DoubleField(null=True)
    cross_project_matches = pw.IntegerField(default=0)
    effectiveness_metric = pw.DoubleField(null=True)
    failure_category = pw.TextField(null=True)
    equivalence_rate = pw.DoubleField(null=True)
    speedup = pw.DoubleField(null=True)
    test_cases = pw.IntegerField(default=0)
    quality_score = pw.DoubleField(null=True)
    leverage_score = pw.DoubleField(null=True)
    efficiency_score = pw.DoubleField(null=True)
    extra_scores = JSONField(default=dict)  # components a scorer plugin adds, by name
    compound_score = pw.DoubleField(null=True)
    base_callers = pw.IntegerField(null=True)
    scored_at = UTCDateTimeField(null=True)
    generated_at = UTCDateTimeField()
    evaluated_at = UTCDateTimeField(null=True)
    created_by = pw.TextField()
    fingerprint = pw.TextField()
    run_id = pw.ForeignKeyField(
        GenerationRunRow, null=True, column_name="run_id", object_id_name="run_ref", on_delete="SET NULL"
    )
    eval_attempts = pw.IntegerField(default=0)
    last_error = pw.TextField(null=True)
    claimed_by = pw.TextField(null=True)
    claimed_at = UTCDateTimeField(null=True)

    class Meta:
        table_name = "dream_procedures"
        # One index per query (docs/store.md lists which): every index slows down bulk inserts.
        indexes = (
            (("base_procedure_id", "fingerprint"), True),
            (("status", "generated_at"), False),
            (("status", "tier", "viability_score"), False),
            (("status", "novelty_score"), False),
            (("status", "tier", "dream_type", "generated_at"), False),
            (("dream_type", "generated_at"), False),
            (("base_procedure_id", "generated_at"), False),
            (("tier", "cross_project_matches", "viability_score"), False),
        )


class DreamCountRow(Table):
    """How many dreams share a (status, tier, type, test outcome), with their score sums.

    Counts and statistics read these few rows instead of every dream. The store counts the dreams
    it inserts; triggers count every update and delete, hand-made ones included (``migrations._TRIGGERS``).
    """

    status = pw.TextField()
    tier = pw.SmallIntegerField()  # 0: no tier
    dream_type = pw.TextField()
    test_outcome = pw.TextField()
    dreams = pw.IntegerField()
    viability_sum = pw.DoubleField()
    viability_count = pw.IntegerField()
    novelty_sum = pw.DoubleField()
    novelty_count = pw.IntegerField()

    class Meta:
        table_name = "dream_counts"
        primary_key = pw.CompositeKey("status", "tier", "dream_type", "test_outcome")


class RejectedDraftRow(Table):
    run_id = pw.ForeignKeyField(
        GenerationRunRow, null=True, column_name="run_id", object_id_name="run_ref", on_delete="CASCADE"
    )
    base_procedure_id = pw.ForeignKeyField(
        ProcedureRow, column_name="base_procedure_id", object_id_name="base_procedure_ref", on_delete="CASCADE"
    )
    dream_type = pw.TextField()
    model_used = pw.TextField()
    category = pw.TextField()
    reason = pw.TextField()
    code = pw.TextField()
    created_at = UTCDateTimeField()

    class Meta:
        table_name = "rejected_drafts"
        indexes = ((("run_id", "category"), False), (("model_used", "category"), False))


class FailurePatternRow(Table):
    category = pw.TextField()
    pattern = pw.TextField()
    count = pw.IntegerField(default=0)
    last_seen = UTCDateTimeField()
    example_dream_id = pw.ForeignKeyField(
        DreamRow, null=True, column_name="example_dream_id", object_id_name="example_dream_ref", on_delete="SET NULL"
    )

    class Meta:
        table_name = "failure_patterns"
        indexes = ((("category", "pattern"), True),)


class AdoptionRow(Table):
    dream_id = pw.ForeignKeyField(
        DreamRow, column_name="dream_id", object_id_name="dream_ref", on_delete="CASCADE", unique=True
    )
    adopted_at = UTCDateTimeField()
    note = pw.TextField(default="")

    class Meta:
        table_name = "adoptions"


class MetricsRow(Table):
    timestamp = UTCDateTimeField(index=True)
    run_id = pw.ForeignKeyField(  # unique: one per run, however often its stage runs
        GenerationRunRow, null=True, unique=True, column_name="run_id", object_id_name="run_ref",
        on_delete="SET NULL",
    )
    total_dreams = pw.IntegerField()
    average_viability_score = pw.DoubleField()
    tier1_count = pw.IntegerField()
    tier2_count = pw.IntegerField()
    tier3_count = pw.IntegerField()
    tier1_test_success_rate = pw.DoubleField()
    tier1_tested_count = pw.IntegerField()
    average_novelty_score = pw.DoubleField()
    high_novelty_count = pw.IntegerField()
    cross_project_adoption_rate = pw.DoubleField()
    adopted_count = pw.IntegerField()
    average_generation_time = pw.DoubleField()
    api_requests_per_dream = pw.DoubleField()
    novelty_component = pw.DoubleField()
    quality_component = pw.DoubleField()
    leverage_component = pw.DoubleField()
    efficiency_component = pw.DoubleField()
    extra_components = JSONField(default=dict)
    compound_health_score = pw.DoubleField()

    class Meta:
        table_name = "dream_metrics"


class AdaptationPlanRow(Table):
    run_id = pw.ForeignKeyField(  # unique: one per run, however often its stage runs
        GenerationRunRow, null=True, unique=True, column_name="run_id", object_id_name="run_ref",
        on_delete="SET NULL",
    )
    created_at = UTCDateTimeField()
    mode = pw.TextField()
    budget = pw.IntegerField()
    reason = pw.TextField()

    class Meta:
        table_name = "adaptation_plans"


class AdaptationDecisionRow(Table):
    plan_id = pw.ForeignKeyField(
        AdaptationPlanRow, column_name="plan_id", object_id_name="plan_ref", on_delete="CASCADE"
    )
    dream_type = pw.TextField()
    model = pw.TextField()
    domain = pw.TextField()
    variants = pw.IntegerField()
    temperature = pw.DoubleField()
    alpha = pw.DoubleField()
    beta = pw.DoubleField()
    dreams = pw.IntegerField()
    share = pw.DoubleField()
    high_value = pw.BooleanField(default=False)
    hints = JSONField()
    reason = pw.TextField()

    class Meta:
        table_name = "adaptation_decisions"


# dream_counts: its key (the dream columns it counts by) and what it adds up per key
COUNT_KEY = ("status", "tier", "dream_type", "test_outcome")
COUNT_VALUES = ("dreams", "viability_sum", "viability_count", "novelty_sum", "novelty_count")
