"""Several processes claim from one database at once: every dream is claimed exactly once.

Workers are separate processes (multiprocessing, 'spawn' context), each with its own DreamStore
and connection. They open their store, then wait on a barrier so their claims really overlap,
then loop ``claim_dreams`` + ``transition`` until nothing is left.
"""

from __future__ import annotations

import multiprocessing
import time
import traceback
from collections import Counter

from dreamcore.models import DreamStatus
from dreamcore.store.dream_store import DreamStore
from tests.factories import dream, procedure

DREAMS = 600
WORKERS = 4
LIMIT = 7


def _worker(url: str, name: str, barrier, results) -> None:
    """Claim batches until none are left; report (name, claimed ids, moved ids, timestamps, error)."""
    claimed: list[int] = []
    moved: list[int] = []
    batches: list[tuple[float, float]] = []
    try:
        with DreamStore(url, busy_timeout=60) as store:
            store.schema_version()  # connect before the start signal
            barrier.wait(timeout=120)
            while True:
                started = time.monotonic()
                batch = store.claim_dreams(DreamStatus.PENDING_EVALUATION, name, limit=LIMIT)
                if not batch:
                    break
                batches.append((started, time.monotonic()))
                for claimed_dream in batch:
                    if (
                        claimed_dream.claimed_by != name
                        or claimed_dream.status != DreamStatus.PENDING_EVALUATION
                    ):
                        raise AssertionError(f"{name} got a dream it does not hold: {claimed_dream!r}")
                    claimed.append(claimed_dream.id)
                for claimed_dream in batch:
                    if store.transition(
                        claimed_dream.id,
                        DreamStatus.PENDING_EVALUATION,
                        DreamStatus.EVALUATED,
                        viability_score=0.5,
                        eval_attempts=1,
                        last_error=name,
                    ):
                        moved.append(claimed_dream.id)
        results.put((name, claimed, moved, batches, None))
    except BaseException:  # noqa: BLE001 - report everything to the parent, which fails the test
        results.put((name, claimed, moved, batches, traceback.format_exc()))


def _run_workers(url: str, count: int) -> list[tuple]:
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(count)
    results = ctx.Queue()
    processes = [
        ctx.Process(target=_worker, args=(url, f"worker-{n}", barrier, results), daemon=True)
        for n in range(count)
    ]
    for process in processes:
        process.start()
    try:
        reports = [results.get(timeout=300) for _ in processes]
    finally:
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
    errors = [f"{name}:\n{error}" for name, _, _, _, error in reports if error]
    assert not errors, "\n".join(errors)
    assert all(process.exitcode == 0 for process in processes)
    return reports


def test_concurrent_workers_claim_every_dream_exactly_once(store_url):
    with DreamStore(store_url) as store:
        base_id = store.upsert_procedure(procedure())
        all_ids = store.store_dreams_batch([dream(base_id, n) for n in range(DREAMS)])
        assert len(set(all_ids)) == DREAMS

    reports = _run_workers(store_url, WORKERS)

    claimed = [dream_id for _, ids, _, _, _ in reports for dream_id in ids]
    moved = [dream_id for _, _, ids, _, _ in reports for dream_id in ids]
    twice = {dream_id: n for dream_id, n in Counter(claimed).items() if n > 1}
    assert not twice, f"claimed more than once: {sorted(twice)[:20]}"
    assert set(claimed) == set(all_ids)
    assert sorted(moved) == sorted(claimed)  # every claim's transition succeeded: nobody else moved it

    # The claims overlapped: several workers got work while others were claiming too.
    windows = {name: (batches[0][0], batches[-1][1]) for name, _, _, batches, _ in reports if batches}
    assert len(windows) >= 2, {name: len(ids) for name, ids, _, _, _ in reports}
    overlapping = [
        (a, b)
        for a in windows
        for b in windows
        if a < b and windows[a][0] < windows[b][1] and windows[b][0] < windows[a][1]
    ]
    assert overlapping, windows

    with DreamStore(store_url) as store:
        counts = store.count_by_status()
        assert counts[DreamStatus.EVALUATED] == DREAMS
        assert sum(counts.values()) == DREAMS
        final = store.get_by_status(DreamStatus.EVALUATED, limit=None)
        assert {d.id for d in final} == set(all_ids)
        assert all(d.claimed_by is None and d.claimed_at is None for d in final)
        owner = {dream_id: name for name, ids, _, _, _ in reports for dream_id in ids}
        assert all(d.last_error == owner[d.id] and d.eval_attempts == 1 for d in final)
        assert store.claim_dreams(DreamStatus.PENDING_EVALUATION, "late") == []


def test_concurrent_workers_with_expired_leases_still_claim_each_dream_once_per_round(store_url):
    """Claims left behind by a dead worker expire; the next round picks each of them up exactly once."""
    with DreamStore(store_url) as store:
        base_id = store.upsert_procedure(procedure())
        all_ids = store.store_dreams_batch([dream(base_id, n) for n in range(120)])
        # a "dead" worker claimed everything an hour ago and never finished
        store.db.execute_sql(
            "UPDATE dream_procedures SET claimed_by = 'dead', claimed_at = '2000-01-01 00:00:00'"
        )

    reports = _run_workers(store_url, WORKERS)
    claimed = [dream_id for _, ids, _, _, _ in reports for dream_id in ids]
    assert sorted(claimed) == sorted(all_ids)
    with DreamStore(store_url) as store:
        assert store.count_by_status()[DreamStatus.EVALUATED] == 120
