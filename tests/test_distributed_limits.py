"""Limits that hold across workers: the run's USD budget and a model's concurrency and rpm caps, with
three real `dreamcore worker` processes calling a loopback OpenAI-compatible server that counts the
requests in flight."""

from __future__ import annotations

import json
import subprocess

import pytest

from dreamcore.testing.fake_openai import FakeOpenAI, variant_responder
from tests.test_distributed import distributed_config, query, start_worker, stop
from tests.test_run import DREAMCORE

MODEL = "fake/deepseek-chat"
COST = 0.001  # what the server reports per call


@pytest.fixture
def server():
    with FakeOpenAI(latency=0.3, responder=variant_responder) as fake:
        yield fake


def llm_config(tmp_path, pg, server, *, budget: float, rpm: float) -> object:
    config = distributed_config(tmp_path, pg)
    text = config.read_text().replace("[cycle]\n", f"[cycle]\nbudget_usd = {budget}\n", 1)
    config.write_text(text + f'''
[plugins.openrouter]
base_url = "{server.base_url}"
api_key_env = "FAKE_ROUTER_KEY"
backoff = 0.01
max_retries = 1
concurrency = 2
rpm = {rpm}
[plugins.constraint_relaxation]
mode = "llm"
models = ["{MODEL}"]
''')
    return config


def run_on_three_workers(config, tmp_path) -> dict:
    workers = [start_worker(config, tmp_path, f"w{n}") for n in (1, 2, 3)]
    try:
        done = subprocess.run([DREAMCORE, "--config", str(config), "run", "--json"],
                              capture_output=True, text=True, timeout=600)
    finally:
        stop(workers)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_budget_and_concurrency_cap_hold_across_three_workers(tmp_path, pg, server, monkeypatch):
    monkeypatch.setenv("FAKE_ROUTER_KEY", "sk-test")
    report = run_on_three_workers(llm_config(tmp_path, pg, server, budget=0.03, rpm=0), tmp_path)
    calls = len(server.requests)
    assert server.max_in_flight == 2  # six jobs at once wanted more; the cap held cluster-wide
    assert calls * COST <= 0.03 + 1e-9 and calls >= 25  # the budget was used, never passed
    assert report["stop_reason"].startswith("budget_exhausted: spent $0.03")
    usage = report["model_usage"][MODEL]
    assert usage["calls"] == calls and usage["cost_usd"] == pytest.approx(calls * COST)  # no job's usage lost
    assert report["rejected_by_reason"]["budget_exhausted"] > 0
    assert report["status"] == "finished" and report["failures"] == []
    [(stored,)] = query(pg, "SELECT model_usage FROM dream_generation_runs")
    assert json.loads(stored)[MODEL]["calls"] == calls
    assert query(pg, "SELECT count(*) FROM dreamcore_budget_holds") == [(0,)]


def test_rpm_spaces_request_starts_across_three_workers(tmp_path, pg, server, monkeypatch):
    monkeypatch.setenv("FAKE_ROUTER_KEY", "sk-test")
    report = run_on_three_workers(llm_config(tmp_path, pg, server, budget=0.012, rpm=120), tmp_path)
    arrivals = sorted(request.arrived for request in server.requests)
    assert len(arrivals) == 12 and report["stop_reason"].startswith("budget_exhausted")
    # 120 a minute: one start every 0.5 s whichever worker asks. Unpaced, two slots of 0.3 s calls
    # would take under 2 s for all twelve and at most 0.6 s for any five. An arrival lags its start by
    # the client's own delays (waking up, a new connection): up to ~0.6 s on this loaded machine.
    assert arrivals[-1] - arrivals[0] >= 11 * 0.5 - 0.6
    spans = [arrivals[n + 4] - arrivals[n] for n in range(len(arrivals) - 4)]
    assert min(spans) >= 4 * 0.5 - 1.0, spans


def test_a_models_slots_are_shared_by_every_session_and_freed_by_a_dead_one(pg):
    """Three jobs' gates (three sessions) with four calls each never hold more than the model's two
    slots; slots held by a session that dies are free at once."""
    import asyncio

    import psycopg

    from dreamcore.distributed.limits import SCHEMA, SharedGate, model_key

    with psycopg.connect(pg, autocommit=True) as connection:
        connection.execute(SCHEMA)
    state = {"now": 0, "most": 0}

    async def call(gate: SharedGate) -> None:
        async with gate.slot("m", 2, 0):  # four calls of one session at once: they re-try its own slots
            state["now"] += 1
            state["most"] = max(state["most"], state["now"])
            await asyncio.sleep(0.05)
            state["now"] -= 1

    async def calls() -> None:
        gates = [SharedGate(pg) for _ in range(3)]
        await asyncio.gather(*(call(gate) for gate in gates for _ in range(4)))
        assert held_slots() == 0  # every slot given back while the sessions are still open
        for gate in gates:
            await gate.aclose()

    def held_slots() -> int:
        return query(pg, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 2")[0][0]

    asyncio.run(calls())
    assert state == {"now": 0, "most": 2}

    async def one_slot_of_eight() -> int:
        gate = SharedGate(pg)
        async with gate.slot("m8", 8, 0):
            locks = held_slots()
        await gate.aclose()
        return locks

    assert asyncio.run(one_slot_of_eight()) == 1  # the query that found a free slot took only that one
    with psycopg.connect(pg, autocommit=True) as dead:  # a worker that took both slots, then died
        dead.execute("SELECT pg_advisory_lock(%s, 0), pg_advisory_lock(%s, 1)", (model_key("m"), model_key("m")))
    asyncio.run(asyncio.wait_for(calls(), timeout=10))
