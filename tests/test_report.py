"""The morning report: its numbers equal the store's, hostile text stays text, empty stores give a
friendly page, it is written after runs, and a real headless Chromium renders it (charts, a diff,
the journal filter, no console message)."""

from __future__ import annotations

import html
import json
import math
import os
import re
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from factories import dream, procedure
from hypothesis import given
from hypothesis import strategies as st

from dreamcore.cli.root import main
from dreamcore.learning.health import return_on_spend
from dreamcore.models import DreamStatus, DreamTier, TestOutcome, utcnow
from dreamcore.report.charts import nice_top, stacked_bars, top_series
from dreamcore.report.collect import collect
from dreamcore.report.highlight import highlight_lines, side_by_side, source_lines
from dreamcore.report.html import render
from dreamcore.testing.history import fill_history

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
NOW = utcnow().replace(microsecond=0)
CHARTS = ("health", "tiers", "types", "adaptation", "failures")
HOSTILE_CODE = 'def f(x):\n    return "</td></table><script>document.title=\'pwned\'</script>"\n'
HOSTILE_REASON = '<img src=x onerror="document.body.dataset.pwned=1">Looks fine & safe'


@pytest.fixture
def history(store):
    """Ten nights of synthetic history plus, in the newest run, the best dream: a hostile one."""
    runs = fill_history(store, 200, 10, seed=7, now=NOW)
    base = store.upsert_procedure(procedure("billing", "hostile <b>name</b>"))
    store.store_dream(dream(
        base, 1, code=HOSTILE_CODE, claude_reasoning=HOSTILE_REASON, generated_description="<i>desc</i>",
        run_id=runs[-1], compound_score=2.0, tier=DreamTier.VIABLE, viability_score=0.9,
        status=DreamStatus.TESTED, test_outcome=TestOutcome.FAILURE, failure_category="assertion",
        test_error="<script>alert(1)</script>", generated_at=NOW - timedelta(hours=1),
    ))
    return runs


def _cards(page: str) -> dict[str, str]:
    return dict(re.findall(r'<div class="card" data-key="([^"]+)">[^<]*<b>([^<]*)</b>', page))


def _table_rows(page: str, table_id: str) -> list[list[str]]:
    body = page.split(f'<table id="{table_id}">', 1)[1].split("</tbody>", 1)[0].split("<tbody>", 1)[1]
    return [[html.unescape(re.sub("<[^>]+>", "", cell)) for cell in re.findall(r"<td>(.*?)</td>", row)]
            for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body)]


def test_report_numbers_equal_the_store(store, history):
    page = render(collect(store, 30, now=NOW))
    stats = store.get_statistics()
    cards = _cards(page)
    assert int(cards["dreams"]) == stats["total_dreams"] == 201
    assert int(cards["cycles"]) == stats["generation_runs"] == 10
    for tier in (1, 2, 3):
        assert int(next(v for k, v in cards.items() if k.startswith(f"tier {tier}"))) == stats["by_tier"][tier]
    latest = store.get_latest_metrics()
    assert cards["health"].startswith(f"{latest.compound_health_score:.3f}")
    spend = {row["name"]: row for row in return_on_spend(store)["type_model"]}
    rows = _table_rows(page, "spend")
    assert len(rows) == len(spend) > 0
    for name, dreams, good, cost, seconds, *_ in rows:
        assert (int(dreams), int(good)) == (spend[name]["dreams"], spend[name]["yield"])
        assert float(cost) == pytest.approx(spend[name]["cost_usd"], abs=1e-4)
        assert float(seconds) == pytest.approx(spend[name]["seconds"], abs=0.05)
    by_type = {}
    for row in _table_rows(page, "types-table"):
        by_type[row[0], row[1]] = int(row[2])
    assert sum(by_type.values()) == stats["total_dreams"]
    for (dream_type, _), count in by_type.items():
        assert count <= stats["by_type"][dream_type]
    assert {t for t, _ in by_type} == set(stats["by_type"])
    plan = store.latest_plan()
    plan_rows = _table_rows(page, "plan")
    assert sorted(int(r[1]) for r in plan_rows) == sorted(d.variants for d in plan.decisions)
    health_chart = page.split('id="chart-health"', 1)[1].split("</figure>", 1)[0]
    for component in ("compound", "novelty", "efficiency"):
        drawn = [float(v) for v in re.findall(rf"<title>{component} [\d-]+: ([\d.]+)</title>", health_chart)]
        column = "compound_health_score" if component == "compound" else f"{component}_component"
        stored = [round(getattr(m, column), 3) for m in store.get_metrics_since(NOW - timedelta(days=30))]
        assert drawn == stored and len(drawn) == 10
    journal = _table_rows(page, "journal")
    assert len(journal) == stats["total_dreams"]
    assert sum(1 for r in journal if r[6] == "tested") == stats["by_status"]["tested"]


def test_tiers_and_failures_per_cycle_are_counted_per_run(store, history):
    data = collect(store, 30, now=NOW)
    for run_id in history:
        counts = store.run_counts(run_id)
        assert sum(data.tiers_per_run[run_id].values()) == sum(counts["dreams_by_type"].values())
        tested_failures = sum(1 for d in store.find_dreams(limit=None) if d.run_id == run_id and d.failure_category)
        assert sum(data.failures_per_run[run_id].values()) == sum(counts["rejected_by_reason"].values()) + tested_failures
    assert [p.id for p in data.plans] == [p.id for p in store.get_plans()] and len(data.plans) == 10


def test_hostile_text_is_escaped(store, history):
    page = render(collect(store, 30, now=NOW))
    for raw in (HOSTILE_REASON, "<script>alert(1)</script>", "<i>desc</i>", "hostile <b>name</b>", "</td></table>"):
        assert raw not in page
    assert html.escape(HOSTILE_REASON) in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert page.count("<script>") == 1  # the page's own filter script only


def test_without_javascript_every_row_and_chart_is_in_the_page(store, history):
    page = render(collect(store, 30, now=NOW))
    rows = re.findall(r'<tr (data-status="\w+"[^>]*)>', page)
    assert len(rows) == 201 and not any("hidden" in r for r in rows)
    assert '<form id="filters" hidden>' in page  # the filter form appears only when its script runs
    for chart in CHARTS:
        assert "<svg" in page.split(f'id="chart-{chart}"', 1)[1].split("</figure>", 1)[0]
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in page


def test_best_dreams_of_the_night_come_from_the_newest_run_best_first(store, history):
    data = collect(store, 30, best=5, now=NOW)
    assert len(data.best) == 5 and all(b.dream.run_id == history[-1] for b in data.best)
    assert data.best[0].dream.code == HOSTILE_CODE
    scores = [b.dream.compound_score for b in data.best]
    assert scores == sorted(scores, reverse=True)
    page = render(data)
    assert page.count('<article class="dream"') == 5 and page.count('<table class="diff">') == 5


def test_since_limits_the_window(store):
    fill_history(store, 60, 6, seed=1, now=NOW)
    data = collect(store, 3, now=NOW)
    assert len(data.runs) == 3 and all(d.generated_at >= NOW - timedelta(days=3) for d in data.journal)
    assert len(data.journal) == len(store.dreams_between(NOW - timedelta(days=3), NOW)) < 60


def test_empty_store_gives_a_friendly_page(sqlite_store):
    page = render(collect(sqlite_store))
    assert "No dreams yet" in page and "dreamcore run" in page and "<script>" not in page


def test_tiny_store_one_unevaluated_dream_no_run(sqlite_store):
    base = sqlite_store.upsert_procedure(procedure("billing", "charge"))
    sqlite_store.store_dream(dream(base, 0, generated_at=NOW - timedelta(hours=1)))
    page = render(collect(sqlite_store, now=NOW))
    assert _cards(page)["dreams"] == "1" and _cards(page)["unevaluated"] == "1"
    assert 'id="chart-health"' in page and "No data yet" in page
    assert len(_table_rows(page, "journal")) == 1


def test_get_plans_since_oldest_first_with_decisions(store):
    fill_history(store, 20, 4, seed=2, now=NOW)
    plans = store.get_plans()
    assert len(plans) == 4 and [p.id for p in plans] == sorted(p.id for p in plans)
    assert plans[-1] == store.latest_plan() and all(p.decisions for p in plans)
    assert [p.id for p in store.get_plans(plans[2].created_at)] == [p.id for p in plans[2:]]


# -- highlighting and diffs ------------------------------------------------------------------------


def _text(line: str) -> str:
    return html.unescape(re.sub("<[^>]+>", "", line))


@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=200))
def test_highlighting_keeps_every_character_and_escapes_markup(source):
    lines = highlight_lines(source)
    assert [_text(line) for line in lines] == source_lines(source)
    assert all("<" not in re.sub(r'</?span( class="\w+")?>', "", line) for line in lines)


def test_highlighting_colours_python_tokens():
    line = highlight_lines("def f(x=3):  # note\n    return len('s')\n")
    assert line[0].startswith('<span class="kw">def</span> <span class="fn">f</span>')
    assert '<span class="nu">3</span>' in line[0] and '<span class="co"># note</span>' in line[0]
    assert '<span class="bi">len</span>' in line[1] and "<span class=\"st\">&#x27;s&#x27;</span>" in line[1]


def test_side_by_side_lines_up_an_indented_method_with_its_dedented_dream():
    table = side_by_side("    def f(self):\n        return 1\n", "def f(self):\n    return 2\n", "base", "dream")
    assert re.findall(r'<tr class="(\w+)">', table) == ["same", "chg"]


def test_side_by_side_pairs_changed_lines():
    table = side_by_side("a = 1\nb = 2\n", "a = 1\nb = 3\nc = 4\n", "base", "dream")
    rows = re.findall(r'<tr class="(\w+)">', table)
    assert rows == ["same", "chg", "chg"]
    assert table.count('<td class="empty"></td>') == 1


@given(st.floats(min_value=1e-6, max_value=1e9))
def test_axis_top_is_round_and_close_above_the_maximum(value):
    top = nice_top(value)
    assert value <= top * (1 + 1e-9) and top < 1.5 * value
    step = top / 4
    mantissa = step / 10 ** math.floor(math.log10(step) + 1e-9)
    assert any(math.isclose(mantissa, m) for m in (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10))


def test_stacked_bars_keep_the_largest_series_and_sum_the_rest_as_other():
    per_label = [{f"arm{i}": i + 1 for i in range(10)}, {"arm0": 5}]
    series = top_series(per_label, keep=3)
    assert list(series) == ["arm9", "arm8", "arm7", "other"]
    assert series["other"] == [sum(range(1, 8)), 5]
    svg = stacked_bars("x", "<b>t</b>", ["a", "b"], series)
    assert svg.count("<rect class=\"bar\"") == 5 and "&lt;b&gt;t&lt;/b&gt;" in svg and "<b>" not in svg
    assert 'fill="#BBBBBB"' in svg and "b, other: 5" in svg


# -- command and hook --------------------------------------------------------------------------------


def _config(tmp_path: Path, extra: str = "") -> Path:
    config = tmp_path / "dreams.toml"
    config.write_text(f'[store]\nurl = "sqlite:///dreams.db"\n[cycle]\nstrategy = "light"\nseed = 3\n'
                      f'[[sources]]\nproject = "billing"\npaths = ["{ROOT / "examples/billing"}"]\n{extra}')
    return config


def test_report_command_writes_the_page(tmp_path, capsys):
    config = _config(tmp_path)
    out = tmp_path / "out" / "morning.html"
    assert main(["--config", str(config), "report", "--out", str(out), "--since", "7"]) == 0
    assert "report written to" in capsys.readouterr().out
    assert "No dreams yet" in out.read_text()


def test_report_open_hands_the_file_to_the_browser(tmp_path):
    config = _config(tmp_path, '[report]\npath = "morning.html"\n')
    seen = tmp_path / "seen.txt"
    fake = tmp_path / "fake-browser"
    fake.write_text(f'#!/bin/sh\necho "$1" > {seen}\n')
    fake.chmod(0o755)
    env = {**os.environ, "BROWSER": str(fake)}
    done = subprocess.run([sys.executable, "-m", "dreamcore", "--config", str(config), "report", "--open"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert seen.read_text().strip() == (tmp_path / "morning.html").as_uri()


def test_report_command_unwritable_path_is_one_line_error(tmp_path, capsys):
    config = _config(tmp_path)
    (tmp_path / "file").write_text("")
    assert main(["--config", str(config), "report", "--out", str(tmp_path / "file" / "r.html")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "report: cannot write" in err


def test_bad_report_config_is_one_line_error(tmp_path, capsys):
    config = _config(tmp_path, "[report]\nsince_days = 0\n")
    assert main(["--config", str(config), "report"]) == 2
    assert "report.since_days" in capsys.readouterr().err


def test_run_writes_the_report_when_a_path_is_set(tmp_path):
    config = _config(tmp_path, '[report]\npath = "reports/morning.html"\n')
    assert main(["--config", str(config), "run"]) == 0
    page = (tmp_path / "reports" / "morning.html").read_text()
    assert 'id="journal"' in page and 'id="chart-health"' in page


def test_run_without_report_path_writes_none_and_a_bad_path_does_not_fail_the_run(tmp_path, caplog):
    assert main(["--config", str(_config(tmp_path)), "run"]) == 0
    assert not list(tmp_path.rglob("*.html"))
    (tmp_path / "blocker").write_text("")
    config = _config(tmp_path, '[report]\npath = "blocker/morning.html"\n')
    assert main(["--config", str(config), "run"]) == 0
    assert "report: cannot write" in caplog.text


# -- in a real browser ---------------------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--enable-logging=stderr", "--v=0", "--virtual-time-budget=3000"]


@pytest.fixture
def browser(tmp_path):
    """Runs headless Chromium on a URL with extra flags; returns (stdout, console messages)."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is missing: the CI image must install chromium")
        pytest.skip("chromium is not installed")

    def run(url: str, *extra: str) -> tuple[str, list[str]]:
        profile = tmp_path / f"profile{len(list(tmp_path.glob('profile*')))}"
        profile.mkdir()
        done = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *extra, url],
                              capture_output=True, text=True, timeout=120)
        return done.stdout, [line for line in done.stderr.splitlines() if ":CONSOLE" in line]

    return run


def test_console_detection_catches_a_page_error(browser, tmp_path):
    page = tmp_path / "broken.html"
    page.write_text("<html><body><script>undefinedFunction();</script></body></html>")
    _, console = browser(page.as_uri(), "--dump-dom")
    assert any("Uncaught ReferenceError" in line for line in console)


def test_report_in_headless_chromium(browser, store, history, tmp_path):
    out = tmp_path / "report.html"
    out.write_text(render(collect(store, 30, now=NOW)))
    dom, console = browser(out.as_uri() + "#status=tested&tier=1", "--dump-dom")
    assert console == []
    for chart in CHARTS:
        figure = dom.split(f'id="chart-{chart}"', 1)[1].split("</figure>", 1)[0]
        assert "<svg" in figure and ("<rect" in figure or "<polyline" in figure), chart
    assert '<table class="diff">' in dom and '<tr class="chg">' in dom and '<span class="kw">def</span>' in dom
    assert "data-pwned" not in dom and "<title>dreamcore morning report</title>" in dom
    # the filter from the URL fragment: exactly the tested tier-1 dreams stay visible
    rows = re.findall(r'<tr( data-status="(\w+)" data-tier="(\w+)"[^>]*)>', dom)
    visible = [(status, tier) for attributes, status, tier in rows if " hidden" not in attributes]
    expected = len(store.find_dreams(status=DreamStatus.TESTED, tier=DreamTier.VIABLE, limit=None))
    assert len(rows) == 201 and 0 < len(visible) == expected < len(rows)
    assert set(visible) == {("tested", "1")}
    assert re.search(r'<b id="shown">(\d+)</b>', dom).group(1) == str(expected)
    assert '<form id="filters">' in dom  # shown once the script ran
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "report.png"
    shot.unlink(missing_ok=True)
    browser(out.as_uri(), "--window-size=1280,2400", f"--screenshot={shot}")
    assert shot.stat().st_size > 30_000


# A page that loads the report in a frame, picks a journal filter as a user would (select, change
# event) and writes what the journal then shows into its own DOM, for --dump-dom to read.
DRIVER = """<!DOCTYPE html><html><body><iframe id="report" src="report.html"></iframe><pre id="out"></pre>
<script>
document.getElementById('report').onload = function () {
  var page = this.contentDocument, select = page.querySelector('#filters select[name="type"]');
  select.value = 'parameter';
  select.dispatchEvent(new Event('change', {bubbles: true}));  // as a user's choice does
  var rows = Array.prototype.slice.call(page.querySelectorAll('#journal tbody tr'));
  document.getElementById('out').textContent = JSON.stringify({
    visible: rows.filter(function (r) { return !r.hidden; }).map(function (r) { return r.dataset.type; }),
    shown: page.getElementById('shown').textContent, rows: rows.length});
};
</script></body></html>"""


def test_journal_filter_reacts_to_a_select_change(browser, sqlite_store, tmp_path):
    fill_history(sqlite_store, 120, 4, seed=3, now=NOW)
    (tmp_path / "report.html").write_text(render(collect(sqlite_store, 30, now=NOW)))
    (tmp_path / "driver.html").write_text(DRIVER)
    dom, console = browser((tmp_path / "driver.html").as_uri(), "--dump-dom", "--allow-file-access-from-files")
    assert console == []
    result = json.loads(html.unescape(re.search(r'<pre id="out">(.*?)</pre>', dom, re.S).group(1)))
    expected = len(sqlite_store.get_by_type("parameter", limit=None))
    assert result["rows"] == 120 and 0 < len(result["visible"]) == expected < 120
    assert set(result["visible"]) == {"parameter"} and result["shown"] == str(expected)

