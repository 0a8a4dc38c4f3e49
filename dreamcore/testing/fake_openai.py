"""A fake OpenAI-compatible chat-completions server on 127.0.0.1, over real HTTP/1.1 (keep-alive), served
by an asyncio event loop in its own thread, so thousands of held requests cost no threads.

Answers are scripted per model (:meth:`FakeOpenAI.script`), else made by a ``responder`` function;
faults can be scripted or injected at random (``fault_rate``). A request carrying OpenRouter's
``models`` list is served like OpenRouter does: a model whose reply is a failure passes the request
to the next one, and the answer names the model that served. The server counts requests in flight
(``max_in_flight``) and logs every request with its arrival and end times. Standard library only.

    with FakeOpenAI(latency=0.5, responder=variant_responder) as server:
        ...  # point base_url at server.base_url
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import itertools
import json
import random
import re
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import attrs

FAULT_KINDS = ("rate_limited", "rate_limited_retry_after", "server_500", "server_502", "server_503", "timeout",
               "truncated", "malformed", "error_body", "empty_choices", "unparsable_code")


@attrs.define(kw_only=True)
class Reply:
    """One answer. ``kind``: ok, status (an HTTP error), error_body (200 with an error), truncated,
    malformed, empty_choices, drop (close without answering). ``delay`` overrides the server's latency
    (a delay longer than the client's timeout is a read timeout)."""

    kind: str = "ok"
    text: str = ""
    status: int = 200
    retry_after: str | None = None
    delay: float | None = None
    cost: float = 0.001
    prompt_tokens: int = 100
    completion_tokens: int = 50

    @property
    def failed(self) -> bool:
        """Whether OpenRouter would move on to the next model of a ``models`` list."""
        return self.kind != "ok"


def fault(kind: str) -> Reply:
    """A Reply for one of FAULT_KINDS."""
    replies = {
        "rate_limited": Reply(kind="status", status=429),
        "rate_limited_retry_after": Reply(kind="status", status=429, retry_after="1"),
        "server_500": Reply(kind="status", status=500),
        "server_502": Reply(kind="status", status=502),
        "server_503": Reply(kind="status", status=503),
        "timeout": Reply(delay=3600.0),
        "truncated": Reply(kind="truncated"),
        "malformed": Reply(kind="malformed"),
        "error_body": Reply(kind="error_body", status=502),
        "empty_choices": Reply(kind="empty_choices"),
        "unparsable_code": Reply(text="### Variant 1\nDescription: d\nReasoning: r\n```python\ndef f(:\n  pass\n```"),
    }
    return replies[kind]


@attrs.define(kw_only=True)
class Request:
    """One request the server received."""

    model: str
    models: list[str]
    body: dict[str, Any]
    headers: dict[str, str]
    arrived: float
    ended: float = 0.0
    served_by: str = ""
    status: int = 0


class FakeOpenAI:
    """The server (see the module docstring). Use as a context manager, or start() and stop()."""

    def __init__(
        self,
        *,
        latency: float = 0.0,
        responder: Callable[[dict[str, Any], str], str] | None = None,
        fault_rate: float = 0.0,
        faults: tuple[str, ...] = FAULT_KINDS,
        seed: int = 0,
        hang: float = 3600.0,
    ) -> None:
        self.latency = latency
        self.hang = hang
        self.responder = responder or (lambda body, model: "")
        self.fault_rate = fault_rate
        self.faults = faults
        self.requests: list[Request] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.injected: dict[str, int] = {}
        self._scripts: dict[str, deque[Reply]] = {}
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._connection, "127.0.0.1", 0, backlog=1024)
        )
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    @property
    def base_url(self) -> str:
        """The API root to configure: ``http://127.0.0.1:<port>/v1``."""
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}/v1"

    def start(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; requests still held (latency, hangs) are dropped."""
        async def shutdown() -> None:
            self._server.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(timeout=10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
        self._loop.close()

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def script(self, model: str, *replies: Reply) -> None:
        """Queue replies for a model; once they are used up the responder answers again."""
        with self._lock:
            self._scripts.setdefault(model, deque()).extend(replies)

    def requests_for(self, model: str) -> list[Request]:
        """Requests whose first model was ``model``."""
        return [r for r in self.requests if r.model == model]

    # -- serving (the server's own event loop, in its thread) ----------------------------------------

    def _next_reply(self, body: dict[str, Any], model: str) -> Reply:
        with self._lock:
            queue = self._scripts.get(model)
            if queue:
                return queue.popleft()
            if self.fault_rate and self._rng.random() < self.fault_rate:
                kind = self._rng.choice(self.faults)
                self.injected[kind] = self.injected.get(kind, 0) + 1
                return Reply(delay=self.hang) if kind == "timeout" else fault(kind)
        return Reply(text=self.responder(body, model))

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One keep-alive connection: requests one after the other until the client closes it."""
        try:
            while await self._exchange(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError,
                asyncio.CancelledError):
            pass  # the client went away, sent garbage, or the server is stopping
        finally:
            writer.close()

    async def _exchange(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        head = await reader.readuntil(b"\r\n\r\n")
        request_line, *header_lines = head.decode("latin-1").split("\r\n")
        headers = dict(line.split(": ", 1) for line in header_lines if ": " in line)
        length = int(next((v for k, v in headers.items() if k.lower() == "content-length"), "0"))
        try:
            body = json.loads(await reader.readexactly(length) or b"{}")
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        model = str(body.get("model", ""))
        record = Request(model=model, models=[str(m) for m in body.get("models") or [model]], body=body,
                         headers=headers, arrived=time.monotonic())
        with self._lock:
            self.requests.append(record)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        status = -1
        try:
            reply = Reply(kind="status", status=400)
            for served in record.models:
                record.served_by = served
                reply = self._next_reply(body, served)
                if not reply.failed:
                    break
            await asyncio.sleep(self.latency if reply.delay is None else reply.delay)
            if reply.kind == "drop":
                return False
            status, data, extra = _answer(reply, record.served_by)
            extra_lines = "".join(f"{key}: {value}\r\n" for key, value in extra.items())
            writer.write(f"HTTP/1.1 {status} {'OK' if status == 200 else 'Error'}\r\nContent-Type: application/json"
                         f"\r\nContent-Length: {len(data)}\r\n{extra_lines}\r\n".encode() + data)
            await writer.drain()
            return True
        finally:
            with self._lock:
                self.in_flight -= 1
                record.ended = time.monotonic()
                record.status = status


def _answer(reply: Reply, served: str) -> tuple[int, bytes, dict[str, str]]:
    """(status, body, extra headers) for a reply."""
    if reply.kind == "status":
        payload = {"error": {"code": reply.status, "message": f"fake error {reply.status}"}}
        return reply.status, json.dumps(payload).encode(), {"Retry-After": reply.retry_after} if reply.retry_after else {}
    if reply.kind == "error_body":
        payload = {"model": served, "error": {"code": reply.status, "message": "provider failed mid-way"}}
        return 200, json.dumps(payload).encode(), {}
    completion = {
        "id": "fake", "object": "chat.completion", "model": served,
        "choices": [] if reply.kind == "empty_choices" else [
            {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": reply.text}}
        ],
        "usage": {"prompt_tokens": reply.prompt_tokens, "completion_tokens": reply.completion_tokens,
                  "total_tokens": reply.prompt_tokens + reply.completion_tokens, "cost": reply.cost},
    }
    data = json.dumps(completion).encode()
    if reply.kind == "truncated":
        data = data[: len(data) // 2]
    elif reply.kind == "malformed":
        data = b"<html>upstream error</html>"
    return 200, data, {}


# -- a responder that writes plausible variants --------------------------------------------------

_ANSWERS = itertools.count(1)
_COUNT = re.compile(r"Write (\d+) variants? of the function `(\w+)`")
_FENCED = re.compile(r"(`{3,})python\n(.*?)\n\1", re.DOTALL)


_DREAM_BLOCK = re.compile(r'<dream id="(D-\d+)">')


def judge_answer(prompt: str) -> str:
    """A judge's answer to an evaluation prompt: a JSON array with one verdict per dream it names, the
    score taken from the dream's number (so runs repeat)."""
    verdicts = []
    for ref in _DREAM_BLOCK.findall(prompt):
        score = (int(ref[2:]) % 10) / 10 + 0.05
        verdicts.append({"id": ref, "viability_score": round(score, 2), "reasoning": f"scripted verdict on {ref}"})
    return "My evaluations:\n```json\n" + json.dumps(verdicts, indent=1) + "\n```"


def variant_responder(body: dict[str, Any], model: str) -> str:
    """Answers a dreamcore prompt: an evaluation prompt with :func:`judge_answer`; a generation prompt
    with as many variants as it asks for: the function from the first fenced block, each variant with
    one distinct extra statement, in the Variant/Description/Reasoning shape the built-in prompts ask
    for (numbered across all answers, so no two answers repeat). Anything else gets prose without code."""
    prompt = "\n".join(str(m.get("content", "")) for m in body.get("messages", []) if m.get("role") == "user")
    if _DREAM_BLOCK.search(prompt):
        return judge_answer(prompt)
    count, source = _COUNT.search(prompt), _FENCED.search(prompt)
    if not count or not source:
        return "I cannot help with that."
    try:
        tree = ast.parse(source.group(2))
    except SyntaxError:
        return "That function does not parse."
    function = next((n for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)), None)
    if function is None:
        return "No function found."
    salt = next(_ANSWERS)
    answers = []
    for number in range(1, int(count.group(1)) + 1):
        marker = ast.parse(f"_dream_variant = {salt * 100 + number}").body[0]
        start = 1 if function.body and isinstance(function.body[0], ast.Expr) and \
            isinstance(function.body[0].value, ast.Constant) else 0
        variant = ast.FunctionDef if isinstance(function, ast.FunctionDef) else ast.AsyncFunctionDef
        copy = variant(**{**{f: getattr(function, f) for f in function._fields},
                          "body": [*function.body[:start], marker, *function.body[start:]]})
        code = ast.unparse(ast.fix_missing_locations(copy))
        answers.append(f"### Variant {number}\nDescription: marks variant {number} ({model}).\n"
                       f"Reasoning: a harmless extra binding, enough to differ.\n```python\n{code}\n```")
    return "\n\n".join(answers)


def _serve_until_stdin_closes() -> None:
    parser = argparse.ArgumentParser(description="A loopback OpenAI-compatible server (variant_responder).")
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--fault-rate", type=float, default=0.0)
    parser.add_argument("--hang", type=float, default=3600.0, help="seconds an injected timeout holds a request")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with FakeOpenAI(latency=args.latency, responder=variant_responder, fault_rate=args.fault_rate, seed=args.seed,
                    hang=args.hang) as server:
        print(server.base_url, flush=True)
        sys.stdin.read()
        statuses: dict[str, int] = {}
        for request in server.requests:
            statuses[str(request.status)] = statuses.get(str(request.status), 0) + 1
        print(json.dumps({"requests": len(server.requests), "max_in_flight": server.max_in_flight,
                          "injected": server.injected, "statuses": statuses}), flush=True)


if __name__ == "__main__":
    _serve_until_stdin_closes()
