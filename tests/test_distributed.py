"""The procrastinate executor: real PostgreSQL, real `dreamcore worker` processes, kill -9 included."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import psycopg
import pytest

from dreamcore.cli.root import main
from tests.test_run import DREAMCORE, NO_SANDBOX_TESTS, write_config

EXECUTOR = '[executor]\nkind = "procrastinate"\ngenerate_batch = 2\nstalled_after = 5\n'


def distributed_config(folder: Path, url: str, testing: str = NO_SANDBOX_TESTS) -> Path:
    path = write_config(folder, testing=testing)
    text = path.read_text().replace('url = "sqlite:///dreams.db"', f'url = "{url}"')
    path.write_text(text.replace("[cycle]\n", f'{EXECUTOR}[logging]\npath = ""\n[cycle]\n', 1))
    return path


def local_dreams_by_type(folder: Path, capsys) -> dict[str, int]:
    folder.mkdir()
    assert main(["--config", str(write_config(folder)), "run", "--json"]) == 0
    return json.loads(capsys.readouterr().out)["dreams_by_type"]


def start_worker(config: Path, folder: Path, name: str, queues: str = "") -> subprocess.Popen:
    log = (folder / f"{name}.log").open("w")
    chosen = ["--queues", queues] if queues else []
    return subprocess.Popen([DREAMCORE, "--config", str(config), "worker", "--name", name, "--concurrency", "2",
                             *chosen], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def stop(workers: list[subprocess.Popen]) -> None:
    for worker in workers:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
    for worker in workers:
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()


def query(url: str, sql: str) -> list[tuple]:
    with psycopg.connect(url) as connection:
        return connection.execute(sql).fetchall()


def test_procrastinate_needs_a_postgresql_store(tmp_path, capsys):
    config = write_config(tmp_path, extra="")
    config.write_text(config.read_text() + '[executor]\nkind = "procrastinate"\n')
    for command in (["run"], ["worker"], ["cluster", "status"]):
        assert main(["--config", str(config), *command]) == 2
        err = capsys.readouterr().err.strip()
        assert err.endswith("executor.kind: procrastinate keeps its jobs in the store, which must be PostgreSQL "
                            "(store.url is sqlite://...)"), err
        assert "\n" not in err


def test_an_unreachable_server_is_one_line_without_the_password(tmp_path, capsys):
    config = distributed_config(tmp_path, "postgresql://dreamer:hunter2@127.0.0.1:1/dreams")
    for command in (["run"], ["worker"], ["cluster", "status"]):
        assert main(["--config", str(config), *command]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: store: cannot connect to PostgreSQL 127.0.0.1:1/dreams"), err
        assert "\n" not in err and "hunter2" not in err


def test_procrastinate_needs_the_distributed_extra(tmp_path, pg):
    config = distributed_config(tmp_path, pg)
    script = "import sys; sys.modules['procrastinate'] = None; from dreamcore.cli.root import main; sys.exit(main(sys.argv[1:]))"
    done = subprocess.run([sys.executable, "-c", script, "--config", str(config), "run"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().endswith(
        "executor.kind: procrastinate is not installed (pip install 'dreamcore[distributed]')"), done.stderr


def test_detach_needs_the_procrastinate_executor(tmp_path, capsys):
    assert main(["--config", str(write_config(tmp_path)), "run", "--detach"]) == 2
    assert "--detach needs [executor] kind" in capsys.readouterr().err


def run_killing_one_of_three(config: Path, folder: Path, url: str, queue: str | None = None) -> tuple[dict, int]:
    """`dreamcore run` on three workers, one of them killed -9 at its first job of ``queue`` (any but
    the coordinator's without); the run's summary and the killed job's id."""
    victim = start_worker(config, folder, "victim")
    workers = [victim]
    try:
        victim_id = _first_worker(url)
        workers += [start_worker(config, folder, f"w{n}") for n in (2, 3)]
        run = subprocess.Popen([DREAMCORE, "--config", str(config), "run", "--json"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        killed_job = _kill_when_busy(victim, url, victim_id, queue)
        out, _ = run.communicate(timeout=600)
        assert run.returncode == 0, out
    finally:
        stop(workers)
    return json.loads(out), killed_job


def test_a_worker_killed_mid_run_loses_and_repeats_nothing(tmp_path, pg, capsys):
    expected = local_dreams_by_type(tmp_path / "local", capsys)
    report, killed_job = run_killing_one_of_three(distributed_config(tmp_path, pg), tmp_path, pg)
    assert report["status"] == "finished"
    assert report["dreams_by_type"] == expected
    total = sum(expected.values())
    assert query(pg, "SELECT status, count(*) FROM dream_procedures GROUP BY status") == [("evaluated", total)]
    assert query(pg, "SELECT base_procedure_id, fingerprint FROM dream_procedures GROUP BY 1, 2 "
                     "HAVING count(*) > 1") == []
    assert query(pg, "SELECT count(*) FROM rejected_drafts WHERE category <> 'duplicate'") == [(0,)]
    assert query(pg, "SELECT count(*) FROM dream_metrics") == [(1,)]
    # the job the killed worker held was re-queued and then done by another worker
    [(status, attempts)] = query(pg, f"SELECT status::text, attempts FROM procrastinate_jobs WHERE id = {killed_job}")
    assert (status, attempts) == ("succeeded", 2)  # a job that ran once ends with 1


def test_a_worker_killed_mid_sandbox_tests_leaves_every_dream_tested_once(tmp_path, pg):
    config = distributed_config(tmp_path, pg, testing="[plugins.test]\ncases = 10\n")
    report, killed_job = run_killing_one_of_three(config, tmp_path, pg, queue="sandbox")
    assert report["status"] == "finished" and report["failures"] == []
    statuses = dict(query(pg, "SELECT status, count(*) FROM dream_procedures GROUP BY status"))
    assert statuses["tested"] >= 500 and "pending_test" not in statuses
    assert query(pg, "SELECT count(*) FROM dream_procedures WHERE status = 'evaluated' AND tier <> 3") == [(0,)]
    # each dream was moved to tested by one job only: the jobs' counts add up to the dreams tested,
    # and each failing dream was counted once in the failure patterns
    assert report["stages"]["test"]["dreams"] == statuses["tested"]
    assert query(pg, "SELECT coalesce(sum(count), 0) FROM failure_patterns") == query(
        pg, "SELECT count(*) FROM dream_procedures WHERE failure_category IS NOT NULL")
    [(status, attempts)] = query(pg, f"SELECT status::text, attempts FROM procrastinate_jobs WHERE id = {killed_job}")
    assert (status, attempts) == ("succeeded", 2)


def test_sandbox_queue_workers_test_in_docker(tmp_path, pg):
    """Workers on a Docker host take the sandbox queue, the others the rest; nothing is left running."""
    import docker
    from sandbox_support import IMAGE, docker_config

    docker_config()  # skips outside CI when Docker is unusable, fails under CI
    config = distributed_config(tmp_path, pg, testing=(
        f'[plugins.test]\nsandbox = "docker"\ncases = 5\n[plugins.docker]\nimage = "{IMAGE}"\npull = false\n'))
    workers = [start_worker(config, tmp_path, "docker-1", "sandbox"), start_worker(config, tmp_path, "docker-2", "sandbox"),
               start_worker(config, tmp_path, "other", "cycle,llm,judge")]
    try:
        done = subprocess.run([DREAMCORE, "--config", str(config), "run", "--json", "--limit", "6"],
                              capture_output=True, text=True, timeout=600)
    finally:
        stop(workers)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["status"] == "finished" and report["stages"]["test"]["dreams"] == 6
    assert query(pg, "SELECT count(*) FROM dream_procedures WHERE status = 'tested' AND test_outcome IS NOT NULL") == [(6,)]
    ran = dict(query(pg, "SELECT queue_name, count(*) FROM procrastinate_jobs WHERE task_name = 'dreamcore.test' "
                         "GROUP BY 1"))
    assert ran == {"sandbox": 1}
    owners = {f":{worker.pid}" for worker in workers}
    left = [c.id for c in docker.from_env().containers.list(all=True, filters={"label": "dreamcore.sandbox"})
            if any(c.labels.get("dreamcore.sandbox.owner", "").endswith(owner) for owner in owners)]
    assert left == []


def _first_worker(url: str) -> int:
    """The id of the one worker started, once it has joined."""
    deadline = time.monotonic() + 60
    while not _workers(url) and time.monotonic() < deadline:
        time.sleep(0.1)
    [worker_id] = _workers(url)
    return worker_id


def _workers(url: str) -> list[int]:
    try:
        return [row[0] for row in query(url, "SELECT id FROM procrastinate_workers ORDER BY id")]
    except psycopg.errors.UndefinedTable:  # the first worker has not created procrastinate's tables yet
        return []


def _kill_when_busy(victim: subprocess.Popen, url: str, victim_id: int, queue: str | None = None) -> int:
    """kill -9 the victim as soon as it runs a job of ``queue`` (any but the coordinator's without);
    returns that job's id."""
    where = f"queue_name = '{queue}'" if queue else "queue_name <> 'cycle'"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        busy = query(url, f"SELECT id FROM procrastinate_jobs WHERE status = 'doing' AND {where} "
                          f"AND worker_id = {victim_id}")
        if busy:
            os.killpg(victim.pid, signal.SIGKILL)
            victim.wait()
            return busy[0][0]
        time.sleep(0.02)
    raise AssertionError("the victim never ran a job")



def _snapshot(url: str) -> list:
    return [query(url, sql) for sql in (
        "SELECT id, status, tier, viability_score, claude_reasoning, compound_score, test_outcome, test_timestamp "
        "FROM dream_procedures ORDER BY id", "SELECT category, pattern, count FROM failure_patterns ORDER BY 1, 2",
        "SELECT count(*) FROM rejected_drafts", "SELECT count(*) FROM dream_metrics",
        "SELECT count(*) FROM adaptation_plans", "SELECT id, status, finished_at FROM dream_generation_runs",
        "SELECT * FROM dream_counts ORDER BY 1, 2, 3, 4",
    )]


def test_every_job_run_again_changes_nothing_and_old_jobs_are_pruned(tmp_path, pg, capsys):
    """At-least-once delivery: each job of a finished cycle delivered a second time has no effect."""
    import asyncio

    from dreamcore import DreamCore
    from dreamcore.distributed.commands import ensure_schema
    from dreamcore.distributed.jobs import make_app, prune_jobs, submit

    config = distributed_config(tmp_path, pg, testing="[plugins.test]\ncases = 5\n")
    ensure_schema(pg)
    with DreamCore(config) as core:
        app = make_app(pg)

        async def work() -> None:
            await app.run_worker_async(wait=False, additional_context={"core": core}, concurrency=1,
                                       update_heartbeat_interval=1)  # stalled_after is 5 s here

        async def cycle() -> int:
            async with app.open_async():
                run_id = await submit(core, app, limit=12)
                while core.store.get_generation_run(run_id).status == "running":
                    await work()
                return run_id

        run_id = asyncio.run(cycle())
        assert core.store.get_generation_run(run_id).status == "finished", core.store.get_generation_run(run_id).stop_reason
        before = _snapshot(pg)
        jobs = query(pg, "SELECT task_name, args FROM procrastinate_jobs WHERE args ? 'run_id' ORDER BY id")
        assert {task for task, _ in jobs} == {"dreamcore.generate", "dreamcore.evaluate", "dreamcore.test",
                                              "dreamcore.advance"}
        assert query(pg, "SELECT count(*) FROM dream_procedures WHERE status = 'tested'")[0][0] > 0

        async def again() -> None:
            async with app.open_async():
                for task, args in jobs:
                    await app.configure_task(task).defer_async(**args)
                await work()

        asyncio.run(again())
        assert query(pg, "SELECT count(*) FROM procrastinate_jobs WHERE status <> 'succeeded'") == [(0,)]
        assert _snapshot(pg) == before

        # a week later the hourly prune deletes the rows of succeeded jobs; failed ones stay
        with psycopg.connect(pg, autocommit=True) as connection:
            connection.execute("UPDATE procrastinate_events SET at = at - interval '169 hours'")
            connection.execute("UPDATE procrastinate_jobs SET status = 'failed' WHERE id = (SELECT min(id) "
                               "FROM procrastinate_jobs)")

        async def prune() -> None:
            async with app.open_async():
                await prune_jobs(SimpleNamespace(app=app, additional_context={"core": core}), 0)

        asyncio.run(prune())
        assert query(pg, "SELECT status::text, count(*) FROM procrastinate_jobs GROUP BY 1") == [("failed", 1)]
        assert _snapshot(pg) == before


def test_the_nightly_cycle_fires_once_per_tick_with_three_workers(tmp_path, pg):
    config = distributed_config(tmp_path, pg)
    config.write_text(config.read_text().replace("stalled_after = 5\n", 'stalled_after = 5\nnightly = "* * * * * */4"\n'))
    workers = [start_worker(config, tmp_path, f"w{n}") for n in (1, 2, 3)]
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(_ticks(pg)) < 3:
            time.sleep(0.5)
    finally:
        stop(workers)
    ticks = _ticks(pg)
    assert len(ticks) >= 3
    assert all(jobs == 1 for jobs in ticks.values()), ticks  # three workers, one job per tick
    assert all(later - earlier >= 4 for earlier, later in zip(sorted(ticks), sorted(ticks)[1:])), ticks
    assert query(pg, "SELECT count(*) FROM dream_generation_runs")[0][0] >= 1


def _ticks(url: str) -> dict[int, int]:
    try:
        rows = query(url, "SELECT (args->>'timestamp')::bigint, count(*) FROM procrastinate_jobs "
                          "WHERE task_name = 'dreamcore.nightly' GROUP BY 1")
    except psycopg.errors.UndefinedTable:
        return {}
    return dict(rows)


def test_a_local_run_leaves_a_run_on_workers_alone(tmp_path, pg, capsys):
    config = distributed_config(tmp_path, pg)
    assert main(["--config", str(config), "run", "--detach", "--limit", "2"]) == 0
    capsys.readouterr()
    before = query(pg, "SELECT id, status FROM dream_generation_runs"), query(pg, "SELECT count(*) FROM dream_procedures")
    local = tmp_path / "local.toml"
    local.write_text(config.read_text().replace('kind = "procrastinate"', 'kind = "local"'))
    assert main(["--config", str(local), "run"]) == 3
    err = capsys.readouterr().err.strip()
    assert err.endswith("run 1 is running on procrastinate workers; follow it with `dreamcore cluster status`, "
                        "or resume it there with [executor] kind = 'procrastinate'"), err
    assert "\n" not in err
    assert (query(pg, "SELECT id, status FROM dream_generation_runs"),
            query(pg, "SELECT count(*) FROM dream_procedures")) == before == ([(1, "running")], [(0,)])


def test_an_embedding_program_runs_the_cycle_on_workers(tmp_path, pg):
    from dreamcore import DreamCore
    from dreamcore.errors import ConfigError

    workers = [start_worker(distributed_config(tmp_path, pg), tmp_path, "w1")]
    try:
        with DreamCore(tmp_path / "dreams.toml") as core:
            cycle = core.run_cycle_sync(limit=3)
    finally:
        stop(workers)
    assert (cycle.run.status, cycle.run.executor, cycle.failures) == ("finished", "procrastinate", [])
    assert cycle.report["generate"]["dreams"] == cycle.run.total_dreams_generated > 0
    assert cycle.report["evaluate"]["evaluated"] == cycle.run.total_dreams_generated
    (tmp_path / "local").mkdir()
    with DreamCore(write_config(tmp_path / "local")) as local:
        with pytest.raises(ConfigError, match='detach needs \\[executor\\] kind = "procrastinate"'):
            local.run_cycle_sync(detach=True)


def test_detached_run_then_cluster_status(tmp_path, pg):
    config = distributed_config(tmp_path, pg)
    detached = subprocess.run([DREAMCORE, "--config", str(config), "run", "--detach", "--json", "--limit", "3"],
                              capture_output=True, text=True, timeout=120)
    assert detached.returncode == 0, detached.stderr
    report = json.loads(detached.stdout)
    assert (report["status"], report["detached"]) == ("running", True)
    status = json.loads(subprocess.run([DREAMCORE, "--config", str(config), "cluster", "status", "--json"],
                                       capture_output=True, text=True, timeout=120, check=True).stdout)
    assert status == {"workers": [], "queues": {"cycle": {"todo": 1}}, "stalled_jobs": []}
    workers = [start_worker(config, tmp_path, "w1")]
    try:
        deadline = time.monotonic() + 120
        while query(pg, "SELECT status FROM dream_generation_runs")[0][0] == "running":
            assert time.monotonic() < deadline
            time.sleep(0.2)
        status = json.loads(subprocess.run([DREAMCORE, "--config", str(config), "cluster", "status", "--json"],
                                           capture_output=True, text=True, timeout=120, check=True).stdout)
    finally:
        stop(workers)
    assert query(pg, "SELECT status FROM dream_generation_runs") == [("finished",)]
    assert [worker["alive"] for worker in status["workers"]] == [True]
    assert set(status["queues"]) == {"cycle", "llm", "judge"}  # no sandbox jobs: that stage is off here
    assert all(set(counts) == {"succeeded"} for queue, counts in status["queues"].items() if queue != "cycle")
    assert query(pg, "SELECT count(DISTINCT base_procedure_id) FROM dream_procedures") == [(3,)]
