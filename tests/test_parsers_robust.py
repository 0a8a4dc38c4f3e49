"""Parsers on any input: hypothesis fuzzing, round trips of rendered evaluations, hostile inputs.

The strict time target (1 MB of hostile input in <= 100 ms) is measured by
benchmarks/bench_parsers.py; here the bound is generous (0.3 s of the process's CPU time, which
other work on the machine does not inflate much), to catch quadratic behaviour (minutes at 1 MB)
and scans that crawl over the whole text without failing on a busy machine.
"""

from __future__ import annotations

import json
import math
import time

import pytest
from dreamcore_plugins.parsers.json_parser import JsonParser
from dreamcore_plugins.parsers.regex_parser import RegexParser
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.bench_parsers import hostile_inputs
from dreamcore.evaluation.parsing import (
    FRAGMENT_LIMIT,
    SCORE_AS_PERCENT,
    SCORE_CLAMPED,
    TIER_DISAGREES,
    TIER_FROM_SCORE,
    id_key,
    parse_with,
)
from dreamcore.evaluation.verdicts import Evaluation, ParseResult
from dreamcore.models import DreamTier

PARSERS = {"json": JsonParser(), "regex": RegexParser()}
FLAGS = {SCORE_AS_PERCENT, SCORE_CLAMPED, TIER_DISAGREES, TIER_FROM_SCORE}
MEGABYTE = 1_000_000

# Pieces judges' answers are made of, so random texts look like (broken) answers, not noise.
TOKENS = [
    "Dream ", "D-", "dream #", "12", "0.85", "85%", "8.5/10", "17/20", " out of ", "percent", "Tier ", "tier: ",
    "viable", "speculative", "archive", "Viability: ", "Score: ", "Reasoning: ", "\n", "\n\n", " ", ". ", ", ",
    "- ", "* ", "1. ", "### ", "**", "| ", " |", "|---|---|\n", "```json\n", "```\n", "{", "}", "[", "]", '"id": ',
    '"D-3"', '"score": ', '"tier": ', '"reasoning": "', '"', ":", "-1", "1e999", "NaN", "\r\n", "—", "é", "\x00",
    "99999999999", "0.", ".5", "2", "3", "1",
]
answers = st.one_of(
    st.text(max_size=400),
    st.lists(st.sampled_from(TOKENS) | st.text(max_size=6), max_size=80).map("".join),
)


def _check(result: ParseResult) -> None:
    assert isinstance(result, ParseResult)
    for evaluation in result.evaluations:
        assert isinstance(evaluation.id, str) and evaluation.id.strip()
        assert isinstance(evaluation.viability_score, float)
        assert math.isfinite(evaluation.viability_score) and 0.0 <= evaluation.viability_score <= 1.0
        assert evaluation.tier in set(DreamTier)
        assert isinstance(evaluation.reasoning, str)
        assert set(evaluation.flags) <= FLAGS
    assert all(isinstance(text, str) and len(text) <= FRAGMENT_LIMIT for text in result.unparsed)


@pytest.mark.parametrize("name", PARSERS)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=answers)
def test_any_text_gives_a_valid_result(name, text):
    _check(PARSERS[name].parse(text))


@settings(max_examples=200, deadline=None)
@given(text=answers)
def test_the_chain_gives_a_valid_result_with_one_evaluation_per_dream(text):
    result = parse_with(list(PARSERS.values()), text)
    _check(result)
    keys = [id_key(evaluation.id) for evaluation in result.evaluations]
    assert len(keys) == len(set(keys))


@settings(max_examples=200, deadline=None)
@given(value=st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["id", "dream", "score", "viability", "tier", "reasoning", "evaluations", "D-4", "x"]),
        inner, max_size=5),
    max_leaves=20,
))
def test_any_json_document_gives_a_valid_result(value):
    _check(PARSERS["json"].parse(json.dumps(value)))


words = st.lists(st.from_regex(r"[a-ce-z]{1,8}", fullmatch=True), min_size=1, max_size=12).map(" ".join)
rendered = st.lists(
    st.builds(
        lambda number, score, tier, reasoning: Evaluation(
            id=f"D-{number}", viability_score=score, tier=tier, reasoning=reasoning
        ),
        st.integers(min_value=1, max_value=10**6),
        st.floats(min_value=0.0, max_value=1.0),
        st.sampled_from(list(DreamTier)),
        words,
    ),
    min_size=1,
    max_size=8,
    unique_by=lambda evaluation: evaluation.id,
)


def _as_json(evaluations):
    return "Here you go:\n```json\n" + json.dumps(
        {"evaluations": [
            {"id": e.id, "viability_score": e.viability_score, "tier": int(e.tier), "reasoning": e.reasoning}
            for e in evaluations
        ]}
    ) + "\n```\n"


def _as_seed_list(evaluations):
    return "".join(f"Dream {e.id[2:]}: Viability {e.viability_score!r}, Tier {int(e.tier)}. {e.reasoning}\n"
                   for e in evaluations)


def _as_headings(evaluations):
    return "".join(f"### {e.id}\n**Viability:** {e.viability_score!r}\n**Tier:** {int(e.tier)}\n\n{e.reasoning}\n\n"
                   for e in evaluations)


def _as_table(evaluations):
    rows = "".join(f"| {e.id} | {e.viability_score!r} | {int(e.tier)} | {e.reasoning} |\n" for e in evaluations)
    return "| Dream | Viability | Tier | Reasoning |\n|---|---|---|---|\n" + rows


@pytest.mark.parametrize(
    ("name", "render"),
    [("json", _as_json), ("regex", _as_seed_list), ("regex", _as_headings), ("regex", _as_table)],
)
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(evaluations=rendered)
def test_rendered_evaluations_round_trip(name, render, evaluations):
    result = PARSERS[name].parse(render(evaluations))
    assert result.unparsed == []
    read = {int(e.id.split()[-1].removeprefix("D-")): e for e in result.evaluations}
    assert len(read) == len(evaluations)
    for expected in evaluations:
        got = read[int(expected.id[2:])]
        assert got.viability_score == expected.viability_score
        assert got.tier == expected.tier
        assert got.reasoning == expected.reasoning
        disagrees = expected.tier != PARSERS[name].config.bands().tier_for(expected.viability_score)
        assert got.flags == ([TIER_DISAGREES] if disagrees else [])


RENDERINGS = [_as_json, _as_seed_list, _as_headings, _as_table]


@settings(max_examples=100, deadline=None)
@given(evaluations=rendered, choices=st.lists(st.integers(0, len(RENDERINGS) - 1), min_size=8, max_size=8))
def test_the_chain_reads_answers_mixing_formats(evaluations, choices):
    """Each evaluation rendered in its own format, the pieces joined by a rule and prose: the
    chain reads all."""
    pieces = [RENDERINGS[choice]([evaluation]) for evaluation, choice in zip(evaluations, choices)]
    result = parse_with(list(PARSERS.values()), "\n---\nNext batch, as promised.\n\n".join(pieces))
    assert result.unparsed == []
    read = {id_key(evaluation.id): evaluation for evaluation in result.evaluations}
    assert sorted(read) == sorted(id_key(evaluation.id) for evaluation in evaluations)
    for expected in evaluations:
        got = read[id_key(expected.id)]
        assert (got.viability_score, got.tier, got.reasoning) == (
            expected.viability_score, expected.tier, expected.reasoning
        )


HOSTILE = hostile_inputs(MEGABYTE)


@pytest.mark.parametrize("name", PARSERS)
@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_megabyte_is_handled_in_linear_time(name, hostile):
    started = time.process_time()
    result = PARSERS[name].parse(HOSTILE[hostile])
    elapsed = time.process_time() - started
    _check(result)
    assert elapsed < 0.3, f"{name} took {elapsed:.2f} s of CPU on {hostile!r}"


def test_work_limits_report_the_rest_as_unparsed():
    many = "\n".join(f"D-{i}: score 0.5" for i in range(1500))
    result = RegexParser().parse(many)
    assert len(result.evaluations) == 1000
    assert any(fragment.startswith("(regex parser stopped") for fragment in result.unparsed)
    hostile = JsonParser().parse(HOSTILE["broken objects"])
    assert any(fragment.startswith("(json parser stopped") for fragment in hostile.unparsed)
