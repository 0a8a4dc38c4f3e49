"""Evaluator ``claude``: Claude judges a batch of dreams, over the Messages API or the Claude Code CLI.

``mode = "api"``: one ``POST {base_url}/v1/messages`` per batch (httpx). The key is read from the
environment variable named by ``api_key_env`` when a batch is sent; it goes into the request header
and nowhere else (not the store, the logs or any error message). 429 and 529 (and 500/503, and
connection failures) are retried up to ``max_retries`` times, waiting what ``retry-after`` says
(capped at ``max_retry_wait``) or else an exponential backoff. Tokens come from the response's
``usage``; cost from the per-million-token prices (built in for known models, or configured).

``mode = "cli"``: ``claude -p --output-format json --model <model>`` with the prompt on stdin, in its
own process group; after ``cli_timeout`` seconds the whole group is killed. The CLI prints one JSON
object (``type: "result"``, ``subtype``, ``is_error``, ``result``, ``total_cost_usd``, ``usage``).
Non-zero exits, ``is_error``, "not logged in" and anything that is not that object are errors.

Either way the answer's text is read by the configured parser plugins; an error leaves the batch's
dreams pending with the error recorded.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from typing import TYPE_CHECKING, Any

import attrs

from dreamcore import hookimpl
from dreamcore.config import documented
from dreamcore.evaluation.judging import JUDGE_SYSTEM, EvaluationBatch, EvaluationError, Judgement, Usage
from dreamcore.llm.retry import retry_after_seconds

if TYPE_CHECKING:
    import httpx

ANTHROPIC_VERSION = "2023-06-01"
RETRYABLE = frozenset({429, 500, 503, 529})
# USD per million input / output tokens, by model id prefix (dated snapshots share their alias's price)
PRICES = {
    "claude-sonnet-4": (3.0, 15.0),
    "claude-haiku-4-5": (1.0, 5.0),
    "claude-opus-4-5": (5.0, 25.0),
    "claude-opus-4-6": (5.0, 25.0),
}
SNIPPET = 120


def _positive(instance: Any, attribute: attrs.Attribute, value: float) -> None:
    if not value > 0:
        raise ValueError(f"{attribute.name} must be > 0, got {value}")


def _not_negative(instance: Any, attribute: attrs.Attribute, value: float | None) -> None:
    if value is not None and not value >= 0:
        raise ValueError(f"{attribute.name} must be >= 0, got {value}")


def _mode(instance: Any, attribute: attrs.Attribute, value: str) -> None:
    if value not in ("api", "cli"):
        raise ValueError(f'mode must be "api" or "cli", got {value!r}')


class ClaudeEvaluator:
    """Claude as the judge, through the Messages API or the ``claude`` command."""

    name = "claude"

    @attrs.define(kw_only=True)
    class Config:
        """[plugins.claude]: Claude as the judge (API or Claude Code CLI)."""

        mode: str = attrs.field(
            default="api",
            validator=_mode,
            metadata=documented('"api" (Messages API over HTTP) or "cli" (`claude -p`, a logged-in Claude Code)'),
        )
        model: str = attrs.field(
            default="claude-sonnet-4-6", metadata=documented("model id or CLI alias (sonnet)")
        )
        base_url: str = attrs.field(default="https://api.anthropic.com", metadata=documented("API endpoint base"))
        api_key_env: str = attrs.field(
            default="ANTHROPIC_API_KEY", metadata=documented("environment variable holding the API key (api mode)")
        )
        max_tokens: int = attrs.field(
            default=4096, validator=_positive, metadata=documented("answer length limit")
        )
        timeout: float = attrs.field(
            default=120.0, validator=_positive, metadata=documented("seconds per API request")
        )
        max_retries: int = attrs.field(
            default=4, validator=_not_negative, metadata=documented("retries on 429/529/5xx and lost connections")
        )
        retry_base_delay: float = attrs.field(
            default=1.0,
            validator=_positive,
            metadata=documented("first backoff when no retry-after is given, doubled"),
        )
        max_retry_wait: float = attrs.field(
            default=60.0, validator=_positive, metadata=documented("longest wait between two attempts, in seconds")
        )
        input_usd_per_mtok: float | None = attrs.field(
            default=None,
            validator=_not_negative,
            metadata=documented("price of a million input tokens; unset = built-in"),
        )
        output_usd_per_mtok: float | None = attrs.field(
            default=None,
            validator=_not_negative,
            metadata=documented("price of a million output tokens; unset = built-in"),
        )
        command: str = attrs.field(default="claude", metadata=documented("the Claude Code executable (cli mode)"))
        cli_timeout: float = attrs.field(
            default=300.0,
            validator=_positive,
            metadata=documented("seconds before the CLI's process group is killed"),
        )
        cli_args: list[str] = attrs.field(factory=list, metadata=documented("extra arguments for the CLI"))

    def __init__(self, config: Config | None = None) -> None:
        self.config = config if config is not None else self.Config()

    async def evaluate(self, batch: EvaluationBatch) -> Judgement:
        """Ask Claude about the batch's prompt; its answer's text goes to the parsers."""
        ask = self._ask_api if self.config.mode == "api" else self._ask_cli
        text, usage = await ask(batch.prompt)
        return Judgement(judge=f"claude-{self.config.mode}:{self.config.model}", text=text, usage=usage)

    # -- api -------------------------------------------------------------------------------------

    async def _ask_api(self, prompt: str) -> tuple[str, Usage]:
        import httpx  # here, not at the top: `dreamcore --help` stays fast

        config = self.config
        key = os.environ.get(config.api_key_env, "").strip()
        if not key:
            raise EvaluationError(f"claude api: environment variable {config.api_key_env} is not set")
        url = config.base_url.rstrip("/") + "/v1/messages"
        body = {
            "model": config.model,
            "max_tokens": config.max_tokens,
            "temperature": 0,
            "system": JUDGE_SYSTEM,
            "messages": [{"role": "user", "content": prompt}],
        }
        headers = {
            "x-api-key": key,
            "anthropic-version": ANTHROPIC_VERSION,
            "content-type": "application/json",
        }
        async with httpx.AsyncClient(timeout=config.timeout) as client:
            for attempt in range(config.max_retries + 1):
                wait = config.retry_base_delay * 2**attempt
                try:
                    response = await client.post(url, json=body, headers=headers)
                except httpx.TimeoutException:
                    problem = f"no answer within {config.timeout:g} s"
                except httpx.HTTPError as exc:
                    problem = f"cannot reach {config.base_url}: {type(exc).__name__}"
                else:
                    if response.status_code == 200:
                        return self._read_message(response, key)
                    problem = _api_problem(response, key)
                    if response.status_code not in RETRYABLE or "spend_limit" in problem:
                        raise EvaluationError(f"claude api: {problem}")
                    wait = retry_after_seconds(response.headers.get("retry-after")) or wait
                if attempt < config.max_retries:
                    await asyncio.sleep(min(wait, config.max_retry_wait))
        raise EvaluationError(f"claude api: {problem} (gave up after {config.max_retries + 1} attempts)")

    def _read_message(self, response: httpx.Response, key: str) -> tuple[str, Usage]:
        try:
            data = response.json()
        except ValueError:
            raise EvaluationError(
                f"claude api: malformed response body (not JSON): {_snippet(response.text, key)}"
            ) from None
        content = data.get("content") if isinstance(data, dict) else None
        if not isinstance(data, dict) or data.get("type") != "message" or not isinstance(content, list):
            raise EvaluationError(
                "claude api: malformed response body (expected a message with content): "
                + _snippet(response.text, key)
            )
        texts = [
            b["text"]
            for b in content
            if isinstance(b, dict) and b.get("type") == "text" and isinstance(b.get("text"), str)
        ]
        if not texts:
            raise EvaluationError(
                f"claude api: the answer holds no text (stop_reason {data.get('stop_reason')!r})"
            )
        usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
        input_tokens, output_tokens = _count(usage, "input_tokens"), _count(usage, "output_tokens")
        return "".join(texts), Usage(
            model=self.config.model,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cost_usd=self._cost(input_tokens, output_tokens),
        )

    def _cost(self, input_tokens: int, output_tokens: int) -> float:
        built_in = next(
            (price for prefix, price in PRICES.items() if self.config.model.startswith(prefix)), (0.0, 0.0)
        )
        per_input = (
            self.config.input_usd_per_mtok if self.config.input_usd_per_mtok is not None else built_in[0]
        )
        per_output = (
            self.config.output_usd_per_mtok if self.config.output_usd_per_mtok is not None else built_in[1]
        )
        return (input_tokens * per_input + output_tokens * per_output) / 1_000_000

    # -- cli -------------------------------------------------------------------------------------

    async def _ask_cli(self, prompt: str) -> tuple[str, Usage]:
        config = self.config
        argv = [config.command, "-p", "--output-format", "json", "--model", config.model, *config.cli_args]
        try:
            process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,  # its own process group, killed as a whole on timeout
            )
        except FileNotFoundError:
            raise EvaluationError(
                f"claude cli: {config.command!r} not found "
                "(install Claude Code, or set plugins.claude.command)"
            ) from None
        except PermissionError:
            raise EvaluationError(f"claude cli: {config.command!r} is not executable") from None
        try:
            stdout, stderr = await asyncio.wait_for(process.communicate(prompt.encode()), config.cli_timeout)
        except TimeoutError:
            await _kill_group(process)
            raise EvaluationError(
                f"claude cli: no answer within {config.cli_timeout:g} s (process group killed)"
            ) from None
        except BaseException:
            await _kill_group(process)
            raise
        return self._read_result(
            process.returncode, stdout.decode(errors="replace"), stderr.decode(errors="replace")
        )

    def _read_result(self, returncode: int, out: str, err: str) -> tuple[str, Usage]:
        data = _result_object(out)
        said = f"{out}\n{err}".lower()
        if "not logged in" in said or "/login" in said:
            raise EvaluationError(
                'claude cli: not logged in (run `claude` once and log in, or use mode = "api")'
            )
        if returncode != 0:
            detail = (
                data.get("result") if data and isinstance(data.get("result"), str) else (err.strip() or out)
            )
            raise EvaluationError(f"claude cli: exited with code {returncode}: {_snippet(str(detail))}")
        if data is None:
            raise EvaluationError(f"claude cli: output is not its JSON result: {_snippet(out) or '(empty)'}")
        if data.get("is_error") or data.get("subtype", "success") != "success":
            raise EvaluationError(
                f"claude cli: error ({data.get('subtype', 'is_error')}): {_snippet(str(data.get('result')))}"
            )
        if not isinstance(data.get("result"), str):
            raise EvaluationError(f"claude cli: the JSON result has no text 'result': {_snippet(out)}")
        usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
        cost = data.get("total_cost_usd")
        return data["result"], Usage(
            model=self.config.model,
            input_tokens=_count(usage, "input_tokens"),
            output_tokens=_count(usage, "output_tokens"),
            cost_usd=float(cost) if isinstance(cost, (int, float)) and not isinstance(cost, bool) else 0.0,
        )


def _api_problem(response: httpx.Response, key: str) -> str:
    """``429 rate_limit_error: <message>`` from an API error response (whatever its body)."""
    try:
        error = response.json().get("error") or {}
        kind, message = error.get("type", "error"), str(error.get("message", ""))
        code = (error.get("details") or {}).get("error_code")
        if code:
            message += f" ({code})"
    except (ValueError, AttributeError):
        kind, message = "error", response.text
    return f"HTTP {response.status_code} {kind}: {_snippet(message, key)}"


def _result_object(out: str) -> dict[str, Any] | None:
    """The CLI's JSON result object (also the last ``result`` of a message list), or None."""
    try:
        data = json.loads(out)
    except ValueError:
        return None
    if isinstance(data, list):
        data = next(
            (item for item in reversed(data) if isinstance(item, dict) and item.get("type") == "result"), None
        )
    return data if isinstance(data, dict) and ("result" in data or data.get("type") == "result") else None


async def _kill_group(process: asyncio.subprocess.Process) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    await process.wait()


def _count(usage: dict[str, Any], key: str) -> int:
    value = usage.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _snippet(text: str, secret: str = "") -> str:
    text = " ".join(text.split())
    if secret:
        text = text.replace(secret, "***")
    return text if len(text) <= SNIPPET else text[: SNIPPET - 1] + "…"


@hookimpl
def register_evaluators(register) -> None:
    register(ClaudeEvaluator)
