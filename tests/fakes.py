"""Real stand-ins for Claude: a loopback HTTP server speaking the Messages API and a fake ``claude``
executable."""

from __future__ import annotations

import json
import re
import sys
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
_ID = re.compile(r'<dream id="(D-\d+)">')


def verdicts_for(prompt: str) -> list[dict[str, Any]]:
    """A judge's deterministic verdicts on every dream a prompt names: score from the id."""
    verdicts = []
    for ref in _ID.findall(prompt):
        score = (int(ref[2:]) % 10) / 10 + 0.05
        tier = 1 if score >= 0.6 else 2 if score >= 0.3 else 3
        verdicts.append(
            {"id": ref, "viability_score": round(score, 2), "tier": tier, "reasoning": f"fake verdict {ref}"}
        )
    return verdicts


def answer_for(prompt: str) -> str:
    """A judge's answer text: a sentence of prose, then a fenced JSON array."""
    return "Here are my evaluations.\n\n```json\n" + json.dumps(verdicts_for(prompt), indent=1) + "\n```\n"


# -- a fake Anthropic Messages API ---------------------------------------------------------------


class FakeAnthropic:
    """A real HTTP server on 127.0.0.1 answering ``POST /v1/messages`` like the Messages API.

    ``script`` holds scripted replies ``(status, headers, body)`` used first, in order (body: a dict
    sent as JSON, or raw text); once it is empty every request gets a success answering all the
    prompt's dreams (``answer_for``). ``latency`` seconds pass before each reply. ``requests`` keeps
    every request's headers and JSON body.
    """

    def __init__(self, latency: float = 0.0) -> None:
        self.latency = latency
        self.script: deque[tuple[int, dict[str, str], Any]] = deque()
        self.requests: list[dict[str, Any]] = []
        self.times: list[float] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                request = {
                    "path": self.path,
                    "headers": dict(self.headers),
                    "body": json.loads(body or b"null"),
                }
                fake.requests.append(request)
                fake.times.append(time.monotonic())
                time.sleep(fake.latency)
                status, headers, reply = (
                    fake.script.popleft() if fake.script else (200, {}, fake.success(request))
                )
                raw = reply.encode() if isinstance(reply, str) else json.dumps(reply).encode()
                self.send_response(status)
                for key, value in {"content-type": "application/json", **headers}.items():
                    self.send_header(key, value)
                self.send_header("content-length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @staticmethod
    def success(request: dict[str, Any]) -> dict[str, Any]:
        prompt = request["body"]["messages"][0]["content"]
        text = answer_for(prompt)
        return {
            "id": "msg_fake",
            "type": "message",
            "role": "assistant",
            "model": request["body"]["model"],
            "content": [{"type": "text", "text": text}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": len(prompt) // 4, "output_tokens": len(text) // 4},
        }

    @staticmethod
    def error(status: int, kind: str, message: str, **headers: str) -> tuple[int, dict[str, str], dict]:
        return (
            status,
            headers,
            {"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_1"},
        )

    def __enter__(self) -> FakeAnthropic:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


# -- a fake claude executable ----------------------------------------------------------------------

FAKE_CLAUDE = '''#!{python}
"""A fake Claude Code CLI. Mode from $FAKE_CLAUDE_MODE; argv, stdin and pids land in $FAKE_CLAUDE_LOG."""
import json, os, subprocess, sys, time
sys.path.insert(0, {root!r})
from tests.fakes import answer_for

prompt = sys.stdin.read()
mode = os.environ.get("FAKE_CLAUDE_MODE", "success")
log = os.environ.get("FAKE_CLAUDE_LOG")
if log:
    with open(log, "a") as f:
        f.write(json.dumps({{"argv": sys.argv[1:], "stdin": prompt, "pid": os.getpid()}}) + "\\n")
result = {{"type": "result", "subtype": "success", "is_error": False, "duration_ms": 1200,
          "duration_api_ms": 1100,
          "num_turns": 1, "session_id": "5b1c-fake", "total_cost_usd": 0.0123,
          "usage": {{"input_tokens": len(prompt) // 4, "output_tokens": 50, "cache_read_input_tokens": 0,
                    "cache_creation_input_tokens": 0}}}}
if mode in ("success", "slow"):
    time.sleep(float(os.environ.get("FAKE_CLAUDE_DELAY", "0")) if mode == "slow" else 0)
    print(json.dumps({{**result, "result": answer_for(prompt)}}))
elif mode == "is_error":
    failed = {{"subtype": "error_during_execution", "is_error": True, "result": "tool failed"}}
    print(json.dumps({{**result, **failed}}))
elif mode == "not_logged_in":
    print(json.dumps({{**result, "is_error": True, "result": "Not logged in · Please run /login"}}))
    sys.exit(1)
elif mode == "exit":
    print("Error: unknown option --frobnicate", file=sys.stderr)
    sys.exit(3)
elif mode == "garbage":
    print("<html>Service Unavailable</html>")
elif mode == "hang":
    child = subprocess.Popen(["sleep", "300"])
    if log:
        with open(log, "a") as f:
            f.write(json.dumps({{"child": child.pid}}) + "\\n")
    time.sleep(300)
'''


def install_fake_claude(folder: Path) -> Path:
    """Write the fake ``claude`` into ``folder`` (to put on PATH); returns the executable."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "claude"
    path.write_text(FAKE_CLAUDE.format(python=sys.executable, root=str(ROOT)))
    path.chmod(0o755)
    return path
