"""``DreamStore``, the seed's store API: opening and migrating a store, procedures, dreams (writes,
evaluation state, claims, reads, adoption) and the statistics kept in dream_counts. Its queries on
runs and metrics, and on what learning needs, are mixed in from ``run_queries`` and ``learning_queries``.

The store is synchronous (each call is one short transaction); async code calls it directly,
since queries are indexed and take well under a few milliseconds. One ``DreamStore`` binds the
shared ``DatabaseProxy`` whenever one of its methods runs, so several stores can be used in turn
from one thread.
"""

from __future__ import annotations

import itertools
import operator
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import peewee as pw

from dreamcore.errors import NotFoundError, StoreError
from dreamcore.models import DreamProcedure, DreamStatus, DreamTier, Procedure, TestOutcome, utcnow
from dreamcore.store.connection import connect, guarded, redact
from dreamcore.store.learning_queries import LearningQueries
from dreamcore.store.migrations import create_or_migrate, recorded_version
from dreamcore.store.rows import (
    BASE_ID,
    DREAM_FIELDS,
    FINGERPRINT,
    code_fingerprint,
    dream_values,
    load_models,
    row_from_model,
    scrub,
)
from dreamcore.store.run_queries import RunQueries
from dreamcore.store.tables import (
    COUNT_KEY,
    COUNT_VALUES,
    EVALUATED_STATES,
    AdoptionRow,
    DreamCountRow,
    DreamRow,
    GenerationRunRow,
    ProcedureRow,
    database,
)

STATUS_MOVES_LOCK = 0x636F756E74  # advisory lock of transactions that move several dreams' statuses


class StoredIds(list):
    """Ids of stored dreams in input order; ``new`` is the set of ids inserted by this call."""

    def __init__(self, ids: list[int], new: frozenset[int]) -> None:
        super().__init__(ids)
        self.new = new


class DreamStore(RunQueries, LearningQueries):
    """The seed's dream store API over SQLite or PostgreSQL.

    ``url`` is ``sqlite:///relative/or/absolute.db`` (relative to ``base_dir``), ``sqlite://`` for
    memory, or ``postgresql://user:password@host:port/db``. Opening migrates an older schema.
    """

    def __init__(self, url: str, *, base_dir: Path | None = None, busy_timeout: float = 5.0) -> None:
        self.url = url
        self.busy_timeout = busy_timeout
        try:
            self.db, self.where = connect(url, base_dir, busy_timeout)
        except StoreError:
            raise
        except Exception as exc:
            raise StoreError(f"store: cannot open {redact(url)}: {exc}") from None
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

    @guarded
    def _migrate(self) -> None:
        with self._lock_for_write():
            create_or_migrate(self.db, self.where)

    @guarded
    def schema_version(self) -> int:
        """The schema version recorded in the database."""
        return recorded_version()

    # -- procedures -------------------------------------------------------------------------
    @guarded
    def upsert_procedure(self, procedure: Procedure) -> int:
        """Store a procedure unless the same version is known; returns its id.

        A procedure whose code changed (same project, module and qualified name, new fingerprint)
        is stored as a new version linked to the previous one through ``previous_id``.
        """
        row = row_from_model(procedure)
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

    @guarded
    def get_procedure(self, procedure_id: int) -> Procedure:
        """One procedure by id (NotFoundError if absent)."""
        query = ProcedureRow.select(pw.SQL("*")).where(ProcedureRow.id == procedure_id)
        found = load_models(Procedure, ProcedureRow, self.db.execute(query))
        if not found:
            raise NotFoundError(f"no procedure with id {procedure_id}")
        return found[0]

    @guarded
    def get_procedures(self, project: str | None = None, *, current_only: bool = True) -> list[Procedure]:
        """Procedures ordered by id; only the newest version of each unless ``current_only=False``."""
        query = ProcedureRow.select(pw.SQL("*"))
        if project is not None:
            query = query.where(ProcedureRow.project == project)
        if current_only:
            superseded = ProcedureRow.select(ProcedureRow.previous_id).where(ProcedureRow.previous_id.is_null(False))
            query = query.where(ProcedureRow.id.not_in(superseded))
        return load_models(Procedure, ProcedureRow, self.db.execute(query.order_by(ProcedureRow.id)))

    @guarded
    def count_procedures(self) -> int:
        """Number of stored procedure versions."""
        return ProcedureRow.select().count()

    # -- dreams: writes ---------------------------------------------------------------------
    @guarded
    def store_dream(self, dream: DreamProcedure) -> int:
        """Store one dream; storing the same (procedure, fingerprint) again is a no-op. Returns its id."""
        return self._store([dream])[0]

    @guarded
    def store_dreams_batch(self, dreams: Iterable[DreamProcedure]) -> StoredIds:
        """Store many dreams in one transaction with bulk inserts; returns their ids in order.

        Dreams already stored (same procedure and fingerprint) keep their row and existing id;
        the returned list's ``new`` attribute holds the ids of the rows this call inserted.
        """
        return self._store(dreams)

    # What a bulk insert returns of each row it inserted: its id, its key, and what dream_counts counts.
    _INSERTED = ("id", "base_procedure_id", "fingerprint", *COUNT_KEY, "viability_score", "novelty_score")

    def _insert(self, rows: list[list[Any]]) -> list[tuple]:
        """Insert rows of ``dream_values``, skipping known (procedure, fingerprint) pairs; returns
        ``_INSERTED`` of the rows inserted.

        Raw SQL (Peewee took longer to build the statement than the database to run it). SQLite gets
        a multi-row VALUES; PostgreSQL one array per column, unnested, as psycopg would parse each of
        a long statement's placeholders in Python.
        """
        columns = ", ".join(f'"{field.column_name}"' for field in DREAM_FIELDS)
        if self.is_postgres:
            types = self.db.get_context_options()["field_types"]
            arrays = ", ".join(f"%s::{types[field.field_type]}[]" for field in DREAM_FIELDS)
            values, params = f"SELECT * FROM unnest({arrays})", [list(column) for column in zip(*rows)]
        else:
            row = f"({', '.join(['?'] * len(DREAM_FIELDS))})"
            values, params = f"VALUES {', '.join([row] * len(rows))}", list(itertools.chain(*rows))
        sql = f"INSERT INTO dream_procedures ({columns}) {values} ON CONFLICT DO NOTHING RETURNING "
        return self.db.execute_sql(sql + ", ".join(self._INSERTED), params).fetchall()

    def _store(self, dreams: Iterable[DreamProcedure]) -> StoredIds:
        """Insert dreams a chunk at a time (each converted just before it is sent) in one transaction."""
        keys: list[tuple[int, str]] = []  # (base_procedure_id, fingerprint) of every dream, in order
        ids: dict[tuple[int, str], int] = {}
        inserted: list[tuple] = []
        chunk = 30000 // len(DREAM_FIELDS)  # parameters per statement stay under SQLite's limit
        dreams = iter(dreams)
        with self.db.atomic():
            while rows := [dream_values(dream) for dream in itertools.islice(dreams, chunk)]:
                part = [(row[BASE_ID], row[FINGERPRINT]) for row in rows]
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

    @guarded
    def update_dream(self, dream: DreamProcedure) -> None:
        """Write every field of a stored dream (NotFoundError if its id is unknown)."""
        if dream.id is None:
            raise NotFoundError("update_dream needs a dream with an id")
        # dream_values are ready for the driver: wrapped so that Peewee does not convert them again
        row = {field: pw.Value(value, unpack=False) for field, value in zip(DREAM_FIELDS, dream_values(dream))}
        if DreamRow.update(row).where(DreamRow.id == dream.id).execute() == 0:
            raise NotFoundError(f"no dream with id {dream.id}")

    @guarded
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

    @guarded
    def delete_dream(self, dream_id: int) -> bool:
        """Delete a dream; True if it existed."""
        return DreamRow.delete().where(DreamRow.id == dream_id).execute() == 1

    # -- dreams: evaluation state ---------------------------------------------------------
    def _awaiting(self, max_attempts: int, flagged: bool) -> Any:
        attempts = DreamRow.eval_attempts >= max_attempts if flagged else DreamRow.eval_attempts < max_attempts
        return (DreamRow.status == DreamStatus.PENDING_EVALUATION.value) & attempts

    @guarded
    def get_evaluable(self, max_attempts: int, limit: int | None = 100, after_id: int = 0) -> list[DreamProcedure]:
        """Dreams awaiting evaluation that failed it fewer than ``max_attempts`` times, in id order,
        from after ``after_id`` (a cursor for paging through a backlog)."""
        return self._dreams(self._awaiting(max_attempts, False) & (DreamRow.id > after_id), DreamRow.id, limit)

    @guarded
    def get_flagged(self, max_attempts: int, limit: int | None = 100) -> list[DreamProcedure]:
        """Dreams still awaiting evaluation after ``max_attempts`` or more failed attempts, in id order."""
        return self._dreams(self._awaiting(max_attempts, True), DreamRow.id, limit)

    @guarded
    def evaluation_backlog(self, max_attempts: int) -> dict[str, int]:
        """How many dreams await evaluation: ``evaluable`` (fewer than ``max_attempts`` failures) and
        ``flagged`` (the others)."""
        return {
            "evaluable": DreamRow.select().where(self._awaiting(max_attempts, False)).count(),
            "flagged": DreamRow.select().where(self._awaiting(max_attempts, True)).count(),
        }

    @guarded
    def record_evaluation_failure(self, dream_ids: Iterable[int], error: str) -> int:
        """Count a failed evaluation attempt on each dream still awaiting evaluation: ``eval_attempts``
        + 1 and ``last_error``. Returns how many dreams it counted on."""
        ids = list(dream_ids)
        if not ids:
            return 0
        query = DreamRow.update(eval_attempts=DreamRow.eval_attempts + 1, last_error=scrub(error)).where(
            DreamRow.id.in_(ids) & (DreamRow.status == DreamStatus.PENDING_EVALUATION.value)
        )
        return query.execute()

    # -- dreams: claiming work --------------------------------------------------------------
    @guarded
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
            return sorted(load_models(DreamProcedure, DreamRow, claimed), key=operator.attrgetter("id"))

    @guarded
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
        return load_models(DreamProcedure, DreamRow, self.db.execute(query))

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
        return load_models(DreamProcedure, DreamRow, self.db.execute_sql(sql, params))

    _NEWEST = (DreamRow.generated_at.desc(), DreamRow.id.desc())

    @guarded
    def get_dream(self, dream_id: int) -> DreamProcedure:
        """One dream by id (NotFoundError if absent)."""
        found = self._dreams(DreamRow.id == dream_id, DreamRow.id, 1)
        if not found:
            raise NotFoundError(f"no dream with id {dream_id}")
        return found[0]

    @guarded
    def get_pending_evaluation(self, limit: int = 100) -> list[DreamProcedure]:
        """Dreams awaiting evaluation, newest first."""
        return self._dreams(DreamRow.status == DreamStatus.PENDING_EVALUATION.value, self._NEWEST, limit)

    @guarded
    def get_by_status(self, status: DreamStatus, limit: int | None = 100) -> list[DreamProcedure]:
        """Dreams in one status, newest first."""
        return self._dreams(DreamRow.status == DreamStatus(status).value, self._NEWEST, limit)

    @guarded
    def get_by_tier(self, tier: DreamTier, limit: int | None = 100) -> list[DreamProcedure]:
        """Evaluated (not archived) dreams of one tier, best viability first."""
        return self._best_evaluated("viability_score", f"tier = {self.db.param}", int(DreamTier(tier)), limit)

    @guarded
    def get_by_type(self, dream_type: str, limit: int | None = 100) -> list[DreamProcedure]:
        """Dreams of one type, newest first."""
        return self._dreams(DreamRow.dream_type == str(dream_type), self._NEWEST, limit)

    @guarded
    def get_by_base_procedure(self, procedure_id: int, limit: int | None = 100) -> list[DreamProcedure]:
        """Dreams of one base procedure, newest first."""
        return self._dreams(DreamRow.base_procedure_id == procedure_id, self._NEWEST, limit)

    @guarded
    def get_high_novelty(self, min_score: float = 0.7, limit: int | None = 100) -> list[DreamProcedure]:
        """Evaluated dreams with novelty >= ``min_score``, most novel first."""
        return self._best_evaluated("novelty_score", f"novelty_score >= {self.db.param}", min_score, limit)

    @guarded
    def get_cross_project_viable(self, min_matches: int = 2, limit: int | None = 100) -> list[DreamProcedure]:
        """Tier-1 dreams whose idea applies to >= ``min_matches`` procedures in other projects."""
        where = (DreamRow.tier == int(DreamTier.VIABLE)) & (DreamRow.cross_project_matches >= min_matches)
        order = (DreamRow.cross_project_matches.desc(), DreamRow.viability_score.desc(), DreamRow.id)
        return self._dreams(where, order, limit)

    @guarded
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

    @guarded
    def dreams_to_score(self) -> list[DreamProcedure]:
        """Dreams not archived that were never scored, or were evaluated or tested since; oldest first."""
        stale = (
            DreamRow.scored_at.is_null()
            | (DreamRow.evaluated_at > DreamRow.scored_at)
            | (DreamRow.test_timestamp > DreamRow.scored_at)
        )
        where = (DreamRow.status != DreamStatus.ARCHIVED.value) & stale
        return self._dreams(where, (DreamRow.generated_at, DreamRow.id), None)

    @guarded
    def dreams_between(self, since: datetime, until: datetime) -> list[DreamProcedure]:
        """Every dream (archived ones too) generated in [since, until], oldest first."""
        where = DreamRow.generated_at.between(since, until)
        return self._dreams(where, (DreamRow.generated_at, DreamRow.id), None)

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

    @guarded
    def count_by_status(self) -> dict[DreamStatus, int]:
        """Number of dreams in each status (every status present, zeros included)."""
        return self._by_status(self._counts())

    @guarded
    def count_by_tier(self) -> dict[DreamTier, int]:
        """Number of evaluated dreams in each tier (zeros included)."""
        return self._by_tier(self._counts())

    @guarded
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

    @guarded
    def database_size(self) -> int:
        """Bytes the database occupies."""
        if self.is_postgres:
            return self.db.execute_sql("SELECT pg_database_size(current_database())").fetchone()[0]
        pages = self.db.execute_sql("PRAGMA page_count").fetchone()[0]
        return pages * self.db.execute_sql("PRAGMA page_size").fetchone()[0]

    # -- transactions and locks -------------------------------------------------------------
    def atomic(self):
        """A transaction (a savepoint when nested): group several store calls into one write."""
        if database.obj is not self.db:
            database.initialize(self.db)
        return self.db.atomic()

    @guarded
    def serialize_status_moves(self) -> None:
        """Call first inside a transaction that moves several dreams between statuses: on PostgreSQL it
        waits for the other such transactions (a lock released at commit), so their dream_counts row
        locks, taken in each dream's order, never cross into a deadlock. SQLite has one writer anyway."""
        if self.is_postgres:
            self.db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (STATUS_MOVES_LOCK,))

    @contextmanager
    def session_lock(self, key: int, name: str) -> Iterator[bool]:
        """Try PostgreSQL's session advisory lock ``key`` on a connection of its own, held until the
        block ends; yields whether it was taken. The server drops the lock with the session, so a
        holder that dies never leaves it behind. ``name`` says what the lock is for in the StoreError
        raised when it cannot be asked for."""
        connection = type(self.db)(self.db.database, **self.db.connect_params)
        try:
            try:
                locked = connection.execute_sql("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()[0]
            except pw.PeeweeException as exc:
                raise StoreError(f"store: cannot take the {name} on {self.where}: {type(exc).__name__}") from None
            yield locked
        finally:
            connection.close()  # the server drops the advisory lock with the session

    # -- adoption ---------------------------------------------------------------------------
    @guarded
    def record_adoption(self, dream_id: int, note: str = "") -> bool:
        """Record that a dream was adopted into real code; False when it already was."""
        self.get_dream(dream_id)  # NotFoundError for an unknown dream
        with self.db.atomic():
            if AdoptionRow.select().where(AdoptionRow.dream_id == dream_id).exists():
                return False
            AdoptionRow.insert(dream_id=dream_id, adopted_at=utcnow(), note=scrub(note)).execute()
        return True

    @guarded
    def adopted_dream_ids(self) -> set[int]:
        """Ids of every adopted dream."""
        return {row[0] for row in AdoptionRow.select(AdoptionRow.dream_id).tuples()}

    def __repr__(self) -> str:
        return f"DreamStore({redact(self.url)!r})"
