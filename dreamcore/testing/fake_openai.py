"""A fake OpenAI-compatible chat-completions server on 127.0.0.1, over real HTTP.

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
import itertools
import json
import random
import re
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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
        self._closing = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        """The API root to configure: ``http://127.0.0.1:<port>/v1``."""
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def start(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._closing.set()
        self._server.shutdown()
        self._server.server_close()

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

    # -- serving (handler threads) -----------------------------------------------------------------

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

    def _serve(self, body: dict[str, Any], headers: dict[str, str]) -> tuple[Reply, str, Request]:
        model = str(body.get("model", ""))
        models = [str(m) for m in body.get("models") or [model]]
        record = Request(model=model, models=models, body=body, headers=headers, arrived=time.monotonic())
        with self._lock:
            self.requests.append(record)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        reply, served = Reply(kind="status", status=400), model
        for served in models:
            reply = self._next_reply(body, served)
            if not reply.failed:
                break
        delay = self.latency if reply.delay is None else reply.delay
        self._closing.wait(delay)
        record.served_by = served
        return reply, served, record

    def _done(self, record: Request, status: int) -> None:
        with self._lock:
            self.in_flight -= 1
            record.ended = time.monotonic()
            record.status = status


def _handler(server: FakeOpenAI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
            except ValueError:
                body = {}
            reply, served, record = server._serve(body, dict(self.headers.items()))
            status = 200
            try:
                status = self._answer(reply, served)
            except OSError:
                status = -1  # the client gave up (its timeout) and closed the connection
            finally:
                server._done(record, status)

        def _answer(self, reply: Reply, served: str) -> int:
            if reply.kind == "drop":
                self.close_connection = True
                return -1
            if reply.kind == "status":
                payload = {"error": {"code": reply.status, "message": f"fake error {reply.status}"}}
                extra = {"Retry-After": reply.retry_after} if reply.retry_after else {}
                return self._send(reply.status, json.dumps(payload).encode(), extra)
            if reply.kind == "error_body":
                payload = {"model": served, "error": {"code": reply.status, "message": "provider failed mid-way"}}
                return self._send(200, json.dumps(payload).encode())
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
            return self._send(200, data)

        def _send(self, status: int, data: bytes, headers: dict[str, str] | None = None) -> int:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)
            return status

    return Handler


# -- a responder that writes plausible variants --------------------------------------------------

_ANSWERS = itertools.count(1)
_COUNT = re.compile(r"Write (\d+) variants? of the function `(\w+)`")
_FENCED = re.compile(r"(`{3,})python\n(.*?)\n\1", re.DOTALL)


def variant_responder(body: dict[str, Any], model: str) -> str:
    """Answers a dreamcore prompt with as many variants as it asks for: the function from the first
    fenced block, each variant with one distinct extra statement, in the Variant/Description/Reasoning
    shape the built-in prompts ask for (numbered across all answers, so no two answers repeat).
    Anything else gets a prose answer without code."""
    prompt = "\n".join(str(m.get("content", "")) for m in body.get("messages", []) if m.get("role") == "user")
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
