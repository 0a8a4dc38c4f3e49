"""Evaluation through the Claude API: 150 dreams judged through a loopback fake of the Messages API
that answers after 2 s, at batch sizes 10, 25 and 50, one prompt at a time and two at once.

Dreams come from a real cycle over examples/ (mine + generate, light strategy); every configuration
starts from a copy of the same store. Prints one JSON object: per configuration the wall time, the
batches, the tokens and cost the fake server reports (4 characters a token, Sonnet prices), and how
many dreams were evaluated. The answers are read by the test-only JSON parser of tests/fakes.py
until the json parser plugin is merged.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from dreamcore import DreamCore
from dreamcore.evaluation.judging import evaluate_pending

ROOT = Path(__file__).resolve().parents[1]


def _config(folder: Path, db: Path, url: str, batch_size: int, concurrency: int) -> dict:
    return {
        "store": {"url": f"sqlite:///{db}"},
        "cycle": {"seed": 1},
        "sources": [
            {"project": name, "paths": [str(ROOT / "examples" / name)]} for name in ("billing", "weather")
        ],
        "evaluation": {"evaluator": "claude", "batch_size": batch_size, "concurrency": concurrency},
        "plugins": {"claude": {"base_url": url, "max_retries": 0}},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dreams", type=int, default=150)
    parser.add_argument("--latency", type=float, default=2.0)
    parser.add_argument("--batch-sizes", default="10,25,50")
    parser.add_argument("--concurrency", default="1,2")
    args = parser.parse_args()
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))  # tests/ is not installed; import the fakes from the checkout
    from tests.fakes import FakeAnthropic

    os.environ.setdefault("ANTHROPIC_API_KEY", "bench-not-a-real-key")
    runs = []
    with tempfile.TemporaryDirectory() as tmp, FakeAnthropic(latency=args.latency) as server:
        folder = Path(tmp)
        seed_db = folder / "seed.db"
        with DreamCore(_config(folder, seed_db, server.url, 10, 1)) as core:
            asyncio.run(core.run_cycle(strategy="light", stages=["mine", "generate"]))
            pending = core.store.evaluation_backlog(3)["evaluable"]
        if pending < args.dreams:
            raise SystemExit(f"bench_evaluate: only {pending} dreams generated, {args.dreams} asked")
        for batch_size in (int(n) for n in args.batch_sizes.split(",")):
            for concurrency in (int(n) for n in args.concurrency.split(",")):
                db = folder / f"b{batch_size}c{concurrency}.db"
                shutil.copy(seed_db, db)
                with DreamCore(
                    _config(folder, db, server.url, batch_size, concurrency)
                ) as core:
                    started = time.perf_counter()
                    outcome = asyncio.run(
                        evaluate_pending(core, core.create("evaluators", "claude"), limit=args.dreams)
                    )
                    seconds = time.perf_counter() - started
                usage = next(iter(outcome.usage.values()), {})
                runs.append(
                    {
                        "batch_size": batch_size,
                        "concurrency": concurrency,
                        "batches": outcome.batches,
                        "evaluated": outcome.evaluated,
                        "failed": outcome.failed,
                        "wall_seconds": round(seconds, 2),
                        "seconds_per_dream": round(seconds / args.dreams, 3),
                        "input_tokens": usage.get("input_tokens", 0),
                        "output_tokens": usage.get("output_tokens", 0),
                        "cost_usd": usage.get("cost_usd", 0.0),
                    }
                )
                print(
                    f"bench_evaluate: batch {batch_size}, concurrency {concurrency}: {seconds:.1f} s",
                    file=sys.stderr,
                )
    print(json.dumps({"dreams": args.dreams, "latency_seconds": args.latency, "runs": runs}, indent=2))


if __name__ == "__main__":
    main()
