"""Score and tier reading, the parser chain's merge rules, its configuration and JSON rendering."""

from __future__ import annotations

import json

import pytest
from dreamcore_plugins.parsers.json_parser import JsonParser
from dreamcore_plugins.parsers.regex_parser import RegexParser

from dreamcore import DreamCore, hookimpl
from dreamcore.errors import ConfigError
from dreamcore.evaluation.parsing import (
    SCORE_AS_PERCENT,
    SCORE_CLAMPED,
    TIER_DISAGREES,
    TIER_FROM_SCORE,
    as_dict,
    id_key,
    parse_with,
    parsers_for,
    read_score,
    read_tier,
    to_json,
)
from dreamcore.evaluation.verdicts import Evaluation, ParseResult
from dreamcore.models import DreamTier
from dreamcore.plugin_manager import Plugins


def _core(tmp_path, **config):
    return DreamCore({"store": {"url": f"sqlite:///{tmp_path / 'd.db'}"}, **config})


@pytest.mark.parametrize(
    ("written", "value", "flags"),
    [
        (0.85, 0.85, ()),
        ("0.85", 0.85, ()),
        ("85%", 0.85, ()),
        ("85 percent", 0.85, ()),
        ("8.5/10", 0.85, ()),
        ("17/20", 0.85, ()),
        ("0.7 out of 1", 0.7, ()),
        (".5", 0.5, ()),
        ("0.333333", 0.333333, ()),
        ("0,85", 0.85, ()),
        ("1.5e-05", 1.5e-05, ()),
        (85, 0.85, (SCORE_AS_PERCENT,)),
        (1.4, 1.0, (SCORE_CLAMPED,)),
        (-0.2, 0.0, (SCORE_CLAMPED,)),
        ("150%", 1.0, (SCORE_CLAMPED,)),
        ("200%", 1.0, (SCORE_CLAMPED,)),
        ("20/10", 1.0, (SCORE_CLAMPED,)),
        ("85", 0.85, (SCORE_AS_PERCENT,)),
        (1000, 1.0, (SCORE_CLAMPED,)),
    ],
)
def test_scores_are_read_to_full_precision_and_clamped_with_a_flag(written, value, flags):
    score = read_score(written)
    assert score.value == value
    assert score.flags == flags


@pytest.mark.parametrize("written", [None, True, "high", "", "n/a", "3/0", float("nan"), float("inf"), [0.5]])
def test_unreadable_scores_are_none(written):
    assert read_score(written) is None


@pytest.mark.parametrize(
    ("written", "tier"),
    [(1, 1), ("2", 2), ("Tier 3", 3), ("T1", 1), ("tier-2", 2), ("two", 2), ("viable", 1), ("Speculative", 2),
     ("archived", 3), ("**Tier 1** (viable)", 1), (2.0, 2)],
)
def test_tiers_are_read_from_numbers_and_words(written, tier):
    assert read_tier(written) == tier


@pytest.mark.parametrize("written", [0, 4, 1.5, "not viable", "tier 4", "", None, False, "first"])
def test_unreadable_tiers_are_none(written):
    assert read_tier(written) is None


def test_the_same_dream_written_differently_shares_a_key():
    assert id_key("D-12") == id_key("Dream 12") == id_key("dream #012") == id_key("12") == "12"
    assert id_key("retry_fetch") == id_key("Retry_Fetch")


def test_missing_tier_comes_from_the_bands_and_a_written_tier_that_disagrees_is_kept_but_flagged():
    text = '[{"id": "D-1", "score": 0.65}, {"id": "D-2", "score": 0.65, "tier": 3}]'
    first, second = JsonParser().parse(text).evaluations
    assert (first.tier, first.flags) == (DreamTier.VIABLE, [TIER_FROM_SCORE])
    assert (second.tier, second.flags) == (DreamTier.ARCHIVE, [TIER_DISAGREES])


class _Fixed:
    """A parser returning a fixed result (to check how the chain merges)."""

    def __init__(self, name, result):
        self.name = name
        self.result = result

    def parse(self, text):
        return self.result


class _Broken:
    name = "broken"

    def parse(self, text):
        raise RuntimeError("boom")


def _evaluation(dream_id, score):
    return Evaluation(id=dream_id, viability_score=score, tier=1 if score >= 0.6 else 3)


def test_first_parser_wins_per_dream_and_fragments_about_read_dreams_are_dropped():
    first = _Fixed("a", ParseResult(evaluations=[_evaluation("D-1", 0.9)], unparsed=["D-2 broken json"]))
    second = _Fixed(
        "b",
        ParseResult(
            evaluations=[_evaluation("Dream 1", 0.1), _evaluation("D-2", 0.7)],
            unparsed=["D-3 says nothing", "D-3: no score either", "some junk"],
        ),
    )
    result = parse_with([first, second], "ignored")
    assert [(e.id, e.viability_score) for e in result.evaluations] == [("D-1", 0.9), ("D-2", 0.7)]
    assert result.unparsed == ["D-3 says nothing", "some junk"]


def test_a_parser_that_raises_costs_only_its_own_result():
    good = _Fixed("good", ParseResult(evaluations=[_evaluation("D-1", 0.9)]))
    result = parse_with([_Broken(), good], "text")
    assert [e.id for e in result.evaluations] == ["D-1"]
    assert result.unparsed == ["parser 'broken' failed: RuntimeError: boom"]


def test_to_json_renders_ids_as_written():
    result = parse_with([JsonParser(), RegexParser()], "Dream 7: Viability 0.85, Tier 1. Fine.\nD-9: no idea")
    data = json.loads(to_json(result))
    assert data == as_dict(result)
    assert data["evaluations"] == [
        {"id": "Dream 7", "viability_score": 0.85, "tier": 1, "reasoning": "Fine.", "flags": []}
    ]
    assert data["unparsed"] == ["D-9: no idea"]


def test_both_parsers_are_builtin_plugins_with_documented_options():
    parsers = Plugins().components("parsers")
    assert {"json", "regex"} <= set(parsers)
    assert parsers["json"].plugin == "json" and parsers["regex"].plugin == "regex"


def test_default_chain_is_json_then_regex(tmp_path):
    assert [parser.name for parser in parsers_for(_core(tmp_path))] == ["json", "regex"]


def test_chain_order_and_parser_options_come_from_the_config(tmp_path):
    core = _core(
        tmp_path,
        evaluation={"parsers": ["regex"]},
        plugins={"regex": {"id_pattern": r"task-\d+", "viable": 0.9, "speculative": 0.5}},
    )
    (parser,) = parsers_for(core)
    (evaluation,) = parse_with([parser], "task-4: score 0.8. Looks fine.").evaluations
    assert (evaluation.id, evaluation.tier, evaluation.flags) == ("task-4", DreamTier.SPECULATIVE, [TIER_FROM_SCORE])


def test_json_key_aliases_are_configurable(tmp_path):
    core = _core(tmp_path, evaluation={"parsers": ["json"]}, plugins={"json": {"score_keys": ["likelihood"]}})
    result = parse_with(parsers_for(core), '{"id": "D-1", "likelihood": 0.4} {"id": "D-2", "score": 0.4}')
    assert [e.id for e in result.evaluations] == ["D-1"]
    assert result.unparsed == ['{"id": "D-2", "score": 0.4}']


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"evaluation": {"parsers": ["json", "yaml"]}}, "evaluation.parsers[1]: unknown parser 'yaml' (known: json, regex"),
        ({"evaluation": {"parsers": []}}, "evaluation.parsers: must name at least one parser"),
        ({"evaluation": {"parsers": ["json", "json"]}}, "each once"),
        ({"plugins": {"regex": {"id_pattern": "d-(\\d+"}}}, "plugins.regex.id_pattern: not a valid regular expression"),
        ({"plugins": {"json": {"viable": 0.2}}}, "plugins.json.speculative: must not exceed viable"),
        ({"plugins": {"regex": {"viable": 1.5}}}, "plugins.regex.viable: must be between 0 and 1, got 1.5"),
        ({"plugins": {"regex": {"max_entries": 0}}}, "plugins.regex.max_entries: must be at least 1"),
        ({"plugins": {"json": {"id_keys": "id"}}}, "plugins.json.id_keys: expected an array"),
    ],
)
def test_bad_parser_configuration_is_one_clear_line(tmp_path, config, message):
    with pytest.raises(ConfigError) as error:
        parsers_for(_core(tmp_path, **config))
    assert message in str(error.value)
    assert "\n" not in str(error.value)


class _Shout:
    """A third-party parser: reads 'ID=SCORE!' pairs."""

    name = "shout"

    def parse(self, text):
        evaluations = []
        for word in text.split():
            if word.endswith("!") and "=" in word:
                dream_id, score = word[:-1].split("=", 1)
                evaluations.append(Evaluation(id=dream_id, viability_score=float(score), tier=2))
        return ParseResult(evaluations=evaluations)


class _ShoutPlugin:
    @hookimpl
    def register_parsers(self, register):
        register(_Shout)


def test_a_third_party_parser_joins_the_chain_by_name(tmp_path):
    core = _core(tmp_path, evaluation={"parsers": ["shout", "regex"]})
    core.register_plugin(_ShoutPlugin(), "shout-plugin")
    result = parse_with(parsers_for(core), "D-1=0.4! and then\nD-1: 0.9\nD-2: 0.8")
    assert [(e.id, e.viability_score) for e in result.evaluations] == [("D-1", 0.4), ("D-2", 0.8)]


def test_json_that_is_not_an_evaluation_is_neither_read_nor_reported():
    text = 'Config used: {"name": "svc", "version": 2, "limits": {"cpu": 1}} and {"id": 7}. Nothing else.'
    assert parse_with([JsonParser(), RegexParser()], text) == ParseResult()


def test_odd_characters_do_not_break_the_parsers():
    text = "Dream 1\x00: Viability 0.5\ud800, Tier 2. \u0130stanbul \u212a\n" + '{"id": "D-2", "score": 0.7, "reason": "\ud800\x00"}'
    result = parse_with([JsonParser(), RegexParser()], text)
    assert [(e.id, e.viability_score) for e in result.evaluations] == [("D-2", 0.7), ("Dream 1", 0.5)]


def test_a_switched_off_parser_named_in_the_chain_is_a_clear_error(tmp_path):
    core = _core(tmp_path, plugins={"json": {"enabled": False}})
    with pytest.raises(ConfigError, match=r"evaluation.parsers\[0\]: unknown parser 'json' \(known: regex\)"):
        parsers_for(core)
    core = _core(tmp_path, plugins={"json": {"enabled": False}}, evaluation={"parsers": ["regex"]})
    assert [parser.name for parser in parsers_for(core)] == ["regex"]


def test_the_evaluation_bands_reach_the_parsers_unless_a_parser_sets_its_own(tmp_path):
    from dreamcore import DreamCore
    from dreamcore.evaluation.parsing import parse_with, parsers_for

    answer = '[{"id": "D-1", "score": 0.55}]\nD-2: Viability 0.55. No tier given.'
    shared = DreamCore({"store": {"url": "sqlite://"}, "evaluation": {"viable_from": 0.5, "speculative_from": 0.2}})
    tiers = {e.id: int(e.tier) for e in parse_with(parsers_for(shared), answer).evaluations}
    assert tiers == {"D-1": 1, "D-2": 1}
    own = DreamCore({"store": {"url": "sqlite://"}, "evaluation": {"viable_from": 0.5, "speculative_from": 0.2},
                     "plugins": {"regex": {"viable": 0.9, "speculative": 0.5}}})
    tiers = {e.id: int(e.tier) for e in parse_with(parsers_for(own), answer).evaluations}
    assert tiers == {"D-1": 1, "D-2": 2}
