"""The bandit: allocation, simulation against known yields, plans from the store, bad input."""

from __future__ import annotations

import json
import random
from datetime import timedelta

import pytest
from factories import dream, procedure
from hypothesis import given
from hypothesis import strategies as st

from dreamcore.cli.root import main
from dreamcore.learning.adaptation import (
    AdaptConfig,
    Arm,
    Domains,
    PlanLookup,
    Posterior,
    collect_hints,
    collect_posteriors,
    make_plan,
    reward,
    split,
)
from dreamcore.learning.simulation import parse_arms, simulate
from dreamcore.models import DreamGenerationRun, DreamTier, RejectedDraft, TestOutcome, utcnow

YIELDS = {
    ("conditional", "billing"): 0.45, ("cross_project", "weather"): 0.30, ("cross_project", "billing"): 0.15,
    ("constraint_relaxation", "billing"): 0.12, ("parameter", "billing"): 0.10, ("conditional", "weather"): 0.08,
    ("conditional", "search"): 0.07, ("constraint_relaxation", "weather"): 0.06, ("parameter", "weather"): 0.05,
    ("parameter", "search"): 0.04,
}
ARMS = {
    "budget_per_cycle": 100,
    "arms": [{"dream_type": t, "model": "local", "domain": d, "yield": y} for (t, d), y in YIELDS.items()],
}


def _truly_high_value() -> set[str]:
    """Domains whose best arm yields more than the average arm."""
    average = sum(YIELDS.values()) / len(YIELDS)
    return {domain for (_, domain), value in YIELDS.items() if value > average}


@pytest.mark.parametrize("seed", range(5))
def test_adaptive_beats_uniform_and_nears_the_oracle(seed):
    result = simulate(parse_arms(ARMS), cycles=20, seed=seed)
    assert result["adaptive"] >= 1.5 * result["uniform"]
    assert result["adaptive"] >= 0.9 * result["oracle"]
    found = set(result["high_value_domains"])
    assert found and len(found & _truly_high_value()) / len(found) >= 0.8
    assert "billing" in found


def test_simulation_is_reproducible_and_seeds_differ():
    spec = parse_arms(ARMS)
    assert simulate(spec, 10, 1) == simulate(spec, 10, 1)
    assert simulate(spec, 10, 1)["adaptive"] != simulate(spec, 10, 2)["adaptive"]


def test_simulate_command_prints_exactly_the_four_keys(tmp_path, capsys):
    arms = tmp_path / "arms.json"
    arms.write_text(json.dumps(ARMS))
    assert main(["--config", str(tmp_path / "none.toml"), "adapt", "--simulate", str(arms), "--cycles", "12",
                 "--seed", "4", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert set(printed) == {"adaptive", "uniform", "oracle", "high_value_domains"}
    assert printed["adaptive"] == simulate(parse_arms(ARMS), 12, 4)["adaptive"]
    assert printed["adaptive"] > printed["uniform"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{", "invalid JSON: Expecting property name enclosed in double quotes (line 1, column 2)"),
        ("[]", "expected an object with budget_per_cycle and arms"),
        ('{"budget_per_cycle": 0, "arms": []}', "budget_per_cycle: expected a positive integer, got 0"),
        ('{"budget_per_cycle": 10, "arms": [], "x": 1}', "unknown field 'x'"),
        ('{"budget_per_cycle": 10, "arms": []}', "arms: expected a non-empty array"),
        ('{"budget_per_cycle": 10, "arms": [{"dream_type": "p", "model": "m", "domain": "d", "yield": 0.1, '
         '"colour": "red"}]}', "arms[0]: unknown field 'colour' (expected dream_type, model, domain, yield)"),
        ('{"budget_per_cycle": 10, "arms": [{"dream_type": "p", "model": "m", "domain": "d"}]}',
         "arms[0]: missing field 'yield'"),
        ('{"budget_per_cycle": 10, "arms": [{"dream_type": "p", "model": "m", "domain": "d", "yield": 1.5}]}',
         "arms[0]: yield: expected a number between 0 and 1, got 1.5"),
        ('{"budget_per_cycle": 10, "arms": [{"dream_type": "p", "model": "m", "domain": "d", "yield": 0.1}, '
         '{"dream_type": "p", "model": "m", "domain": "d", "yield": 0.2}]}', "arms[1]: duplicate arm p/m/d"),
    ],
)
def test_bad_arms_files_are_one_line_errors(tmp_path, capsys, content, message):
    arms = tmp_path / "arms.json"
    arms.write_text(content)
    assert main(["--config", str(tmp_path / "none.toml"), "adapt", "--simulate", str(arms), "--json"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and message in err


def test_missing_arms_file_and_cycles_without_simulate_are_one_line_errors(tmp_path, capsys):
    config = ["--config", str(tmp_path / "none.toml"), "adapt"]
    assert main([*config, "--simulate", str(tmp_path / "missing.json")]) == 2
    assert main([*config, "--simulate", str(tmp_path), "--cycles", "0"]) == 2
    arms = tmp_path / "arms.json"
    arms.write_text(json.dumps(ARMS))
    assert main([*config, "--simulate", str(arms), "--cycles", "0"]) == 2
    assert main([*config, "--cycles", "3"]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(":")[0] for line in lines] == ["error"] * 4
    assert "missing.json: cannot read: No such file" in lines[0] and "cannot read: Is a directory" in lines[1]
    assert "--cycles: expected a positive number, got 0" in lines[2]
    assert lines[3] == "error: --cycles needs --simulate ARMS.json"


@given(
    budget=st.integers(0, 500),
    shares=st.lists(st.floats(0, 1), min_size=1, max_size=12),
    floor=st.integers(0, 5),
    cap=st.integers(1, 200),
)
def test_split_respects_budget_caps_and_floors(budget, shares, floor, cap):
    arms = [Arm("t", "m", f"d{i}") for i in range(len(shares))]
    counts = split(budget, dict(zip(arms, shares)), dict.fromkeys(arms, floor), dict.fromkeys(arms, cap))
    assert sum(counts.values()) <= budget
    assert all(0 <= n <= cap for n in counts.values())
    if floor * len(arms) <= budget:
        assert all(n >= min(floor, cap) for n in counts.values())
    if sum(shares) > 0 and cap * len(arms) >= budget >= floor * len(arms):
        assert sum(counts.values()) == budget or all(
            counts[a] == cap or s == 0 for a, s in zip(arms, shares))


def test_rewards_come_from_tests_first_then_tiers():
    assert reward(1, "success") == 1.0 and reward(1, "failure") == 0.0 and reward(2, "timeout") == 0.0
    assert reward(1, "pending") == 0.7 and reward(2, "pending") == 0.3 and reward(3, "pending") == 0.0
    assert reward(None, "pending") is None


@pytest.fixture
def evidence(store):
    """billing: 4 conditional dreams (2 tested successes, 1 tier 1, 1 tier 3); weather: 2 parameter
    dreams (tier 2, failure) and 3 rejected drafts of one category; one dream not evaluated."""
    billing = store.upsert_procedure(procedure("billing", "charge"))
    weather = store.upsert_procedure(procedure("weather", "forecast"))
    run_id = store.record_generation_run(DreamGenerationRun(strategy="light"))
    rows = [
        (billing, "conditional", DreamTier.VIABLE, TestOutcome.SUCCESS),
        (billing, "conditional", DreamTier.VIABLE, TestOutcome.SUCCESS),
        (billing, "conditional", DreamTier.VIABLE, TestOutcome.PENDING),
        (billing, "conditional", DreamTier.ARCHIVE, TestOutcome.PENDING),
        (weather, "parameter", DreamTier.SPECULATIVE, TestOutcome.PENDING),
        (weather, "parameter", DreamTier.VIABLE, TestOutcome.FAILURE),
        (weather, "parameter", None, TestOutcome.PENDING),
    ]
    store.store_dreams_batch([
        dream(base, n, dream_type=kind, tier=tier, test_outcome=outcome, run_id=run_id, generated_at=utcnow(),
              failure_category="logic" if outcome == TestOutcome.FAILURE else None,
              test_error="assert 1 == 2" if outcome == TestOutcome.FAILURE else None)
        for n, (base, kind, tier, outcome) in enumerate(rows)
    ])
    store.record_rejections([
        RejectedDraft(base_procedure_id=weather, dream_type="parameter", model_used="local", category="unsafe",
                      reason=f"calls eval ({n})", run_id=run_id)
        for n in range(3)
    ])
    return {p.id: p for p in store.get_procedures()}


def test_posteriors_and_hints_from_the_store(store, evidence):
    since = utcnow() - timedelta(days=1)
    posteriors = collect_posteriors(store, evidence, Domains("project", {}), since)
    billing, weather = Arm("conditional", "local", "billing"), Arm("parameter", "local", "weather")
    assert posteriors[billing] == Posterior(alpha=1 + 1 + 1 + 0.7 + 0, beta=1 + 0 + 0 + 0.3 + 1, dreams=4)
    assert posteriors[weather] == Posterior(alpha=1 + 0.3 + 0, beta=1 + 0.7 + 1, dreams=2)
    hints = collect_hints(store, evidence, Domains("project", {}), since, AdaptConfig())
    assert hints == {weather: ["avoid: unsafe (3 times, e.g. calls eval (0))"]}  # one logic failure < min 2
    hints = collect_hints(store, evidence, Domains("project", {}), since, AdaptConfig(min_failures=1))
    assert hints[weather][1] == "avoid: logic (1 times, e.g. assert 1 == 2)"
    assert collect_posteriors(store, evidence, Domains("project", {}), utcnow() + timedelta(days=1)) == {}


def test_a_plan_explains_every_decision_and_round_trips(store, evidence):
    posteriors = collect_posteriors(store, evidence, Domains("project", {}), utcnow() - timedelta(days=1))
    posteriors[Arm("parameter", "local", "billing")] = Posterior()
    plan = make_plan(posteriors, {}, AdaptConfig(), budget=45, cap=30, rng=random.Random(3))
    assert sum(d.variants for d in plan.decisions) <= 45 and all(d.variants <= 30 for d in plan.decisions)
    assert all("posterior mean" in d.reason and "variants" in d.reason for d in plan.decisions)
    by_arm = {(d.dream_type, d.domain): d for d in plan.decisions}
    assert by_arm["conditional", "billing"].variants > by_arm["parameter", "weather"].variants
    assert by_arm["conditional", "billing"].temperature < by_arm["parameter", "weather"].temperature
    store.save_plan(plan)
    assert store.latest_plan() == plan


def test_plan_lookup_gives_planned_arms_their_settings_and_others_the_default(store, evidence):
    posteriors = collect_posteriors(store, evidence, Domains("project", {}), utcnow() - timedelta(days=1))
    plan = make_plan(posteriors, {Arm("parameter", "local", "weather"): ["avoid: x"]}, AdaptConfig(), budget=20,
                     cap=20, rng=random.Random(1))
    lookup = PlanLookup(plan, Domains("project", {}), default_variants=7)

    class Generator:
        dream_type = "parameter"

    weather = next(p for p in evidence.values() if p.project == "weather")
    planned = next(d for d in plan.decisions if d.domain == "weather")
    assert lookup.settings(weather, Generator()).variants == planned.variants
    assert lookup.settings(weather, Generator()).hints == ("avoid: x",)
    Generator.dream_type = "cross_project"
    assert lookup.settings(weather, Generator()).variants == 7


def test_domains_by_module_and_tag():
    proc = procedure("billing", "charge_card")
    assert Domains("module", {}).of(proc) == "billing.core"
    tags = AdaptConfig(domain="tag", tags=["payments=billing.*.charge_*", "all=*"]).domains()
    assert tags.of(proc) == "payments" and tags.of(procedure("weather", "x")) == "all"
    assert Domains("tag", {}).of(proc) == "untagged"
    with pytest.raises(ValueError, match='tags: expected "tag=glob"'):
        AdaptConfig(tags=["nope"])


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 200) | st.floats(-1, 2) | st.text(max_size=6),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.sampled_from(["budget_per_cycle", "arms", "dream_type", "model", "domain", "yield", "x"]), children,
        max_size=6),
    max_leaves=20,
)


@given(data=JSON_VALUES)
def test_any_json_document_is_an_arms_spec_or_one_line_error(data):
    from dreamcore.learning.simulation import SimulationError

    try:
        spec = parse_arms(data)
    except SimulationError as exc:
        assert "\n" not in str(exc) and str(exc).startswith("ARMS.json: ")
    else:
        assert spec.budget >= 1 and spec.yields and all(0 <= y <= 1 for y in spec.yields.values())
