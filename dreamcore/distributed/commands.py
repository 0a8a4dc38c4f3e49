"""The procrastinate executor (``[executor] kind = "procrastinate"``), ``dreamcore worker`` and
``dreamcore cluster status``.

procrastinate is imported inside the functions: this module is loaded whenever the CLI starts, and
the extra ``dreamcore[distributed]`` is optional (:func:`check_executor`).
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

import click

from dreamcore.config import Config
from dreamcore.distributed.jobs import PROCRASTINATE
from dreamcore.errors import ConfigError, StoreError
from dreamcore.hookspecs import hookimpl

if TYPE_CHECKING:
    import procrastinate

    from dreamcore.core import DreamCore
    from dreamcore.pipeline import Cycle

SCHEMA_LOCK = 0x6472656171  # advisory lock number held while procrastinate's tables are created


def check_executor(config: Config) -> None:
    """Raise a one-line ConfigError when the procrastinate executor cannot run here."""
    where = f"{config.source}: executor.kind"
    try:
        import procrastinate  # noqa: F401
    except ImportError:
        raise ConfigError(f"{where}: {PROCRASTINATE} is not installed (pip install 'dreamcore[distributed]')") from None
    if not config.store.url.startswith(("postgresql://", "postgres://")):
        raise ConfigError(
            f"{where}: {PROCRASTINATE} keeps its jobs in the store, which must be PostgreSQL "
            f"(store.url is {config.store.url.split('://', 1)[0]}://...)"
        )


def ensure_schema(url: str) -> None:
    """Create procrastinate's tables, an index of a run's unfinished jobs, and the tables of the shared
    model limits in the store's database unless they exist (once, under a lock, however many workers start at the same time)."""
    import psycopg
    from procrastinate.schema import SchemaManager

    from dreamcore.distributed.jobs import RUN_JOBS_INDEX
    from dreamcore.distributed.limits import SCHEMA as LIMITS_SCHEMA

    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("SELECT pg_advisory_lock(%s)", (SCHEMA_LOCK,))
        found = connection.execute("SELECT to_regclass('procrastinate_jobs')").fetchone()[0]
        if found is None:
            connection.execute(SchemaManager.get_schema())
        connection.execute(LIMITS_SCHEMA)
        connection.execute(RUN_JOBS_INDEX)
        connection.execute("SELECT pg_advisory_unlock(%s)", (SCHEMA_LOCK,))


def _app(core: DreamCore) -> procrastinate.App:
    import psycopg

    from dreamcore.distributed.jobs import make_app

    check_executor(core.config)
    where = core.store.where  # opening the store first: an unreachable server is its one-line error
    try:
        ensure_schema(core.config.store.url)
    except psycopg.Error as exc:
        raise StoreError(f"store: cannot set up the job tables on {where} ({str(exc).strip().splitlines()[0]})") from None
    return make_app(core.config.store.url, nightly=core.config.executor.nightly)


async def follow(core: DreamCore, app: procrastinate.App, run_id: int, interval: float = 1.0) -> str:
    """Wait until the run has ended, printing its jobs waiting, running or failed on stderr; returns
    its status."""
    last = None
    while True:
        run = core.store.get_generation_run(run_id)
        if run.status != "running":
            return run.status
        counts = await _job_counts(app, run_id)
        if counts != last:
            click.echo(f"run {run_id}: " + ", ".join(f"{n} {status}" for status, n in counts.items()), err=True)
            last = counts
        await asyncio.sleep(interval)


async def _job_counts(app: procrastinate.App, run_id: int) -> dict[str, int]:
    from dreamcore.distributed.jobs import UNSETTLED

    rows = await app.connector.execute_query_all_async(
        f"SELECT status::text AS status, count(*) AS n FROM procrastinate_jobs WHERE {UNSETTLED} "
        "GROUP BY status ORDER BY status", run=str(run_id),
    )
    return {row["status"]: int(row["n"]) for row in rows}


class ProcrastinateExecutor:
    """Runs a cycle as jobs in the PostgreSQL store, taken by ``dreamcore worker`` processes."""

    name = PROCRASTINATE

    async def run_cycle(self, core: DreamCore, *, detach: bool = False, **options: Any) -> Cycle:
        """Mine here, enqueue the rest, and follow it until the run ends unless ``detach``. Returns the
        run's cycle as the store has it: its stages' figures summed over their jobs, its failures."""
        from dreamcore.distributed.jobs import open_cycle, submit

        app = _app(core)
        async with app.open_async():
            run_id = await submit(core, app, **options)
            if not detach:
                await follow(core, app, run_id)
        cycle = open_cycle(core, run_id)
        cycle.report = dict(cycle.run.stages)
        cycle.failures = [cycle.run.stop_reason] if cycle.run.status == "failed" and cycle.run.stop_reason else []
        return cycle


@click.command("worker")
@click.option("--queues", help="Comma-separated queues to take jobs from (default: all: cycle, judge, llm, sandbox).")
@click.option("--concurrency", type=click.IntRange(1, 256), default=1, show_default=True,
              help="Jobs this worker runs at the same time.")
@click.option("--name", help="Name of this worker in `dreamcore cluster status` (default: host and pid).")
@click.pass_obj
def worker_command(app: Any, queues: str | None, concurrency: int, name: str | None) -> None:
    """Join the cluster: run jobs from the PostgreSQL store until stopped (Ctrl-C or SIGTERM)."""
    import os
    import socket

    from dreamcore.distributed.jobs import POLL_SECONDS

    core = app.core
    procrastinate_app = _app(core)
    chosen = [q.strip() for q in queues.split(",") if q.strip()] if queues else None
    heartbeat = core.config.executor.stalled_after / 4

    async def go() -> None:
        async with procrastinate_app.open_async():
            await procrastinate_app.run_worker_async(
                queues=chosen, concurrency=concurrency, name=name or f"{socket.gethostname()}:{os.getpid()}",
                additional_context={"core": core}, update_heartbeat_interval=heartbeat,
                fetch_job_polling_interval=POLL_SECONDS,
                stalled_worker_timeout=core.config.executor.stalled_after,
            )

    asyncio.run(go())


async def cluster_status(core: DreamCore, app: procrastinate.App) -> dict[str, Any]:
    """Workers (with their last heartbeat), jobs per queue and status, and stalled jobs."""
    seconds = core.config.executor.stalled_after
    workers = await app.connector.execute_query_all_async(
        "SELECT id, last_heartbeat, extract(epoch FROM now() - last_heartbeat) AS silent "
        "FROM procrastinate_workers ORDER BY id"
    )
    queues = await app.connector.execute_query_all_async(
        "SELECT queue_name AS queue, status::text AS status, count(*) AS n FROM procrastinate_jobs "
        "GROUP BY queue_name, status ORDER BY queue_name, status"
    )
    stalled = await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=seconds)
    by_queue: dict[str, dict[str, int]] = {}
    for row in queues:
        by_queue.setdefault(row["queue"], {})[row["status"]] = int(row["n"])
    return {
        "workers": [{"id": w["id"], "seconds_since_heartbeat": round(float(w["silent"]), 1),
                     "alive": float(w["silent"]) < seconds} for w in workers],
        "queues": by_queue,
        "stalled_jobs": [{"id": job.id, "task": job.task_name, "queue": job.queue} for job in stalled],
    }


@click.group("cluster")
def cluster_group() -> None:
    """The workers and queues of the procrastinate executor."""


@cluster_group.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def cluster_status_command(app: Any, as_json: bool) -> None:
    """Show workers, jobs per queue and stalled jobs."""
    core = app.core
    procrastinate_app = _app(core)

    async def go() -> dict[str, Any]:
        async with procrastinate_app.open_async():
            return await cluster_status(core, procrastinate_app)

    status = asyncio.run(go())
    if as_json:
        click.echo(json.dumps(status, indent=2))
        return
    click.echo(f"workers: {len(status['workers'])}")
    for worker in status["workers"]:
        state = "alive" if worker["alive"] else "silent"
        click.echo(f"  {worker['id']}: {state}, last heartbeat {worker['seconds_since_heartbeat']}s ago")
    for queue, counts in status["queues"].items():
        click.echo(f"queue {queue}: " + ", ".join(f"{n} {s}" for s, n in counts.items()))
    click.echo(f"stalled jobs: {len(status['stalled_jobs'])}")


@hookimpl
def register_executors(register: Any) -> None:
    register(ProcrastinateExecutor)


@hookimpl
def register_commands(cli: Any) -> None:
    cli.add_command(worker_command)
    cli.add_command(cluster_group)
