"""Dream generator ``memoize``: a pure function that remembers its answers.

A function qualifies when dreamcore's dependency analysis finds no side effect but raising an
exception (no calls to anything else, no assignment into objects), no ``yield`` or ``await``, at
least one parameter, no decorator, and it is not a method (a cache on a method would keep every
``self`` alive). Each dream adds one caching decorator from ``functools``;
the dreams differ in the cache's size. Whether caching keeps the behaviour (unhashable arguments
now raise TypeError; mutable results are shared between callers) is for the judge and the sandbox
tests to find out: that is what they are for.
"""

from __future__ import annotations

import attrs

from dreamcore import hookimpl
from dreamcore.generation import DreamDraft, GenerationContext
from dreamcore.models import Procedure


class MemoizeGenerator:
    """Wrap pure functions in ``functools.lru_cache`` of several sizes (and ``functools.cache``)."""

    name = "memoize"
    dream_type = "memoize"

    @attrs.define(kw_only=True)
    class Config:
        sizes: list[int] = attrs.field(
            factory=lambda: [128, 1024], metadata={"help": "lru_cache sizes to try, one dream each"}
        )
        unbounded: bool = attrs.field(default=True, metadata={"help": "also try functools.cache (no size limit)"})

    def __init__(self, config: Config | None = None) -> None:
        self.config = config or self.Config()

    async def generate(self, procedure: Procedure, context: GenerationContext) -> list[DreamDraft]:
        """One draft per cache size, for a function that looks pure; none otherwise."""
        analysis = context.analysis
        if "." in procedure.qualname or not analysis.params or not _only_raises(analysis.side_effects):
            return []
        if analysis.is_async or analysis.is_generator or context.source.lstrip().startswith("@"):
            return []
        decorators = [(f"functools.lru_cache(maxsize={size})", f"up to {size} results") for size in self.config.sizes]
        if self.config.unbounded:
            decorators.append(("functools.cache", "every result, without limit"))
        return [
            DreamDraft(
                code=f"import functools\n\n\n@{decorator}\n{context.source}",
                description=f"{procedure.name} cached with @{decorator}",
                reasoning=(
                    f"{procedure.name} has no side effects and writes nothing outside its locals, so "
                    f"remembering {kept} turns repeated calls with the same arguments into lookups."
                ),
            )
            for decorator, kept in decorators[: context.variants]
        ]


def _only_raises(side_effects: tuple[str, ...]) -> bool:
    """True when every side effect is raising an exception (or building the one raised)."""
    raised = {effect.removeprefix("raises ") for effect in side_effects if effect.startswith("raises ")}
    return all(effect.startswith("raises ") or effect.removeprefix("calls ") in raised for effect in side_effects)


@hookimpl
def register_generators(register) -> None:
    register(MemoizeGenerator)
