"""Parser ``json``: evaluations written as JSON, wherever they sit in the answer.

Every ``{`` followed by a quoted key starts a candidate object, in a fenced block or bare in prose,
so fenced blocks, arrays of objects, JSON lines and objects inside prose are all found the same
way. A decoded object is walked: an object with a score, tier or reasoning key, or whose id key
holds a dream reference (``"D-12"``), is one evaluation (read, or reported unparsed when it lacks an
id or a score); others are searched inside (``{"evaluations": [...]}``); an object keyed by dream ids (``{"D-12": {...}}``)
gives each value the key as its id. Keys are matched case-insensitively, ignoring ``_``, ``-`` and
spaces, against configurable aliases. Scores may be numbers or strings (``"85%"``, ``"0.85"``,
``"17/20"``); tiers numbers or strings (``"Tier 2"``, ``"speculative"``).

Linear time: a candidate is decoded from a window of the text that grows only when the object is
cut off by it, and all decoding is charged to a budget proportional to the text's length (with a
minimum charge per attempt; nesting too deep to decode is charged as the whole rest of the text).
When the budget runs out, or ``max_evaluations`` were read, the parser stops and reports the rest
of the text as one unparsed fragment, so a hostile answer cannot make it slow.
"""

from __future__ import annotations

import json
import re
from typing import Any

import attrs

from dreamcore import hookimpl
from dreamcore.evaluation.parsing import (
    BandOptions,
    at_least_one,
    clean_id,
    fragment,
    is_dream_reference,
    make_evaluation,
    read_score,
    read_tier,
)
from dreamcore.evaluation.verdicts import Evaluation, ParseResult

_CANDIDATE = re.compile(r'\{(?=[ \t\r\n]{0,64}")')
_QUOTED_KEY = re.compile(r'"([^"\\\n]{1,40})"[ \t]{0,8}:')
_KEY_NOISE = re.compile(r"[\s_-]+")
FIRST_WINDOW = 8192
MIN_CHARGE = 1024
BUDGET_PER_CHAR = 2
BUDGET_FLOOR = 1_000_000
MAX_DEPTH = 32
MAX_INT_DIGITS = 100


def _aliases(help_text: str, default: list[str]) -> Any:
    return attrs.field(factory=lambda: list(default), metadata={"help": help_text})


@attrs.define(kw_only=True)
class JsonParserConfig(BandOptions):
    """Options of the ``json`` parser: the key names it accepts, and the tier bands."""

    id_keys: list[str] = _aliases("keys naming the dream (case, _ and - ignored)", ["id", "dream", "dream_id", "name"])
    score_keys: list[str] = _aliases(
        "keys holding the viability score", ["viability", "score", "viability_score", "confidence"]
    )
    tier_keys: list[str] = _aliases("keys holding the tier", ["tier", "category"])
    reasoning_keys: list[str] = _aliases(
        "keys holding the reasoning", ["reasoning", "reason", "explanation", "rationale"]
    )
    max_evaluations: int = attrs.field(
        default=1000,
        validator=lambda instance, attribute, value: at_least_one(attribute.name, value),
        metadata={"help": "evaluations read from one answer at most; the rest is reported unparsed"},
    )


class JsonParser:
    """Reads evaluations from JSON objects anywhere in the text."""

    name = "json"
    Config = JsonParserConfig

    def __init__(self, config: JsonParserConfig | None = None) -> None:
        self.config = config or JsonParserConfig()
        self._bands = self.config.bands()
        self._keys = {
            role: [_normal_key(key) for key in getattr(self.config, f"{role}_keys")]
            for role in ("id", "score", "tier", "reasoning")
        }
        self.evaluation_keys = set(self._keys["id"] + self._keys["score"])
        self.decoder = json.JSONDecoder(strict=False, parse_int=_bounded_int, parse_constant=lambda name: None)

    def parse(self, text: str) -> ParseResult:
        """Every evaluation in ``text`` written as JSON; never raises."""
        return _Scan(self, text).run()

    def read(self, value: Any, found: list[Evaluation], unparsed: list[str], hint: str | None, depth: int) -> None:
        """Collect the evaluations in a decoded JSON value (see the module docstring)."""
        if depth > MAX_DEPTH:
            return
        if isinstance(value, list):
            for item in value:
                self.read(item, found, unparsed, None, depth + 1)
        elif isinstance(value, dict):
            roles = self._roles(value)
            if "score" in roles or "tier" in roles or "reasoning" in roles or _names_a_dream(roles.get("id")):
                self._read_one(value, roles, hint, found, unparsed)
                return
            for key, item in value.items():
                self.read(item, found, unparsed, key if is_dream_reference(key) else None, depth + 1)

    def _roles(self, record: dict[str, Any]) -> dict[str, Any]:
        by_key: dict[str, Any] = {}
        for key, value in record.items():
            by_key.setdefault(_normal_key(key), value)
        roles = {}
        for role, keys in self._keys.items():
            present = [key for key in keys if key in by_key]
            if present:
                roles[role] = by_key[present[0]]
        return roles

    def _read_one(
        self, record: dict, roles: dict[str, Any], hint: str | None, found: list[Evaluation], unparsed: list[str]
    ) -> None:
        dream_id = clean_id(roles.get("id", hint))
        score = read_score(roles.get("score"))
        if dream_id is None or score is None:
            unparsed.append(fragment(json.dumps(record, ensure_ascii=False, default=str)))
            return
        reasoning = roles.get("reasoning")
        reasoning = reasoning.strip() if isinstance(reasoning, str) else ""
        found.append(make_evaluation(dream_id, score, read_tier(roles.get("tier")), reasoning, self._bands))


class _Scan:
    """One pass over a text: candidates in order, each decoded once, within a work budget."""

    def __init__(self, parser: JsonParser, text: str) -> None:
        self.parser = parser
        self.text = text
        self.budget = BUDGET_PER_CHAR * len(text) + BUDGET_FLOOR
        self.found: list[Evaluation] = []
        self.unparsed: list[str] = []
        self.failed_at: dict[int, int] = {}  # error position -> index in unparsed of its fragment

    def run(self) -> ParseResult:
        position = 0
        while (match := _CANDIDATE.search(self.text, position)) is not None:
            if self.budget <= 0 or len(self.found) >= self.parser.config.max_evaluations:
                self.unparsed.append(fragment(f"(json parser stopped: work limit) {self.text[match.start():]}"))
                break
            position = self._attempt(match.start())
        return ParseResult(evaluations=self.found, unparsed=self.unparsed)

    def _attempt(self, start: int) -> int:
        """Decode the candidate at ``start``; returns where to look for the next candidate."""
        window = FIRST_WINDOW
        while True:
            doc = self.text[start : start + window]
            truncated = start + window < len(self.text)
            try:
                value, end = self.parser.decoder.raw_decode(doc)
            except json.JSONDecodeError as exc:
                if truncated and _maybe_cut_off(exc, window):
                    self.budget -= window
                    window *= 4
                    continue
                self.budget -= max(exc.pos, MIN_CHARGE)
                self._failed(start, exc.pos)
                return start + 1
            except RecursionError:  # nesting deeper than any answer's: charge as if it ran to the end
                self.budget -= max(len(self.text) - start, MIN_CHARGE)
                return start + 1
            except ValueError:  # a number too long to convert
                self.budget -= max(len(doc), MIN_CHARGE)
                return start + 1
            self.budget -= max(end, MIN_CHARGE)
            self.parser.read(value, self.found, self.unparsed, None, 0)
            return start + end

    def _failed(self, start: int, offset: int) -> None:
        """Report the broken candidate when it looks like an evaluation; the innermost candidate
        failing at a given point replaces the outer ones failing there."""
        error_at = start + offset
        piece = self.text[start : min(error_at + 40, start + 2000)]
        keys = {_normal_key(key) for key in _QUOTED_KEY.findall(piece)}
        if not keys & self.parser.evaluation_keys:
            return
        if error_at in self.failed_at:
            self.unparsed[self.failed_at[error_at]] = fragment(piece)
        else:
            self.failed_at[error_at] = len(self.unparsed)
            self.unparsed.append(fragment(piece))


def _maybe_cut_off(error: json.JSONDecodeError, window: int) -> bool:
    """Whether the decode error may come from the window's end rather than the text."""
    return error.pos >= window - 2 or error.msg.startswith("Unterminated string")


def _names_a_dream(value: Any) -> bool:
    return isinstance(value, str) and is_dream_reference(value)


def _normal_key(key: str) -> str:
    return _KEY_NOISE.sub("", key).casefold()


def _bounded_int(digits: str) -> int | float:
    """JSON integers, except absurdly long ones, which become floats (never a conversion error)."""
    return int(digits) if len(digits) <= MAX_INT_DIGITS else float(digits)


@hookimpl
def register_parsers(register):
    register(JsonParser)
