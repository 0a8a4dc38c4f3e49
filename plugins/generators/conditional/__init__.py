"""Dream generator ``conditional``: the same function with a guard, fast path, cache or retry added.

Each transform applies only where the procedure's shape says it makes sense, and each draft records
exactly what was inserted and where:

``empty_guard``
    An early return for an empty or None input, right before a top-level loop (or a returned
    comprehension) over a parameter, returning the value the function would have returned for an
    empty input — only when that value is known at that point (accumulators built before the loop,
    ``[]``/``{}``/``0``/``False`` for comprehensions and their reducers, nothing for generators).
``zero_fast_path``
    ``if x == 0: return <value>`` before a final ``return`` whose expression can be folded at
    ``x == 0`` (products with ``x`` as a factor, arithmetic on ``x`` and literals), for numeric
    parameters.
``memoize``
    ``@functools.lru_cache`` for module functions and static methods whose parameters are hashable
    scalars (annotated int/str/float/bool/bytes/tuple/frozenset...), that are neither async nor
    generators, return no mutable container, do some real work, and have no side effects according
    to ``dreamcore.analysis.dataflow.analyze_dependencies``.
``retry``
    A bounded retry loop with exponential backoff around a statement whose call looks like I/O
    (``fetch``, ``request``, ``charge``, ``send``, ``load``, ``read``, ``get_page``...) and is not
    already inside a ``try``; ``await asyncio.sleep`` in async functions, ``time.sleep`` otherwise.
    Functions that already retry (a ``try`` inside a loop, or "retry" in the name) are left alone.
``validate``
    ``raise ValueError`` at entry for a negative (or, for timeouts and sizes, non-positive) value of a
    numeric parameter named like an amount, count, size, limit, timeout, delay... that the body does
    not already compare against a literal.
``zero_division``
    ``raise ValueError`` at entry when a parameter the body divides by is zero, unless the body
    already compares that parameter against a literal.

Only the local mode exists: drafts are pure AST rewrites (``ast.unparse``: comments are lost,
decorators and docstrings kept), offline, deterministic given ``context.rng``. One module per
transform; ``subject`` holds what they share.
"""

from __future__ import annotations

import ast
from typing import Any

import attrs

from dreamcore import hookimpl
from dreamcore.analysis.syntax import function_in
from dreamcore.generation.drafts import DreamDraft, GenerationContext
from dreamcore.generation.local import LocalGenerator, distinct, interleave

from . import empty_guard, memoize, retry, validate, zero_division, zero_fast_path
from .subject import Subject

TRANSFORMS = {
    "empty_guard": empty_guard.candidates,
    "zero_fast_path": zero_fast_path.candidates,
    "memoize": memoize.candidates,
    "retry": retry.candidates,
    "validate": validate.candidates,
    "zero_division": zero_division.candidates,
}


class ConditionalGenerator(LocalGenerator):
    """Adds guards, fast paths, memoisation and retries where they fit (see the module docstring)."""

    name = "conditional"
    dream_type = "conditional"

    @attrs.define
    class Config:
        """[plugins.conditional]: which transforms run, and the numbers the inserted code uses."""

        transforms: list[str] = attrs.field(
            factory=lambda: list(TRANSFORMS), metadata={"help": "transforms to try: " + ", ".join(TRANSFORMS)}
        )
        retry_attempts: int = attrs.field(default=3, metadata={"help": "attempts of an inserted retry loop"})
        retry_base_delay: float = attrs.field(
            default=0.1, metadata={"help": "first wait of an inserted retry loop, doubled each time"}
        )
        cache_size: int = attrs.field(default=128, metadata={"help": "maxsize of an inserted functools.lru_cache"})

        @transforms.validator
        def _known(self, attribute: Any, value: list[str]) -> None:
            unknown = [t for t in value if t not in TRANSFORMS]
            if unknown:
                raise ValueError(f"unknown transforms {', '.join(unknown)} (known: {', '.join(TRANSFORMS)})")

        @retry_attempts.validator
        def _attempts(self, attribute: Any, value: int) -> None:
            if not 2 <= value <= 10:
                raise ValueError("retry_attempts must be between 2 and 10")

        @retry_base_delay.validator
        def _delay(self, attribute: Any, value: float) -> None:
            if not 0 < value <= 60:
                raise ValueError("retry_base_delay must be in (0, 60] seconds")

        @cache_size.validator
        def _cache(self, attribute: Any, value: int) -> None:
            if value < 1:
                raise ValueError("cache_size must be at least 1")

    def local_drafts(self, context: GenerationContext) -> list[DreamDraft]:
        """At most ``context.variants`` drafts, each with one transform at one target: the transforms in an
        rng order, each one's candidates shuffled, taken round robin."""
        try:
            tree = ast.parse(context.source)
        except (SyntaxError, ValueError):
            return []
        function = function_in(tree.body, context.procedure.name)
        if function is None:
            return []
        subject = Subject(context, tree, function, (context.procedure.line_start or 1) - 1)
        groups = [list(TRANSFORMS[name](subject, self.config)) for name in self.config.transforms]
        if not any(groups):
            return []
        changes = interleave(groups, context.rng)
        return distinct((subject.build(change) for change in changes), context.variants,
                        exclude=[ast.unparse(tree) + "\n"])


@hookimpl
def register_generators(register) -> None:
    register(ConditionalGenerator)
