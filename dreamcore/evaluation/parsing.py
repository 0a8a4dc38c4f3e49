"""Reading evaluations out of a judge's answer: what parser plugins share, and the parser chain.

Parser plugins (``register_parsers``) each turn free text into a ``ParseResult``. They share the
reading of scores and tiers written in words (:func:`read_score`, :func:`read_tier`), the final
checks of one evaluation (:func:`make_evaluation`: clamping, tier from the score bands, flags) and
the tier-band options (:class:`BandOptions`).

The chain (:func:`parse_with`) runs parsers in the configured order (``[evaluation] parsers``, JSON
first by default) over the same text and merges their results:

* per dream, the first parser that read it wins; later reads of the same dream (by
  :func:`id_key`, so ``D-12``, ``Dream 12`` and ``12`` are one dream) are dropped;
* the fragments any parser could not read are kept, in parser order and without repeats, except a
  fragment whose dream references were all read by some parser of the chain;
* a parser that raises (third-party parsers might) costs its own result only: the chain notes it as
  an unparsed fragment and goes on.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

import attrs

from dreamcore.config import InvalidValue, TierBands
from dreamcore.errors import ConfigError, PluginError
from dreamcore.evaluation.verdicts import Evaluation, ParseResult
from dreamcore.models import DreamTier

if TYPE_CHECKING:
    from dreamcore.core import DreamCore

# Flags a parser may put on an evaluation (documented in docs/evaluation.md).
SCORE_CLAMPED = "score_clamped"
SCORE_AS_PERCENT = "score_as_percent"
TIER_FROM_SCORE = "tier_from_score"
TIER_DISAGREES = "tier_disagrees_with_score"

FRAGMENT_LIMIT = 500
MAX_ID_LENGTH = 200

# A dream reference as judges write it: D-12, D12, Dream 12, Dream #12, Dream D-12, in lowercase
# (parsers match ASCII-lowercased text, see ``ascii_lower``). It starts with a literal so the regex
# engine skips ahead fast, and uses bounded possessive quantifiers, so it never backtracks far.
DREAM_REFERENCE = r"d(?=[-\dr])(?:ream[ \t#]{0,7}+(?:d-?)?+|-?)\d{1,9}+(?![\w-])"
_DREAM_ID = re.compile(rf"(?<![\w-]){DREAM_REFERENCE}", re.IGNORECASE)
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_ID_NUMBER = re.compile(r"(?:dream[ \t#]{0,7}+)?(?:d-?)?+(\d{1,9}+)", re.IGNORECASE)

# A score in words (a float's repr too: 17 digits, an exponent; ``0,85`` with a decimal comma).
# NUMBER never starts inside a digit run (the look-behind), so a long run of
# digits costs one attempt, not one per digit.
_NUMBER = r"(?<![\d.])(?:0,\d{1,20}|\d{1,6}(?:\.\d{1,20})?|\.\d{1,20})(?:e[-+]?\d{1,3})?(?![\d])"
SCORE = (
    rf"(?P<num>{_NUMBER})"
    rf"(?:[ \t]{{0,2}}(?P<percent>%|percent\b|per[ \t]cent\b|pct\b)"
    rf"|[ \t]{{0,2}}/[ \t]{{0,2}}(?P<over>{_NUMBER})"
    rf"|[ \t]{{1,3}}out[ \t]{{1,3}}of[ \t]{{1,3}}(?P<outof>{_NUMBER}))?"
)
_SCORE = re.compile(SCORE, re.IGNORECASE)

_TIER_WORDS = {
    "1": DreamTier.VIABLE, "one": DreamTier.VIABLE, "i": DreamTier.VIABLE, "viable": DreamTier.VIABLE,
    "2": DreamTier.SPECULATIVE, "two": DreamTier.SPECULATIVE, "ii": DreamTier.SPECULATIVE,
    "speculative": DreamTier.SPECULATIVE,
    "3": DreamTier.ARCHIVE, "three": DreamTier.ARCHIVE, "iii": DreamTier.ARCHIVE, "archive": DreamTier.ARCHIVE,
    "archived": DreamTier.ARCHIVE,
}
TIER_WORD = r"viable|speculative|archived?"
_TIER_TEXT = re.compile(
    rf"(?:tier|t)?[ \t_#:-]{{0,3}}(?P<word>[123]|one|two|three|iii|ii|i|{TIER_WORD})(?![\w.])", re.IGNORECASE
)


@attrs.frozen
class Score:
    """A score as read: the value in [0, 1] and the flags reading it raised."""

    value: float
    flags: tuple[str, ...] = ()


def score_from_match(match: re.Match[str]) -> Score | None:
    """The score a :data:`SCORE` match denotes: ``85%``, ``8.5/10``, ``0.7 out of 1``, ``0.85``, ``85``
    (see :func:`clamp_score`)."""
    number = _float(match["num"])
    denominator = match["over"] or match["outof"]
    if match["percent"]:
        return clamp_score(number / 100, bare=False)
    if denominator is not None:
        return clamp_score(number / _float(denominator), bare=False) if _float(denominator) > 0 else None
    return clamp_score(number)


def _float(written: str) -> float:
    return float(written.replace(",", "."))


def clamp_score(value: float, *, bare: bool = True) -> Score | None:
    """``value`` as a score; None if not finite. A ``bare`` number (not a percentage or fraction)
    that is whole and from 2 to 100 is read as a percentage (flag ``score_as_percent``); anything
    else outside [0, 1] is clamped (flag ``score_clamped``)."""
    if not math.isfinite(value):
        return None
    if bare and 1 < value <= 100 and value.is_integer():
        return Score(value / 100, (SCORE_AS_PERCENT,))
    if value < 0 or value > 1:
        return Score(min(max(value, 0.0), 1.0), (SCORE_CLAMPED,))
    return Score(value)


def read_score(value: Any) -> Score | None:
    """A score from a JSON value or a short text (``0.85``, ``"85%"``, ``"17/20"``); None if unreadable."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return clamp_score(float(value))
    if isinstance(value, str):
        match = _SCORE.search(value, 0, 200)
        return score_from_match(match) if match else None
    return None


def read_tier(value: Any) -> DreamTier | None:
    """A tier from ``1``, ``"2"``, ``"Tier 3"``, ``"T1"``, ``"two"``, ``"viable"``, ``"archived"``; else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return DreamTier(int(value)) if value in (1, 2, 3) else None
    if isinstance(value, str):
        match = _TIER_TEXT.match(value.strip(" \t*_`\"'()[]"), 0, 100)
        return _TIER_WORDS.get(match["word"].lower()) if match else None
    return None


def tier_word(word: str) -> DreamTier | None:
    """The tier a word or digit names (``viable``, ``2``, ``three``), or None."""
    return _TIER_WORDS.get(word.lower())


def make_evaluation(
    dream_id: str,
    score: Score,
    tier: DreamTier | None,
    reasoning: str,
    bands: TierBands,
) -> Evaluation:
    """An Evaluation with the tier taken from the bands when missing (``tier_from_score``) and a
    written tier that does not match the score's band kept but flagged (``tier_disagrees_with_score``)."""
    flags = list(score.flags)
    band = bands.tier_for(score.value)
    if tier is None:
        tier = band
        flags.append(TIER_FROM_SCORE)
    elif tier != band:
        flags.append(TIER_DISAGREES)
    return Evaluation(id=dream_id, viability_score=score.value, tier=tier, reasoning=reasoning, flags=flags)


def clean_id(value: Any) -> str | None:
    """A dream id as written, or None when it is missing, empty or absurdly long."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, str | int):
        return None
    text = " ".join(str(value).split()).strip("*_`\"'")
    return text if 0 < len(text) <= MAX_ID_LENGTH else None


def ascii_lower(text: str) -> str:
    """``text`` with ASCII letters lowercased: same length, so positions carry over to the original."""
    return text.translate(_ASCII_LOWER)


def id_key(dream_id: str) -> str:
    """The key two reads of one dream share: the number of ``D-12``/``Dream #12``/``12``, else the
    id case-folded with spaces squeezed."""
    text = " ".join(dream_id.split())
    match = _ID_NUMBER.fullmatch(text)
    return match[1].lstrip("0") or "0" if match else text.casefold()


def is_dream_reference(text: str) -> bool:
    """Whether ``text`` is just a dream reference: ``D-12``, ``Dream 12``, ``12``."""
    return _ID_NUMBER.fullmatch(text.strip()) is not None


def dream_ids_in(text: str) -> set[str]:
    """The keys of the dream references (``D-12``, ``Dream 12``) written in ``text``."""
    return {id_key(match[0]) for match in _DREAM_ID.finditer(text)}


def fragment(text: str) -> str:
    """``text`` trimmed for an ``unparsed`` list: stripped, at most FRAGMENT_LIMIT characters."""
    text = text.strip()
    return text if len(text) <= FRAGMENT_LIMIT else text[: FRAGMENT_LIMIT - 1] + "…"


def _between_0_and_1(instance: Any, attribute: attrs.Attribute, value: float) -> None:
    if not 0 <= value <= 1:
        raise InvalidValue(attribute.name, f"must be between 0 and 1, got {value:g}")


def at_least_one(name: str, value: int) -> None:
    """Validate a count option: an InvalidValue naming ``name`` unless ``value >= 1``."""
    if value < 1:
        raise InvalidValue(name, f"must be at least 1, got {value}")


@attrs.define(kw_only=True)
class BandOptions:
    """Tier-band options every parser has (it derives a missing tier from the score with them)."""

    viable: float = attrs.field(
        default=0.6, validator=_between_0_and_1, metadata={"help": "scores from this up are tier 1 (viable)"}
    )
    speculative: float = attrs.field(
        default=0.3,
        validator=_between_0_and_1,
        metadata={"help": "scores from this up (below viable) are tier 2 (speculative); lower is tier 3"},
    )

    def __attrs_post_init__(self) -> None:
        if self.speculative > self.viable:
            raise InvalidValue("speculative", f"must not exceed viable ({self.speculative:g} > {self.viable:g})")

    def bands(self) -> TierBands:
        """These options as TierBands."""
        return TierBands(viable=self.viable, speculative=self.speculative)


def compile_option(attribute_name: str, pattern: str, flags: int = 0) -> re.Pattern[str]:
    """A regular expression from a config option, or an InvalidValue naming the option."""
    try:
        return re.compile(pattern, flags)
    except re.error as exc:
        raise InvalidValue(attribute_name, f"not a valid regular expression: {exc}") from None


class Parser(Protocol):
    """What the chain needs of a parser component."""

    name: str

    def parse(self, text: str) -> ParseResult: ...


def parse_with(parsers: Sequence[Parser], text: str) -> ParseResult:
    """Run ``parsers`` in order over ``text`` and merge their results (see the module docstring)."""
    evaluations: dict[str, Evaluation] = {}
    fragments: list[str] = []
    for parser in parsers:
        try:
            result = parser.parse(text)
        except Exception as exc:  # a third-party parser broke its contract; keep the others' work
            fragments.append(f"parser {parser.name!r} failed: {type(exc).__name__}: {fragment(str(exc))}")
            continue
        for evaluation in result.evaluations:
            evaluations.setdefault(id_key(evaluation.id), evaluation)
        fragments += result.unparsed
    return ParseResult(evaluations=list(evaluations.values()), unparsed=_unread(fragments, set(evaluations)))


def _unread(fragments: list[str], read: set[str]) -> list[str]:
    """The fragments still worth reporting: not a repeat, not about dreams read anyway, and for
    each set of dreams named, only the first fragment naming them."""
    kept: dict[str | frozenset[str], str] = {}
    for text in fragments:
        mentioned = frozenset(dream_ids_in(text))
        if mentioned and mentioned <= read:
            continue
        kept.setdefault(mentioned or text, text)
    return list(kept.values())


def parsers_for(core: DreamCore) -> list[Parser]:
    """The parser chain ``[evaluation] parsers`` names, each built with its ``[plugins.<name>]`` options.

    A parser with tier-band options takes the bands of ``[evaluation]`` (``viable_from``,
    ``speculative_from``) unless its own table sets ``viable`` or ``speculative``."""
    chain = []
    for index, name in enumerate(core.config.evaluation.parsers):
        try:
            parser = core.create("parsers", name)
        except PluginError as exc:
            raise ConfigError(f"{core.config.source}: evaluation.parsers[{index}]: {exc}") from None
        options = getattr(parser, "config", None)
        if isinstance(options, BandOptions) and not {"viable", "speculative"} & core.config.plugins.get(name, {}).keys():
            bands = core.config.evaluation.bands()
            options = attrs.evolve(options, viable=bands.viable, speculative=bands.speculative)
            parser = type(parser)(config=options)
        chain.append(parser)
    return chain


def as_dict(result: ParseResult) -> dict[str, Any]:
    """``result`` as plain data: ``{"evaluations": [{"id", "viability_score", "tier", "reasoning",
    "flags"}], "unparsed": [...]}`` (ids as written)."""
    return {
        "evaluations": [
            {
                "id": evaluation.id,
                "viability_score": evaluation.viability_score,
                "tier": int(evaluation.tier),
                "reasoning": evaluation.reasoning,
                "flags": list(evaluation.flags),
            }
            for evaluation in result.evaluations
        ],
        "unparsed": list(result.unparsed),
    }


def to_json(result: ParseResult, indent: int | None = 2) -> str:
    """``result`` as JSON text (see :func:`as_dict`)."""
    return json.dumps(as_dict(result), indent=indent, ensure_ascii=False)

