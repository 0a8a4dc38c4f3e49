"""`dreamcore run` in LLM mode, end to end through the CLI against a loopback OpenAI-compatible server."""

from __future__ import annotations

import ast
import asyncio
import json
import logging
import sqlite3
from pathlib import Path

import pytest

from dreamcore import DreamCore, hookimpl
from dreamcore.cli.root import main
from dreamcore.testing.fake_openai import FakeOpenAI, Reply, variant_responder

ROOT = Path(__file__).resolve().parents[1]
KEY = "sk-or-v1-RECOGNISABLE-SECRET-7f3a9c"


@pytest.fixture
def server():
    with FakeOpenAI(latency=0.01, responder=variant_responder) as fake:
        yield fake


@pytest.fixture(autouse=True)
def api_key(monkeypatch):
    monkeypatch.setenv("FAKE_ROUTER_KEY", KEY)


def llm_config(folder: Path, server: FakeOpenAI, *, budget: float = 5.0, cycle: str = "", plugins: str = "",
               cr_mode: str = "llm", cp_mode: str = "llm") -> Path:
    path = folder / "dreams.toml"
    path.write_text(f'''
[store]
url = "sqlite:///dreams.db"
[cycle]
seed = 11
budget_usd = {budget}
{cycle}
[[sources]]
project = "billing"
paths = ["{ROOT / "examples/billing"}"]
[[sources]]
project = "weather"
paths = ["{ROOT / "examples/weather"}"]
[plugins.sandbox-stage]
enabled = false
[plugins.openrouter]
base_url = "{server.base_url}"
api_key_env = "FAKE_ROUTER_KEY"
backoff = 0.01
max_retries = 1
[plugins.constraint_relaxation]
mode = "{cr_mode}"
models = ["fake/deepseek-chat", "fake/mistral"]
[plugins.cross_project]
mode = "{cp_mode}"
models = ["fake/qwen-coder", "fake/deepseek-chat"]
{plugins}
''')
    return path


def run(config: Path, capsys, *args: str) -> dict:
    code = main(["--config", str(config), "run", "--json", *args])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


def test_llm_run_makes_valid_dreams_of_both_llm_types(tmp_path, server, capsys, caplog):
    caplog.set_level(logging.DEBUG)
    report = run(llm_config(tmp_path, server), capsys, "--limit", "8")
    assert report["status"] == "finished" and report["failures"] == []
    assert report["dreams_by_type"]["constraint_relaxation"] > 0 and report["dreams_by_type"]["cross_project"] > 0
    usage = report["model_usage"]
    assert usage["fake/deepseek-chat"]["calls"] > 0 and usage["fake/qwen-coder"]["calls"] > 0
    assert usage["fake/qwen-coder"]["cost_usd"] == pytest.approx(usage["fake/qwen-coder"]["calls"] * 0.001)
    assert usage["fake/deepseek-chat"]["prompt_tokens"] == usage["fake/deepseek-chat"]["calls"] * 100
    with DreamCore(tmp_path / "dreams.toml") as core:
        dreams = core.store.find_dreams(limit=None)
        run_row = core.store.get_generation_runs()[0]
        bases = {d.base_procedure_id: core.store.get_procedure(d.base_procedure_id) for d in dreams}
    models = {d.dream_type: set() for d in dreams}
    for dream in dreams:
        models[dream.dream_type].add(dream.model_used)
        function = ast.parse(dream.code).body[-1]
        assert isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef)
        assert function.name == bases[dream.base_procedure_id].name
        assert dream.generated_description and dream.reasoning
    assert models["constraint_relaxation"] == {"fake/deepseek-chat"}
    assert models["cross_project"] == {"fake/qwen-coder"}
    assert run_row.model_usage == report["model_usage"]
    # the prompts carry the procedure source fenced as data, and the route's settings
    first = server.requests_for("fake/deepseek-chat")[0].body
    assert first["temperature"] == 0.8 and first["max_tokens"] == 2000 and first["models"] == [
        "fake/deepseek-chat", "fake/mistral"]
    assert "```python\n" in first["messages"][1]["content"] and "dependency analysis" in first["messages"][1]["content"]
    cross = server.requests_for("fake/qwen-coder")[0].body
    assert cross["temperature"] == 0.7 and "Related functions from other projects" in cross["messages"][1]["content"]
    # the key: only in the Authorization header, nowhere else
    assert all(r.headers["Authorization"] == f"Bearer {KEY}" for r in server.requests)
    assert all(KEY not in json.dumps(r.body) for r in server.requests)
    assert KEY not in caplog.text and KEY not in json.dumps(report)
    for file in tmp_path.rglob("*"):
        if file.is_file():
            assert KEY.encode() not in file.read_bytes(), file


def test_budget_stops_new_calls_and_the_run_finishes(tmp_path, server, capsys):
    config = llm_config(tmp_path, server, budget=0.005, cycle="concurrency = 1",
                        plugins="[strategies.balanced]\nvariants = 5\n", cp_mode="local")
    report = run(config, capsys, "--limit", "12")
    assert report["status"] == "finished" and report["failures"] == []
    assert report["stop_reason"].startswith("budget_exhausted: spent $0.0050 of $0.005")
    assert len(server.requests) == 5  # one call per procedure, one at a time: the sixth never starts
    assert report["model_usage"]["fake/deepseek-chat"]["calls"] == 5
    assert report["rejected_by_reason"]["budget_exhausted"] == 12 - 5
    assert report["dreams_by_type"]["cross_project"] > 0  # local generators go on
    with DreamCore(config) as core:
        assert core.store.get_generation_runs()[0].stop_reason == report["stop_reason"]


def test_model_errors_are_recorded_per_model_and_the_night_goes_on(tmp_path, capsys):
    with FakeOpenAI(responder=variant_responder) as server:
        for model in ("fake/deepseek-chat", "fake/mistral"):
            server.script(model, *[Reply(kind="status", status=500)] * 4)
        report = run(llm_config(tmp_path, server, cp_mode="local", cycle="concurrency = 1",
                                plugins="[strategies.balanced]\nvariants = 5\n"), capsys, "--limit", "6")
    # one request carries both models (OpenRouter's list): two procedures fail, after one retry each
    assert report["status"] == "finished" and report["failures"] == []
    assert report["rejected_by_reason"]["model_error"] == 2
    assert report["dreams_by_type"]["constraint_relaxation"] > 0  # later procedures got answers
    with sqlite3.connect(tmp_path / "dreams.db") as conn:
        rows = conn.execute("SELECT model_used, reason FROM rejected_drafts WHERE category = 'model_error'").fetchall()
    assert rows and all(model == "fake/deepseek-chat" and reason.startswith("server: HTTP 500")
                        for model, reason in rows)
    assert report["model_usage"]["fake/deepseek-chat"]["errors"] == 2


def test_answers_without_code_are_recorded_as_no_code(tmp_path, capsys):
    with FakeOpenAI(responder=lambda body, model: "I would rather not write code today.") as server:
        report = run(llm_config(tmp_path, server, cp_mode="local"), capsys, "--limit", "2",
                     "--strategy", "light")
    assert report["rejected_by_reason"]["no_code"] == len(server.requests) > 0
    with sqlite3.connect(tmp_path / "dreams.db") as conn:
        rows = conn.execute("SELECT model_used, code FROM rejected_drafts WHERE category = 'no_code'").fetchall()
    assert {model for model, _ in rows} == {"fake/deepseek-chat"}
    assert rows[0][1] == "I would rather not write code today."


def test_unparsable_model_code_is_rejected_by_the_checker_with_the_model(tmp_path, capsys):
    answer = "### Variant 1\nDescription: d\nReasoning: r\n```python\ndef {name}(:\n    pass\n```"

    def broken(body, model):
        text = body["messages"][1]["content"]
        return answer.format(name=text.split("function `", 1)[1].split("`", 1)[0])

    with FakeOpenAI(responder=broken) as server:
        report = run(llm_config(tmp_path, server, cp_mode="local"), capsys, "--limit", "2", "--strategy", "light")
    assert report["rejected_by_reason"]["syntax"] >= 2 and "constraint_relaxation" not in report["dreams_by_type"]
    with sqlite3.connect(tmp_path / "dreams.db") as conn:
        models = {row[0] for row in conn.execute("SELECT model_used FROM rejected_drafts WHERE category = 'syntax'")}
    assert models == {"fake/deepseek-chat"}


def test_missing_key_variable_is_one_clear_line(tmp_path, server, capsys, monkeypatch):
    monkeypatch.delenv("FAKE_ROUTER_KEY")
    code = main(["--config", str(llm_config(tmp_path, server)), "run", "--limit", "1"])
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error")]
    assert code == 2 and errors == [
        "error: model 'fake/deepseek-chat': environment variable FAKE_ROUTER_KEY is not set (it holds the API key)"]
    assert "Traceback" not in err
    assert server.requests == []


def test_prompt_template_from_dreams_toml(tmp_path, server, capsys):
    (tmp_path / "mine.txt").write_text("Be brief.\n=== user ===\nWrite $count variants of the function "
                                       "`$function`.\n$source\nCosts $$0.\n")
    config = llm_config(tmp_path, server, cp_mode="local")
    config.write_text(config.read_text().replace('mode = "llm"\nmodels = ["fake/deepseek-chat"',
                                                 'mode = "llm"\nprompt = "mine.txt"\nmodels = ["fake/deepseek-chat"'))
    report = run(config, capsys, "--limit", "1", "--strategy", "light")
    assert report["dreams_by_type"]["constraint_relaxation"] > 0
    messages = server.requests[0].body["messages"]
    assert messages[0]["content"] == "Be brief." and messages[1]["content"].endswith("Costs $0.")
    (tmp_path / "mine.txt").write_text("x\n=== user ===\n$sorce\n")
    code = main(["--config", str(config), "run", "--limit", "1"])
    assert code == 2 and "unknown placeholder $sorce" in capsys.readouterr().err


def test_local_mode_needs_no_key_and_makes_no_calls(tmp_path, server, capsys, monkeypatch):
    monkeypatch.delenv("FAKE_ROUTER_KEY")
    report = run(llm_config(tmp_path, server, cr_mode="local", cp_mode="local"), capsys, "--limit", "2")
    assert server.requests == [] and report["stop_reason"] is None
    assert set(report["model_usage"]) == {"local"}


def test_a_resumed_run_keeps_counting_what_it_spent(tmp_path, server):
    class Boom:
        name = "boom"
        order = 30

        async def run(self, cycle):
            raise RuntimeError("power cut")

    class Plugin:
        @hookimpl
        def register_stages(self, register):
            register(Boom)

    cycle_options = "concurrency = 1"
    strategy = "[strategies.light]\nvariants = 5\n"
    config = llm_config(tmp_path, server, budget=1.0, cycle=cycle_options, plugins=strategy)
    with DreamCore(config, plugins=[Plugin()]) as core, pytest.raises(RuntimeError, match="power cut"):
        asyncio.run(core.run_cycle(strategy="light", limit=2))
    assert len(server.requests) == 2
    config = llm_config(tmp_path, server, budget=0.003, cycle=cycle_options, plugins=strategy)
    with DreamCore(config) as core:
        cycle = asyncio.run(core.run_cycle(strategy="light", limit=6))
        run_row = core.store.get_generation_runs()[0]
    assert cycle.resumed and len(server.requests) == 3  # 0.002 spent before the crash, one call left
    assert run_row.stop_reason.startswith("budget_exhausted") and run_row.model_usage["fake/deepseek-chat"]["calls"] == 3
