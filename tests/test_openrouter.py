"""The openrouter model provider against a real loopback HTTP server (dreamcore.testing.fake_openai)."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
from dreamcore_plugins.models.openrouter import ModelEntry, OpenRouter

from dreamcore.errors import ConfigError
from dreamcore.llm.hub import (
    AuthError,
    BadRequestError,
    BadResponseError,
    CreditsError,
    ModelError,
    ModelTimeout,
    ModerationError,
    RateLimitedError,
    ServerError,
)
from dreamcore.testing.fake_openai import FAULT_KINDS, FakeOpenAI, Reply, fault, variant_responder

KEY = "sk-or-v1-DREAMCORE-TEST-KEY-0123456789"
MESSAGES = [{"role": "user", "content": "Write 2 variants of the function `f`.\n```python\ndef f(x):\n    return x\n```"}]


@pytest.fixture
def server():
    with FakeOpenAI(responder=lambda body, model: f"answer from {model}") as fake:
        yield fake


@pytest.fixture(autouse=True)
def api_key(monkeypatch):
    monkeypatch.setenv("TEST_OR_KEY", KEY)


def provider(server: FakeOpenAI, **options) -> OpenRouter:
    defaults = {"base_url": server.base_url, "api_key_env": "TEST_OR_KEY", "backoff": 0.01, "backoff_max": 0.05}
    return OpenRouter(OpenRouter.Config(**{**defaults, **options}))


def complete(client: OpenRouter, models, messages=MESSAGES):
    async def go():
        try:
            return await client.complete(models, messages, temperature=0.5, max_tokens=50)
        finally:
            await client.aclose()

    return asyncio.run(go())


def complete_many(client: OpenRouter, count: int) -> None:
    async def go():
        try:
            await asyncio.gather(*(client.complete(["a/one"], MESSAGES, temperature=0, max_tokens=9)
                                   for _ in range(count)))
        finally:
            await client.aclose()

    asyncio.run(go())


def test_a_completion_carries_text_served_model_usage_and_headers(server):
    completion = complete(provider(server, referer="https://example.test/app", title="dreams"), ["a/one"])
    assert completion.text == "answer from a/one" and completion.model == "a/one"
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens, completion.usage.cost) == (100, 50, 0.001)
    assert completion.latency > 0
    request = server.requests[0]
    assert request.headers["Authorization"] == f"Bearer {KEY}"
    assert request.headers["HTTP-Referer"] == "https://example.test/app" and request.headers["X-Title"] == "dreams"
    assert request.body["temperature"] == 0.5 and request.body["max_tokens"] == 50 and "models" not in request.body


def test_openrouter_models_list_falls_back_in_order_on_the_server(server):
    server.script("a/one", fault("server_502"))
    server.script("b/two", fault("rate_limited"))
    completion = complete(provider(server, max_retries=0), ["a/one", "b/two", "c/three"])
    assert completion.model == "c/three"
    assert len(server.requests) == 1 and server.requests[0].body["models"] == ["a/one", "b/two", "c/three"]


def test_client_side_chain_across_endpoints_in_order(server):
    with FakeOpenAI(responder=lambda body, model: "local answer") as other:
        entries = [ModelEntry(name="local", id="coder:7b", base_url=other.base_url, api_key_env="")]
        server.script("a/one", *[fault("server_503")] * 3)
        client = provider(server, max_retries=2, fallback_list=False, models=entries)
        completion = complete(client, ["a/one", "local"])
        assert completion.model == "coder:7b" and completion.text == "local answer"
        assert [r.model for r in server.requests] == ["a/one"] * 3  # first try and two retries
        assert "Authorization" not in other.requests[0].headers  # api_key_env = "" sends no key


def test_retry_after_is_waited_for(server):
    server.script("a/one", Reply(kind="status", status=429, retry_after="1"))
    started = time.monotonic()
    completion = complete(provider(server), ["a/one"])
    assert completion.text == "answer from a/one"
    first, second = server.requests
    assert second.arrived - first.ended >= 0.95 and time.monotonic() - started < 3


def test_retries_back_off_exponentially_without_retry_after(server):
    server.script("a/one", *[fault("rate_limited")] * 3)
    complete(provider(server, backoff=0.2, backoff_max=10), ["a/one"])
    gaps = [b.arrived - a.ended for a, b in zip(server.requests, server.requests[1:])]
    # jitter keeps each delay between half and all of 0.2, 0.4, 0.8
    assert [round(g, 2) >= low for g, low in zip(gaps, (0.1, 0.2, 0.4))] == [True] * 3
    assert all(g <= high + 0.15 for g, high in zip(gaps, (0.2, 0.4, 0.8)))


@pytest.mark.parametrize("kind", FAULT_KINDS)
def test_every_fault_kind_is_survived_by_a_retry(server, kind):
    server.script("a/one", fault(kind))
    client = provider(server, timeout=0.5)
    completion = complete(client, ["a/one"])
    if kind == "unparsable_code":
        assert "def f(:" in completion.text and len(server.requests) == 1  # a good HTTP answer: the checker's job
    else:
        assert completion.text == "answer from a/one" and len(server.requests) == 2


@pytest.mark.parametrize(("status", "error", "words"), [
    (400, BadRequestError, "invalid"), (401, AuthError, "API key was refused"), (402, CreditsError, "out of credits"),
    (403, ModerationError, "moderation"),
])
def test_client_errors_are_not_retried_and_say_what_is_wrong(server, status, error, words):
    server.script("a/one", Reply(kind="status", status=status))
    with pytest.raises(error) as raised:
        complete(provider(server, fallback_list=False), ["a/one"])
    assert len(server.requests) == 1 and words in str(raised.value) and f"HTTP {status}" in str(raised.value)
    assert KEY not in str(raised.value)


def test_bad_key_skips_the_other_models_of_that_endpoint(server):
    server.script("a/one", Reply(kind="status", status=401))
    with pytest.raises(AuthError):
        complete(provider(server, fallback_list=False), ["a/one", "b/two"])
    assert [r.model for r in server.requests] == ["a/one"]


def test_moderation_moves_on_to_the_next_model(server):
    server.script("a/one", Reply(kind="status", status=403))
    assert complete(provider(server, fallback_list=False), ["a/one", "b/two"]).model == "b/two"


@pytest.mark.parametrize(("kind", "error"), [
    ("server_500", ServerError), ("rate_limited", RateLimitedError), ("malformed", BadResponseError),
    ("empty_choices", BadResponseError), ("error_body", ServerError), ("timeout", ModelTimeout),
])
def test_persistent_faults_end_in_their_error_after_the_retries(server, kind, error):
    server.script("a/one", *[fault(kind)] * 3)
    with pytest.raises(error) as raised:
        complete(provider(server, max_retries=2, timeout=0.3), ["a/one"])
    assert len(server.requests) == 3 and raised.value.model == "a/one"


def test_every_model_failing_names_each_in_the_error(server):
    server.script("a/one", fault("server_502"))
    server.script("b/two", fault("server_503"))
    with pytest.raises(ServerError, match=r"every model failed \(a/one: server; b/two: server\)"):
        complete(provider(server, max_retries=0, fallback_list=False), ["a/one", "b/two"])


def test_connection_refused_is_a_server_error(server):
    client = OpenRouter(OpenRouter.Config(base_url="http://127.0.0.1:9/v1", api_key_env="", max_retries=1,
                                          backoff=0.01))
    with pytest.raises(ServerError, match="connection failed"):
        complete(client, ["a/one"])


def test_call_timeout_bounds_retries(server):
    server.script("a/one", *[Reply(kind="status", status=429, retry_after="5")] * 2)
    started = time.monotonic()
    with pytest.raises(RateLimitedError):
        complete(provider(server, call_timeout=2), ["a/one"])
    assert time.monotonic() - started < 1 and len(server.requests) == 1  # a 5 s wait cannot fit in 2 s


def test_concurrency_cap_is_never_exceeded_server_side():
    with FakeOpenAI(latency=0.2, responder=variant_responder) as server:
        complete_many(provider(server, concurrency=3), 12)
    assert len(server.requests) == 12 and server.max_in_flight == 3


def test_requests_per_minute_are_paced():
    with FakeOpenAI(responder=variant_responder) as server:
        complete_many(provider(server, rpm=600), 8)  # one start every 0.1 s
    arrivals = sorted(r.arrived for r in server.requests)
    # never more than n + 1 arrivals within n tenths of a second (one for connection-setup jitter)
    assert all(arrivals[j] - arrivals[i] >= (j - i - 1) * 0.1 - 0.01
               for i in range(len(arrivals)) for j in range(i + 1, len(arrivals)))
    assert arrivals[-1] - arrivals[0] >= 0.5  # 0.7 s of pacing, less connection-setup jitter


def test_missing_key_variable_is_one_line_naming_it(monkeypatch, server):
    monkeypatch.delenv("TEST_OR_KEY")
    client = provider(server)
    with pytest.raises(ConfigError) as raised:
        client.check(["a/one"])
    assert str(raised.value) == "model 'a/one': environment variable TEST_OR_KEY is not set (it holds the API key)"
    with pytest.raises(AuthError, match="TEST_OR_KEY is not set"):
        complete(client, ["a/one"])
    assert server.requests == []


def test_the_key_never_reaches_logs_or_errors(server, caplog):
    caplog.set_level(logging.DEBUG)
    for kind in ("server_502", "rate_limited", "error_body", "malformed"):
        server.script("a/one", *[fault(kind)] * 2)
    messages = []
    for _ in range(4):
        try:
            complete(provider(server, max_retries=1), ["a/one"])
        except ModelError as exc:
            messages.append(f"{exc!s} {exc!r}")
    assert len(messages) == 4 and caplog.records
    assert KEY not in caplog.text and all(KEY not in m for m in messages)
