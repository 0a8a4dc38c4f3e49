"""One night of a dreamcore cluster, simulated; and the queue's and the shared model limits' cost
measured on PostgreSQL.

Simulation (standard library only, a discrete-event loop on ``heapq``): the procrastinate executor
runs a cycle as fan-out stages (``generate`` on queue llm, ``evaluate`` on judge, ``test`` on
sandbox), each followed by the coordinator waiting in its job until the stage's jobs are done
(counting them every 0.1 s, handing over to a fresh job every 10 s), then the inline stages (score,
adapt, archive) in the coordinator. Shared resources: the PostgreSQL server (cores serving queries,
a connection limit: a job that calls a model holds three), the model's limits as the cluster keeps
them in PostgreSQL (a concurrency cap, an rpm spacing, each call's queries, and the load of calls
polling for a slot), the workers' CPUs (a Docker host runs one container per core; a worker builds
the related-procedures index once). Every input is a named constant below with where its figure
comes from. The coordinator's barrier starts each fan-out stage on an idle cluster, so stages are
simulated one by one and cached: relaxing a resource re-simulates only the stages that use it.

Prints one JSON object: for each worker count and procedure count the night's duration, jobs/s, DB
queries/s and utilisation (with and without slot polls), rows and bytes written, the bottleneck per
stage and of the night; and for the largest case how the bottleneck moves when the binding resource
is relaxed, step by step.

Calibration (``--calibrate``): a throwaway PostgreSQL server (started as tests/conftest.py does,
through bench_store): 2,000 no-op procrastinate jobs deferred in one batch and run by 1 and by 4
worker processes (time, database busy time, transactions and bytes per job); the coordinator's
count of a run's unfinished jobs and ``dreamcore run``'s count per status, both through the partial
index on a run's unsettled jobs (50,000 succeeded jobs, 1,000 and 20,000 unfinished); and the shared
model limits' queries per call (600 other calls' holds, before and after ANALYZE) and per slot query
finding no slot free (16 and 64 slots), through dreamcore.distributed.limits. Its figures are the QUEUE_*,
DEFER_*, COUNT_*, FOLLOW_*, CALL_* and SLOT_QUERY_* constants below.

    python benchmarks/sim_cluster.py [--workers 1,10,100] [--procedures 10000,1000000]
                                     [--llm-cap N] [--llm-rpm N] [--llm-latency X] [--seed S]
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
from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# -- inputs. M: measured on this project's 2-core machine; E: estimated (no measurement behind it) ---

# The queue: `--calibrate` (PostgreSQL 15, 2,000 no-op jobs deferred in one batch, 1 worker process)
QUEUE_DB_MS = 1.65  # M: database busy time per job (pg_stat_database.active_time); 2.3 with 4 workers
QUEUE_QUERIES = 4  # M: transactions per job: its share of the batch defer, fetch, finish, ...
QUEUE_QUERY_MS = QUEUE_DB_MS / QUEUE_QUERIES  # M: per queue query, ~0.41 ms
QUEUE_WORKER_MS = 4.0 - QUEUE_DB_MS  # M: a no-op job takes 4.0 ms end to end (250 jobs/s); the rest is client
QUEUE_BYTES_PER_JOB = 786  # M: procrastinate_jobs + procrastinate_events, indexes included, per job
QUEUE_EVENTS_PER_JOB = 3  # M: deferred, started, succeeded
DEFER_MS_PER_JOB = 0.12  # M: batch_defer of 50,000 jobs, per job
COUNT_BASE_MS = 0.3  # M: the coordinator's count of its run's unfinished jobs (partial index on run id) ...
COUNT_MS_PER_LIVE_ROW = 0.11e-3  # M: ... plus this per unfinished job of the run (succeeded ones: nothing)
FOLLOW_BASE_MS = 0.29  # M: `dreamcore run` following its run counts its unsettled jobs per status (the index) ...
FOLLOW_MS_PER_LIVE_ROW = 0.19e-3  # M: ... plus this per unsettled job of the run (succeeded ones: nothing)
JOB_BODY_MS = 14.5 - 4.0  # M: bench_distributed's 13-16 ms overhead per dreamcore job, minus the queue's

# Work per procedure and per dream
DREAMS_PER_PROCEDURE = 577 / 74  # M: examples/, four local generators, balanced, seed 7 (7.8)
REJECTED_PER_PROCEDURE = 5 / 74  # M: same run (duplicates)
TESTED_SHARE = (99 + 468) / 577  # M: same run, offline judge: tiers 1-2, which the test stage tests
LOCAL_DREAMS_PER_CORE_S = 140  # M: bench_generate, generators + checks + store, one process
LLM_CALLS_PER_PROCEDURE = 2  # constraint_relaxation and cross_project in mode "both", one model each
LLM_STORED_PER_CALL = (1840 - 50 * 577 / 74) / 200  # M on the loopback fake: bench_nightly, 7.25 of 10
LLM_REJECTED_PER_CALL = 10 - LLM_STORED_PER_CALL  # E: every asked variant not stored is a rejected draft
LLM_STREAMS_PER_JOB = 8  # [cycle] concurrency 4 procedures at once x 2 LLM types
LLM_CALL_S = (1.0, 1.1)  # M: bench_llm, 1 s loopback latency, 0.91 efficiency at cap 16
JUDGE_PROMPT_S = (2.0, 2.1)  # M: bench_evaluate, 2 s fake judge: 2.08 s per prompt of 10 or 25 dreams
OFFLINE_JUDGE_MS = 1.0  # E: the offline evaluator's CPU per dream
CASES_PER_DREAM = 20  # [plugins.test] cases (default)
DOCKER_CASES_PER_CORE_S = (27.0, 42.5)  # M: bench_sandbox, Docker warm pool 54-85 cases/s on 2 cores
SUBPROCESS_CASES_PER_CORE_S = (85.0, 133.5)  # M: bench_sandbox, subprocess 170-267 cases/s on 2 cores
INDEX_MS_PER_PROCEDURE = 0.46  # M: RelatedIndex over 5,466 stdlib procedures (built once per worker and run)
READ_MS_PER_PROCEDURE = 0.028  # M: get_procedures, same 5,466, client side (once per worker and run)
RELATED_MS_PER_1000 = 6.2 / 5.466  # M: one related() lookup at 5,466 procedures; linear in P is E
SCORE_MS_PER_DREAM = 0.94  # M: bench_learning, score stage, inline in the coordinator
ADAPT_S = 0.13  # M: bench_learning

# The database, per row and per query
DREAM_BYTES = 2300  # M: bench_store, PostgreSQL, 2.3 MB per 1,000 dreams with indexes
REJECTED_BYTES = 900  # E: 680 bytes of text per rejected draft (examples run) plus row and index overhead
DREAM_WRITE_DB_MS = 10.9 / 100  # M: bench_store, PostgreSQL batch insert of 100,000 dreams in 10.9 s
ROW_READ_DB_MS = 0.005  # E: server time to send one procedure or dream row in a large read
STORE_QUERY_MS = 0.4  # E: a small store query; bench_store p95s are 0.38-3.0 ms with the client
STORE_QUERIES = {  # E, counted from the code paths: (per job, per item)
    # run, procedures, dreamt-in-run; model usage and stage figures added to the run (add_run_figures:
    # SELECT ... FOR NO KEY UPDATE and UPDATE, twice); per procedure dreams, drafts, related
    "generate": (7, 3),
    "evaluate": (6, 1),  # run, dreams, advisory lock, usage and figures (2 x 2); a transition per dream
    "test": (4, 3),  # run, dreams, figures (2); per dream two transitions and its procedure
}

# The shared model limits (dreamcore.distributed.limits), per model call, on the job's own connections
CALL_QUERIES = 9  # reserve: budget row FOR UPDATE, live holds, INSERT; slot; pace: INSERT, UPDATE; unlock;
# settle: DELETE, UPDATE -- in 5 transactions (BEGIN and COMMIT are round trips of their own)
CALL_DB_MS = 0.79  # M: `--calibrate`, database time of one call's 5 transactions with 600 other calls' holds
CALL_WALL_MS = 4.1  # M: ... and their wall time (loopback), added to each call
SLOT_QUERY_DB_MS = 0.053  # M: a slot query finding none of 64 slots free (all held elsewhere), database time
SLOT_QUERY_DB_MS_PER_SLOT = 0.29e-3  # M: ... its growth per slot it tries (between 16 and 64 slots)
SLOT_QUERY_WALL_MS = 0.985  # M: ... and its wall time at 64 slots (loopback, client included); a LAN adds a round trip
POLL_PAUSE_S = 0.06  # a call finding no slot free (one query trying them all) waits 20-100 ms, 60 on average
LLM_JOB_CONNECTIONS = 2  # a job that calls a model opens two more connections: slots, budget

# Worker and cluster defaults
POLL_S = 0.5  # dreamcore.distributed.jobs.POLL_SECONDS
WAKE_S = 0.1  # dreamcore.distributed.jobs.WAKE_SECONDS: the coordinator counts the run's jobs left
WAIT_S = 10.0  # dreamcore.distributed.jobs.WAIT_SECONDS: ... and hands over to a fresh job of itself
REQUEUE_EVERY_S = 5.0  # dreamcore.distributed.jobs.REQUEUE_CRON
PRUNE_EVERY_S = 3600.0  # dreamcore.distributed.jobs.PRUNE_CRON
KEEP_NIGHTS = 7  # [executor] keep_jobs_hours = 168: a week of nights' succeeded jobs stays in the table
BACKGROUND_QUERIES_PER_WORKER_S = 1 / 15 + 1 / 5 + 1 / 5  # heartbeat (stalled_after / 4), aborts, periodic
POOL_CONNECTIONS = 2  # E: a worker's procrastinate pool in use (listener + fetch/finish); max_size 4
GENERATE_BATCH = 20  # [executor] generate_batch
JUDGE_BATCH = 25  # [evaluation] batch_size (bench_nightly's; 10 by default)
TEST_BATCH = 20  # [executor] test_batch
LLM_CAP = 64  # E: cluster-wide concurrent model requests
LLM_RPM = 6000  # E: the provider's requests per minute
DOCKER_SHARE = 0.25  # E: a quarter of the machines are Docker hosts
CONTAINERS = 4  # E: warm containers per Docker host, one core each
WORKER_CONCURRENCY = 8  # E: jobs at once on an llm/judge worker (they mostly wait on the model)
WORKER_CORES = 2  # E: cores of an llm/judge worker (this machine's count)
DB_CORES = 8  # E: a dedicated PostgreSQL server
DB_MAX_CONNECTIONS = 1000  # E: raised from PostgreSQL's default of 100 (see docs/many-machines.md)

# -- the simulation --------------------------------------------------------------------------------


def slot_query_ms(cap: int) -> tuple[float, float]:
    """Database and wall milliseconds of a slot query finding none of ``cap`` slots free: it tries
    every slot, so both grow with ``cap`` from their measured figure at 64."""
    extra = (cap - 64) * SLOT_QUERY_DB_MS_PER_SLOT
    return max(SLOT_QUERY_DB_MS + extra, 0.01), max(SLOT_QUERY_WALL_MS + extra, 0.2)


FANOUT_STAGES = ("generate", "evaluate", "test")
STAGES = (*FANOUT_STAGES, "score", "adapt", "archive")
BATCH_OF = {"generate": GENERATE_BATCH, "evaluate": JUDGE_BATCH, "test": TEST_BATCH}


@dataclass(frozen=True)
class Setup:
    """One simulated night: the cluster, the work and the limits."""

    workers: int
    procedures: int
    docker_hosts: int | None = None  # None: DOCKER_SHARE of the workers (a lone worker does everything)
    llm_cap: int = LLM_CAP
    llm_rpm: float = LLM_RPM
    llm_latency: float = 1.0  # multiplies LLM_CALL_S and JUDGE_PROMPT_S
    llm_generation: bool = True  # False: the four local generators only (7.8 dreams per procedure)
    judge: str = "llm"  # or "offline"
    sandbox: str = "docker"  # or "subprocess"
    containers: int = CONTAINERS
    worker_concurrency: int = WORKER_CONCURRENCY
    worker_cores: int = WORKER_CORES
    db_cores: int = DB_CORES
    db_connections: int = DB_MAX_CONNECTIONS
    score_parallel: int = 1  # > 1: the score stage as a fan-out over that many cores (not implemented)
    seed: int = 1

    def roles(self) -> tuple[int, int]:
        """(llm/judge workers, Docker hosts)."""
        if self.docker_hosts is not None:
            return self.workers - self.docker_hosts, self.docker_hosts
        if self.workers == 1:
            return 1, 0
        hosts = max(1, math.floor(self.workers * DOCKER_SHARE + 0.5))
        return self.workers - hosts, hosts

    def work(self) -> tuple[int, int, int]:
        """(dreams stored, drafts rejected, dreams tested) in the night."""
        llm = LLM_CALLS_PER_PROCEDURE if self.llm_generation else 0
        dreams = int(self.procedures * (DREAMS_PER_PROCEDURE + llm * LLM_STORED_PER_CALL))
        rejected = int(self.procedures * (REJECTED_PER_PROCEDURE + llm * LLM_REJECTED_PER_CALL))
        return dreams, rejected, int(dreams * TESTED_SHARE)

    def job_connections(self, name: str) -> int:
        """Database connections a job of fan-out stage ``name`` holds: its store connection, and two
        more (the shared model limits') when it calls a model."""
        llm = self.llm_generation if name == "generate" else name == "evaluate" and self.judge == "llm"
        return 1 + (LLM_JOB_CONNECTIONS if llm else 0)


# Setup fields a stage does not depend on: a relaxation re-simulates only the stages it changes
UNUSED = {"generate": ("judge", "sandbox", "score_parallel"),
          "evaluate": ("sandbox", "score_parallel"),
          "test": ("llm_cap", "llm_rpm", "llm_latency", "judge", "score_parallel")}


class Servers:
    """``count`` identical servers taking requests first come, first served; busy seconds in all
    (and per minute when ``minutes``)."""

    def __init__(self, count: int, minutes: bool = False) -> None:
        self.count = count
        self.free = [0.0] * count
        self.busy = 0.0
        self.minutes: dict[int, float] | None = {} if minutes else None

    def serve(self, at: float, seconds: float) -> float:
        free = self.free
        self.busy += seconds
        start = at if at > free[0] else free[0]
        end = start + seconds
        heapq.heapreplace(free, end)
        minutes = self.minutes
        if minutes is not None:
            minute = int(start // 60)
            if end <= 60 * minute + 60:
                minutes[minute] = minutes.get(minute, 0.0) + seconds
            else:
                self._per_minute(start, end, 1.0)
        return end

    def load(self, start: float, end: float, seconds: float) -> None:
        """Add ``seconds`` of work spread evenly over [start, end) without queueing it."""
        self.busy += seconds
        self._per_minute(start, end, seconds / (end - start))

    def _per_minute(self, start: float, end: float, rate: float) -> None:
        while start < end:
            minute = int(start // 60)
            part = min(end, 60 * minute + 60) - start
            self.minutes[minute] = self.minutes.get(minute, 0.0) + part * rate
            start += part


class Provider:
    """The model's limits as the cluster applies them (dreamcore.distributed.limits): at most ``cap``
    requests at once (slots) and ``rpm`` started per minute. Counts the seconds calls spend polling
    for a slot: waiting for a free one, and waiting for a pace turn beyond what ``cap`` slot holders
    sleeping for their turns absorb (a slot is taken before the turn)."""

    def __init__(self, cap: int, rpm: float) -> None:
        self.slots = Servers(cap)
        self.spacing = 60.0 / rpm
        self.admit = 0.0
        self.calls = 0
        self.polling = 0.0

    def _slot(self, at: float, admitted: float, seconds: float) -> float:
        start = max(admitted, self.slots.free[0])
        self.polling += start - admitted + max(0.0, admitted - at - self.slots.count * self.spacing)
        return self.slots.serve(admitted, seconds)

    def one(self, at: float, seconds: float) -> float:
        """One request of ``seconds``; when it answers."""
        admitted = at if at > self.admit else self.admit
        self.admit = admitted + self.spacing
        self.calls += 1
        return self._slot(at, admitted, seconds)

    def call(self, at: float, calls: int, streams: int, seconds: float) -> float:
        """``calls`` requests of ``seconds`` each, ``streams`` at a time; when the last one answers."""
        admitted = max(at, self.admit)
        self.admit = admitted + calls * self.spacing
        self.calls += calls
        end = admitted + (calls - 1) * self.spacing + seconds
        per_stream = calls / streams * seconds
        for _ in range(streams):
            end = max(end, self._slot(at, admitted, per_stream))
        return end


@dataclass
class Worker:
    """A `dreamcore worker` process on its own machine."""

    docker: bool
    slots: int
    cpu: Servers
    idle: int = 0
    idle_from: float = 0.0
    index_ready: float | None = None  # when the worker's related-procedures index is built

    def compute(self, at: float, seconds: float) -> float:
        """A job's CPU work; when it ends. With a core per slot (a Docker host) it never waits."""
        if self.slots <= self.cpu.count:
            self.cpu.busy += seconds
            return at + seconds
        return self.cpu.serve(at, seconds)


def _batches(total: int, size: int) -> Iterator[tuple[int, int]]:
    """(first item, items) of each batch."""
    for first in range(0, total, size):
        yield first, min(size, total - first)


def _share(amount: int, first: int, count: int, total: int) -> int:
    """Items first..first+count's share of ``amount``, so that the shares add up to ``amount``."""
    return amount * (first + count) // total - amount * first // total


class FanOut:
    """One fan-out stage, simulated from an idle cluster (the coordinator's barrier separates
    stages): the coordinator lists and defers the jobs, workers fetch and run them, the coordinator
    counts the run's jobs left every ``WAKE_S`` until none is. ``delay``: seconds every query waits
    behind the slot queries of calls polling for a model slot (see ``_fan_out_stage``)."""

    def __init__(self, setup: Setup, name: str, delay: float = 0.0) -> None:
        self.setup, self.name, self.delay = setup, name, delay
        self.rng = random.Random(f"{setup.seed}-{name}")
        self.random = self.rng.random
        self.now, self.events, self.seq = 0.0, [], 0
        self.db = Servers(setup.db_cores, minutes=True)
        self.llm = Provider(setup.llm_cap, setup.llm_rpm)
        llm_workers, hosts = setup.roles()
        self.workers = [Worker(False, setup.worker_concurrency, Servers(setup.worker_cores))
                        for _ in range(llm_workers)]
        self.workers += [Worker(True, setup.containers, Servers(setup.containers)) for _ in range(hosts)]
        self.serving = [w for w in self.workers if w.docker == (name == "test") or hosts == 0]
        fixed = POOL_CONNECTIONS * (len(self.workers) + 1) + 3  # pools (+ the coordinator's), superusers
        self.connections = setup.db_connections - fixed
        self.waiting: deque = deque()
        self.queue: deque = deque()
        self.outstanding = self.checks = 0
        self.coordinating = 0.0  # seconds the coordinator has waited in this stage (a handover per WAIT_S)
        self.per_job = setup.job_connections(name)
        self.queries = 0.0
        self.idle_seconds = 0.0
        self.slot_seconds = self.connection_seconds = 0.0
        dreams, rejected, tested = setup.work()
        self.items = {"generate": setup.procedures, "evaluate": dreams, "test": tested}[name]
        self.first_s = (QUEUE_DB_MS / 2 + 2 * STORE_QUERY_MS) / 1000
        self.overhead_s = (QUEUE_WORKER_MS + JOB_BODY_MS) / 1000
        self.rows = {"generate": {"dreams": dreams, "rejected_drafts": rejected},
                     "evaluate": {"verdict_updates": dreams},
                     "test": {"dream_tests": tested, "test_result_updates": 2 * tested}}[name]
        self.jobs = self.plan(dreams, rejected)
        self.limits_s = CALL_WALL_MS / 1000 + CALL_QUERIES * delay  # a call's queries of the shared limits
        per_job, per_item = STORE_QUERIES[name]
        self.job_queries = (QUEUE_QUERIES + per_job, per_item)
        self.rates = DOCKER_CASES_PER_CORE_S if setup.sandbox == "docker" else SUBPROCESS_CASES_PER_CORE_S
        self.start = {"generate": self.generate, "test": self.test,
                      "evaluate": self.judge if setup.judge == "llm" else self.judge_offline}[name]

    def plan(self, dreams: int, rejected: int) -> list[tuple[int, float]]:
        """The jobs: (items, seconds of database writes when it finishes); their queries counted."""
        per_job, per_item = STORE_QUERIES[self.name]
        jobs = []
        for first, n in _batches(self.items, BATCH_OF[self.name]):
            if self.name == "generate":
                rows = _share(dreams, first, n, self.items) + _share(rejected, first, n, self.items)
                writes = rows * DREAM_WRITE_DB_MS + per_item * n * STORE_QUERY_MS
            elif self.name == "evaluate":
                writes = n * (DREAM_WRITE_DB_MS + STORE_QUERY_MS)
            else:
                writes = n * (2 * DREAM_WRITE_DB_MS + STORE_QUERY_MS) + STORE_QUERY_MS
            calls = self.calls_per_job(n)
            jobs.append((n, (writes + QUEUE_DB_MS / 2 + calls * CALL_DB_MS) / 1000))
            self.queries += calls * CALL_QUERIES
        self.queries += len(jobs) * (QUEUE_QUERIES + per_job) + per_item * self.items
        return jobs

    def calls_per_job(self, items: int) -> int:
        """Model calls of a job of ``items``: two per procedure, one prompt per judge batch."""
        if self.name == "generate":
            return items * LLM_CALLS_PER_PROCEDURE if self.setup.llm_generation else 0
        return 1 if self.name == "evaluate" and self.setup.judge == "llm" else 0

    def at(self, when: float, action, *args) -> None:
        heapq.heappush(self.events, (when, self.seq, action, args))
        self.seq += 1

    def run(self) -> dict:
        listed = self.items * (2 if self.name == "generate" else 1)  # procedures, and those dreamt already
        cost = (listed * ROW_READ_DB_MS + len(self.jobs) * DEFER_MS_PER_JOB) / 1000
        self.queries += 3
        for worker in self.workers:
            worker.idle = worker.slots
        self.at(self.db.serve(0.0, cost), self.deferred)
        while self.events:
            self.now, _, action, args = heapq.heappop(self.events)
            action(*args)
        return self.result()

    # the coordinator
    def deferred(self) -> None:
        self.queue.extend(self.jobs)
        self.outstanding = len(self.jobs)
        for worker in self.serving:
            while worker.idle and self.queue:
                worker.idle -= 1
                if not worker.idle:
                    self.idle_seconds += self.now - worker.idle_from
                self.take(worker, self.now)
        self.at(self.now + WAIT_S + self.rng.uniform(0, POLL_S), self.check)

    def check(self) -> None:
        """The coordinator counts the run's unfinished jobs (through the partial index: the cost
        follows those jobs), then sleeps ``WAKE_S`` and re-reads the run. While many jobs are left,
        the counts of the next stretch (at most half the expected time left, at most a minute) are
        counted and their load added at once (at today's cost) instead of simulated one by one."""
        cost = (COUNT_BASE_MS + self.outstanding * COUNT_MS_PER_LIVE_ROW) / 1000
        done = self.db.serve(self.now, cost)
        self.checks += 1
        self.queries += 1
        if not self.outstanding:
            relist = STORE_QUERY_MS / 1000 if self.name == "evaluate" else 0.0  # a second round finds nothing
            self.end = done + relist
            return
        period = done - self.now + WAKE_S + STORE_QUERY_MS / 1000 + 2 * self.delay
        finished = len(self.jobs) - self.outstanding
        ahead = min(60.0, 0.5 * self.outstanding * self.now / finished) if finished else 0.0
        skipped = int(ahead / period)
        reread = STORE_QUERY_MS / 1000
        if skipped:
            self.db.load(done, done + skipped * period, skipped * (cost + reread))
            self.checks += skipped
            self.queries += 2 * skipped
        self.db.busy += reread
        self.queries += 1
        self.coordinating += (skipped + 1) * period
        self.at(self.now + (skipped + 1) * period, self.check)

    # the workers
    def take(self, worker: Worker, clock: float) -> None:
        """A slot of ``worker``, free at ``clock``, fetches a job, or waits for a notification
        (polling meanwhile)."""
        if not self.queue:
            if not worker.idle:
                worker.idle_from = clock
            worker.idle += 1
            return
        job = self.queue.popleft()
        if self.connections >= self.per_job:
            self.connections -= self.per_job
            self.begin(worker, job, clock)
        else:
            self.waiting.append((worker, job, clock))

    def begin(self, worker: Worker, job: tuple[int, float], fetched: float) -> None:
        items, writes = job
        first = self.first_s
        if self.name == "generate" and worker.index_ready is None:
            first += self.setup.procedures * ROW_READ_DB_MS / 1000  # a worker's first job reads them all
        granted = fetched if fetched > self.now else self.now  # a waiting job gets its connection now
        self.connection_seconds -= granted * self.per_job
        queries = self.job_queries[0] + self.job_queries[1] * items
        clock = self.db.serve(granted, first) + self.overhead_s + queries * self.delay
        self.start(worker, items, clock, fetched, writes)

    def test(self, worker: Worker, items: int, clock: float, fetched: float, writes: float) -> None:
        low, high = self.rates
        seconds = items * CASES_PER_DREAM / (low + (high - low) * self.random())
        self.at(worker.compute(clock, seconds), self.finish, worker, fetched, writes)

    def judge(self, worker: Worker, items: int, clock: float, fetched: float, writes: float) -> None:
        low, high = JUDGE_PROMPT_S
        seconds = (low + (high - low) * self.random()) * self.setup.llm_latency + self.limits_s
        self.at(self.llm.one(clock, seconds), self.finish, worker, fetched, writes)

    def judge_offline(self, worker: Worker, items: int, clock: float, fetched: float, writes: float) -> None:
        seconds = items * OFFLINE_JUDGE_MS / 1000
        self.at(worker.compute(clock, seconds), self.finish, worker, fetched, writes)

    def generate(self, worker: Worker, items: int, clock: float, fetched: float, writes: float) -> None:
        """CPU (the related-procedures index, the local generators), then the LLM calls."""
        s, p = self.setup, self.setup.procedures
        cpu = items * (DREAMS_PER_PROCEDURE / LOCAL_DREAMS_PER_CORE_S + RELATED_MS_PER_1000 * p / 1e6)
        index = p * (INDEX_MS_PER_PROCEDURE + READ_MS_PER_PROCEDURE) / 1000
        if worker.index_ready is None:
            worker.index_ready = clock = worker.compute(clock, index)  # the worker's first job builds it
        else:
            clock = max(clock, worker.index_ready)  # the others wait for it
        clock = worker.compute(clock, cpu)
        if s.llm_generation:
            calls = items * LLM_CALLS_PER_PROCEDURE
            seconds = self.rng.uniform(*LLM_CALL_S) * s.llm_latency + self.limits_s
            self.at(clock, self.ask, worker, calls, seconds, fetched, writes)
        else:
            self.at(clock, self.finish, worker, fetched, writes)

    def ask(self, worker: Worker, calls: int, seconds: float, fetched: float, writes: float) -> None:
        end = self.llm.call(self.now, calls, min(calls, LLM_STREAMS_PER_JOB), seconds)
        self.at(end, self.finish, worker, fetched, writes)

    def finish(self, worker: Worker, fetched: float, writes: float) -> None:
        """The job writes its results and is marked done; the slot fetches its next job."""
        end = self.db.serve(self.now, writes)
        self.outstanding -= 1
        self.slot_seconds += end - fetched
        self.connection_seconds += end * self.per_job
        self.connections += self.per_job
        if self.waiting:
            self.connections -= self.per_job
            other, job, waited = self.waiting.popleft()
            self.begin(other, job, waited)
        self.take(worker, end)

    def pollers(self) -> tuple[float, float]:
        """Jobs polling for a model slot on average, and the slot queries a second each makes: each
        waiting call sends one query (trying every slot) then pauses, one query at a time on the job's
        one gate connection."""
        streams = min(self.calls_per_job(BATCH_OF[self.name]), LLM_STREAMS_PER_JOB) or 1
        jobs = self.llm.polling / self.end / streams
        wall = slot_query_ms(self.setup.llm_cap)[1] / 1000
        return jobs, min(streams / (POLL_PAUSE_S + wall), 1 / wall)

    # the figures
    def result(self) -> dict:
        end = span = self.end
        polling, rate = self.pollers()
        query_s = slot_query_ms(self.setup.llm_cap)[0] / 1000
        cores = min(polling * rate * query_s, max(0.0, self.setup.db_cores - self.db.busy / span))
        poll_db = cores * span  # not in the busiest minute's figure
        self.db.busy += poll_db
        self.queries += poll_db / query_s
        for worker in self.serving:
            if worker.idle:
                self.idle_seconds += end - worker.idle_from
        serving_cores = sum(w.cpu.count for w in self.serving)
        serving_slots = sum(w.slots for w in self.serving)
        used = {
            "llm_concurrency": self.llm.slots.busy / (self.setup.llm_cap * span),
            "llm_rpm": self.llm.calls * self.llm.spacing / span,
            "db_cpu": (self.db.busy - poll_db) / (self.setup.db_cores * span),  # polls take what is left
            ("docker_containers" if self.name == "test" and self.serving[0].docker else "worker_cpu"):
                sum(w.cpu.busy for w in self.serving) / (serving_cores * span),
        }
        slot_name = "docker_slots" if self.name == "test" else "worker_slots"
        return {"name": self.name, "seconds": end, "jobs": len(self.jobs), "checks": self.checks,
                "handovers": int(self.coordinating / WAIT_S), "queries": self.queries,
                "db_busy": self.db.busy, "db_minutes": self.db.minutes, "query_delay": self.delay,
                "poll_db_busy": poll_db, "polling_jobs": polling, "polling_rate": rate,
                "waiting_calls": self.llm.polling / span,
                "llm_calls": self.llm.calls, "idle_worker_seconds": self.idle_seconds,
                "connection_seconds": self.connection_seconds,
                "cpu_hours": sum(w.cpu.busy for w in self.serving) / 3600, "rows": self.rows,
                "utilisation": {**used, slot_name: self.slot_seconds / (serving_slots * span)}}


def _bottleneck(used: dict[str, float], slots: float, slot_name: str) -> str:
    """The busiest shared resource; the workers' job slots when no resource is busy but the slots
    are; otherwise the stage waits on latency (polling, barriers, a tail of long jobs). Connections
    held by jobs that wait on another resource busy 90 % of the time are that resource's doing."""
    others = {k: v for k, v in used.items() if k != "db_connections"}
    top = max(used, key=used.get)
    if top == "db_connections" and max(others.values()) >= 0.9:
        top = max(others, key=others.get)
    if used[top] >= 0.7:
        return top
    return slot_name if slots >= 0.9 else "latency"


@cache
def _fan_out_stage(setup: Setup, name: str) -> dict:
    """The stage; simulated again when calls polling for a model slot would want more of the
    server than is left. The slot queries are not simulated one by one: polling jobs form a closed loop
    (one query at a time each), so they take what the server has left, and every query then waits
    behind the slot queries in the server (first come, first served) for ``N / X - Z``: N polling jobs,
    X slot queries served a second, Z one's time without waiting. The second run adds that wait to every
    query of the jobs and the coordinator."""
    first = FanOut(setup, name).run()
    polling, rate = first["polling_jobs"], first["polling_rate"]
    left = setup.db_cores - (first["db_busy"] - first["poll_db_busy"]) / first["seconds"]
    query_s = slot_query_ms(setup.llm_cap)[0] / 1000
    if polling * rate * query_s <= left:
        return first
    served = max(left, 0.05 * setup.db_cores) / query_s
    return FanOut(setup, name, delay=max(0.0, polling / served - 1 / rate)).run()


def stage(setup: Setup, name: str) -> dict:
    """One stage of the night."""
    return _fan_out(setup, name) if name in FANOUT_STAGES else _inline(setup, name)


def _fan_out(setup: Setup, name: str) -> dict:
    """A fan-out stage, simulated on the workers that take its queue with the connections the
    others leave them (no more than their slots can use), and cached on what it depends on."""
    llm_workers, hosts = setup.roles()
    serving, others = (hosts, llm_workers) if name == "test" and hosts else (llm_workers, hosts)
    slots = serving * (setup.containers if name == "test" and hosts else setup.worker_concurrency)
    fixed = POOL_CONNECTIONS * (setup.workers + 1) + 3
    usable = min(setup.db_connections - fixed, slots * setup.job_connections(name))
    defaults = Setup(workers=setup.workers, procedures=setup.procedures)
    key = replace(setup, **{f: getattr(defaults, f) for f in UNUSED[name]}, workers=serving,
                  docker_hosts=(serving if name == "test" else 0) if hosts else None,
                  db_connections=POOL_CONNECTIONS * (serving + 1) + 3 + usable)
    result = dict(_fan_out_stage(key, name))
    result["idle_worker_seconds"] += result["seconds"] * others  # the other workers poll all along
    limit = max(setup.db_connections - fixed, 1)
    result["utilisation"] = {**result["utilisation"],
                             "db_connections": result["connection_seconds"] / (limit * result["seconds"])}
    used = {k: v for k, v in result["utilisation"].items() if not k.endswith("_slots")}
    slot_name = "docker_slots" if name == "test" else "worker_slots"
    result["bottleneck"] = _bottleneck(used, result["utilisation"][slot_name], slot_name)
    return result


def _inline(setup: Setup, name: str) -> dict:
    """A stage the coordinator runs in place: score reads and updates every dream of the night."""
    dreams = setup.work()[0]
    if name == "score":
        db = dreams * (ROW_READ_DB_MS + DREAM_WRITE_DB_MS) / 1000
        seconds = dreams * SCORE_MS_PER_DREAM / 1000 / setup.score_parallel + db
        queries, rows = dreams + 2, {"score_updates": dreams}
    else:
        db = STORE_QUERY_MS / 1000
        seconds, queries, rows = (ADAPT_S if name == "adapt" else 0.0) + db, 1, {}
    return {"name": name, "seconds": seconds, "jobs": 0, "checks": 0, "queries": queries, "db_busy": db,
            "db_minutes": {m: min(60.0, db - 60 * m) for m in range(int(db // 60) + 1)}, "llm_calls": 0,
            "idle_worker_seconds": seconds * setup.workers, "cpu_hours": 0.0, "rows": rows,
            "bottleneck": "coordinator", "utilisation": {"coordinator": 1.0}}


def simulate(setup: Setup) -> dict:
    """One night: its duration, jobs, database load, rows and bytes, and its bottlenecks."""
    stages = [stage(setup, name) for name in STAGES]
    night = sum(s["seconds"] for s in stages)
    llm_workers, hosts = setup.roles()
    jobs = {s["name"]: s["jobs"] for s in stages if s["name"] in FANOUT_STAGES}
    jobs["advance"] = sum(s.get("handovers", 0) for s in stages) + len(STAGES)  # per WAIT_S, and per stage
    jobs["requeue_stalled"] = int(night / REQUEUE_EVERY_S)
    jobs["prune_jobs"] = int(night / PRUNE_EVERY_S)
    total_jobs = sum(jobs.values())
    polls = sum(s["idle_worker_seconds"] for s in stages) / POLL_S
    background = night * (BACKGROUND_QUERIES_PER_WORKER_S * setup.workers + QUEUE_QUERIES / REQUEUE_EVERY_S)
    kept = (KEEP_NIGHTS + 1) * total_jobs  # rows in procrastinate_jobs at the night's end (a night a day)
    unsettled = max(s["jobs"] for s in stages)  # a stage's jobs, all deferred at its start
    follow_ms = FOLLOW_BASE_MS + unsettled * FOLLOW_MS_PER_LIVE_ROW  # its dearest query
    queries = sum(s["queries"] for s in stages) + polls + background
    db_busy = sum(s["db_busy"] for s in stages) + (polls + background) * QUEUE_QUERY_MS / 1000
    peak_minute = max(max(s["db_minutes"].values(), default=0.0) for s in stages)
    rows = dict.fromkeys(("dreams", "rejected_drafts", "verdict_updates", "dream_tests",
                          "test_result_updates", "score_updates"), 0)
    for s in stages:
        for key, value in s["rows"].items():
            rows[key] += value
    longest = max(stages, key=lambda s: s["seconds"])
    fan_outs = [s for s in stages if s["name"] in FANOUT_STAGES]
    polled = sum(s["poll_db_busy"] for s in fan_outs) / (slot_query_ms(setup.llm_cap)[0] / 1000)
    model_job = max(setup.job_connections(name) for name in FANOUT_STAGES[:2])
    return {
        "workers": setup.workers, "llm_workers": llm_workers, "docker_hosts": hosts,
        "procedures": setup.procedures,
        "night_s": round(night, 1), "night_h": round(night / 3600, 2),
        "bottleneck": longest["bottleneck"], "longest_stage": longest["name"],
        "stages": {s["name"]: {"seconds": round(s["seconds"], 1), "jobs": s["jobs"],
                               "jobs_per_s": round(s["jobs"] / s["seconds"], 1) if s["jobs"] else 0,
                               "bottleneck": s["bottleneck"],
                               "utilisation": {k: round(v, 3) for k, v in s["utilisation"].items()}}
                   for s in stages},
        "jobs": {**jobs, "total": total_jobs},
        "jobs_per_s": {"night": round(total_jobs / night, 1),
                       "busiest_stage": max(round(s["jobs"] / s["seconds"], 1) for s in stages[:3])},
        "db": {"queries": int(queries), "queries_per_s": round(queries / night, 1),
               "queries_per_s_without_polls": round((queries - polled) / night, 1),
               "utilisation": round(db_busy / (setup.db_cores * night), 3),  # slot polls included
               "utilisation_without_polls": round((db_busy - sum(s.get("poll_db_busy", 0.0) for s in stages))
                                                  / (setup.db_cores * night), 3),
               "peak_utilisation_1min": round(peak_minute / (60 * setup.db_cores), 3),
               "connections_needed": POOL_CONNECTIONS * (setup.workers + 1) + 3
               + llm_workers * setup.worker_concurrency * model_job
               + hosts * setup.containers,
               "connections_limit": setup.db_connections,
               "coordinator_counts": sum(s["checks"] for s in stages),
               "slot_polls": {s["name"]: {
                   "waiting_calls": round(s["waiting_calls"], 1), "polling_jobs": round(s["polling_jobs"], 1),
                   "db_utilisation": round(s["poll_db_busy"] / (setup.db_cores * s["seconds"]), 3),
                   "query_delay_ms": round(s["query_delay"] * 1000, 3)} for s in fan_outs},
               "jobs_table_rows_at_end": kept,
               # `dreamcore run` without --detach counts the run's unsettled jobs per status every second
               "follow_query_ms_at_most": round(follow_ms, 2)},
        "llm": {"calls": sum(s["llm_calls"] for s in stages), "cap": setup.llm_cap, "rpm": setup.llm_rpm},
        "sandbox": {"dream_tests": rows["dream_tests"], "container_hours": round(stages[2]["cpu_hours"], 1)},
        "rows": {**rows, "procrastinate_jobs": total_jobs,
                 "procrastinate_events": total_jobs * QUEUE_EVENTS_PER_JOB},
        "bytes": {"dreams": rows["dreams"] * DREAM_BYTES,
                  "rejected_drafts": rows["rejected_drafts"] * REJECTED_BYTES,
                  # an update writes a new version of the dream row (dead versions stay until vacuum)
                  "verdict_updates": rows["verdict_updates"] * DREAM_BYTES,
                  "test_result_updates": rows["test_result_updates"] * DREAM_BYTES,
                  "score_updates": rows["score_updates"] * DREAM_BYTES,
                  "procrastinate": total_jobs * QUEUE_BYTES_PER_JOB},
    }


# -- the bottleneck, relaxed step by step; the report ----------------------------------------------

RELAX_FACTOR = 4


def relax(setup: Setup, bottleneck: str) -> tuple[Setup, str] | None:
    """The setup with its binding resource relaxed, and how; None when there is nothing to relax."""
    llm_workers, hosts = setup.roles()
    if bottleneck in ("worker_cpu", "worker_slots"):
        more = llm_workers * (RELAX_FACTOR - 1)
        return (replace(setup, workers=setup.workers + more, docker_hosts=hosts),
                f"llm/judge workers x{RELAX_FACTOR} ({llm_workers + more})")
    if bottleneck in ("docker_containers", "docker_slots") and hosts:
        more = hosts * (RELAX_FACTOR - 1)
        return (replace(setup, workers=setup.workers + more, docker_hosts=hosts + more),
                f"Docker hosts x{RELAX_FACTOR} ({hosts + more})")
    changes = {"llm_concurrency": ("llm_cap", "LLM concurrency cap"), "llm_rpm": ("llm_rpm", "LLM rpm limit"),
               "db_cpu": ("db_cores", "PostgreSQL cores"),
               "db_connections": ("db_connections", "max_connections")}
    if bottleneck in changes:
        name, label = changes[bottleneck]
        value = getattr(setup, name) * RELAX_FACTOR
        return replace(setup, **{name: value}), f"{label} x{RELAX_FACTOR} ({value:g})"
    if bottleneck == "coordinator" and setup.score_parallel == 1:
        cores = llm_workers * setup.worker_cores
        return (replace(setup, score_parallel=cores),
                f"score stage as a fan-out over {cores} worker cores (not implemented: a what-if)")
    return None


def relaxations(setup: Setup, steps: int = 6) -> list[dict]:
    """The night, then again with its bottleneck relaxed, step after step."""
    chain, how = [], "as configured"
    for _ in range(steps + 1):
        night = simulate(setup)
        chain.append({"relaxed": how, "night_h": night["night_h"], "bottleneck": night["bottleneck"],
                      "longest_stage": night["longest_stage"],
                      "stages_h": {name: [round(night["stages"][name]["seconds"] / 3600, 2),
                                          night["stages"][name]["bottleneck"]]
                                   for name in (*FANOUT_STAGES, "score")},
                      "result": night})
        step = relax(setup, night["bottleneck"])
        if step is None:
            break
        setup, how = step
    return chain


def _night(args: tuple[Setup, bool]) -> list[dict]:
    setup, chained = args
    return relaxations(setup) if chained else [{"result": simulate(setup)}]


def report(workers: list[int], procedures: list[int], base: Setup) -> dict:
    """Every (workers, procedures) night, and the relaxation chain of the largest one."""
    started = time.perf_counter()
    largest = (max(workers), max(procedures))
    tasks = [(replace(base, workers=w, procedures=p), (w, p) == largest) for p in procedures for w in workers]
    tasks.sort(key=lambda task: -task[0].procedures * (2 if task[1] else 1))  # the longest first
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        done = pool.map(_night, tasks, chunksize=1)
    runs = sorted((chain[0]["result"] for chain in done), key=lambda r: (r["procedures"], r["workers"]))
    chain = next(chain for chain in done if "relaxed" in chain[0])
    for step in chain:
        step.pop("result")
    inputs = {name: value for name, value in globals().items()
              if name.isupper() and isinstance(value, (int, float, tuple))}
    return {"setup": {k: v for k, v in vars(base).items() if k not in ("workers", "procedures")},
            "runs": runs,
            "bottleneck_moves": {"workers": largest[0], "procedures": largest[1], "steps": chain},
            "inputs": inputs, "elapsed_s": round(time.perf_counter() - started, 1)}


# -- calibration: the per-job cost of the queue on a real PostgreSQL server ---------------------------

CALIBRATION_QUEUE = "calibrate"
SCAN_ROWS = 50_000  # succeeded jobs of the run in the table when timing the coordinator's count
LIVE_ROWS = (1_000, 20_000)  # ... and its unfinished jobs
HOLDS = 600  # other calls in flight (budget holds of running jobs) when timing a model call's queries
FAILED_CAPS = (16, 64)  # slots all held by another session when timing a slot query that finds none


def _run_query(sql: str) -> str:
    """A query of dreamcore.distributed.jobs with run 0 (the calibration jobs' run) in it."""
    return sql.replace("%(run)s", "'0'")


DB_STATS = (
    "SELECT xact_commit + xact_rollback AS xacts, active_time, tup_inserted, tup_updated "
    "FROM pg_stat_database WHERE datname = current_database()"
)
SIZES = ("SELECT pg_total_relation_size('procrastinate_jobs') AS jobs, "
         "pg_total_relation_size('procrastinate_events') AS events")


def _noop(n: int, run_id: int) -> None:
    """The calibration job (of run 0): does nothing."""


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
            kwargs = [{"n": offset + i, "run_id": 0} for i in range(first, min(count, first + 2000))]
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


def _measure_count(url: str) -> dict:
    """The coordinator's count of a run's unfinished jobs and ``dreamcore run``'s count of its jobs
    per status, both through the partial index on the run's unsettled jobs (jobs.RUN_JOBS_INDEX), with
    SCAN_ROWS succeeded jobs of the run in the table and LIVE_ROWS[i] unfinished ones."""
    from dreamcore.distributed.jobs import OUTSTANDING, RUN_JOBS_INDEX, UNSETTLED

    follow = (f"SELECT status::text AS status, count(*) AS n FROM procrastinate_jobs WHERE {UNSETTLED} "
              "GROUP BY status ORDER BY status")
    _query(url, "TRUNCATE procrastinate_events, procrastinate_jobs CASCADE")
    _query(url, RUN_JOBS_INDEX)
    defer_s = asyncio.run(_defer(url, SCAN_ROWS))
    for status in ("doing", "succeeded"):
        _query(url, f"UPDATE procrastinate_jobs SET status = '{status}'")
    counts, deferred = [], 0
    for live in LIVE_ROWS:
        asyncio.run(_defer(url, live - deferred, offset=SCAN_ROWS + deferred))
        deferred = live
        _query(url, "VACUUM ANALYZE procrastinate_jobs")
        plans = " ".join(_plan(url, _run_query(sql)) for sql in (OUTSTANDING, follow))
        counts.append({"live": live, "count_ms": round(_median_ms(url, _run_query(OUTSTANDING)), 3),
                       "follow_ms": round(_median_ms(url, _run_query(follow)), 3),
                       "both_use_index": plans.count("dreamcore_unsettled_jobs_by_run") == 2})

    def line(key: str) -> tuple[float, float]:
        slope = (counts[-1][key] - counts[0][key]) / (LIVE_ROWS[-1] - LIVE_ROWS[0])
        return round(counts[0][key] - slope * LIVE_ROWS[0], 3), round(slope * 1000, 4)

    (count_base, count_slope), (follow_base, follow_slope) = line("count_ms"), line("follow_ms")
    return {"finished": SCAN_ROWS, "counts": counts,
            "count_base_ms": count_base, "count_us_per_live_row": count_slope,
            "follow_base_ms": follow_base, "follow_us_per_live_row": follow_slope,
            "batch_defer_ms_per_job": round(defer_s / SCAN_ROWS * 1000, 4)}


def _plan(url: str, sql: str) -> str:
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        return " ".join(row[0] for row in connection.execute("EXPLAIN " + sql).fetchall())


def _median_ms(url: str, sql: str, times: int = 9) -> float:
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        timings = []
        for _ in range(times):
            started = time.perf_counter()
            connection.execute(sql).fetchall()
            timings.append(time.perf_counter() - started)
    return statistics.median(timings) * 1000


def _measure_limits(url: str) -> dict:
    """The shared model limits' queries (dreamcore.distributed.limits), through its own classes: an
    uncontended call's reserve, slot, pace turn, unlock and settle, with no other call in flight and
    with HOLDS others (before any ANALYZE of the fresh tables, then after); a slot query that finds
    no free slot, with every one of FAILED_CAPS slots held by another session; and a slot taken at
    its first try and released."""
    from dreamcore.distributed.limits import SCHEMA, SharedBudget, SharedGate, model_key

    _query(url, "TRUNCATE procrastinate_events, procrastinate_jobs CASCADE")
    _query(url, SCHEMA)
    _query(url, "INSERT INTO dreamcore_run_budget (run_id, limit_usd, dearest_call_usd) "
                "VALUES (1, 1e9, 0.001)")
    asyncio.run(_defer(url, HOLDS + 1))
    _query(url, "UPDATE procrastinate_jobs SET status = 'doing', attempts = 0")
    job = _query(url, "SELECT min(id) AS id FROM procrastinate_jobs")["id"]
    key = model_key("m")

    async def calls(count: int) -> None:
        gate, budget = SharedGate(url), SharedBudget(url, 1, 1e9, job, 0)
        for _ in range(count):
            reserved = await budget.reserve("m")
            async with gate.slot("m", 64, 1e9):
                pass
            await budget.settle(reserved, 0.001)
        await gate.aclose()
        await budget.aclose()

    def failed_queries(cap: int):
        async def work(rounds: int) -> None:
            holder, gate = SharedGate(url), SharedGate(url)
            for slot in range(cap):
                await holder.one("SELECT pg_advisory_lock(%s, %s)", (key, slot))
            for _ in range(rounds):
                assert await gate._take_slot(key, cap) is None
            await gate.aclose()
            await holder.aclose()
        return work

    async def taken(rounds: int) -> None:
        gate = SharedGate(url)
        for _ in range(rounds):
            slot = await gate._take_slot(key, 1)
            await gate.one("SELECT pg_advisory_unlock(%s, %s)", (key, slot))
            gate._held.discard((key, slot))
        await gate.aclose()

    holds = ("INSERT INTO dreamcore_budget_holds (run_id, job_id, attempt, amount_usd) "
             f"SELECT 1, id, 0, 0.001 FROM procrastinate_jobs WHERE id <> {job}")
    measurements = (("call", calls, 500, None), ("call_with_holds_before_analyze", calls, 500, holds),
                    ("call_with_holds", calls, 500, "ANALYZE"),
                    *((f"failed_slot_query_{cap}", failed_queries(cap), 500, None) for cap in FAILED_CAPS),
                    ("slot_taken_and_released", taken, 500, None))
    figures = {}
    for name, work, count, before_sql in measurements:
        if before_sql:
            _query(url, before_sql)
        before = _query(url, DB_STATS)
        started = time.perf_counter()
        asyncio.run(work(count))
        wall = time.perf_counter() - started
        time.sleep(1.0)  # closed backends flush their statistics
        after = _query(url, DB_STATS)
        figures[name] = {"wall_ms": round(wall / count * 1000, 3),
                         "db_active_ms": round((after["active_time"] - before["active_time"]) / count, 4),
                         "transactions": round((after["xacts"] - before["xacts"]) / count, 2)}
    low, high = (figures[f"failed_slot_query_{cap}"]["db_active_ms"] for cap in FAILED_CAPS)
    figures["failed_query_db_us_per_slot"] = round((high - low) / (FAILED_CAPS[1] - FAILED_CAPS[0]) * 1000, 3)
    figures["holds"] = HOLDS
    return figures


def calibrate(jobs: int) -> dict:
    """The queue's cost per job on a throwaway PostgreSQL server, with 1 and 4 worker processes."""
    sys.path.insert(0, str(ROOT))
    from benchmarks.bench_store import postgres_url

    with postgres_url() as (url, how):
        if url is None:
            return {"skipped": how}
        asyncio.run(_apply_schema(url))
        limits = _measure_limits(url)  # first: on tables nothing has analyzed yet
        runs = [_measure_workers(url, jobs, workers) for workers in (1, 4)]
        return {"server": how, "runs": runs, "count": _measure_count(url), "limits": limits}


def _counts(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=_counts, default=[1, 10, 100], help="worker counts, e.g. 1,10,100")
    parser.add_argument("--procedures", type=_counts, default=[10_000, 1_000_000],
                        help="procedures per night, e.g. 10000,1000000")
    parser.add_argument("--llm-cap", type=int, default=LLM_CAP, help="cluster-wide concurrent model requests")
    parser.add_argument("--llm-rpm", type=float, default=LLM_RPM, help="model requests per minute")
    parser.add_argument("--llm-latency", type=float, default=1.0,
                        help="multiplies the measured model latencies (real models are slower)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--calibrate", action="store_true",
                        help="measure the queue's cost per job on a throwaway PostgreSQL server")
    parser.add_argument("--jobs", type=int, default=2000, help="no-op jobs per calibration run")
    args = parser.parse_args()
    if args.calibrate:
        print(json.dumps(calibrate(args.jobs), indent=2))
        return 0
    base = Setup(workers=1, procedures=1, llm_cap=args.llm_cap, llm_rpm=args.llm_rpm,
                 llm_latency=args.llm_latency, seed=args.seed)
    print(json.dumps(report(args.workers, args.procedures, base), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
