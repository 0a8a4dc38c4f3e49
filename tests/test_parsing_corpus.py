"""The parser chain on a corpus of judge answers, each with its expected result in a sidecar JSON.

Sidecar: ``{"evaluations": [{"id", "viability_score", "tier", "reasoning_contains"?, "flags"?}],
"unparsed_mentions": [...]}``. Every expected evaluation must be read exactly (id as written, score
to full precision, tier), and nothing else; each unparsed mention must appear in some unparsed
fragment, and with none listed, ``unparsed`` must be empty.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dreamcore import DreamCore
from dreamcore.evaluation.parsing import parse_with, parsers_for

CORPUS = Path(__file__).parent / "corpus" / "evaluations"
ANSWERS = sorted(CORPUS.glob("*.txt"))


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    store = tmp_path_factory.mktemp("store") / "d.db"
    return parsers_for(DreamCore({"store": {"url": f"sqlite:///{store}"}}))


def test_the_corpus_is_large_and_every_answer_has_a_sidecar():
    assert len(ANSWERS) >= 40
    assert all(answer.with_suffix(".json").exists() for answer in ANSWERS)


@pytest.mark.parametrize("answer", ANSWERS, ids=[answer.stem for answer in ANSWERS])
def test_answer_is_read_as_expected(chain, answer):
    expected = json.loads(answer.with_suffix(".json").read_text())
    result = parse_with(chain, answer.read_text(encoding="utf-8", errors="strict"))

    read = {evaluation.id: evaluation for evaluation in result.evaluations}
    assert sorted(read) == sorted(item["id"] for item in expected["evaluations"])
    for item in expected["evaluations"]:
        evaluation = read[item["id"]]
        assert evaluation.viability_score == item["viability_score"], item["id"]
        assert evaluation.tier == item["tier"], item["id"]
        assert item.get("reasoning_contains", "") in evaluation.reasoning, item["id"]
        if "flags" in item:
            assert sorted(evaluation.flags) == sorted(item["flags"]), item["id"]
    if not expected["unparsed_mentions"]:
        assert result.unparsed == []
    for mention in expected["unparsed_mentions"]:
        assert any(mention in fragment for fragment in result.unparsed), mention
