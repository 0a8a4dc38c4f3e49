"""The LLM mode shared by generators: prompt the route's model, extract code, keep what failed.

A generator fills its prompt template's placeholders (procedure source goes in as *data*, inside a
fence no line of it can close, see :func:`fenced`) and calls :func:`llm_drafts`. The variants wanted
are split into calls of at most ``variants_per_call`` each, made concurrently; each answer's code
becomes drafts (checked later by the draft checker like any other draft). An answer with no code, a
failed call or a spent budget is recorded on the context with the model and the reason, and the
night goes on. Model output is never executed.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
from collections.abc import Callable

from dreamcore.generation.drafts import DreamDraft, GenerationContext
from dreamcore.generation.extract import extract_code
from dreamcore.llm.hub import BudgetExhausted, ModelError

SHOWN_ANSWER = 2000  # characters of a codeless answer kept with its rejection
_log = logging.getLogger(__name__)


def fenced(text: str, language: str = "python") -> str:
    """``text`` inside a markdown fence longer than any backtick run in it, so it cannot close early."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{text.rstrip()}\n{fence}"


def bullets(items) -> str:
    """One ``- item`` line per item, or ``- none``."""
    return "\n".join(f"- {item}" for item in items) or "- none"


def call_sizes(variants: int, per_call: int) -> list[int]:
    """``variants`` split into the fewest calls of at most ``per_call``, as even as possible."""
    if variants <= 0:
        return []
    calls = math.ceil(variants / per_call)
    return [variants // calls + (1 if index < variants % calls else 0) for index in range(calls)]


async def mode_drafts(
    context: GenerationContext, local: Callable[[], list[DreamDraft]], values: Callable[[], dict[str, str]]
) -> list[DreamDraft]:
    """A generator's drafts in its mode: ``local()`` alone without a model; the model's alone in llm
    mode; in both mode the local drafts and the model asked for the rest (at least half)."""
    llm = context.llm
    if llm is None:
        return local()
    if llm.options.mode == "llm":
        return await llm_drafts(context, values(), context.variants)
    own = local()
    wanted = max(context.variants - len(own), math.ceil(context.variants / 2))
    return await llm_drafts(context, values(), wanted) + own[: context.variants - wanted]


async def llm_drafts(context: GenerationContext, values: dict[str, str], variants: int) -> list[DreamDraft]:
    """Drafts written by ``context.llm`` for ``variants`` variants; ``values`` fill the prompt template
    (``$count``, the variants asked in one call, is added per call)."""
    llm = context.llm
    if llm is None:
        return []
    sizes = call_sizes(variants, llm.options.variants_per_call)
    answers = await asyncio.gather(*(_one_call(context, values, size) for size in sizes))
    drafts: list[DreamDraft] = []
    budget_noted = False
    for found in answers:
        if isinstance(found, BudgetExhausted):
            if not budget_noted:
                context.reject(found.model or llm.models[0], "budget_exhausted", str(found))
                budget_noted = True
        elif isinstance(found, ModelError):
            context.reject(found.model or llm.models[0], "model_error", f"{found.category}: {found}")
        else:
            drafts += found
    return drafts


async def _one_call(context: GenerationContext, values: dict[str, str], size: int) -> list[DreamDraft] | ModelError:
    llm = context.llm
    assert llm is not None
    messages = llm.template.render(**values, count=str(size))
    try:
        completion = await llm.complete(messages)
    except ModelError as exc:
        if not isinstance(exc, BudgetExhausted):
            _log.warning("%s: %s call failed: %s: %s", context.procedure.qualname, context.dream_type,
                         exc.category, exc)
        return exc
    extracted = extract_code(completion.text, context.procedure.name)
    if not extracted:
        context.reject(completion.model, "no_code", "the answer holds no function definition",
                       code=completion.text[:SHOWN_ANSWER])
        return []
    return [
        DreamDraft(code=item.code, description=item.description, reasoning=item.reasoning,
                   model_used=completion.model)
        for item in extracted[:size]
    ]
