"""Model limits that hold across every worker: the run's USD budget and each model's concurrency and
requests-per-minute caps, kept in PostgreSQL (the store's server) rather than in one process.

- **Concurrency**: a call holds one of its model's ``concurrency`` slots as a session-level advisory
  lock (``pg_try_advisory_lock(model key, slot)``) taken on its job's connection. A worker killed
  with -9 drops its connections, and PostgreSQL frees their slots at once.
- **Pacing**: one row per model holds the earliest time the next request may start; taking a turn
  moves it on by 60/rpm seconds in one ``UPDATE``, so starts are spread evenly cluster-wide.
- **Budget**: one row per run (limit, spent) and one *hold* per call in flight, naming the job and
  attempt that made it. A call starts only if what is spent, plus what live holds set aside, plus what
  this call may cost stays within the limit; what a call may cost is the dearest call of the run so
  far (until one call has ended, calls go one at a time). A hold is live while its job is running in
  the same attempt, so the holds of a dead worker's job stop counting when the job is re-queued. The
  limit can therefore be passed only by a call dearer than every earlier call of the run.
"""

from __future__ import annotations

import asyncio
import random
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from dreamcore.llm.hub import Budget, BudgetExhausted

SCHEMA = """
CREATE TABLE IF NOT EXISTS dreamcore_run_budget (
    run_id bigint PRIMARY KEY,
    limit_usd double precision NOT NULL,
    spent_usd double precision NOT NULL DEFAULT 0,
    dearest_call_usd double precision,
    refused boolean NOT NULL DEFAULT false
);
CREATE TABLE IF NOT EXISTS dreamcore_budget_holds (
    id bigserial PRIMARY KEY,
    run_id bigint NOT NULL,
    job_id bigint NOT NULL,
    attempt integer NOT NULL,
    amount_usd double precision NOT NULL
);
CREATE INDEX IF NOT EXISTS dreamcore_budget_holds_run ON dreamcore_budget_holds (run_id);
CREATE TABLE IF NOT EXISTS dreamcore_model_pace (
    model text PRIMARY KEY,
    next_start timestamptz NOT NULL DEFAULT now()
);
"""

T = TypeVar("T")
SLOT_NAMESPACE = 0x64630000  # high bits of the advisory-lock key of a model's slots
WAIT_SECONDS = (0.02, 0.1)  # a call waiting for a slot or for the budget looks again after this long

_LIVE_HOLDS = """
FROM dreamcore_budget_holds h WHERE h.run_id = %(run)s AND (
    SELECT j.status FROM procrastinate_jobs j WHERE j.id = h.job_id AND j.attempts = h.attempt) = 'doing'
"""  # a scalar subquery: one primary-key lookup per hold, whatever the planner knows of the tables
# (an EXISTS became a join that scanned every hold per job on a database not yet analyzed: 55 ms)


def model_key(model: str) -> int:
    """The advisory-lock key (a signed 32-bit integer) of a model's slots."""
    return (zlib.crc32(model.encode()) ^ SLOT_NAMESPACE) - (1 << 31)


async def _pause() -> None:
    await asyncio.sleep(random.uniform(*WAIT_SECONDS))


async def _uninterrupted(work: Coroutine[Any, Any, T], undo: Callable[[T], Awaitable[None]] | None = None) -> T:
    """Run ``work`` to its end even when the calling task is cancelled meanwhile (a generation stage
    cancels its other calls when one fails); on cancellation ``undo`` its result, then re-raise. A slot
    or reservation taken in the database is so never left behind by a task that was cancelled."""
    task = asyncio.ensure_future(work)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        result = await task
        if undo is not None:
            await undo(result)
        raise


class _Session:
    """One job's connection to the server, opened on first use and used by one query at a time."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._connection: Any = None
        self._lock = asyncio.Lock()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Any]:
        """The connection, alone and inside a transaction, for the block's queries."""
        async with self._lock:
            if self._connection is None:
                import psycopg

                self._connection = await psycopg.AsyncConnection.connect(self.url, autocommit=True)
            async with self._connection.transaction():
                yield self._connection

    async def one(self, query: str, params: Any) -> Any:
        """The first row of one query, in its own transaction."""
        async with self.transaction() as connection:
            return await (await connection.execute(query, params)).fetchone()

    async def aclose(self) -> None:
        """Close the connection (its advisory locks go with it)."""
        if self._connection is not None:
            await self._connection.close()


class SharedGate(_Session):
    """Per-model concurrency slots and pacing in PostgreSQL (see the module)."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self._held: set[tuple[int, int]] = set()  # advisory locks are re-entrant: skip the session's own

    @asynccontextmanager
    async def slot(self, model: str, concurrency: int, rpm: float) -> AsyncIterator[None]:
        """Hold one of the model's slots cluster-wide, started no sooner than ``rpm`` allows."""
        key = model_key(model)

        async def release(slot: int | None) -> None:
            if slot is not None:
                await self.one("SELECT pg_advisory_unlock(%s, %s)", (key, slot))
                self._held.discard((key, slot))  # after: meanwhile this session's other calls skip it

        while (taken := await _uninterrupted(self._take_slot(key, concurrency), release)) is None:
            await _pause()
        try:
            if rpm > 0:
                await asyncio.sleep(await self._turn(model, 60.0 / rpm))
            yield
        finally:
            await _uninterrupted(release(taken))

    async def _take_slot(self, key: int, concurrency: int) -> int | None:
        """Take the first free slot of the model, from a random one on, in one query; None when none
        is free. The candidates leave out this session's own slots (a lock it holds would be granted
        again), and the lock is the query's only condition, tried row by row until LIMIT 1 is met (no
        ORDER BY, no other condition the planner could put after it), so a query takes one slot at most."""
        async with self.transaction() as connection:  # alone on the session: its held slots are exact
            start = random.randrange(concurrency)
            candidates = [slot for slot in (*range(start, concurrency), *range(start))
                          if (key, slot) not in self._held]
            if not candidates:
                return None
            row = await (await connection.execute(
                "SELECT slot FROM unnest(%s::int[]) AS slot WHERE pg_try_advisory_lock(%s, slot) LIMIT 1",
                (candidates, key))).fetchone()
            if row is None:
                return None
            self._held.add((key, row[0]))
            return row[0]

    async def _turn(self, model: str, interval: float) -> float:
        """Take the model's next start time; returns the seconds to wait for it."""
        async with self.transaction() as connection:
            await connection.execute(
                "INSERT INTO dreamcore_model_pace (model) VALUES (%s) ON CONFLICT DO NOTHING", (model,))
            row = await (await connection.execute(
                "UPDATE dreamcore_model_pace SET next_start = greatest(next_start, clock_timestamp()) "
                "+ make_interval(secs => %(interval)s) WHERE model = %(model)s "
                "RETURNING extract(epoch FROM next_start - clock_timestamp()) - %(interval)s",
                {"model": model, "interval": interval})).fetchone()
        return max(0.0, float(row[0]))


class SharedBudget(Budget):
    """A run's USD budget kept in PostgreSQL for every job of the run (see the module). ``job_id`` and
    ``attempt`` name the job making the calls."""

    def __init__(self, url: str, run_id: int, limit_usd: float, job_id: int, attempt: int) -> None:
        super().__init__(limit_usd)
        self.run_id, self.job_id, self.attempt = run_id, job_id, attempt
        self.session = _Session(url)
        self._refused = False

    @property
    def exhausted(self) -> bool:
        """Whether a call of this job was refused for the budget."""
        return self._refused

    async def aclose(self) -> None:
        """Close the job's connection."""
        await self.session.aclose()

    async def reserve(self, model: str) -> float:
        """Wait until the call may start and set aside what it may cost; BudgetExhausted when it never
        may (what is spent plus the dearest call passes the limit)."""
        while (decision := await _uninterrupted(self._attempt(), self._give_back)) is None:
            await _pause()
        if decision < 0:
            self._refused = True
            raise BudgetExhausted(
                f"budget of ${self.limit_usd:g} spent (${self.spent_usd:.4f}); no new model calls", model=model)
        return decision

    async def _attempt(self) -> float | None:
        """The USD set aside for a call that may start, -1 for a call that never may, None to wait."""
        async with self.session.transaction() as connection:
            return await self._try_reserve(connection)

    async def _give_back(self, decision: float | None) -> None:
        if decision is not None and decision >= 0:
            await self._settle(decision, None)

    async def _try_reserve(self, connection: Any) -> float | None:
        row = await (await connection.execute(
            "SELECT limit_usd, spent_usd, dearest_call_usd FROM dreamcore_run_budget WHERE run_id = %s FOR UPDATE",
            (self.run_id,))).fetchone()
        self.limit_usd, self.spent_usd, dearest = row
        held, in_flight = await (await connection.execute(
            f"SELECT coalesce(sum(h.amount_usd), 0), count(*) {_LIVE_HOLDS}", {"run": self.run_id})).fetchone()
        amount = dearest or 0.0
        if self.spent_usd + amount >= self.limit_usd + (1e-12 if dearest else 0.0):
            await connection.execute("UPDATE dreamcore_run_budget SET refused = true WHERE run_id = %s",
                                     (self.run_id,))
            return -1.0
        if (dearest is None and in_flight) or self.spent_usd + held + amount > self.limit_usd + 1e-12:
            return None  # wait for calls in flight (until one call has ended, calls go one at a time)
        await connection.execute(
            "INSERT INTO dreamcore_budget_holds (run_id, job_id, attempt, amount_usd) VALUES (%s, %s, %s, %s)",
            (self.run_id, self.job_id, self.attempt, amount))
        return amount

    async def settle(self, reserved: float, cost_usd: float | None) -> None:
        """Book the call's cost, learn the dearest call, and drop one of this job's holds (all of it,
        even when the calling task is cancelled meanwhile)."""
        await _uninterrupted(self._settle(reserved, cost_usd))

    async def _settle(self, reserved: float, cost_usd: float | None) -> None:
        async with self.session.transaction() as connection:
            await connection.execute(
                "DELETE FROM dreamcore_budget_holds WHERE id = (SELECT id FROM dreamcore_budget_holds "
                "WHERE run_id = %s AND job_id = %s AND attempt = %s AND amount_usd = %s LIMIT 1)",
                (self.run_id, self.job_id, self.attempt, reserved))
            if cost_usd is not None:
                row = await (await connection.execute(
                    "UPDATE dreamcore_run_budget SET spent_usd = spent_usd + %(cost)s, "
                    "dearest_call_usd = greatest(coalesce(dearest_call_usd, 0), %(cost)s) "
                    "WHERE run_id = %(run)s RETURNING spent_usd",
                    {"cost": max(cost_usd, 0.0), "run": self.run_id})).fetchone()
                self.spent_usd = row[0]


OPEN_BUDGET = (
    "INSERT INTO dreamcore_run_budget (run_id, limit_usd, spent_usd) VALUES (%(run)s, %(limit)s, %(spent)s) "
    "ON CONFLICT (run_id) DO NOTHING"
)
BUDGET_STATE = "SELECT spent_usd, limit_usd, refused FROM dreamcore_run_budget WHERE run_id = %(run)s"
DROP_HOLDS = "DELETE FROM dreamcore_budget_holds WHERE run_id = %(run)s"
