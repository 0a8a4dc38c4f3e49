"""score, adapt and archive inside `dreamcore run`: offline, resumable, and the next run uses the plan."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path

import pytest
from factories import dream, procedure

from dreamcore import DreamCore, hookimpl
from dreamcore.cli.root import main
from dreamcore.models import AdaptationPlan, ArmDecision, DreamStatus, DreamTier, utcnow

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [{"project": "billing", "paths": [str(ROOT / "examples/billing")]},
           {"project": "weather", "paths": [str(ROOT / "examples/weather")]}]


def test_run_on_the_examples_scores_adapts_and_archives(tmp_path, capsys):
    config = tmp_path / "dreams.toml"
    sources = "".join(f'[[sources]]\nproject = "{s["project"]}"\npaths = ["{s["paths"][0]}"]\n' for s in SOURCES)
    few_tests = '[plugins.test]\ncases = 4\ntiers = [1]\n'
    config.write_text(f'[store]\nurl = "sqlite:///dreams.db"\n[cycle]\nstrategy = "light"\nseed = 3\n{sources}{few_tests}')
    assert main(["--config", str(config), "run", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    stages = report["stages"]
    assert stages["score"]["scored"] == report["total_dreams"] > 0
    assert stages["adapt"]["arms"] == 4  # constraint_relaxation and parameter, local, over two projects
    assert stages["archive"] == {"archived": 0, "purged": 0}
    with DreamCore(config) as core:
        store = core.store
        assert store.dreams_to_score() == []
        metrics = store.get_latest_metrics()
        assert metrics.run_id == report["run_id"] and metrics.total_dreams == report["total_dreams"]
        assert metrics.average_novelty_score > 0 and metrics.leverage_component > 0
        plan = store.latest_plan()
        assert plan.run_id == report["run_id"] and plan.budget == 5 * 4
        scored = store.get_by_type("parameter", limit=5)
        assert all(d.compound_score is not None and d.scored_at is not None for d in scored)
    assert main(["--config", str(config), "adapt", "--explain", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["id"] == plan.id
    assert main(["--config", str(config), "adapt"]) == 0
    assert "why: posterior mean" in capsys.readouterr().out


class Recorder:
    """A generator that records what the generate stage asked of it, and makes nothing."""

    name = "recorder"
    dream_type = "recorder"
    calls: list[tuple[str, int, tuple[str, ...]]] = []

    async def generate(self, procedure, context):
        self.calls.append((procedure.project, context.variants, tuple(context.hints)))
        return []


class RecorderPlugin:
    @hookimpl
    def register_generators(self, register):
        register(Recorder)


def _core(tmp_path, **adapt):
    return DreamCore(
        {"store": {"url": f"sqlite:///{tmp_path / 'dreams.db'}"}, "sources": SOURCES,
         "strategies": {"rec": {"variants": 4, "generators": ["recorder"]}}, "cycle": {"strategy": "rec"},
         "plugins": {"sandbox-stage": {"enabled": False}, **({"adapt": adapt} if adapt else {})}},
        plugins=[RecorderPlugin()],
    )


def test_a_second_run_uses_the_stored_plan(tmp_path):
    Recorder.calls.clear()
    with _core(tmp_path) as core:
        first = asyncio.run(core.run_cycle())
        assert {variants for _, variants, _ in Recorder.calls} == {4}  # no plan yet: the strategy's variants
        assert first.report["adapt"]["arms"] == 2
        core.store.save_plan(AdaptationPlan(mode="adaptive", budget=8, reason="test", decisions=[
            ArmDecision(dream_type="recorder", model="local", domain="billing", variants=0, temperature=0.5,
                        alpha=1, beta=9, dreams=8, share=0.0, reason="never works"),
            ArmDecision(dream_type="recorder", model="local", domain="weather", variants=7, temperature=0.3,
                        alpha=9, beta=1, dreams=8, share=1.0, hints=["avoid: unsafe (3 times)"], reason="works"),
        ]))
        Recorder.calls.clear()
        asyncio.run(core.run_cycle())
    assert Recorder.calls and {call for call in Recorder.calls} == {("weather", 7, ("avoid: unsafe (3 times)",))}


def test_adaptation_off_ignores_plans_and_frozen_keeps_the_last(tmp_path):
    with _core(tmp_path) as core:
        asyncio.run(core.run_cycle())
        first = core.store.latest_plan()
    with _core(tmp_path, mode="frozen") as core:
        cycle = asyncio.run(core.run_cycle())
        assert cycle.report["adapt"] == {"mode": "frozen", "plan": first.id}
        assert core.store.latest_plan().id == first.id
    Recorder.calls.clear()
    with _core(tmp_path, mode="off") as core:
        cycle = asyncio.run(core.run_cycle())
    assert cycle.report["adapt"] == {"mode": "off", "plan": None}
    assert {variants for _, variants, _ in Recorder.calls} == {4}


def test_forget_before_resets_the_evidence(tmp_path):
    with _core(tmp_path) as core:
        base = core.store.upsert_procedure(procedure("billing", "charge"))
        core.store.store_dreams_batch([dream(base, n, dream_type="recorder", tier=DreamTier.VIABLE,
                                             viability_score=0.9, generated_at=utcnow()) for n in range(5)])
        asyncio.run(core.run_cycle())
        remembered = {d.domain: d.dreams for d in core.store.latest_plan().decisions}
    tomorrow = (utcnow() + timedelta(days=1)).date().isoformat()
    with _core(tmp_path, forget_before=tomorrow) as core:
        asyncio.run(core.run_cycle())
        forgotten = {d.domain: d.dreams for d in core.store.latest_plan().decisions}
    assert remembered["billing"] == 5 and forgotten == {"billing": 0, "weather": 0}


def test_bad_adapt_options_are_one_line_errors(tmp_path, capsys):
    config = tmp_path / "dreams.toml"
    for table, message in [
        ('mode = "greedy"', "plugins.adapt: mode: unknown value 'greedy' (expected adaptive, frozen, off)"),
        ('forget_before = "yesterday"', "forget_before: not an ISO date or time: 'yesterday'"),
        ("temperature_min = 2.0", "temperature_min 2 > temperature_max 1"),
    ]:
        config.write_text(f"[plugins.adapt]\n{table}\n")
        assert main(["--config", str(config), "adapt"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err, err


def test_archive_stage_archives_old_tier3_dreams_and_purges_when_asked(tmp_path):
    with _core(tmp_path) as core:
        store = core.store
        base = store.upsert_procedure(procedure("billing", "charge"))
        old = utcnow() - timedelta(days=12)
        ids = store.store_dreams_batch([
            dream(base, 0, tier=DreamTier.ARCHIVE, status=DreamStatus.EVALUATED, generated_at=old),
            dream(base, 1, tier=DreamTier.ARCHIVE, status=DreamStatus.EVALUATED, generated_at=utcnow()),
            dream(base, 2, tier=DreamTier.VIABLE, status=DreamStatus.EVALUATED, generated_at=old),
            dream(base, 3, tier=DreamTier.ARCHIVE, status=DreamStatus.EVALUATED, generated_at=old - timedelta(days=30)),
        ])
        store.record_adoption(ids[3])
        cycle = asyncio.run(core.run_cycle(stages=["archive"]))
        assert cycle.report["archive"] == {"archived": 2, "purged": 0}
        assert [store.get_dream(i).status for i in ids] == [
            DreamStatus.ARCHIVED, DreamStatus.EVALUATED, DreamStatus.EVALUATED, DreamStatus.ARCHIVED]
    with DreamCore({"store": {"url": f"sqlite:///{tmp_path / 'dreams.db'}"},
                    "plugins": {"archive": {"purge_after_days": 5}}}) as core:
        cycle = asyncio.run(core.run_cycle(stages=["archive"]))
        assert cycle.report["archive"] == {"archived": 0, "purged": 1}
        assert core.store.get_dream(ids[3]).status == DreamStatus.ARCHIVED  # adopted: kept
        assert core.store.get_by_status(DreamStatus.ARCHIVED) == [core.store.get_dream(ids[3])]


@pytest.mark.parametrize("stage", ["score", "adapt", "archive"])
def test_dry_run_writes_nothing(tmp_path, stage):
    with _core(tmp_path) as core:
        cycle = asyncio.run(core.run_cycle(dry_run=True, stages=["mine", stage]))
        assert stage not in cycle.report
    assert not (tmp_path / "dreams.db").exists()


class JudgeStage:
    """A stand-in evaluate stage: parameter dreams are viable, every other type is archive material."""

    name = "judge"
    order = 30

    async def run(self, cycle):
        store = cycle.core.store
        for found in store.get_by_status(DreamStatus.PENDING_EVALUATION, limit=None):
            good = found.dream_type == "parameter"
            store.transition(found.id, DreamStatus.PENDING_EVALUATION, DreamStatus.EVALUATED,
                             tier=DreamTier.VIABLE if good else DreamTier.ARCHIVE,
                             viability_score=0.9 if good else 0.1, evaluated_at=utcnow())


class JudgePlugin:
    @hookimpl
    def register_stages(self, register):
        register(JudgeStage)


def test_the_loop_moves_variants_to_the_arms_the_judge_rewards(tmp_path):
    with DreamCore({"store": {"url": f"sqlite:///{tmp_path / 'dreams.db'}"}, "sources": SOURCES,
                    "cycle": {"strategy": "light"}}, plugins=[JudgePlugin()]) as core:
        stages = ["mine", "generate", "judge", "score", "adapt", "archive"]  # the stand-in judges, not evaluate
        first = asyncio.run(core.run_cycle(stages=stages))
        plan = core.store.latest_plan()
        variants = {(d.dream_type, d.domain): d.variants for d in plan.decisions}
        assert first.report["score"]["label"] in ("poor", "fair", "healthy")
        for domain in ("billing", "weather"):
            assert variants["parameter", domain] > 5 > variants["constraint_relaxation", domain]
        assert sum(variants.values()) <= plan.budget == 20
        second = asyncio.run(core.run_cycle(stages=stages))
        per_procedure = core.store.dream_outcomes()
        projects = {p.id: p.project for p in core.store.get_procedures(current_only=False)}
    made: dict[tuple[str, int], int] = {}
    for run_id, dream_type, _, base_id, _, _, count in per_procedure:
        if run_id == second.run.id:
            made[dream_type, base_id] = made.get((dream_type, base_id), 0) + count
    # the second run asked each generator for the plan's variants: never more dreams than that per procedure
    assert all(count <= variants[kind, projects[base]] for (kind, base), count in made.items())
    assert max(count for (kind, _), count in made.items() if kind == "parameter") > 5
