"""Generation throughput: 1,000 standard-library procedures through the four local generators.

Runs the real cycle (mine + generate, balanced strategy, SQLite in a temporary folder) on code
dreamcore has never seen, and prints one JSON object: procedures, dreams, dreams per second, and
where the time went (mining; inside generate: generators, checks incl. the safety gate, store).
Target on the project's 2-core machine: <= 10 s for the generate stage on 1,000 procedures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

from dreamcore import DreamCore
from dreamcore.progress import Progress

MODULES = [
    "argparse",
    "textwrap",
    "shlex",
    "string",
    "json",
    "csv",
    "fractions",
    "difflib",
    "email",
    "html",
    "configparser",
    "calendar",
    "ipaddress",
    "statistics",
    "tomllib",
    "gettext",
    "locale",
    "pprint",
    "dataclasses",
    "enum",
    "typing",
    "inspect",
    "ast",
    "tarfile",
    "zipfile",
    "datetime",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--procedures", type=int, default=1000)
    parser.add_argument("--strategy", default="balanced")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        config = {
            "store": {"url": f"sqlite:///{Path(folder) / 'bench.db'}"},
            "cycle": {"seed": 1},
            "sources": [
                {"project": "stdlib-a", "paths": MODULES[::2]},
                {"project": "stdlib-b", "paths": MODULES[1::2]},
            ],
        }
        with DreamCore(config) as core:
            quiet = Progress(stream=open("/dev/null", "w"))
            started = time.perf_counter()
            mined = asyncio.run(core.run_cycle(stages=["mine"], progress=quiet))
            mine_seconds = time.perf_counter() - started
            started = time.perf_counter()
            cycle = asyncio.run(
                core.run_cycle(
                    stages=["generate"], strategy=args.strategy, limit=args.procedures, progress=quiet
                )
            )
            generate_seconds = time.perf_counter() - started
    figures = cycle.report["generate"]
    result = {
        "procedures_mined": mined.report["mine"]["procedures"],
        "procedures_dreamt": figures["procedures"],
        "strategy": args.strategy,
        "dreams": figures.get("dreams", 0),
        "rejected": figures.get("rejected", 0),
        "dreams_by_type": cycle.run.dreams_by_type,
        "mine_seconds": round(mine_seconds, 3),
        "generate_seconds": round(generate_seconds, 3),
        "generate_split_seconds": figures["seconds"],
        "dreams_per_second": round(figures.get("dreams", 0) / generate_seconds, 1),
        "target_generate_seconds": 10.0,
        "meets_target": generate_seconds <= 10.0,
    }
    json.dump(result, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
