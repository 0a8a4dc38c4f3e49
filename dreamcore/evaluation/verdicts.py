"""What parsers extract from a judge's answer, and the tier bands that relate a score to a tier.

A judge (Claude, another model, a person) answers in free text; parser plugins
(``register_parsers``) turn that text into ``Evaluation`` objects and report what they could not
read. Dreams are named in prompts by stable ids (``D-123``); an evaluation carries the id as
written, and matching it to a dream is the evaluator's job, never the parser's.
"""

from __future__ import annotations

import attrs

from dreamcore.models import DreamTier


@attrs.define(kw_only=True)
class Evaluation:
    """One dream's verdict as read from a judge's answer.

    ``id`` is the dream reference as written (``"D-12"``, ``"12"``, ``"Dream 12"``);
    ``viability_score`` is clamped to [0, 1]; ``flags`` note what the parser had to decide, e.g.
    ``"tier_from_score"`` or ``"tier_disagrees_with_score"``.
    """

    id: str
    viability_score: float
    tier: DreamTier = attrs.field(converter=DreamTier)
    reasoning: str = ""
    flags: list[str] = attrs.Factory(list)


@attrs.define(kw_only=True)
class ParseResult:
    """Everything a parser read from one answer: evaluations, and fragments it could not read."""

    evaluations: list[Evaluation] = attrs.Factory(list)
    unparsed: list[str] = attrs.Factory(list)
