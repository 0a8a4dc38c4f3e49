"""What generators receive and return, and how their drafts become dreams or recorded rejections.

Generator output is untrusted, whether it came from an AST transform or a model: every draft is
parsed, must define the target function with the base's signature, must pass the safety gate, must
differ from the base and from the other drafts; a draft that fails is kept as a ``RejectedDraft``
with the reason, never dropped silently. Nothing here executes generated code.
"""

from __future__ import annotations

import ast
import itertools
import random
import textwrap
from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, TypeVar

import attrs

from dreamcore.analysis.dataflow import DependencyAnalysis, analyze_dependencies
from dreamcore.analysis.safety import check_code
from dreamcore.analysis.syntax import canonical_fingerprint, parse_function, signature_of
from dreamcore.config import SafetyPolicy
from dreamcore.models import DreamProcedure, Procedure, RejectedDraft

if TYPE_CHECKING:
    from dreamcore.llm.hub import LLM


@attrs.define(kw_only=True)
class DreamDraft:
    """A generator's proposal: the complete new function, what changed, and why it might help."""

    code: str
    description: str
    reasoning: str
    model_used: str = "local"


@attrs.define(kw_only=True)
class GenerationContext:
    """Everything a generator may use besides the procedure itself.

    ``variants`` is how many drafts are wanted; ``rng`` is seeded from the run's seed, the
    procedure and the generator, so a run is reproducible; ``related`` holds procedures from other
    projects, best match first; ``hints`` are adaptation notes such as ``"avoid: ..."``. ``llm`` is
    the generator's model route (``dreamcore.llm.hub.LLM``) in llm or both mode, None in local mode;
    answers that yield no draft are kept with :meth:`reject` and stored with the run.
    """

    procedure: Procedure
    variants: int
    rng: random.Random
    seed: int
    related: Sequence[Procedure] = ()
    hints: Sequence[str] = ()
    llm: LLM | None = None
    dream_type: str = ""
    rejections: list[RejectedDraft] = attrs.Factory(list)

    def reject(self, model: str, category: str, reason: str, code: str = "") -> None:
        """Record a model answer (or failed call) that produced no draft, with the reason."""
        self.rejections.append(RejectedDraft(
            base_procedure_id=self.procedure.id, dream_type=self.dream_type, model_used=model,
            category=category, reason=reason, code=code,
        ))

    @cached_property
    def source(self) -> str:
        """The procedure's source, dedented (methods lose their class indentation)."""
        return textwrap.dedent(self.procedure.source)

    @cached_property
    def analysis(self) -> DependencyAnalysis:
        """The dependency analysis of the procedure (computed on first use)."""
        return analyze_dependencies(self.source, self.procedure.name)


def seeded_rng(seed: int, procedure: Procedure, generator: str) -> random.Random:
    """A random generator that depends only on the run seed, the procedure and the generator."""
    return random.Random(f"{seed}:{procedure.project}:{procedure.module}:{procedure.qualname}:{generator}")


class DraftChecker:
    """Turns one procedure's drafts into dreams and rejections (see the module docstring).

    Raises ValueError when the base procedure itself does not parse.
    """

    def __init__(self, procedure: Procedure, policy: SafetyPolicy, run_id: int | None = None) -> None:
        self.procedure = procedure
        self.policy = policy
        self.run_id = run_id
        self._signature = signature_of(parse_function(procedure.source, procedure.name))
        self._base_fingerprint = canonical_fingerprint(procedure.source)
        self._seen: set[str] = set()

    def check(self, draft: DreamDraft, dream_type: str) -> DreamProcedure | RejectedDraft:
        """A dream ready to store, or the reason it cannot be one."""
        code = textwrap.dedent(draft.code).strip("\n") + "\n"
        fingerprint, problem = self._vet(code, draft)
        if problem is not None:
            return RejectedDraft(
                base_procedure_id=self.procedure.id,
                dream_type=dream_type,
                model_used=draft.model_used,
                category=problem[0],
                reason=problem[1],
                code=code,
                run_id=self.run_id,
            )
        return DreamProcedure(
            base_procedure_id=self.procedure.id,
            base_procedure_name=self.procedure.qualname,
            dream_type=dream_type,
            code=code,
            model_used=draft.model_used,
            reasoning=draft.reasoning,
            generated_description=draft.description,
            fingerprint=fingerprint,
            run_id=self.run_id,
        )

    def _vet(self, code: str, draft: DreamDraft) -> tuple[str, tuple[str, str] | None]:
        """(canonical fingerprint, None) for a good draft, or ("", (category, reason))."""
        if not draft.description.strip() or not draft.reasoning.strip():
            return "", ("incomplete", "no description or reasoning")
        try:
            function = parse_function(code, self.procedure.name)
        except ValueError as exc:
            category = "syntax" if str(exc).startswith("source does not parse") else "missing_function"
            return "", (category, str(exc))
        signature = signature_of(function)
        if signature != self._signature:
            return "", ("signature", f"signature changed from {self._signature} to {signature}")
        verdict = check_code(code, self.policy)
        if not verdict.ok:
            return "", ("unsafe", "; ".join(verdict.reasons))
        fingerprint = canonical_fingerprint(code)
        if fingerprint == self._base_fingerprint:
            return "", ("unchanged", "behaves like the base: same code once formatting is ignored")
        if fingerprint in self._seen:
            return "", ("duplicate", "same code as another draft of this run")
        self._seen.add(fingerprint)
        return fingerprint, None


T = TypeVar("T")


def new_code(code: str, seen: set[str]) -> bool:
    """True the first time code with this syntax tree is met (formatting ignored), recording it in
    ``seen``; False for a repeat or for code that does not parse."""
    try:
        dumped = ast.dump(ast.parse(code))
    except SyntaxError:
        return False
    if dumped in seen:
        return False
    seen.add(dumped)
    return True


def round_robin(groups: Sequence[Sequence[T]], limit: int) -> list[T]:
    """The first item of every group, then the second of every group, and so on: at most ``limit``."""
    chosen: list[T] = []
    for layer in itertools.zip_longest(*groups):
        chosen += [item for item in layer if item is not None][: limit - len(chosen)]
    return chosen
