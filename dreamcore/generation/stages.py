"""The core's own pipeline stages, registered like any plugin's: ``mine`` and ``generate``.

mine: every [[sources]] entry's procedures, upserted by fingerprint (an unchanged codebase adds
nothing; a changed function becomes a new version). generate: each procedure through the
strategy's generators, every draft checked (see ``dreamcore.generation.drafts``), dreams and rejections of
one procedure stored in one transaction — so a killed run resumes at the next procedure.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from dreamcore.analysis.syntax import canonical_fingerprint
from dreamcore.generation.drafts import DraftChecker, GenerationContext, seeded_rng
from dreamcore.hookspecs import hookimpl
from dreamcore.learning.adaptation import PlanLookup
from dreamcore.models import DreamProcedure, Procedure, RejectedDraft, SourceProblem
from dreamcore.pipeline import Cycle, for_each

SHOWN_PROBLEMS = 5
SPLIT = ("generators", "checks", "store")  # where the generate stage's time goes, in seconds


class MineStage:
    """Read procedures from the configured sources into the store."""

    name = "mine"
    order = 10

    async def run(self, cycle: Cycle) -> None:
        core = cycle.core
        found, problems = [], []
        before = 0 if cycle.dry_run else core.store.count_procedures()
        cycle.progress.start(self.name, len(core.config.sources))
        for spec in core.config.sources:
            source = core.create("sources", spec.plugin)
            async for item in source.procedures(spec, core.config.base_dir):
                if isinstance(item, SourceProblem):
                    problems.append(str(item))
                    continue
                item.fingerprint = item.fingerprint or _fingerprint(item.source)
                if not cycle.dry_run:
                    item.id = core.store.upsert_procedure(item)
                found.append(item)
            cycle.progress.advance(self.name)
        for problem in problems[:SHOWN_PROBLEMS]:
            cycle.progress.note(f"warning: {problem}")
        cycle.procedures = _current_versions(found)
        cycle.report[self.name] = {"procedures": len(cycle.procedures), "problems": len(problems)}
        if not cycle.dry_run:
            cycle.report[self.name]["new"] = core.store.count_procedures() - before
        cycle.progress.finish(self.name, f"{len(cycle.procedures)} procedures, {len(problems)} problems")


def _fingerprint(source: str) -> str:
    try:
        return canonical_fingerprint(source)
    except ValueError:
        return ""  # the store fingerprints the raw text instead


def _current_versions(procedures: list[Procedure]) -> list[Procedure]:
    unique: dict[Any, Procedure] = {}
    for procedure in procedures:
        unique[(procedure.project, procedure.module, procedure.qualname)] = procedure
    return list(unique.values())


class GenerateStage:
    """Dream: run the strategy's generators over the procedures and keep what passes the checks."""

    name = "generate"
    order = 20

    async def run(self, cycle: Cycle) -> None:
        core = cycle.core
        generators = [core.create("generators", name) for name in cycle.strategy.generators]
        llms = {generator.name: cycle.models.bind(generator) for generator in generators}
        plan = PlanLookup.for_cycle(cycle)  # the adaptation plan's variants and hints per arm
        procedures = cycle.procedures_to_dream()
        if not cycle.dry_run:
            done = core.store.procedures_dreamt_in_run(cycle.run.id)
            procedures = [p for p in procedures if p.id not in done]
        tally: Counter[str] = Counter()
        cycle.progress.start(self.name, len(procedures))

        async def dream(procedure: Procedure) -> None:
            tally.update(await self._dream(cycle, procedure, generators, llms, plan))
            cycle.progress.advance(self.name)

        await for_each(procedures, core.config.cycle.concurrency, dream)
        seconds = {key: round(tally.pop(key), 3) for key in SPLIT if key in tally}
        cycle.report[self.name] = {"procedures": len(procedures), **dict(sorted(tally.items())), "seconds": seconds}
        cycle.progress.finish(
            self.name, f"{tally['dreams']} new dreams, {tally['rejected']} rejected, {tally['known']} already known"
        )

    async def _dream(
        self, cycle: Cycle, procedure: Procedure, generators: list[Any], llms: dict[str, Any], plan: PlanLookup
    ) -> Counter[str]:
        tally: Counter[str] = Counter()
        try:
            checker = DraftChecker(procedure, cycle.core.config.safety, run_id=cycle.run.id)
        except ValueError as exc:
            cycle.progress.note(f"warning: {procedure.module}.{procedure.qualname}: skipped ({exc})")
            tally["skipped"] += 1
            return tally
        related = ()
        dreams: list[DreamProcedure] = []
        rejections: list[RejectedDraft] = []
        for generator in generators:
            arm = plan.settings(procedure, generator)
            if not arm.variants:
                continue
            if getattr(generator, "needs_related", False) and not related:
                related = tuple(p for p, _ in cycle.related_index.related(procedure, limit=5))
            context = GenerationContext(
                procedure=procedure,
                variants=arm.variants,
                rng=seeded_rng(cycle.seed, procedure, generator.name),
                seed=cycle.seed,
                related=related,
                llm=llms[generator.name],
                dream_type=generator.dream_type,
                hints=arm.hints,
            )
            started = time.perf_counter()
            try:
                drafts = await generator.generate(procedure, context)
            except Exception as exc:  # a plugin's bug must not end the night
                message = f"generator {generator.name!r} failed on {procedure.qualname}: {type(exc).__name__}: {exc}"
                cycle.failures.append(message)
                cycle.progress.note(f"error: {message}")
                rejections.append(_failed(procedure, generator, cycle, message))
                continue
            checked_at = time.perf_counter()
            tally["generators"] += checked_at - started
            for rejection in context.rejections:
                rejection.run_id = cycle.run.id
            rejections += context.rejections
            for draft in drafts[: arm.variants]:
                checked = checker.check(draft, generator.dream_type)
                (dreams if isinstance(checked, DreamProcedure) else rejections).append(checked)
            tally["checks"] += time.perf_counter() - checked_at
        tally["rejected"] += len(rejections)
        if cycle.dry_run:
            tally["dreams"] += len(dreams)
            return tally
        store = cycle.core.store
        stored_at = time.perf_counter()
        with store.atomic():
            ids = cycle.core.store_dreams(dreams)
            store.record_rejections(rejections)
            cycle.save_model_usage()
        tally["store"] += time.perf_counter() - stored_at
        new = sum(1 for dream in dreams if dream.id is not None)
        tally["dreams"] += new
        tally["known"] += len(ids) - new
        return tally


def _failed(procedure: Procedure, generator: Any, cycle: Cycle, message: str) -> RejectedDraft:
    return RejectedDraft(
        base_procedure_id=procedure.id,
        dream_type=generator.dream_type,
        model_used="local",
        category="generator_error",
        reason=message,
        run_id=cycle.run.id,
    )


@hookimpl
def register_stages(register) -> None:
    register(MineStage)
    register(GenerateStage)
