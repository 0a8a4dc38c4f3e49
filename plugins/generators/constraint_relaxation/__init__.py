"""Generator ``constraint_relaxation``: variants that each break exactly one assumption of the base.

A procedure silently assumes things: that its steps run in the written order, one call at a time;
that a failure must propagate; that bad input must be rejected; that it has to wait between
attempts; that every item of a loop must be visited; that its logging matters. Each dream drops one
such assumption and says which, so the judge and the differential tests can find out whether it was
load-bearing.

Local mode (the default) works on the AST: the procedure's dedented source is parsed, a copy
of the function is transformed and unparsed. It is offline and deterministic: every candidate is
computed in a fixed order and ``context.rng`` alone picks which of them become drafts. The kinds:

``reorder``
    swap two adjacent top-level steps the dependency analysis marks as reorderable.
``concurrency``
    in an ``async def``, await independent calls together with ``asyncio.gather`` (adjacent awaited
    statements the analysis puts in one parallel group, or a loop awaiting one call per item). Plain
    functions are left alone: the safety gate refuses ``threading`` and ``concurrent``.
``lenient_error``
    an ``except`` that re-raises continues with the next item or returns a default instead.
``relax_validation``
    an ``if ...: raise`` guard is dropped, its bound widened (``<=`` becomes ``<`` ...), the value
    clamped to the bound, or (in a loop) the offending item skipped.
``no_wait``
    sleeps are removed, or timeouts lifted (``asyncio.wait_for`` unwrapped, ``timeout=None``).
``short_circuit``
    return early when a cheap condition already decides the result, or leave a loop once the answer
    is known.
``drop_side_effect``
    logging, printing and statistics counters are removed.

Each kind is a module of this package; ``edits`` holds the copy-and-edit machinery they share.

LLM mode (``mode = "llm"``, or ``"both"`` beside the local drafts) asks the configured model chain
for variants with the prompt template ``prompts/constraint_relaxation.txt`` (beside this package),
fed with the procedure's source and its dependency analysis (steps, reorderable pairs, independent
groups, side effects).
"""

from __future__ import annotations

import logging
from pathlib import Path

import attrs

from dreamcore import hookimpl
from dreamcore.analysis.dataflow import DependencyAnalysis
from dreamcore.analysis.nodes import FunctionNode
from dreamcore.analysis.syntax import parse_function
from dreamcore.generation.drafts import DreamDraft, GenerationContext
from dreamcore.generation.llm_drafts import bullets, fenced
from dreamcore.generation.local import Candidate, LocalGenerator, kinds_field, pick
from dreamcore.llm.hub import LLMOptions, route_default

from . import concurrency, drop_side_effect, lenient_error, no_wait, relax_validation, reorder, short_circuit
from .edits import number_nodes

# each kind, and the function finding its candidates in a (numbered) function
KINDS = {
    "reorder": reorder.candidates,
    "concurrency": concurrency.candidates,
    "lenient_error": lenient_error.candidates,
    "relax_validation": relax_validation.candidates,
    "no_wait": no_wait.candidates,
    "short_circuit": short_circuit.candidates,
    "drop_side_effect": drop_side_effect.candidates,
}

_log = logging.getLogger(__name__)


class ConstraintRelaxation(LocalGenerator):
    """Dreams that each violate one assumption of the base procedure."""

    name = "constraint_relaxation"
    dream_type = "constraint_relaxation"
    prompt_file = Path(__file__).parents[1] / "prompts" / "constraint_relaxation.txt"
    prompt_fields = ("function", "source", "analysis", "kinds", "hints", "count")

    @attrs.define(kw_only=True)
    class Config(LLMOptions):
        """``[plugins.constraint_relaxation]``: which relaxation kinds may be proposed, and the LLM mode
        (off by default; the seed's route: a DeepSeek chat model, a Mistral fallback, temperature 0.8)."""

        models: list[str] = route_default("models", ["deepseek/deepseek-chat-v3.1", "mistralai/devstral-2512"])
        temperature: float = route_default("temperature", 0.8)
        max_tokens: int = route_default("max_tokens", 2000)
        variants_per_call: int = route_default("variants_per_call", 5)

        kinds: list[str] = kinds_field(KINDS, "relaxation kinds", "relaxations to try: ")

    def prompt_values(self, context: GenerationContext) -> dict[str, str]:
        """What the prompt template is filled with; the procedure's code only inside fences."""
        return {
            "function": context.procedure.name,
            "source": fenced(context.source),
            "analysis": fenced(_analysis_text(context.analysis), "text"),
            "kinds": ", ".join(self.config.kinds),
            "hints": bullets(context.hints),
        }

    def local_drafts(self, context: GenerationContext) -> list[DreamDraft]:
        """Drafts from AST transforms, each relaxing a different assumption: round robin over the kinds
        (in an rng order), each kind's candidates in an rng order."""
        try:
            function = parse_function(context.source, context.procedure.name)
        except (ValueError, RecursionError):
            return []
        number_nodes(function)
        avoided = _avoided(context.hints)
        kinds = [kind for kind in self.config.kinds if kind not in avoided]
        return pick(_candidates(function, context, kinds), context, kinds)


def _analysis_text(analysis: DependencyAnalysis) -> str:
    """The dependency analysis as lines a model can read (step numbers count from 1)."""
    lines = [
        f"parameters: {', '.join(analysis.params) or 'none'}",
        f"async: {analysis.is_async}; generator: {analysis.is_generator}; loops: {analysis.loops}; "
        f"conditionals: {analysis.conditionals}",
        f"calls: {', '.join(analysis.calls) or 'none'}",
        f"side effects: {', '.join(analysis.side_effects) or 'none'}",
        "steps:",
    ]
    for step in analysis.steps:
        effect = "; side effect" if step.side_effect else ""
        lines.append(f"  {step.index + 1}. [{step.kind}] {step.text}  (reads: {', '.join(sorted(step.reads)) or '-'}; "
                     f"writes: {', '.join(sorted(step.writes)) or '-'}{effect})")
    pairs = ", ".join(f"{a + 1}<->{b + 1}" for a, b in analysis.reorderable)
    groups = ", ".join("(" + ", ".join(str(i + 1) for i in group) + ")" for group in analysis.parallel_groups)
    lines.append(f"reorderable step pairs: {pairs or 'none'}")
    lines.append(f"independent step groups (could run concurrently): {groups or 'none'}")
    return "\n".join(lines)


def _avoided(hints) -> set[str]:
    """Relaxation kinds named in ``avoid: ...`` adaptation hints."""
    avoided: set[str] = set()
    for hint in hints:
        text = str(hint).lower()
        if text.startswith("avoid:"):
            avoided |= {kind for kind in KINDS if kind in text or kind.replace("_", " ") in text}
    return avoided


def _candidates(function: FunctionNode, context: GenerationContext, kinds: list[str]) -> list[Candidate]:
    found: list[Candidate] = []
    for kind in kinds:
        try:
            found.extend(KINDS[kind](function, context))
        except (ValueError, TypeError, AttributeError, RecursionError, IndexError, KeyError):
            # one transform that cannot cope with an odd shape must not cost the others
            _log.debug("relaxation %r failed on %s", kind, context.procedure.qualname, exc_info=True)
    return found


@hookimpl
def register_generators(register) -> None:
    register(ConstraintRelaxation)
