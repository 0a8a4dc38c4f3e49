"""Model provider ``openrouter``: chat completions from OpenRouter or any OpenAI-compatible server.

A route's model chain is walked in order. Consecutive models on the same OpenRouter-style endpoint go
in one request as OpenRouter's ``models`` fallback list (the response names the model that served);
other endpoints (Ollama, vLLM, LM Studio: ``[[plugins.openrouter.models]]`` entries with their own
``base_url``) are tried one after the other, client side. Each request is retried with exponential
backoff and jitter on 429, 408, 5xx, timeouts, connection errors and unusable answers, waiting what
``Retry-After`` asks when the server says; 400/401/402/403 are not retried. Each model has its own
concurrency and requests-per-minute limits, kept by the cycle's gate (``dreamcore.llm.limits``: across
every worker on the procrastinate executor); one client with keep-alive serves each base URL.

API keys are read from the environment variable each model names and sent only in the
``Authorization`` header: never logged, stored or put in a message.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import attrs

from dreamcore import hookimpl
from dreamcore.errors import ConfigError
from dreamcore.llm.hub import (
    AuthError,
    BadRequestError,
    BadResponseError,
    Completion,
    CreditsError,
    ModelError,
    ModelTimeout,
    ModerationError,
    RateLimitedError,
    ServerError,
    Usage,
)
from dreamcore.llm.limits import Gate, LocalGate
from dreamcore.llm.retry import retry_after_seconds

DEFAULT_BASE_URL = "https://openrouter.ai/api/v1"

if TYPE_CHECKING:
    import httpx  # imported when the first request is made: `dreamcore --help` stays fast

_log = logging.getLogger(__name__)


def _at_least(minimum: float):
    def validator(instance: Any, attribute: attrs.Attribute, value: float) -> None:
        if value < minimum:
            raise ValueError(f"{attribute.name} must be >= {minimum:g}, got {value}")

    return validator


@attrs.define(kw_only=True)
class ModelEntry:
    """``[[plugins.openrouter.models]]``: a model served somewhere else than the defaults, or with its
    own limits. Routes name it by ``name``."""

    name: str
    id: str = ""
    base_url: str = ""
    api_key_env: str | None = None
    concurrency: int = 0
    rpm: float = 0
    fallback_list: bool = False

    @property
    def model_id(self) -> str:
        """The id sent to the server (``name`` when no ``id`` is given)."""
        return self.id or self.name


@attrs.frozen
class _Target:
    """A model resolved against the defaults: where to send it and its limits."""

    name: str
    model_id: str
    base_url: str
    api_key_env: str
    concurrency: int
    rpm: float
    fallback_list: bool

    @property
    def endpoint(self) -> tuple[str, str]:
        return self.base_url, self.api_key_env


class OpenRouter:
    """OpenAI-compatible chat completions with fallbacks, retries, limits and usage (see the module)."""

    name = "openrouter"

    @attrs.define(kw_only=True)
    class Config:
        """``[plugins.openrouter]``: the default endpoint, retries, limits; per-model entries override."""

        base_url: str = attrs.field(
            default=DEFAULT_BASE_URL, metadata={"help": "OpenAI-compatible API root (OpenRouter by default)"}
        )
        api_key_env: str = attrs.field(
            default="OPENROUTER_API_KEY",
            metadata={"help": "name of the environment variable holding the API key (empty = send none)"},
        )
        referer: str = attrs.field(default="", metadata={"help": "HTTP-Referer attribution header (empty = none)"})
        title: str = attrs.field(default="dreamcore", metadata={"help": "X-Title attribution header (empty = none)"})
        fallback_list: bool = attrs.field(
            default=True,
            metadata={"help": "send a route's models on the default endpoint as one OpenRouter `models` list"},
        )
        timeout: float = attrs.field(default=120.0, validator=_at_least(0.1),
                                     metadata={"help": "seconds one request may take in total"})
        call_timeout: float = attrs.field(
            default=300.0, validator=_at_least(0.1),
            metadata={"help": "seconds one call may take with its retries and fallbacks (queueing excluded)"},
        )
        max_retries: int = attrs.field(default=4, validator=_at_least(0),
                                       metadata={"help": "retries of a failed request per model"})
        backoff: float = attrs.field(default=1.0, validator=_at_least(0),
                                     metadata={"help": "first retry delay in seconds (doubles, with jitter)"})
        backoff_max: float = attrs.field(default=30.0, validator=_at_least(0),
                                         metadata={"help": "longest retry delay without Retry-After"})
        concurrency: int = attrs.field(default=8, validator=_at_least(1),
                                       metadata={"help": "requests in flight per model"})
        rpm: float = attrs.field(default=0, validator=_at_least(0),
                                 metadata={"help": "request starts per minute per model (0 = no limit)"})
        models: list[ModelEntry] = attrs.field(
            factory=list,
            metadata={"help": "[[plugins.openrouter.models]]: name, id, base_url, api_key_env, concurrency, "
                              "rpm, fallback_list for models served elsewhere or with their own limits"},
        )

    def __init__(self, config: Config | None = None) -> None:
        self.config = config if config is not None else self.Config()
        self._entries = {entry.name: entry for entry in self.config.models}
        self._clients: dict[str, httpx.AsyncClient] = {}
        self._gate: Gate = LocalGate()

    # -- configuration ----------------------------------------------------------------------------

    def _target(self, name: str) -> _Target:
        entry = self._entries.get(name)
        config = self.config
        if entry is None:
            return _Target(name, name, config.base_url, config.api_key_env, config.concurrency, config.rpm,
                           config.fallback_list)
        return _Target(
            name=entry.name,
            model_id=entry.model_id,
            base_url=entry.base_url or config.base_url,
            api_key_env=config.api_key_env if entry.api_key_env is None else entry.api_key_env,
            concurrency=entry.concurrency or config.concurrency,
            rpm=entry.rpm or config.rpm,
            fallback_list=entry.fallback_list if entry.base_url else config.fallback_list,
        )

    def check(self, models: Sequence[str]) -> None:
        """ConfigError (one line naming the variable, never its value) when a model's key is not set."""
        for name in models:
            variable = self._target(name).api_key_env
            if variable and not os.environ.get(variable):
                raise ConfigError(f"model {name!r}: environment variable {variable} is not set (it holds the API key)")

    # -- calls ------------------------------------------------------------------------------------

    async def complete(
        self, models: Sequence[str], messages: list[dict[str, str]], *, temperature: float, max_tokens: int
    ) -> Completion:
        """One completion through the chain ``models``; raises the last ModelError when all fail."""
        targets = [self._target(name) for name in models]
        errors: list[ModelError] = []
        dead_endpoints: set[tuple[str, str]] = set()
        deadline = [time.monotonic() + self.config.call_timeout]
        for group in _groups(targets):
            if group[0].endpoint in dead_endpoints:
                continue
            body = {"model": group[0].model_id, "messages": messages, "temperature": temperature,
                    "max_tokens": max_tokens}
            if len(group) > 1:
                body["models"] = [target.model_id for target in group]
            try:
                return await self._with_retries(group[0], body, deadline)
            except (AuthError, CreditsError) as exc:
                dead_endpoints.add(group[0].endpoint)  # the same key fails for every model there
                errors.append(exc)
            except ModelError as exc:
                errors.append(exc)
            if time.monotonic() >= deadline[0]:
                break
        last = errors[-1] if errors else ModelTimeout("no model could be tried in time", model=models[0])
        if len(errors) > 1:
            summary = "; ".join(f"{e.model}: {e.category}" for e in errors)
            raise type(last)(f"every model failed ({summary}); last: {last}", model=last.model)
        raise last

    async def _with_retries(self, target: _Target, body: dict[str, Any], deadline: list[float]) -> Completion:
        attempt = 0
        while True:
            queued = time.monotonic()
            async with self._gate.slot(target.name, target.concurrency, target.rpm):
                deadline[0] += time.monotonic() - queued  # waiting for a slot is not the call's time
                left = deadline[0] - time.monotonic()
                if left <= 0:
                    raise ModelTimeout(f"call timeout of {self.config.call_timeout:g}s reached", model=target.name)
                started = time.monotonic()
                try:
                    return await self._request(target, body, min(self.config.timeout, left), started)
                except ModelError as exc:
                    error = exc
            if not error.retryable or attempt >= self.config.max_retries:
                raise error
            attempt += 1
            wait = error.retry_after if error.retry_after is not None else self._backoff(attempt)
            if time.monotonic() + wait >= deadline[0]:
                raise error
            _log.info("model %s: %s (%s); retry %d/%d in %.2fs", target.name, error.category, error, attempt,
                      self.config.max_retries, wait)
            await asyncio.sleep(wait)

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter: between half and all of backoff * 2^(attempt-1), capped."""
        ceiling = min(self.config.backoff_max, self.config.backoff * 2 ** (attempt - 1))
        return ceiling * random.uniform(0.5, 1.0)

    async def _request(self, target: _Target, body: dict[str, Any], timeout: float, started: float) -> Completion:
        import httpx

        client = self._client(target.base_url)
        try:
            async with asyncio.timeout(timeout):
                response = await client.post("chat/completions", json=body, headers=self._headers(target),
                                             timeout=timeout)
                content = response.content
        except (TimeoutError, httpx.TimeoutException):
            raise ModelTimeout(f"no answer within {timeout:.3g}s", model=target.name) from None
        except httpx.TransportError as exc:
            raise ServerError(f"connection failed: {type(exc).__name__}", model=target.name) from None
        latency = time.monotonic() - started
        if response.status_code != 200:
            raise _status_error(response.status_code, _error_message(content), target.name,
                                retry_after_seconds(response.headers.get("retry-after")))
        return _completion(content, target.name, latency)

    def _headers(self, target: _Target) -> dict[str, str]:
        headers = {}
        key = os.environ.get(target.api_key_env, "") if target.api_key_env else ""
        if target.api_key_env and not key:
            raise AuthError(f"environment variable {target.api_key_env} is not set", model=target.name)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        if self.config.referer:
            headers["HTTP-Referer"] = self.config.referer
        if self.config.title:
            headers["X-Title"] = self.config.title
        return headers

    def _client(self, base_url: str) -> httpx.AsyncClient:
        import httpx

        if base_url not in self._clients:
            # no keep-alive cap: httpcore closes idle connections once the pool holds more than the cap,
            # which at high concurrency churns connections; the per-model limits bound the pool instead
            limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
            self._clients[base_url] = httpx.AsyncClient(base_url=base_url.rstrip("/") + "/", limits=limits)
        return self._clients[base_url]

    def share_gate(self, gate: Gate) -> None:
        """Take each model's concurrency and rpm limits from ``gate`` (the cycle's: on workers, the
        cluster's) instead of this instance's own."""
        self._gate = gate

    async def aclose(self) -> None:
        """Close the HTTP clients."""
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()


def _groups(targets: list[_Target]) -> list[list[_Target]]:
    """Consecutive targets on one fallback-list endpoint share a request; the others go alone."""
    groups: list[list[_Target]] = []
    for target in targets:
        previous = groups[-1][-1] if groups else None
        if previous is not None and previous.fallback_list and target.fallback_list \
                and previous.endpoint == target.endpoint:
            groups[-1].append(target)
        else:
            groups.append([target])
    return groups


_BY_STATUS: dict[int, tuple[type[ModelError], str]] = {
    400: (BadRequestError, "the request was refused as invalid"),
    401: (AuthError, "the API key was refused (check the key in the configured environment variable)"),
    402: (CreditsError, "out of credits (add credits or raise the key's limit)"),
    403: (ModerationError, "refused by moderation"),
    404: (BadRequestError, "unknown model or endpoint"),
    408: (ModelTimeout, "the request timed out at the server"),
    413: (BadRequestError, "the request is too large"),
    422: (BadRequestError, "the request was refused as invalid"),
    429: (RateLimitedError, "rate limited"),
}


def _status_error(status: int, detail: str, model: str, retry_after: float | None) -> ModelError:
    kind, meaning = _BY_STATUS.get(status, (ServerError if status >= 500 else BadRequestError, "request failed"))
    if status >= 500:
        meaning = "the provider failed"
    detail = f": {detail}" if detail else ""
    return kind(f"HTTP {status}, {meaning}{detail}", model=model, retry_after=retry_after)


def _error_message(content: bytes) -> str:
    """The ``error.message`` of an error body, shortened; else the start of the body as text."""
    try:
        error = json.loads(content).get("error")
        message = error.get("message") if isinstance(error, dict) else error
    except (ValueError, AttributeError):
        message = content.decode("utf-8", "replace")
    return " ".join(str(message or "").split())[:200]


def _completion(content: bytes, model: str, latency: float) -> Completion:
    """The completion in a 200 body, or the error it carries."""
    try:
        data = json.loads(content)
    except ValueError:
        raise BadResponseError(f"malformed JSON in the answer ({len(content)} bytes)", model=model) from None
    if not isinstance(data, dict):
        raise BadResponseError("the answer is not a JSON object", model=model)
    error = data.get("error")
    if error:
        code = error.get("code") if isinstance(error, dict) else None
        status = code if isinstance(code, int) and code >= 400 else 502
        raise _status_error(status, _error_message(content), str(data.get("model") or model), None)
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise BadResponseError("the answer has no choices", model=model)
    message = choices[0].get("message")
    text = message.get("content") if isinstance(message, dict) else None
    if choices[0].get("finish_reason") == "error" or not isinstance(text, str):
        raise BadResponseError("the answer's first choice holds no text", model=model)
    usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
    return Completion(
        text=text,
        model=str(data.get("model") or model),
        usage=Usage(
            prompt_tokens=_number(usage.get("prompt_tokens"), int),
            completion_tokens=_number(usage.get("completion_tokens"), int),
            cost=_number(usage.get("cost"), float),
        ),
        latency=latency,
    )


def _number(value: Any, kind: type) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return kind(0)
    return kind(value)


@hookimpl
def register_models(register) -> None:
    register(OpenRouter)
