"""The schema: creating it, the version recorded in ``schema_version``, the migrations from older
versions, and the triggers that keep dream_counts.
"""

from __future__ import annotations

from collections.abc import Callable

import peewee as pw
from playhouse.migrate import PostgresqlMigrator, SchemaMigrator, SqliteMigrator, migrate

from dreamcore.errors import StoreError
from dreamcore.models import utcnow
from dreamcore.store.tables import (
    COUNT_KEY,
    COUNT_VALUES,
    AdaptationDecisionRow,
    AdaptationPlanRow,
    AdoptionRow,
    DreamCountRow,
    DreamRow,
    FailurePatternRow,
    GenerationRunRow,
    MetricsRow,
    ProcedureRow,
    RejectedDraftRow,
    Table,
    UTCDateTimeField,
)

SCHEMA_VERSION = 9


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
    """The dream_counts key of a trigger row, ordered byte-wise like Python orders it in
    ``DreamStore._add_counts``."""
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


def _add_extra_components(migrator: SchemaMigrator) -> list:
    """v9: the values of compound-score components that scorer plugins add, per dream and per metrics row."""
    db = migrator.database
    db.execute_sql("ALTER TABLE dream_procedures ADD COLUMN extra_scores TEXT NOT NULL DEFAULT '{}'")
    db.execute_sql("ALTER TABLE dream_metrics ADD COLUMN extra_components TEXT NOT NULL DEFAULT '{}'")
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
    9: _add_extra_components,
}


def recorded_version() -> int:
    """The schema version recorded in the bound database."""
    return SchemaVersionRow.select(pw.fn.MAX(SchemaVersionRow.version)).scalar() or 0


def create_or_migrate(db: pw.Database, where: str) -> None:
    """Create the tables in an empty database, or migrate an older schema to ``SCHEMA_VERSION``.

    Call it inside a write transaction on ``db``, with ``database`` bound to it; ``where`` names the
    database in errors."""
    is_postgres = isinstance(db, pw.PostgresqlDatabase)
    if is_postgres:
        db.execute_sql("SELECT pg_advisory_xact_lock(7261)")
    if not SchemaVersionRow.table_exists():
        if ProcedureRow.table_exists() or DreamRow.table_exists():
            raise StoreError(f"store: {where} has dream tables but no schema_version table")
        db.create_tables(TABLES)
        _create_counts(db)
        SchemaVersionRow.create(version=SCHEMA_VERSION, applied_at=utcnow())
        return
    current = recorded_version()
    if current > SCHEMA_VERSION:
        raise StoreError(
            f"store: {where} has schema v{current}, newer than this dreamcore "
            f"(v{SCHEMA_VERSION}); upgrade dreamcore"
        )
    migrator = PostgresqlMigrator(db) if is_postgres else SqliteMigrator(db)
    for version in range(current + 1, SCHEMA_VERSION + 1):
        migrate(*MIGRATIONS[version](migrator))
        SchemaVersionRow.create(version=version, applied_at=utcnow())
