"""`dreamcore run`: the cycle end to end on the examples, stdlib code, crashes and resumption."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dreamcore import DreamCore, hookimpl
from dreamcore.cli.root import main
from dreamcore.models import DreamType
from tests.factories import duplicate_dreams

ROOT = Path(__file__).resolve().parents[1]
NO_SANDBOX_TESTS = "[plugins.sandbox-stage]\nenabled = false\n"  # the sandbox stage has tests of its own
DREAMCORE = shutil.which("dreamcore", path=str(Path(sys.executable).parent))


def write_config(
    folder: Path, *, seed: int | None = 7, sources: str | None = None, extra: str = "", testing: str = NO_SANDBOX_TESTS
) -> Path:
    sources = sources or (
        f'[[sources]]\nproject = "billing"\npaths = ["{ROOT / "examples/billing"}"]\n'
        f'[[sources]]\nproject = "weather"\npaths = ["{ROOT / "examples/weather"}"]\n'
    )
    seed_line = f"seed = {seed}\n" if seed is not None else ""
    path = folder / "dreams.toml"
    path.write_text(f'[store]\nurl = "sqlite:///dreams.db"\n[cycle]\n{seed_line}{extra}\n{sources}{testing}')
    return path


def dream_keys(db: Path) -> set[tuple[str, str, str]]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT p.qualname, d.dream_type, d.fingerprint FROM dream_procedures d "
            "JOIN procedures p ON p.id = d.base_procedure_id"
        )
        return set(rows)


def test_run_on_the_examples_dreams_every_type(tmp_path, capsys):
    config = write_config(tmp_path)
    assert main(["--config", str(config), "run", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["status"] == "finished" and report["failures"] == []
    assert set(report["dreams_by_type"]) == {t.value for t in DreamType}
    assert all(count > 0 for count in report["dreams_by_type"].values())
    assert report["stages"]["mine"] == {"procedures": 74, "problems": 0, "new": 74}
    assert report["total_dreams"] == sum(report["dreams_by_type"].values())
    with DreamCore(config) as core:
        stats = core.store.get_statistics()
        run = core.store.get_generation_runs()[0]
    assert stats["total_dreams"] == report["total_dreams"]
    assert run.status == "finished" and run.duration_seconds > 0
    assert run.model_usage["local"]["dreams"] == report["total_dreams"]


def test_second_run_with_the_same_seed_adds_nothing(tmp_path, capsys):
    config = write_config(tmp_path)
    assert main(["--config", str(config), "run", "--strategy", "light", "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert main(["--config", str(config), "run", "--strategy", "light", "--json"]) == 0
    second = json.loads(capsys.readouterr().out)
    assert first["total_dreams"] > 0
    assert second["stages"]["mine"]["new"] == 0
    assert second["stages"]["generate"]["dreams"] == 0
    # the adaptation plan may ask for fewer variants than the first run: those are all known already
    assert 0 < second["stages"]["generate"]["known"] <= first["total_dreams"]


def test_light_strategy_uses_its_two_generators_and_variant_count(tmp_path, capsys):
    config = write_config(tmp_path)
    assert main(["--config", str(config), "run", "--strategy", "light", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report["dreams_by_type"]) <= {"constraint_relaxation", "parameter"}
    with DreamCore(config) as core:
        for procedure in core.store.get_procedures():
            for dream_type in ("constraint_relaxation", "parameter"):
                made = [d for d in core.store.get_by_base_procedure(procedure.id, limit=None) if d.dream_type == dream_type]
                assert len(made) <= 5


def test_dry_run_stores_nothing(tmp_path, capsys):
    config = write_config(tmp_path)
    assert main(["--config", str(config), "run", "--dry-run", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["status"] == "dry-run" and report["stages"]["generate"]["dreams"] > 0
    with DreamCore(config) as core:
        assert core.store.get_statistics()["total_dreams"] == 0
        assert core.store.count_procedures() == 0
        assert core.store.get_generation_runs() == []


def test_stages_and_limit(tmp_path, capsys):
    config = write_config(tmp_path)
    assert main(["--config", str(config), "run", "--stages", "mine", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["total_dreams"] == 0
    assert main(["--config", str(config), "run", "--stages", "generate", "--limit", "3", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["stages"]["generate"]["procedures"] == 3
    with DreamCore(config) as core:
        assert len({d.base_procedure_id for d in core.store.find_dreams(limit=None)}) <= 3


@pytest.mark.parametrize(("args", "message"), [
    (["--stages", "mine,dream"], "error: unknown stage 'dream' (known: mine, generate"),
    (["--strategy", "nightmare"], "error: unknown strategy 'nightmare' (known: balanced, deep, light)"),
])
def test_bad_run_options(tmp_path, capsys, args, message):
    config = write_config(tmp_path)
    assert main(["--config", str(config), "run", *args]) == 2
    assert capsys.readouterr().err.startswith(message)


def test_a_crashing_generator_is_recorded_and_the_night_goes_on(tmp_path):
    class Flaky:
        name = "flaky"
        dream_type = "flaky"

        async def generate(self, procedure, context):
            if procedure.name.startswith("parse"):
                raise RuntimeError("cannot dream of parsers")
            return []

    class FlakyPlugin:
        @hookimpl
        def register_generators(self, register):
            register(Flaky)

    config = write_config(tmp_path, extra='strategy = "flaky"\n[strategies.flaky]\ngenerators = ["flaky", "parameter"]\n')
    with DreamCore(config, plugins=[FlakyPlugin()]) as core:
        cycle = asyncio.run(core.run_cycle())
        assert cycle.failures and all("cannot dream of parsers" in f for f in cycle.failures)
        assert cycle.run.status == "failed"
        assert cycle.run.rejected_by_reason["generator_error"] == len(cycle.failures)
        assert cycle.run.dreams_by_type["parameter"] > 0


def test_a_third_party_stage_runs_in_order(tmp_path):
    seen = []

    class Count:
        name = "count"
        order = 25

        async def run(self, cycle):
            seen.append(cycle.core.store.get_statistics()["total_dreams"])

    class StagePlugin:
        @hookimpl
        def register_stages(self, register):
            register(Count)

    with DreamCore(write_config(tmp_path), plugins=[StagePlugin()]) as core:
        cycle = asyncio.run(core.run_cycle(strategy="light"))
    assert seen == [cycle.run.total_dreams_generated] and seen[0] > 0


def test_run_on_standard_library_code_it_has_never_seen(tmp_path, capsys):
    sources = '[[sources]]\nproject = "stdlib-text"\npaths = ["textwrap", "shlex", "string"]\n' \
              '[[sources]]\nproject = "stdlib-data"\npaths = ["json", "csv", "fractions"]\n'
    config = write_config(tmp_path, sources=sources)
    assert main(["--config", str(config), "run", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["failures"] == []
    assert set(report["dreams_by_type"]) == {t.value for t in DreamType}
    assert report["stages"]["mine"]["procedures"] > 100


def _start(config: Path) -> subprocess.Popen:
    return subprocess.Popen([DREAMCORE, "--config", str(config), "run"], cwd=config.parent,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("kill_after", ["mine:", "generate: 1", "generate: 3", "generate: 5", "generate: 8"])
def test_kill_9_mid_run_then_rerun_loses_and_duplicates_nothing(tmp_path, kill_after):
    reference = tmp_path / "reference"
    reference.mkdir()
    subprocess.run([DREAMCORE, "--config", str(write_config(reference)), "run"], check=True, capture_output=True)
    expected = dream_keys(reference / "dreams.db")

    crashed = tmp_path / "crashed"
    crashed.mkdir()
    config = write_config(crashed)
    process = _start(config)
    deadline = time.monotonic() + 60
    for line in process.stderr:
        if line.startswith(kill_after) or time.monotonic() > deadline:
            break
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL

    rerun = subprocess.run([DREAMCORE, "--config", str(config), "run", "--json"], capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    report = json.loads(rerun.stdout)
    assert report["run_id"] == 1 and report["resumed"] is True
    assert dream_keys(crashed / "dreams.db") == expected
    assert duplicate_dreams(crashed / "dreams.db") == 0
    with sqlite3.connect(crashed / "dreams.db") as conn:
        assert conn.execute("SELECT status FROM dream_generation_runs").fetchall() == [("finished",)]


def test_a_changed_function_becomes_a_new_version_and_is_dreamt_again(tmp_path, capsys):
    project = tmp_path / "shop"
    shutil.copytree(ROOT / "examples" / "billing", project)
    config = write_config(tmp_path, sources=f'[[sources]]\nproject = "shop"\npaths = ["{project}"]\n')
    assert main(["--config", str(config), "run", "--strategy", "light", "--json"]) == 0
    capsys.readouterr()
    module = project / "billing" / "customers.py"
    module.write_text(module.read_text().replace("len(email) > 254", "len(email) > 320"))
    assert main(["--config", str(config), "run", "--strategy", "light", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["stages"]["mine"]["new"] == 1
    with DreamCore(config) as core:
        versions = [p for p in core.store.get_procedures(current_only=False) if p.qualname == "normalize_email"]
        assert len(versions) == 2 and versions[1].previous_id == versions[0].id
        assert "320" in versions[1].source
        assert core.store.get_by_base_procedure(versions[1].id)


def test_jsonl_procedures_from_another_system_are_dreamt(tmp_path, capsys):
    records = [
        {"qualname": "memory.recall", "source": "def recall(items, limit=10):\n    return sorted(items)[:limit]\n"},
        {"qualname": "memory.forget", "source": "def forget(items, keep=3):\n    return items[-keep:]\n"},
        "not an object",
    ]
    data = tmp_path / "procedures.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    config = write_config(tmp_path, sources=f'[[sources]]\nproject = "agent"\nplugin = "jsonl"\npaths = ["{data}"]\n')
    assert main(["--config", str(config), "run", "--json"]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["stages"]["mine"] == {"procedures": 2, "problems": 1, "new": 2}
    assert f"warning: {data}:3: expected a JSON object" in captured.err
    assert report["dreams_by_type"].get("parameter", 0) > 0


def test_one_procedure_can_be_dreamt_alone(tmp_path, capsys):
    config = write_config(tmp_path)
    assert main(["--config", str(config), "run", "--procedure", "weather.units.celsius_to_fahrenheit", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["stages"]["generate"]["procedures"] == 1 and report["total_dreams"] > 0
    with DreamCore(config) as core:
        names = {d.base_procedure_name for d in core.store.find_dreams(limit=None)}
    assert names == {"celsius_to_fahrenheit"}


def test_an_unknown_procedure_ends_the_run_without_leaving_it_to_resume(tmp_path, capsys):
    config = write_config(tmp_path)
    assert main(["--config", str(config), "run", "--procedure", "no_such_function"]) == 2
    assert "no procedure named 'no_such_function'" in capsys.readouterr().err
    with DreamCore(config) as core:
        run = core.store.get_generation_runs()[0]
        assert run.status == "failed" and "no_such_function" in run.stop_reason
        assert core.store.get_unfinished_run() is None
