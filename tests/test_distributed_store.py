"""Store methods the distributed executor relies on, on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from dreamcore.errors import NotFoundError
from dreamcore.models import DreamGenerationRun, DreamStatus, DreamType
from dreamcore.store.dream_store import DreamStore
from tests.factories import dream, procedure


def test_get_generation_run_by_id(store):
    run = DreamGenerationRun(strategy="light", seed=3)
    run.id = store.record_generation_run(run)
    assert store.get_generation_run(run.id) == store.get_generation_runs()[0]
    assert store.get_generation_run(run.id).seed == 3
    with pytest.raises(NotFoundError, match="no generation run with id 999"):
        store.get_generation_run(999)


MOVE = """
import sys
from dreamcore.models import DreamStatus
from dreamcore.store.dream_store import DreamStore
print("start", flush=True)
with DreamStore(sys.argv[1]) as store:
    with store.atomic():
        store.serialize_status_moves()
        moved = store.transition(int(sys.argv[2]), DreamStatus.PENDING_EVALUATION, DreamStatus.EVALUATED, tier=1)
    print("moved" if moved else "unchanged", flush=True)
"""


def test_status_moves_of_different_dreams_wait_for_each_other(store_url):
    """Two transactions moving dreams never hold dream_counts rows at the same time (no deadlock)."""
    with DreamStore(store_url) as store:
        base = store.upsert_procedure(procedure())
        # different types and tiers: the two moves touch no dream_counts row in common
        first = store.store_dream(dream(base, 1, dream_type=DreamType.PARAMETER))
        second = store.store_dream(dream(base, 2, dream_type=DreamType.CONDITIONAL))
        with store.atomic():
            store.serialize_status_moves()
            assert store.transition(first, DreamStatus.PENDING_EVALUATION, DreamStatus.EVALUATED, tier=2)
            other = subprocess.Popen([sys.executable, "-c", MOVE, store_url, str(second)],
                                     stdout=subprocess.PIPE, text=True)
            assert other.stdout.readline().strip() == "start"
            time.sleep(1.0)
            assert other.poll() is None  # still waiting for this transaction
        out, _ = other.communicate(timeout=60)
        assert out.strip() == "moved"
        assert store.get_dream(second).status == DreamStatus.EVALUATED
