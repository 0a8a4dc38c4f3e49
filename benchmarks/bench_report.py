"""Benchmark the morning report for 100, 1,000 and 10,000 dreams over 30 nights; prints ONE JSON object.

For each size a temporary SQLite store is filled with a synthetic history (``fill_history``:
runs, dreams with tiers, scores and test results, rejected drafts, plans, metrics rows), then the
report is built from the store (``collect`` + ``render``, best of ``--repeat``). Measured: build
seconds, file bytes, and — when Chromium is installed — the seconds headless Chromium takes to load
the page and run its script (``--dump-dom``) minus the seconds it takes for an empty page, side by
side in the same run. Targets for 1,000 dreams: <= 2 MB, <= 2 s to build, <= 1 s to open.

Usage: python benchmarks/bench_report.py [--sizes 100,1000,10000] [--cycles 30] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from dreamcore.report.collect import collect
from dreamcore.report.html import render
from dreamcore.store.dream_store import DreamStore
from dreamcore.testing.history import fill_history

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync", "--dump-dom"]


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _open_seconds(chromium: str, page: Path, folder: Path, repeat: int) -> float:
    """Best wall-clock seconds for headless Chromium to load ``page`` and dump its DOM."""
    best = float("inf")
    for n in range(repeat):
        profile = folder / f"profile-{page.stem}-{n}"
        profile.mkdir()
        start = time.perf_counter()
        subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", page.as_uri()],
                       capture_output=True, timeout=120, check=True)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--cycles", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    chromium = shutil.which("chromium")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        blank = folder / "blank.html"
        blank.write_text("<!DOCTYPE html><html><body></body></html>")
        baseline = _open_seconds(chromium, blank, folder, args.repeat) if chromium else None
        for size in (int(s) for s in args.sizes.split(",")):
            _log(f"filling a store with {size} dreams over {args.cycles} nights")
            store = DreamStore(f"sqlite:///{folder / f'dreams{size}.db'}")
            fill_history(store, size, args.cycles, seed=1)
            build, page = float("inf"), ""
            for _ in range(args.repeat):
                start = time.perf_counter()
                page = render(collect(store, since_days=args.cycles + 1))
                build = min(build, time.perf_counter() - start)
            out = folder / f"report{size}.html"
            out.write_text(page, encoding="utf-8")
            result = {"dreams": size, "cycles": args.cycles, "build_seconds": round(build, 3),
                      "bytes": out.stat().st_size}
            if chromium:
                result["open_seconds"] = round(_open_seconds(chromium, out, folder, args.repeat) - baseline, 3)
            _log(json.dumps(result))
            results.append(result)
            store.close()
    print(json.dumps({
        "python": platform.python_version(),
        "chromium_baseline_seconds": round(baseline, 3) if baseline is not None else None,
        "targets_for_1000": {"bytes": 2_000_000, "build_seconds": 2.0, "open_seconds": 1.0},
        "results": results,
    }, indent=2))


if __name__ == "__main__":
    main()
