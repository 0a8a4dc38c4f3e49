"""Generator ``cross_project``: the base combined with a related procedure from another project.

``context.related`` holds procedures of other projects, best match first (nothing related, nothing
dreamt). A dream must stay one standalone function, so whatever it borrows is *inlined*: the related
procedure becomes a nested helper (renamed ``_<project>_<name>`` so it cannot clash), the module
constants, helper functions and stdlib imports it needs are copied into that helper, and its own
exception classes become their builtin base class. Whatever cannot be resolved that way (another
module of its project, ``self``) means that combination is not proposed.

Local strategies (offline, deterministic: ``context.rng`` only orders the strategies):

``fallback``
    try the base's own logic; when it raises, return what the related procedure computes from the
    same arguments (only when its parameters can be fed from the base's and the return types agree);
``composition``
    a call chain: the base's result fed through the related procedure, or a base argument
    pre-processed by it (only for ``T -> T`` procedures whose ``T`` matches);
``guard``
    the related procedure's input validation (``if ...: raise ValueError``) transplanted onto the
    base parameters with the same name or annotation, when the base does not check them already;
``retry``
    the related procedure's retry shape (attempts, backoff growth, caught errors) wrapped around the
    base's call of a callable it was given (its I/O).

Each strategy is a module of this package; ``sides`` reads the base and the related procedures,
``inlining`` makes a related one self-contained, ``matching`` holds what the strategies share.

LLM mode (``mode = "llm"``, or ``"both"`` beside the local drafts) asks the configured model chain
with the prompt template ``prompts/cross_project.txt`` (beside this package), fed with the base and
its related procedures (each inside its own fence, as data).
"""

from __future__ import annotations

import logging
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs

from dreamcore import hookimpl
from dreamcore.generation.drafts import DreamDraft, GenerationContext
from dreamcore.generation.llm_drafts import bullets, fenced
from dreamcore.generation.local import Candidate, LocalGenerator, kinds_field, pick
from dreamcore.llm.hub import LLMOptions, route_default
from dreamcore.models import Procedure

from . import composition, fallback, guard, retry
from .sides import Base, Related, parse

# each strategy, and the function finding its candidates for a base and one related procedure
STRATEGIES = {
    "fallback": fallback.candidates,
    "composition": composition.candidates,
    "guard": guard.candidates,
    "retry": retry.candidates,
}

_log = logging.getLogger(__name__)


class CrossProject(LocalGenerator):
    """Dreams that combine the base with what a related procedure of another project does."""

    name = "cross_project"
    dream_type = "cross_project"
    needs_related = True
    prompt_file = Path(__file__).parents[1] / "prompts" / "cross_project.txt"
    prompt_fields = ("function", "project", "source", "related", "strategies", "hints", "count")

    @attrs.define(kw_only=True)
    class Config(LLMOptions):
        """``[plugins.cross_project]``: which strategies to use, how many related procedures, and the LLM
        mode (off by default; the seed's route: a Qwen coder model, a DeepSeek fallback, temperature 0.7)."""

        models: list[str] = route_default("models", ["qwen/qwen3-coder", "deepseek/deepseek-chat-v3.1"])
        temperature: float = route_default("temperature", 0.7)
        max_tokens: int = route_default("max_tokens", 3000)
        variants_per_call: int = route_default("variants_per_call", 3)

        strategies: list[str] = kinds_field(STRATEGIES, "cross-project strategies", "ways to combine: ")
        max_related: int = attrs.field(
            default=5, validator=attrs.validators.ge(1), metadata={"help": "related procedures considered"}
        )

    async def generate(self, procedure: Any, context: GenerationContext) -> list[DreamDraft]:
        """At most ``context.variants`` drafts; none without related procedures."""
        if not self._related(context):
            return []
        return await super().generate(procedure, context)

    def _related(self, context: GenerationContext) -> list[Procedure]:
        """Related procedures of other projects, at most ``max_related``, best first."""
        return [
            r for r in context.related
            if r.project != context.procedure.project or not context.procedure.project
        ][: self.config.max_related]

    def prompt_values(self, context: GenerationContext) -> dict[str, str]:
        """What the prompt template is filled with; all code only inside fences."""
        related = [
            f"{number}. {other.project}: {other.module}.{other.qualname}\n{fenced(textwrap.dedent(other.source))}"
            for number, other in enumerate(self._related(context), start=1)
        ]
        return {
            "function": context.procedure.name,
            "project": context.procedure.project,
            "source": fenced(context.source),
            "related": "\n\n".join(related),
            "strategies": ", ".join(self.config.strategies),
            "hints": bullets(context.hints),
        }

    def local_drafts(self, context: GenerationContext) -> list[DreamDraft]:
        """Drafts from AST combinations with each related procedure: round robin over the strategies (in
        an rng order), each strategy's candidates best related procedure first."""
        base = parse(context.source, context.procedure.name)
        if base is None:
            return []
        candidates = self._candidates(Base(base), context)
        return pick(candidates, context, self.config.strategies, shuffle_items=False)

    def _candidates(self, base: Base, context: GenerationContext) -> Iterator[Candidate]:
        """Every strategy's candidates with each related procedure, in that order."""
        for procedure in self._related(context):
            other = Related.load(procedure)
            if other is None:
                continue
            for strategy in self.config.strategies:
                try:
                    found = list(STRATEGIES[strategy](base, other))
                except (ValueError, TypeError, AttributeError, KeyError, IndexError, RecursionError):
                    _log.debug("strategy %r failed on %s with %s", strategy, context.procedure.qualname,
                               other.label, exc_info=True)
                    continue
                yield from found


@hookimpl
def register_generators(register) -> None:
    register(CrossProject)
