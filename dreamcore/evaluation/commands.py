"""Commands ``dreamcore evaluate`` and ``dreamcore hook`` (Claude Code), registered like a plugin's.

- ``evaluate``: run the configured evaluator over the pending dreams; ``--prompt`` prints the prompt
  for a person or a Claude session; ``--from-file F|-`` applies an answer; ``--parse F|-`` shows what
  the parsers read and changes nothing; ``--flagged`` lists dreams left to a person.
- ``hook claude-code``: the command of a Claude Code Stop hook; ``hook install`` / ``uninstall``.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import IO, Any

import click

from dreamcore.errors import DreamcoreError
from dreamcore.evaluation import claude_code
from dreamcore.evaluation.judging import (
    Applied,
    apply_evaluations,
    evaluate_pending,
    load_template,
    render_prompt,
)
from dreamcore.evaluation.parsing import parse_with, parsers_for, to_json
from dreamcore.hookspecs import hookimpl
from dreamcore.models import DreamStatus, dream_ref, utcnow
from dreamcore.output import to_jsonable
from dreamcore.progress import Progress


@click.command("evaluate")
@click.option("--prompt", "show_prompt", is_flag=True, help="Print the evaluation prompt for pending dreams.")
@click.option(
    "--from-file", "answer", type=click.File("r"), help="Apply the evaluations in an answer (file or -)."
)
@click.option(
    "--parse",
    "parse_only",
    type=click.File("r"),
    help="Print what the parsers read (file or -); change nothing.",
)
@click.option(
    "--flagged", is_flag=True, help="List dreams flagged after [evaluation] max_attempts failed evaluations."
)
@click.option("--evaluator", help="Evaluator to run (default: [evaluation] evaluator).")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    help="At most N dreams (--prompt: default [evaluation] batch_size).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def evaluate(
    app: Any,
    show_prompt: bool,
    answer: IO[str] | None,
    parse_only: IO[str] | None,
    flagged: bool,
    evaluator: str | None,
    limit: int | None,
    as_json: bool,
) -> int:
    """Judge pending dreams: run the evaluator, or print a prompt / apply an answer by hand."""
    modes = [
        name
        for name, on in (
            ("--prompt", show_prompt),
            ("--from-file", answer),
            ("--parse", parse_only),
            ("--flagged", flagged),
        )
        if on
    ]
    if len(modes) > 1:
        raise click.UsageError(f"{modes[0]} and {modes[1]} cannot be used together")
    if evaluator and modes:
        raise click.UsageError(f"--evaluator runs an evaluator; it cannot be used with {modes[0]}")
    core = app.core
    if parse_only is not None:
        return _print_parsed(parse_with(parsers_for(core), parse_only.read()), as_json)
    if answer is not None:
        parsed = parse_with(parsers_for(core), answer.read())
        applied = apply_evaluations(core.store, parsed.evaluations, judge="answer file")
        return _print_applied(applied, parsed.unparsed, as_json)
    if show_prompt:
        return _print_prompt(core, limit or core.config.evaluation.batch_size)
    if flagged:
        return _print_flagged(core, limit, as_json)
    return _run_evaluator(core, evaluator or core.config.evaluation.evaluator, limit, as_json)


async def _evaluate(core: Any, evaluator: Any, limit: int | None) -> Any:
    """Judge pending dreams outside a cycle: model calls get their own budget (``[cycle] budget_usd``)."""
    from dreamcore.llm.hub import ModelHub

    models = ModelHub(core, core.config.cycle.budget_usd)
    try:
        return await evaluate_pending(core, evaluator, limit=limit, progress=Progress(), models=models)
    finally:
        await models.aclose()


def _run_evaluator(core: Any, name: str, limit: int | None, as_json: bool) -> int:
    chosen = core.create("evaluators", name)
    outcome = asyncio.run(_evaluate(core, chosen, limit))
    report = {
        "evaluator": chosen.name,
        **outcome.report(),
        "model_usage": outcome.usage,
        "failures": outcome.failures,
    }
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        click.echo(
            f"{report['evaluated']} of {report['dreams']} dreams evaluated by {chosen.name} "
            f"in {report['batches']} batches; {report['failed']} left pending, {report['flagged']} flagged"
        )
        for model, counters in outcome.usage.items():
            click.echo(f"  {model}: " + ", ".join(f"{key} {value}" for key, value in counters.items()))
        for failure in outcome.failures:
            click.echo(f"  failure   {failure}")
    return 1 if outcome.failures else 0


def _print_parsed(parsed: Any, as_json: bool) -> int:
    if as_json:
        click.echo(to_json(parsed))
        return 0
    for evaluation in parsed.evaluations:
        flags = f"  [{', '.join(evaluation.flags)}]" if evaluation.flags else ""
        click.echo(
            f"{evaluation.id}\ttier {int(evaluation.tier)}\t{evaluation.viability_score:.2f}\t"
            f"{evaluation.reasoning}{flags}"
        )
    for fragment in parsed.unparsed:
        click.echo(f"unparsed\t{' '.join(fragment.split())[:200]}")
    click.echo(f"{len(parsed.evaluations)} evaluations, {len(parsed.unparsed)} unparsed fragments", err=True)
    return 0


def _print_applied(applied: Applied, unparsed: list[str], as_json: bool) -> int:
    if as_json:
        click.echo(json.dumps(applied.as_dict(unparsed), indent=2))
    else:
        for dream_id, evaluation in applied.applied:
            click.echo(
                f"applied   {dream_ref(dream_id)}: "
                f"tier {int(evaluation.tier)}, {evaluation.viability_score:.2f}"
            )
        for dream_id in applied.unchanged:
            click.echo(f"unchanged {dream_ref(dream_id)}: no longer pending evaluation")
        for evaluation in applied.unmatched:
            click.echo(f"unmatched {evaluation.id!r}: no such dream pending")
        for fragment in unparsed:
            click.echo(f"unparsed  {' '.join(fragment.split())[:200]}")
        click.echo(
            f"{len(applied.applied)} applied, {len(applied.unchanged)} unchanged, "
            f"{len(applied.unmatched)} unmatched, {len(unparsed)} unparsed"
        )
    found = applied.applied or applied.unchanged or applied.unmatched
    return 0 if found else 1


def _print_prompt(core: Any, limit: int) -> int:
    store = core.store
    attempts = core.config.evaluation.max_attempts  # flagged dreams included: a person may judge them
    found = store.get_flagged(attempts, limit=limit) + store.get_evaluable(attempts, limit=limit)
    dreams = sorted(found, key=lambda dream: dream.id)[:limit]
    if not dreams:
        click.echo("no dreams await evaluation", err=True)
        return 0
    bases = {
        base_id: store.get_procedure(base_id) for base_id in {dream.base_procedure_id for dream in dreams}
    }
    click.echo(render_prompt(load_template(core.config), dreams, bases))
    return 0


def _print_flagged(core: Any, limit: int | None, as_json: bool) -> int:
    settings = core.config.evaluation
    dreams = core.store.get_flagged(settings.max_attempts, limit=limit)
    if as_json:
        keep = ("id", "dream_type", "base_procedure_name", "eval_attempts", "last_error", "generated_at")
        click.echo(json.dumps([{key: to_jsonable(d)[key] for key in keep} for d in dreams], indent=2))
        return 0
    if not dreams:
        click.echo(f"no flagged dreams (none failed evaluation {settings.max_attempts} times)")
        return 0
    for dream in dreams:
        click.echo(
            f"{dream_ref(dream.id)}\t{dream.dream_type}\t{dream.base_procedure_name}\t"
            f"{dream.eval_attempts} attempts\t{dream.last_error or '-'}"
        )
    click.echo(
        f"{len(dreams)} flagged: still {DreamStatus.PENDING_EVALUATION.value}; judge them with "
        "`dreamcore evaluate --prompt` and `--from-file`",
        err=True,
    )
    return 0


@click.group("hook")
def hook() -> None:
    """Claude Code integration: a Stop hook that applies dream evaluations written in a session."""


@hook.command("claude-code")
@click.pass_obj
def hook_claude_code(app: Any) -> int:
    """The Stop hook's command: read the hook JSON on stdin, apply the evaluations. Always exits 0."""
    try:
        payload = json.loads(sys.stdin.read() or "null")
    except ValueError:
        click.echo("dreamcore hook: stdin is not the hook's JSON; ignored", err=True)
        return 0
    text = claude_code.reply_text(payload)
    if not claude_code.names_a_dream(text):
        return 0
    session = payload.get("session_id", "?") if isinstance(payload, dict) else "?"
    try:
        core = app.core
        parsed = parse_with(parsers_for(core), text)
        applied = apply_evaluations(core.store, parsed.evaluations, judge="claude-code")
        line = (
            f"session {session}: applied {len(applied.applied)} "
            f"({', '.join(f'{dream_ref(i)} tier {int(e.tier)}' for i, e in applied.applied) or '-'}), "
            f"unchanged {len(applied.unchanged)}, unmatched {len(applied.unmatched)}, "
            f"unparsed {len(parsed.unparsed)}"
        )
    except Exception as exc:  # a hook must never break the session
        problem = str(exc) if isinstance(exc, DreamcoreError) else f"{type(exc).__name__}: {exc}"
        line = f"session {session}: error: {problem}"
        click.echo(f"dreamcore hook: {line}", err=True)
        _log(app, line)
        return 0
    _log(app, line)
    if applied.applied:
        click.echo(f"dreamcore: {len(applied.applied)} dream evaluations applied")
    return 0


def _log(app: Any, line: str) -> None:
    try:
        config = app.core.config
        path = config.base_dir / config.evaluation.hook_log
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as log:
            log.write(f"{utcnow().isoformat(timespec='seconds')} {line}\n")
    except Exception as exc:  # no config, unwritable folder: the hook still ends quietly
        click.echo(f"dreamcore hook: cannot log: {exc}", err=True)


_SCOPE = [
    click.option(
        "--project", "scope", flag_value="project", default=True, help="<project>/.claude/settings.json."
    ),
    click.option("--user", "scope", flag_value="user", help="~/.claude/settings.json."),
    click.option(
        "--project-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=".",
        help="The project folder (default: the current one).",
    ),
]


def _scoped(function: Any) -> Any:
    for option in reversed(_SCOPE):
        function = option(function)
    return function


@hook.command("install")
@_scoped
@click.pass_obj
def hook_install(app: Any, scope: str, project_dir: Path) -> None:
    """Add the Stop hook to Claude Code's settings (other hooks are kept; running it twice is harmless)."""
    path = claude_code.settings_path(scope == "user", project_dir)
    command = claude_code.hook_command(app.config_path)
    changed = claude_code.install(path, command)
    click.echo(f"{'installed' if changed else 'already installed'}: Stop hook in {path}\n  {command}")
    if not app.config_path.exists():
        click.echo(f"note: {app.config_path} does not exist yet; the hook logs an error until it does", err=True)


@hook.command("uninstall")
@_scoped
def hook_uninstall(scope: str, project_dir: Path) -> None:
    """Remove dreamcore's Stop hook (and nothing else) from Claude Code's settings."""
    path = claude_code.settings_path(scope == "user", project_dir)
    removed = claude_code.uninstall(path)
    click.echo(
        f"removed {removed} dreamcore hook(s) from {path}" if removed else f"no dreamcore hook in {path}"
    )


@hookimpl
def register_commands(cli: click.Group) -> None:
    cli.add_command(evaluate)
    cli.add_command(hook)
