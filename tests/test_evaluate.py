"""The offline evaluator, the evaluate stage in `dreamcore run`, and the `dreamcore evaluate` command."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from dreamcore_plugins.evaluators.offline_evaluator import OfflineEvaluator, estimate
from hypothesis import given, settings
from hypothesis import strategies as st

from dreamcore import DreamCore, config
from dreamcore.cli.root import main
from dreamcore.errors import ConfigError
from dreamcore.evaluation.judging import EvaluationBatch
from dreamcore.models import DreamStatus, DreamTier, TestOutcome
from tests.factories import dream, procedure
from tests.test_claude_code import _in_process
from tests.test_run import write_config

BASE = procedure(qualname="charge", source="def charge(amount, rate=0.2):\n    return amount * (1 + rate)\n")
BASE.id = 1


def _dream(code: str, **fields):
    return dream(1, code=code, **fields)


def test_offline_scores_are_deterministic_and_explained():
    guarded = _dream(
        "def charge(amount, rate=0.2):\n    if amount == 0:\n        return 0\n"
        "    return amount * (1 + rate)\n"
    )
    batch = EvaluationBatch(dreams=[guarded], bases={1: BASE}, prompt="")
    guarded.id = 5
    first = asyncio.run(OfflineEvaluator().evaluate(batch))
    second = asyncio.run(OfflineEvaluator().evaluate(batch))
    assert first == second and first.judge == "offline" and first.text is None
    evaluation = first.evaluations[0]
    assert evaluation.id == "D-5" and 0 <= evaluation.viability_score <= 1
    assert evaluation.reasoning.startswith(
        "offline estimate, no model was asked: safety gate passed; structural novelty"
    )
    assert "2 -> 4 lines" in evaluation.reasoning and "not tested yet" in evaluation.reasoning


def test_offline_signals_move_the_score():
    policy = EvaluationBatch(dreams=[], bases={}, prompt="").safety
    same, _ = estimate(_dream(BASE.source), BASE, policy)
    changed, _ = estimate(
        _dream("def charge(amount, rate=0.25):\n    return round(amount * (1 + rate), 2)\n"), BASE, policy
    )
    refused, why = estimate(
        _dream("import os\ndef charge(amount, rate=0.2):\n    os.system('x')\n"), BASE, policy
    )
    broken, _ = estimate(_dream("def charge(:\n"), BASE, policy)
    assert same == 0.25 < changed and refused == 0.05 and broken == 0.0 and "safety gate" in why[0]
    bloated = (
        "def charge(amount, rate=0.2):\n"
        + "".join(
            f"    if amount > {n} and rate < {n}:\n        amount = amount - {n} or amount\n"
            for n in range(12)
        )
        + "    return amount * (1 + rate)\n"
    )
    assert estimate(_dream(bloated), BASE, policy)[0] < changed
    code = "def charge(amount, rate=0.25):\n    return amount * (1 + rate)\n"
    untested = estimate(_dream(code), BASE, policy)[0]
    passed = estimate(_dream(code, test_outcome=TestOutcome.SUCCESS, equivalence_rate=1.0), BASE, policy)
    failed = estimate(_dream(code, test_outcome=TestOutcome.FAILURE), BASE, policy)
    assert failed[0] < untested < passed[0] and "tests: success, equivalence 100%" in passed[1]


def test_run_with_the_offline_evaluator_evaluates_the_examples_dreams(tmp_path, capsys):
    config = write_config(tmp_path)
    assert main(["--config", str(config), "run", "--strategy", "light", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    evaluated = report["stages"]["evaluate"]
    assert evaluated["evaluator"] == "offline" and evaluated["failed"] == 0
    assert evaluated["evaluated"] == report["total_dreams"] == sum(evaluated["by_tier"].values())
    with DreamCore(config) as core:
        assert core.store.count_by_status()[DreamStatus.PENDING_EVALUATION] == 0
        judged = core.store.get_by_status(DreamStatus.EVALUATED, limit=None)
    assert all(d.claude_reasoning.startswith("[offline] offline estimate") for d in judged)
    assert len({d.viability_score for d in judged}) > 5  # the signals tell dreams apart
    assert main(["--config", str(config), "run", "--strategy", "light", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["stages"]["evaluate"]["dreams"] == 0  # nothing judged twice


def test_a_dry_run_judges_nothing(tmp_path, capsys):
    config = write_config(tmp_path)
    assert main(["--config", str(config), "run", "--strategy", "light", "--dry-run", "--json"]) == 0
    assert "evaluate" not in json.loads(capsys.readouterr().out)["stages"]


# -- dreamcore evaluate ------------------------------------------------------------------------


@pytest.fixture
def project(tmp_path):
    config = tmp_path / "dreams.toml"
    config.write_text(
        '[store]\nurl = "sqlite:///dreams.db"\n[evaluation]\nbatch_size = 2\nmax_attempts = 1\n'
    )
    with DreamCore(config) as core:
        base = core.store.upsert_procedure(procedure(qualname="charge"))
        ids = [core.store.store_dream(dream(base, n)) for n in range(3)]
    return config, ids


def test_prompt_prints_the_pending_dreams(project, capsys):
    config, ids = project
    assert main(["--config", str(config), "evaluate", "--prompt"]) == 0
    out = capsys.readouterr().out
    assert (
        f'<dream id="D-{ids[0]}">' in out and f'<dream id="D-{ids[1]}">' in out and f"D-{ids[2]}" not in out
    )
    assert main(["--config", str(config), "evaluate", "--prompt", "--limit", "3"]) == 0
    assert f'<dream id="D-{ids[2]}">' in capsys.readouterr().out


def test_from_file_applies_an_answer(project, tmp_path):
    config, ids = project
    answer = tmp_path / "answer.md"
    answer.write_text(
        "My verdicts:\n"
        + json.dumps(
            [
                {"id": f"D-{ids[0]}", "viability_score": 0.85, "tier": 1, "reasoning": "good"},
                {"id": "charge", "viability_score": 0.5, "tier": 2, "reasoning": "by name"},
            ]
        )
    )
    code, out = _in_process(config, ["evaluate", "--from-file", str(answer)])
    assert code == 0
    assert f"applied   D-{ids[0]}: tier 1, 0.85" in out and "unmatched 'charge': no such dream pending" in out
    assert "1 applied, 0 unchanged, 1 unmatched, 0 unparsed" in out
    code, out = _in_process(config, ["evaluate", "--from-file", "-", "--json"], answer.read_text())
    result = json.loads(out)
    assert (
        result["applied"] == []
        and result["unchanged"] == [ids[0]]
        and result["unmatched"][0]["id"] == "charge"
    )
    code, out = _in_process(config, ["evaluate", "--from-file", "-"], "nothing useful")
    assert code == 1 and "0 applied" in out


def test_parse_prints_what_the_parsers_read_touching_nothing(project):
    config, ids = project
    text = json.dumps([{"id": "Dream 7", "viability_score": 0.3, "tier": 2, "reasoning": "meh"}])
    code, out = _in_process(config, ["evaluate", "--parse", "-", "--json"], text)
    assert code == 0 and json.loads(out) == {
        "evaluations": [{"id": "Dream 7", "viability_score": 0.3, "tier": 2, "reasoning": "meh", "flags": []}],
        "unparsed": [],
    }
    code, out = _in_process(config, ["evaluate", "--parse", "-"], "D-3 looks promising, no score yet")
    assert code == 0 and "unparsed\tD-3 looks promising" in out
    with DreamCore(config) as core:
        assert core.store.count_by_status()[DreamStatus.PENDING_EVALUATION] == 3


def test_evaluate_alone_runs_the_configured_evaluator_then_flags(project, capsys):
    config, ids = project
    assert main(["--config", str(config), "evaluate", "--limit", "2"]) == 0
    assert (
        "2 of 2 dreams evaluated by offline in 1 batches; 0 left pending, 0 flagged"
        in capsys.readouterr().out
    )
    assert (
        main(["--config", str(config), "evaluate", "--evaluator", "claude", "--json"]) == 1
    )  # no parser, no key
    report = json.loads(capsys.readouterr().out)
    assert report["failed"] == 1 and report["flagged"] == 1
    assert main(["--config", str(config), "evaluate", "--flagged"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"D-{ids[2]}\tparameter\tfunc\t1 attempts\tclaude api: environment variable")
    assert main(["--config", str(config), "evaluate", "--prompt"]) == 0  # still there for a person
    assert f'<dream id="D-{ids[2]}">' in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--prompt", "--flagged"], "--prompt and --flagged cannot be used together"),
        (["--flagged", "--evaluator", "offline"], "--evaluator runs an evaluator"),
        (["--evaluator", "nope"], "unknown evaluator 'nope' (known: claude, llm-judge, offline)"),
        (["--from-file", "/nonexistent/answer"], "No such file or directory"),
    ],
)
def test_bad_usage_is_one_line(project, capsys, args, message):
    assert main(["--config", str(project[0]), "evaluate", *args]) == 2
    assert message in capsys.readouterr().err


def test_an_unknown_evaluator_in_the_config_fails_the_run(tmp_path, capsys):
    config = write_config(tmp_path, extra="")
    config.write_text(config.read_text() + '\n[evaluation]\nevaluator = "gpt"\n')
    assert main(["--config", str(config), "run", "--strategy", "light", "--stages", "evaluate"]) == 2
    assert "unknown evaluator 'gpt' (known: claude, llm-judge, offline)" in capsys.readouterr().err


def test_config_keys_are_checked(tmp_path):
    path = Path(tmp_path / "dreams.toml")
    path.write_text("[evaluation]\nbatch_size = 0\n")
    with pytest.raises(Exception, match="evaluation.batch_size: must be between 1 and 500, got 0"):
        DreamCore(path)


_VALUES = st.one_of(
    st.integers(-5, 1000), st.floats(-1, 2, allow_nan=False), st.text(max_size=5), st.booleans()
)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "batch_size",
                "concurrency",
                "max_attempts",
                "viable_from",
                "speculative_from",
                "evaluator",
                "colour",
            ]
        ),
        _VALUES,
        max_size=4,
    )
)
def test_any_evaluation_table_loads_or_gives_one_line_per_problem(table):
    try:
        loaded = config.parse({"evaluation": table}).evaluation
    except ConfigError as exc:
        lines = str(exc).splitlines()
        assert lines and all(line.startswith("dreams.toml: evaluation.") for line in lines)
    else:
        defaults = config.EvaluationConfig()
        for key in ("batch_size", "concurrency", "max_attempts", "viable_from", "speculative_from", "evaluator"):
            assert getattr(loaded, key) == table.get(key, getattr(defaults, key))  # what was written, or the default
        assert 1 <= loaded.batch_size <= 500 and 1 <= loaded.max_attempts
        assert 0 <= loaded.speculative_from <= loaded.viable_from <= 1
        bands = loaded.bands()
        assert bands.tier_for(loaded.viable_from) == DreamTier.VIABLE


def test_a_prompt_template_relative_to_the_config_file(tmp_path, capsys):
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "judge.txt").write_text("Rate these $count dreams ($ids):\n$dreams\n")
    path = tmp_path / "dreams.toml"
    path.write_text(
        '[store]\nurl = "sqlite:///dreams.db"\n[evaluation]\nprompt_template = "prompts/judge.txt"\n'
    )
    with DreamCore(path) as core:
        base = core.store.upsert_procedure(procedure(qualname="charge"))
        dream_id = core.store.store_dream(dream(base, 0))
    assert main(["--config", str(path), "evaluate", "--prompt"]) == 0
    assert capsys.readouterr().out.startswith(
        f'Rate these 1 dreams (D-{dream_id}):\n<dream id="D-{dream_id}">'
    )
