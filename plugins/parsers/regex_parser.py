"""Parser ``regex``: evaluations written as text — lists, headings, bullets, tables, prose.

An *entry* starts where a dream reference (``Dream 12``, ``D-12``) opens a line (after list,
heading, table or emphasis markup, or ``"id": "``), opens a sentence (optionally after a lead-in
such as "For" or "I'd rate"), or follows a comma, semicolon or a short phrase at a sentence start
when the current entry already has its score and a score follows on the same line
(``D-1 0.8, D-2 0.4``). A mention in the middle of
a sentence ("similar to D-12") starts nothing. An entry ends at the next entry, heading,
horizontal rule, JSON block or table; an entry whose score is on its first line ends with its
paragraph. Inside it:

* the score is the first labelled one (``Viability: 0.85``, ``score of 85%``), else the first
  number that can only be a score (``0.85``, ``85%``, ``85 percent``, ``8.5/10``, ``17/20``,
  ``0.7 out of 1``, within [0, 1]);
* the tier is the first labelled one (``Tier 1``, ``tier: speculative``, ``Verdict: archive``), else
  a tier word set off by punctuation or bold (``— speculative``, ``(viable)``, ``**Archive**``);
* the reasoning is what follows a ``Reasoning:``-like label, else the entry's text without the
  labelled score and tier.

Fenced code blocks in a language other than JSON (or plain text) are not read: ``score = 0.5``
in a Python sample is not a score. A markdown table whose header names an id column (``Dream``, ``ID``, ``#``) is read by column
(score, tier, reasoning columns by the same labels); other tables are read line by line.

Labels, lead-ins and the dream-reference pattern are options: regular expressions matched against
the answer with its ASCII letters lowercased (so write them in lowercase). Work is bounded: the
whole text is scanned once for dream references (a pattern starting with a literal, which the regex
engine skips to quickly); everything else looks at a bounded window — the few characters before a
reference, and an entry's first ``max_entry_chars`` characters for its score, tier and labels. At
most ``max_entries`` entries are read and ``3 * max_entries`` references examined; the rest of
the text is then reported as one unparsed fragment.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator
from typing import Any

import attrs

from dreamcore import hookimpl
from dreamcore.evaluation.parsing import (
    DREAM_REFERENCE,
    SCORE,
    TIER_WORD,
    BandOptions,
    Score,
    ascii_lower,
    at_least_one,
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
from dreamcore.evaluation.verdicts import ParseResult
from dreamcore.models import DreamTier

_SEP = r"[ \t*_\"'`:=|(\[\-–—>]{0,8}"
_MARKUP = r"(?:#{1,6}[ \t]+)?(?:(?:[-*+•]|\d{1,3}[.)])[ \t]+)?(?:\|[ \t]*)?(?:[*_`\[{\"'<]{1,4}[ \t]{0,3})?"
_JSON_KEY = r"(?:(?:[a-z_]{1,20}[ \t]{1,3})?(?:id|dream[ _]?id)[\"']?[ \t]{0,3}[:=][ \t]{0,3}[\"']?)?"
_HEADING = re.compile(r"[ \t]{0,3}#{1,6}[ \t]")
_EMPTY_BRACKETS = re.compile(r"[(\[][ \t|,;:/-]*+[)\]]")
_SPACE_BEFORE_STOP = re.compile(r" ++(?=[.,;:!?])")
_STOPS_IN_A_ROW = re.compile(r"[.,;:]++(?<=([.,;:]))")  # replaced by its last stop
_CLOSING_TAG = re.compile(r"</[a-z_-]{1,30}>", re.IGNORECASE)
_AFTER_COMMA = re.compile(r"[,;][ \t]{1,3}(?:and[ \t]{1,3})?\Z")
_FEW_WORDS_IN = re.compile(r"[.!?][ \t]{1,3}(?:[a-z'’]{1,20}[ \t]{1,3}){1,4}\Z")
_STOP = re.compile(
    r"\n(?:#{1,6}[ \t]|[ \t]{0,3}(?:-{3,}|\*{3,}|_{3,}|```(?:json\w{0,2})?)[ \t]*+\r?(?:\n|\Z))"
)
_PARAGRAPH_END = re.compile(r"\n[ \t]*+\r?\n")
_TABLE_RULE = re.compile(r"[ \t]{0,3}\|?[ \t]{0,3}:?-[-: \t|\r]*+")
_TABLE_ROWS = re.compile(r"(?:[ \t]{0,3}\|[^\n]*+(?:\n|\Z))*+")
_ID_HEADER = re.compile(r"id|dream(?:[ _]?id)?|#|name|dream[ _]name")
_LONE_EMPHASIS = re.compile(r"(?<!\S)(?:\*\*|__)(?!\S)")
_FENCE = re.compile(r"```[ \t]{0,8}+(?P<info>[\w+.#-]{0,30}+)")
_DATA_FENCES = {"", "json", "jsonl", "json5", "jsonc", "text", "txt", "markdown", "md"}
_CELL_MARKUP = " \t*_`"
_STRIP_HEAD = " \t\r\n:;,.)]}-–—→>*_|\"'"
_STRIP_TAIL = " \t\r\n*_|\"'({["
_UNLABELLED_SCORE = re.compile(
    r"(?:\d{1,6}(?:\.\d{1,20})?|\.\d{1,20})(?![\d])"
    r"(?=[ \t]{0,2}(?:%|percent\b|per[ \t]cent\b|pct\b|/)|[ \t]{1,3}out[ \t]{1,3}of[ \t])"
    r"|(?:0?\.\d{1,20}|1\.0{1,20}|\d\.?\d{0,20}e-\d{1,3})(?![\d])"
)
_UNLABELLED_TIER = re.compile(
    rf"(?:[(\[—–:|/]|\*\*|[ \t]-|=>|→)[ \t]{{0,3}}(?:\*\*)?[ \t]{{0,2}}(?P<word>{TIER_WORD})(?![\w])"
)
_SCORE = re.compile(SCORE, re.IGNORECASE)
LOOK_BACK = 200  # characters before a reference examined to classify it
MAX_TRIES = 20  # matches examined per field search before giving up
REFERENCES_PER_ENTRY = 3
WEAK_REACH = 200  # a reference opening an entry mid-line needs a score this close after it


def _pattern_option(default: str, help_text: str) -> Any:
    return attrs.field(
        default=default,
        validator=lambda instance, attribute, value: compile_option(attribute.name, value, 0),
        metadata={"help": help_text},
    )


def _count_option(default: int, help_text: str) -> Any:
    return attrs.field(
        default=default,
        validator=lambda instance, attribute, value: at_least_one(attribute.name, value),
        metadata={"help": help_text},
    )


@attrs.define(kw_only=True)
class RegexParserConfig(BandOptions):
    """Options of the ``regex`` parser: what its patterns recognise, limits, and the tier bands."""

    id_pattern: str = _pattern_option(
        DREAM_REFERENCE, "regular expression of a dream reference, in lowercase, without named groups"
    )
    lead_in_pattern: str = _pattern_option(
        r"for|as[ \t]for|regarding|looking[ \t]at|next(?:[ \t]up)?|then|finally|lastly|and|now|also"
        r"|i(?:'d|’d|[ \t]would)[ \t](?:rate|score|give|put|place)|(?:rating|score)[ \t]for|evaluating"
        r"|(?:evaluation|assessment|review|analysis)[ \t]of",
        "words that may come before a dream reference opening a sentence (\"for d-3\", \"i'd rate d-3\")",
    )
    score_label_pattern: str = _pattern_option(
        r"viability(?:[ \t_]score)?|score|rating|confidence", "labels announcing a score (\"viability: 0.85\")"
    )
    tier_label_pattern: str = _pattern_option(
        r"tier|category|verdict|classification|bucket", "labels announcing a tier (\"tier: 2\")"
    )
    reasoning_label_pattern: str = _pattern_option(
        r"reasoning|reason|rationale|explanation|justification|why|notes?",
        "labels announcing the reasoning (\"reasoning: ...\")",
    )
    max_entries: int = _count_option(1000, "dream entries read from one answer at most; the rest is reported unparsed")
    max_entry_chars: int = _count_option(
        4000, "an entry's score, tier and labels are looked for in this many characters after its reference"
    )
    max_reasoning_chars: int = _count_option(4000, "reasoning longer than this is cut (with an ellipsis)")


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
    """An entry being delimited: its reference and what is known of its score so far."""

    start: int  # where the reference starts
    body: int  # where the reference ends
    key: str
    checked: int  # the body holds no score before this position
    scored: bool = False


class RegexParser:
    """Reads evaluations written as lists, headings, bullets, tables and prose."""

    name = "regex"
    Config = RegexParserConfig

    def __init__(self, config: RegexParserConfig | None = None) -> None:
        self.config = options = config or RegexParserConfig()
        self._bands = options.bands()
        lead_in = rf"(?:(?:{options.lead_in_pattern})[ \t,:]{{1,3}})?"
        self._reference = compile_option("id_pattern", options.id_pattern, 0)
        self._line_start = compile_option("lead_in_pattern", rf"[ \t>]*{_MARKUP}{_JSON_KEY}{lead_in}", 0)
        self._sentence_start = compile_option("lead_in_pattern", rf"[.!?:][ \t]+{_MARKUP}{lead_in}\Z", 0)
        self._labels = {
            role: compile_option(f"{role}_label_pattern", getattr(options, f"{role}_label_pattern"), 0)
            for role in ("score", "tier", "reasoning")
        }
        labels = {role: rf"(?:{getattr(options, f'{role}_label_pattern')})(?![a-z])" for role in self._labels}
        self._score = compile_option(
            "score_label_pattern", rf"{labels['score']}{_SEP}(?:(?:of|is|at|around|about|~)[ \t]{{1,3}})?{SCORE}", 0
        )
        self._tier = compile_option(
            "tier_label_pattern", rf"{labels['tier']}{_SEP}(?P<word>[123]|one|two|three|{TIER_WORD})(?!\w|\.\d)", 0
        )
        self._reasoning = compile_option(
            "reasoning_label_pattern", rf"{labels['reasoning']}[ \t*_\"'`]{{0,4}}[:=\-–—>][ \t*_\"'`]{{0,4}}", 0
        )

    def parse(self, text: str) -> ParseResult:
        """Every evaluation written as text in ``text``; never raises."""
        lowered = _blank_code(ascii_lower(text), REFERENCES_PER_ENTRY * self.config.max_entries)
        reads: list[_Read] = []
        unparsed: list[str] = []
        tables = self._tables(text, lowered, reads, unparsed)
        self._entries(text, lowered, tables, reads, unparsed)
        return self._merge(reads, unparsed)

    # --- tables -------------------------------------------------------------------------------

    def _tables(self, text: str, lowered: str, reads: list[_Read], unparsed: list[str]) -> list[tuple[int, int]]:
        """Read the tables that have an id column; returns their spans (skipped by the entry scan).

        Only lines holding a ``|`` are looked at, each once, and at most ``3 * max_entries`` of
        them: past that, table rows are read as ordinary entries."""
        spans: list[tuple[int, int]] = []
        position = 0
        for _ in range(REFERENCES_PER_ENTRY * self.config.max_entries):
            bar = lowered.find("|", position)
            if bar < 0:
                break
            line = lowered.rfind("\n", position, bar) + 1 or position
            line_end = _line_end(lowered, bar)
            position = line_end + 1
            if not line or not _TABLE_RULE.fullmatch(lowered, line, line_end):
                continue
            header = lowered.rfind("\n", 0, line - 1) + 1
            columns = self._columns(_cells(lowered[header : line - 1]))
            if "id" not in columns or (spans and header < spans[-1][1]):
                continue
            rows = _TABLE_ROWS.match(text, position)
            spans.append((header, rows.end()))
            position = rows.end()
            for count, (row_start, row) in enumerate(_lines(text, rows.start(), rows.end())):
                if len(reads) >= self.config.max_entries or count >= self.config.max_entries:
                    unparsed.append(fragment(f"(regex parser stopped: too many table rows) {row}"))
                    return spans
                read = self._row(_cells(row), columns, row_start, row)
                if read is not None:
                    reads.append(read)
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
        reasoning = cell("reasoning") or "; ".join(c.strip() for i, c in enumerate(cells) if i not in used and c.strip())
        score = read_score(cell("score")) if "score" in columns else None
        return _Read(position, clean_id(cell("id")) or "", score, read_tier(cell("tier")), self._cut(reasoning), line)

    # --- entries ------------------------------------------------------------------------------

    def _entries(
        self, text: str, lowered: str, tables: list[tuple[int, int]], reads: list[_Read], unparsed: list[str]
    ) -> None:
        """Delimit the entries (see the module docstring) and read each."""
        table_index = 0
        table_starts = [start for start, _ in tables]
        current: _Entry | None = None
        limit = REFERENCES_PER_ENTRY * self.config.max_entries
        for seen, match in enumerate(self._reference.finditer(lowered)):
            start = match.start()
            if seen >= limit:
                unparsed.append(fragment(f"(regex parser stopped: too many dream references) {text[start:]}"))
                break
            while table_index < len(tables) and tables[table_index][1] <= start:
                table_index += 1
            if table_index < len(tables) and tables[table_index][0] <= start:
                continue
            if start and (lowered[start - 1].isalnum() or lowered[start - 1] in "-_"):
                continue
            key = id_key(match[0])
            if current and key == current.key:
                continue
            opening = self._opening(lowered, start)
            if opening is None or opening[0] == "weak" and not self._may_open(lowered, current, match):
                continue
            if current:
                end = self._end(lowered, current, max(opening[1], current.body), table_starts)
                reads.append(self._read(text, lowered, current, end))
                current = None
            if len(reads) >= self.config.max_entries:
                unparsed.append(fragment(f"(regex parser stopped: more than {len(reads)} entries) {text[start:]}"))
                break
            current = _Entry(start, match.end(), key, match.end())
        if current:
            reads.append(self._read(text, lowered, current, self._end(lowered, current, len(text), table_starts)))

    def _opening(self, lowered: str, start: int) -> tuple[str, int] | None:
        """How the reference at ``start`` may open an entry, and where that entry's text begins:
        ("strong", its line) when it opens a line or is the first reference of a heading,
        ("strong", start) when it opens a sentence, ("weak", start) after a comma or a few words
        into a sentence; None in the middle of a sentence."""
        window = max(0, start - LOOK_BACK)
        line = lowered.rfind("\n", window, start) + 1 or (0 if window == 0 else -1)
        if line >= 0 and (
            self._line_start.fullmatch(lowered, line, start)
            or _HEADING.match(lowered, line, start) and not self._reference.search(lowered, line, start)
        ):
            return "strong", line
        if self._sentence_start.search(lowered, max(window, start - 60), start):
            return "strong", start
        if _AFTER_COMMA.search(lowered, max(window, start - 12), start):
            return "weak", start
        return ("weak", start) if _FEW_WORDS_IN.search(lowered, max(window, start - 100), start) else None

    def _may_open(self, lowered: str, current: _Entry | None, reference: re.Match[str]) -> bool:
        """Whether a weak reference opens an entry: the current entry has its score before it,
        and a score follows it on its own line."""
        if current is None or not self._has_score(lowered, current, reference.start()):
            return False
        after = reference.end()
        newline = lowered.find("\n", after, after + WEAK_REACH)
        end = newline if newline >= 0 else after + WEAK_REACH
        return bool(self._score.search(lowered, after, end) or _UNLABELLED_SCORE.search(lowered, after, end))

    def _has_score(self, lowered: str, entry: _Entry, before: int) -> bool:
        """Whether the entry's body holds a score before ``before`` (each stretch searched once)."""
        before = min(before, entry.body + self.config.max_entry_chars)
        if not entry.scored and entry.checked < before:
            start = max(entry.body, entry.checked - 40)
            entry.scored = bool(self._score.search(lowered, start, before) or _UNLABELLED_SCORE.search(lowered, start, before))
            entry.checked = before
        return entry.scored

    def _end(self, lowered: str, entry: _Entry, limit: int, table_starts: list[int]) -> int:
        """Where the entry's body ends: ``limit``, or an earlier heading, rule, JSON block or table;
        an entry whose score is on its first line ends with its paragraph."""
        bound = min(limit, entry.body + self.config.max_entry_chars)
        stop = _STOP.search(lowered, entry.body, bound)
        end = stop.start() if stop else limit
        newline = lowered.find("\n", entry.body, min(end, bound))
        first_line = min(end, bound) if newline < 0 else newline
        if self._score.search(lowered, entry.body, first_line) or _UNLABELLED_SCORE.search(
            lowered, entry.body, first_line
        ):
            paragraph = _PARAGRAPH_END.search(lowered, first_line, min(end, bound))
            end = paragraph.start() if paragraph else end
        following = bisect.bisect_left(table_starts, entry.body)
        return min(end, table_starts[following]) if following < len(table_starts) else end

    def _read(self, text: str, lowered: str, entry: _Entry, end: int) -> _Read:
        body, window = entry.body, min(end, entry.body + self.config.max_entry_chars)
        score_match = _first_word(self._score, lowered, body, window)
        score = score_from_match(score_match) if score_match else self._unlabelled_score(lowered, body, window)
        tier_match = _first_word(self._tier, lowered, body, window)
        unlabelled_tier = None if tier_match else _UNLABELLED_TIER.search(lowered, body, window)
        tier = tier_word((tier_match or unlabelled_tier)["word"]) if tier_match or unlabelled_tier else None
        reasoning_match = _first_word(self._reasoning, lowered, body, window)
        reach = self.config.max_reasoning_chars * 2
        if reasoning_match:
            reasoning = text[reasoning_match.end() : min(end, reasoning_match.end() + reach)]
        else:
            pieces, position = [], body
            for start, stop in sorted(m.span() for m in (score_match, tier_match) if m):
                pieces.append(text[position:start])
                position = stop
            reasoning = " ".join([*pieces, text[position : min(end, position + reach)]])
        return _Read(entry.start, text[entry.start : body], score, tier, self._cut(reasoning), text[entry.start : window])

    def _unlabelled_score(self, lowered: str, start: int, end: int) -> Score | None:
        for tries, match in enumerate(_UNLABELLED_SCORE.finditer(lowered, start, end)):
            if tries >= MAX_TRIES:
                break
            before = lowered[max(start, match.start() - 8) : match.start()]
            if "tier" in before or before[-1:].isdigit() or before[-1:] == ".":
                continue
            score_match = _SCORE.match(lowered, match.start(), end)
            score = score_from_match(score_match) if score_match else None
            if score is not None and not score.flags:
                return score
        return None

    def _cut(self, reasoning: str) -> str:
        """Reasoning tidied (whitespace squeezed, closing tags and brackets emptied by taking out the
        score and tier dropped, markup at the ends stripped) and cut to ``max_reasoning_chars``."""
        text = _EMPTY_BRACKETS.sub(" ", _LONE_EMPHASIS.sub(" ", _CLOSING_TAG.sub(" ", reasoning)))
        text = " ".join(text.split())
        text = _STOPS_IN_A_ROW.sub(r"\1", _SPACE_BEFORE_STOP.sub("", text))
        text = text.lstrip(_STRIP_HEAD).rstrip(_STRIP_TAIL)
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


def _blank_code(lowered: str, limit: int) -> str:
    """``lowered`` with fenced code blocks in a language other than JSON blanked out after their
    opening fence (same length), so ``score = 0.5`` or ``# D-3`` in code is not read as part of an
    answer and the closing fence does not end an entry. At most ``limit`` fences are looked at."""
    pieces: list[str] = []
    position, opening = 0, None
    for count, fence in enumerate(_FENCE.finditer(lowered)):
        if count >= limit:
            break
        if opening is None:
            opening = fence
            continue
        if opening["info"] not in _DATA_FENCES:
            pieces += [lowered[position : opening.end()], " " * (fence.end() - opening.end())]
            position = fence.end()
        opening = None
    return "".join(pieces) + lowered[position:] if pieces else lowered


def _first_word(pattern: re.Pattern[str], lowered: str, start: int, end: int) -> re.Match[str] | None:
    """The first match of a label pattern that does not start inside a word ("underscore")."""
    for tries, match in enumerate(pattern.finditer(lowered, start, end)):
        if tries >= MAX_TRIES:
            break
        if match.start() == 0 or not lowered[match.start() - 1].isalpha():
            return match
    return None


def _line_end(text: str, position: int) -> int:
    end = text.find("\n", position)
    return len(text) if end < 0 else end


def _lines(text: str, start: int, end: int) -> Iterator[tuple[int, str]]:
    """The lines of ``text[start:end]``, each with where it starts."""
    while start < end:
        stop = min(_line_end(text, start), end)
        yield start, text[start:stop]
        start = stop + 1


def _cells(line: str) -> list[str]:
    return line.strip().strip("|").split("|")


@hookimpl
def register_parsers(register):
    register(RegexParser)
