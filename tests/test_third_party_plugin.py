"""A third-party generator installed the way a user installs one: into a fresh virtualenv, beside
dreamcore, found through its entry point, configured in dreams.toml, dreaming in `dreamcore run`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples/dreamcore-example-generator"


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True)
    done = subprocess.run(
        [str(folder / "bin/pip"), "install", "-q", str(ROOT), str(EXAMPLE)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return folder


def dreamcore(venv: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(venv / "bin/dreamcore"), *args], capture_output=True, text=True, cwd=cwd)


def test_the_plugin_is_listed_configured_and_dreams(venv, tmp_path):
    listed = dreamcore(venv, "plugins", "--json", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    plugin = next(p for p in json.loads(listed.stdout) if p["name"] == "memoize")
    assert plugin["distribution"] == "dreamcore-example-generator" and plugin["hooks"] == ["register_generators"]

    (tmp_path / "dreams.toml").write_text(
        '[store]\nurl = "sqlite:///dreams.db"\n[cycle]\nstrategy = "memo"\n'
        '[strategies.memo]\nvariants = 5\ngenerators = ["memoize", "parameter"]\n'
        "[plugins.memoize]\nsizes = [64]\nunbounded = true\n"
        f'[[sources]]\nproject = "weather"\npaths = ["{ROOT / "examples/weather"}"]\n'
        "[plugins.test]\ncases = 4\n"
    )
    run = dreamcore(venv, "run", "--json", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["dreams_by_type"]["memoize"] > 0 and report["dreams_by_type"]["parameter"] > 0
    journal = json.loads(dreamcore(venv, "journal", "--type", "memoize", "--limit", "500", "--json", cwd=tmp_path).stdout)
    decorators = {d["generated_description"].split(" cached with ")[1] for d in journal}
    assert decorators == {"@functools.lru_cache(maxsize=64)", "@functools.cache"}
    shown = json.loads(dreamcore(venv, "show", str(journal[0]["id"]), "--json", cwd=tmp_path).stdout)
    assert "+@functools." in shown["diff"]


def test_a_bad_option_of_the_plugin_is_one_clear_line(venv, tmp_path):
    (tmp_path / "dreams.toml").write_text('[plugins.memoize]\nsizes = "big"\n')
    run = dreamcore(venv, "run", cwd=tmp_path)
    assert run.returncode == 2
    assert run.stderr.strip().endswith("plugins.memoize.sizes: expected an array, got a string")


def test_switching_the_plugin_off_removes_it(venv, tmp_path):
    (tmp_path / "dreams.toml").write_text("[plugins.memoize]\nenabled = false\n")
    listed = json.loads(dreamcore(venv, "plugins", "--all", "--json", cwd=tmp_path).stdout)
    assert next(p for p in listed if p["name"] == "memoize")["enabled"] is False
    names = {p["name"] for p in json.loads(dreamcore(venv, "plugins", "--json", cwd=tmp_path).stdout)}
    assert "memoize" not in names
