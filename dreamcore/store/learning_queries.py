"""DreamStore's queries for learning: dream scores, the evidence adaptation weighs, adaptation
plans, retention, and test failure patterns."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import peewee as pw

from dreamcore.models import AdaptationPlan, ArmDecision, DreamStatus, DreamTier, FailurePattern, utcnow
from dreamcore.store.connection import guarded
from dreamcore.store.rows import load_models, model_from_row, row_from_model, scrub
from dreamcore.store.tables import (
    EVALUATED_STATES,
    AdaptationDecisionRow,
    AdaptationPlanRow,
    AdoptionRow,
    DreamRow,
    FailurePatternRow,
    RejectedDraftRow,
)


class LearningQueries:
    """Mixed into DreamStore, which gives the ``db`` they use."""

    db: pw.Database

    # -- learning: scores ------------------------------------------------------------------
    _SCORED = ("novelty_score", "quality_score", "leverage_score", "efficiency_score", "compound_score",
               "cross_project_matches", "base_callers", "extra_scores", "scored_at")

    @guarded
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

    @guarded
    def record_scores(self, scores: Iterable[dict[str, Any]]) -> int:
        """Write the scores of many dreams (dicts with ``id`` and every ``_SCORED`` key); returns how many."""
        p = self.db.param
        sql = f"UPDATE dream_procedures SET {', '.join(f'{c} = {p}' for c in self._SCORED)} WHERE id = {p}"
        stamp, extra = DreamRow.scored_at.db_value, DreamRow.extra_scores.db_value
        rows = [[*(row[c] for c in self._SCORED[:-2]), extra(row.get("extra_scores", {})), stamp(row["scored_at"]),
                 row["id"]] for row in scores]
        if rows:
            with self.db.atomic():
                self.db.cursor().executemany(sql, rows)
        return len(rows)

    # -- learning: evidence for adaptation and return on spend --------------------------------
    @guarded
    def dream_outcomes(self, since: datetime | None = None) -> list[tuple]:
        """Dreams counted per (run_id, dream_type, model_used, base_procedure_id, tier, test_outcome),
        as tuples ending with the count; only dreams generated from ``since`` on."""
        keys = (DreamRow.run_id, DreamRow.dream_type, DreamRow.model_used, DreamRow.base_procedure_id,
                DreamRow.tier, DreamRow.test_outcome)
        query = DreamRow.select(*keys, pw.fn.COUNT(DreamRow.id)).group_by(*keys)
        if since is not None:
            query = query.where(DreamRow.generated_at >= since)
        return list(self.db.execute(query).fetchall())

    @guarded
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
    @guarded
    def save_plan(self, plan: AdaptationPlan) -> int:
        """Store an adaptation plan with its decisions; returns its id. A run has one plan: when it
        exists already (the adapt stage ran again), nothing is written and ``plan`` gets its id."""
        with self.db.atomic():
            row = row_from_model(plan, skip=("id", "decisions"))
            query = AdaptationPlanRow.insert(row).on_conflict_ignore().returning(AdaptationPlanRow.id)
            inserted = [found[0] for found in query.tuples().execute()]
            if not inserted:
                plan.id = AdaptationPlanRow.select(AdaptationPlanRow.id).where(
                    AdaptationPlanRow.run_id == plan.run_id).scalar()
                return plan.id
            plan_id = inserted[0]
            rows = [{**row_from_model(decision, skip=()), "plan_id": plan_id} for decision in plan.decisions]
            for start in range(0, len(rows), 500):
                AdaptationDecisionRow.insert_many(rows[start : start + 500]).execute()
        plan.id = plan_id
        return plan_id

    @guarded
    def latest_plan(self) -> AdaptationPlan | None:
        """The newest adaptation plan with its decisions, or None."""
        found = self._plans(AdaptationPlanRow.select(pw.SQL("*")).order_by(AdaptationPlanRow.id.desc()).limit(1))
        return found[0] if found else None

    @guarded
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
            loaded.append(model_from_row(AdaptationPlan, {**plan, "decisions": decisions[plan["id"]]},
                                          "adaptation_plans"))
        return loaded

    # -- learning: retention ------------------------------------------------------------------
    @guarded
    def archive_dreams(self, before: datetime, tier: DreamTier = DreamTier.ARCHIVE) -> int:
        """Archive evaluated dreams of ``tier`` generated before ``before``; returns how many."""
        live = [status.value for status in EVALUATED_STATES]
        query = DreamRow.update(status=DreamStatus.ARCHIVED.value, claimed_by=None, claimed_at=None).where(
            (DreamRow.tier == int(tier)) & (DreamRow.generated_at < before) & DreamRow.status.in_(live)
        )
        return query.execute()

    @guarded
    def purge_archived(self, before: datetime) -> int:
        """Delete archived dreams generated before ``before`` (adopted dreams are kept); returns how many."""
        adopted = AdoptionRow.select(AdoptionRow.dream_id)
        query = DreamRow.delete().where(
            (DreamRow.status == DreamStatus.ARCHIVED.value) & (DreamRow.generated_at < before)
            & DreamRow.id.not_in(adopted)
        )
        return query.execute()

    # -- failure patterns --------------------------------------------------------------------
    @guarded
    def record_failure_pattern(self, category: str, pattern: str, dream_id: int | None = None) -> None:
        """Count one more test failure of ``category`` with the normalised message ``pattern``."""
        row = {"category": category, "pattern": scrub(pattern), "count": 1, "last_seen": utcnow(),
               "example_dream_id": dream_id}
        seen = {FailurePatternRow.count: FailurePatternRow.count + 1, FailurePatternRow.last_seen: row["last_seen"]}
        if dream_id is not None:
            seen[FailurePatternRow.example_dream_id] = dream_id
        query = FailurePatternRow.insert(row).on_conflict(
            conflict_target=[FailurePatternRow.category, FailurePatternRow.pattern], update=seen
        )
        query.execute()

    @guarded
    def get_failure_patterns(self, category: str | None = None, limit: int | None = 50) -> list[FailurePattern]:
        """Failure patterns (of one category, or all), most frequent first, then most recent."""
        query = FailurePatternRow.select(pw.SQL("*"))
        if category is not None:
            query = query.where(FailurePatternRow.category == category)
        query = query.order_by(FailurePatternRow.count.desc(), FailurePatternRow.last_seen.desc())
        return load_models(FailurePattern, FailurePatternRow, self.db.execute(query.limit(limit)))
