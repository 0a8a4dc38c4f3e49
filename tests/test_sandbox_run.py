"""The test stage inside `dreamcore run` on the examples, with the subprocess and the Docker sandbox."""

from __future__ import annotations

import asyncio
import json

import pytest
from dreamcore_plugins.sandboxes.subprocess_sandbox import SubprocessSandbox
from sandbox_support import IMAGE, docker_config
from test_run import write_config

from dreamcore import DreamCore
from dreamcore.cli.root import main
from dreamcore.models import DreamStatus, DreamTier
from dreamcore.sandbox.stage import TestStage
from tests.factories import dream as make_dream
from tests.factories import example_procedures

SANDBOXES = {
    "subprocess": '[plugins.test]\nsandbox = "subprocess"\ncases = 8\n',
    "docker": f'[plugins.test]\nsandbox = "docker"\ncases = 8\n[plugins.docker]\nimage = "{IMAGE}"\npull = false\n',
}


def _evaluate(config, tiers):
    """Stand in for the evaluate stage: give dreams a tier and mark them evaluated."""
    with DreamCore(config) as core:
        dreams = core.store.get_by_status(DreamStatus.PENDING_EVALUATION, limit=None)
        for dream, tier in zip(dreams, tiers):
            assert core.store.transition(dream.id, DreamStatus.PENDING_EVALUATION, DreamStatus.EVALUATED, tier=tier)
        return dreams[: len(tiers)]


@pytest.mark.parametrize("sandbox", ["subprocess", "docker"])
def test_the_test_stage_in_a_run(tmp_path, capsys, sandbox):
    if sandbox == "docker":
        docker_config()  # skips outside CI when Docker is unusable, fails under CI
    extra = "strategy = \"light\"\n"
    config = write_config(tmp_path, testing="", extra=extra)
    config.write_text(config.read_text() + SANDBOXES[sandbox])
    assert main(["--config", str(config), "run", "--stages", "mine,generate", "--json"]) == 0
    capsys.readouterr()
    tiers = [DreamTier.VIABLE, DreamTier.SPECULATIVE, DreamTier.ARCHIVE] * 4
    chosen = _evaluate(config, tiers)
    assert main(["--config", str(config), "run", "--stages", "test", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)["stages"]["test"]
    assert report["dreams"] == 8  # tiers 1 and 2 only
    assert sum(report.get(outcome, 0) for outcome in ("success", "failure", "error", "timeout")) == 8
    with DreamCore(config) as core:
        tested = [core.store.get_dream(dream.id) for dream in chosen]
        patterns = core.store.get_failure_patterns()
    for dream, tier in zip(tested, tiers):
        if tier == DreamTier.ARCHIVE:
            assert dream.status == DreamStatus.EVALUATED and dream.test_outcome == "pending"
            continue
        assert dream.status == DreamStatus.TESTED and dream.test_timestamp is not None
        assert dream.test_outcome in ("success", "failure", "error", "timeout")
        if dream.test_outcome == "success":
            assert dream.equivalence_rate == 1.0 and dream.test_cases > 0 and dream.effectiveness_metric > 0
        if dream.failure_category:
            assert any(p.category == dream.failure_category for p in patterns)
    assert main(["--config", str(config), "run", "--stages", "test", "--json"]) == 0  # nothing left to test
    assert json.loads(capsys.readouterr().out)["stages"]["test"] == {"dreams": 0}


def test_an_interrupted_test_stage_is_resumed(tmp_path, capsys):
    config = write_config(tmp_path, testing="", extra="strategy = \"light\"\n")
    config.write_text(config.read_text() + SANDBOXES["subprocess"])
    assert main(["--config", str(config), "run", "--stages", "mine,generate", "--json"]) == 0
    (dream,) = _evaluate(config, [DreamTier.VIABLE])
    with DreamCore(config) as core:  # a run that died after taking the dream
        assert core.store.transition(dream.id, DreamStatus.EVALUATED, DreamStatus.PENDING_TEST)
    capsys.readouterr()
    assert main(["--config", str(config), "run", "--stages", "test", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["stages"]["test"]["dreams"] == 1
    with DreamCore(config) as core:
        assert core.store.get_dream(dream.id).status == DreamStatus.TESTED


def test_an_unusable_sandbox_fails_the_run_and_keeps_the_dreams(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    config = write_config(tmp_path, testing="", extra="strategy = \"light\"\n")
    config.write_text(config.read_text() + SANDBOXES["docker"])
    assert main(["--config", str(config), "run", "--stages", "mine,generate", "--json"]) == 0
    (dream,) = _evaluate(config, [DreamTier.VIABLE])
    capsys.readouterr()
    assert main(["--config", str(config), "run", "--stages", "test", "--json"]) == 1
    assert "Docker is not reachable" in json.loads(capsys.readouterr().out)["failures"][0]
    with DreamCore(config) as core:
        assert core.store.get_dream(dream.id).status in (DreamStatus.EVALUATED, DreamStatus.PENDING_TEST)


def _judge(procedure, code):
    stage = TestStage(TestStage.Config(cases=10))
    variant = make_dream(procedure.id or 1, code=code)

    async def go():
        async with SubprocessSandbox() as sandbox:
            return await stage.judge(sandbox, procedure, variant, seed=3)

    return asyncio.run(go())


def _example(qualname):
    return next(p for p in example_procedures() if p.qualname == qualname)


def test_a_dream_runs_inside_its_base_module_with_its_package():
    procedure = _example("parse_amount")
    assert "CURRENCY_SYMBOLS" in procedure.source  # a module constant the dream needs too
    same = procedure.source.replace("cleaned = text.strip()", "cleaned = str.strip(text)")
    assert _judge(procedure, same).test_outcome == "success"
    changed = procedure.source.replace('raise ValueError("empty amount")', "return 0")
    result = _judge(procedure, changed)
    assert result.failure_category == "divergence", result.test_error


def test_methods_are_an_error_without_a_category():
    procedure = _example_methods()[0]
    result = _judge(procedure, procedure.source)
    assert result.test_outcome == "error" and result.failure_category is None and result.failure_pattern is None


def _example_methods():
    return [p for p in example_procedures() if "." in p.qualname]
