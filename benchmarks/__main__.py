"""Run every ``benchmarks/bench_*.py`` script and print one JSON object: script name -> its output.

Usage: ``python -m benchmarks [NAME ...] [-- SCRIPT-OPTIONS ...]``. NAME may be ``bench_store``,
``store`` or ``bench_store.py``; without names every script runs, in name order. Options after
``--`` are passed to every script (e.g. ``-- --rows 2000 --repeat 20`` for a quick check).
Each script runs in its own process with this interpreter; its stderr (progress) passes through.
The exit status is 1 when a script failed or printed something other than one JSON object.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _scripts() -> dict[str, Path]:
    return {path.stem: path for path in sorted(HERE.glob("bench_*.py"))}


def _resolve(name: str, scripts: dict[str, Path]) -> str:
    stem = Path(name).name.removesuffix(".py")
    for candidate in (stem, f"bench_{stem}"):
        if candidate in scripts:
            return candidate
    raise SystemExit(f"benchmarks: no script {name!r} (available: {', '.join(scripts) or 'none'})")


def main(argv: list[str]) -> int:
    names, passthrough = (
        (argv[: argv.index("--")], argv[argv.index("--") + 1 :]) if "--" in argv else (argv, [])
    )
    scripts = _scripts()
    selected = [_resolve(name, scripts) for name in names] if names else list(scripts)
    results: dict[str, object] = {}
    failed = False
    for name in selected:
        print(f"benchmarks: running {name}", file=sys.stderr, flush=True)
        proc = subprocess.run(
            [sys.executable, str(scripts[name]), *passthrough],
            check=False,
            stdout=subprocess.PIPE,
            text=True,
            cwd=HERE.parent,
        )
        try:
            output = json.loads(proc.stdout)
        except ValueError as exc:
            output = {"error": f"output is not JSON ({exc})", "stdout": proc.stdout[-2000:]}
            failed = True
        if proc.returncode != 0:
            failed = True
            if not isinstance(output, dict) or "error" not in output:
                output = {"error": f"exit status {proc.returncode}", "output": output}
        results[name] = output
    print(json.dumps(results, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
