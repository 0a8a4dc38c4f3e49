"""Persistence through Peewee: the tables, their migrations, and ``DreamStore``, the seed's API.

The store is synchronous (each call is one short transaction); async code calls it directly,
since queries are indexed and take well under a few milliseconds. One ``DreamStore`` binds the
shared ``DatabaseProxy`` whenever one of its methods runs, so several stores can be used in turn
from one thread.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import sqlite3
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
    DreamGenerationRun,
    DreamMetrics,
    DreamProcedure,
    DreamStatus,
    DreamTier,
    Procedure,
    RejectedDraft,
    TestOutcome,
    utcnow,
)

database = pw.DatabaseProxy()
SCHEMA_VERSION = 3
EVALUATED_STATES = (DreamStatus.EVALUATED, DreamStatus.PENDING_TEST, DreamStatus.TESTED)


class UTCDateTimeField(pw.DateTimeField):
    """Timezone-aware UTC datetimes, kept as naive UTC in the database."""

    def db_value(self, value: datetime | None) -> Any:
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return super().db_value(value)

    def python_value(self, value: Any) -> datetime | None:
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

    class Meta:
        table_name = "dream_generation_runs"


class DreamRow(Table):
    base_procedure_id = pw.ForeignKeyField(
        ProcedureRow, column_name="base_procedure_id", object_id_name="base_procedure_ref", on_delete="CASCADE"
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
        indexes = (
            (("base_procedure_id", "fingerprint"), True),
            (("status", "generated_at"), False),
            (("tier", "viability_score"), False),
            (("dream_type", "generated_at"), False),
            (("base_procedure_id", "generated_at"), False),
            (("status", "novelty_score"), False),
            (("tier", "cross_project_matches"), False),
            (("status", "tier", "test_outcome"), False),
        )


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


class MetricsRow(Table):
    timestamp = UTCDateTimeField(index=True)
    run_id = pw.ForeignKeyField(
        GenerationRunRow, null=True, column_name="run_id", object_id_name="run_ref", on_delete="SET NULL"
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


class SchemaVersionRow(Table):
    version = pw.IntegerField()
    applied_at = UTCDateTimeField()

    class Meta:
        table_name = "schema_version"


TABLES = [ProcedureRow, GenerationRunRow, DreamRow, RejectedDraftRow, MetricsRow, SchemaVersionRow]


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


# version reached -> the operations that reach it from the version before
MIGRATIONS: dict[int, Callable[[SchemaMigrator], list]] = {
    2: _add_evaluation_attempts,
    3: _add_rejections_and_seeds,
}

Model = TypeVar("Model")


def _model_from_row(cls: type[Model], row: dict[str, Any], table: str) -> Model:
    try:
        return cls(**row)
    except (ValueError, TypeError) as exc:
        raise StoreError(f"store: {table} row {row.get('id')}: invalid stored value ({exc})") from None


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
    normalised = "\n".join(line.rstrip() for line in code.strip().splitlines())
    return hashlib.sha256(normalised.encode()).hexdigest()


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
        row = ProcedureRow.select().where(ProcedureRow.id == procedure_id).dicts().first()
        if row is None:
            raise NotFoundError(f"no procedure with id {procedure_id}")
        return _model_from_row(Procedure, row, "procedures")

    @_guarded
    def get_procedures(self, project: str | None = None, *, current_only: bool = True) -> list[Procedure]:
        """Procedures ordered by id; only the newest version of each unless ``current_only=False``."""
        query = ProcedureRow.select()
        if project is not None:
            query = query.where(ProcedureRow.project == project)
        if current_only:
            superseded = ProcedureRow.select(ProcedureRow.previous_id).where(ProcedureRow.previous_id.is_null(False))
            query = query.where(ProcedureRow.id.not_in(superseded))
        return [_model_from_row(Procedure, row, "procedures") for row in query.order_by(ProcedureRow.id).dicts()]

    @_guarded
    def count_procedures(self) -> int:
        """Number of stored procedure versions."""
        return ProcedureRow.select().count()

    # -- dreams: writes ---------------------------------------------------------------------
    def _dream_row(self, dream: DreamProcedure) -> dict[str, Any]:
        row = _row_from_model(dream)
        row["fingerprint"] = row["fingerprint"] or code_fingerprint(dream.code)
        return row

    @_guarded
    def store_dream(self, dream: DreamProcedure) -> int:
        """Store one dream; storing the same (procedure, fingerprint) again is a no-op. Returns its id."""
        return self._store_rows([self._dream_row(dream)])[0]

    @_guarded
    def store_dreams_batch(self, dreams: Iterable[DreamProcedure]) -> StoredIds:
        """Store many dreams in one transaction with bulk inserts; returns their ids in order.

        Dreams already stored (same procedure and fingerprint) keep their row and existing id;
        the returned list's ``new`` attribute holds the ids of the rows this call inserted.
        """
        return self._store_rows([self._dream_row(dream) for dream in dreams])

    def _store_rows(self, rows: list[dict[str, Any]]) -> StoredIds:
        if not rows:
            return StoredIds([], frozenset())
        ids: dict[tuple[int, str], int] = {}
        inserted: set[int] = set()
        chunk = max(1, 30000 // len(rows[0]))
        with self.db.atomic():
            for start in range(0, len(rows), chunk):
                part = rows[start : start + chunk]
                cursor = (
                    DreamRow.insert_many(part)
                    .on_conflict_ignore()
                    .returning(DreamRow.id, DreamRow.base_procedure_id, DreamRow.fingerprint)
                    .tuples()
                    .execute()
                )
                for dream_id, base_id, fingerprint in cursor:
                    ids[(base_id, fingerprint)] = dream_id
                    inserted.add(dream_id)
                missing = [(r["base_procedure_id"], r["fingerprint"]) for r in part]
                missing = [key for key in missing if key not in ids]
                if missing:
                    ids.update(self._ids_for(missing))
        return StoredIds([ids[(r["base_procedure_id"], r["fingerprint"])] for r in rows], frozenset(inserted))

    def _ids_for(self, keys: list[tuple[int, str]]) -> dict[tuple[int, str], int]:
        found = {}
        fingerprints = {fingerprint for _, fingerprint in keys}
        query = DreamRow.select(DreamRow.id, DreamRow.base_procedure_id, DreamRow.fingerprint).where(
            DreamRow.fingerprint.in_(list(fingerprints))
        )
        for dream_id, base_id, fingerprint in query.tuples():
            found[(base_id, fingerprint)] = dream_id
        return found

    @_guarded
    def update_dream(self, dream: DreamProcedure) -> None:
        """Write every field of a stored dream (NotFoundError if its id is unknown)."""
        if dream.id is None:
            raise NotFoundError("update_dream needs a dream with an id")
        if DreamRow.update(self._dream_row(dream)).where(DreamRow.id == dream.id).execute() == 0:
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

    # -- dreams: claiming work --------------------------------------------------------------
    @_guarded
    def claim_dreams(
        self, status: DreamStatus, worker: str, limit: int = 10, *, lease_seconds: float = 600
    ) -> list[DreamProcedure]:
        """Claim up to ``limit`` unclaimed dreams in ``status`` for ``worker``, oldest first.

        Safe with many workers: PostgreSQL uses ``FOR UPDATE SKIP LOCKED``; SQLite takes the write
        lock first (``BEGIN IMMEDIATE``) and claims with a conditional UPDATE. Claims older than
        ``lease_seconds`` (a worker that died) can be claimed again.
        """
        now = utcnow()
        free = DreamRow.claimed_by.is_null() | (DreamRow.claimed_at < now - timedelta(seconds=lease_seconds))
        candidates = (
            DreamRow.select(DreamRow.id)
            .where((DreamRow.status == status.value) & free)
            .order_by(DreamRow.id)
            .limit(limit)
        )
        with self._lock_for_write():
            if self.is_postgres:
                candidates = candidates.for_update(skip_locked=True)
            ids = [row[0] for row in candidates.tuples()]
            if not ids:
                return []
            claimed = (
                DreamRow.update(claimed_by=worker, claimed_at=now)
                .where(DreamRow.id.in_(ids) & (DreamRow.status == status.value) & free)
                .returning(DreamRow.id)
                .tuples()
                .execute()
            )
            claimed_ids = [row[0] for row in claimed]
        return self._dreams(DreamRow.id.in_(claimed_ids), DreamRow.id, len(claimed_ids) or 1)

    @_guarded
    def release_claims(self, dream_ids: Iterable[int], worker: str) -> int:
        """Give back claims a worker holds without finishing them; returns how many."""
        query = DreamRow.update(claimed_by=None, claimed_at=None).where(
            DreamRow.id.in_(list(dream_ids)) & (DreamRow.claimed_by == worker)
        )
        return query.execute()

    # -- dreams: reads ----------------------------------------------------------------------
    def _dreams(self, where: Any, order: Any, limit: int | None) -> list[DreamProcedure]:
        query = DreamRow.select().where(where)
        query = query.order_by(*(order if isinstance(order, tuple) else (order,)))
        if limit is not None:
            query = query.limit(limit)
        return [_model_from_row(DreamProcedure, row, "dream_procedures") for row in query.dicts()]

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
        where = (DreamRow.tier == int(DreamTier(tier))) & DreamRow.status.in_([s.value for s in EVALUATED_STATES])
        return self._dreams(where, (DreamRow.viability_score.desc(), DreamRow.id), limit)

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
        where = DreamRow.status.in_([s.value for s in EVALUATED_STATES]) & (DreamRow.novelty_score >= min_score)
        return self._dreams(where, (DreamRow.novelty_score.desc(), DreamRow.id), limit)

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

    # -- statistics -------------------------------------------------------------------------
    @_guarded
    def count_by_status(self) -> dict[DreamStatus, int]:
        """Number of dreams in each status (every status present, zeros included)."""
        counts = dict.fromkeys(DreamStatus, 0)
        query = DreamRow.select(DreamRow.status, pw.fn.COUNT(DreamRow.id)).group_by(DreamRow.status)
        for status, count in query.tuples():
            counts[self._enum(DreamStatus, status, "status")] = count
        return counts

    @_guarded
    def count_by_tier(self) -> dict[DreamTier, int]:
        """Number of evaluated dreams in each tier (zeros included)."""
        counts = dict.fromkeys(DreamTier, 0)
        query = (
            DreamRow.select(DreamRow.tier, pw.fn.COUNT(DreamRow.id))
            .where(DreamRow.tier.is_null(False))
            .group_by(DreamRow.tier)
        )
        for tier, count in query.tuples():
            counts[self._enum(DreamTier, tier, "tier")] = count
        return counts

    @staticmethod
    def _enum(cls: type, value: Any, column: str) -> Any:
        try:
            return cls(value)
        except ValueError:
            raise StoreError(f"store: dream_procedures: invalid stored {column} {value!r}") from None

    @_guarded
    def get_statistics(self) -> dict[str, Any]:
        """Totals, counts per status/tier/type, averages, and the tier-1 test success rate."""
        by_type = dict(
            DreamRow.select(DreamRow.dream_type, pw.fn.COUNT(DreamRow.id)).group_by(DreamRow.dream_type).tuples()
        )
        averages = (
            DreamRow.select(pw.fn.AVG(DreamRow.viability_score), pw.fn.AVG(DreamRow.novelty_score))
            .where(DreamRow.tier.is_null(False))
            .tuples()
            .first()
        )
        tier1 = DreamRow.select(DreamRow.test_outcome, pw.fn.COUNT(DreamRow.id)).where(
            (DreamRow.tier == int(DreamTier.VIABLE)) & (DreamRow.test_outcome != TestOutcome.PENDING.value)
        )
        tier1_outcomes = dict(tier1.group_by(DreamRow.test_outcome).tuples())
        tier1_tested = sum(tier1_outcomes.values())
        by_status = self.count_by_status()
        return {
            "total_dreams": sum(by_status.values()),
            "total_procedures": self.count_procedures(),
            "generation_runs": GenerationRunRow.select().count(),
            "by_status": {status.value: count for status, count in by_status.items()},
            "by_tier": {int(tier): count for tier, count in self.count_by_tier().items()},
            "by_type": dict(sorted(by_type.items())),
            "average_viability": averages[0],
            "average_novelty": averages[1],
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
        query = RejectedDraftRow.select().order_by(RejectedDraftRow.id.desc())
        if run_id is not None:
            query = query.where(RejectedDraftRow.run_id == run_id)
        rows = query.limit(limit).dicts() if limit is not None else query.dicts()
        return [_model_from_row(RejectedDraft, row, "rejected_drafts") for row in rows]

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
        query = GenerationRunRow.select().where(GenerationRunRow.status == "running")
        row = query.order_by(GenerationRunRow.id.desc()).limit(1).dicts().first()
        return _model_from_row(DreamGenerationRun, row, "dream_generation_runs") if row else None

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
    def get_generation_runs(self, limit: int | None = 30) -> list[DreamGenerationRun]:
        """Generation runs, newest first."""
        query = GenerationRunRow.select().order_by(GenerationRunRow.timestamp.desc(), GenerationRunRow.id.desc())
        rows = query.limit(limit).dicts() if limit is not None else query.dicts()
        return [_model_from_row(DreamGenerationRun, row, "dream_generation_runs") for row in rows]

    @_guarded
    def store_metrics(self, metrics: DreamMetrics) -> int:
        """Store a metrics row; returns its id."""
        return MetricsRow.insert(_row_from_model(metrics)).execute()

    @_guarded
    def get_latest_metrics(self) -> DreamMetrics | None:
        """The most recent metrics row, or None."""
        query = MetricsRow.select().order_by(MetricsRow.timestamp.desc(), MetricsRow.id.desc()).limit(1)
        row = query.dicts().first()
        return _model_from_row(DreamMetrics, row, "dream_metrics") if row else None

    def __repr__(self) -> str:
        return f"DreamStore({_redact(self.url)!r})"


def default_worker_name() -> str:
    """A worker name unique on this machine: host and process id."""
    return f"{os.uname().nodename}:{os.getpid()}"


