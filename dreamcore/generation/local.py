"""A base class for generators that dream locally: offline, from the procedure's AST, reproducibly.

A local generator finds *candidates*, finished variants of the function each tagged with the kind of
change it makes, and chooses among them with ``context.rng`` alone, so the same seed gives the same
dreams. ``LocalGenerator`` holds what every such generator repeats: its configuration, ``generate``
(nothing when no variants are wanted; the LLM mode through ``mode_drafts`` when the generator has
one) and the ``needs_related`` flag. Three ways to choose drafts come with it:

``pick``
    every candidate computed up front: repeated code dropped, then round robin over the kinds.
``interleave``
    any groups, in an rng order, taken round robin (what ``pick`` does after grouping).
``distinct``
    candidates already in order, made lazily: the first ones whose code is new.

``kinds_field`` declares the ``Config`` option that picks which kinds of change run.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from typing import Any, ClassVar, TypeVar

import attrs

from dreamcore.config import documented
from dreamcore.generation.drafts import DreamDraft, GenerationContext, new_code, round_robin
from dreamcore.generation.llm_drafts import mode_drafts

T = TypeVar("T")


@attrs.frozen(kw_only=True)
class Candidate:
    """One finished variant before selection: the kind of change, the new function's code, what
    changed and why it might help."""

    kind: str
    code: str
    description: str
    reasoning: str

    def draft(self) -> DreamDraft:
        """The candidate as a draft of the local mode."""
        return DreamDraft(code=self.code, description=self.description, reasoning=self.reasoning)


class LocalGenerator:
    """Base class of a generator with a local mode.

    A subclass sets ``name`` and ``dream_type``, may nest an attrs ``Config`` (built with its defaults
    when no configuration is given) and implements ``local_drafts``. ``needs_related = True`` makes the
    core fill ``context.related``. A generator with an LLM mode (its ``Config`` derives from
    ``dreamcore.llm.hub.LLMOptions``; it sets ``prompt_file`` and ``prompt_fields``) also implements
    ``prompt_values``.
    """

    name: ClassVar[str]
    dream_type: ClassVar[str]
    needs_related: ClassVar[bool] = False
    Config: ClassVar[type | None] = None

    def __init__(self, config: Any = None) -> None:
        self.config = config if config is not None or self.Config is None else self.Config()

    async def generate(self, procedure: Any, context: GenerationContext) -> list[DreamDraft]:
        """At most ``context.variants`` drafts: the local mode's, and in llm or both mode the model's."""
        if context.variants <= 0:
            return []
        return await mode_drafts(context, lambda: self.local_drafts(context), lambda: self.prompt_values(context))

    def local_drafts(self, context: GenerationContext) -> list[DreamDraft]:
        """The local mode's drafts, at most ``context.variants``, chosen with ``context.rng`` alone."""
        raise NotImplementedError

    def prompt_values(self, context: GenerationContext) -> dict[str, str]:
        """The values of the prompt template's placeholders (``$count`` is added per call)."""
        raise NotImplementedError


def kinds_field(kinds: Iterable[str], what: str, help: str) -> Any:
    """An attrs field for a ``Config``: which of ``kinds`` to use, all of them by default, in that order.
    Its help is ``help`` followed by the kinds; another name fails with "unknown <what> [...] (known: ...)"."""
    known = list(kinds)

    def known_only(instance: Any, attribute: attrs.Attribute, value: list[str]) -> None:
        unknown = sorted(set(value) - set(known))
        if unknown:
            raise ValueError(f"unknown {what} {unknown} (known: {', '.join(known)})")

    return attrs.field(factory=lambda: list(known), validator=known_only, metadata=documented(help + ", ".join(known)))


def interleave(groups: Sequence[list[T]], rng: random.Random, limit: int | None = None, *,
               shuffle_items: bool = True) -> list[T]:
    """The items of the non-empty groups, round robin (see ``round_robin``), at most ``limit`` (all by
    default): the groups in an ``rng`` order, and each group shuffled in place first unless
    ``shuffle_items`` is false."""
    order = [group for group in groups if group]
    rng.shuffle(order)
    if shuffle_items:
        for group in order:
            rng.shuffle(group)
    return round_robin(order, sum(map(len, order)) if limit is None else limit)


def pick(candidates: Iterable[Candidate], context: GenerationContext, kinds: Sequence[str], *,
         shuffle_items: bool = True) -> list[DreamDraft]:
    """Drafts of at most ``context.variants`` candidates: repeated code dropped (formatting ignored, the
    first one kept), the rest grouped by kind in the order of ``kinds`` and interleaved (see
    ``interleave``). Every candidate's kind must be in ``kinds``."""
    seen: set[str] = set()
    by_kind: dict[str, list[Candidate]] = {kind: [] for kind in kinds}
    for candidate in candidates:
        if new_code(candidate.code, seen):
            by_kind[candidate.kind].append(candidate)
    chosen = interleave([by_kind[kind] for kind in kinds], context.rng, context.variants,
                        shuffle_items=shuffle_items)
    return [candidate.draft() for candidate in chosen]


def distinct(candidates: Iterable[Candidate], limit: int, exclude: Iterable[str] = ()) -> list[DreamDraft]:
    """Drafts of the first ``limit`` candidates, in order, whose code differs (as text) from ``exclude``
    (the base's own, say) and from the ones taken before. A lazy iterable is read no further than needed."""
    seen = set(exclude)
    drafts: list[DreamDraft] = []
    for candidate in candidates:
        if candidate.code in seen:
            continue
        seen.add(candidate.code)
        drafts.append(candidate.draft())
        if len(drafts) == limit:
            break
    return drafts
