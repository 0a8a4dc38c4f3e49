"""The procrastinate executor against the local one: one cycle over the examples, side by side.

Each variant runs `dreamcore run` as a subprocess on a fresh database and times it: the local
executor on SQLite and on PostgreSQL, then the procrastinate executor with 1, 2 and 4
`dreamcore worker` processes (started and registered before the clock starts). The cycle is
mine, generate, evaluate (offline judge), score, adapt, archive — the sandbox `test` stage is switched
off: it has no fan-out yet, so it would run inside the coordinator job. ``per_job_overhead_ms`` is
(1 worker - local on PostgreSQL) / jobs: what the queue adds per job. A PostgreSQL server is started for the run (see bench_store.py).

Usage: python benchmarks/bench_distributed.py [--workers 1,2,4]
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


def write_config(folder: Path, url: str, kind: str) -> Path:
    path = folder / "dreams.toml"
    path.write_text(
        f'[store]\nurl = "{url}"\n[cycle]\nseed = 7\n[logging]\npath = ""\n'
        f'[executor]\nkind = "{kind}"\n'
        f'[[sources]]\nproject = "billing"\npaths = ["{ROOT / "examples/billing"}"]\n'
        f'[[sources]]\nproject = "weather"\npaths = ["{ROOT / "examples/weather"}"]\n'
        "[plugins.core-testing]\nenabled = false\n"  # the sandbox stage has no fan-out yet (docs/distributed.md)
    )
    return path


def reset(url: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("DROP SCHEMA public CASCADE")
        connection.execute("CREATE SCHEMA public")


def timed_run(config: Path) -> tuple[float, dict]:
    started = time.perf_counter()
    done = subprocess.run([DREAMCORE, "--config", str(config), "run", "--json"], capture_output=True, text=True,
                          timeout=1800, check=True)
    return time.perf_counter() - started, json.loads(done.stdout)


def workers_registered(url: str) -> int:
    import psycopg

    with psycopg.connect(url) as connection:
        if connection.execute("SELECT to_regclass('procrastinate_workers')").fetchone()[0] is None:
            return 0
        return connection.execute("SELECT count(*) FROM procrastinate_workers").fetchone()[0]


def distributed(folder: Path, url: str, count: int) -> dict:
    reset(url)
    config = write_config(folder, url, "procrastinate")
    workers = [subprocess.Popen([DREAMCORE, "--config", str(config), "worker", "--name", f"w{n}"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for n in range(count)]
    try:
        while workers_registered(url) < count:
            time.sleep(0.1)
        seconds, report = timed_run(config)
        import psycopg

        with psycopg.connect(url) as connection:
            jobs = dict(connection.execute(
                "SELECT task_name, count(*) FROM procrastinate_jobs GROUP BY 1").fetchall())
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            worker.wait(timeout=60)
    return {"seconds": round(seconds, 2), "dreams": report["total_dreams"], "status": report["status"],
            "jobs": jobs}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", default="1,2,4", help="worker counts to measure")
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",")]
    result: dict = {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "cycle": "mine, generate, evaluate (offline), score, adapt, archive over examples/"}
    with tempfile.TemporaryDirectory() as tmp, postgres_url() as (url, how):
        folder = Path(tmp)
        if url is None:
            print(json.dumps({**result, "skipped": how}))
            return 0
        local_sqlite = folder / "sqlite"
        local_sqlite.mkdir()
        seconds, report = timed_run(write_config(local_sqlite, "sqlite:///dreams.db", "local"))
        result["local_sqlite"] = {"seconds": round(seconds, 2), "dreams": report["total_dreams"]}
        log(f"local on SQLite: {seconds:.2f} s")
        reset(url)
        seconds, report = timed_run(write_config(folder, url, "local"))
        result["local_postgres"] = {"seconds": round(seconds, 2), "dreams": report["total_dreams"]}
        log(f"local on PostgreSQL: {seconds:.2f} s")
        for count in counts:
            result[f"workers_{count}"] = distributed(folder, url, count)
            log(f"{count} workers: {result[f'workers_{count}']['seconds']:.2f} s")
        base = result["local_postgres"]["seconds"]
        for count in counts:
            measured = result[f"workers_{count}"]
            measured["speedup_vs_local_postgres"] = round(base / measured["seconds"], 2)
        if 1 in counts:
            one = result["workers_1"]
            jobs = sum(n for task, n in one["jobs"].items() if task != "dreamcore.requeue_stalled")
            result["per_job_overhead_ms"] = round((one["seconds"] - base) / jobs * 1000, 1)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
