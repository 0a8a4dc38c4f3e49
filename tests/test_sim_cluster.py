"""The cluster simulation (benchmarks/sim_cluster.py) behaves as a user reading its figures expects:
more workers shorten a sandbox-bound night until another resource binds, the reported
bottleneck moves when the binding resource is relaxed, rows add up with the jobs, and the shared
model limits cost what the code does (connections, polling queries)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.sim_cluster import (
    BATCH_OF,
    DREAM_BYTES,
    LLM_JOB_CONNECTIONS,
    POLL_PAUSE_S,
    POOL_CONNECTIONS,
    QUEUE_BYTES_PER_JOB,
    QUEUE_EVENTS_PER_JOB,
    WAIT_S,
    Setup,
    relax,
    simulate,
    slot_query_ms,
)

ROOT = Path(__file__).resolve().parents[1]

# A night without model calls: local generators, offline judge, Docker tests — bound by the sandbox
SANDBOX_NIGHT = Setup(workers=6, procedures=2000, docker_hosts=2, llm_generation=False, judge="offline")


def hosts(count: int, **changes) -> Setup:
    """The sandbox-bound night with ``count`` Docker hosts beside the same four llm/judge workers."""
    return replace(SANDBOX_NIGHT, workers=4 + count, docker_hosts=count, **changes)


def test_doubling_the_workers_halves_a_sandbox_bound_night():
    nights = [simulate(replace(SANDBOX_NIGHT, workers=workers, docker_hosts=None)) for workers in (8, 16, 32)]
    assert [night["docker_hosts"] for night in nights] == [2, 4, 8]  # a quarter of the machines
    assert all(night["bottleneck"] == "docker_containers" for night in nights)
    for fewer, more in zip(nights, nights[1:]):
        assert 0.45 <= more["night_s"] / fewer["night_s"] <= 0.6


def test_more_hosts_stop_helping_once_database_connections_bind():
    # room for 12 job connections once every worker's pool is connected
    limit = POOL_CONNECTIONS * (4 + 8 + 1) + 3 + 12
    two, four, eight = (simulate(hosts(count, db_connections=limit)) for count in (2, 4, 8))
    assert four["night_s"] / two["night_s"] < 0.6  # 8 -> 16 containers: 12 connections are enough for 8 only
    assert eight["night_s"] / four["night_s"] > 0.9  # 32 containers, still 12 connections
    assert eight["bottleneck"] == "db_connections"
    assert eight["db"]["connections_needed"] > limit


def test_bottleneck_moves_when_the_llm_cap_is_relaxed():
    night = Setup(workers=20, procedures=2000, llm_cap=4, llm_rpm=300)  # 4 prompts of 2 s at once: 2/s < 5/s
    before = simulate(night)
    assert before["stages"]["evaluate"]["bottleneck"] == "llm_concurrency"
    relaxed, how = relax(night, "llm_concurrency")
    assert relaxed.llm_cap == 16 and "LLM concurrency cap" in how
    after = simulate(relaxed)
    assert after["stages"]["evaluate"]["bottleneck"] == "llm_rpm"
    assert after["stages"]["evaluate"]["seconds"] < before["stages"]["evaluate"]["seconds"] / 2


def test_bottleneck_moves_from_the_docker_hosts():
    night = hosts(2)
    relaxed, how = relax(night, simulate(night)["bottleneck"])
    assert relaxed.docker_hosts == 8 and relaxed.workers == 12 and "Docker hosts" in how
    assert simulate(relaxed)["night_s"] < simulate(night)["night_s"] / 3


def test_rows_and_bytes_add_up_with_the_jobs():
    setup = Setup(workers=10, procedures=1234)
    night = simulate(setup)
    dreams, rejected, tested = setup.work()
    rows, jobs = night["rows"], night["jobs"]
    assert (rows["dreams"], rows["rejected_drafts"], rows["dream_tests"]) == (dreams, rejected, tested)
    assert jobs["generate"] == math.ceil(1234 / BATCH_OF["generate"])
    assert jobs["evaluate"] == math.ceil(dreams / BATCH_OF["evaluate"])
    assert jobs["test"] == math.ceil(tested / BATCH_OF["test"])
    assert jobs["total"] == sum(n for kind, n in jobs.items() if kind != "total")
    assert rows["procrastinate_jobs"] == jobs["total"]
    assert rows["procrastinate_events"] == QUEUE_EVENTS_PER_JOB * jobs["total"]
    # each dream: judged once, scored once; each tested dream moves twice (pending_test, tested)
    assert (rows["verdict_updates"], rows["score_updates"]) == (dreams, dreams)
    assert rows["test_result_updates"] == 2 * tested
    assert night["bytes"]["dreams"] == dreams * DREAM_BYTES
    assert night["bytes"]["procrastinate"] == jobs["total"] * QUEUE_BYTES_PER_JOB
    assert night["llm"]["calls"] == 2 * 1234 + jobs["evaluate"]  # two LLM types a procedure, a prompt a batch


def test_the_coordinator_hands_over_every_wait_and_counts_ten_times_a_second():
    night = simulate(Setup(workers=10, procedures=1234))
    waited = sum(night["stages"][name]["seconds"] for name in ("generate", "evaluate", "test"))
    handovers = night["jobs"]["advance"] - 6  # a job per stage, a handover per WAIT_S of waiting
    assert 0.9 * waited / WAIT_S - 3 <= handovers <= waited / WAIT_S
    assert 8 * waited <= night["db"]["coordinator_counts"] <= 10 * waited


def test_jobs_that_call_a_model_hold_three_connections():
    llm = Setup(workers=8, procedures=100)
    local = replace(llm, llm_generation=False, judge="offline")
    llm_workers, hosts = llm.roles()
    extra = llm_workers * llm.worker_concurrency * LLM_JOB_CONNECTIONS
    assert simulate(llm)["db"]["connections_needed"] == simulate(local)["db"]["connections_needed"] + extra


def test_calls_waiting_for_a_slot_poll_the_database_but_never_past_its_cores():
    night = Setup(workers=20, procedures=2000, llm_rpm=1e6, db_connections=10_000)
    idle, busy = (simulate(replace(night, llm_cap=cap))["db"] for cap in (512, 8))
    waiting = [db["slot_polls"]["evaluate"]["waiting_calls"] for db in (idle, busy)]
    assert waiting[0] < 1 < waiting[1]
    assert busy["queries_per_s"] > 3 * idle["queries_per_s"]
    assert busy["utilisation"] <= 1.0 and busy["slot_polls"]["evaluate"]["db_utilisation"] <= 1.0
    assert busy["utilisation_without_polls"] < busy["utilisation"]


def test_a_call_waiting_for_a_slot_sends_one_query_per_pause():
    night = Setup(workers=20, procedures=2000, llm_cap=8, llm_rpm=1e6, db_connections=10_000)
    result = simulate(night)
    seconds, polls = result["stages"]["evaluate"]["seconds"], result["db"]["slot_polls"]["evaluate"]
    db_ms, wall_ms = slot_query_ms(night.llm_cap)
    queries = polls["db_utilisation"] * night.db_cores * seconds / (db_ms / 1000)
    per_waiting_call_s = queries / (polls["waiting_calls"] * seconds)
    assert math.isclose(per_waiting_call_s, 1 / (POLL_PAUSE_S + wall_ms / 1000), rel_tol=0.15)
    assert slot_query_ms(256)[0] > slot_query_ms(64)[0] > slot_query_ms(8)[0]  # it tries every slot


@settings(max_examples=12, deadline=None)
@given(workers=st.integers(min_value=2, max_value=30))
def test_one_more_worker_never_makes_the_night_longer(workers):
    # generous LLM and database limits: only the workers bind
    roomy = {"procedures": 300, "llm_cap": 10_000, "llm_rpm": 1e7, "db_connections": 100_000}
    night = simulate(Setup(workers=workers, **roomy))["night_s"]
    one_more = simulate(Setup(workers=workers + 1, **roomy))["night_s"]
    assert one_more <= night * 1.02


def test_the_command_prints_every_night_asked_for_and_the_bottleneck_chain():
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "sim_cluster.py"), "--workers", "2,8",
                           "--procedures", "300,600"], capture_output=True, text=True, timeout=60, check=True)
    report = json.loads(done.stdout)
    assert [(r["workers"], r["procedures"]) for r in report["runs"]] == [(2, 300), (8, 300), (2, 600), (8, 600)]
    moves = report["bottleneck_moves"]
    assert (moves["workers"], moves["procedures"]) == (8, 600)
    assert moves["steps"][0]["relaxed"] == "as configured"
    assert moves["steps"][1]["relaxed"].startswith("Docker hosts")
    assert moves["steps"][1]["night_h"] < moves["steps"][0]["night_h"]
