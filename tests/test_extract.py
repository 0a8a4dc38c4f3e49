"""Code extraction from model answers: fences, JSON, prose; never raises, whatever the text."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from dreamcore.generation.extract import MAX_BLOCKS, extract_code

FUNCTION = "def add(a, b):\n    return a + b\n"


def test_fenced_blocks_with_labels_before_them():
    text = (
        "### Variant 1\nDescription: adds.\nReasoning: simpler.\n```python\n" + FUNCTION + "```\n\n"
        "### Variant 2\n**Description:** other\n**Reasoning:** because\n~~~py\ndef add(a, b):\n    return b + a\n~~~\n"
    )
    found = extract_code(text, "add")
    assert [f.code for f in found] == [FUNCTION, "def add(a, b):\n    return b + a\n"]
    assert (found[0].description, found[0].reasoning) == ("adds.", "simpler.")
    assert (found[1].description, found[1].reasoning) == ("other", "because")


def test_prose_before_an_unlabelled_block_becomes_description_and_reasoning():
    found = extract_code("Swap the operands.\nIt is commutative.\n```\n" + FUNCTION + "```", "add")
    assert found[0].description == "Swap the operands."
    assert found[0].reasoning == "Swap the operands. It is commutative."


def test_labels_after_the_block_are_used_when_none_come_before():
    found = extract_code("```python\n" + FUNCTION + "```\nDescription: d\nReasoning: r\n", "add")
    assert (found[0].description, found[0].reasoning) == ("d", "r")


def test_a_truncated_answer_keeps_its_unclosed_last_block():
    found = extract_code("Description: d\nReasoning: r\n```python\ndef add(a, b):\n    return a +", "add")
    assert found[0].code == "def add(a, b):\n    return a +\n"  # the checker will reject it as syntax


def test_longer_fences_hold_shorter_ones():
    code = 'def add(a, b):\n    """```"""\n    return a + b\n'
    assert extract_code("````python\n" + code + "````", "add")[0].code == code


def test_json_array_object_and_nested_fences():
    array = json.dumps([{"code": FUNCTION, "description": "d", "reasoning": "r"}])
    assert extract_code(array, "add")[0].description == "d"
    nested = json.dumps({"variants": [{"function": "```python\n" + FUNCTION + "```", "rationale": "why"}]})
    found = extract_code("Here you go:\n" + nested + "\nthanks", "add")
    assert found[0].code == FUNCTION and found[0].reasoning == "why"
    fenced_json = "```json\n" + json.dumps({"code": FUNCTION, "summary": "s"}) + "\n```"
    assert extract_code(fenced_json, "add")[0].description == "s"


def test_bare_code_in_prose():
    text = "Sure. Here is a faster one:\n\n@cache\ndef add(a, b):\n    return a + b\n\n    # tail\nDone."
    found = extract_code(text, "add")
    assert found[0].code.startswith("@cache\ndef add(a, b):") and "Done" not in found[0].code
    assert found[0].description == "Sure. Here is a faster one:"


def test_blocks_defining_the_target_are_preferred_and_code_without_def_is_ignored():
    text = "```python\nprint(add(1, 2))\n```\n```python\ndef helper():\n    pass\n```\n```python\n" + FUNCTION + "```"
    assert [f.code for f in extract_code(text, "add")] == [FUNCTION]
    assert [f.code for f in extract_code(text, "other")] == ["def helper():\n    pass\n", FUNCTION]
    assert extract_code("no code at all", "add") == []
    assert extract_code("```python\nx = 1\n```", "add") == []


def test_block_count_is_bounded():
    text = ("```python\n" + FUNCTION + "```\n") * (MAX_BLOCKS + 20)
    assert len(extract_code(text, "add")) == MAX_BLOCKS


_pieces = st.sampled_from(["```", "```python", "~~~", "````", "{", "}", "[", "]", '"code":', "def add(a, b):",
                           "    return a", "Description:", "Reasoning:", "@x", "async def add(", "\n", "\r\n",
                           " ", "`", '"', "\\", "\t", "json"])


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(), st.lists(st.one_of(_pieces, st.text(max_size=5))).map("".join),
                 st.recursive(st.none() | st.booleans() | st.integers() | st.text(),
                              lambda inner: st.lists(inner) | st.dictionaries(st.sampled_from(
                                  ["code", "description", "reasoning", "variants", "x"]), inner),
                              max_leaves=20).map(json.dumps)))
def test_extraction_never_raises_and_returns_code_with_a_def(text):
    found = extract_code(text, "add")
    assert len(found) <= MAX_BLOCKS
    for item in found:
        assert "def " in item.code and item.code.endswith("\n")
        assert isinstance(item.description, str) and isinstance(item.reasoning, str)


@given(st.one_of(st.none(), st.integers(), st.binary()))
def test_non_text_gives_nothing(value):
    assert extract_code(value, "add") == []
