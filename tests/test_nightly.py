"""Nightly operation: the single-run lock, the run log, and the cron job (with the real cron daemon)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import textwrap
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from dreamcore.cli.root import main
from dreamcore.store.dream_store import DreamStore
from dreamcore.store.lock import RunLocked, run_lock
from tests.factories import duplicate_dreams

ROOT = Path(__file__).resolve().parents[1]
SECRET = "sk-or-nightly-0123456789abcdef"


NO_SANDBOX_TESTS = "[plugins.sandbox-stage]\nenabled = false\n"  # the sandbox stage has tests of its own
FEW_SANDBOX_TESTS = "[plugins.test]\ncases = 4\ntiers = [1]\n"


def small_config(
    folder: Path, store_url: str = "sqlite:///dreams.db", extra: str = "", testing: str = NO_SANDBOX_TESTS
) -> Path:
    path = folder / "dreams.toml"
    path.write_text(
        f'[store]\nurl = "{store_url}"\n[cycle]\nseed = 3\nstrategy = "light"\n{extra}\n'
        f'[[sources]]\nproject = "billing"\npaths = ["{ROOT / "examples/billing"}"]\n{testing}'
    )
    return path


def hold_lock(config: Path) -> subprocess.Popen:
    """A second process that takes the run lock of ``config``'s store and keeps it until killed."""
    script = textwrap.dedent(
        f"""
        import sys, time
        from dreamcore import DreamCore
        from dreamcore.store.lock import run_lock
        with DreamCore({str(config)!r}) as core, run_lock(core.store):
            print("locked", flush=True)
            time.sleep(600)
        """
    )
    holder = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    return holder


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_an_overlapping_run_exits_3_and_the_lock_dies_with_its_holder(backend, tmp_path, capsys, request):
    url = request.getfixturevalue("postgres_url") if backend == "postgres" else "sqlite:///dreams.db"
    config = small_config(tmp_path, url)
    holder = hold_lock(config)
    try:
        assert main(["--config", str(config), "run"]) == 3
        assert "another dreamcore run" in capsys.readouterr().err
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert main(["--config", str(config), "run", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "finished"


def test_the_lock_excludes_runs_in_the_same_process_too(tmp_path):
    with DreamStore(f"sqlite:///{tmp_path / 'dreams.db'}") as store:
        with run_lock(store):
            with pytest.raises(RunLocked, match="another dreamcore run"), run_lock(store):
                pass
        with run_lock(store):  # released once the block ends
            pass


def test_a_dry_run_needs_no_lock(tmp_path, capsys):
    config = small_config(tmp_path)
    holder = hold_lock(config)
    try:
        assert main(["--config", str(config), "run", "--dry-run", "--json"]) == 0
    finally:
        holder.kill()
        holder.wait()


def test_the_run_log_holds_progress_summary_and_errors(tmp_path, capsys):
    config = small_config(tmp_path, extra='[logging]\npath = "logs/night.log"\nkeep_days = 3\n')
    assert main(["--config", str(config), "run"]) == 0
    log = (tmp_path / "logs/night.log").read_text()
    assert "INFO dreamcore.run: mine: 1 to do" in log
    assert "INFO dreamcore: summary: " in log
    summary = json.loads(log.split("summary: ", 1)[1].splitlines()[0])
    assert summary["status"] == "finished" and summary["total_dreams"] > 0
    holder = hold_lock(config)
    try:
        assert main(["--config", str(config), "run"]) == 3
    finally:
        holder.kill()
        holder.wait()
    assert "ERROR dreamcore: another dreamcore run" in (tmp_path / "logs/night.log").read_text()


def test_an_unwritable_log_path_is_one_clear_line(tmp_path, capsys):
    (tmp_path / "blocker").write_text("a file, not a folder")
    config = small_config(tmp_path, extra='[logging]\npath = "blocker/night.log"\n')
    assert main(["--config", str(config), "run"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "logging.path: cannot write" in err and len(err.splitlines()) == 1


@pytest.mark.parametrize(
    "table, message",
    [
        ('level = "loud"', "logging.level: unknown level 'loud'"),
        ("keep_days = 0", "logging.keep_days: must be between 1 and 366, got 0"),
        ("path = 7", "logging.path: expected a string, got an integer"),
    ],
)
def test_bad_logging_options_are_rejected(tmp_path, capsys, table, message):
    config = small_config(tmp_path, extra=f"[logging]\n{table}\n")
    assert main(["--config", str(config), "run"]) == 2
    assert message in capsys.readouterr().err


# -- cron -------------------------------------------------------------------------------------------
def _crontab() -> str:
    done = subprocess.run(["crontab", "-l"], capture_output=True, text=True)
    return done.stdout if done.returncode == 0 else ""


@pytest.fixture
def crontab():
    """The user's real crontab, restored after the test."""
    if shutil.which("crontab") is None:
        if os.environ.get("CI"):
            pytest.fail("cron is not installed (.ci/run installs it)")
        pytest.skip("cron is not installed")
    saved = _crontab()
    yield
    subprocess.run(["crontab", "-"], input=saved, text=True, check=True)


def test_schedule_install_is_idempotent_keeps_other_jobs_and_keeps_secrets_out(tmp_path, crontab, capsys, monkeypatch):
    subprocess.run(["crontab", "-"], input="17 1 * * * echo someone-else # not ours\n", text=True, check=True)
    config = small_config(tmp_path)
    monkeypatch.setenv("PGPASSWORD", SECRET)
    assert main(["--config", str(config), "schedule", "install", "--time", "02:45", "--strategy", "light"]) == 0
    assert main(["--config", str(config), "schedule", "install", "--time", "04:10"]) == 0
    table = _crontab()
    ours = [line for line in table.splitlines() if str(config) in line]
    assert len(ours) == 1 and ours[0].startswith("10 4 * * * ")
    assert f"{sys.executable} -m dreamcore --config {config} run" in ours[0]
    assert "echo someone-else" in table and SECRET not in table
    assert "installed in crontab: every night at 04:10" in capsys.readouterr().out
    assert main(["--config", str(config), "schedule", "status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert [job["time"] for job in status["jobs"]] == ["04:10"]
    assert main(["--config", str(config), "schedule", "uninstall"]) == 0
    assert "removed 1 job" in capsys.readouterr().out
    assert str(config) not in _crontab() and "echo someone-else" in _crontab()


def test_the_env_file_holds_the_named_secrets_with_mode_0600(tmp_path, monkeypatch):
    from dreamcore.cli import schedule
    from dreamcore.config import load

    config = small_config(
        tmp_path, "postgresql://dreamer@localhost/dreams",
        extra='[plugins.some_model]\napi_key_env = "DREAMCORE_NIGHTLY_KEY"\n',
    )
    monkeypatch.setenv("PGPASSWORD", SECRET)
    monkeypatch.setenv("DREAMCORE_NIGHTLY_KEY", SECRET + "-2")
    env_file, missing = schedule.write_env_file(load(config))
    assert missing == []
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    text = env_file.read_text()
    assert f"export PGPASSWORD={SECRET}" in text and f"export DREAMCORE_NIGHTLY_KEY={SECRET}-2" in text
    command = schedule.job_command(config, env_file, tmp_path / "out.log", None)
    assert SECRET not in command and str(env_file) in command
    sourced = subprocess.run(
        ["sh", "-c", f"set -a; . {env_file}; set +a; env"], capture_output=True, text=True, env={}, check=True
    )
    assert f"DREAMCORE_NIGHTLY_KEY={SECRET}-2" in sourced.stdout


def test_unset_secrets_are_warned_about(tmp_path, monkeypatch):
    from dreamcore.cli import schedule
    from dreamcore.config import load

    config = small_config(tmp_path, "postgresql://dreamer@localhost/dreams")
    monkeypatch.delenv("PGPASSWORD", raising=False)
    _, missing = schedule.write_env_file(load(config))
    assert missing == ["PGPASSWORD"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--time", "25:00"], "--time: expected HH:MM"),
        (["--time", "3pm"], "--time: expected HH:MM"),
        (["--strategy", "nightmare"], "--strategy: unknown strategy 'nightmare'"),
    ],
)
def test_bad_schedule_input_is_one_line_and_installs_nothing(tmp_path, crontab, capsys, args, message):
    config = small_config(tmp_path)
    before = _crontab()
    assert main(["--config", str(config), "schedule", "install", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert _crontab() == before


def test_system_schedule_writes_one_file_in_cron_d(tmp_path, capsys):
    if os.geteuid() != 0:
        assert main(["--config", str(small_config(tmp_path)), "schedule", "install", "--system"]) == 2
        assert "needs root" in capsys.readouterr().err
        return
    config = small_config(tmp_path)
    assert main(["--config", str(config), "schedule", "install", "--system", "--time", "05:20"]) == 0
    assert main(["--config", str(config), "schedule", "install", "--system", "--time", "05:25"]) == 0
    files = [p for p in Path("/etc/cron.d").glob("dreamcore-*") if str(config) in p.read_text()]
    try:
        assert len(files) == 1
        lines = [line for line in files[0].read_text().splitlines() if line and not line.startswith("#")]
        assert len(lines) == 1 and lines[0].startswith("25 5 * * * root ")
    finally:
        assert main(["--config", str(config), "schedule", "uninstall"]) == 0
    assert not files[0].exists()


def _cron_running() -> bool:
    return subprocess.run(["pgrep", "-x", "cron"], capture_output=True).returncode == 0


def test_the_real_cron_daemon_fires_the_installed_job(tmp_path, crontab, capsys):
    if not _cron_running():
        if os.environ.get("CI"):
            pytest.fail("the cron daemon is not running (.ci/run starts it)")
        pytest.skip("the cron daemon is not running")
    config = small_config(tmp_path, extra='[logging]\npath = "logs/night.log"\n')
    now = datetime.now()
    at = now + timedelta(minutes=1 if now.second < 45 else 2)
    assert main(["--config", str(config), "schedule", "install", "--time", f"{at:%H:%M}"]) == 0
    log = tmp_path / "logs/night.log"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and "summary: " not in (log.read_text() if log.exists() else ""):
        time.sleep(2)
    output = tmp_path / "logs/cron-output.log"
    assert log.exists(), f"cron did not run the job; its output: {output.read_text() if output.exists() else '-'}"
    summary = json.loads(log.read_text().split("summary: ", 1)[1].splitlines()[0])
    assert summary["status"] == "finished" and summary["total_dreams"] > 0
    assert "dreams" in output.read_text()  # the run's stdout, appended by the cron line


# -- crashes ----------------------------------------------------------------------------------------
def _dream_states(db: Path) -> set[tuple]:
    import sqlite3

    with sqlite3.connect(db) as conn:
        return set(conn.execute(
            "SELECT p.qualname, d.dream_type, d.fingerprint, d.status, d.tier, d.test_outcome "
            "FROM dream_procedures d JOIN procedures p ON p.id = d.base_procedure_id"
        ))


def _finished_runs(db: Path) -> int:
    """How many runs the store holds as finished (0 before the store exists)."""
    import sqlite3

    if not db.exists():
        return 0
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        try:
            return conn.execute("SELECT COUNT(*) FROM dream_generation_runs WHERE status = 'finished'").fetchone()[0]
        except sqlite3.OperationalError:  # killed before its tables were made
            return 0


def test_kill_9_at_up_to_20_random_moments_of_a_full_cycle_loses_and_duplicates_nothing(tmp_path):
    import random
    import sqlite3

    reference = tmp_path / "reference"
    reference.mkdir()
    command = [sys.executable, "-m", "dreamcore", "--config"]
    started = time.monotonic()
    subprocess.run([*command, str(small_config(reference, testing=FEW_SANDBOX_TESTS)), "run"], check=True,
                   capture_output=True)
    full_run = time.monotonic() - started
    expected = _dream_states(reference / "dreams.db")

    crashed = tmp_path / "crashed"
    crashed.mkdir()
    config = small_config(crashed, testing=FEW_SANDBOX_TESTS)
    rng = random.Random(20)
    kills, finished = 0, False
    while kills < 20 and not finished:  # kill the same cycle until it manages to finish
        process = subprocess.Popen([*command, str(config), "run"], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        try:
            finished = process.wait(timeout=rng.uniform(0.3, full_run / 3)) == 0
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGKILL)
            process.wait()
            kills += 1
            # a kill after the run was marked finished (while the report is written, say) ends the
            # cycle too: running again would start the next night's cycle, with new dreams
            finished = _finished_runs(crashed / "dreams.db") == 1
    assert kills >= 5  # each killed run leaves progress, so a later one may finish inside its time
    if not finished:  # the next run completes the cycle the kills interrupted
        final = subprocess.run([*command, str(config), "run", "--json"], capture_output=True, text=True)
        assert final.returncode == 0, final.stderr
        assert json.loads(final.stdout)["resumed"] is True
    assert _dream_states(crashed / "dreams.db") == expected
    assert duplicate_dreams(crashed / "dreams.db") == 0
    with sqlite3.connect(crashed / "dreams.db") as conn:
        assert conn.execute("SELECT COUNT(*) FROM dream_generation_runs WHERE status = 'running'").fetchone() == (0,)


def test_two_runs_started_together_one_exits_3(tmp_path):
    config = small_config(tmp_path)
    command = [sys.executable, "-m", "dreamcore", "--config", str(config), "run", "--strategy", "deep"]
    first = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    time.sleep(0.2)
    second = subprocess.run(command, capture_output=True, text=True)
    first_err = first.communicate()[1]
    codes = sorted([first.returncode, second.returncode])
    assert codes == [0, 3], (first_err, second.stderr)
    loser = second.stderr if second.returncode == 3 else first_err
    assert "another dreamcore run" in loser
