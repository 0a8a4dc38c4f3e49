"""LLM-mode throughput: 50 procedures of examples/ through both LLM generators against a loopback server.

The fake OpenAI-compatible server runs in its own process (``python -m dreamcore.testing.fake_openai``)
with 1 s latency per answer, so this process only pays for the client side. Strategy: balanced (15
variants per type), constraint_relaxation and cross_project in llm mode (5 and 3 variants per call,
so 3 and 5 concurrent calls per procedure). Both routes share one model entry whose ``concurrency``
is the cap C, and ``[cycle] concurrency`` is C too: at most C calls are in flight, so the ideal time
is calls x latency / C and efficiency = ideal / actual (the generate stage, timed alone).

Then the same with 30 % of the answers faulty (429 with and without Retry-After, 500/502/503, read
timeouts, truncated or malformed JSON, 200 with an error body, no choices, code that does not parse):
the completion rate (procedures that got LLM dreams of both types), the failures recorded, and the
extra time against the clean run.

The client's CPU time is reported too: this process renders prompts, extracts and checks every
draft (parse, signature, safety gate, fingerprint) and runs the HTTP client on one event loop, so
once calls x CPU-per-call approaches the ideal time, CPU, not the cap, bounds the throughput. Calls
come in whole waves of C (a 1 s call cannot be split), so the best efficiency possible is
(calls / C) / ceil(calls / C), reported as ``efficiency_bound_whole_waves``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from dreamcore import DreamCore

ROOT = Path(__file__).resolve().parents[1]
KEY_ENV = "BENCH_LLM_KEY"


def _config(folder: Path, base_url: str, concurrency: int, timeout: float) -> dict:
    route = {"mode": "llm", "models": ["bench/coder", "bench/backup"]}
    return {
        "store": {"url": f"sqlite:///{folder / 'bench.db'}"},
        "cycle": {"seed": 1, "concurrency": concurrency, "budget_usd": 100.0, "strategy": "bench"},
        "strategies": {"bench": {"variants": 15, "generators": ["constraint_relaxation", "cross_project"]}},
        "sources": [{"project": name, "paths": [str(ROOT / "examples" / name)]} for name in ("billing", "weather")],
        "plugins": {
            "openrouter": {"base_url": base_url, "api_key_env": KEY_ENV, "concurrency": concurrency,
                           "timeout": timeout, "backoff": 0.5, "max_retries": 4, "call_timeout": 120.0},
            "constraint_relaxation": {**route, "variants_per_call": 5},
            "cross_project": {**route, "variants_per_call": 3},
        },
    }


def _phase(concurrency: int, procedures: int, latency: float, fault_rate: float) -> dict:
    timeout = latency * 10  # an injected read timeout costs this; tighter, a loaded machine times out clean calls
    server = subprocess.Popen(
        [sys.executable, "-m", "dreamcore.testing.fake_openai", "--latency", str(latency),
         "--fault-rate", str(fault_rate), "--hang", str(timeout + 0.5)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        base_url = server.stdout.readline().strip()
        with tempfile.TemporaryDirectory() as folder:
            with DreamCore(_config(Path(folder), base_url, concurrency, timeout)) as core:
                asyncio.run(core.run_cycle(stages=["mine"]))
                load = os.getloadavg()[0]
                started, cpu = time.perf_counter(), time.process_time()
                cycle = asyncio.run(core.run_cycle(stages=["generate"], limit=procedures))
                seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
                run = cycle.run
                with sqlite3.connect(Path(folder) / "bench.db") as db:
                    both = db.execute(
                        "SELECT COUNT(*) FROM (SELECT base_procedure_id FROM dream_procedures WHERE run_id = ? "
                        "GROUP BY base_procedure_id HAVING COUNT(DISTINCT dream_type) = 2)", (run.id,)).fetchone()[0]
                    dreamt = db.execute("SELECT COUNT(DISTINCT base_procedure_id) FROM dream_procedures "
                                        "WHERE run_id = ?", (run.id,)).fetchone()[0]
    finally:
        stats = json.loads(server.communicate("", timeout=60)[0].strip().splitlines()[-1])
    calls = sum(usage.get("calls", 0) for usage in run.model_usage.values())
    errors = sum(usage.get("errors", 0) for usage in run.model_usage.values())
    ideal = stats["requests"] * latency / concurrency
    return {
        "concurrency": concurrency,
        "procedures": cycle.report["generate"]["procedures"],
        "seconds": round(seconds, 2),
        "requests": stats["requests"],
        "completed_calls": calls,
        "failed_calls": errors,
        "ideal_seconds": round(ideal, 2),
        "efficiency": round(ideal / seconds, 3),
        "efficiency_bound_whole_waves": round(stats["requests"] / concurrency / math.ceil(stats["requests"] / concurrency), 3),
        "max_in_flight_server": stats["max_in_flight"],
        "client_cpu_seconds": round(cpu, 2),
        "client_cpu_ms_per_request": round(cpu / max(stats["requests"], 1) * 1000, 1),
        "machine_load_average": round(load, 2),
        "procedures_with_dreams": dreamt,
        "procedures_with_both_llm_types": both,
        "completion_rate": round(both / cycle.report["generate"]["procedures"], 3),
        "generate_split_seconds": cycle.report["generate"]["seconds"],
        "dreams_by_type": run.dreams_by_type,
        "rejected_by_reason": run.rejected_by_reason,
        "faults_injected": stats["injected"],
        "http_statuses": stats["statuses"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--procedures", type=int, default=50)
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--fault-rate", type=float, default=0.3)
    args = parser.parse_args()
    os.environ.setdefault(KEY_ENV, "bench-key")
    results = {"latency_seconds": args.latency, "fault_rate": args.fault_rate, "clean": [], "faulty": []}
    for concurrency in args.concurrency:
        print(f"bench_llm: clean, concurrency {concurrency}", file=sys.stderr, flush=True)
        clean = _phase(concurrency, args.procedures, args.latency, 0.0)
        print(f"bench_llm: {args.fault_rate:.0%} faults, concurrency {concurrency}", file=sys.stderr, flush=True)
        faulty = _phase(concurrency, args.procedures, args.latency, args.fault_rate)
        faulty["extra_time_vs_clean"] = round(faulty["seconds"] / clean["seconds"] - 1, 3)
        results["clean"].append(clean)
        results["faulty"].append(faulty)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
