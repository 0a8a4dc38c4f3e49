"""Evaluator `llm-judge`: a chat model behind the openrouter provider judges dreams, over real HTTP."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dreamcore import DreamCore
from dreamcore.cli.root import main
from dreamcore.models import DreamStatus
from dreamcore.testing.fake_openai import FakeOpenAI, fault
from tests.fakes import answer_for, verdicts_for

ROOT = Path(__file__).resolve().parents[1]
KEY = "sk-judge-RECOGNISABLE-0042"


def judge_responder(body: dict, model: str) -> str:
    prompt = "\n".join(m["content"] for m in body["messages"] if m["role"] == "user")
    return answer_for(prompt)


@pytest.fixture
def server():
    with FakeOpenAI(latency=0.01, responder=judge_responder) as fake:
        yield fake


@pytest.fixture(autouse=True)
def api_key(monkeypatch):
    monkeypatch.setenv("JUDGE_KEY", KEY)


def config(folder: Path, server: FakeOpenAI, *, budget: float = 5.0, evaluation: str = "") -> Path:
    path = folder / "dreams.toml"
    path.write_text(f'''
[store]
url = "sqlite:///dreams.db"
[cycle]
seed = 4
strategy = "light"
budget_usd = {budget}
[evaluation]
evaluator = "llm-judge"
batch_size = 10
{evaluation}
[[sources]]
project = "billing"
paths = ["{ROOT / "examples/billing"}"]
[plugins.openrouter]
base_url = "{server.base_url}"
api_key_env = "JUDGE_KEY"
backoff = 0.01
max_retries = 1
fallback_list = false
[plugins.llm-judge]
models = ["judge/first", "judge/second"]
[plugins.sandbox-stage]
enabled = false
''')
    return path


def run(path: Path, capsys, *args: str) -> tuple[int, dict | str]:
    code = main(["--config", str(path), "run", "--json", *args])
    captured = capsys.readouterr()
    return code, (json.loads(captured.out) if captured.out.strip() else captured.err)


def test_the_judge_evaluates_every_dream_by_id(tmp_path, server, capsys):
    code, report = run(config(tmp_path, server), capsys)
    assert code == 0, report
    assert report["stages"]["evaluate"]["evaluator"] == "llm-judge"
    with DreamCore(tmp_path / "dreams.toml") as core:
        dreams = core.store.find_dreams(limit=None)
    assert dreams and all(d.status is DreamStatus.EVALUATED for d in dreams)
    for dream in dreams:
        (verdict,) = verdicts_for(f'<dream id="D-{dream.id}">')
        assert dream.viability_score == verdict["viability_score"] and int(dream.tier) == verdict["tier"]
        assert dream.claude_reasoning.startswith("[llm-judge:judge/first]")
    usage = report["model_usage"]["judge/first"]
    batches = -(-len(dreams) // 10)
    assert usage["evaluation_calls"] == batches and usage["input_tokens"] == 100 * batches
    assert all(request.body["temperature"] == 0.0 for request in server.requests_for("judge/first"))


def test_the_second_model_takes_over_when_the_first_fails(tmp_path, server, capsys):
    server.script("judge/first", *[fault("server_500")] * 200)
    code, report = run(config(tmp_path, server), capsys)
    assert code == 0, report
    assert "judge/second" in report["model_usage"]
    with DreamCore(tmp_path / "dreams.toml") as core:
        dreams = core.store.find_dreams(limit=None)
    assert all(d.claude_reasoning.startswith("[llm-judge:judge/second]") for d in dreams)


def test_the_run_budget_stops_the_judge_and_loses_nothing(tmp_path, server, capsys):
    code, report = run(config(tmp_path, server, budget=0.0015, evaluation="concurrency = 1"), capsys)
    assert code == 1  # the batches the budget stopped are failures of the night
    assert report["stages"]["evaluate"]["evaluated"] == 20  # two calls of 0.001 USD, then no more
    assert any("budget" in failure for failure in report["failures"])
    with DreamCore(tmp_path / "dreams.toml") as core:
        pending = core.store.get_pending_evaluation(limit=None)
    assert pending and all("budget" in d.last_error and d.eval_attempts == 1 for d in pending)
    assert len(server.requests) == 2


def test_a_missing_key_is_one_line_and_leaves_the_dreams_pending(tmp_path, server, capsys, monkeypatch):
    monkeypatch.delenv("JUDGE_KEY")
    code, err = run(config(tmp_path, server), capsys)
    assert code == 2
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "JUDGE_KEY is not set" in errors[0] and KEY not in err
    with DreamCore(tmp_path / "dreams.toml") as core:
        assert core.store.count_by_status()[DreamStatus.PENDING_EVALUATION] > 0
        assert core.store.count_by_status()[DreamStatus.EVALUATED] == 0


def test_bad_judge_options_are_one_line(tmp_path, server, capsys):
    path = config(tmp_path, server)
    path.write_text(path.read_text().replace('models = ["judge/first", "judge/second"]', "models = []"))
    code, err = run(path, capsys)
    assert code == 2 and "plugins.llm-judge" in err and "at least one model" in err
