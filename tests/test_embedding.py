"""Embedding dreamcore: examples/embedding.py end to end, the async API inside a host's event loop."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from dreamcore import DreamCore, hookimpl
from dreamcore.errors import DreamcoreError

ROOT = Path(__file__).resolve().parents[1]


def test_the_embedding_example_runs_and_sees_every_event(tmp_path):
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples/embedding.py"), str(tmp_path)], capture_output=True, text=True,
        cwd=tmp_path, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["generated"] > 0
    assert result["events"]["dream_stored"] == result["generated"] == result["pending"]
    assert result["events"]["stage_finished"] == ["mine", "generate"]
    assert result["events"]["cycle_finished"] == [f"run 1: finished, {result['generated']} dreams"]
    assert (tmp_path / "dreams.db").exists()


def _config(tmp_path: Path) -> dict:
    return {
        "store": {"url": f"sqlite:///{tmp_path / 'dreams.db'}"},
        "cycle": {"seed": 2, "strategy": "light"},
        "sources": [{"project": "billing", "paths": [str(ROOT / "examples/billing")]}],
        "plugins": {"sandbox-stage": {"enabled": False}},  # the sandbox stage has tests of its own
    }


def test_the_async_api_runs_inside_a_host_event_loop(tmp_path):
    finished = []

    class Host:
        @hookimpl
        def cycle_finished(self, run, store):
            finished.append(run.id)

    async def host_application():
        with DreamCore(_config(tmp_path), plugins=[Host()]) as core:
            first = await core.generate(limit=3)
            with pytest.raises(DreamcoreError, match=r"generate_sync\(\) was called inside a running event loop"):
                core.generate_sync()
            second = await core.run_cycle(stages=["mine", "generate"], only="parse_amount")
            return first, second

    first, second = asyncio.run(host_application())
    assert first.report["generate"]["procedures"] == 3
    assert second.report["generate"]["procedures"] == 1
    assert finished == [first.run.id, second.run.id]
