"""The morning report as one self-contained HTML page: inline CSS, inline SVG charts, and one small
inline script that filters the journal (the page reads fine without it). Nothing is fetched.

Every text that comes from the store (code, reasoning, names, errors) is HTML-escaped.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from html import escape
from typing import Any

from dreamcore.models import DreamGenerationRun, DreamProcedure, metric_components
from dreamcore.report.charts import line_chart, stacked_bars, top_series
from dreamcore.report.collect import UNEVALUATED, BestDream, ReportData, tier_name
from dreamcore.report.highlight import side_by_side

TIER_NAMES = {"1": "tier 1 (viable)", "2": "tier 2 (speculative)", "3": "tier 3 (archive)", UNEVALUATED: UNEVALUATED}
FILTERS = ("status", "tier", "type", "project")
ROW_PX = 22  # about the height of a journal row

STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1180px;padding:0 16px 48px;color:#1a1a1a}
h1{margin:20px 0 4px}h2{margin-top:36px;border-bottom:1px solid #ccc}
.muted,.empty{color:#555}.cards{display:flex;flex-wrap:wrap;gap:12px}
.card{border:1px solid #ccc;border-radius:6px;padding:8px 14px}.card b{display:block;font-size:22px}
.chart svg{width:100%;max-width:720px;height:auto}.chart figcaption{font-weight:600}
.grid{stroke:#ddd}.tick,.legend text{font-size:11px;fill:#333}
table{border-collapse:collapse}td,th{padding:2px 8px;border-bottom:1px solid #eee;text-align:left;vertical-align:top}
.num{text-align:right}
.diff{font:12px/1.35 ui-monospace,monospace;width:100%;table-layout:fixed}.diff td{white-space:pre-wrap;
word-break:break-all;border:0}.diff col.ln{width:3.2em}.diff td.ln{color:#888;text-align:right}
.diff tr.chg td.old{background:#fbe3d6}.diff tr.chg td.new{background:#d6ebf7}
.kw{color:#0072B2;font-weight:600}.fn{color:#8a4f00}.bi{color:#6a3d7c}.st{color:#00704f}.nu{color:#b34700}
.co{color:#777;font-style:italic}pre{white-space:pre-wrap;background:#f6f6f6;padding:8px}
.dream{border:1px solid #ccc;border-radius:6px;padding:4px 14px;margin:16px 0}
#filters{margin:8px 0}.journal-rows{content-visibility:auto}#filters label{margin-right:12px}
"""

# Filters the journal rows by their data-* attributes; the filter can also come from the URL
# fragment (#status=tested&tier=1), so a link can open a filtered journal.
SCRIPT = """
(function(){
var form=document.getElementById('filters'),rows=document.querySelectorAll('#journal tbody tr'),
count=document.getElementById('shown'),keys=%s;
function apply(){var want={};keys.forEach(function(k){var v=form.elements[k].value;if(v)want[k]=v;});
var n=0;for(var i=0;i<rows.length;i++){var r=rows[i],ok=true;
for(var k in want){if(r.getAttribute('data-'+k)!==want[k]){ok=false;break;}}r.hidden=!ok;if(ok)n++;}
count.textContent=n;}
var hash=new URLSearchParams(location.hash.slice(1));
keys.forEach(function(k){if(hash.has(k))form.elements[k].value=hash.get(k);});
form.hidden=false;form.addEventListener('change',apply);apply();
})();
"""


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    return f"{value:.{digits}f}" if isinstance(value, float) else escape(str(value))


def _table(headers: Iterable[str], rows: Iterable[Iterable[str]], table_id: str = "") -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    ident = f' id="{table_id}"' if table_id else ""
    return f"<table{ident}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _run_label(run: DreamGenerationRun) -> str:
    return f"{run.timestamp:%m-%d} #{run.id}"


def _overview(data: ReportData) -> str:
    tiers = {name: 0 for name in TIER_NAMES}
    for dream in data.journal:
        tiers[tier_name(dream)] += 1
    cards = [("dreams", len(data.journal)), ("cycles", len(data.runs))]
    cards += [(TIER_NAMES[name], count) for name, count in tiers.items()]
    if data.health:
        cards.insert(0, ("health", f"{data.health['score']:.3f} {data.health['label']}"))
        cards.insert(1, ("trend", f"{data.health['trend']['direction']} ({data.health['trend']['change']:+.3f})"))
    items = "".join(f'<div class="card" data-key="{escape(key)}">{escape(key)}<b>{escape(str(value))}</b></div>'
                    for key, value in cards)
    return f'<section id="overview"><div class="cards">{items}</div></section>'


def _health(data: ReportData) -> str:
    labels = [f"{m.timestamp:%m-%d}" for m in data.metrics]
    series = {"compound": [m.compound_health_score for m in data.metrics]}
    components = [metric_components(m) for m in data.metrics]
    names = dict.fromkeys(c for row in components for c in row)  # the built-in four first, then added ones
    series |= {c: [row.get(c, 0.0) for row in components] for c in names}
    return line_chart("health", "Health score and its components, per scored cycle", labels, series, top=1.0)


def _tiers(data: ReportData) -> str:
    labels = [_run_label(run) for run in data.runs]
    stacks = {TIER_NAMES[t]: [data.tiers_per_run[run.id].get(t, 0) for run in data.runs] for t in TIER_NAMES}
    return stacked_bars("tiers", "Tier distribution of each cycle's dreams", labels, stacks)


def _types(data: ReportData) -> str:
    labels = list(data.by_type_and_model)
    stacks = top_series([data.by_type_and_model[t] for t in labels])
    chart = stacked_bars("types", "Dreams per type, by model", labels, stacks)
    rows = [[escape(t), escape(m), str(n)] for t, models in data.by_type_and_model.items() for m, n in models.items()]
    return chart + _table(["type", "model", "dreams"], rows, "types-table")


def _spend(data: ReportData) -> str:
    rows = [[escape(r["name"]), str(r["dreams"]), str(r["yield"]), f"{r['cost_usd']:.4f}", f"{r['seconds']:.1f}",
             "free" if r["yield_per_usd"] is None else f"{r['yield_per_usd']:g}",
             "–" if r["yield_per_second"] is None else f"{r['yield_per_second']:g}"]
            for r in data.spend.get("type_model", [])]
    if not rows:
        return '<p class="empty">No dreams in this window yet.</p>'
    return _table(["type/model", "dreams", "yield", "cost USD", "seconds", "yield per USD", "yield per second"],
                  rows, "spend")


def _adaptation(data: ReportData) -> str:
    labels = [f"{p.created_at:%m-%d} plan {p.id}" for p in data.plans]
    per_plan = [{f"{d.dream_type}/{d.model}/{d.domain}": d.variants for d in p.decisions} for p in data.plans]
    chart = stacked_bars("adaptation", "Variants per procedure allocated to each arm, per plan", labels,
                         top_series(per_plan))
    if not data.plans:
        return chart
    reasons = "".join(f"<li>{escape(label)}: {escape(p.reason)}</li>" for label, p in zip(labels, data.plans))
    latest = data.plans[-1]
    rows = [[escape(f"{d.dream_type}/{d.model}/{d.domain}") + (" ★" if d.high_value else ""), str(d.variants),
             f"{d.temperature:.2f}", escape(d.reason) + "".join(f"<br>{escape(h)}" for h in d.hints)]
            for d in sorted(latest.decisions, key=lambda d: (-d.variants, d.dream_type, d.model, d.domain))]
    return (chart + f"<h3>Newest plan ({escape(labels[-1])}) and why</h3>"
            + _table(["arm", "variants", "temperature", "reason"], rows, "plan")
            + f"<details><summary>Every plan's reason</summary><ul>{reasons}</ul></details>")


def _failures(data: ReportData) -> str:
    labels = [_run_label(run) for run in data.runs]
    stacks = top_series([data.failures_per_run[run.id] for run in data.runs])
    return stacked_bars("failures", "Failure categories per cycle (rejected drafts and failed tests)", labels, stacks)


def _best_dream(best: BestDream) -> str:
    d = best.dream
    facts = {"type": _fmt(d.dream_type), "model": _fmt(d.model_used), "tier": tier_name(d),
             "viability": _fmt(d.viability_score, 2), "compound": _fmt(d.compound_score),
             "novelty": _fmt(d.novelty_score), "test": d.test_outcome.value, "test cases": _fmt(d.test_cases),
             "equivalence": _fmt(d.equivalence_rate), "speedup": _fmt(d.speedup, 2)}
    facts_html = " · ".join(f"{key} <b>{value}</b>" for key, value in facts.items())
    base = best.base.source if best.base else ""
    base_name = f"{best.base.project}: {best.base.module}.{best.base.qualname}" if best.base else "base unknown"
    parts = [f'<article class="dream" id="dream-{d.id}"><h3>#{d.id} {escape(d.base_procedure_name)}</h3>',
             f"<p>{facts_html}</p>"]
    if d.generated_description:
        parts.append(f"<p>{escape(d.generated_description)}</p>")
    parts.append("<h4>Evaluation</h4>" + (f"<pre>{escape(d.claude_reasoning)}</pre>" if d.claude_reasoning
                                           else '<p class="empty">Not evaluated yet.</p>'))
    if d.test_error or d.failure_category:
        parts.append(f"<h4>Test</h4><pre>{escape(d.failure_category or '')}\n{escape(d.test_error or '')}</pre>")
    parts.append(side_by_side(base, d.code, f"{base_name} (base)", f"dream #{d.id}"))
    return "".join(parts) + "</article>"


def _best(data: ReportData) -> str:
    if not data.best:
        return '<p class="empty">No dreams yet.</p>'
    return "".join(_best_dream(best) for best in data.best)


def _journal_row(d: DreamProcedure, project: str) -> str:
    tier = tier_name(d)
    attrs_ = (f'data-status="{d.status.value}" data-tier="{tier}" data-type="{escape(d.dream_type)}" '
              f'data-project="{escape(project)}"')
    return (f"<tr {attrs_}><td>{d.id}</td><td>{d.generated_at:%Y-%m-%d %H:%M}</td><td>{escape(project)}</td>"
            f"<td>{escape(d.base_procedure_name)}</td><td>{escape(d.dream_type)}</td><td>{escape(d.model_used)}</td>"
            f"<td>{d.status.value}</td><td>{tier}</td><td>{_fmt(d.viability_score, 2)}</td>"
            f"<td>{_fmt(d.compound_score)}</td><td>{d.test_outcome.value}</td></tr>")


def _journal(data: ReportData) -> str:
    if not data.journal:
        return '<p class="empty">No dreams yet.</p>'
    projects = [data.projects.get(d.base_procedure_id, "") for d in data.journal]
    values = {
        "status": sorted({d.status.value for d in data.journal}),
        "tier": sorted({tier_name(d) for d in data.journal}),
        "type": sorted({d.dream_type for d in data.journal}),
        "project": sorted(set(projects)),
    }
    selects = "".join(
        f'<label>{key} <select name="{key}"><option value="">all</option>'
        + "".join(f'<option value="{escape(v)}">{escape(v)}</option>' for v in options) + "</select></label>"
        for key, options in values.items()
    )
    form = (f'<form id="filters" hidden>{selects} <span><b id="shown">{len(data.journal)}</b> of '
            f"{len(data.journal)} shown</span></form>")
    head = "".join(f"<th>{h}</th>" for h in ("id", "generated", "project", "procedure", "type", "model", "status",
                                              "tier", "viability", "compound", "test"))
    body = "".join(_journal_row(d, p) for d, p in zip(data.journal, projects))
    # Rendered only when scrolled to (content-visibility): a long journal then costs little at load.
    height = f"contain-intrinsic-size:auto {ROW_PX * (len(data.journal) + 1)}px"
    return (f'{form}<div class="journal-rows" style="{height}"><table id="journal"><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table></div>")


SECTIONS = (
    ("health", "Health over time", _health),
    ("tiers", "Tiers per cycle", _tiers),
    ("types", "Dreams per type and model", _types),
    ("spend", "Return on spend per type and model", _spend),
    ("adaptation", "Adaptation: allocation over cycles", _adaptation),
    ("failures", "Failure categories over time", _failures),
    ("best", "Best dreams of the night", _best),
    ("journal-section", "Journal", _journal),
)


def render(data: ReportData) -> str:
    """The whole page."""
    window = f"{data.since:%Y-%m-%d %H:%M} – {data.generated_at:%Y-%m-%d %H:%M} UTC"
    if data.empty:
        body = ('<section id="welcome"><p>No dreams yet. Run <code>dreamcore run</code> tonight: '
                "tomorrow this page shows the health of the system, where the budget went, "
                "and the best dreams with their diffs.</p></section>")
    else:
        body = _overview(data) + "".join(f'<section id="{sid}"><h2>{escape(title)}</h2>{build(data)}</section>'
                                         for sid, title, build in SECTIONS)
    script = f"<script>{SCRIPT % json.dumps(FILTERS)}</script>" if data.journal else ""
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1">'
            f"<title>dreamcore morning report</title><style>{STYLE}</style></head><body>"
            f'<h1>dreamcore morning report</h1><p class="muted">{escape(window)}</p>{body}{script}</body></html>')
