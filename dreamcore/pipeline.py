"""The cycle: run the registered stages in order over one generation run, resumably.

A run is a row in ``dream_generation_runs``. A cycle that dies (kill -9, power loss) leaves its run
marked ``running``; the next cycle resumes that run with the same seed, skipping the work already
in the store, so nothing is lost or duplicated. Stages are plugins (``register_stages``): adding
evaluate, test or score stages needs no change here.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from contextlib import nullcontext
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar

import attrs

from dreamcore.config import StrategyConfig
from dreamcore.errors import ConfigError
from dreamcore.models import DreamGenerationRun, Procedure
from dreamcore.progress import Progress
from dreamcore.store.lock import RunOnWorkers, run_lock

if TYPE_CHECKING:
    from dreamcore.analysis.related import RelatedIndex
    from dreamcore.core import DreamCore
    from dreamcore.llm.hub import ModelHub

T = TypeVar("T")


@attrs.define(kw_only=True)
class Cycle:
    """One invocation of the pipeline: what stages share while they run.

    ``procedures`` is filled by the mine stage (else later stages read them from the store);
    ``report`` collects each stage's figures for the summary; ``failures`` makes the exit code 1;
    ``batch`` (procedure ids) narrows the procedures dreamt to a distributed generation job's share,
    ``dream_batch`` (dream ids) the dreams judged or tested to an evaluation or sandbox job's share.
    """

    core: DreamCore
    run: DreamGenerationRun
    strategy: StrategyConfig
    limit: int | None = None
    only: str | None = None
    dry_run: bool = False
    progress: Progress = attrs.field(factory=Progress)
    procedures: list[Procedure] | None = None
    report: dict[str, Any] = attrs.field(factory=dict)
    failures: list[str] = attrs.field(factory=list)
    resumed: bool = False
    batch: frozenset[int] | None = None
    dream_batch: frozenset[int] | None = None
    model_hub: ModelHub | None = attrs.field(default=None, init=False, repr=False)

    @property
    def seed(self) -> int:
        """The run's random seed."""
        return self.run.seed if self.run.seed is not None else 0

    def current_procedures(self) -> list[Procedure]:
        """Procedures mined in this cycle, or else every current procedure in the store."""
        if self.procedures is None:
            self.procedures = self.core.store.get_procedures()
        return self.procedures

    def procedures_to_dream(self) -> list[Procedure]:
        """The current procedures this cycle dreams over: those named by ``only`` (a qualified name,
        optionally prefixed with its module) and at most ``limit`` of them."""
        chosen = self.current_procedures()
        if self.batch is not None:  # a distributed generation job's share
            chosen = [p for p in chosen if p.id in self.batch]
        if self.only is not None:
            chosen = [p for p in chosen if self.only in (p.qualname, f"{p.module}.{p.qualname}")]
            if not chosen:
                raise ConfigError(f"no procedure named {self.only!r} (use its qualified name, e.g. Class.method)")
        return chosen[: self.limit] if self.limit is not None else chosen

    @cached_property
    def related_index(self) -> RelatedIndex:
        """Index for finding related procedures across projects (built on first use)."""
        from dreamcore.analysis.related import RelatedIndex

        return RelatedIndex(self.current_procedures())

    @property
    def models(self) -> ModelHub:
        """Model access for generators: the run's budget (``[cycle] budget_usd``) and usage ledger,
        created on first use (then also ``model_hub``)."""
        if self.model_hub is None:
            from dreamcore.llm.hub import ModelHub

            self.model_hub = ModelHub(self.core, self.core.config.cycle.budget_usd, self.run.model_usage)
        return self.model_hub

    def save_model_usage(self) -> None:
        """Add the model calls booked since the last save to the run's stored usage (so a resumed run
        keeps counting its spend; jobs of one run on several workers each add their own)."""
        if self.model_hub is not None and self.model_hub.used and not self.dry_run:
            unsaved = self.model_hub.ledger.take_unsaved()
            if unsaved:
                self.run.model_usage = self.core.store.add_run_figures(self.run.id, "model_usage", unsaved)



async def for_each(items: Sequence[T], concurrency: int, work: Callable[[T], Awaitable[None]]) -> None:
    """``await work(item)`` for every item, at most ``concurrency`` at a time (a stage's worker pool)."""
    pending = iter(items)

    async def worker() -> None:
        for item in pending:  # workers share the iterator: each item is taken once
            await work(item)

    await asyncio.gather(*(worker() for _ in range(max(1, min(concurrency, len(items))))))


def select_stages(core: DreamCore, names: Iterable[str] | None) -> list[Any]:
    """The stages to run, in order: every registered stage, or only those named."""
    available = core.plugins.components("stages")
    if names is None:
        chosen = list(available)
    else:
        chosen = list(dict.fromkeys(names))
        unknown = [name for name in chosen if name not in available]
        if unknown:
            known = ", ".join(sorted(available, key=lambda n: available[n].component.order))
            raise ConfigError(f"unknown stage {unknown[0]!r} (known: {known})")
    stages = [core.create("stages", name) for name in chosen]
    return sorted(stages, key=lambda stage: stage.order)


def open_run(
    core: DreamCore, strategy_name: str | None, dry_run: bool, *, executor: str = "local"
) -> tuple[DreamGenerationRun, bool]:
    """The interrupted run to resume (and True), else a new run (stored unless ``dry_run``) whose work
    runs on ``executor``. A run whose work went to workers is not resumed locally: RunOnWorkers."""
    if dry_run:
        name = strategy_name or core.config.cycle.strategy
        return DreamGenerationRun(strategy=name, seed=core.config.cycle.seed or 0), False
    unfinished = core.store.get_unfinished_run()
    if unfinished is not None:
        if unfinished.executor != "local" and executor == "local":
            raise RunOnWorkers(
                f"run {unfinished.id} is running on {unfinished.executor} workers; follow it with "
                f"`dreamcore cluster status`, or resume it there with [executor] kind = {unfinished.executor!r}"
            )
        if unfinished.executor != executor:
            unfinished.executor = executor
            core.store.record_generation_run(unfinished)
        return unfinished, True
    run = DreamGenerationRun(strategy=strategy_name or core.config.cycle.strategy, seed=core.config.cycle.seed,
                             executor=executor)
    run.id = core.store.record_generation_run(run)
    if run.seed is None:
        run.seed = run.id
        core.store.record_generation_run(run)
    return run, False


async def run_cycle(
    core: DreamCore,
    *,
    strategy: str | None = None,
    stages: Iterable[str] | None = None,
    limit: int | None = None,
    only: str | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> Cycle:
    """Run (or resume) a cycle through the selected stages; returns it with its report.

    ``only`` dreams over one procedure (its qualified name); ``limit`` over at most N."""
    if strategy is not None and strategy not in core.config.strategies:
        known = ", ".join(sorted(core.config.strategies))
        raise ConfigError(f"unknown strategy {strategy!r} (known: {known})")
    selected = select_stages(core, stages)
    with nullcontext() if dry_run else run_lock(core.store):  # a dry run writes nothing: no lock
        return await _run_stages(core, selected, strategy, limit, only, dry_run, progress)


async def _run_stages(
    core: DreamCore, selected: list[Any], strategy: str | None, limit: int | None, only: str | None,
    dry_run: bool, progress: Progress | None,
) -> Cycle:
    run, resumed = open_run(core, strategy, dry_run)
    cycle = Cycle(
        core=core,
        run=run,
        strategy=core.config.strategies[run.strategy],
        limit=limit,
        only=only,
        dry_run=dry_run,
        progress=progress or Progress(),
        resumed=resumed,
    )
    if resumed:
        cycle.progress.note(f"resuming run {run.id} (interrupted; strategy {run.strategy}, seed {run.seed})")
    started = time.perf_counter()
    try:
        for stage in selected:
            await stage.run(cycle)
            core.plugins.call("stage_finished", cycle=cycle, stage=stage.name)
    except ConfigError as exc:  # a usage error met mid-run ends the run for good: it is not resumed
        if not dry_run:
            run.stop_reason = str(exc)
            core.finish_run(run, "failed")
        raise
    finally:
        cycle.progress.close()
        run.duration_seconds += time.perf_counter() - started
        if cycle.model_hub is not None:
            await cycle.model_hub.aclose()
    if not dry_run:
        finish_cycle(cycle)
    return cycle


def finish_cycle(cycle: Cycle) -> None:
    """Record the cycle's run as ended: its counts recounted from the store, its model usage, and
    ``failed`` when the cycle has failures (else ``finished``)."""
    core, run = cycle.core, cycle.run
    cycle.save_model_usage()
    counts = core.store.run_counts(run.id)
    run.dreams_by_type = counts["dreams_by_type"]
    run.rejected_by_reason = counts["rejected_by_reason"]
    run.total_dreams_generated = sum(run.dreams_by_type.values())
    # drafts and dreams are recounted from the store; call counters were added as calls were made
    for model, counters in counts["model_usage"].items():
        run.model_usage[model] = {**run.model_usage.get(model, {}), **counters}
    run.stages = {**run.stages, **cycle.report}
    if cycle.model_hub is not None:
        run.stop_reason = cycle.model_hub.stop_reason or run.stop_reason
    core.finish_run(run, "failed" if cycle.failures else "finished")


def summary(cycle: Cycle) -> dict[str, Any]:
    """What a cycle did, ready for JSON output or a terminal."""
    run = cycle.run
    return {
        "run_id": run.id,
        "strategy": run.strategy,
        "seed": run.seed,
        "status": "dry-run" if cycle.dry_run else run.status,
        "resumed": cycle.resumed,
        "duration_seconds": round(run.duration_seconds, 3),
        "dreams_by_type": run.dreams_by_type,
        "total_dreams": run.total_dreams_generated,
        "rejected_by_reason": run.rejected_by_reason,
        "model_usage": run.model_usage,
        "stop_reason": run.stop_reason,
        "stages": cycle.report,
        "failures": cycle.failures,
    }
