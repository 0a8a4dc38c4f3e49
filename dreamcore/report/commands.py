"""``dreamcore report``, and the report written after every run when ``[report] path`` is set."""

from __future__ import annotations

import logging
import webbrowser
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from dreamcore.errors import DreamcoreError
from dreamcore.hookspecs import hookimpl
from dreamcore.report.collect import collect
from dreamcore.report.html import render

log = logging.getLogger(__name__)
DEFAULT_OUT = "dreamcore-report.html"


def write_report(store: Any, out: Path, since_days: int, best: int, now: datetime | None = None) -> int:
    """Build the report from ``store`` and write it to ``out`` (folders created); returns its size in bytes."""
    page = render(collect(store, since_days, best, now)).encode("utf-8")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(page)
    except OSError as exc:
        raise DreamcoreError(f"report: cannot write {out}: {exc.strerror or exc}") from None
    return len(page)


@click.command("report")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help=f"HTML file to write (default: [report] path, else {DEFAULT_OUT}).")
@click.option("--since", "since_days", type=click.IntRange(min=1), default=None,
              help="Days of history to cover (default: [report] since_days, 30).")
@click.option("--open", "open_browser", is_flag=True, help="Open the report in the browser.")
@click.pass_obj
def report_command(app: Any, out: Path | None, since_days: int | None, open_browser: bool) -> None:
    """Write the morning report: one self-contained HTML page of health, spend, adaptation and dreams."""
    config = app.core.config.report
    out = out or config.resolved_path(app.core.config.base_dir) or Path(DEFAULT_OUT)
    size = write_report(app.core.store, out, since_days or config.since_days, config.best)
    click.echo(f"report written to {out} ({size / 1024:.0f} KiB)")
    if open_browser:
        webbrowser.open(out.resolve().as_uri())


@hookimpl
def register_commands(cli: Any) -> None:
    cli.add_command(report_command)


@hookimpl
def cycle_finished(run: Any, store: Any, core: Any) -> None:
    """Write the report after every cycle when ``[report] path`` is set. A report that cannot be
    written is logged, not raised: the run's work is already stored."""
    config = core.config.report
    out = config.resolved_path(core.config.base_dir)
    if out is None:
        return
    try:
        size = write_report(store, out, config.since_days, config.best)
    except DreamcoreError as exc:
        log.warning("%s", exc)
        return
    log.info("report written to %s (%d bytes) after run %s", out, size, run.id)
