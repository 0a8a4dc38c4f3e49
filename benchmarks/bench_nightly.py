"""The whole nightly cycle on the examples: LLM generation and an LLM judge against a loopback server
with 1 s latency per answer, differential tests in the sandbox, then score, adapt and archive.

The fake OpenAI-compatible server runs in its own process. Both LLM generators and the judge
(``llm-judge``) call it; the local generators run beside them; the ``test`` stage runs the tiers
1-2 dreams in the sandbox given by ``--sandbox`` (docker needs the local image, see docs/ci.md).
Prints one JSON object: wall time, time per stage, dreams, calls. Target: 50 procedures <= 60 s.
``--limit`` applies to the test stage as to every stage: it tests at most that many dreams (the
tier 1-2 dreams of 50 procedures number over a thousand; see bench_sandbox for sandbox throughput).

    python -m benchmarks.bench_nightly [--procedures 50] [--sandbox docker|subprocess] [--latency 1.0]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from dreamcore import DreamCore, hookimpl

ROOT = Path(__file__).resolve().parents[1]
KEY_ENV = "BENCH_NIGHTLY_KEY"


def _config(folder: Path, base_url: str, sandbox: str) -> dict:
    return {
        "store": {"url": f"sqlite:///{folder / 'nightly.db'}"},
        "cycle": {"seed": 1, "concurrency": 32, "budget_usd": 100.0, "strategy": "balanced"},
        "evaluation": {"evaluator": "llm-judge", "batch_size": 25, "concurrency": 8},
        "sources": [{"project": name, "paths": [str(ROOT / "examples" / name)]} for name in ("billing", "weather")],
        "plugins": {
            "openrouter": {"base_url": base_url, "api_key_env": KEY_ENV, "concurrency": 64, "timeout": 30.0},
            "constraint_relaxation": {"mode": "both", "models": ["bench/deepseek", "bench/mistral"]},
            "cross_project": {"mode": "both", "models": ["bench/qwen", "bench/deepseek"]},
            "llm-judge": {"models": ["bench/judge"]},
            "test": {"sandbox": sandbox},
            "docker": {"image": os.environ.get("DREAMCORE_TEST_IMAGE", "dreamcore-sandbox:bookworm"), "pull": False},
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--procedures", type=int, default=50)
    parser.add_argument("--sandbox", choices=["docker", "subprocess"], default="docker")
    parser.add_argument("--latency", type=float, default=1.0)
    args = parser.parse_args()
    os.environ[KEY_ENV] = "bench-key"
    server = subprocess.Popen(
        [sys.executable, "-m", "dreamcore.testing.fake_openai", "--latency", str(args.latency)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        base_url = server.stdout.readline().strip()
        with tempfile.TemporaryDirectory() as folder, DreamCore(_config(Path(folder), base_url, args.sandbox)) as core:
            stage_seconds: dict[str, float] = {}

            class Timer:
                last = time.perf_counter()

                @hookimpl
                def stage_finished(self, cycle, stage):
                    now = time.perf_counter()
                    stage_seconds[stage] = round(now - Timer.last, 2)
                    Timer.last = now

            core.register_plugin(Timer(), name="bench-timer")
            started = Timer.last = time.perf_counter()
            cycle = core.run_cycle_sync(limit=args.procedures)
            wall = time.perf_counter() - started
            report = cycle.report
    finally:
        server.stdin.close()
        counts = json.loads(server.stdout.readlines()[-1])
        server.wait()
    print(json.dumps({
        "procedures": report["generate"]["procedures"],
        "sandbox": args.sandbox,
        "latency_s": args.latency,
        "wall_seconds": round(wall, 1),
        "seconds_by_stage": stage_seconds,
        "dreams": report["generate"]["dreams"],
        "evaluated": report.get("evaluate", {}).get("evaluated"),
        "tested": report.get("test"),
        "health": report.get("score"),
        "model_calls": counts["requests"],
        "max_in_flight": counts["max_in_flight"],
        "failures": len(cycle.failures),
        "target_seconds": 60,
        "meets_target": wall <= 60,
    }, indent=2))


if __name__ == "__main__":
    main()
