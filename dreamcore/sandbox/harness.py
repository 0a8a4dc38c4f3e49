"""The program run inside a sandbox: load one side (base or dream), call it on every case, report.

Standard library only; the sandbox runs this file's text with ``python -I -c``. It never imports
dreamcore. The host starts it once per side — base and dream are separate processes, so a dream
never sees the base's outputs — and writes one JSON job to its stdin::

    {"nonce": str, "role": "base" | "dream", "files": {path: text}, "module": str | null,
     "base_code": str, "dream_code": str, "function": str, "cases": [{"args": [...], "kwargs": {...}}]}

Before any job code is loaded, the harness keeps a private duplicate of stdout as its result
channel, points fds 0, 1 and 2 at /dev/null (so the code's prints go nowhere), and takes its own
references to the functions it needs. Each report is a frame ``DCF <nonce> <length>\\n<json>``:
``ready`` or ``load_error``, then one ``case`` per case, then ``done``. The host parses frames
strictly, in order, and compares base and dream itself.

Threat model, honestly: the loaded code runs in this process with the harness. A determined dream
can find the channel fd and the nonce in memory and write frames of its own, or patch what the
harness uses. What it can forge that way is only its own side's report (outputs, timings); it
cannot see the base's outputs (another process), so faking "equal" means computing them — being
equivalent on those inputs. Malformed, out-of-order or unexpected frames make the host fail the
dream. Reported durations are trusted only as far as the host's wall clock bounds them.
"""

import hashlib
import itertools
import json
import math
import os
import re
import sys
import time
from collections.abc import Iterator
from types import CoroutineType

_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
_REPR_LIMIT = 200
_ITEMS_LIMIT = 10_000
_Iterator, _Coroutine, _islice = Iterator, CoroutineType, itertools.islice
_sha256, _dumps, _perf = hashlib.sha256, json.dumps, time.perf_counter
_write, _exit, _getpid, _isinstance, _repr, _type = os.write, os._exit, os.getpid, isinstance, repr, type


def canonical(value, depth=0):
    """A process-independent, JSON-able form of a value: what "equal output" means."""
    if depth > 20:
        return "<deep>"
    if value is None or _isinstance(value, (bool, int, str)):
        return value
    if _isinstance(value, float):
        return "nan" if math.isnan(value) else float(format(value, ".12g"))
    if _isinstance(value, bytes):
        return {"bytes": value.hex()}
    if _isinstance(value, (list, tuple)):
        return [_type(value).__name__, [canonical(item, depth + 1) for item in value]]
    if _isinstance(value, (set, frozenset)):
        items = [canonical(item, depth + 1) for item in value]
        return ["set", sorted(items, key=lambda item: _dumps(item, sort_keys=True, default=str))]
    if _isinstance(value, dict):
        pairs = [[canonical(k, depth + 1), canonical(v, depth + 1)] for k, v in value.items()]
        return ["dict", sorted(pairs, key=lambda pair: _dumps(pair, sort_keys=True, default=str))]
    fields = getattr(value, "__dict__", None)
    if _isinstance(fields, dict):
        return [_type(value).__qualname__, canonical(fields, depth + 1)]
    return [_type(value).__qualname__, _ADDRESS.sub(" at 0x?", _repr(value))]


def _digest(*values):
    return _sha256(_dumps([canonical(v) for v in values], sort_keys=True, default=str).encode()).hexdigest()


def _short(text):
    return text if len(text) <= _REPR_LIMIT else text[: _REPR_LIMIT - 3] + "..."


def _text(value, show=str):
    try:
        return _short(show(value))
    except BaseException as exc:  # a hostile __str__ or __repr__
        return f"<unprintable {_type(value).__name__}: {_type(exc).__name__}>"


class Channel:
    """Length-prefixed frames on the private duplicate of stdout."""

    def __init__(self, nonce):
        self.fd = os.dup(1)
        self.nonce = nonce.encode()

    def send(self, **frame):
        payload = _dumps(frame, default=str).encode()
        data = b"DCF " + self.nonce + b" " + str(len(payload)).encode() + b"\n" + payload
        while data:
            data = data[_write(self.fd, data):]


def _silence_standard_streams():
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)


def _load(job, channel):
    """The function to call, from the job's files, module and code; None after a load_error frame."""
    sys.path.insert(0, os.getcwd())
    for path, text in job["files"].items():
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        with open(path, "w", encoding="utf-8") as file:
            file.write(text)
    try:
        if job["module"]:
            __import__(job["module"])
            namespace = sys.modules[job["module"]].__dict__
        else:
            namespace = {"__name__": "dreamcore_subject"}
        exec(compile(job["base_code"], "<base>", "exec"), namespace)
        if job["role"] == "dream":
            exec(compile(job["dream_code"], "<dream>", "exec"), namespace)
        target = namespace[job["function"].split(".")[0]]
        for part in job["function"].split(".")[1:]:
            target = getattr(target, part)
    except BaseException as exc:  # the loaded code may raise anything, SystemExit included
        channel.send(kind="load_error", type=_type(exc).__name__, message=_text(exc))
        return None
    return target


def _call(function, case):
    args, kwargs = case.get("args", []), case.get("kwargs", {})
    started = _perf()
    try:
        result = function(*args, **kwargs)
        if _isinstance(result, _Coroutine):
            import asyncio

            result = asyncio.run(result)
        elif _isinstance(result, _Iterator):  # a generator's output is what it yields
            result = ["iterator", list(_islice(result, _ITEMS_LIMIT))]
        duration = _perf() - started
        return {"ok": True, "repr": _text(result, _repr), "hash": _digest(result, args, kwargs),
                "duration": duration}
    except BaseException as exc:
        duration = _perf() - started
        return {"ok": False, "error_type": _type(exc).__name__, "error_message": _text(exc),
                "errno": getattr(exc, "errno", None), "duration": duration}


def main():
    job = json.loads(sys.stdin.buffer.read())
    channel = Channel(job["nonce"])
    _silence_standard_streams()
    harness_pid = _getpid()
    function = _load(job, channel)
    if function is None:
        _exit(0)
    channel.send(kind="ready")
    for index, case in enumerate(job["cases"], start=job.get("first", 0)):
        report = _call(function, case)
        if _getpid() != harness_pid:  # a child forked by the code under test: it must not report
            _exit(0)
        channel.send(kind="case", index=index, **report)
    channel.send(kind="done")
    _exit(0)  # threads the code started do not keep the process alive


if __name__ == "__main__":
    main()
