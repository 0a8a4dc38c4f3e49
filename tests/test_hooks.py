"""One test per hook, named ``test_hook_<hook>`` (tests/test_hooks_documented.py checks that each exists).

Each registers an inline plugin object and watches what a user would see through the real pipeline:
the store, the run's report and its booked model usage. Hooks already exercised end to end in
tests/test_plugins.py (sources, generators, commands, dream_stored, cycle_finished) have their
``test_hook_*`` there.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
import tempfile

import pytest

from dreamcore import DreamCore, hookimpl
from dreamcore.errors import ConfigError
from dreamcore.evaluation.judging import EvaluationBatch, Judgement
from dreamcore.evaluation.verdicts import Evaluation, ParseResult
from dreamcore.learning.scoring import Score, ScoringContext
from dreamcore.llm.hub import Completion, Usage
from dreamcore.models import DreamStatus, DreamTier, dream_ref
from dreamcore.pipeline import run_cycle
from dreamcore.sandbox.host import HARNESS_SOURCE, HarnessSandbox
from dreamcore.testing.fake_openai import variant_responder
from tests.factories import dream, procedure

CALC = '''\
def double(n: int) -> int:
    """Twice n."""
    if n < 0:
        raise ValueError("negative")
    return n * 2


def total(values: list[int]) -> int:
    result = 0
    for value in values:
        result += value
    return result
'''


def make_core(tmp_path, *plugins, **tables) -> DreamCore:
    """A core over a one-module project, SQLite in tmp_path, the test stage off unless a table turns it on.
    ``tables`` are top-level config tables; ``plugins=`` (a dict) is merged into ``[plugins]``."""
    project = tmp_path / "calc"
    project.mkdir(exist_ok=True)
    (project / "calc.py").write_text(CALC)
    config = {
        "store": {"url": f"sqlite:///{tmp_path / 'dreams.db'}"},
        "cycle": {"seed": 3, "strategy": "light"},
        "sources": [{"project": "calc", "paths": [str(project)]}],
        **{key: value for key, value in tables.items() if key != "plugins"},
        "plugins": {"sandbox-stage": {"enabled": False}, **tables.get("plugins", {})},
    }
    return DreamCore(config, plugins=plugins)


def stored_dreams(core: DreamCore, *codes: str, source: str = "def double(n):\n    return n * 2\n") -> list[int]:
    """A base procedure ``double`` and one pending dream per code; the dreams' ids."""
    base = core.store.upsert_procedure(procedure("calc", "double", source))
    drafts = [dream(base, n, base_procedure_name="double", code=code) for n, code in enumerate(codes)]
    return core.store_dreams(drafts)


# -- register_models ---------------------------------------------------------------------------


def test_hook_register_models(tmp_path):
    calls = []

    class CannedProvider:
        """Answers generation prompts like a model would (variants of the fenced function)."""

        name = "canned"

        async def complete(self, models, messages, *, temperature, max_tokens):
            calls.append((list(models), temperature, max_tokens))
            text = variant_responder({"messages": messages}, models[0])
            return Completion(text=text, model=models[0], usage=Usage(120, 40, 0.002), latency=0.01)

    class Plugin:
        @hookimpl
        def register_models(self, register):
            register(CannedProvider)

    core = make_core(
        tmp_path, Plugin(),
        strategies={"llm": {"variants": 2, "generators": ["constraint_relaxation"]}},
        plugins={"constraint_relaxation": {"mode": "llm", "provider": "canned",
                                           "models": ["canned/first", "canned/fallback"], "temperature": 0.3}},
    )
    with core:
        cycle = asyncio.run(core.run_cycle(strategy="llm", stages=["mine", "generate"]))
        run = core.store.get_generation_runs()[0]
        dreams = core.store.find_dreams(limit=None)
    assert cycle.failures == [] and run.status == "finished"
    assert calls and all(call == (["canned/first", "canned/fallback"], 0.3, 2000) for call in calls)
    booked = run.model_usage["canned/first"]  # the usage the provider reported, booked under the serving model
    assert booked["calls"] == len(calls)
    assert (booked["prompt_tokens"], booked["completion_tokens"]) == (120 * len(calls), 40 * len(calls))
    assert booked["cost_usd"] == pytest.approx(0.002 * len(calls))
    assert dreams and {d.model_used for d in dreams} == {"canned/first"}
    assert {d.dream_type for d in dreams} == {"constraint_relaxation"}


# -- register_evaluators -----------------------------------------------------------------------


def test_hook_register_evaluators(tmp_path):
    batches = []

    class ByLength:
        """Viable when the dream is short, archive when it is long."""

        name = "by-length"

        async def evaluate(self, batch: EvaluationBatch) -> Judgement:
            batches.append([d.id for d in batch.dreams])
            evaluations = []
            for item in batch.dreams:
                short = len(item.code) < 40
                evaluations.append(Evaluation(id=dream_ref(item.id), viability_score=0.9 if short else 0.1,
                                              tier=1 if short else 3, reasoning=f"{len(item.code)} characters"))
            return Judgement(judge=self.name, evaluations=evaluations)

    class Plugin:
        @hookimpl
        def register_evaluators(self, register):
            register(ByLength)

    long_code = "def double(n):\n    result = n + n\n    return result\n"
    with make_core(tmp_path, Plugin(), evaluation={"evaluator": "by-length"}) as core:
        short, long = stored_dreams(core, "def double(n):\n    return n + n\n", long_code)
        cycle = asyncio.run(core.run_cycle(stages=["evaluate"]))
        judged = {i: core.store.get_dream(i) for i in (short, long)}
    assert batches == [[short, long]]
    assert cycle.report["evaluate"]["evaluator"] == "by-length"
    assert cycle.report["evaluate"]["evaluated"] == 2
    assert all(d.status == DreamStatus.EVALUATED for d in judged.values())
    assert (judged[short].tier, judged[short].viability_score) == (DreamTier.VIABLE, 0.9)
    assert (judged[long].tier, judged[long].viability_score) == (DreamTier.ARCHIVE, 0.1)
    assert judged[long].claude_reasoning == f"[by-length] {len(long_code)} characters"


# -- register_parsers --------------------------------------------------------------------------


def test_hook_register_parsers(tmp_path):
    read = []

    class Terse:
        """An evaluator whose judge answers ``verdict <ref> <score>`` lines, which only ``verdicts`` reads."""

        name = "terse"

        async def evaluate(self, batch):
            lines = [f"verdict {dream_ref(d.id)} {0.25 + 0.5 * (i % 2)}" for i, d in enumerate(batch.dreams)]
            return Judgement(judge=self.name, text="\n".join(lines))

    class Verdicts:
        name = "verdicts"

        def parse(self, text):
            read.append(text)
            evaluations = []
            for line in text.splitlines():
                word, ref, score = line.split()
                if word == "verdict":
                    value = float(score)
                    evaluations.append(Evaluation(id=ref, viability_score=value, tier=1 if value > 0.5 else 2,
                                                  reasoning="terse verdict"))
            return ParseResult(evaluations=evaluations)

    class Plugin:
        @hookimpl
        def register_evaluators(self, register):
            register(Terse)

        @hookimpl
        def register_parsers(self, register):
            register(Verdicts)

    codes = ["def double(n):\n    return n + n\n", "def double(n):\n    return 2 * n\n"]
    with make_core(tmp_path, Plugin(), evaluation={"evaluator": "terse", "parsers": ["verdicts"]}) as core:
        first, second = stored_dreams(core, *codes)
        cycle = asyncio.run(core.run_cycle(stages=["evaluate"]))
        judged = [core.store.get_dream(i) for i in (first, second)]
    assert read == [f"verdict {dream_ref(first)} 0.25\nverdict {dream_ref(second)} 0.75"]
    assert cycle.failures == [] and cycle.report["evaluate"]["evaluated"] == 2
    assert [(d.status, d.tier, d.viability_score) for d in judged] == [
        (DreamStatus.EVALUATED, DreamTier.SPECULATIVE, 0.25), (DreamStatus.EVALUATED, DreamTier.VIABLE, 0.75)]
    assert all(d.claude_reasoning == "[terse] terse verdict" for d in judged)


# -- register_sandboxes ------------------------------------------------------------------------


class _Child:
    """A harness process as HarnessSandbox wants it: stdout, kill, wait."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.stdout = process.stdout

    async def kill(self) -> None:
        try:
            self.process.kill()
        except ProcessLookupError:
            pass

    async def wait(self) -> int | None:
        return await self.process.wait()


def test_hook_register_sandboxes(tmp_path):
    started = []

    class ChildProcessSandbox(HarnessSandbox):
        """The harness in a plain child process, in a temporary folder of its own per side."""

        name = "child-process"

        async def lease(self):
            return tempfile.mkdtemp(prefix="dreamcore-hook-sandbox-")

        async def release(self, slot, clean):
            shutil.rmtree(slot, ignore_errors=True)

        async def start(self, payload, slot):
            sent = json.loads(payload)
            started.append((sent["role"], len(sent["cases"])))
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-I", "-c", HARNESS_SOURCE, cwd=slot,
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
            )
            process.stdin.write(payload)
            await process.stdin.drain()
            process.stdin.close()
            return _Child(process)

    class Plugin:
        @hookimpl
        def register_sandboxes(self, register):
            register(ChildProcessSandbox)

    base = "def double(n: int) -> int:\n    return n * 2\n"
    same = "def double(n: int) -> int:\n    return n + n\n"
    wrong = "def double(n: int) -> int:\n    return n * 3\n"
    tables = {"plugins": {"sandbox-stage": {"enabled": True},
                          "test": {"sandbox": "child-process", "cases": 6, "concurrency": 1}}}
    with make_core(tmp_path, Plugin(), **tables) as core:
        ids = stored_dreams(core, same, wrong, source=base)
        for dream_id in ids:
            assert core.store.transition(dream_id, DreamStatus.PENDING_EVALUATION, DreamStatus.EVALUATED,
                                         tier=DreamTier.VIABLE)
        cycle = asyncio.run(core.run_cycle(stages=["test"]))
        tested = [core.store.get_dream(i) for i in ids]
    assert cycle.failures == []
    assert cycle.report["test"] == {"dreams": 2, "failure": 1, "success": 1}
    roles = [role for role, _ in started]
    assert roles.count("base") == 1 and roles.count("dream") == 2  # the base's side runs once per procedure
    cases = {count for _, count in started}
    assert [d.status for d in tested] == [DreamStatus.TESTED, DreamStatus.TESTED]
    assert [d.test_outcome.value for d in tested] == ["success", "failure"]
    assert len(cases) == 1 and tested[0].test_cases == tested[1].test_cases == cases.pop() >= 6
    assert tested[0].equivalence_rate == 1.0
    assert tested[1].equivalence_rate < 1.0


# -- register_scorers --------------------------------------------------------------------------


def test_hook_register_scorers(tmp_path):
    contexts = []

    class Brevity:
        """Novelty as brevity: 1 / the dream's number of lines."""

        name = "brevity"

        def score(self, dreams, context):
            contexts.append((context, [context.base(d).qualname for d in dreams]))
            return [Score(1 / len(d.code.splitlines())) for d in dreams]

    class Plugin:
        @hookimpl
        def register_scorers(self, register):
            register(Brevity)

    weights = {"novelty_weight": 1.0, "quality_weight": 0.0, "leverage_weight": 0.0, "efficiency_weight": 0.0}
    codes = ["def double(n):\n    return n + n\n", "def double(n):\n    m = n\n    m += n\n    return m\n"]
    with make_core(tmp_path, Plugin(), plugins={"score": {**weights, "novelty_scorer": "brevity"}}) as core:
        ids = stored_dreams(core, *codes)
        cycle = asyncio.run(core.run_cycle(stages=["score"]))
        scored = [core.store.get_dream(i) for i in ids]
    assert len(contexts) == 1 and isinstance(contexts[0][0], ScoringContext)  # one batch, both dreams
    assert contexts[0][1] == ["double", "double"]
    assert cycle.report["score"]["scored"] == 2
    assert [d.novelty_score for d in scored] == [pytest.approx(1 / 2), pytest.approx(1 / 4)]
    assert [d.compound_score for d in scored] == [pytest.approx(1 / 2), pytest.approx(1 / 4)]  # novelty weighs 1
    assert all(d.quality_score is None for d in scored)  # the built-in quality scorer: not evaluated yet


# -- register_stages ---------------------------------------------------------------------------


def test_hook_register_stages(tmp_path):
    seen = []

    class Census:
        """Between evaluate (30) and score (50): counts what the earlier stages left in the store."""

        name = "census"
        order = 35

        async def run(self, cycle):
            dreams = cycle.core.store.find_dreams(limit=None)
            counts = {
                "dreams": len(dreams),
                "evaluated": sum(d.status == DreamStatus.EVALUATED for d in dreams),
                "scored": sum(d.scored_at is not None for d in dreams),
            }
            seen.append(sorted(cycle.report))
            cycle.report[self.name] = counts

    class Plugin:
        @hookimpl
        def register_stages(self, register):
            register(Census)

    with make_core(tmp_path, Plugin()) as core:
        cycle = asyncio.run(core.run_cycle())
        run = core.store.get_generation_runs()[0]
    assert seen == [["evaluate", "generate", "mine"]]  # ran once, after the stages ordered before it
    counts = cycle.report["census"]
    assert counts["dreams"] == cycle.run.total_dreams_generated > 0
    assert counts["evaluated"] == counts["dreams"] and counts["scored"] == 0  # evaluate ran before it, score after
    assert "score" in cycle.report and run.stages["census"] == counts


# -- register_executors ------------------------------------------------------------------------


def test_hook_register_executors(tmp_path):
    handed = []

    class Recorder:
        """Runs the cycle in this process, as local does, after noting what it was handed."""

        name = "recorder"

        async def run_cycle(self, core, *, detach, **options):
            handed.append((detach, options))
            return await run_cycle(core, **options)

    class Plugin:
        @hookimpl
        def register_executors(self, register):
            register(Recorder)

    with make_core(tmp_path, Plugin(), executor={"kind": "recorder"}) as core:
        cycle = asyncio.run(core.run_cycle(stages=["mine", "generate"], limit=1))
        asyncio.run(core.run_cycle(stages=["mine"], dry_run=True))  # a dry run stores nothing: it stays here
        stored = core.store.get_generation_runs()
    assert handed == [(False, {"strategy": None, "stages": ["mine", "generate"], "limit": 1, "only": None})]
    assert [run.id for run in stored] == [cycle.run.id] and cycle.run.total_dreams_generated > 0
    with pytest.raises(ConfigError, match=r"executor.kind: unknown executor 'recorder' \(expected local, procrastinate\)"):
        make_core(tmp_path, executor={"kind": "recorder"})


# -- stage_finished ----------------------------------------------------------------------------


def test_hook_stage_finished(tmp_path):
    finished = []

    class Listener:
        @hookimpl
        def stage_finished(self, cycle, stage):
            finished.append((stage, cycle, json.loads(json.dumps(cycle.report[stage])), sorted(cycle.report)))

    with make_core(tmp_path, Listener()) as core:
        stages = sorted(core.plugins.components("stages").items(), key=lambda item: item[1].component.order)
        expected = [name for name, _ in stages if name != "test"]  # the test stage's plugin is switched off
        cycle = asyncio.run(core.run_cycle())
    assert expected[:3] == ["mine", "generate", "evaluate"] and "score" in expected
    assert [stage for stage, *_ in finished] == expected  # once per stage, in order, as each ended
    for index, (stage, seen_cycle, figures, reported) in enumerate(finished):
        assert seen_cycle is cycle
        assert figures == json.loads(json.dumps(cycle.report[stage]))
        assert reported == sorted(expected[: index + 1])  # later stages had not reported yet
    assert finished[0][2]["procedures"] == 2  # mine found double and total
