"""dreamcore inside another program: a config built in code, a plugin object registered at runtime
to follow the cycle's events, and the stages called one by one.

Run it from anywhere: ``python examples/embedding.py [STORE_FOLDER]`` (default: a temporary folder).
It prints one JSON object: what the listener saw and what the store holds.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from dreamcore import DreamCore, hookimpl

EXAMPLES = Path(__file__).resolve().parent


class Listener:
    """A plugin object: any object whose methods carry ``@hookimpl`` and hook names."""

    def __init__(self) -> None:
        self.stored: list[int] = []
        self.stages: list[str] = []
        self.finished: list[str] = []

    @hookimpl
    def dream_stored(self, dream, store) -> None:
        self.stored.append(dream.id)

    @hookimpl
    def stage_finished(self, cycle, stage) -> None:
        self.stages.append(stage)

    @hookimpl
    def cycle_finished(self, run, store) -> None:
        self.finished.append(f"run {run.id}: {run.status}, {run.total_dreams_generated} dreams")


def main(folder: Path) -> dict:
    config = {
        "store": {"url": f"sqlite:///{folder / 'dreams.db'}"},
        "cycle": {"seed": 1, "strategy": "light"},
        "sources": [{"project": "weather", "paths": [str(EXAMPLES / "weather")]}],
    }
    listener = Listener()
    with DreamCore(config) as core:
        core.register_plugin(listener, name="listener")
        cycle = core.generate_sync(limit=10)
        pending = core.store.get_pending_evaluation(limit=1000)
        return {
            "generated": cycle.run.total_dreams_generated,
            "events": {
                "dream_stored": len(listener.stored),
                "stage_finished": listener.stages,
                "cycle_finished": listener.finished,
            },
            "pending": len(pending),
            "types": sorted({dream.dream_type for dream in pending}),
        }


if __name__ == "__main__":
    if len(sys.argv) > 1:
        print(json.dumps(main(Path(sys.argv[1])), indent=2))
    else:
        with tempfile.TemporaryDirectory() as scratch:
            print(json.dumps(main(Path(scratch)), indent=2))
