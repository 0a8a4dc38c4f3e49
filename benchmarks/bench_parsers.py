"""Benchmark the evaluation parsers; prints ONE JSON object (progress goes to stderr).

Measures, side by side in one run:

* throughput in MB/s of the ``json`` parser, the ``regex`` parser and the default chain (JSON
  then regex) on the corpus of judge answers (tests/corpus/evaluations), each answer parsed on its
  own, ``--repeat`` passes over the corpus, the best pass kept;
* the worst time (of ``--repeat`` runs) of each parser and of the chain on each hostile input of
  ``--size`` characters (default 1 MB): nested brackets, long digit runs, unclosed fences,
  ``Dream`` repeated, a long line without a newline, ... Target: <= 100 ms per parser. Both wall
  time and the process's CPU time are given: on a machine busy with other work (see
  ``load_average``) wall time includes waiting for a core, CPU time does not.

Usage: python benchmarks/bench_parsers.py [--repeat N] [--size CHARS]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

from dreamcore_plugins.parsers.json_parser import JsonParser
from dreamcore_plugins.parsers.regex_parser import RegexParser

from dreamcore.evaluation.parsing import parse_with
from dreamcore.evaluation.verdicts import ParseResult

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "corpus" / "evaluations"
TARGET_MS = 100.0
MEGABYTE = 1_000_000


def hostile_inputs(size: int = MEGABYTE) -> dict[str, str]:
    """Inputs built to make a careless parser slow, each ``size`` characters long (or about)."""

    def repeat(piece: str) -> str:
        return (piece * (size // len(piece) + 1))[:size]

    return {
        "nested brackets": "[" * size,
        "nested objects": repeat('{"a":'),
        "nested id objects": repeat('{"id":['),
        "unclosed objects": repeat('{"id": "D-1", '),
        "broken objects": repeat('{"a":1,'),
        "many small objects": repeat('{"id":"D-1","score":0.5}\n'),
        "long digit run": "Dream 1: score " + "1" * size,
        "long decimal": "Dream 1: 0." + "1" * size,
        "unclosed fences": repeat("```json\n{\n"),
        "code fences": repeat("```python\nscore = 0.5\n"),
        "Dream repeated": repeat("Dream "),
        "same dream repeated": repeat("Dream 1. "),
        "distinct dreams": "".join(f"Dream {i}. " for i in range(size // 6))[:size],
        "dense ids": repeat("D1 "),
        "long line": "x" * size,
        "spaces after a reference": "Dream 1:" + " " * size,
        "newlines": "\n" * size,
        "table rows": "| Dream | Score |\n|---|---|\n" + repeat("| D-1 | 0.5 |\n"),
        "rule lines": "| Dream | Score |\n" + repeat("|---|\n"),
        "pipe lines": repeat("|\n"),
        "empty table rows": "| Dream | Score |\n|---|---|\n" + repeat("|  |\n"),
        "entries on one line": "".join(f"Dream {i}: 0.5. " for i in range(size // 14))[:size],
        "dash line": "a | b\n" + "-" * size + "x",
        "comma list": "D-1 0.5" + repeat(", D-2 0.5"),
        "labels": repeat("score: tier: reasoning: "),
        "quotes": repeat('"'),
    }


def _contenders() -> dict[str, Callable[[str], ParseResult]]:
    json_parser, regex_parser = JsonParser(), RegexParser()
    return {
        "json": json_parser.parse,
        "regex": regex_parser.parse,
        "chain": lambda text: parse_with([json_parser, regex_parser], text),
    }


def _throughput(parse: Callable[[str], ParseResult], answers: list[str], repeat: int) -> dict[str, float]:
    """MB/s over the corpus by wall time and by CPU time, the best of ``repeat`` passes each."""
    size = sum(len(answer.encode()) for answer in answers)
    wall = cpu = float("inf")
    for _ in range(repeat):
        started, started_cpu = time.perf_counter(), time.process_time()
        for answer in answers:
            parse(answer)
        wall = min(wall, time.perf_counter() - started)
        cpu = min(cpu, time.process_time() - started_cpu)
    return {"wall": round(size / wall / MEGABYTE, 2), "cpu": round(size / cpu / MEGABYTE, 2)}


def _worst_ms(parse: Callable[[str], ParseResult], text: str, repeat: int) -> dict[str, float]:
    """The worst wall time and the worst CPU time of this process (which a busy machine does not
    inflate) over ``repeat`` runs, in milliseconds."""
    wall = cpu = 0.0
    for _ in range(repeat):
        started, started_cpu = time.perf_counter(), time.process_time()
        parse(text)
        wall = max(wall, time.perf_counter() - started)
        cpu = max(cpu, time.process_time() - started_cpu)
    return {"wall": round(wall * 1000, 1), "cpu": round(cpu * 1000, 1)}


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--repeat", type=int, default=5)
    options.add_argument("--size", type=int, default=MEGABYTE)
    args = options.parse_args()
    contenders = _contenders()
    answers = [path.read_text() for path in sorted(CORPUS.glob("*.txt"))]
    print(f"bench_parsers: corpus of {len(answers)} answers", file=sys.stderr, flush=True)
    throughput = {name: _throughput(parse, answers, args.repeat) for name, parse in contenders.items()}
    hostile: dict[str, dict[str, dict[str, float]]] = {}
    for label, text in hostile_inputs(args.size).items():
        print(f"bench_parsers: hostile input {label!r}", file=sys.stderr, flush=True)
        hostile[label] = {name: _worst_ms(parse, text, args.repeat) for name, parse in contenders.items()}
    worst = {
        name: {clock: max(times[name][clock] for times in hostile.values()) for clock in ("wall", "cpu")}
        for name in contenders
    }
    result = {
        "python": platform.python_version(),
        "load_average": [round(load, 2) for load in os.getloadavg()],
        "corpus_answers": len(answers),
        "corpus_bytes": sum(len(answer.encode()) for answer in answers),
        "throughput_mb_per_s": throughput,
        "hostile_size_chars": args.size,
        "hostile_worst_ms": hostile,
        "worst_ms": worst,
        "target_ms_per_parser": TARGET_MS,
        "meets_target_cpu": all(worst[name]["cpu"] <= TARGET_MS for name in ("json", "regex")),
        "meets_target_wall": all(worst[name]["wall"] <= TARGET_MS for name in ("json", "regex")),
    }
    json.dump(result, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
