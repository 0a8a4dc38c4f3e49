"""The four scorers on constructed cases with known answers, the compound score, and added components."""

from __future__ import annotations

import math

import pytest
from dreamcore_plugins.scorers.efficiency_scorer import EfficiencyScorer
from dreamcore_plugins.scorers.leverage_scorer import Idea, LeverageScorer, shape
from dreamcore_plugins.scorers.novelty_scorer import NoveltyScorer, nearest_distance
from dreamcore_plugins.scorers.quality_scorer import QualityScorer
from factories import EPOCH, dream, procedure

from dreamcore import DreamCore, hookimpl
from dreamcore.analysis.shape import structural_distance, structural_novelty
from dreamcore.errors import ConfigError, PluginError
from dreamcore.learning.health import metrics_of
from dreamcore.learning.scoring import ScoringContext, check_weights, compound, run_scorers
from dreamcore.models import DreamTier, TestOutcome

BASE = "def total(items, rate=3):\n    s = 0\n    for i in items:\n        s += i * rate\n    return s\n"
VARIANTS = [
    BASE.replace("rate=3", "rate=6"),
    BASE.replace("s += i * rate", "s += i * rate + 1"),
    "def total(items, rate=3):\n    return sum(i * rate for i in items)\n",
    "def total(items, rate=3):\n    if not items:\n        return 0\n    s = 0\n    for i in items:\n"
    "        s += i * rate\n    return s\n",
    "def total(items, rate=3):\n    try:\n        return sum(items) * rate\n    except TypeError:\n        return 0\n",
]


def _stored(store, code_list, base_source=BASE, **fields):
    base_id = store.upsert_procedure(procedure(qualname="total", source=base_source))
    ids = store.store_dreams_batch([dream(base_id, n, code=code, **fields) for n, code in enumerate(code_list)])
    return [store.get_dream(i) for i in ids]


def test_novelty_is_zero_for_a_copy_of_the_base_or_of_an_earlier_dream(store):
    dreams = _stored(store, [VARIANTS[2], BASE, VARIANTS[2].replace("return sum(", "return  sum(")])
    scores = NoveltyScorer().score(dreams, ScoringContext(store, dreams))
    assert scores[0] == pytest.approx(structural_distance(VARIANTS[2], BASE)) and scores[0] > 0.3
    assert scores[1] == 0.0  # the base itself
    assert scores[2] == 0.0  # the first dream again (formatting differs only)


def test_novelty_pruning_gives_exactly_the_nearest_distance():
    for n in range(len(VARIANTS)):
        earlier = list(enumerate(VARIANTS[:n]))
        assert nearest_distance(VARIANTS[n], BASE, earlier, {}) == pytest.approx(
            structural_novelty(VARIANTS[n], BASE, VARIANTS[:n]), abs=1e-12)


def test_novelty_compares_only_with_dreams_generated_before(store):
    dreams = _stored(store, VARIANTS)
    context = ScoringContext(store, dreams)
    scores = NoveltyScorer().score(list(reversed(dreams)), context)[::-1]
    expected = [structural_novelty(code, BASE, VARIANTS[:n]) for n, code in enumerate(VARIANTS)]
    assert scores == pytest.approx(expected)


@pytest.mark.parametrize(
    ("tier", "viability", "outcome", "expected"),
    [
        (DreamTier.VIABLE, 0.8, TestOutcome.PENDING, 0.4 * 0.8 + 0.3 + 0.3),
        (DreamTier.VIABLE, 1.0, TestOutcome.SUCCESS, 1.0),
        (DreamTier.VIABLE, 0.9, TestOutcome.FAILURE, 0.4 * 0.9 + 0.3),
        (DreamTier.SPECULATIVE, 0.5, TestOutcome.TIMEOUT, 0.4 * 0.5 + 0.3 * 0.5),
        (DreamTier.SPECULATIVE, 0.4, TestOutcome.PENDING, 0.4 * 0.4 + 0.3 * 0.5 + 0.3 * 0.5),
        (DreamTier.ARCHIVE, 0.1, TestOutcome.PENDING, 0.04),
        (None, None, TestOutcome.PENDING, None),
    ],
)
def test_quality_known_answers(tier, viability, outcome, expected):
    scored = QualityScorer().quality(dream(1, tier=tier, viability_score=viability, test_outcome=outcome))
    assert scored == (None if expected is None else pytest.approx(expected))


def test_quality_weights_must_sum_to_one():
    with pytest.raises(ValueError, match="must sum to 1, got 0.9"):
        QualityScorer.Config(viability_weight=0.3)


@pytest.mark.parametrize(
    ("outcome", "speedup", "expected"),
    [
        (TestOutcome.SUCCESS, 1.0, 0.5),
        (TestOutcome.SUCCESS, 2.0, 0.75),
        (TestOutcome.SUCCESS, 4.0, 1.0),
        (TestOutcome.SUCCESS, 16.0, 1.0),
        (TestOutcome.SUCCESS, 0.5, 0.25),
        (TestOutcome.SUCCESS, 0.25, 0.0),
        (TestOutcome.SUCCESS, None, None),
        (TestOutcome.FAILURE, 3.0, 0.0),
        (TestOutcome.TIMEOUT, None, 0.0),
        (TestOutcome.ERROR, None, 0.0),
        (TestOutcome.PENDING, None, None),
    ],
)
def test_efficiency_known_answers(outcome, speedup, expected):
    scored = EfficiencyScorer().efficiency(dream(1, test_outcome=outcome, speedup=speedup))
    assert scored == (None if expected is None else pytest.approx(expected))


FETCH_RATE = (
    "def fetch_rate(client, retries=3):\n    for attempt in range(retries):\n"
    "        response = client.get('rate')\n        if response:\n            return response\n    return None\n"
)
FETCH_FORECAST = (
    "def fetch_forecast(client, city, retries=5):\n    for attempt in range(retries):\n"
    "        response = client.get(city)\n        if response:\n            return response\n    return None\n"
)
FETCH_ALERTS = "def fetch_alerts(client, city):\n    return client.get(city)\n"
GUARDED = (
    "def fetch_radar(client, city, retries=2):\n    try:\n        for attempt in range(retries):\n"
    "            response = client.get(city)\n            if response:\n                return response\n"
    "    except OSError:\n        return None\n    return None\n"
)
CONVERT = "def convert(client, amount):\n    return amount * fetch_rate(client)\n"
CONVERT_TWICE = "def convert_twice(client, amount):\n    return convert(client, amount) + fetch_rate(client)\n"


@pytest.fixture
def projects(store):
    """billing: fetch_rate (called by two procedures); weather: three fetchers, one with a try."""
    ids = {}
    for project, name, source in [
        ("billing", "fetch_rate", FETCH_RATE), ("billing", "convert", CONVERT),
        ("billing", "convert_twice", CONVERT_TWICE), ("weather", "fetch_forecast", FETCH_FORECAST),
        ("weather", "fetch_alerts", FETCH_ALERTS), ("weather", "fetch_radar", GUARDED),
    ]:
        ids[name] = store.upsert_procedure(procedure(project, name, source))
    return ids


def _leverage(store, base_id, codes):
    ids = store.store_dreams_batch([dream(base_id, n, code=code) for n, code in enumerate(codes)])
    dreams = [store.get_dream(i) for i in ids]
    return LeverageScorer().score(dreams, ScoringContext(store, dreams))


def test_leverage_counts_procedures_of_other_projects_that_take_the_idea_and_callers(store, projects):
    retuned = FETCH_RATE.replace("retries=3", "retries=6")
    guarded = FETCH_RATE.replace("    for attempt", "    try:\n        for attempt").replace(
        "        response =", "            response =").replace("        if response:\n            return response\n",
                                                                "            if response:\n                return "
                                                                "response\n    except OSError:\n        return None\n")
    renamed = FETCH_RATE.replace("attempt", "n")
    scores = _leverage(store, projects["fetch_rate"], [retuned, guarded, renamed])
    # retuning `retries` applies where a retries knob exists: fetch_forecast and fetch_radar, not fetch_alerts
    assert scores[0].figures == {"cross_project_matches": 2, "base_callers": 2}
    assert scores[0].value == pytest.approx(0.75 * 2 / 3 + 0.25 * 2 / 5)
    # wrapping the loop in try/except: fetch_forecast lacks it, fetch_radar has it already,
    # fetch_alerts has no loop to wrap
    assert scores[1].figures["cross_project_matches"] == 1
    # renaming a loop variable changes no structure and no knob: no idea to reuse
    assert scores[2].figures["cross_project_matches"] == 0
    assert scores[2].value == pytest.approx(0.25 * 2 / 5)


def test_an_idea_is_the_structure_added_removed_and_the_knobs_retuned():
    idea = Idea.between(shape(FETCH_RATE), shape(FETCH_RATE.replace("retries=3", "retries=6")))
    assert not idea.added and not idea.removed and idea.retuned == {"retries"}
    assert idea.applies_to(shape(FETCH_FORECAST)) and not idea.applies_to(shape(FETCH_ALERTS))
    assert not Idea.between(shape(FETCH_RATE), shape(FETCH_RATE))


def test_weights_must_sum_to_one_and_compound_is_the_weighted_sum():
    weights = check_weights({"novelty": 0.6, "quality": 0.15, "leverage": 0.15, "efficiency": 0.1})
    values = {"novelty": 0.5, "quality": 1.0, "leverage": None, "efficiency": 0.2}
    assert compound(values, weights) == pytest.approx(0.3 + 0.15 + 0.02)
    with pytest.raises(ValueError, match="must sum to 1, got 0.9"):
        check_weights({"novelty": 0.5, "quality": 0.15, "leverage": 0.15, "efficiency": 0.1})
    with pytest.raises(ValueError, match="must name exactly"):
        check_weights({"novelty": 1.0})


def test_bad_weights_in_dreams_toml_are_one_line_errors(tmp_path):
    config = tmp_path / "dreams.toml"
    config.write_text("[plugins.score]\nnovelty_weight = 0.5\n")
    with pytest.raises(ConfigError) as raised:
        DreamCore(config)
    assert str(raised.value).count("\n") == 0
    assert "plugins.score" in str(raised.value) and "must sum to 1, got 0.9" in str(raised.value)


def test_run_scorers_writes_every_component_and_the_compound(store_url, projects):
    with DreamCore({"store": {"url": store_url}}) as core:
        store = core.store
        ids = store.store_dreams_batch([
            dream(projects["fetch_rate"], 0, code=FETCH_RATE.replace("retries=3", "retries=6"),
                  tier=DreamTier.VIABLE, viability_score=0.8, test_outcome=TestOutcome.SUCCESS, speedup=2.0,
                  generated_at=EPOCH),
        ])
        dreams = [store.get_dream(ids[0])]
        rows = run_scorers(core, dreams, core.component_config("stages", "score").weights, {},
                           ScoringContext(store, dreams, now=EPOCH))
        store.record_scores(rows)
        scored = store.get_dream(ids[0])
    assert scored.quality_score == pytest.approx(0.4 * 0.8 + 0.3 + 0.3)
    assert scored.efficiency_score == pytest.approx(0.75)
    assert scored.cross_project_matches == 2 and scored.base_callers == 2
    assert scored.scored_at == EPOCH
    expected = (0.6 * scored.novelty_score + 0.15 * scored.quality_score + 0.15 * scored.leverage_score
                + 0.1 * scored.efficiency_score)
    assert math.isclose(scored.compound_score, expected, rel_tol=1e-9)
    assert store.dreams_to_score() == []


class _BrevityScorer:
    """An added component: shorter dreams score higher."""

    name = "brevity"

    def score(self, dreams, context):
        return [1.0 / len(d.code.splitlines()) for d in dreams]


class _BrevityPlugin:
    @hookimpl
    def register_scorers(self, register):
        register(_BrevityScorer)


ADDED = ("[plugins.score]\nnovelty_weight = 0.5\n"
         "[plugins.score.components.brevity]\nweight = 0.1\n")


def test_a_scorer_plugin_adds_a_component_to_the_compound_score_and_the_health(store_url, projects, tmp_path):
    config = tmp_path / "dreams.toml"
    config.write_text(f'[store]\nurl = "{store_url}"\n' + ADDED)
    with DreamCore(config, plugins=[_BrevityPlugin()]) as core:
        store = core.store
        ids = store.store_dreams_batch([dream(projects["fetch_rate"], 0, code=VARIANTS[2], tier=DreamTier.VIABLE,
                                              viability_score=0.8, generated_at=EPOCH)])
        stage = core.component_config("stages", "score")
        store.record_scores(run_scorers(core, [store.get_dream(ids[0])], stage.weights, stage.scorers))
        scored = store.get_dream(ids[0])
        metrics = metrics_of([scored], [], set(), stage.weights)
    assert scored.extra_scores == {"brevity": 0.5}
    assert scored.efficiency_score is None  # untested: no data, counts 0
    expected = 0.5 * scored.novelty_score + 0.15 * scored.quality_score + 0.15 * scored.leverage_score + 0.1 * 0.5
    assert math.isclose(scored.compound_score, expected, rel_tol=1e-9)
    assert metrics.extra_components == {"brevity": 0.5}
    assert math.isclose(metrics.compound_health_score, expected, rel_tol=1e-9)


@pytest.mark.parametrize(("table", "message"), [
    ("[plugins.score.components.brevity]\nweight = 0.1\n", "must sum to 1, got 1.1"),
    ("[plugins.score]\nnovelty_weight = 0.5\n[plugins.score.components.novelty]\nweight = 0.1\n",
     "plugins.score.components: 'novelty' is a built-in component"),
    ("[plugins.score]\nnovelty_weight = 0.5\n[plugins.score.components.brevity]\nweight = -0.1\n", "weight"),
    ("[plugins.score]\nnovelty_weight = 0.5\n[plugins.score.components.brevity]\nweight = 0.1\nweigth = 0.1\n",
     "plugins.score.components[brevity].weigth: unknown key"),
])
def test_bad_added_components_are_one_line_errors(tmp_path, table, message):
    config = tmp_path / "dreams.toml"
    config.write_text(table)
    with pytest.raises(ConfigError) as raised:
        DreamCore(config, plugins=[_BrevityPlugin()])
    assert str(raised.value).count("\n") == 0 and message in str(raised.value)


def test_an_added_component_without_its_scorer_names_the_missing_scorer(store_url, projects, tmp_path):
    config = tmp_path / "dreams.toml"
    config.write_text(f'[store]\nurl = "{store_url}"\n' + ADDED)
    with DreamCore(config) as core:
        dreams = [core.store.get_dream(core.store.store_dreams_batch([dream(projects["fetch_rate"], 0)])[0])]
        stage = core.component_config("stages", "score")
        with pytest.raises(PluginError, match="brevity"):
            run_scorers(core, dreams, stage.weights, stage.scorers)
