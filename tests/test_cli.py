"""The command line: version, journal, show (with diff), stats; exit codes and one-line errors."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import dreamcore
from dreamcore.cli.root import main
from dreamcore.models import DreamStatus, DreamTier, dream_ref, parse_dream_ref
from dreamcore.store.dream_store import DreamStore
from tests.factories import dream, procedure


@pytest.fixture
def config_path(tmp_path):
    path = tmp_path / "dreams.toml"
    path.write_text('[store]\nurl = "sqlite:///state/dreams.db"\n')
    return path


@pytest.fixture
def filled(config_path):
    with DreamStore("sqlite:///state/dreams.db", base_dir=config_path.parent) as store:
        base = store.upsert_procedure(procedure(qualname="charge", source="def charge(x):\n    return x + 1\n"))
        pending = store.store_dream(dream(base, 1, generated_description="charge twice as fast"))
        viable = store.store_dream(
            dream(base, 2, dream_type="conditional", status=DreamStatus.EVALUATED, tier=DreamTier.VIABLE,
                  viability_score=0.85, claude_reasoning="a sound fast path")
        )
    return {"pending": pending, "viable": viable}


def run(*args: str) -> int:
    return main(list(args))


def test_version(capsys):
    assert run("--version") == 0
    assert capsys.readouterr().out == f"dreamcore, version {dreamcore.__version__}\n"


def test_journal_filters_and_json(config_path, filled, capsys):
    assert run("--config", str(config_path), "journal", "--json") == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in rows] == [filled["viable"], filled["pending"]]
    assert "code" not in rows[0]
    assert run("--config", str(config_path), "journal", "--tier", "1", "--type", "conditional", "--json") == 0
    assert [r["id"] for r in json.loads(capsys.readouterr().out)] == [filled["viable"]]
    assert run("--config", str(config_path), "journal", "--status", "pending_evaluation") == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split("\t") == ["id", "type", "procedure", "status", "tier", "viability", "description"]
    assert f"D-{filled['pending']}\tparameter\tfunc\tpending_evaluation\t-\t-\tcharge twice as fast" in out


def test_journal_rejects_bad_filters(config_path, capsys):
    assert run("--config", str(config_path), "journal", "--tier", "4") == 2
    assert "Invalid value for '--tier'" in capsys.readouterr().err
    assert run("--config", str(config_path), "journal", "--status", "dreaming") == 2


def test_empty_journal_says_so(config_path, capsys):
    assert run("--config", str(config_path), "journal") == 0
    assert capsys.readouterr().out == "no dreams yet\n"


def test_show_prints_metadata_and_a_unified_diff(config_path, filled, capsys):
    assert run("--config", str(config_path), "show", f"D-{filled['viable']}") == 0
    out = capsys.readouterr().out
    assert "claude_reasoning" in out and "a sound fast path" in out
    assert "--- billing.core.charge (base)" in out
    assert f"+++ D-{filled['viable']}" in out
    assert "-    return x + 1" in out and "+    return x + 4" in out
    assert run("--config", str(config_path), "show", str(filled["viable"]), "--json") == 0
    data = json.loads(capsys.readouterr().out)
    assert data["tier"] == 1 and data["viability_score"] == 0.85 and data["base"]["qualname"] == "charge"
    assert data["diff"].startswith("--- billing.core.charge (base)\n")


@pytest.mark.parametrize(("arg", "message"), [
    ("D-999", "no dream with id 999"),
    ("twelve", "not a dream id: 'twelve' (expected a number like 12 or D-12)"),
    ("D-\u00b2", "not a dream id: 'D-\u00b2' (expected a number like 12 or D-12)"),  # a digit to isdigit, not to int
    (str(2**63), f"not a dream id: '{2**63}' (expected a number like 12 or D-12)"),  # beyond any stored id
])
def test_show_bad_ids(config_path, filled, capsys, arg, message):
    assert run("--config", str(config_path), "show", arg) == 2
    assert capsys.readouterr().err == f"error: {message}\n"


@given(st.integers(min_value=0, max_value=2**63 - 1), st.sampled_from(["", "D-", "d-"]))
def test_a_dream_reference_reads_back_as_its_id(number, prefix):
    assert parse_dream_ref(f"{prefix}{number}") == number
    assert parse_dream_ref(dream_ref(number)) == number


def test_stats(config_path, filled, capsys):
    assert run("--config", str(config_path), "stats", "--json") == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["total_dreams"] == 2 and stats["by_tier"] == {"1": 1, "2": 0, "3": 0}
    assert run("--config", str(config_path), "stats") == 0
    assert "total_dreams         2" in capsys.readouterr().out


def test_unknown_command_is_a_usage_error(capsys):
    assert run("dreamz") == 2
    assert "No such command 'dreamz'" in capsys.readouterr().err


def test_missing_config_is_one_line(tmp_path, capsys):
    assert run("--config", str(tmp_path / "nope.toml"), "stats") == 2
    assert capsys.readouterr().err == f"error: {tmp_path / 'nope.toml'}: not found (create one with `dreamcore init`)\n"


def test_console_script_errors_have_no_traceback(tmp_path):
    script = shutil.which("dreamcore", path=str(Path(sys.executable).parent))
    (tmp_path / "dreams.toml").write_text("[store]\nurl = 'sqlite:///x.db'\n[plugins.nosuch]\n")
    result = subprocess.run([script, "journal"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr
    assert "plugins.nosuch: unknown plugin 'nosuch'" in result.stderr
