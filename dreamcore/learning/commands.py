"""``dreamcore health`` and ``dreamcore adapt``: system health and the adaptation plan, explained."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import click

from dreamcore.errors import DreamcoreError
from dreamcore.hookspecs import hookimpl
from dreamcore.learning.adaptation import AdaptConfig
from dreamcore.learning.health import TREND_DAYS, compute_metrics, label, return_on_spend, trend
from dreamcore.learning.scoring import DEFAULT_WEIGHTS
from dreamcore.models import utcnow
from dreamcore.output import to_jsonable


def _stage_config(core: Any, name: str) -> Any:
    """A learning stage's configuration, or None when that stage is not installed."""
    return core.component_config("stages", name) if name in core.plugins.components("stages") else None


def health_report(core: Any) -> dict[str, Any]:
    """The latest metrics (computed now if no cycle stored any), label, trend and return on spend."""
    store, now = core.store, utcnow()
    config = _stage_config(core, "score")
    weights = config.weights if config else dict(DEFAULT_WEIGHTS)
    metrics, source = store.get_latest_metrics(), "stored"
    if metrics is None:
        metrics, source = compute_metrics(store, weights, config.window_days if config else 7, now), "live"
    score = metrics.compound_health_score
    return {
        "label": label(score),
        "compound_health_score": round(score, 4),
        "source": source,
        "trend": trend(store.get_metrics_since(now - timedelta(days=TREND_DAYS))),
        "weights": weights,
        "metrics": to_jsonable(metrics),
        "return_on_spend": return_on_spend(store),
    }


def echo_return_on_spend(spend: dict[str, list[dict[str, Any]]]) -> None:
    """Return on spend as text: one line per generator and per model."""
    for by, rows in spend.items():
        for row in rows:
            per_usd = "free" if row["yield_per_usd"] is None else f"{row['yield_per_usd']:g}/USD"
            per_second = "-" if row["yield_per_second"] is None else f"{row['yield_per_second']:g}/s"
            click.echo(f"  {by:<9} {row['name']:<24} {row['yield']}/{row['dreams']} successful, "
                       f"{per_usd}, {per_second}")


@click.command("health")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def health_command(app: Any, as_json: bool) -> None:
    """System health: compound score, label, 30-day trend, the metrics and return on spend."""
    report = health_report(app.core)
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    t = report["trend"]
    click.echo(f"health {report['compound_health_score']:.3f}: {report['label']} "
               f"({t['direction']} over {TREND_DAYS} days, {t['points']} cycles; {report['source']} metrics)")
    for key, value in report["metrics"].items():
        if key not in ("id", "compound_health_score"):
            click.echo(f"  {key:<28} {value:.3f}" if isinstance(value, float) else f"  {key:<28} {value}")
    click.echo("return on spend:")
    echo_return_on_spend(report["return_on_spend"])


@click.command("adapt")
@click.option("--explain", is_flag=True, help="Show the current allocation and why (the default).")
@click.option("--simulate", "arms_file", type=click.Path(path_type=Path),
              help="Run the allocator against simulated arms (ARMS.json) instead.")
@click.option("--cycles", type=int, default=None, help="Simulated cycles (with --simulate; default 10).")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed of the simulation.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def adapt_command(app: Any, explain: bool, arms_file: Path | None, cycles: int | None, seed: int,
                  as_json: bool) -> None:
    """The adaptation plan for the next cycle, explained; or a simulation of the allocator."""
    if arms_file is not None:
        _simulate(app, arms_file, 10 if cycles is None else cycles, seed, as_json)
        return
    if cycles is not None:
        raise DreamcoreError("--cycles needs --simulate ARMS.json")
    plan = app.core.store.latest_plan()
    if as_json:
        click.echo(json.dumps(to_jsonable(plan), indent=2))
        return
    if plan is None:
        click.echo("no adaptation plan yet (the adapt stage of `dreamcore run` makes one)")
        return
    click.echo(f"plan {plan.id} (run {plan.run_id}, {plan.created_at:%Y-%m-%d %H:%M} UTC, {plan.mode}): {plan.reason}")
    for d in sorted(plan.decisions, key=lambda d: (-d.variants, d.dream_type, d.model, d.domain)):
        marker = " *" if d.high_value else ""
        click.echo(f"  {d.dream_type}/{d.model}/{d.domain}{marker}: {d.variants} variants, temperature "
                   f"{d.temperature:.2f}")
        click.echo(f"    why: {d.reason}")
        for hint in d.hints:
            click.echo(f"    hint: {hint}")


def _simulate(app: Any, arms_file: Path, cycles: int, seed: int, as_json: bool) -> None:
    from dreamcore.learning.simulation import load_arms, simulate

    config = (_stage_config(app.core, "adapt") if app.config_path.exists() else None) or AdaptConfig()
    result = simulate(load_arms(arms_file), cycles, seed, config)
    if as_json:
        keys = ("adaptive", "uniform", "oracle", "high_value_domains")
        click.echo(json.dumps({key: result[key] for key in keys}, indent=2))
        return
    click.echo(f"{cycles} cycles of {result['budget_per_cycle']} dreams, seed {seed}: cumulative successes")
    for policy in ("adaptive", "uniform", "oracle"):
        click.echo(f"  {policy:<9} {result[policy]}")
    click.echo(f"  high-value domains: {', '.join(result['high_value_domains']) or 'none'}")


@hookimpl
def register_commands(cli: Any) -> None:
    cli.add_command(health_command)
    cli.add_command(adapt_command)
