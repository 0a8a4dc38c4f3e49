"""Benchmark the sandboxes: differential cases per second; prints ONE JSON object (progress to stderr).

Side by side, in one run, on the same base/dream pair (equivalent, so every case is compared):

* ``docker_cold``: a new hardened container for every side of every case (``pool_size = 0``, one case
  per job) — what a plain ``docker run`` per case costs;
* ``docker_warm``: the warm pool (``pool_size`` = concurrency), jobs of ``--batch`` cases — base and
  dream each a fresh ``python -I`` started with ``docker exec`` in a reused container;
* ``docker_warm_single``: the warm pool with one case per job, for comparison;
* ``subprocess``: the subprocess sandbox, jobs of ``--batch`` cases.

Jobs run ``--concurrency`` at a time (default: the CPU count). Targets on a 2-core machine: warm
Docker >= 30 cases/s and >= 15x cold, subprocess >= 100 cases/s. Docker results are replaced by
``{"skipped": reason}`` when Docker or the image is unusable.

Usage: python benchmarks/bench_sandbox.py [--image NAME] [--cases N] [--cold-cases N] [--batch N]
       [--concurrency N] [--runtime runc|runsc]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dreamcore_plugins.sandboxes.docker_sandbox import DockerSandbox  # noqa: E402
from dreamcore_plugins.sandboxes.subprocess_sandbox import SubprocessSandbox  # noqa: E402

from dreamcore.sandbox.cases import generate_cases  # noqa: E402
from dreamcore.sandbox.comparison import judge  # noqa: E402
from dreamcore.sandbox.host import SandboxError, TestJob  # noqa: E402

BASE = '''def checksum(items: list[int], scale: int = 3) -> int:
    total = 0
    for item in items:
        total += (item * scale) % 97
    return total
'''
DREAM = '''def checksum(items, scale=3):
    return sum((item * scale) % 97 for item in items)
'''


async def measure(sandbox, cases: list[dict], batch: int, concurrency: int) -> dict:
    """Cases per second through ``sandbox``, jobs of ``batch`` cases, ``concurrency`` at a time."""
    jobs = [TestJob(function="checksum", base_code=BASE, dream_code=DREAM, cases=cases[i : i + batch])
            for i in range(0, len(cases), batch)]
    semaphore = asyncio.Semaphore(concurrency)
    outcomes: list[str] = []

    async def one(job: TestJob) -> None:
        async with semaphore:
            outcomes.append(judge(await sandbox.run(job), job.cases).test_outcome.value)

    async with sandbox:
        await one(jobs[0])  # warm-up (pool filled, image cached): not timed
        outcomes.clear()
        started = time.perf_counter()
        await asyncio.gather(*(one(job) for job in jobs))
        seconds = time.perf_counter() - started
    return {
        "cases": len(cases), "jobs": len(jobs), "seconds": round(seconds, 3),
        "cases_per_second": round(len(cases) / seconds, 1), "all_equivalent": set(outcomes) == {"success"},
    }


def _log(message: str) -> None:
    print(f"bench_sandbox: {message}", file=sys.stderr, flush=True)


async def main(args: argparse.Namespace) -> dict:
    cases = (generate_cases(BASE, "checksum", args.cases, 1) * args.cases)[: args.cases]
    result: dict = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "settings": {"cases": len(cases), "cold_cases": args.cold_cases, "batch": args.batch,
                     "concurrency": args.concurrency, "image": args.image, "runtime": args.runtime},
    }
    _log("subprocess")
    subprocess_sandbox = SubprocessSandbox()
    result["subprocess"] = {**await measure(subprocess_sandbox, cases, args.batch, args.concurrency),
                            "isolation": subprocess_sandbox.isolation()}
    docker = DockerSandbox.Config(image=args.image, pull=False, runtime=args.runtime, pool_size=args.concurrency)
    try:
        _log("docker warm pool")
        result["docker_warm"] = await measure(DockerSandbox(docker), cases, args.batch, args.concurrency)
        _log("docker warm pool, one case per job")
        result["docker_warm_single"] = await measure(DockerSandbox(docker), cases[: args.cold_cases * 4], 1,
                                                     args.concurrency)
        _log("docker cold")
        cold = DockerSandbox(DockerSandbox.Config(image=args.image, pull=False, runtime=args.runtime, pool_size=0))
        result["docker_cold"] = await measure(cold, cases[: args.cold_cases], 1, args.concurrency)
    except SandboxError as exc:
        for key in ("docker_warm", "docker_warm_single", "docker_cold"):
            result.setdefault(key, {"skipped": str(exc)})
        return result
    warm, cold_rate = result["docker_warm"]["cases_per_second"], result["docker_cold"]["cases_per_second"]
    result["warm_over_cold"] = round(warm / cold_rate, 1)
    result["targets"] = {
        "docker_warm_30_per_s": warm >= 30,
        "docker_warm_15x_cold": warm >= 15 * cold_rate,
        "subprocess_100_per_s": result["subprocess"]["cases_per_second"] >= 100,
    }
    return result


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", default=os.environ.get("DREAMCORE_TEST_IMAGE", "dreamcore-sandbox:bookworm"))
    parser.add_argument("--cases", type=int, default=400, help="cases for the warm pool and subprocess runs")
    parser.add_argument("--cold-cases", type=int, default=12, help="cases for the cold run (slow)")
    parser.add_argument("--batch", type=int, default=20, help="cases per job (warm pool, subprocess)")
    parser.add_argument("--concurrency", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--runtime", default="runc", help="docker runtime: runc or runsc")
    return parser.parse_args(argv)


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(parse_args(sys.argv[1:]))), indent=2))
