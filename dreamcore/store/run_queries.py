"""DreamStore's queries on generation runs, the drafts they rejected, and their health metrics."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import peewee as pw

from dreamcore.errors import NotFoundError
from dreamcore.models import DreamGenerationRun, DreamMetrics, RejectedDraft
from dreamcore.store.connection import guarded
from dreamcore.store.rows import load_models, row_from_model
from dreamcore.store.tables import DreamRow, GenerationRunRow, MetricsRow, RejectedDraftRow

FIGURE_LIST_LIMIT = 20


def _added(known: Any, value: Any) -> Any:
    """``value`` added to a stored figure: numbers summed, lists joined (capped), else replaced."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and isinstance(known, (int, float, type(None))):
        return round((known or 0) + value, 6)
    if isinstance(value, list) and isinstance(known, (list, type(None))):
        return ((known or []) + value)[:FIGURE_LIST_LIMIT]
    return value


class RunQueries:
    """Mixed into DreamStore, which gives the ``db``, ``is_postgres`` and ``_lock_for_write`` they use."""

    db: pw.Database
    is_postgres: bool

    # -- rejected drafts and what a run did ------------------------------------------------
    @guarded
    def record_rejections(self, drafts: Iterable[RejectedDraft]) -> int:
        """Keep drafts that did not become dreams, with their reasons; returns how many."""
        rows = [row_from_model(draft) for draft in drafts]
        if rows:
            with self.db.atomic():
                for start in range(0, len(rows), 2000):
                    RejectedDraftRow.insert_many(rows[start : start + 2000]).execute()
        return len(rows)

    @guarded
    def get_rejections(self, run_id: int | None = None, limit: int | None = 100) -> list[RejectedDraft]:
        """Rejected drafts (of one run, or all), newest first."""
        query = RejectedDraftRow.select(pw.SQL("*")).order_by(RejectedDraftRow.id.desc())
        if run_id is not None:
            query = query.where(RejectedDraftRow.run_id == run_id)
        return load_models(RejectedDraft, RejectedDraftRow, self.db.execute(query.limit(limit)))

    @guarded
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

    @guarded
    def procedures_dreamt_in_run(self, run_id: int) -> set[int]:
        """Ids of procedures that already have dreams or rejected drafts from this run."""
        dreamt = DreamRow.select(DreamRow.base_procedure_id).where(DreamRow.run_id == run_id)
        rejected = RejectedDraftRow.select(RejectedDraftRow.base_procedure_id).where(RejectedDraftRow.run_id == run_id)
        return {row[0] for row in dreamt.union(rejected).tuples()}

    @guarded
    def get_unfinished_run(self) -> DreamGenerationRun | None:
        """The newest run still marked running (one that was interrupted), or None."""
        query = GenerationRunRow.select(pw.SQL("*")).where(GenerationRunRow.status == "running")
        query = query.order_by(GenerationRunRow.id.desc()).limit(1)
        found = load_models(DreamGenerationRun, GenerationRunRow, self.db.execute(query))
        return found[0] if found else None

    # -- runs and metrics -------------------------------------------------------------------
    @guarded
    def record_generation_run(self, run: DreamGenerationRun) -> int:
        """Insert a generation run, or update it when it already has an id; returns the id."""
        row = row_from_model(run)
        if run.id is None:
            return GenerationRunRow.insert(row).execute()
        if GenerationRunRow.update(row).where(GenerationRunRow.id == run.id).execute() == 0:
            raise NotFoundError(f"no generation run with id {run.id}")
        return run.id

    @guarded
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

    @guarded
    def get_generation_run(self, run_id: int) -> DreamGenerationRun:
        """One generation run by id (NotFoundError when there is none)."""
        query = GenerationRunRow.select(pw.SQL("*")).where(GenerationRunRow.id == run_id)
        found = load_models(DreamGenerationRun, GenerationRunRow, self.db.execute(query))
        if not found:
            raise NotFoundError(f"no generation run with id {run_id}")
        return found[0]

    @guarded
    def get_generation_runs(self, limit: int | None = 30) -> list[DreamGenerationRun]:
        """Generation runs, newest first."""
        query = GenerationRunRow.select(pw.SQL("*"))
        query = query.order_by(GenerationRunRow.timestamp.desc(), GenerationRunRow.id.desc())
        return load_models(DreamGenerationRun, GenerationRunRow, self.db.execute(query.limit(limit)))

    @guarded
    def store_metrics(self, metrics: DreamMetrics) -> int:
        """Store a metrics row; returns its id. A run has one: when its row exists already (the score
        stage ran again), nothing is written and that row's id is returned."""
        with self.db.atomic():
            query = MetricsRow.insert(row_from_model(metrics)).on_conflict_ignore().returning(MetricsRow.id)
            inserted = [row[0] for row in query.tuples().execute()]
            if inserted:
                return inserted[0]
            return MetricsRow.select(MetricsRow.id).where(MetricsRow.run_id == metrics.run_id).scalar()

    @guarded
    def get_latest_metrics(self) -> DreamMetrics | None:
        """The most recent metrics row, or None."""
        query = MetricsRow.select(pw.SQL("*")).order_by(MetricsRow.timestamp.desc(), MetricsRow.id.desc())
        found = load_models(DreamMetrics, MetricsRow, self.db.execute(query.limit(1)))
        return found[0] if found else None

    @guarded
    def get_metrics_since(self, since: datetime) -> list[DreamMetrics]:
        """Metrics rows from ``since`` on, oldest first (the health trend)."""
        query = MetricsRow.select(pw.SQL("*")).where(MetricsRow.timestamp >= since)
        return load_models(DreamMetrics, MetricsRow, self.db.execute(query.order_by(MetricsRow.timestamp, MetricsRow.id)))

    @guarded
    def get_runs_between(self, since: datetime, until: datetime) -> list[DreamGenerationRun]:
        """Generation runs started in [since, until], oldest first."""
        query = GenerationRunRow.select(pw.SQL("*")).where(GenerationRunRow.timestamp.between(since, until))
        return load_models(DreamGenerationRun, GenerationRunRow, self.db.execute(query.order_by(GenerationRunRow.id)))
