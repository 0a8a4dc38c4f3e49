"""Code out of a model's answer: markdown fences, JSON, or bare ``def`` blocks in prose.

:func:`extract_code` never raises and reads each line a bounded number of times, whatever the text.
It only finds text that looks like code; whether that code parses, defines the right function and is
safe is the draft checker's job (``dreamcore.generation.drafts``). Nothing here executes anything.
"""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Iterator
from typing import Any

import attrs

MAX_CHARS = 200_000  # longer answers are cut: no model call is asked for that much
MAX_BLOCKS = 100
_FENCE = re.compile(r"^[ \t]{0,3}(`{3,}|~{3,})[ \t]*([\w+.#-]*)")
_LABEL = re.compile(r"^[\s>*_#-]*(description|summary|change|reasoning|rationale|why)\b[\s*_]*[:：][\s*_]*(.*)$",
                    re.IGNORECASE)
_DEF = re.compile(r"^(?:async[ \t]+)?def[ \t]+(\w+)[ \t]*\(")
_CODE_KEYS = ("code", "function", "source", "implementation")
_DESCRIPTION_KEYS = ("description", "summary", "change", "title")
_REASONING_KEYS = ("reasoning", "rationale", "why", "explanation")


@attrs.frozen
class ExtractedCode:
    """One piece of code found in an answer, with what the answer said about it (may be empty)."""

    code: str
    description: str = ""
    reasoning: str = ""


def extract_code(text: Any, name: str | None = None) -> list[ExtractedCode]:
    """Every code block of ``text`` that defines a function, in order (at most MAX_BLOCKS). With
    ``name``, blocks defining ``name`` are preferred: when some do, only those are returned."""
    if not isinstance(text, str) or not text.strip():
        return []
    text = text[:MAX_CHARS].replace("\r\n", "\n")
    found = _from_json(text) or _from_fences(text) or _from_prose(text)
    found = [item for item in found if _defines(item.code, None)][:MAX_BLOCKS]
    if name:
        named = [item for item in found if _defines(item.code, name)]
        found = named or found
    return found


def _defines(code: str, name: str | None) -> bool:
    for line in code.splitlines():
        match = _DEF.match(line.lstrip())
        if match and (name is None or match.group(1) == name):
            return True
    return False


# -- JSON --------------------------------------------------------------------------------------


def _from_json(text: str) -> list[ExtractedCode]:
    for candidate in _json_candidates(text):
        try:
            data = json.loads(candidate)
        except (ValueError, RecursionError):
            continue
        items = list(_json_items(data, depth=0))
        if items:
            return items
    return []


def _json_candidates(text: str) -> Iterator[str]:
    stripped = text.strip()
    yield stripped
    for _, _, body, _ in _fenced_blocks(text):
        if body.lstrip()[:1] in ("{", "["):
            yield body
    for opening, closing in (("[", "]"), ("{", "}")):
        start, end = text.find(opening), text.rfind(closing)
        if 0 <= start < end:
            yield text[start : end + 1]


def _json_items(data: Any, depth: int) -> Iterator[ExtractedCode]:
    if depth > 4:
        return
    if isinstance(data, list):
        for item in data[:MAX_BLOCKS]:
            yield from _json_items(item, depth + 1)
    elif isinstance(data, str):
        yield ExtractedCode(code=_clean(data))
    elif isinstance(data, dict):
        code = _first_text(data, _CODE_KEYS)
        if code:
            yield ExtractedCode(
                code=_clean(_unfence(code)),
                description=_first_text(data, _DESCRIPTION_KEYS).strip(),
                reasoning=_first_text(data, _REASONING_KEYS).strip(),
            )
            return
        for value in list(data.values())[:MAX_BLOCKS]:
            if isinstance(value, list | dict):
                yield from _json_items(value, depth + 1)


def _first_text(data: dict, keys: tuple[str, ...]) -> str:
    for key in keys:
        value = data.get(key)
        if isinstance(value, str) and value.strip():
            return value
    return ""


def _unfence(code: str) -> str:
    """A JSON string that itself holds a fenced block: its body."""
    blocks = list(_fenced_blocks(code))
    return blocks[0][2] if blocks else code


# -- fences ------------------------------------------------------------------------------------


def _fenced_blocks(text: str) -> Iterator[tuple[int, int, str, str]]:
    """(first line, line after the block, body, language) of each fenced block; an unclosed last block
    (a truncated answer) runs to the end."""
    lines = text.split("\n")
    index = 0
    while index < len(lines):
        match = _FENCE.match(lines[index])
        if not match:
            index += 1
            continue
        fence, language = match.group(1), match.group(2).lower()
        end = index + 1
        while end < len(lines):
            closing = lines[end].strip()
            if closing.startswith(fence[0] * len(fence)) and not closing.strip(fence[0]):
                break
            end += 1
        yield index, min(end + 1, len(lines)), "\n".join(lines[index + 1 : end]), language
        index = end + 1


def _from_fences(text: str) -> list[ExtractedCode]:
    lines = text.split("\n")
    blocks = list(_fenced_blocks(text))
    found = []
    for position, (start, after, body, _) in enumerate(blocks):
        previous_end = blocks[position - 1][1] if position else 0
        next_start = blocks[position + 1][0] if position + 1 < len(blocks) else len(lines)
        before = lines[previous_end:start]
        description, reasoning = _notes(before, lines[after:next_start])
        found.append(ExtractedCode(code=_clean(body), description=description, reasoning=reasoning))
    return found


# -- bare code in prose --------------------------------------------------------------------------


def _from_prose(text: str) -> list[ExtractedCode]:
    lines = text.split("\n")
    found = []
    index, previous_end = 0, 0
    while index < len(lines):
        stripped = lines[index].lstrip()
        if not (_DEF.match(stripped) or stripped.startswith("@")) or lines[index][:1].isspace():
            index += 1
            continue
        start = index
        while index < len(lines) and lines[index].lstrip().startswith("@"):
            index += 1
        if index >= len(lines) or not _DEF.match(lines[index]):
            index = start + 1
            continue
        index += 1
        while index < len(lines) and (not lines[index].strip() or lines[index][:1].isspace()):
            index += 1
        description, reasoning = _notes(lines[previous_end:start], [])
        found.append(ExtractedCode(code=_clean("\n".join(lines[start:index])), description=description,
                                   reasoning=reasoning))
        previous_end = index
    return found


# -- notes around a block ------------------------------------------------------------------------


def _notes(before: list[str], after: list[str]) -> tuple[str, str]:
    """(description, reasoning) from ``Description:``/``Reasoning:`` labels before the block (else
    after it), or else from the prose just before it: first line, then all of it."""
    for lines in (before, after):
        labelled = _labelled(lines)
        if any(labelled):
            return labelled
    prose = [line.strip().lstrip("#>*- ").strip() for line in before if line.strip()]
    prose = [line for line in prose if line][-6:]
    if not prose:
        return "", ""
    return prose[0], " ".join(prose)


def _labelled(lines: list[str]) -> tuple[str, str]:
    fields = {"description": "", "reasoning": ""}
    current = None
    for line in lines:
        match = _LABEL.match(line)
        if match:
            label = match.group(1).lower()
            current = "description" if label in ("description", "summary", "change") else "reasoning"
            fields[current] = match.group(2).strip(" *_")
        elif current and line.strip() and not _FENCE.match(line):
            fields[current] = f"{fields[current]} {line.strip()}".strip()
        elif not line.strip():
            current = None
    return fields["description"], fields["reasoning"]


def _clean(code: str) -> str:
    return textwrap.dedent(code.replace("\r\n", "\n")).strip("\n") + "\n"
