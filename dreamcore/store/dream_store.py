"""Persistence through Peewee: the tables, their migrations, and ``DreamStore``, the seed's API.

The store is synchronous (each call is one short transaction); async code calls it directly,
since queries are indexed and take well under a few milliseconds. One ``DreamStore`` binds the
shared ``DatabaseProxy`` whenever one of its methods runs, so several stores can be used in turn
from one thread.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import operator
import os
import sqlite3
import sys
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

import attrs
import peewee as pw
from playhouse import db_url
from playhouse.migrate import PostgresqlMigrator, SchemaMigrator, SqliteMigrator, migrate

from dreamcore.errors import NotFoundError, StoreError
from dreamcore.models import (
    AdaptationPlan,
    ArmDecision,
    DreamGenerationRun,
    DreamMetrics,
    DreamProcedure,
    DreamStatus,
    DreamTier,
    FailurePattern,
    Procedure,
    RejectedDraft,
    TestOutcome,
    utcnow,
)

database = pw.DatabaseProxy()
SCHEMA_VERSION = 8
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
    it inserts; triggers count every update and delete, hand-made ones included (``_TRIGGERS``).
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


class SchemaVersionRow(Table):
    version = pw.IntegerField()
    applied_at = UTCDateTimeField()

    class Meta:
        table_name = "schema_version"


TABLES = [
    ProcedureRow, GenerationRunRow, DreamRow, DreamCountRow, RejectedDraftRow, FailurePatternRow, AdoptionRow, MetricsRow,
    AdaptationPlanRow, AdaptationDecisionRow, SchemaVersionRow,
]

# -- dream_counts: the store counts the dreams it inserts, triggers count updates and deletes --------
COUNT_KEY = ("status", "tier", "dream_type", "test_outcome")
STATUS_MOVES_LOCK = 0x636F756E74  # advisory lock of transactions that move several dreams' statuses
COUNT_VALUES = ("dreams", "viability_sum", "viability_count", "novelty_sum", "novelty_count")
_COUNTED = (*COUNT_KEY, "viability_score", "novelty_score")  # the dream columns dream_counts depends on


def _count_change(row: str, sign: int) -> str:
    """SQL that adds (``sign`` 1) or takes away (-1) the trigger's ``row`` (OLD or NEW) in dream_counts."""
    key = [f"{row}.status", f"COALESCE({row}.tier, 0)", f"{row}.dream_type", f"{row}.test_outcome"]
    values = [*key, str(sign)]
    for score in (f"{row}.viability_score", f"{row}.novelty_score"):
        values += [f"{sign} * COALESCE({score}, 0)", f"CASE WHEN {score} IS NULL THEN 0 ELSE {sign} END"]
    added = ", ".join(f"{column} = dream_counts.{column} + excluded.{column}" for column in COUNT_VALUES)
    return (
        f"INSERT INTO dream_counts ({', '.join(COUNT_KEY + COUNT_VALUES)}) VALUES ({', '.join(values)}) "
        f"ON CONFLICT ({', '.join(COUNT_KEY)}) DO UPDATE SET {added}"
    )


def _changed(differs: str) -> str:
    """SQL: a counted column differs between OLD and NEW (``differs``: the backend's null-safe "!=")."""
    old, new = (", ".join(f"{row}.{column}" for column in _COUNTED) for row in ("OLD", "NEW"))
    return f"({old}) {differs} ({new})"


def _pg_key(row: str) -> str:
    """The dream_counts key of a trigger row, ordered byte-wise like Python orders it in _add_counts."""
    c = 'COLLATE "C"'
    return f"({row}.status {c}, COALESCE({row}.tier, 0), {row}.dream_type {c}, {row}.test_outcome {c})"


_UPDATE_OF = f"AFTER UPDATE OF {', '.join(_COUNTED)} ON dream_procedures"
# Row triggers on UPDATE and DELETE only: an INSERT trigger would double the cost of bulk inserts.
_TRIGGERS = {
    "sqlite": [
        f"CREATE TRIGGER IF NOT EXISTS dream_counts_on_update {_UPDATE_OF} WHEN {_changed('IS NOT')} "
        f"BEGIN {_count_change('OLD', -1)}; {_count_change('NEW', 1)}; END",
        "CREATE TRIGGER IF NOT EXISTS dream_counts_on_delete AFTER DELETE ON dream_procedures "
        f"BEGIN {_count_change('OLD', -1)}; END",
    ],
    "postgres": [
        # Every writer locks dream_counts rows in key order, so concurrent writers cannot deadlock.
        f"""CREATE OR REPLACE FUNCTION dream_counts_track() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'DELETE' THEN
                {_count_change("OLD", -1)};
            ELSIF {_pg_key("OLD")} < {_pg_key("NEW")} THEN
                {_count_change("OLD", -1)};
                {_count_change("NEW", 1)};
            ELSE
                {_count_change("NEW", 1)};
                {_count_change("OLD", -1)};
            END IF;
            RETURN NULL;
        END $$""",
        "DROP TRIGGER IF EXISTS dream_counts_on_update ON dream_procedures",
        f"CREATE TRIGGER dream_counts_on_update {_UPDATE_OF} FOR EACH ROW "
        f"WHEN ({_changed('IS DISTINCT FROM')}) EXECUTE FUNCTION dream_counts_track()",
        "DROP TRIGGER IF EXISTS dream_counts_on_delete ON dream_procedures",
        "CREATE TRIGGER dream_counts_on_delete AFTER DELETE ON dream_procedures "
        "FOR EACH ROW EXECUTE FUNCTION dream_counts_track()",
    ],
}


def _create_counts(db: pw.Database) -> None:
    """Create dream_counts if missing, count every stored dream into it, and (re)create its triggers."""
    DreamCountRow.create_table(safe=True)
    DreamCountRow.delete().execute()
    tier = pw.fn.COALESCE(DreamRow.tier, pw.SQL("0"))  # a literal, so PostgreSQL sees one GROUP BY expression
    per_key = DreamRow.select(
        DreamRow.status,
        tier,
        DreamRow.dream_type,
        DreamRow.test_outcome,
        pw.fn.COUNT(DreamRow.id),
        pw.fn.COALESCE(pw.fn.SUM(DreamRow.viability_score), 0),
        pw.fn.COUNT(DreamRow.viability_score),
        pw.fn.COALESCE(pw.fn.SUM(DreamRow.novelty_score), 0),
        pw.fn.COUNT(DreamRow.novelty_score),
    ).group_by(DreamRow.status, tier, DreamRow.dream_type, DreamRow.test_outcome)
    columns = [DreamCountRow._meta.fields[column] for column in COUNT_KEY + COUNT_VALUES]
    DreamCountRow.insert_from(per_key, columns).execute()
    for statement in _TRIGGERS["postgres" if isinstance(db, pw.PostgresqlDatabase) else "sqlite"]:
        db.execute_sql(statement)


def _add_evaluation_attempts(migrator: SchemaMigrator) -> list:
    """v2: dreams remember how often evaluation failed and why."""
    return [
        migrator.add_column("dream_procedures", "eval_attempts", pw.IntegerField(default=0)),
        migrator.add_column("dream_procedures", "last_error", pw.TextField(null=True)),
    ]


def _add_rejections_and_seeds(migrator: SchemaMigrator) -> list:
    """v3: rejected drafts are kept with their reason; a run records its seed (for resuming)."""
    RejectedDraftRow.create_table()
    operations = [migrator.add_column("dream_generation_runs", "seed", pw.BigIntegerField(null=True))]
    if isinstance(migrator, PostgresqlMigrator):  # v1/v2 kept durations in single precision there
        operations.append(
            migrator.alter_column_type("dream_generation_runs", "duration_seconds", pw.DoubleField(default=0.0))
        )
    return operations


def _reindex_and_count(migrator: SchemaMigrator) -> list:
    """v4: the dream indexes that serve every query (some replaced, some gone), and dream_counts."""
    for columns in ("base_procedure_id", "tier_viability_score", "tier_cross_project_matches",
                    "status_tier_test_outcome"):
        migrator.database.execute_sql(f'DROP INDEX IF EXISTS "dream_procedures_{columns}"')
    DreamRow._schema.create_indexes(safe=True)
    _create_counts(migrator.database)
    return []


def _add_test_results(migrator: SchemaMigrator) -> list:
    """v5: differential test figures per dream, failure patterns, and why a run stopped early.

    ``test_cases`` is added in plain SQL: the SQLite migrator would rebuild the table for a NOT NULL
    column, and that drops the dream_counts triggers."""
    FailurePatternRow.create_table()
    migrator.database.execute_sql("ALTER TABLE dream_procedures ADD COLUMN test_cases INTEGER NOT NULL DEFAULT 0")
    return [
        migrator.add_column("dream_procedures", "failure_category", pw.TextField(null=True)),
        migrator.add_column("dream_procedures", "equivalence_rate", pw.DoubleField(null=True)),
        migrator.add_column("dream_procedures", "speedup", pw.DoubleField(null=True)),
        migrator.add_column("dream_generation_runs", "stop_reason", pw.TextField(null=True)),
    ]


def _add_adoptions(migrator: SchemaMigrator) -> list:
    """v6: dreams a user adopted into their code."""
    AdoptionRow.create_table()
    return []


def _add_learning(migrator: SchemaMigrator) -> list:
    """v7: per-dream scores (the compound score's components), and the adaptation plans."""
    AdaptationPlanRow.create_table()
    AdaptationDecisionRow.create_table()
    columns = {
        "quality_score": pw.DoubleField(null=True),
        "leverage_score": pw.DoubleField(null=True),
        "efficiency_score": pw.DoubleField(null=True),
        "compound_score": pw.DoubleField(null=True),
        "base_callers": pw.IntegerField(null=True),
        "scored_at": UTCDateTimeField(null=True),
    }
    return [migrator.add_column("dream_procedures", name, field) for name, field in columns.items()]


def _one_per_run(migrator: SchemaMigrator) -> list:
    """v8: a run records its executor and its stages' figures; a run has at most one metrics row and one adaptation plan
    (a stage run again after a crash or by a second worker keeps the first; older duplicates go)."""
    db = migrator.database
    for table in ("dream_metrics", "adaptation_plans"):
        db.execute_sql(
            f"DELETE FROM {table} WHERE run_id IS NOT NULL AND id NOT IN "
            f"(SELECT min(id) FROM {table} WHERE run_id IS NOT NULL GROUP BY run_id)"
        )
        db.execute_sql(f'DROP INDEX IF EXISTS "{table}_run_id"')
        db.execute_sql(f'CREATE UNIQUE INDEX "{table}_run_id" ON {table} (run_id)')
    db.execute_sql("ALTER TABLE dream_generation_runs ADD COLUMN executor TEXT NOT NULL DEFAULT 'local'")
    db.execute_sql("ALTER TABLE dream_generation_runs ADD COLUMN stages TEXT NOT NULL DEFAULT '{}'")
    return []


# version reached -> the operations that reach it from the version before
MIGRATIONS: dict[int, Callable[[SchemaMigrator], list]] = {
    2: _add_evaluation_attempts,
    3: _add_rejections_and_seeds,
    4: _reindex_and_count,
    5: _add_test_results,
    6: _add_adoptions,
    7: _add_learning,
    8: _one_per_run,
}

Model = TypeVar("Model")


def _model_from_row(cls: type[Model], row: dict[str, Any], table: str) -> Model:
    try:
        return cls(**row)
    except (ValueError, TypeError) as exc:
        raise StoreError(f"store: {table} row {row.get('id')}: invalid stored value ({exc})") from None


def _load(cls: type[Model], table: type[Table], cursor: Any) -> list[Model]:
    """Models from a raw cursor over ``SELECT *`` of ``table`` (its columns, matched by name).

    Only timestamps and JSON are converted; other values are taken as the driver gives them.
    (Peewee's ``.dicts()`` converts every value: that was most of the time of a 100-row read.)
    """
    fields = [table._meta.columns.get(column[0]) for column in cursor.description]
    names = [field.name if field else column[0] for field, column in zip(fields, cursor.description)]
    converters = [(f.name, f.python_value) for f in fields if isinstance(f, (UTCDateTimeField, JSONField))]
    models = []
    for values in cursor:
        row = dict(zip(names, values))
        for name, convert in converters:
            if row[name] is not None:
                row[name] = convert(row[name])
        models.append(_model_from_row(cls, row, table._meta.table_name))
    return models


FIGURE_LIST_LIMIT = 20


def _added(known: Any, value: Any) -> Any:
    """``value`` added to a stored figure: numbers summed, lists joined (capped), else replaced."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and isinstance(known, (int, float, type(None))):
        return round((known or 0) + value, 6)
    if isinstance(value, list) and isinstance(known, (list, type(None))):
        return ((known or []) + value)[:FIGURE_LIST_LIMIT]
    return value


def _row_from_model(obj: Any, *, skip: Iterable[str] = ("id",)) -> dict[str, Any]:
    row = attrs.asdict(obj, recurse=False)
    for key in skip:
        row.pop(key, None)
    for key, value in row.items():
        if isinstance(value, (DreamStatus, TestOutcome)):
            row[key] = value.value
        elif isinstance(value, DreamTier):
            row[key] = int(value)
        elif isinstance(value, str):
            row[key] = _scrub(value)
    return row


def _scrub(text: str) -> str:
    # PostgreSQL text cannot hold NUL; replace it on every backend so both keep the same value.
    return text.replace("\x00", "\ufffd") if "\x00" in text else str(text)


def code_fingerprint(code: str) -> str:
    """Fallback fingerprint when a caller gives none: SHA-256 of the code without trailing spaces."""
    normalised = "\n".join([line.rstrip() for line in code.strip().splitlines()])
    return hashlib.sha256(normalised.encode()).hexdigest()


def _writer(field: pw.Field) -> Callable[[Any], Any]:
    """How a value that the driver cannot take as it is gets written to ``field``."""
    if isinstance(field, UTCDateTimeField):
        return lambda value: (
            value.astimezone(UTC).replace(tzinfo=None) if isinstance(value, datetime) and value.tzinfo
            else field.db_value(value)
        )
    if isinstance(field, pw.TextField):  # NUL scrubbed; enum members become their plain value
        return lambda value: _scrub(value) if isinstance(value, str) else field.db_value(value)
    return field.db_value  # float() or int(): IntEnum tiers, bools, ints for scores...


def _plain(field: pw.Field) -> type | None:
    """The type of value written to ``field`` as it is (None: every value needs its writer)."""
    if isinstance(field, pw.FloatField):
        return float
    return int if isinstance(field, (pw.IntegerField, pw.ForeignKeyField)) else None


_DREAM_FIELDS = [field for field in DreamRow._meta.sorted_fields if field.name != "id"]
_DREAM_NAMES = [field.name for field in _DREAM_FIELDS]
_DREAM_WRITERS = [_writer(field) for field in _DREAM_FIELDS]
_DREAM_TEXT = [i for i, field in enumerate(_DREAM_FIELDS) if isinstance(field, pw.TextField)]
_DREAM_OTHER = [(i, _plain(field)) for i, field in enumerate(_DREAM_FIELDS) if not isinstance(field, pw.TextField)]
_dream_attributes = operator.attrgetter(*_DREAM_NAMES)
_BASE_ID, _FINGERPRINT = _DREAM_NAMES.index("base_procedure_id"), _DREAM_NAMES.index("fingerprint")


def _dream_values(dream: DreamProcedure) -> list[Any]:
    """A dream's column values in ``_DREAM_FIELDS`` order, NUL scrubbed, with its fingerprint.

    This runs for every row of a bulk insert, so plain values go to the driver as they are.
    """
    values = list(_dream_attributes(dream))
    for i in _DREAM_TEXT:
        value = values[i]
        if value is not None and (value.__class__ is not str or "\x00" in value):
            values[i] = _DREAM_WRITERS[i](value)
    for i, plain in _DREAM_OTHER:
        value = values[i]
        if value is not None and value.__class__ is not plain:
            values[i] = _DREAM_WRITERS[i](value)
    values[_FINGERPRINT] = values[_FINGERPRINT] or code_fingerprint(dream.code)
    return values


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@", 1)
    return url


def _explain(exc: Exception, where: str, busy_timeout: float) -> StoreError:
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if "database is locked" in message or "database table is locked" in message:
        return StoreError(f"store: {where} is locked by another process (waited {busy_timeout:g} s)")
    if "file is not a database" in message or "malformed" in message:
        return StoreError(f"store: {where} is not a readable SQLite database ({message})")
    if "unable to open database file" in message:
        return StoreError(f"store: cannot open {where} (missing folder or no permission)")
    if isinstance(exc, pw.IntegrityError):
        return StoreError(f"store: {where}: rejected by the database ({message})")
    if isinstance(exc, (pw.OperationalError, pw.InterfaceError)) and "connection" in message.lower():
        return StoreError(f"store: cannot connect to {where} ({message})")
    return StoreError(f"store: {where}: {type(exc).__name__}: {message}")


def _guarded(method: Callable) -> Callable:
    """Bind this store's database and turn database failures into one-line StoreErrors."""

    @functools.wraps(method)
    def wrapper(self: DreamStore, *args: Any, **kwargs: Any) -> Any:
        if database.obj is not self.db:
            database.initialize(self.db)
        try:
            return method(self, *args, **kwargs)
        except pw.PeeweeException as exc:
            raise _explain(exc.__cause__ or exc, self.where, self.busy_timeout) from None
        except (sqlite3.Error, OSError) as exc:
            raise _explain(exc, self.where, self.busy_timeout) from None

    return wrapper


def _connect(url: str, base_dir: Path | None, busy_timeout: float) -> tuple[pw.Database, str]:
    parts = urlsplit(url)
    scheme = parts.scheme
    if scheme == "sqlite":
        raw = unquote(url[len("sqlite:///"):]) if url.startswith("sqlite:///") else ""
        if raw in ("", ":memory:"):
            path = ":memory:"
        else:
            file = Path(raw)
            if not file.is_absolute() and base_dir is not None:
                file = base_dir / file
            file.parent.mkdir(parents=True, exist_ok=True)
            path = str(file)
        db = pw.SqliteDatabase(
            path,
            pragmas={
                "page_size": 16384,  # new files only: dream rows are ~1.5 KB, more fit a page
                "journal_mode": "wal",
                "foreign_keys": 1,
                "synchronous": "normal",
                "busy_timeout": int(busy_timeout * 1000),
                "cache_size": -16000,
            },
            timeout=busy_timeout,
        )
        return db, path
    if scheme in ("postgresql", "postgres"):
        db = db_url.connect(url, unquote_password=True, unquote_user=True, connect_timeout=max(1, int(busy_timeout)))
        host = parts.hostname or "localhost"
        return db, f"PostgreSQL {host}:{parts.port or 5432}/{parts.path.lstrip('/')}"
    raise StoreError(f"store: unknown scheme {scheme or url!r} (expected sqlite, postgresql)")


class StoredIds(list):
    """Ids of stored dreams in input order; ``new`` is the set of ids inserted by this call."""

    def __init__(self, ids: list[int], new: frozenset[int]) -> None:
        super().__init__(ids)
        self.new = new


class DreamStore:
    """The seed's dream store API over SQLite or PostgreSQL.

    ``url`` is ``sqlite:///relative/or/absolute.db`` (relative to ``base_dir``), ``sqlite://`` for
    memory, or ``postgresql://user:password@host:port/db``. Opening migrates an older schema.
    """

    def __init__(self, url: str, *, base_dir: Path | None = None, busy_timeout: float = 5.0) -> None:
        self.url = url
        self.busy_timeout = busy_timeout
        try:
            self.db, self.where = _connect(url, base_dir, busy_timeout)
        except StoreError:
            raise
        except Exception as exc:
            raise StoreError(f"store: cannot open {_redact(url)}: {exc}") from None
        self.is_postgres = isinstance(self.db, pw.PostgresqlDatabase)
        self._migrate()

    @classmethod
    def from_config(cls, config: Any) -> DreamStore:
        """Open the store named by a Config's ``[store]`` table."""
        return cls(config.store.url, base_dir=config.base_dir, busy_timeout=config.store.busy_timeout)

    def close(self) -> None:
        """Close this thread's connection."""
        if not self.db.is_closed():
            self.db.close()

    def __enter__(self) -> DreamStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- schema -----------------------------------------------------------------------------
    def _lock_for_write(self):
        return self.db.atomic("IMMEDIATE") if not self.is_postgres else self.db.atomic()

    @_guarded
    def _migrate(self) -> None:
        with self._lock_for_write():
            if self.is_postgres:
                self.db.execute_sql("SELECT pg_advisory_xact_lock(7261)")
            if not SchemaVersionRow.table_exists():
                if ProcedureRow.table_exists() or DreamRow.table_exists():
                    raise StoreError(f"store: {self.where} has dream tables but no schema_version table")
                self.db.create_tables(TABLES)
                _create_counts(self.db)
                SchemaVersionRow.create(version=SCHEMA_VERSION, applied_at=utcnow())
                return
            current = self.schema_version()
            if current > SCHEMA_VERSION:
                raise StoreError(
                    f"store: {self.where} has schema v{current}, newer than this dreamcore "
                    f"(v{SCHEMA_VERSION}); upgrade dreamcore"
                )
            migrator = PostgresqlMigrator(self.db) if self.is_postgres else SqliteMigrator(self.db)
            for version in range(current + 1, SCHEMA_VERSION + 1):
                migrate(*MIGRATIONS[version](migrator))
                SchemaVersionRow.create(version=version, applied_at=utcnow())

    @_guarded
    def schema_version(self) -> int:
        """The schema version recorded in the database."""
        return SchemaVersionRow.select(pw.fn.MAX(SchemaVersionRow.version)).scalar() or 0

    # -- procedures -------------------------------------------------------------------------
    @_guarded
    def upsert_procedure(self, procedure: Procedure) -> int:
        """Store a procedure unless the same version is known; returns its id.

        A procedure whose code changed (same project, module and qualified name, new fingerprint)
        is stored as a new version linked to the previous one through ``previous_id``.
        """
        row = _row_from_model(procedure)
        fingerprint = row["fingerprint"] or code_fingerprint(procedure.source)
        key = (
            (ProcedureRow.project == row["project"])
            & (ProcedureRow.module == row["module"])
            & (ProcedureRow.qualname == row["qualname"])
        )
        with self.db.atomic():
            same = ProcedureRow.select(ProcedureRow.id).where(key & (ProcedureRow.fingerprint == fingerprint))
            existing = same.scalar()
            if existing is not None:
                return existing
            previous = ProcedureRow.select(pw.fn.MAX(ProcedureRow.id)).where(key).scalar()
            row.update(fingerprint=fingerprint, previous_id=previous or procedure.previous_id)
            inserted = ProcedureRow.insert(row).on_conflict_ignore().returning(ProcedureRow.id).tuples().execute()
            ids = [r[0] for r in inserted]
            return ids[0] if ids else same.scalar()

    @_guarded
    def get_procedure(self, procedure_id: int) -> Procedure:
        """One procedure by id (NotFoundError if absent)."""
        query = ProcedureRow.select(pw.SQL("*")).where(ProcedureRow.id == procedure_id)
        found = _load(Procedure, ProcedureRow, self.db.execute(query))
        if not found:
            raise NotFoundError(f"no procedure with id {procedure_id}")
        return found[0]

    @_guarded
    def get_procedures(self, project: str | None = None, *, current_only: bool = True) -> list[Procedure]:
        """Procedures ordered by id; only the newest version of each unless ``current_only=False``."""
        query = ProcedureRow.select(pw.SQL("*"))
        if project is not None:
            query = query.where(ProcedureRow.project == project)
        if current_only:
            superseded = ProcedureRow.select(ProcedureRow.previous_id).where(ProcedureRow.previous_id.is_null(False))
            query = query.where(ProcedureRow.id.not_in(superseded))
        return _load(Procedure, ProcedureRow, self.db.execute(query.order_by(ProcedureRow.id)))

    @_guarded
    def count_procedures(self) -> int:
        """Number of stored procedure versions."""
        return ProcedureRow.select().count()

    # -- dreams: writes ---------------------------------------------------------------------
    @_guarded
    def store_dream(self, dream: DreamProcedure) -> int:
        """Store one dream; storing the same (procedure, fingerprint) again is a no-op. Returns its id."""
        return self._store([dream])[0]

    @_guarded
    def store_dreams_batch(self, dreams: Iterable[DreamProcedure]) -> StoredIds:
        """Store many dreams in one transaction with bulk inserts; returns their ids in order.

        Dreams already stored (same procedure and fingerprint) keep their row and existing id;
        the returned list's ``new`` attribute holds the ids of the rows this call inserted.
        """
        return self._store(dreams)

    # What a bulk insert returns of each row it inserted: its id, its key, and what dream_counts counts.
    _INSERTED = ("id", "base_procedure_id", "fingerprint", *COUNT_KEY, "viability_score", "novelty_score")

    def _insert(self, rows: list[list[Any]]) -> list[tuple]:
        """Insert rows of ``_dream_values``, skipping known (procedure, fingerprint) pairs; returns
        ``_INSERTED`` of the rows inserted.

        Raw SQL (Peewee took longer to build the statement than the database to run it). SQLite gets
        a multi-row VALUES; PostgreSQL one array per column, unnested, as psycopg would parse each of
        a long statement's placeholders in Python.
        """
        columns = ", ".join(f'"{field.column_name}"' for field in _DREAM_FIELDS)
        if self.is_postgres:
            types = self.db.get_context_options()["field_types"]
            arrays = ", ".join(f"%s::{types[field.field_type]}[]" for field in _DREAM_FIELDS)
            values, params = f"SELECT * FROM unnest({arrays})", [list(column) for column in zip(*rows)]
        else:
            row = f"({', '.join(['?'] * len(_DREAM_FIELDS))})"
            values, params = f"VALUES {', '.join([row] * len(rows))}", list(itertools.chain(*rows))
        sql = f"INSERT INTO dream_procedures ({columns}) {values} ON CONFLICT DO NOTHING RETURNING "
        return self.db.execute_sql(sql + ", ".join(self._INSERTED), params).fetchall()

    def _store(self, dreams: Iterable[DreamProcedure]) -> StoredIds:
        """Insert dreams a chunk at a time (each converted just before it is sent) in one transaction."""
        keys: list[tuple[int, str]] = []  # (base_procedure_id, fingerprint) of every dream, in order
        ids: dict[tuple[int, str], int] = {}
        inserted: list[tuple] = []
        chunk = 30000 // len(_DREAM_FIELDS)  # parameters per statement stay under SQLite's limit
        dreams = iter(dreams)
        with self.db.atomic():
            while rows := [_dream_values(dream) for dream in itertools.islice(dreams, chunk)]:
                part = [(row[_BASE_ID], row[_FINGERPRINT]) for row in rows]
                for returned in self._insert(rows):
                    ids[returned[1], returned[2]] = returned[0]
                    inserted.append(returned)
                if missing := [key for key in part if key not in ids]:
                    ids.update(self._ids_for(missing))
                keys += part
            self._add_counts(row[3:] for row in inserted)
        return StoredIds([ids[key] for key in keys], frozenset(row[0] for row in inserted))

    def _ids_for(self, keys: list[tuple[int, str]]) -> dict[tuple[int, str], int]:
        """Ids of stored dreams by (base_procedure_id, fingerprint), through the unique index."""
        key = pw.Tuple(DreamRow.base_procedure_id, DreamRow.fingerprint)
        query = DreamRow.select(DreamRow.id, DreamRow.base_procedure_id, DreamRow.fingerprint)
        found = self.db.execute(query.where(key.in_(pw.ValuesList(keys))))
        return {(base_id, fingerprint): dream_id for dream_id, base_id, fingerprint in found}

    def _add_counts(self, rows: Iterable[tuple]) -> None:
        """Count inserted dreams, given as (status, tier, type, outcome, viability, novelty)."""
        totals: dict[tuple, list] = {}
        for status, tier, dream_type, outcome, viability, novelty in rows:
            total = totals.setdefault((status, tier or 0, dream_type, outcome), [0, 0.0, 0, 0.0, 0])
            total[0] += 1
            if viability is not None:
                total[1] += viability
                total[2] += 1
            if novelty is not None:
                total[3] += novelty
                total[4] += 1
        if not totals:
            return
        # In key order, like the PostgreSQL trigger, so that concurrent writers cannot deadlock.
        values = [(*key, *total) for key, total in sorted(totals.items())]
        fields = [DreamCountRow._meta.fields[column] for column in COUNT_KEY + COUNT_VALUES]
        added = {field: field + pw.EXCLUDED[field.column_name] for field in fields[4:]}
        upsert = DreamCountRow.insert_many(values, fields)
        upsert.on_conflict(conflict_target=fields[:4], update=added).execute()

    @_guarded
    def update_dream(self, dream: DreamProcedure) -> None:
        """Write every field of a stored dream (NotFoundError if its id is unknown)."""
        if dream.id is None:
            raise NotFoundError("update_dream needs a dream with an id")
        row = dict(zip(_DREAM_FIELDS, _dream_values(dream)))
        if DreamRow.update(row).where(DreamRow.id == dream.id).execute() == 0:
            raise NotFoundError(f"no dream with id {dream.id}")

    @_guarded
    def transition(
        self, dream_id: int, from_status: DreamStatus, to_status: DreamStatus, **fields: Any
    ) -> bool:
        """Move a dream between statuses only if it is still in ``from_status``; True if it moved.

        This conditional write is what makes a re-run stage change nothing: the second attempt
        finds the dream already moved. Any claim on the dream is released.
        """
        row = {k: v.value if isinstance(v, (DreamStatus, TestOutcome)) else v for k, v in fields.items()}
        if isinstance(row.get("tier"), DreamTier):
            row["tier"] = int(row["tier"])
        row.update(status=to_status.value, claimed_by=None, claimed_at=None)
        query = DreamRow.update(row).where((DreamRow.id == dream_id) & (DreamRow.status == from_status.value))
        return query.execute() == 1

    @_guarded
    def delete_dream(self, dream_id: int) -> bool:
        """Delete a dream; True if it existed."""
        return DreamRow.delete().where(DreamRow.id == dream_id).execute() == 1

    # -- dreams: evaluation state ---------------------------------------------------------
    def _awaiting(self, max_attempts: int, flagged: bool) -> Any:
        attempts = DreamRow.eval_attempts >= max_attempts if flagged else DreamRow.eval_attempts < max_attempts
        return (DreamRow.status == DreamStatus.PENDING_EVALUATION.value) & attempts

    @_guarded
    def get_evaluable(self, max_attempts: int, limit: int | None = 100, after_id: int = 0) -> list[DreamProcedure]:
        """Dreams awaiting evaluation that failed it fewer than ``max_attempts`` times, in id order,
        from after ``after_id`` (a cursor for paging through a backlog)."""
        return self._dreams(self._awaiting(max_attempts, False) & (DreamRow.id > after_id), DreamRow.id, limit)

    @_guarded
    def get_flagged(self, max_attempts: int, limit: int | None = 100) -> list[DreamProcedure]:
        """Dreams still awaiting evaluation after ``max_attempts`` or more failed attempts, in id order."""
        return self._dreams(self._awaiting(max_attempts, True), DreamRow.id, limit)

    @_guarded
    def evaluation_backlog(self, max_attempts: int) -> dict[str, int]:
        """How many dreams await evaluation: ``evaluable`` (fewer than ``max_attempts`` failures) and
        ``flagged`` (the others)."""
        return {
            "evaluable": DreamRow.select().where(self._awaiting(max_attempts, False)).count(),
            "flagged": DreamRow.select().where(self._awaiting(max_attempts, True)).count(),
        }

    @_guarded
    def record_evaluation_failure(self, dream_ids: Iterable[int], error: str) -> int:
        """Count a failed evaluation attempt on each dream still awaiting evaluation: ``eval_attempts``
        + 1 and ``last_error``. Returns how many dreams it counted on."""
        ids = list(dream_ids)
        if not ids:
            return 0
        query = DreamRow.update(eval_attempts=DreamRow.eval_attempts + 1, last_error=_scrub(error)).where(
            DreamRow.id.in_(ids) & (DreamRow.status == DreamStatus.PENDING_EVALUATION.value)
        )
        return query.execute()

    # -- dreams: claiming work --------------------------------------------------------------
    @_guarded
    def claim_dreams(
        self, status: DreamStatus, worker: str, limit: int = 10, *, lease_seconds: float = 600
    ) -> list[DreamProcedure]:
        """Claim up to ``limit`` unclaimed dreams in ``status`` for ``worker``, oldest first.

        Safe with many workers: PostgreSQL picks them with ``FOR UPDATE SKIP LOCKED``; SQLite takes
        the write lock first (``BEGIN IMMEDIATE``); both then claim what they picked with one UPDATE.
        Claims older than ``lease_seconds`` (a worker that died) can be claimed again. The claimed
        dreams are returned in id order.
        """
        now = utcnow()
        free = DreamRow.claimed_by.is_null() | (DreamRow.claimed_at < now - timedelta(seconds=lease_seconds))
        claimable = (DreamRow.status == status.value) & free
        oldest = DreamRow.select(DreamRow.id).where(claimable).order_by(DreamRow.generated_at, DreamRow.id)
        oldest = oldest.limit(limit)
        with self._lock_for_write():
            if self.is_postgres:
                oldest = oldest.for_update(skip_locked=True)
            ids = [row[0] for row in self.db.execute(oldest)]
            if not ids:
                return []
            # Two statements: as an IN subquery, FOR UPDATE SKIP LOCKED can pick more than ``limit``.
            # The picked rows are locked, so they are still claimable.
            claim = DreamRow.update(claimed_by=worker, claimed_at=now).where(DreamRow.id.in_(ids))
            claimed = self.db.execute(claim.returning(pw.SQL("*")))
            return sorted(_load(DreamProcedure, DreamRow, claimed), key=operator.attrgetter("id"))

    @_guarded
    def release_claims(self, dream_ids: Iterable[int], worker: str) -> int:
        """Give back claims a worker holds without finishing them; returns how many."""
        query = DreamRow.update(claimed_by=None, claimed_at=None).where(
            DreamRow.id.in_(list(dream_ids)) & (DreamRow.claimed_by == worker)
        )
        return query.execute()

    # -- dreams: reads ----------------------------------------------------------------------
    def _dreams(self, where: Any, order: Any, limit: int | None) -> list[DreamProcedure]:
        query = DreamRow.select(pw.SQL("*")).where(where)
        query = query.order_by(*(order if isinstance(order, tuple) else (order,)))
        if limit is not None:
            query = query.limit(limit)
        return _load(DreamProcedure, DreamRow, self.db.execute(query))

    def _best_evaluated(
        self, score: str, condition: str, value: Any, limit: int | None
    ) -> list[DreamProcedure]:
        """Evaluated dreams whose ``condition`` (SQL with one parameter, ``value``) holds, highest
        ``score`` column first, then by id.

        A plain ``status IN (...)`` would read and sort every match. Instead the best ``limit`` of
        each evaluated status are read in order from a (status, ..., score) index, and only the rows
        of the best of those are fetched. Raw SQL: Peewee took longer to build this query than the
        database to run it.
        """
        p, order = self.db.param, f"ORDER BY {score} DESC, id LIMIT {self.db.param}"
        per_status = " UNION ALL ".join(
            f"SELECT * FROM (SELECT id, {score} FROM dream_procedures "
            f"WHERE status = {p} AND {condition} {order}) AS status{n}"
            for n in range(len(EVALUATED_STATES))
        )
        best = f"SELECT id FROM ({per_status}) AS best {order}"
        sql = f"SELECT * FROM dream_procedures WHERE id IN ({best}) {order}"
        limit = sys.maxsize if limit is None else limit  # LIMIT NULL is no limit on PostgreSQL only
        params = [v for status in EVALUATED_STATES for v in (status.value, value, limit)] + [limit, limit]
        return _load(DreamProcedure, DreamRow, self.db.execute_sql(sql, params))

    _NEWEST = (DreamRow.generated_at.desc(), DreamRow.id.desc())

    @_guarded
    def get_dream(self, dream_id: int) -> DreamProcedure:
        """One dream by id (NotFoundError if absent)."""
        found = self._dreams(DreamRow.id == dream_id, DreamRow.id, 1)
        if not found:
            raise NotFoundError(f"no dream with id {dream_id}")
        return found[0]

    @_guarded
    def get_pending_evaluation(self, limit: int = 100) -> list[DreamProcedure]:
        """Dreams awaiting evaluation, newest first."""
        return self._dreams(DreamRow.status == DreamStatus.PENDING_EVALUATION.value, self._NEWEST, limit)

    @_guarded
    def get_by_status(self, status: DreamStatus, limit: int | None = 100) -> list[DreamProcedure]:
        """Dreams in one status, newest first."""
        return self._dreams(DreamRow.status == DreamStatus(status).value, self._NEWEST, limit)

    @_guarded
    def get_by_tier(self, tier: DreamTier, limit: int | None = 100) -> list[DreamProcedure]:
        """Evaluated (not archived) dreams of one tier, best viability first."""
        return self._best_evaluated("viability_score", f"tier = {self.db.param}", int(DreamTier(tier)), limit)

    @_guarded
    def get_by_type(self, dream_type: str, limit: int | None = 100) -> list[DreamProcedure]:
        """Dreams of one type, newest first."""
        return self._dreams(DreamRow.dream_type == str(dream_type), self._NEWEST, limit)

    @_guarded
    def get_by_base_procedure(self, procedure_id: int, limit: int | None = 100) -> list[DreamProcedure]:
        """Dreams of one base procedure, newest first."""
        return self._dreams(DreamRow.base_procedure_id == procedure_id, self._NEWEST, limit)

    @_guarded
    def get_high_novelty(self, min_score: float = 0.7, limit: int | None = 100) -> list[DreamProcedure]:
        """Evaluated dreams with novelty >= ``min_score``, most novel first."""
        return self._best_evaluated("novelty_score", f"novelty_score >= {self.db.param}", min_score, limit)

    @_guarded
    def get_cross_project_viable(self, min_matches: int = 2, limit: int | None = 100) -> list[DreamProcedure]:
        """Tier-1 dreams whose idea applies to >= ``min_matches`` procedures in other projects."""
        where = (DreamRow.tier == int(DreamTier.VIABLE)) & (DreamRow.cross_project_matches >= min_matches)
        order = (DreamRow.cross_project_matches.desc(), DreamRow.viability_score.desc(), DreamRow.id)
        return self._dreams(where, order, limit)

    @_guarded
    def find_dreams(
        self,
        *,
        status: DreamStatus | None = None,
        tier: DreamTier | None = None,
        dream_type: str | None = None,
        limit: int | None = 100,
    ) -> list[DreamProcedure]:
        """Dreams matching every filter given, newest first (the journal)."""
        where = pw.Value(True)
        if status is not None:
            where &= DreamRow.status == DreamStatus(status).value
        if tier is not None:
            where &= DreamRow.tier == int(DreamTier(tier))
        if dream_type is not None:
            where &= DreamRow.dream_type == str(dream_type)
        return self._dreams(where, self._NEWEST, limit)

    # -- statistics (from dream_counts) ----------------------------------------------------
    def _counts(self) -> list[tuple]:
        """The dream_counts rows that count any dream: (status, tier or 0, type, outcome, dreams,
        viability_sum, viability_count, novelty_sum, novelty_count)."""
        columns = [getattr(DreamCountRow, column) for column in COUNT_KEY + COUNT_VALUES]
        return list(self.db.execute(DreamCountRow.select(*columns).where(DreamCountRow.dreams != 0)))

    @classmethod
    def _by_status(cls, counts: list[tuple]) -> dict[DreamStatus, int]:
        by_status = dict.fromkeys(DreamStatus, 0)
        for status, _, _, _, dreams, *_ in counts:
            by_status[cls._enum(DreamStatus, status, "status")] += dreams
        return by_status

    @classmethod
    def _by_tier(cls, counts: list[tuple]) -> dict[DreamTier, int]:
        by_tier = dict.fromkeys(DreamTier, 0)
        for _, tier, _, _, dreams, *_ in counts:
            if tier != 0:
                by_tier[cls._enum(DreamTier, tier, "tier")] += dreams
        return by_tier

    @staticmethod
    def _enum(cls: type, value: Any, column: str) -> Any:
        try:
            return cls(value)
        except ValueError:
            raise StoreError(f"store: dream_procedures: invalid stored {column} {value!r}") from None

    @_guarded
    def count_by_status(self) -> dict[DreamStatus, int]:
        """Number of dreams in each status (every status present, zeros included)."""
        return self._by_status(self._counts())

    @_guarded
    def count_by_tier(self) -> dict[DreamTier, int]:
        """Number of evaluated dreams in each tier (zeros included)."""
        return self._by_tier(self._counts())

    @_guarded
    def get_statistics(self) -> dict[str, Any]:
        """Totals, counts per status/tier/type, averages, and the tier-1 test success rate."""
        counts = self._counts()
        by_status, by_tier = self._by_status(counts), self._by_tier(counts)
        by_type: dict[str, int] = {}
        sums = [0.0, 0, 0.0, 0]  # viability sum and count, novelty sum and count, of dreams with a tier
        tier1_outcomes: dict[str, int] = {}
        for _, tier, dream_type, outcome, dreams, *scores in counts:
            by_type[dream_type] = by_type.get(dream_type, 0) + dreams
            if tier != 0:
                sums = [a + b for a, b in zip(sums, scores)]
            if tier == int(DreamTier.VIABLE) and outcome != TestOutcome.PENDING.value:
                tier1_outcomes[outcome] = tier1_outcomes.get(outcome, 0) + dreams
        tier1_tested = sum(tier1_outcomes.values())
        return {
            "total_dreams": sum(by_status.values()),
            "total_procedures": self.count_procedures(),
            "generation_runs": GenerationRunRow.select().count(),
            "by_status": {status.value: count for status, count in by_status.items()},
            "by_tier": {int(tier): count for tier, count in by_tier.items()},
            "by_type": dict(sorted(by_type.items())),
            "average_viability": sums[0] / sums[1] if sums[1] else None,
            "average_novelty": sums[2] / sums[3] if sums[3] else None,
            "tier1_tested": tier1_tested,
            "tier1_success_rate": (
                tier1_outcomes.get(TestOutcome.SUCCESS.value, 0) / tier1_tested if tier1_tested else None
            ),
            "database_bytes": self.database_size(),
        }

    @_guarded
    def database_size(self) -> int:
        """Bytes the database occupies."""
        if self.is_postgres:
            return self.db.execute_sql("SELECT pg_database_size(current_database())").fetchone()[0]
        pages = self.db.execute_sql("PRAGMA page_count").fetchone()[0]
        return pages * self.db.execute_sql("PRAGMA page_size").fetchone()[0]

    # -- generation bookkeeping -------------------------------------------------------------
    def atomic(self):
        """A transaction (a savepoint when nested): group several store calls into one write."""
        if database.obj is not self.db:
            database.initialize(self.db)
        return self.db.atomic()

    @_guarded
    def serialize_status_moves(self) -> None:
        """Call first inside a transaction that moves several dreams between statuses: on PostgreSQL it
        waits for the other such transactions (a lock released at commit), so their dream_counts row
        locks, taken in each dream's order, never cross into a deadlock. SQLite has one writer anyway."""
        if self.is_postgres:
            self.db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (STATUS_MOVES_LOCK,))

    @_guarded
    def record_rejections(self, drafts: Iterable[RejectedDraft]) -> int:
        """Keep drafts that did not become dreams, with their reasons; returns how many."""
        rows = [_row_from_model(draft) for draft in drafts]
        if rows:
            with self.db.atomic():
                for start in range(0, len(rows), 2000):
                    RejectedDraftRow.insert_many(rows[start : start + 2000]).execute()
        return len(rows)

    @_guarded
    def get_rejections(self, run_id: int | None = None, limit: int | None = 100) -> list[RejectedDraft]:
        """Rejected drafts (of one run, or all), newest first."""
        query = RejectedDraftRow.select(pw.SQL("*")).order_by(RejectedDraftRow.id.desc())
        if run_id is not None:
            query = query.where(RejectedDraftRow.run_id == run_id)
        return _load(RejectedDraft, RejectedDraftRow, self.db.execute(query.limit(limit)))

    @_guarded
    def run_counts(self, run_id: int) -> dict[str, dict[str, Any]]:
        """Counted from the tables for one run: ``dreams_by_type``, ``rejected_by_reason`` (by
        category) and ``model_usage`` (drafts and dreams per model)."""
        dreams = DreamRow.select(DreamRow.dream_type, DreamRow.model_used, pw.fn.COUNT(DreamRow.id)).where(
            DreamRow.run_id == run_id
        )
        rejected = RejectedDraftRow.select(
            RejectedDraftRow.category, RejectedDraftRow.model_used, pw.fn.COUNT(RejectedDraftRow.id)
        ).where(RejectedDraftRow.run_id == run_id)
        by_type: dict[str, int] = {}
        by_reason: dict[str, int] = {}
        usage: dict[str, dict[str, int]] = {}
        for dream_type, model, count in dreams.group_by(DreamRow.dream_type, DreamRow.model_used).tuples():
            by_type[dream_type] = by_type.get(dream_type, 0) + count
            model_counts = usage.setdefault(model, {"drafts": 0, "dreams": 0})
            model_counts["drafts"] += count
            model_counts["dreams"] += count
        for category, model, count in rejected.group_by(RejectedDraftRow.category, RejectedDraftRow.model_used).tuples():
            by_reason[category] = by_reason.get(category, 0) + count
            usage.setdefault(model, {"drafts": 0, "dreams": 0})["drafts"] += count
        return {
            "dreams_by_type": dict(sorted(by_type.items())),
            "rejected_by_reason": dict(sorted(by_reason.items())),
            "model_usage": dict(sorted(usage.items())),
        }

    @_guarded
    def procedures_dreamt_in_run(self, run_id: int) -> set[int]:
        """Ids of procedures that already have dreams or rejected drafts from this run."""
        dreamt = DreamRow.select(DreamRow.base_procedure_id).where(DreamRow.run_id == run_id)
        rejected = RejectedDraftRow.select(RejectedDraftRow.base_procedure_id).where(RejectedDraftRow.run_id == run_id)
        return {row[0] for row in dreamt.union(rejected).tuples()}

    @_guarded
    def get_unfinished_run(self) -> DreamGenerationRun | None:
        """The newest run still marked running (one that was interrupted), or None."""
        query = GenerationRunRow.select(pw.SQL("*")).where(GenerationRunRow.status == "running")
        query = query.order_by(GenerationRunRow.id.desc()).limit(1)
        found = _load(DreamGenerationRun, GenerationRunRow, self.db.execute(query))
        return found[0] if found else None

    # -- adoption ---------------------------------------------------------------------------
    @_guarded
    def record_adoption(self, dream_id: int, note: str = "") -> bool:
        """Record that a dream was adopted into real code; False when it already was."""
        self.get_dream(dream_id)  # NotFoundError for an unknown dream
        with self.db.atomic():
            if AdoptionRow.select().where(AdoptionRow.dream_id == dream_id).exists():
                return False
            AdoptionRow.insert(dream_id=dream_id, adopted_at=utcnow(), note=_scrub(note)).execute()
        return True

    @_guarded
    def adopted_dream_ids(self) -> set[int]:
        """Ids of every adopted dream."""
        return {row[0] for row in AdoptionRow.select(AdoptionRow.dream_id).tuples()}

    # -- runs and metrics -------------------------------------------------------------------
    @_guarded
    def record_generation_run(self, run: DreamGenerationRun) -> int:
        """Insert a generation run, or update it when it already has an id; returns the id."""
        row = _row_from_model(run)
        if run.id is None:
            return GenerationRunRow.insert(row).execute()
        if GenerationRunRow.update(row).where(GenerationRunRow.id == run.id).execute() == 0:
            raise NotFoundError(f"no generation run with id {run.id}")
        return run.id

    @_guarded
    def add_run_figures(self, run_id: int, column: str, figures: dict[str, dict[str, Any]]) -> dict[str, Any]:
        """Add figures to a run's ``model_usage`` (per model) or ``stages`` (per stage) in one
        transaction, so jobs of a run on several workers each add theirs and none overwrites another's:
        numbers are summed, lists joined (the first ``FIGURE_LIST_LIMIT`` entries kept), anything else
        replaced. Returns the column's new value."""
        if column not in ("model_usage", "stages"):
            raise ValueError(f"not a figures column: {column!r}")
        field = getattr(GenerationRunRow, column)
        with self._lock_for_write():
            query = GenerationRunRow.select(field).where(GenerationRunRow.id == run_id)
            # NO KEY UPDATE: jobs inserting the run's dreams hold KEY SHARE locks on its row (their
            # foreign key); FOR UPDATE would wait on them, and two such jobs would deadlock
            found = (query.for_update("FOR NO KEY UPDATE") if self.is_postgres else query).first()
            if found is None:
                raise NotFoundError(f"no generation run with id {run_id}")
            total = getattr(found, column) or {}
            for name, values in figures.items():
                known = total.setdefault(name, {})
                for key, value in values.items():
                    known[key] = _added(known.get(key), value)
            GenerationRunRow.update({field: total}).where(GenerationRunRow.id == run_id).execute()
        return total

    @_guarded
    def get_generation_run(self, run_id: int) -> DreamGenerationRun:
        """One generation run by id (NotFoundError when there is none)."""
        query = GenerationRunRow.select(pw.SQL("*")).where(GenerationRunRow.id == run_id)
        found = _load(DreamGenerationRun, GenerationRunRow, self.db.execute(query))
        if not found:
            raise NotFoundError(f"no generation run with id {run_id}")
        return found[0]

    @_guarded
    def get_generation_runs(self, limit: int | None = 30) -> list[DreamGenerationRun]:
        """Generation runs, newest first."""
        query = GenerationRunRow.select(pw.SQL("*"))
        query = query.order_by(GenerationRunRow.timestamp.desc(), GenerationRunRow.id.desc())
        return _load(DreamGenerationRun, GenerationRunRow, self.db.execute(query.limit(limit)))

    @_guarded
    def store_metrics(self, metrics: DreamMetrics) -> int:
        """Store a metrics row; returns its id. A run has one: when its row exists already (the score
        stage ran again), nothing is written and that row's id is returned."""
        with self.db.atomic():
            query = MetricsRow.insert(_row_from_model(metrics)).on_conflict_ignore().returning(MetricsRow.id)
            inserted = [row[0] for row in query.tuples().execute()]
            if inserted:
                return inserted[0]
            return MetricsRow.select(MetricsRow.id).where(MetricsRow.run_id == metrics.run_id).scalar()

    @_guarded
    def get_latest_metrics(self) -> DreamMetrics | None:
        """The most recent metrics row, or None."""
        query = MetricsRow.select(pw.SQL("*")).order_by(MetricsRow.timestamp.desc(), MetricsRow.id.desc())
        found = _load(DreamMetrics, MetricsRow, self.db.execute(query.limit(1)))
        return found[0] if found else None

    @_guarded
    def get_metrics_since(self, since: datetime) -> list[DreamMetrics]:
        """Metrics rows from ``since`` on, oldest first (the health trend)."""
        query = MetricsRow.select(pw.SQL("*")).where(MetricsRow.timestamp >= since)
        return _load(DreamMetrics, MetricsRow, self.db.execute(query.order_by(MetricsRow.timestamp, MetricsRow.id)))

    @_guarded
    def get_runs_between(self, since: datetime, until: datetime) -> list[DreamGenerationRun]:
        """Generation runs started in [since, until], oldest first."""
        query = GenerationRunRow.select(pw.SQL("*")).where(GenerationRunRow.timestamp.between(since, until))
        return _load(DreamGenerationRun, GenerationRunRow, self.db.execute(query.order_by(GenerationRunRow.id)))

    # -- learning: scores ------------------------------------------------------------------
    _SCORED = ("novelty_score", "quality_score", "leverage_score", "efficiency_score", "compound_score",
               "cross_project_matches", "base_callers", "scored_at")

    @_guarded
    def dreams_to_score(self) -> list[DreamProcedure]:
        """Dreams not archived that were never scored, or were evaluated or tested since; oldest first."""
        stale = (
            DreamRow.scored_at.is_null()
            | (DreamRow.evaluated_at > DreamRow.scored_at)
            | (DreamRow.test_timestamp > DreamRow.scored_at)
        )
        where = (DreamRow.status != DreamStatus.ARCHIVED.value) & stale
        return self._dreams(where, (DreamRow.generated_at, DreamRow.id), None)

    @_guarded
    def dreams_between(self, since: datetime, until: datetime) -> list[DreamProcedure]:
        """Every dream (archived ones too) generated in [since, until], oldest first."""
        where = DreamRow.generated_at.between(since, until)
        return self._dreams(where, (DreamRow.generated_at, DreamRow.id), None)

    @_guarded
    def dream_codes(self, base_ids: Iterable[int]) -> dict[int, list[tuple[int, datetime, str]]]:
        """(id, generated_at, code) of every dream of these base procedures, per base, oldest first."""
        found: dict[int, list[tuple[int, datetime, str]]] = {}
        ids = sorted(set(base_ids))
        convert = DreamRow.generated_at.python_value
        for start in range(0, len(ids), 900):
            query = DreamRow.select(DreamRow.base_procedure_id, DreamRow.id, DreamRow.generated_at, DreamRow.code)
            query = query.where(DreamRow.base_procedure_id.in_(ids[start : start + 900]))
            for base_id, dream_id, generated_at, code in self.db.execute(query).fetchall():
                found.setdefault(base_id, []).append((dream_id, convert(generated_at), code))
        for dreams in found.values():
            dreams.sort(key=lambda row: (row[1], row[0]))
        return found

    @_guarded
    def record_scores(self, scores: Iterable[dict[str, Any]]) -> int:
        """Write the scores of many dreams (dicts with ``id`` and every ``_SCORED`` key); returns how many."""
        p = self.db.param
        sql = f"UPDATE dream_procedures SET {', '.join(f'{c} = {p}' for c in self._SCORED)} WHERE id = {p}"
        stamp = DreamRow.scored_at.db_value
        rows = [[*(row[c] for c in self._SCORED[:-1]), stamp(row["scored_at"]), row["id"]] for row in scores]
        if rows:
            with self.db.atomic():
                self.db.cursor().executemany(sql, rows)
        return len(rows)

    # -- learning: evidence for adaptation and return on spend --------------------------------
    @_guarded
    def dream_outcomes(self, since: datetime | None = None) -> list[tuple]:
        """Dreams counted per (run_id, dream_type, model_used, base_procedure_id, tier, test_outcome),
        as tuples ending with the count; only dreams generated from ``since`` on."""
        keys = (DreamRow.run_id, DreamRow.dream_type, DreamRow.model_used, DreamRow.base_procedure_id,
                DreamRow.tier, DreamRow.test_outcome)
        query = DreamRow.select(*keys, pw.fn.COUNT(DreamRow.id)).group_by(*keys)
        if since is not None:
            query = query.where(DreamRow.generated_at >= since)
        return list(self.db.execute(query).fetchall())

    @_guarded
    def failure_counts(self, since: datetime | None = None) -> list[tuple]:
        """Why drafts and dreams failed: (dream_type, model, base_procedure_id, category, count, example)
        for rejected drafts (example: a reason) and for dreams that failed their tests (example: the
        category's most frequent failure pattern, or a test error)."""
        rejected_keys = (RejectedDraftRow.dream_type, RejectedDraftRow.model_used, RejectedDraftRow.base_procedure_id,
                         RejectedDraftRow.category)
        rejected = RejectedDraftRow.select(*rejected_keys, pw.fn.COUNT(RejectedDraftRow.id),
                                           pw.fn.MIN(RejectedDraftRow.reason)).group_by(*rejected_keys)
        failed_keys = (DreamRow.dream_type, DreamRow.model_used, DreamRow.base_procedure_id, DreamRow.failure_category)
        failed = DreamRow.select(*failed_keys, pw.fn.COUNT(DreamRow.id), pw.fn.MIN(DreamRow.test_error))
        failed = failed.where(DreamRow.failure_category.is_null(False)).group_by(*failed_keys)
        if since is not None:
            rejected = rejected.where(RejectedDraftRow.created_at >= since)
            failed = failed.where(DreamRow.generated_at >= since)
        patterns: dict[str, str] = {}
        by_count = FailurePatternRow.select(FailurePatternRow.category, FailurePatternRow.pattern)
        for category, pattern in self.db.execute(by_count.order_by(FailurePatternRow.count.desc())).fetchall():
            patterns.setdefault(category, pattern)
        rows = list(self.db.execute(rejected).fetchall())
        for *key, category, count, error in self.db.execute(failed).fetchall():
            rows.append((*key, category, count, patterns.get(category) or error or ""))
        return rows

    # -- learning: adaptation plans -----------------------------------------------------------
    @_guarded
    def save_plan(self, plan: AdaptationPlan) -> int:
        """Store an adaptation plan with its decisions; returns its id. A run has one plan: when it
        exists already (the adapt stage ran again), nothing is written and ``plan`` gets its id."""
        with self.db.atomic():
            row = _row_from_model(plan, skip=("id", "decisions"))
            query = AdaptationPlanRow.insert(row).on_conflict_ignore().returning(AdaptationPlanRow.id)
            inserted = [found[0] for found in query.tuples().execute()]
            if not inserted:
                plan.id = AdaptationPlanRow.select(AdaptationPlanRow.id).where(
                    AdaptationPlanRow.run_id == plan.run_id).scalar()
                return plan.id
            plan_id = inserted[0]
            rows = [{**_row_from_model(decision, skip=()), "plan_id": plan_id} for decision in plan.decisions]
            for start in range(0, len(rows), 500):
                AdaptationDecisionRow.insert_many(rows[start : start + 500]).execute()
        plan.id = plan_id
        return plan_id

    @_guarded
    def latest_plan(self) -> AdaptationPlan | None:
        """The newest adaptation plan with its decisions, or None."""
        found = self._plans(AdaptationPlanRow.select(pw.SQL("*")).order_by(AdaptationPlanRow.id.desc()).limit(1))
        return found[0] if found else None

    @_guarded
    def get_plans(self, since: datetime | None = None) -> list[AdaptationPlan]:
        """Adaptation plans created from ``since`` on (all without it), oldest first, with their decisions."""
        query = AdaptationPlanRow.select(pw.SQL("*"))
        if since is not None:
            query = query.where(AdaptationPlanRow.created_at >= since)
        return self._plans(query.order_by(AdaptationPlanRow.id))

    def _plans(self, query: Any) -> list[AdaptationPlan]:
        found = self.db.execute(query)
        names = [column[0] for column in found.description]
        plans = [dict(zip(names, row)) for row in found.fetchall()]
        decisions: dict[int, list[ArmDecision]] = {plan["id"]: [] for plan in plans}
        ids = list(decisions)
        for start in range(0, len(ids), 900):
            rows = AdaptationDecisionRow.select(pw.SQL("*")).where(AdaptationDecisionRow.plan_id.in_(ids[start:start + 900]))
            for row in rows.order_by(AdaptationDecisionRow.id).dicts():
                plan_id = row.pop("plan_id")
                del row["id"]
                decisions[plan_id].append(ArmDecision(**{**row, "high_value": bool(row["high_value"])}))
        loaded = []
        for plan in plans:
            plan["created_at"] = AdaptationPlanRow.created_at.python_value(plan["created_at"])
            loaded.append(_model_from_row(AdaptationPlan, {**plan, "decisions": decisions[plan["id"]]},
                                          "adaptation_plans"))
        return loaded

    # -- learning: retention ------------------------------------------------------------------
    @_guarded
    def archive_dreams(self, before: datetime, tier: DreamTier = DreamTier.ARCHIVE) -> int:
        """Archive evaluated dreams of ``tier`` generated before ``before``; returns how many."""
        live = [status.value for status in EVALUATED_STATES]
        query = DreamRow.update(status=DreamStatus.ARCHIVED.value, claimed_by=None, claimed_at=None).where(
            (DreamRow.tier == int(tier)) & (DreamRow.generated_at < before) & DreamRow.status.in_(live)
        )
        return query.execute()

    @_guarded
    def purge_archived(self, before: datetime) -> int:
        """Delete archived dreams generated before ``before`` (adopted dreams are kept); returns how many."""
        adopted = AdoptionRow.select(AdoptionRow.dream_id)
        query = DreamRow.delete().where(
            (DreamRow.status == DreamStatus.ARCHIVED.value) & (DreamRow.generated_at < before)
            & DreamRow.id.not_in(adopted)
        )
        return query.execute()
    # -- failure patterns --------------------------------------------------------------------
    @_guarded
    def record_failure_pattern(self, category: str, pattern: str, dream_id: int | None = None) -> None:
        """Count one more test failure of ``category`` with the normalised message ``pattern``."""
        row = {"category": category, "pattern": _scrub(pattern), "count": 1, "last_seen": utcnow(),
               "example_dream_id": dream_id}
        seen = {FailurePatternRow.count: FailurePatternRow.count + 1, FailurePatternRow.last_seen: row["last_seen"]}
        if dream_id is not None:
            seen[FailurePatternRow.example_dream_id] = dream_id
        query = FailurePatternRow.insert(row).on_conflict(
            conflict_target=[FailurePatternRow.category, FailurePatternRow.pattern], update=seen
        )
        query.execute()

    @_guarded
    def get_failure_patterns(self, category: str | None = None, limit: int | None = 50) -> list[FailurePattern]:
        """Failure patterns (of one category, or all), most frequent first, then most recent."""
        query = FailurePatternRow.select(pw.SQL("*"))
        if category is not None:
            query = query.where(FailurePatternRow.category == category)
        query = query.order_by(FailurePatternRow.count.desc(), FailurePatternRow.last_seen.desc())
        return _load(FailurePattern, FailurePatternRow, self.db.execute(query.limit(limit)))

    def __repr__(self) -> str:
        return f"DreamStore({_redact(self.url)!r})"


def default_worker_name() -> str:
    """A worker name unique on this machine: host and process id."""
    return f"{os.uname().nodename}:{os.getpid()}"


