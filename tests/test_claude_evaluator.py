"""The ``claude`` evaluator against real stand-ins: a loopback Messages API server and a fake ``claude``
executable on PATH. Secrets never reach the store, logs or errors."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import time
from pathlib import Path

import httpx
import pytest
from dreamcore_plugins.evaluators.claude_evaluator import ClaudeEvaluator
from hypothesis import given, settings
from hypothesis import strategies as st

from dreamcore import DreamCore
from dreamcore.cli.root import main
from dreamcore.evaluation.judging import (
    EvaluationBatch,
    EvaluationError,
    evaluate_pending,
    load_template,
    render_prompt,
)
from dreamcore.models import DreamStatus
from tests.factories import dream, procedure
from tests.fakes import FakeAnthropic, install_fake_claude, verdicts_for

SECRET = "sk-ant-test-0123456789-secret"
ROOT = Path(__file__).resolve().parents[1]


def _batch(count: int = 3) -> EvaluationBatch:
    base = procedure(qualname="charge")
    base.id = 1
    dreams = [dream(1, n, id=10 + n) for n in range(count)]
    prompt = render_prompt(load_template(DreamCore({}).config), dreams, {1: base})
    return EvaluationBatch(dreams=dreams, bases={1: base}, prompt=prompt)


def _api(url: str, **options) -> ClaudeEvaluator:
    config = {"base_url": url, "retry_base_delay": 0.01, **options}
    return ClaudeEvaluator(ClaudeEvaluator.Config(**config))


def _ask(evaluator: ClaudeEvaluator, batch: EvaluationBatch | None = None):
    return asyncio.run(evaluator.evaluate(batch or _batch()))


@pytest.fixture
def api_key(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", SECRET)


@pytest.fixture
def server():
    with FakeAnthropic() as fake:
        yield fake


# -- api -----------------------------------------------------------------------------------------


def test_api_sends_the_prompt_and_records_tokens_and_cost(api_key, server):
    batch = _batch()
    judgement = _ask(_api(server.url, model="claude-sonnet-4-6"), batch)
    request = server.requests[0]
    assert request["path"] == "/v1/messages"
    assert (
        request["headers"]["x-api-key"] == SECRET and request["headers"]["anthropic-version"] == "2023-06-01"
    )
    body = request["body"]
    assert body["model"] == "claude-sonnet-4-6" and body["max_tokens"] == 4096
    assert body["messages"] == [{"role": "user", "content": batch.prompt}] and "data" in body["system"]
    assert json.loads(judgement.text.split("```json")[1].split("```")[0]) == verdicts_for(batch.prompt)
    usage = judgement.usage
    assert usage.input_tokens == len(batch.prompt) // 4 and usage.output_tokens == len(judgement.text) // 4
    assert usage.cost_usd == pytest.approx((usage.input_tokens * 3 + usage.output_tokens * 15) / 1e6)
    assert judgement.judge == "claude-api:claude-sonnet-4-6"


def test_configured_prices_override_the_built_in_ones(api_key, server):
    usage = _ask(
        _api(server.url, model="claude-new-9", input_usd_per_mtok=2.0, output_usd_per_mtok=0.0)
    ).usage
    assert usage.cost_usd == pytest.approx(usage.input_tokens * 2 / 1e6)
    assert _ask(_api(server.url, model="claude-unknown")).usage.cost_usd == 0.0


def test_api_waits_what_retry_after_says_on_429_then_529(api_key, server):
    server.script.extend(
        [
            FakeAnthropic.error(429, "rate_limit_error", "slow down", **{"retry-after": "1"}),
            FakeAnthropic.error(529, "overloaded_error", "Overloaded"),
        ]
    )
    judgement = _ask(_api(server.url, retry_base_delay=0.05))
    assert len(server.requests) == 3 and judgement.text
    assert server.times[1] - server.times[0] >= 1.0  # honoured retry-after
    assert 0.1 <= server.times[2] - server.times[1] < 0.9  # backoff (0.05 s doubled) without retry-after


def test_api_gives_up_after_max_retries(api_key, server):
    server.script.extend([FakeAnthropic.error(529, "overloaded_error", "Overloaded")] * 3)
    with pytest.raises(
        EvaluationError, match=r"HTTP 529 overloaded_error: Overloaded \(gave up after 3 attempts\)"
    ):
        _ask(_api(server.url, max_retries=2))


def test_api_does_not_retry_a_spend_limit_or_a_bad_key(api_key, server):
    limit = FakeAnthropic.error(429, "rate_limit_error", "spend limit")
    limit[2]["error"]["details"] = {"error_code": "enforced_spend_limit_reached"}
    server.script.extend(
        [limit, FakeAnthropic.error(401, "authentication_error", f"invalid x-api-key {SECRET}")]
    )
    with pytest.raises(EvaluationError, match="enforced_spend_limit_reached"):
        _ask(_api(server.url))
    with pytest.raises(EvaluationError) as caught:
        _ask(_api(server.url))
    assert "HTTP 401 authentication_error" in str(caught.value) and SECRET not in str(caught.value)
    assert len(server.requests) == 2


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("{not json", r"malformed response body \(not JSON\): \{not json"),
        (
            {"type": "message", "content": "text"},
            r"malformed response body \(expected a message with content\)",
        ),
        ([1, 2], r"malformed response body \(expected a message"),
        ({"type": "message", "content": [{"type": "tool_use"}], "stop_reason": "tool_use"}, "holds no text"),
    ],
)
def test_api_malformed_bodies_are_clear_errors(api_key, server, body, message):
    server.script.append((200, {}, body))
    with pytest.raises(EvaluationError, match=message):
        _ask(_api(server.url))


def test_api_timeout_and_missing_key(api_key, monkeypatch):
    with FakeAnthropic(latency=1.0) as slow:
        started = time.monotonic()
        with pytest.raises(EvaluationError, match=r"no answer within 0.2 s \(gave up after 2 attempts\)"):
            _ask(_api(slow.url, timeout=0.2, max_retries=1))
        assert time.monotonic() - started < 1.5
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    with pytest.raises(EvaluationError, match="environment variable ANTHROPIC_API_KEY is not set"):
        _ask(_api("http://127.0.0.1:9"))


def test_api_unreachable_server_is_a_clear_error(api_key):
    with pytest.raises(EvaluationError, match=r"cannot reach http://127.0.0.1:9: ConnectError"):
        _ask(_api("http://127.0.0.1:9", max_retries=0))


# -- cli -----------------------------------------------------------------------------------------


@pytest.fixture
def fake_claude(tmp_path, monkeypatch):
    """The fake ``claude`` first on PATH; returns its log (one JSON line per call)."""
    install_fake_claude(tmp_path / "bin")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    log = tmp_path / "claude.log"
    monkeypatch.setenv("FAKE_CLAUDE_LOG", str(log))
    return log


def _calls(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()]


def _cli(**options) -> ClaudeEvaluator:
    return ClaudeEvaluator(ClaudeEvaluator.Config(mode="cli", **options))


def test_cli_gets_the_prompt_on_stdin_and_reports_cost(fake_claude):
    batch = _batch()
    judgement = _ask(_cli(model="opus"), batch)
    call = _calls(fake_claude)[0]
    assert call["argv"] == ["-p", "--output-format", "json", "--model", "opus"]
    assert call["stdin"] == batch.prompt
    assert "D-10" in judgement.text and judgement.usage.cost_usd == 0.0123
    assert judgement.usage.input_tokens == len(batch.prompt) // 4 and judgement.usage.output_tokens == 50
    assert judgement.judge == "claude-cli:opus"


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("is_error", r"claude cli: error \(error_during_execution\): tool failed"),
        ("not_logged_in", r"claude cli: not logged in \(run `claude` once and log in"),
        ("exit", r"claude cli: exited with code 3: Error: unknown option --frobnicate"),
        ("garbage", r"claude cli: output is not its JSON result: <html>Service Unavailable</html>"),
    ],
)
def test_cli_failures_are_clear_errors(fake_claude, monkeypatch, mode, message):
    monkeypatch.setenv("FAKE_CLAUDE_MODE", mode)
    with pytest.raises(EvaluationError, match=message):
        _ask(_cli())


def test_cli_timeout_kills_the_whole_process_group(fake_claude, monkeypatch):
    monkeypatch.setenv("FAKE_CLAUDE_MODE", "hang")
    started = time.monotonic()
    with pytest.raises(EvaluationError, match=r"no answer within 1.5 s \(process group killed\)"):
        _ask(_cli(cli_timeout=1.5))
    assert time.monotonic() - started < 5
    calls = _calls(fake_claude)
    for pid in (calls[0]["pid"], calls[1]["child"]):  # the CLI and the process it started
        deadline = time.monotonic() + 5
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(pid), pid


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False


def test_cli_missing_executable(tmp_path):
    with pytest.raises(EvaluationError, match=r"claude cli: '.*nowhere/claude' not found"):
        _ask(_cli(command=str(tmp_path / "nowhere" / "claude")))


# -- inside a run ----------------------------------------------------------------------------------


def _config(tmp_path: Path, evaluator: str, max_attempts: int = 2) -> Path:
    path = tmp_path / "dreams.toml"
    path.write_text(
        f'[store]\nurl = "sqlite:///dreams.db"\n[evaluation]\nevaluator = "claude"\nbatch_size = 4\n'
        f"max_attempts = {max_attempts}\n{evaluator}"
    )
    return path


def _pending(path: Path, count: int) -> list[int]:
    with DreamCore(path) as core:
        base = core.store.upsert_procedure(procedure(qualname="charge"))
        return [core.store.store_dream(dream(base, n)) for n in range(count)]


def test_a_run_with_the_cli_evaluator_through_the_fake_executable(tmp_path, fake_claude, monkeypatch):
    path = _config(tmp_path, '[plugins.claude]\nmode = "cli"\nmodel = "sonnet"\n')
    ids = _pending(path, 6)
    with DreamCore(path) as core:
        cycle = asyncio.run(core.run_cycle(stages=["evaluate"]))
        report = cycle.report["evaluate"]
        assert report["evaluated"] == 6 and report["batches"] == 2 and cycle.failures == []
        run = core.store.get_generation_runs()[0]
        assert run.model_usage["sonnet"] == {
            "evaluation_calls": 2,
            "input_tokens": sum(len(c["stdin"]) // 4 for c in _calls(fake_claude)),
            "output_tokens": 100,
            "cost_usd": 0.0246,
        }
        for dream_id in ids:
            judged = core.store.get_dream(dream_id)
            assert judged.status == DreamStatus.EVALUATED
            assert judged.claude_reasoning == f"[claude-cli:sonnet] fake verdict D-{dream_id}"


def test_a_whole_cycle_mines_dreams_and_judges_with_the_cli(tmp_path, fake_claude):
    path = _config(tmp_path, '[plugins.claude]\nmode = "cli"\nmodel = "haiku"\n', max_attempts=3)
    path.write_text(
        path.read_text().replace("batch_size = 4", "batch_size = 25")
        + f'[[sources]]\nproject = "billing"\npaths = ["{ROOT / "examples" / "billing"}"]\n'
    )
    with DreamCore(path) as core:
        cycle = asyncio.run(core.run_cycle(strategy="light", limit=3))
        summary_usage = core.store.get_generation_runs()[0].model_usage
        pending = core.store.count_by_status()[DreamStatus.PENDING_EVALUATION]
    dreams = cycle.report["generate"]["dreams"]
    assert dreams > 0 and cycle.failures == [] and pending == 0
    assert cycle.report["evaluate"]["evaluated"] == dreams
    assert summary_usage["local"]["dreams"] == dreams  # the generators' counters and the judge's side by side
    assert summary_usage["haiku"]["evaluation_calls"] == len(_calls(fake_claude)) == -(-dreams // 25)


def test_an_interrupted_run_resumes_with_only_the_pending_dreams(tmp_path, fake_claude, monkeypatch):
    """Cancelled mid-run (as a kill would), the CLI in flight is killed; the next run sends only what is
    still pending, so no dream is judged twice."""
    monkeypatch.setenv("FAKE_CLAUDE_MODE", "slow")
    monkeypatch.setenv("FAKE_CLAUDE_DELAY", "1.5")
    path = _config(tmp_path, '[plugins.claude]\nmode = "cli"\n')
    path.write_text(path.read_text().replace("batch_size = 4", "batch_size = 2\nconcurrency = 1"))
    ids = _pending(path, 6)

    async def interrupted(core):
        task = asyncio.create_task(evaluate_pending(core, core.create("evaluators", "claude")))
        while not fake_claude.exists() or fake_claude.read_text().count("\n") < 2:  # second batch in flight
            await asyncio.sleep(0.02)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    with DreamCore(path) as core:
        asyncio.run(interrupted(core))
        assert core.store.count_by_status()[DreamStatus.EVALUATED] == 2
    in_flight = _calls(fake_claude)[1]
    assert not _alive(in_flight["pid"])
    monkeypatch.setenv("FAKE_CLAUDE_MODE", "success")
    with DreamCore(path) as core:
        outcome = asyncio.run(evaluate_pending(core, core.create("evaluators", "claude")))
        assert outcome.dreams == 4 and outcome.evaluated == 4
        assert {core.store.get_dream(i).status for i in ids} == {DreamStatus.EVALUATED}
    sent = [verdict for call in _calls(fake_claude) for verdict in verdicts_for(call["stdin"])]
    first_batch = [v["id"] for v in sent[:2]]
    later = [v["id"] for v in sent[4:]]
    assert first_batch == [f"D-{i}" for i in ids[:2]] and sorted(later) == sorted(f"D-{i}" for i in ids[2:])


def test_failed_runs_count_attempts_then_flag_and_keep_the_dreams(tmp_path, fake_claude, monkeypatch):
    path = _config(tmp_path, '[plugins.claude]\nmode = "cli"\n')
    ids = _pending(path, 3)
    monkeypatch.setenv("FAKE_CLAUDE_MODE", "not_logged_in")
    for attempt in (1, 2):
        with DreamCore(path) as core:
            cycle = asyncio.run(core.run_cycle(stages=["evaluate"]))
            assert len(cycle.failures) == 1 and "not logged in" in cycle.failures[0]
            assert cycle.run.status == "failed"
            assert {core.store.get_dream(i).eval_attempts for i in ids} == {attempt}
    monkeypatch.setenv("FAKE_CLAUDE_MODE", "success")
    with DreamCore(path) as core:
        cycle = asyncio.run(core.run_cycle(stages=["evaluate"]))
        assert cycle.report["evaluate"]["dreams"] == 0 and cycle.report["evaluate"]["flagged"] == 3
        assert core.store.count_by_status()[DreamStatus.PENDING_EVALUATION] == 3
        assert len(_calls(fake_claude)) == 2  # flagged dreams are not sent again


def test_the_api_key_never_reaches_the_store_logs_or_errors(tmp_path, server, monkeypatch, capsys):
    monkeypatch.setenv("MY_CLAUDE_KEY", SECRET)
    path = _config(
        tmp_path,
        f'[plugins.claude]\nbase_url = "{server.url}"\napi_key_env = "MY_CLAUDE_KEY"\nmax_retries = 0\n',
        max_attempts=1,
    )
    _pending(path, 8)
    leak = FakeAnthropic.error(401, "authentication_error", f"invalid key {SECRET}")
    server.script.extend([leak, (200, {}, f"<html>{SECRET}</html>")])
    with DreamCore(path) as core:
        outcome = asyncio.run(evaluate_pending(core, core.create("evaluators", "claude")))
        assert outcome.failed == 8 and len(outcome.failures) == 2
    dump = "\n".join(sqlite3.connect(tmp_path / "dreams.db").iterdump())
    assert "invalid key ***" in dump and SECRET not in dump
    assert server.requests[0]["headers"]["x-api-key"] == SECRET
    capsys.readouterr()
    assert main(["--config", str(path), "evaluate", "--flagged", "--json"]) == 0
    flagged = json.loads(capsys.readouterr().out)
    assert len(flagged) == 8 and {f["last_error"] for f in flagged} == {
        "claude api: HTTP 401 authentication_error: invalid key ***",
        "claude api: malformed response body (not JSON): <html>***</html>",
    }
    assert main(["--config", str(path), "evaluate", "--evaluator", "claude", "--limit", "1"]) == 0
    out, err = capsys.readouterr()
    assert SECRET not in out + err and "0 of 0 dreams" in out  # flagged dreams are not sent again


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=-3, max_value=3), st.text(max_size=300), st.text(max_size=100))
def test_any_cli_output_is_an_answer_or_one_clear_error(returncode, out, err):
    try:
        text, usage = _cli()._read_result(returncode, out, err)
    except EvaluationError as exc:
        assert str(exc).startswith("claude cli: ") and "\n" not in str(exc)
    else:
        assert returncode == 0 and isinstance(text, str) and usage.cost_usd >= 0


@settings(max_examples=200, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
        max_leaves=20,
    )
)
def test_any_json_result_is_an_answer_or_one_clear_error(data):
    try:
        _cli()._read_result(0, json.dumps(data), "")
    except EvaluationError as exc:
        assert str(exc).startswith("claude cli: ")


@settings(max_examples=200, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.dictionaries(
                st.sampled_from(["type", "content", "text", "usage", "input_tokens", "x"]), inner, max_size=4
            )
        ),
        max_leaves=20,
    )
)
def test_any_api_body_is_an_answer_or_one_clear_error(data):
    body = {"type": "message", "content": data} if isinstance(data, list) else data
    try:
        text, usage = _api("http://127.0.0.1:9")._read_message(httpx.Response(200, json=body), SECRET)
    except EvaluationError as exc:
        assert str(exc).startswith("claude api: ")
    else:
        assert text and usage.input_tokens >= 0 and usage.cost_usd >= 0
