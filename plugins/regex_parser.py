"""Parser ``regex``: evaluations written as text — lists, headings, bullets, tables, prose.

An *entry* starts where a dream reference (``Dream 12``, ``D-12``) opens a line (after list,
heading, table or emphasis markup, or ``"id": "``), opens a sentence (optionally after a lead-in
such as "For" or "I'd rate"), or follows a comma, semicolon or a short phrase at a sentence start
once the current entry already has its score (``D-1 0.8, D-2 0.4``). A mention in the middle of
a sentence ("similar to D-12") starts nothing. An entry ends at the next entry, heading,
horizontal rule or table. Inside it:

* the score is the first labelled one (``Viability: 0.85``, ``score of 85%``), else the first
  number that can only be a score (``0.85``, ``85%``, ``85 percent``, ``8.5/10``, ``17/20``,
  ``0.7 out of 1``, within [0, 1]);
* the tier is the first labelled one (``Tier 1``, ``tier: speculative``, ``Verdict: archive``), else
  a tier word set off by punctuation or bold (``— speculative``, ``(viable)``, ``**Archive**``);
* the reasoning is what follows a ``Reasoning:``-like label, else the entry's text without the
  labelled score and tier.

A markdown table whose header names an id column (``Dream``, ``ID``, ``#``) is read by column
(score, tier, reasoning columns by the same labels); other tables are read line by line.

Labels, lead-ins and the dream-reference pattern are options (regular expressions, matched without
case). The defaults run in linear time: bounded quantifiers, no nested repetition, every search
limited to its entry; at most ``max_entries`` entries are read (the rest is reported unparsed).
"""

from __future__ import annotations

import re
from typing import Any

import attrs

from dreamcore import hookimpl
from dreamcore.config import InvalidValue
from dreamcore.evaluation import ParseResult
from dreamcore.models import DreamTier
from dreamcore.parsing import (
    DREAM_ID,
    SCORE,
    TIER_WORD,
    BandOptions,
    Score,
    clean_id,
    compile_option,
    fragment,
    id_key,
    make_evaluation,
    read_score,
    read_tier,
    score_from_match,
    tier_word,
)

_SEP = r"[ \t*_\"'`:=|(\[\-–—]{0,8}"
_STOP = re.compile(r"^(?:#{1,6}[ \t]|[ \t]{0,3}(?:-{3,}|\*{3,}|_{3,})[ \t]*$)", re.MULTILINE)
_TABLE = re.compile(
    r"^[ \t]{0,3}\|(?P<header>[^\n]*)\n[ \t]{0,3}\|?(?P<rule>[ \t:|-]+)(?:\n|\Z)"
    r"(?P<rows>(?:[ \t]{0,3}\|[^\n]*(?:\n|\Z))*)",
    re.MULTILINE,
)
_ID_HEADER = re.compile(r"id|dream(?:[ _]?id)?|#|name|dream[ _]name", re.IGNORECASE)
_LONE_EMPHASIS = re.compile(r"(?<!\S)(?:\*\*|__)(?!\S)")
_CELL_MARKUP = " \t*_`"
_STRIP_HEAD = " \t\r\n:;,.)]}-–—*_|\"'"
_STRIP_TAIL = " \t\r\n*_|\"'({["
_UNLABELLED_SCORE = re.compile(
    r"(?<![\d.])(?:\d{1,6}(?:\.\d{1,15})?|\.\d{1,15})(?![\d])"
    r"(?=[ \t]{0,2}(?:%|percent\b|per[ \t]cent\b|pct\b|/)|[ \t]{1,3}out[ \t]{1,3}of[ \t])"
    r"|(?<![\d.])(?:0?\.\d{1,15}|1\.0{1,15})(?![\d])",
    re.IGNORECASE,
)
_UNLABELLED_TIER = re.compile(
    rf"(?:[(\[—–:|/]|\*\*|[ \t]-|=>|→)[ \t]{{0,3}}(?:\*\*)?[ \t]{{0,2}}(?P<word>{TIER_WORD})(?![\w])",
    re.IGNORECASE,
)
_SCORE = re.compile(SCORE, re.IGNORECASE)
MAX_UNLABELLED_TRIES = 20
SCANS_PER_ENTRY = 20


def _pattern_option(default: str, help_text: str) -> Any:
    return attrs.field(
        default=default,
        validator=lambda instance, attribute, value: compile_option(attribute.name, value),
        metadata={"help": help_text},
    )


@attrs.define(kw_only=True)
class RegexParserConfig(BandOptions):
    """Options of the ``regex`` parser: what its patterns recognise, limits, and the tier bands."""

    id_pattern: str = _pattern_option(
        DREAM_ID, "regular expression of a dream reference (no named groups); matched without case"
    )
    lead_in_pattern: str = _pattern_option(
        r"for|as[ \t]for|regarding|looking[ \t]at|next(?:[ \t]up)?|then|finally|lastly|and|now|also"
        r"|i(?:'d|’d|[ \t]would)[ \t](?:rate|score|give|put|place)|(?:rating|score)[ \t]for|evaluating",
        "words that may come before a dream reference opening a sentence (\"For D-3\", \"I'd rate D-3\")",
    )
    score_label_pattern: str = _pattern_option(
        r"viability(?:[ \t_]score)?|score|rating|confidence",
        "labels announcing a score (\"Viability: 0.85\")",
    )
    tier_label_pattern: str = _pattern_option(
        r"tier|category|verdict|classification|bucket", "labels announcing a tier (\"Tier: 2\")"
    )
    reasoning_label_pattern: str = _pattern_option(
        r"reasoning|reason|rationale|explanation|justification|why|notes?",
        "labels announcing the reasoning (\"Reasoning: ...\")",
    )
    max_entries: int = attrs.field(
        default=1000,
        validator=lambda instance, attribute, value: _at_least_one(attribute.name, value),
        metadata={"help": "dream entries read from one answer at most; the rest is reported unparsed"},
    )
    max_reasoning_chars: int = attrs.field(
        default=4000,
        validator=lambda instance, attribute, value: _at_least_one(attribute.name, value),
        metadata={"help": "reasoning longer than this is cut (with an ellipsis)"},
    )


def _at_least_one(name: str, value: int) -> None:
    if value < 1:
        raise InvalidValue(name, f"must be at least 1, got {value}")


@attrs.define
class _Read:
    """One entry or table row as read: where it is, whom it names, what it says."""

    position: int
    dream_id: str
    score: Score | None
    tier: DreamTier | None
    reasoning: str
    text: str


@attrs.define
class _Entry:
    """An entry being delimited: its reference and where its body starts."""

    match: re.Match[str]
    checked: int  # the body is known to hold no score before this position
    scored: bool = False


class RegexParser:
    """Reads evaluations written as lists, headings, bullets, tables and prose."""

    name = "regex"
    Config = RegexParserConfig

    def __init__(self, config: RegexParserConfig | None = None) -> None:
        self.config = config or RegexParserConfig()
        self._bands = self.config.bands()
        options = self.config
        dream_id = f"(?P<id>(?:{options.id_pattern}))"
        strong = (
            r"(?:^[ \t>]*|(?<=[.!?:])[ \t]+)(?:#{1,6}[ \t]+)?(?:(?:[-*+•]|\d{1,3}[.)])[ \t]+)?(?:\|[ \t]*)?"
            r"(?:[*_`\[{\"']{1,4}[ \t]{0,3})?(?:(?:id|dream[ _]?id)[\"']?[ \t]{0,3}[:=][ \t]{0,3}[\"']?)?"
            rf"(?:(?:{options.lead_in_pattern})[ \t,:]{{1,3}})?"
        )
        weak = r"(?P<weak>[,;][ \t]{1,3}(?:and[ \t]{1,3})?|(?<=[.!?])[ \t]{1,3}(?:[a-z'’]{1,20}[ \t]{1,3}){1,4})"
        self._start = compile_option("id_pattern", f"(?:{strong}|{weak}){dream_id}", re.IGNORECASE | re.MULTILINE)
        self._labels = {
            role: compile_option(f"{role}_label_pattern", getattr(options, f"{role}_label_pattern"))
            for role in ("score", "tier", "reasoning")
        }
        labels = {role: rf"(?<![a-z])(?:{getattr(options, f'{role}_label_pattern')})(?![a-z])" for role in self._labels}
        self._score = compile_option(
            "score_label_pattern",
            rf"{labels['score']}{_SEP}(?:(?:of|is|at|around|about|~)[ \t]{{1,3}})?{SCORE}",
        )
        self._tier = compile_option(
            "tier_label_pattern", rf"{labels['tier']}{_SEP}(?P<word>[123]|one|two|three|{TIER_WORD})(?!\w|\.\d)"
        )
        self._reasoning = compile_option(
            "reasoning_label_pattern", rf"{labels['reasoning']}[ \t*_\"'`]{{0,4}}[:=\-–—][ \t*_\"'`]{{0,4}}"
        )

    def parse(self, text: str) -> ParseResult:
        """Every evaluation written as text in ``text``; never raises."""
        reads: list[_Read] = []
        unparsed: list[str] = []
        tables = self._tables(text, reads, unparsed)
        self._entries(text, tables, reads, unparsed)
        return self._merge(reads, unparsed)

    # --- tables -------------------------------------------------------------------------------

    def _tables(self, text: str, reads: list[_Read], unparsed: list[str]) -> list[tuple[int, int]]:
        """Read the tables that have an id column; returns their spans (skipped by the entry scan)."""
        spans = []
        for match in _TABLE.finditer(text):
            if "---" not in match["rule"]:
                continue
            columns = self._columns(_cells(match["header"]))
            if "id" not in columns:
                continue
            spans.append(match.span())
            position = match.start("rows")
            for line in match["rows"].splitlines(keepends=True):
                if len(reads) >= self.config.max_entries:
                    unparsed.append(fragment(f"(regex parser stopped: more than {len(reads)} entries) {line}"))
                    return spans
                row = self._row(_cells(line), columns, position, line)
                if row is not None:
                    reads.append(row)
                position += len(line)
        return spans

    def _columns(self, header: list[str]) -> dict[str, int]:
        columns: dict[str, int] = {}
        for index, cell in enumerate(header):
            name = cell.strip(_CELL_MARKUP)
            if _ID_HEADER.fullmatch(name):
                columns.setdefault("id", index)
            for role, label in self._labels.items():
                if label.fullmatch(name):
                    columns.setdefault(role, index)
        return columns

    def _row(self, cells: list[str], columns: dict[str, int], position: int, line: str) -> _Read | None:
        def cell(role: str) -> str:
            index = columns.get(role)
            return cells[index].strip(_CELL_MARKUP) if index is not None and index < len(cells) else ""

        if not any(c.strip(_CELL_MARKUP) for c in cells):
            return None
        used = set(columns.values())
        reasoning = cell("reasoning") or "; ".join(
            c.strip() for i, c in enumerate(cells) if i not in used and c.strip()
        )
        return _Read(
            position,
            clean_id(cell("id")) or "",
            read_score(cell("score")) if "score" in columns else None,
            read_tier(cell("tier")),
            self._cut(reasoning),
            line,
        )

    # --- entries ------------------------------------------------------------------------------

    def _entries(self, text: str, tables: list[tuple[int, int]], reads: list[_Read], unparsed: list[str]) -> None:
        """Delimit the entries (see the module docstring) and read each."""
        table_index = 0
        current: _Entry | None = None
        scans = 0
        for match in self._start.finditer(text):
            scans += 1
            if scans > SCANS_PER_ENTRY * self.config.max_entries or len(reads) >= self.config.max_entries:
                unparsed.append(fragment(f"(regex parser stopped: too many entries) {text[match.start():]}"))
                return
            while table_index < len(tables) and tables[table_index][1] <= match.start():
                table_index += 1
            if table_index < len(tables) and tables[table_index][0] <= match.start():
                continue
            if match["weak"] is not None and not (current and self._has_score(text, current, match.start())):
                continue
            if current and id_key(match["id"]) == id_key(current.match["id"]):
                continue
            if current:
                reads.append(self._read(text, current.match, self._end(text, current, match.start(), tables)))
            current = _Entry(match, match.end())
        if current:
            reads.append(self._read(text, current.match, self._end(text, current, len(text), tables)))

    def _has_score(self, text: str, entry: _Entry, before: int) -> bool:
        """Whether the entry's body holds a score before ``before`` (each stretch searched once)."""
        if not entry.scored and entry.checked < before:
            start = max(entry.match.end(), entry.checked - 40)
            entry.scored = bool(self._score.search(text, start, before) or _UNLABELLED_SCORE.search(text, start, before))
            entry.checked = before
        return entry.scored

    def _end(self, text: str, entry: _Entry, limit: int, tables: list[tuple[int, int]]) -> int:
        """Where the entry's body ends: ``limit``, or an earlier heading, rule or table."""
        stop = _STOP.search(text, entry.match.end(), limit)
        end = stop.start() if stop else limit
        for start, _ in tables:
            if entry.match.end() <= start < end:
                return start
        return end

    def _read(self, text: str, match: re.Match[str], end: int) -> _Read:
        body = match.end()
        score_match = self._score.search(text, body, end)
        score = score_from_match(score_match) if score_match else self._unlabelled_score(text, body, end)
        tier_match = self._tier.search(text, body, end)
        if tier_match:
            tier = tier_word(tier_match["word"])
        else:
            unlabelled = _UNLABELLED_TIER.search(text, body, end)
            tier = tier_word(unlabelled["word"]) if unlabelled else None
        reasoning_match = self._reasoning.search(text, body, end)
        if reasoning_match:
            reasoning = text[reasoning_match.end() : end]
        else:
            labelled = sorted(m.span() for m in (score_match, tier_match) if m)
            pieces, position = [], body
            for start, stop in labelled:
                pieces.append(text[position:start])
                position = stop
            reasoning = " ".join([*pieces, text[position:end]])
        return _Read(match.start("id"), match["id"], score, tier, self._cut(reasoning), text[match.start("id") : end])

    def _unlabelled_score(self, text: str, start: int, end: int) -> Score | None:
        for tries, match in enumerate(_UNLABELLED_SCORE.finditer(text, start, end)):
            if tries >= MAX_UNLABELLED_TRIES:
                break
            if "tier" in text[max(start, match.start() - 8) : match.start()].lower():
                continue
            score_match = _SCORE.match(text, match.start(), end)
            score = score_from_match(score_match) if score_match else None
            if score is not None and not score.flags:
                return score
        return None

    def _cut(self, reasoning: str) -> str:
        text = " ".join(_LONE_EMPHASIS.sub(" ", reasoning).split()).lstrip(_STRIP_HEAD).rstrip(_STRIP_TAIL)
        limit = self.config.max_reasoning_chars
        return text if len(text) <= limit else text[: limit - 1] + "…"

    # --- results ------------------------------------------------------------------------------

    def _merge(self, reads: list[_Read], unparsed: list[str]) -> ParseResult:
        """Per dream, the first read with a score; reads of dreams never scored are unparsed."""
        reads.sort(key=lambda read: read.position)
        chosen: dict[str, _Read] = {}
        for read in reads:
            if read.dream_id and read.score is not None:
                chosen.setdefault(id_key(read.dream_id), read)
        for read in reads:
            if not read.dream_id or read.score is None and id_key(read.dream_id) not in chosen:
                unparsed.append(fragment(read.text))
        evaluations = [
            make_evaluation(read.dream_id, read.score, read.tier, read.reasoning, self._bands)
            for read in chosen.values()
        ]
        return ParseResult(evaluations=evaluations, unparsed=unparsed)


def _cells(line: str) -> list[str]:
    return line.strip().strip("|").split("|")


@hookimpl
def register_parsers(register):
    register(RegexParser)
