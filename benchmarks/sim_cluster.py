"""One night of a dreamcore cluster, simulated; and the per-job queue cost measured on PostgreSQL.

Simulation (standard library only, a discrete-event loop on ``heapq``): the procrastinate executor
runs a cycle as fan-out stages (``generate`` on queue llm, ``evaluate`` on judge, ``test`` on
sandbox), each followed by the coordinator's polling until the stage's jobs are done, then the
inline stages (score, adapt, archive) in the coordinator. Shared resources: the PostgreSQL server
(cores serving queries, a connection limit), the LLM provider (a cluster-wide concurrency cap and
an rpm limit), the workers' CPUs (a Docker host runs one container per core). Every input is a
named constant below with where its figure comes from. Prints one JSON object: for each worker
count and procedure count the night's duration, jobs/s, DB queries/s and utilisation, rows and
bytes written, the bottleneck per stage and of the night, and for the largest case how the
bottleneck moves when the binding resource is relaxed.

Calibration (``--calibrate``): a throwaway PostgreSQL server (started as tests/conftest.py does,
through bench_store), 2,000 no-op procrastinate jobs deferred in one batch and run by 1 and by 4
worker processes; prints the time per job, the database's busy time and transactions per job, the
bytes per job in procrastinate_jobs + procrastinate_events, and the cost per row of the
coordinator's "jobs left" count. Its figures are the QUEUE_* constants below.

    python benchmarks/sim_cluster.py [--workers 1,10,100] [--procedures 10000,1000000] [--seed S]
    python benchmarks/sim_cluster.py --calibrate [--jobs 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import json
import logging
import math
import multiprocessing
import random
import statistics
import sys
import time
from collections import deque
from dataclasses import dataclass, field, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# -- calibration: the per-job cost of the queue on a real PostgreSQL server ---------------------------

CALIBRATION_QUEUE = "calibrate"
SCAN_ROWS = 50_000  # jobs in the table when timing the coordinator's count of a run's jobs left
OUTSTANDING = (  # as dreamcore.distributed.jobs.OUTSTANDING, for a run that has no jobs
    "SELECT count(*) AS n FROM procrastinate_jobs WHERE args->>'run_id' = '0' "
    "AND status IN ('todo', 'doing') AND queue_name <> 'cycle'"
)
DB_STATS = (
    "SELECT xact_commit + xact_rollback AS xacts, active_time, tup_inserted, tup_updated "
    "FROM pg_stat_database WHERE datname = current_database()"
)
SIZES = ("SELECT pg_total_relation_size('procrastinate_jobs') AS jobs, "
         "pg_total_relation_size('procrastinate_events') AS events")


def _noop(n: int) -> None:
    """The calibration job: does nothing."""


def _calibration_app(url: str):
    import procrastinate

    logging.getLogger("procrastinate.blueprints").setLevel(logging.ERROR)  # "App in the main module"

    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=url, min_size=1, max_size=4))
    app.task(name="calibrate.noop", queue=CALIBRATION_QUEUE)(_noop)
    return app


def _calibration_worker(url: str) -> None:
    """A worker process: runs calibration jobs until none is left (polling as dreamcore's workers do)."""

    async def work() -> None:
        app = _calibration_app(url)
        async with app.open_async():
            await app.run_worker_async(queues=[CALIBRATION_QUEUE], concurrency=1, wait=False,
                                       fetch_job_polling_interval=0.5, install_signal_handlers=False)

    asyncio.run(work())


def _query(url: str, sql: str) -> dict | None:
    import psycopg
    from psycopg.rows import dict_row

    with psycopg.connect(url, autocommit=True, row_factory=dict_row) as connection:
        cursor = connection.execute(sql)
        return cursor.fetchone() if cursor.description else None


async def _defer(url: str, count: int, offset: int = 0) -> float:
    """Defer ``count`` calibration jobs in batches of at most 2,000 (one batch per stage, as the
    coordinator does); returns the seconds it took."""
    app = _calibration_app(url)
    async with app.open_async():
        started = time.perf_counter()
        for first in range(0, count, 2000):
            kwargs = [{"n": offset + i} for i in range(first, min(count, first + 2000))]
            await app.configure_task("calibrate.noop").batch_defer_async(*kwargs)
        return time.perf_counter() - started


async def _apply_schema(url: str) -> None:
    app = _calibration_app(url)
    async with app.open_async():
        await app.schema_manager.apply_schema_async()


def _measure_workers(url: str, jobs: int, workers: int) -> dict:
    """Defer ``jobs`` no-op jobs, run them with ``workers`` processes; the figures per job."""
    _query(url, "TRUNCATE procrastinate_events, procrastinate_jobs, procrastinate_workers CASCADE")
    empty, before = _query(url, SIZES), _query(url, DB_STATS)
    defer_s = asyncio.run(_defer(url, jobs))
    spawn = multiprocessing.get_context("spawn")
    processes = [spawn.Process(target=_calibration_worker, args=(url,)) for _ in range(workers)]
    started = time.perf_counter()
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=600)
    wall_s = time.perf_counter() - started
    time.sleep(1.0)  # exited backends flush their statistics
    after, sizes = _query(url, DB_STATS), _query(url, SIZES)
    span = _query(url, "SELECT extract(epoch FROM max(at) FILTER (WHERE type = 'succeeded') "
                       "- min(at) FILTER (WHERE type = 'started')) AS s, count(*) AS events, "
                       "count(*) FILTER (WHERE type = 'succeeded') AS done FROM procrastinate_events")
    run_s = float(span["s"])
    return {
        "workers": workers, "jobs": jobs, "succeeded": span["done"],
        "defer_s": round(defer_s, 3), "defer_ms_per_job": round(defer_s / jobs * 1000, 3),
        "run_s": round(run_s, 2), "wall_s_with_start_up": round(wall_s, 2),
        "jobs_per_s": round(jobs / run_s, 1), "ms_per_job": round(run_s / jobs * 1000, 2),
        "db_active_ms_per_job": round((after["active_time"] - before["active_time"]) / jobs, 3),
        "db_transactions_per_job": round((after["xacts"] - before["xacts"]) / jobs, 2),
        "rows_inserted_per_job": round((after["tup_inserted"] - before["tup_inserted"]) / jobs, 2),
        "rows_updated_per_job": round((after["tup_updated"] - before["tup_updated"]) / jobs, 2),
        "events_per_job": round(span["events"] / jobs, 2),
        "bytes_per_job": round((sizes["jobs"] + sizes["events"] - empty["jobs"] - empty["events"]) / jobs),
    }


def _measure_scan(url: str) -> dict:
    """The coordinator counts a run's jobs left with a scan of procrastinate_jobs: its cost per row."""
    _query(url, "TRUNCATE procrastinate_events, procrastinate_jobs CASCADE")
    defer_s = asyncio.run(_defer(url, SCAN_ROWS))
    _query(url, "VACUUM ANALYZE procrastinate_jobs")
    timings = []
    for _ in range(7):
        started = time.perf_counter()
        _query(url, OUTSTANDING)
        timings.append(time.perf_counter() - started)
    count_s = statistics.median(timings)
    return {"rows": SCAN_ROWS, "batch_defer_ms_per_job": round(defer_s / SCAN_ROWS * 1000, 4),
            "count_ms": round(count_s * 1000, 2), "count_us_per_row": round(count_s / SCAN_ROWS * 1e6, 4)}


def calibrate(jobs: int) -> dict:
    """The queue's cost per job on a throwaway PostgreSQL server, with 1 and 4 worker processes."""
    sys.path.insert(0, str(ROOT))
    from benchmarks.bench_store import postgres_url

    with postgres_url() as (url, how):
        if url is None:
            return {"skipped": how}
        asyncio.run(_apply_schema(url))
        runs = [_measure_workers(url, jobs, workers) for workers in (1, 4)]
        return {"server": how, "runs": runs, "scan": _measure_scan(url)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calibrate", action="store_true", help="measure the queue's cost per job on PostgreSQL")
    parser.add_argument("--jobs", type=int, default=2000, help="no-op jobs per calibration run")
    args = parser.parse_args()
    print(json.dumps(calibrate(args.jobs), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
