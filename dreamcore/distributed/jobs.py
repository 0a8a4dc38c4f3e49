"""The job kinds of a distributed cycle, and the coordinator that steps a cycle through its stages.

Job kinds (each carries a run id and the ids of its work, nothing else):

- ``dreamcore.generate`` (queue ``llm``): dream over a batch of procedures (the ``generate`` stage);
- ``dreamcore.evaluate`` (queue ``judge``): judge a batch of dreams still pending evaluation;
- ``dreamcore.test`` (queue ``sandbox``): test a batch of evaluated dreams in one sandbox;
- ``dreamcore.advance`` (queue ``cycle``): the coordinator. For each stage in order it either fans
  the stage out as batch jobs (a :class:`FanOut`) and waits until none of the run's jobs is left
  (looking every ``WAKE_SECONDS``, handing over to a fresh job of itself every ``WAIT_SECONDS``), or
  runs it in place (``score``, ``adapt``, ``archive`` and any stage without a fan-out), then finishes
  the run. One coordinator per run runs at a time (a procrastinate lock), and a finished run is left
  alone, so a coordinator that runs twice does its stages' work once;
- ``dreamcore.nightly`` (queue ``cycle``, periodic, with ``[executor] nightly``): submit a cycle;
- ``dreamcore.requeue_stalled`` (queue ``cycle``, periodic): jobs of workers whose heartbeat is older
  than ``[executor] stalled_after`` go back to the queue;
- ``dreamcore.prune_jobs`` (queue ``cycle``, hourly): rows of jobs that succeeded over
  ``[executor] keep_jobs_hours`` ago are deleted.

A stage job adds its stage's figures and failures to the run (``add_run_figures``), and its model
calls go through the cluster's budget and per-model limits (``dreamcore.distributed.limits``).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any

import attrs

from dreamcore.models import DreamStatus
from dreamcore.pipeline import Cycle, finish_cycle, open_run, select_stages
from dreamcore.progress import Progress
from dreamcore.store.lock import run_lock

PROCRASTINATE = "procrastinate"  # the executor's name, recorded on the runs it opens

if TYPE_CHECKING:
    import procrastinate

    from dreamcore.core import DreamCore

CYCLE_QUEUE = "cycle"
WAKE_SECONDS = 0.1  # the coordinator looks at the run's jobs this often while it waits
WAIT_SECONDS = 10  # ... and hands over to a fresh coordinator job after waiting this long,
HANDOVER_DELAY = 1  # or, due this much later, as soon as none of the jobs it waits for is running
POLL_SECONDS = 0.5  # a worker looks for due jobs this often (a delayed job sends no notification)
REQUEUE_CRON = "* * * * * */5"  # every five seconds (croniter: seconds are the sixth field)
PRUNE_CRON = "17 * * * *"  # hourly

RUN_JOBS_INDEX = (  # the coordinator counts a run's unfinished jobs ten times a second; `run` follows them
    "CREATE INDEX IF NOT EXISTS dreamcore_unsettled_jobs_by_run ON procrastinate_jobs ((args->>'run_id')) "
    "WHERE status <> 'succeeded'"
)
UNSETTLED = "args->>'run_id' = %(run)s AND status <> 'succeeded'"  # a run's jobs RUN_JOBS_INDEX serves
OUTSTANDING = (  # the run's stage jobs waiting or running, and how many of them are running
    "SELECT count(*) AS n, count(*) FILTER (WHERE status = 'doing') AS doing FROM procrastinate_jobs "
    f"WHERE {UNSETTLED} AND status IN ('todo', 'doing') AND queue_name <> 'cycle'"
)
ADVANCE_RUNNING = (
    f"SELECT count(*) AS n FROM procrastinate_jobs WHERE {UNSETTLED} "
    "AND task_name = 'dreamcore.advance' AND status IN ('todo', 'doing')"
)
FAILED = f"SELECT count(*) AS n FROM procrastinate_jobs WHERE {UNSETTLED} AND status = 'failed'"


@attrs.frozen
class FanOut:
    """A stage run as batch jobs: its task and queue, the ids of its work still to do, the batch
    size, and how many rounds it may take (a round re-lists what is still to do)."""

    task: str
    queue: str
    todo: Callable[[Cycle], list[int]]
    batch: Callable[[DreamCore], int]
    rounds: Callable[[DreamCore], int]


def _procedures_to_generate(cycle: Cycle) -> list[int]:
    done = cycle.core.store.procedures_dreamt_in_run(cycle.run.id)
    return [p.id for p in cycle.procedures_to_dream() if p.id not in done]


def _dreams_to_evaluate(cycle: Cycle) -> list[int]:
    evaluable = cycle.core.store.get_evaluable(cycle.core.config.evaluation.max_attempts, limit=None)
    return [dream.id for dream in evaluable]


def _dreams_to_test(cycle: Cycle) -> list[int]:
    return [dream.id for dream in cycle.core.create("stages", "test").dreams_to_test(cycle.core.store, cycle.limit)]


FANOUTS: dict[str, FanOut] = {
    "generate": FanOut(
        task="dreamcore.generate", queue="llm", todo=_procedures_to_generate,
        batch=lambda core: core.config.executor.generate_batch, rounds=lambda core: 1,
    ),
    "evaluate": FanOut(
        task="dreamcore.evaluate", queue="judge", todo=_dreams_to_evaluate,
        batch=lambda core: core.config.evaluation.batch_size,
        rounds=lambda core: core.config.evaluation.max_attempts,
    ),
    "test": FanOut(
        task="dreamcore.test", queue="sandbox", todo=_dreams_to_test,
        batch=lambda core: core.config.executor.test_batch, rounds=lambda core: 1,
    ),
}


def open_cycle(core: DreamCore, run_id: int, *, limit: int | None = None, only: str | None = None) -> Cycle:
    """The cycle of a stored run, as a job sees it (quiet progress)."""
    run = core.store.get_generation_run(run_id)
    return Cycle(core=core, run=run, strategy=core.config.strategies[run.strategy], limit=limit, only=only,
                 progress=Progress(_Discard()), resumed=True)


class _Discard:
    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass


def _core(context: Any) -> DreamCore:
    return context.additional_context["core"]


async def generate(context: Any, run_id: int, procedure_ids: list[int]) -> None:
    """Dream over these procedures (those already dreamt in the run are skipped by the stage)."""
    await _run_stage(context, run_id, "generate", _share_index, batch=frozenset(procedure_ids))


_RUN_INDEX: dict[int, tuple[list[Any], Any]] = {}  # run id -> its procedures and related index
_RUN_INDEX_LOCK = threading.Lock()


def _share_index(cycle: Cycle) -> None:
    """Give the cycle the run's procedures and related-procedures index, built once per worker
    process (and run) rather than once per generation job: the index covers every procedure."""
    with _RUN_INDEX_LOCK:
        if cycle.run.id not in _RUN_INDEX:
            _RUN_INDEX.clear()  # a worker keeps only the latest run's
            _RUN_INDEX[cycle.run.id] = (cycle.current_procedures(), cycle.related_index)
        cycle.procedures, cycle.related_index = _RUN_INDEX[cycle.run.id]


async def evaluate(context: Any, run_id: int, dream_ids: list[int]) -> None:
    """Judge these dreams, those still pending evaluation; applying a verdict is conditional."""
    await _run_stage(context, run_id, "evaluate", None, dream_batch=frozenset(dream_ids))


async def test(context: Any, run_id: int, dream_ids: list[int]) -> None:
    """Test these dreams in one sandbox; moving a dream to ``tested`` is conditional."""
    await _run_stage(context, run_id, "test", None, dream_batch=frozenset(dream_ids))


async def _run_stage(
    context: Any, run_id: int, name: str, prepare: Callable[[Cycle], None] | None, **share: frozenset[int]
) -> None:
    """Run stage ``name`` over the job's share of the run (after ``prepare(cycle)``), with the
    cluster's model limits; add the stage's figures and failures to the run."""
    from dreamcore.distributed.limits import SharedBudget, SharedGate
    from dreamcore.llm.hub import ModelHub

    core, job = _core(context), context.job
    url = core.config.store.url

    async def work() -> None:
        cycle = attrs.evolve(open_cycle(core, run_id), **share)
        if prepare is not None:
            prepare(cycle)
        budget = SharedBudget(url, run_id, core.config.cycle.budget_usd, job.id, job.attempts)
        cycle.model_hub = ModelHub(core, core.config.cycle.budget_usd, budget=budget, gate=SharedGate(url))
        try:
            await core.create("stages", name).run(cycle)
            cycle.save_model_usage()
        finally:
            await cycle.model_hub.aclose()
        figures = {key: value for key, value in cycle.report.get(name, {}).items() if not isinstance(value, dict)}
        if cycle.failures:
            figures["failures"] = cycle.failures
        core.store.add_run_figures(run_id, "stages", {name: figures})

    await _off_loop(work)


async def _off_loop(work: Callable[[], Awaitable[Any]]) -> Any:
    """Run stage code (which calls the store synchronously) in a thread with its own event loop and
    store connection, so the worker's loop keeps sending heartbeats and concurrent jobs never share
    a connection."""
    return await asyncio.to_thread(lambda: asyncio.run(work()))


async def advance(
    context: Any, run_id: int, stages: list[str], position: int = 0, attempt: int = 0,
    limit: int | None = None, only: str | None = None,
) -> None:
    """Step the run's cycle on: fan out or run each stage in turn, waiting for the run's jobs in
    between, then finish the run. While some of them run it waits here (looking every
    ``WAKE_SECONDS``) for at most ``WAIT_SECONDS``, then hands over to a fresh job of itself, so a
    worker asked to stop is never held long and the queue keeps about one coordinator row per
    ``WAIT_SECONDS``. When none of them runs (they wait for a slot, perhaps this worker's only one) it
    hands over at once, to a job due ``HANDOVER_DELAY`` later: older jobs are fetched first."""
    core, app = _core(context), context.app
    cycle = open_cycle(core, run_id, limit=limit, only=only)
    if cycle.run.status != "running":
        return  # finished by an earlier run of this job: nothing left to do
    handover, waited = time.monotonic() + WAIT_SECONDS, False
    while True:
        jobs = await app.connector.execute_query_one_async(OUTSTANDING, run=str(run_id))
        if jobs["n"]:
            # none running: maybe this worker's only slot is the one waiting here, so give it up
            if not jobs["doing"] or time.monotonic() >= handover:
                await app.configure_task(
                    "dreamcore.advance", queue=CYCLE_QUEUE, lock=f"cycle-{run_id}",
                    schedule_in={"seconds": 0 if jobs["doing"] else HANDOVER_DELAY},
                ).defer_async(run_id=run_id, stages=stages, position=position, attempt=attempt, limit=limit,
                              only=only)
                return
            await asyncio.sleep(WAKE_SECONDS)
            waited = True
            continue
        if waited:  # the jobs wrote to the run meanwhile
            cycle, waited = open_cycle(core, run_id, limit=limit, only=only), False
        if position == len(stages):
            break
        fan = FANOUTS.get(stages[position])
        todo = fan.todo(cycle) if fan is not None and attempt < fan.rounds(core) else []
        if fan is None:
            stage = core.create("stages", stages[position])
            await _off_loop(lambda stage=stage, cycle=cycle: stage.run(cycle))
            if stage.name in cycle.report:  # no job runs now: nothing else writes the run
                cycle.run.stages[stage.name] = cycle.report[stage.name]
                core.store.record_generation_run(cycle.run)
        elif todo:
            size = fan.batch(core)
            batches = [{"run_id": run_id, **_ids(fan, todo[i : i + size])} for i in range(0, len(todo), size)]
            await app.configure_task(fan.task, queue=fan.queue).batch_defer_async(*batches)
            attempt += 1
            continue
        position, attempt = position + 1, 0
    await _finish(cycle, app, stages)


def _ids(fan: FanOut, ids: list[int]) -> dict[str, list[int]]:
    return {"procedure_ids" if fan.task == "dreamcore.generate" else "dream_ids": ids}


async def _finish(cycle: Cycle, app: procrastinate.App, stages: list[str]) -> None:
    """End the run: its jobs' failures, work left undone and a spent budget become the run's."""
    from dreamcore.distributed.limits import BUDGET_STATE, DROP_HOLDS

    run_id = cycle.run.id
    cycle.report = dict(cycle.run.stages)
    for figures in cycle.report.values():
        cycle.failures += figures.pop("failures", []) if isinstance(figures, dict) else []
    failed = await _count(app, FAILED, run_id)
    if failed:
        cycle.failures.append(f"{failed} jobs of the run failed (see `dreamcore cluster status`)")
    unevaluated = _dreams_to_evaluate(cycle) if "evaluate" in stages else []
    if unevaluated:
        cycle.failures.append(f"{len(unevaluated)} dreams still pending evaluation")
    untested = cycle.core.store.get_by_status(DreamStatus.PENDING_TEST, limit=None) if "test" in stages else []
    if untested:
        cycle.failures.append(f"{len(untested)} dreams left pending_test (their test job did not end)")
    budget = await app.connector.execute_query_one_async(BUDGET_STATE, run=run_id)
    if budget and budget["refused"]:
        cycle.run.stop_reason = f"budget_exhausted: spent ${budget['spent_usd']:.4f} of ${budget['limit_usd']:g}"
    elif cycle.failures:
        cycle.run.stop_reason = "; ".join(dict.fromkeys(cycle.failures))
    await app.connector.execute_query_async(DROP_HOLDS, run=run_id)
    finish_cycle(cycle)
    if cycle.model_hub is not None:
        await cycle.model_hub.aclose()


async def _count(app: procrastinate.App, query: str, run_id: int) -> int:
    row = await app.connector.execute_query_one_async(query, run=str(run_id))
    return int(row["n"])


async def submit(
    core: DreamCore, app: procrastinate.App, *, strategy: str | None = None, stages: Iterable[str] | None = None,
    limit: int | None = None, only: str | None = None,
) -> int:
    """Open (or resume) a run, mine in this process (sources are read where they are), and enqueue
    the run's coordinator for the other stages; returns the run's id."""
    from dreamcore.distributed.limits import OPEN_BUDGET
    from dreamcore.llm.hub import UsageLedger

    selected = select_stages(core, stages)
    with run_lock(core.store):
        run, _ = open_run(core, strategy, False, executor=PROCRASTINATE)
        spent = UsageLedger(run.model_usage).total_cost  # a resumed run's spend counts again
        await app.connector.execute_query_async(OPEN_BUDGET, run=run.id, limit=core.config.cycle.budget_usd,
                                                spent=spent)
        cycle = open_cycle(core, run.id, limit=limit, only=only)
        for stage in selected:
            if stage.name == "mine":
                await stage.run(cycle)
        row = await app.connector.execute_query_one_async(ADVANCE_RUNNING, run=str(run.id))
        if not row["n"]:  # a resumed run may still have its coordinator queued
            await app.configure_task("dreamcore.advance", queue=CYCLE_QUEUE, lock=f"cycle-{run.id}").defer_async(
                run_id=run.id, stages=[s.name for s in selected if s.name != "mine"], limit=limit, only=only,
            )
    return run.id


async def nightly_cycle(context: Any, timestamp: int) -> int:
    """The periodic cycle (``[executor] nightly``): submitted once per tick however many workers run."""
    return await submit(_core(context), context.app)


async def requeue_stalled(context: Any, timestamp: int) -> int:
    """Put the running jobs of workers silent for ``[executor] stalled_after`` back in their queue."""
    manager = context.app.job_manager
    seconds = _core(context).config.executor.stalled_after
    stalled = list(await manager.get_stalled_jobs(seconds_since_heartbeat=seconds))
    for job in stalled:
        await manager.retry_job(job)
    await manager.prune_stalled_workers(seconds_since_heartbeat=seconds)
    return len(stalled)


async def prune_jobs(context: Any, timestamp: int) -> None:
    """Delete the rows of jobs that succeeded over ``[executor] keep_jobs_hours`` ago (failed jobs stay
    for `dreamcore cluster status`): the coordinator's queries and the queue stay fast night after night."""
    hours = _core(context).config.executor.keep_jobs_hours
    if hours:
        await context.app.job_manager.delete_old_jobs(nb_hours=hours)


def make_app(url: str, *, nightly: str = "") -> procrastinate.App:
    """A procrastinate App on the store's PostgreSQL server, with dreamcore's job kinds registered;
    with ``nightly`` (a cron expression) the cycle itself is a periodic job."""
    import procrastinate

    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=url, min_size=1, max_size=4))
    app.task(name="dreamcore.generate", queue="llm", pass_context=True)(generate)
    app.task(name="dreamcore.evaluate", queue="judge", pass_context=True)(evaluate)
    app.task(name="dreamcore.test", queue="sandbox", pass_context=True)(test)
    app.task(name="dreamcore.advance", queue=CYCLE_QUEUE, pass_context=True)(advance)
    stalled = app.task(name="dreamcore.requeue_stalled", queue=CYCLE_QUEUE, pass_context=True)(requeue_stalled)
    app.periodic(cron=REQUEUE_CRON, periodic_id="requeue-stalled")(stalled)
    prune = app.task(name="dreamcore.prune_jobs", queue=CYCLE_QUEUE, pass_context=True)(prune_jobs)
    app.periodic(cron=PRUNE_CRON, periodic_id="prune-jobs")(prune)
    if nightly:
        scheduled = app.task(name="dreamcore.nightly", queue=CYCLE_QUEUE, pass_context=True)(nightly_cycle)
        app.periodic(cron=nightly, periodic_id="nightly")(scheduled)
    return app
