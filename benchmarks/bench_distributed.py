"""The procrastinate executor against the local one, side by side, on two workloads over the examples.

``cycle``: one cycle (mine, generate, evaluate with the offline judge, score, adapt, archive; no
sandbox), timed from `dreamcore run` to its end on a fresh database: the local executor on SQLite and
on PostgreSQL, then procrastinate with 1, 2 and 4 `dreamcore worker` processes (started and
registered before the clock starts). ``per_job_overhead_ms`` is (1 worker - local on PostgreSQL) /
jobs: what the queue adds per job.

``sandbox``: the sandbox stage alone (`dreamcore run --stages test`, subprocess sandbox, 20 cases per
dream) over the ~570 dreams a local cycle without it leaves evaluated, on each variant: sandbox
throughput in dreams/s. Workers wait on sandbox child processes here, so this is where more worker
processes could help — on this 2-core machine, only as far as two cores go.

A PostgreSQL server is started for the run (see bench_store.py).

Usage: python benchmarks/bench_distributed.py [--workers 1,2,4] [--workloads cycle,sandbox]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DREAMCORE = shutil.which("dreamcore", path=str(Path(sys.executable).parent)) or "dreamcore"
sys.path.insert(0, str(ROOT))
from benchmarks.bench_store import postgres_url  # noqa: E402  (the throwaway server of bench_store)


def log(message: str) -> None:
    print(f"bench_distributed: {message}", file=sys.stderr, flush=True)


NO_SANDBOX = "[plugins.sandbox-stage]\nenabled = false\n"


def write_config(folder: Path, url: str, kind: str, testing: str = NO_SANDBOX) -> Path:
    path = folder / "dreams.toml"
    path.write_text(
        f'[store]\nurl = "{url}"\n[cycle]\nseed = 7\n[logging]\npath = ""\n'
        f'[executor]\nkind = "{kind}"\n'
        f'[[sources]]\nproject = "billing"\npaths = ["{ROOT / "examples/billing"}"]\n'
        f'[[sources]]\nproject = "weather"\npaths = ["{ROOT / "examples/weather"}"]\n{testing}'
    )
    return path


def reset(url: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("DROP SCHEMA public CASCADE")
        connection.execute("CREATE SCHEMA public")


def timed_run(config: Path, *args: str) -> tuple[float, dict]:
    started = time.perf_counter()
    done = subprocess.run([DREAMCORE, "--config", str(config), "run", "--json", *args], capture_output=True,
                          text=True, timeout=1800, check=True)
    return time.perf_counter() - started, json.loads(done.stdout)


def prepare(folder: Path, url: str, workload: str) -> tuple[Path, list[str]]:
    """A fresh database ready for the workload; the local config and the timed run's arguments."""
    if url.startswith("postgresql"):
        reset(url)
    if workload == "cycle":
        return write_config(folder, url, "local"), []
    subprocess.run([DREAMCORE, "--config", str(write_config(folder, url, "local")), "run", "--json"],
                   capture_output=True, check=True, timeout=1800)  # leaves the dreams evaluated, untested
    return write_config(folder, url, "local", testing=""), ["--stages", "test"]


def figures(seconds: float, report: dict, workload: str) -> dict:
    if workload == "cycle":
        return {"seconds": round(seconds, 2), "dreams": report["total_dreams"], "status": report["status"]}
    tested = report["stages"]["test"]["dreams"]
    return {"seconds": round(seconds, 2), "dreams_tested": tested, "dreams_per_second": round(tested / seconds, 1),
            "status": report["status"]}


def workers_registered(url: str) -> int:
    import psycopg

    with psycopg.connect(url) as connection:
        if connection.execute("SELECT to_regclass('procrastinate_workers')").fetchone()[0] is None:
            return 0
        return connection.execute("SELECT count(*) FROM procrastinate_workers").fetchone()[0]


def distributed(folder: Path, url: str, count: int, workload: str) -> dict:
    local, args = prepare(folder, url, workload)
    config = folder / "distributed.toml"
    config.write_text(local.read_text().replace('kind = "local"', 'kind = "procrastinate"'))
    workers = [subprocess.Popen([DREAMCORE, "--config", str(config), "worker", "--name", f"w{n}"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for n in range(count)]
    try:
        while workers_registered(url) < count:
            time.sleep(0.1)
        seconds, report = timed_run(config, *args)
        import psycopg

        with psycopg.connect(url) as connection:
            jobs = dict(connection.execute(
                "SELECT task_name, count(*) FROM procrastinate_jobs WHERE args ? 'run_id' "
                "GROUP BY 1").fetchall())
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            worker.wait(timeout=60)
    return {**figures(seconds, report, workload), "jobs": jobs}


def measure(folder: Path, url: str, counts: list[int], workload: str) -> dict:
    """Every variant of one workload, side by side."""
    result: dict = {}
    for name, where in (("local_sqlite", "sqlite:///dreams.db"), ("local_postgres", url)):
        config, args = prepare(folder / name, where, workload)
        seconds, report = timed_run(config, *args)
        result[name] = figures(seconds, report, workload)
        log(f"{workload}, {name}: {seconds:.2f} s")
    for count in counts:
        result[f"workers_{count}"] = distributed(folder / f"workers_{count}", url, count, workload)
        log(f"{workload}, {count} workers: {result[f'workers_{count}']['seconds']:.2f} s")
    base = result["local_postgres"]["seconds"]
    for count in counts:
        result[f"workers_{count}"]["speedup_vs_local_postgres"] = round(base / result[f"workers_{count}"]["seconds"], 2)
    if 1 in counts:
        one = result["workers_1"]
        result["per_job_overhead_ms"] = round((one["seconds"] - base) / sum(one["jobs"].values()) * 1000, 1)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", default="1,2,4", help="worker counts to measure")
    parser.add_argument("--workloads", default="cycle,sandbox", help="cycle, sandbox or both")
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",")]
    result: dict = {"cpus": os.cpu_count(), "python": platform.python_version()}
    with tempfile.TemporaryDirectory() as tmp, postgres_url() as (url, how):
        if url is None:
            print(json.dumps({**result, "skipped": how}))
            return 0
        for workload in args.workloads.split(","):
            folder = Path(tmp) / workload
            for name in ("local_sqlite", "local_postgres", *(f"workers_{n}" for n in counts)):
                (folder / name).mkdir(parents=True)
            result[workload] = measure(folder, url, counts, workload)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
