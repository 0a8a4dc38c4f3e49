"""The ``dreamcore`` command line: parse, call the core, render. Plugins add commands."""

from __future__ import annotations

import json
import os
import sys
import textwrap
import tomllib
from pathlib import Path
from typing import Any

import click

import dreamcore
from dreamcore import config as config_module
from dreamcore.analysis.patch import dream_diff
from dreamcore.core import DreamCore
from dreamcore.errors import DreamcoreError
from dreamcore.models import DreamProcedure, DreamStatus, DreamTier, dream_ref, parse_dream_ref
from dreamcore.output import to_jsonable
from dreamcore.plugin_manager import Plugins

STARTER_HEADER = """dreamcore configuration (written by `dreamcore init`).
Secrets never go in this file: options like api_key_env name the environment variable to read."""


class App:
    """What every command shares: the config path, and the core built from it on first use."""

    def __init__(self, config_path: Path, plugins: Plugins) -> None:
        self.config_path = config_path
        self.plugins = plugins
        self._core: DreamCore | None = None

    @property
    def core(self) -> DreamCore:
        if self._core is None:
            self._core = DreamCore(config_module.load(self.config_path), plugin_manager=self.plugins)
        return self._core


def _disabled_plugins(config_path: Path) -> set[str]:
    """Plugins switched off in the config, read leniently (a broken file is reported later)."""
    try:
        tables = tomllib.loads(config_path.read_text(encoding="utf-8")).get("plugins", {})
        return {name for name, table in tables.items() if isinstance(table, dict) and table.get("enabled") is False}
    except (OSError, ValueError, AttributeError):
        return set()


def _config_path_from_argv(argv: list[str]) -> Path:
    for index, arg in enumerate(argv):
        if arg == "--config" and index + 1 < len(argv):
            return config_module.resolve_path(argv[index + 1])
        if arg.startswith("--config="):
            return config_module.resolve_path(arg.split("=", 1)[1])
    return config_module.resolve_path()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(dreamcore.__version__, prog_name="dreamcore")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="dreams.toml to use (default: $DREAMCORE_CONFIG, else ./dreams.toml).",
)
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None) -> None:
    """dreamcore: make code dream — mine procedures, generate variants, judge, test, adapt."""
    app: App = ctx.obj
    if config_path is not None:
        app.config_path = config_path


@cli.command()
@click.option("--path", "path", type=click.Path(dir_okay=False, path_type=Path), help="Where to write.")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@click.pass_obj
def init(app: App, path: Path | None, force: bool) -> None:
    """Write a commented starter dreams.toml."""
    target = path or app.config_path
    if target.exists() and not force:
        raise DreamcoreError(f"{target}: already exists (use --force to overwrite)")
    text = config_module.render(config_module.Config(), STARTER_HEADER, app.plugins.default_configs())
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise DreamcoreError(f"{target}: cannot write: {exc.strerror}") from None
    click.echo(f"wrote {target}")


@cli.command("plugins")
@click.option("--all", "include_disabled", is_flag=True, help="Include disabled plugins.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def plugins_command(app: App, include_disabled: bool, as_json: bool) -> None:
    """List installed plugins: name, distribution, version, hooks, enabled."""
    rows = [to_jsonable(info) for info in app.plugins.info(include_disabled)]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    _table(
        ["plugin", "distribution", "version", "hooks", "enabled"],
        [[r["name"], r["distribution"] or "-", r["version"] or "-", ", ".join(r["hooks"]), r["enabled"]] for r in rows],
    )


@cli.command("run")
@click.option("--strategy", help="light, balanced, deep or one of [strategies.*] (default: [cycle] strategy).")
@click.option("--stages", help="Comma-separated stages to run (default: all, in order).")
@click.option("--limit", type=click.IntRange(min=1), help="Dream over at most N procedures.")
@click.option("--procedure", "only", help="Dream over this procedure only (qualified name, e.g. Class.method).")
@click.option("--dry-run", is_flag=True, help="Mine and generate, but store nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON (progress goes to stderr).")
@click.option("--detach", is_flag=True, help="With [executor] kind = procrastinate: enqueue the cycle and return.")
@click.pass_obj
def run_command(
    app: App, strategy: str | None, stages: str | None, limit: int | None, only: str | None, dry_run: bool,
    as_json: bool, detach: bool,
) -> int:
    """Run (or resume) a dream cycle: mine, generate, and every later stage installed."""
    import asyncio

    from dreamcore.cli.logs import LOGGER, run_log
    from dreamcore.executor import is_distributed
    from dreamcore.pipeline import summary
    from dreamcore.progress import Progress, for_terminal

    selected = [name.strip() for name in stages.split(",") if name.strip()] if stages else None
    if is_distributed(app.core.config) and not dry_run:  # a dry run stores nothing: it runs here
        cycle = asyncio.run(app.core.run_cycle(detach=detach, strategy=strategy, stages=selected, limit=limit,
                                               only=only))
        report = {**summary(cycle), "detached": detach}
        if as_json:
            click.echo(json.dumps(report, indent=2))
        else:
            _print_summary(report)
        return 1 if report["failures"] else 0
    if detach:
        raise click.UsageError("--detach needs [executor] kind = \"procrastinate\" (dreamcore worker runs the cycle)")
    with run_log(app.core.config):
        cycle = asyncio.run(
            app.core.run_cycle(
                strategy=strategy,
                stages=selected,
                limit=limit,
                only=only,
                dry_run=dry_run,
                progress=Progress() if as_json else for_terminal(),
            )
        )
        report = summary(cycle)
        LOGGER.info("summary: %s", json.dumps(report))
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        _print_summary(report)
    return 1 if report["failures"] else 0


def _figure(key: str, value: Any) -> str:
    if isinstance(value, dict):  # e.g. seconds per part of a stage
        return f"{key}: " + ", ".join(f"{k} {v:g}" for k, v in value.items())
    return f"{key} {value}"


def _print_summary(report: dict[str, Any]) -> None:
    head = "dry run" if report["status"] == "dry-run" else f"run {report['run_id']} {report['status']}"
    click.echo(f"{head}: strategy {report['strategy']}, seed {report['seed']}, {report['duration_seconds']:.1f} s")
    for stage, figures in report["stages"].items():
        click.echo(f"  {stage:<9} " + ", ".join(_figure(key, value) for key, value in figures.items()))
    if report["status"] != "dry-run":
        by_type = ", ".join(f"{k} {v}" for k, v in report["dreams_by_type"].items()) or "none"
        rejected = ", ".join(f"{k} {v}" for k, v in report["rejected_by_reason"].items()) or "none"
        click.echo(f"  dreams    {report['total_dreams']} in this run ({by_type})")
        click.echo(f"  rejected  {rejected}")
    for failure in report["failures"]:
        click.echo(f"  failure   {failure}")


@cli.command()
@click.option("--status", type=click.Choice([s.value for s in DreamStatus]), help="Only this status.")
@click.option("--tier", type=click.IntRange(1, 3), help="Only this tier (1 viable, 2 speculative, 3 archive).")
@click.option("--type", "dream_type", help="Only this dream type.")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def journal(app: App, status: str | None, tier: int | None, dream_type: str | None, limit: int, as_json: bool) -> None:
    """List dreams, newest first."""
    dreams = app.core.store.find_dreams(
        status=DreamStatus(status) if status else None,
        tier=DreamTier(tier) if tier else None,
        dream_type=dream_type,
        limit=limit,
    )
    if as_json:
        click.echo(json.dumps([_summary(d) for d in dreams], indent=2))
        return
    if not dreams:
        click.echo("no dreams yet")
        return
    _table(
        ["id", "type", "procedure", "status", "tier", "viability", "description"],
        [
            [
                dream_ref(d.id),
                d.dream_type,
                d.base_procedure_name,
                d.status.value,
                d.tier.value if d.tier else "-",
                f"{d.viability_score:.2f}" if d.viability_score is not None else "-",
                _shorten(d.generated_description, 60),
            ]
            for d in dreams
        ],
    )


@cli.command("mcp")
@click.pass_obj
def mcp_command(app: App) -> None:
    """Serve dreamcore's tools over MCP (stdio), e.g. for Claude Code."""
    from dreamcore.cli.mcp import serve

    serve(app.core)


@cli.group()
def schedule() -> None:
    """Run the nightly cycle from cron: install, uninstall, status."""


@schedule.command("install")
@click.option("--time", "at", default="03:00", show_default=True, help="Local time of the nightly run, HH:MM.")
@click.option("--strategy", help="Strategy of the nightly run (default: [cycle] strategy).")
@click.option("--system", is_flag=True, help="Write a file in /etc/cron.d instead of your crontab (root).")
@click.pass_obj
def schedule_install(app: App, at: str, strategy: str | None, system: bool) -> None:
    """Install (or replace) the nightly job for this config."""
    from dreamcore.cli import schedule as cron

    config_path = app.config_path.resolve()
    warnings = cron.install(app.core.config, config_path, at, strategy, system)
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)
    for job in cron.status(config_path):
        click.echo(f"installed in {job.where}: every night at {job.time} (next {job.next_run:%Y-%m-%d %H:%M})")


@schedule.command("uninstall")
@click.pass_obj
def schedule_uninstall(app: App) -> None:
    """Remove this config's nightly job."""
    from dreamcore.cli import schedule as cron

    removed = cron.uninstall(app.config_path.resolve())
    click.echo(f"removed {removed} job{'s' if removed != 1 else ''}")


@schedule.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def schedule_status(app: App, as_json: bool) -> None:
    """Show this config's nightly job and the last run."""
    from dreamcore.cli import schedule as cron

    jobs = cron.status(app.config_path.resolve())
    runs = app.core.store.get_generation_runs(limit=1)
    last = runs[0] if runs else None
    if as_json:
        click.echo(json.dumps({"jobs": to_jsonable(jobs), "last_run": to_jsonable(last)}, indent=2))
        return
    if not jobs:
        click.echo("not scheduled (dreamcore schedule install)")
    for job in jobs:
        click.echo(f"scheduled in {job.where}: every night at {job.time}, next {job.next_run:%Y-%m-%d %H:%M}")
    if last is not None:
        click.echo(f"last run: {last.id} {last.status}, started {last.timestamp:%Y-%m-%d %H:%M} UTC")


def _summary(dream: DreamProcedure) -> dict[str, Any]:
    data = to_jsonable(dream)
    data.pop("code")
    return data


@cli.command()
@click.argument("dream_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (with the diff).")
@click.pass_obj
def show(app: App, dream_id: str, as_json: bool) -> None:
    """One dream: its metadata and a unified diff against its base procedure."""
    store = app.core.store
    dream = store.get_dream(parse_dream_ref(dream_id))
    base = store.get_procedure(dream.base_procedure_id)
    diff = dream_diff(textwrap.dedent(base.source), dream.code, f"{base.module}.{base.qualname}", dream_ref(dream.id))
    if as_json:
        click.echo(json.dumps({**to_jsonable(dream), "diff": diff, "base": to_jsonable(base)}, indent=2))
        return
    fields = _summary(dream)
    width = max(len(key) for key in fields)
    for key, value in fields.items():
        if value not in (None, "", [], {}):
            click.echo(f"{key:<{width}}  {value}")
    click.echo("")
    click.echo(diff or "(the dream's code is identical to its base)")


@cli.command("export")
@click.argument("dream_id")
@click.option("--patch", is_flag=True, help="A unified diff against the base's source file (for git apply).")
@click.option("--root", type=click.Path(file_okay=False, path_type=Path), help="Make patch paths relative to this.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write to this file, not stdout.")
@click.pass_obj
def export_command(app: App, dream_id: str, patch: bool, root: Path | None, out: Path | None) -> None:
    """A dream's code, or with --patch a diff that `git apply` accepts."""
    from dreamcore.analysis.patch import file_patch

    store = app.core.store
    dream = store.get_dream(parse_dream_ref(dream_id))
    text = file_patch(dream, store.get_procedure(dream.base_procedure_id), root) if patch else dream.code
    if out is None:
        click.echo(text, nl=False)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise DreamcoreError(f"{out}: cannot write: {exc.strerror}") from None
    click.echo(f"wrote {out}")


@cli.command()
@click.argument("dream_id")
@click.option("--note", default="", help="Where it went (a commit, a pull request...).")
@click.pass_obj
def adopt(app: App, dream_id: str, note: str) -> None:
    """Record that a dream was adopted into real code (counts in the health metrics)."""
    number = parse_dream_ref(dream_id)
    if app.core.store.record_adoption(number, note):
        click.echo(f"{dream_ref(number)} adopted")
    else:
        click.echo(f"{dream_ref(number)} was already adopted")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def stats(app: App, as_json: bool) -> None:
    """Counts by status, tier and type; averages; database size; return on spend."""
    from dreamcore.learning.commands import echo_return_on_spend
    from dreamcore.learning.health import return_on_spend

    statistics = app.core.store.get_statistics()
    spend = return_on_spend(app.core.store)
    if as_json:
        click.echo(json.dumps({**statistics, "return_on_spend": spend}, indent=2))
        return
    for key, value in statistics.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items()) or "-"
        elif isinstance(value, float):
            value = f"{value:.3f}"
        click.echo(f"{key:<20} {value if value is not None else '-'}")
    click.echo("return on spend:")
    echo_return_on_spend(spend)


def _shorten(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _table(headers: list[str], rows: list[list[Any]]) -> None:
    if sys.stdout.isatty():
        from rich.console import Console
        from rich.table import Table

        table = Table(*headers)
        for row in rows:
            table.add_row(*(str(cell) for cell in row))
        Console().print(table)
        return
    click.echo("\t".join(headers))
    for row in rows:
        click.echo("\t".join(str(cell) for cell in row))


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``dreamcore`` console script; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        config_path = _config_path_from_argv(argv)
        plugins = Plugins(_disabled_plugins(config_path))
        plugins.call("register_commands", cli=cli)
        return cli.main(argv, prog_name="dreamcore", obj=App(config_path, plugins), standalone_mode=False) or 0
    except DreamcoreError as exc:
        for line in str(exc).splitlines():
            click.echo(f"error: {line}", err=True)
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return 2
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        return 130
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
