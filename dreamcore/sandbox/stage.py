"""The ``test`` pipeline stage and the ``dreamcore test-dream`` command: dreams tested in a sandbox.

Stage ``test`` (order 40, after evaluate and before score): evaluated dreams of the configured
tiers move ``evaluated -> pending_test -> tested`` with conditional transitions, so a re-run or a
second worker changes nothing; a run killed mid-way leaves ``pending_test`` dreams that the next
run tests. Each dream's base function and the dream run on synthetic inputs in the configured
sandbox (``[plugins.test] sandbox``); results and failure patterns go to the store.
"""

from __future__ import annotations

import asyncio
import json
import os
import textwrap
from collections import Counter
from pathlib import Path
from typing import Any

import attrs
import click

from dreamcore.config import InvalidValue, documented
from dreamcore.errors import DreamcoreError
from dreamcore.hookspecs import hookimpl
from dreamcore.models import DreamProcedure, DreamStatus, Procedure, TestOutcome, utcnow
from dreamcore.pipeline import for_each
from dreamcore.sandbox.comparison import DifferentialResult, judge
from dreamcore.sandbox.host import SandboxError, SideRun, TestJob, positive

PACKAGE_LIMIT = 2 << 20  # bytes of a project's package shipped into the sandbox


def _cases_in_range(instance: Any, attribute: attrs.Attribute, value: int) -> None:
    if not 1 <= value <= 1000:
        raise InvalidValue(attribute.name, f"must be between 1 and 1000, got {value}")


def _tiers(instance: Any, attribute: attrs.Attribute, value: list[int]) -> None:
    if not value or not set(value) <= {1, 2, 3}:
        raise InvalidValue(attribute.name, f"must list tiers among 1, 2 and 3, got {value}")


def package_files(procedure: Procedure) -> dict[str, str]:
    """The files of the procedure's top-level package (or its lone module), by relative path."""
    if not procedure.file_path or not Path(procedure.file_path).is_file():
        return {}
    file = Path(procedure.file_path)
    depth = procedure.module.count(".")
    root = file.parents[depth]
    top = root / procedure.module.split(".")[0]
    paths = sorted(top.rglob("*.py")) if top.is_dir() else [file]
    files, size = {}, 0
    for path in paths:
        text = path.read_text(encoding="utf-8", errors="replace")
        size += len(text)
        if size > PACKAGE_LIMIT:
            break
        files[str(path.relative_to(root))] = text
    return files


def job_for_dream(procedure: Procedure, dream: DreamProcedure, cases: list[dict[str, Any]], **limits: Any) -> TestJob:
    """A job testing ``dream`` against its base, inside the base's own module when it is available."""
    files = package_files(procedure)
    base_code = textwrap.dedent(procedure.source)
    if not files:
        base_code = "\n".join([*procedure.imports, base_code])
    return TestJob(function=procedure.name, base_code=base_code, dream_code=textwrap.dedent(dream.code),
                   cases=cases, files=files, module=procedure.module if files else None, **limits)


class TestStage:
    """Differential tests of evaluated dreams in a sandbox."""

    __test__ = False  # not a pytest test class
    name = "test"
    order = 40

    @attrs.define(kw_only=True)
    class Config:
        """[plugins.test]: which dreams the test stage tests, where, and how hard."""

        sandbox: str = attrs.field(default="subprocess", metadata=documented("sandbox plugin: subprocess or docker"))
        tiers: list[int] = attrs.field(factory=lambda: [1, 2], validator=_tiers, metadata=documented("tiers of dreams to test"))
        cases: int = attrs.field(default=20, validator=_cases_in_range, metadata=documented("synthetic cases per dream"))
        seed: int | None = attrs.field(default=None, metadata=documented("input seed; unset = the run's seed"))
        case_timeout: float = attrs.field(default=2.0, validator=positive, metadata=documented("seconds one call may take"))
        timeout: float = attrs.field(default=60.0, validator=positive, metadata=documented("seconds one dream's whole test may take"))
        concurrency: int = attrs.field(default=0, metadata=documented("dreams tested at once; 0 = the CPU count"))

    def __init__(self, config: Config | None = None) -> None:
        self.config = config or self.Config()
        self._cases: dict[tuple[int | None, int], list[dict[str, Any]]] = {}  # per (procedure, seed)
        self._bases: dict[tuple[int | None, int], SideRun] = {}  # the base's side, run once per procedure

    async def run(self, cycle: Any) -> None:
        core, config = cycle.core, self.config
        if cycle.dry_run:
            cycle.report[self.name] = {"skipped": "dry run"}
            return
        store = core.store
        if cycle.dream_batch is None:
            dreams = self.dreams_to_test(store, cycle.limit)
        else:  # a distributed sandbox job's share: those of its dreams still to test, read by id
            dreams = [d for d in map(store.get_dream, sorted(cycle.dream_batch)) if self._to_test(d)]
        outcomes: Counter[str] = Counter()
        cycle.progress.start(self.name, len(dreams))
        seed = config.seed if config.seed is not None else cycle.seed
        try:
            async with core.create("sandboxes", config.sandbox) as sandbox:

                async def test(dream: DreamProcedure) -> None:
                    outcome = await self._test(store, sandbox, dream, seed)
                    if outcome:
                        outcomes[outcome] += 1
                    cycle.progress.advance(self.name)

                await for_each(dreams, config.concurrency or os.cpu_count() or 1, test)
        except SandboxError as exc:
            cycle.failures.append(str(exc))
            cycle.progress.note(f"error: {exc}")
        cycle.report[self.name] = {"dreams": sum(outcomes.values()), **dict(sorted(outcomes.items()))}
        cycle.progress.finish(self.name, ", ".join(f"{n} {o}" for o, n in sorted(outcomes.items())) or "nothing to test")

    def dreams_to_test(self, store: Any, limit: int | None = None) -> list[DreamProcedure]:
        """Evaluated dreams of the configured tiers, then those a killed run left ``pending_test``."""
        dreams = [d for d in store.get_by_status(DreamStatus.EVALUATED, limit=None) if self._to_test(d)]
        dreams += store.get_by_status(DreamStatus.PENDING_TEST, limit=None)
        return dreams[:limit] if limit is not None else dreams

    def _to_test(self, dream: DreamProcedure) -> bool:
        return dream.status == DreamStatus.PENDING_TEST or (
            dream.status == DreamStatus.EVALUATED and dream.tier in self.config.tiers)

    async def _test(self, store: Any, sandbox: Any, dream: DreamProcedure, seed: int) -> str | None:
        if dream.status == DreamStatus.EVALUATED:
            if not store.transition(dream.id, DreamStatus.EVALUATED, DreamStatus.PENDING_TEST):
                return None  # another worker took it
        procedure = store.get_procedure(dream.base_procedure_id)
        result = await self.judge(sandbox, procedure, dream, seed)
        moved = store.transition(
            dream.id, DreamStatus.PENDING_TEST, DreamStatus.TESTED, test_outcome=result.test_outcome,
            test_error=result.test_error, test_timestamp=utcnow(), equivalence_rate=result.equivalence_rate,
            speedup=result.speedup, test_cases=len(result.cases), effectiveness_metric=result.effectiveness_metric,
            failure_category=result.failure_category,
        )
        if moved and result.failure_category and result.failure_pattern:
            store.record_failure_pattern(result.failure_category, result.failure_pattern, dream.id)
        return result.test_outcome.value if moved else None

    async def judge(self, sandbox: Any, procedure: Procedure, dream: DreamProcedure, seed: int) -> DifferentialResult:
        """Test one dream against its base procedure."""
        if "." in procedure.qualname.split("@")[0]:
            return _untestable("methods are not tested yet (they need an instance)")
        from dreamcore.sandbox.cases import generate_cases  # hypothesis: imported only when testing

        key = (procedure.id, seed)
        if key not in self._cases:
            try:
                self._cases[key] = generate_cases(textwrap.dedent(procedure.source), procedure.name,
                                                  self.config.cases, seed)
            except (ValueError, SyntaxError) as exc:
                return _untestable(f"no inputs could be made: {exc}")
        cases = self._cases[key]
        job = job_for_dream(procedure, dream, cases, case_timeout=self.config.case_timeout,
                            timeout=self.config.timeout)
        result = await sandbox.run(job, self._bases.get(key))
        self._bases[key] = result.base
        return judge(result, cases)


def _untestable(reason: str) -> DifferentialResult:
    """Not the dream's failure: an error without a category, so no failure pattern is counted."""
    return DifferentialResult(test_outcome=TestOutcome.ERROR, test_error=reason, failure_category=None,
                              equivalence_rate=None, speedup=None, effectiveness_metric=0.0,
                              failure_pattern=None, cases=[])


def _read_python(path: Path, what: str) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DreamcoreError(f"{what} {path}: not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DreamcoreError(f"{what} {path}: cannot read ({exc})") from None
    try:
        compile(text, str(path), "exec", dont_inherit=True)
    except SyntaxError as exc:
        if what == "base":
            raise DreamcoreError(f"base {path}:{exc.lineno}: does not parse ({exc.msg})") from None
    return text


def _pick_function(base: str, dream: str, name: str | None, base_path: Path) -> str:
    import ast

    defined = [n.name for n in ast.parse(base).body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    if name is not None:
        if name not in defined:
            raise DreamcoreError(f"base {base_path}: no top-level function named {name!r}")
        return name
    try:
        in_dream = {n.name for n in ast.parse(dream).body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    except SyntaxError:
        in_dream = set()
    shared = [n for n in defined if n in in_dream] or defined
    if len(shared) != 1:
        raise DreamcoreError(f"base {base_path}: name the function to test with --function (found {len(shared)})")
    return shared[0]


@click.command("test-dream")
@click.option("--base", "base_path", required=True, type=click.Path(path_type=Path), help="The original code.")
@click.option("--dream", "dream_path", required=True, type=click.Path(path_type=Path), help="The variant.")
@click.option("--function", "function", help="Function to compare (default: the one both files define).")
@click.option("--sandbox", "sandbox_name", default=None, help="subprocess or docker (default: [plugins.test]).")
@click.option("--cases", type=click.IntRange(1, 1000), default=None, help="Synthetic cases (default: 20).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the synthetic inputs.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def test_dream(app: Any, base_path: Path, dream_path: Path, function: str | None, sandbox_name: str | None,
               cases: int | None, seed: int, as_json: bool) -> int:
    """Differentially test a dream file against a base file in a sandbox."""
    from dreamcore.sandbox.cases import generate_cases

    base, dream = _read_python(base_path, "base"), _read_python(dream_path, "dream")
    name = _pick_function(base, dream, function, base_path)
    core = app.core if app.config_path.exists() else _default_core(app)
    stage: TestStage = core.create("stages", "test")
    config = attrs.evolve(stage.config, cases=cases or stage.config.cases)
    inputs = generate_cases(base, name, config.cases, seed)
    job = TestJob(function=name, base_code=base, dream_code=dream, cases=inputs, case_timeout=config.case_timeout,
                  timeout=config.timeout)

    name = sandbox_name or config.sandbox

    async def run() -> dict[str, Any]:
        async with core.create("sandboxes", name) as sandbox:
            isolation = sandbox.isolation() if hasattr(sandbox, "isolation") else {}
            return {**judge(await sandbox.run(job), inputs).summary(), "sandbox": {"name": name, **isolation}}

    result = asyncio.run(run())
    if as_json:
        click.echo(json.dumps(result, indent=2, default=str))
        return 0
    click.echo(f"{result['test_outcome']}: {len(inputs)} cases, equivalence {result['equivalence_rate']}, "
               f"speedup {result['speedup']}, effectiveness {result['effectiveness_metric']}")
    if result["test_error"]:
        click.echo(f"{result['failure_category']}: {result['test_error']}")
    return 0


def _default_core(app: Any) -> Any:
    from dreamcore.core import DreamCore

    return DreamCore({}, plugin_manager=app.plugins)


@hookimpl
def register_stages(register) -> None:
    register(TestStage)


@hookimpl
def register_commands(cli) -> None:
    cli.add_command(test_dream)
