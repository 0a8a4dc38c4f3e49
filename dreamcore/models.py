"""The data dreamcore keeps: procedures, dreams, generation runs and health metrics.

Enums carry the seed's values. Models are attrs classes; enum fields convert from their stored
values, so a row read back from the database becomes the same object that was written.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

import attrs

from dreamcore.errors import DreamcoreError


class DreamType(enum.StrEnum):
    """The four built-in dream types. Third-party generators may add their own type names."""

    CONSTRAINT_RELAXATION = "constraint_relaxation"
    CROSS_PROJECT = "cross_project"
    PARAMETER = "parameter"
    CONDITIONAL = "conditional"

    @classmethod
    def _missing_(cls, value: object) -> DreamType | None:
        return _TYPE_ALIASES.get(str(value))


_TYPE_ALIASES = {
    "cross_project_synthesis": DreamType.CROSS_PROJECT,
    "parameter_exploration": DreamType.PARAMETER,
    "conditional_variant": DreamType.CONDITIONAL,
}


class DreamStatus(enum.StrEnum):
    """A dream's place in the pipeline."""

    PENDING_EVALUATION = "pending_evaluation"
    EVALUATED = "evaluated"
    PENDING_TEST = "pending_test"
    TESTED = "tested"
    ARCHIVED = "archived"


class DreamTier(enum.IntEnum):
    """The judge's verdict: 1 viable (ready to test), 2 speculative, 3 archive."""

    VIABLE = 1
    SPECULATIVE = 2
    ARCHIVE = 3


class TestOutcome(enum.StrEnum):
    """Result of a dream's differential tests."""

    __test__ = False  # not a pytest test class

    PENDING = "pending"
    SUCCESS = "success"
    FAILURE = "failure"
    ERROR = "error"
    TIMEOUT = "timeout"


def is_success(tier: int | None, test_outcome: str) -> bool:
    """The one definition of a successful dream: it passed its tests, or, untested, the judge rated it
    tier 1. Health's return on spend counts these; the adaptive loop's reward is 1 for them when tested."""
    if test_outcome == TestOutcome.PENDING.value:
        return tier == int(DreamTier.VIABLE)
    return test_outcome == TestOutcome.SUCCESS.value


def utcnow() -> datetime:
    """The current time, timezone-aware UTC (every timestamp dreamcore writes)."""
    return datetime.now(UTC)


def _optional(enum_cls: type[enum.Enum]):
    return attrs.converters.optional(enum_cls)


def _dream_type_name(value: str | DreamType) -> str:
    """Built-in names (and the seed's long aliases) normalise to DreamType; others stay strings."""
    try:
        return DreamType(value)
    except ValueError:
        return str(value)


@attrs.define(kw_only=True)
class Procedure:
    """A function or method mined from a codebase: the base a dream varies.

    ``qualname`` is unique within its module: a name defined twice there carries ``@2``, ``@3``.
    """

    project: str
    module: str
    qualname: str
    source: str
    signature: str = ""
    docstring: str | None = None
    file_path: str | None = None
    line_start: int | None = None
    line_end: int | None = None
    fingerprint: str = ""
    decorators: list[str] = attrs.Factory(list)
    imports: list[str] = attrs.Factory(list)
    previous_id: int | None = None
    discovered_at: datetime = attrs.Factory(utcnow)
    id: int | None = None

    @property
    def name(self) -> str:
        """The bare function name (last part of the qualified name, without a ``@2`` repeat suffix)."""
        return self.qualname.rsplit(".", 1)[-1].split("@", 1)[0]


@attrs.frozen
class SourceProblem:
    """Something a procedure source could not read: reported with its place, never a crash."""

    path: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        place = f"{self.path}:{self.line}" if self.line is not None else self.path
        return f"{place}: {self.message}"


SCORE_COMPONENTS = ("novelty", "quality", "leverage", "efficiency")
"""The compound score's built-in components; each has a column (``<c>_score``, ``<c>_component``)."""

DREAM_REF_PREFIX = "D-"
_MAX_ID = 2**63 - 1  # the largest id a store column holds


def dream_ref(dream_id: int) -> str:
    """How a dream is named to people and judges: ``D-12``."""
    return f"{DREAM_REF_PREFIX}{dream_id}"


def parse_dream_ref(text: str) -> int:
    """``12`` or ``D-12`` (any case) -> 12; anything else is a one-line DreamcoreError."""
    raw = text.strip()
    if raw.upper().startswith(DREAM_REF_PREFIX):
        raw = raw[len(DREAM_REF_PREFIX):]
    if not (raw.isascii() and raw.isdigit()) or int(raw) > _MAX_ID:
        raise DreamcoreError(f"not a dream id: {text!r} (expected a number like 12 or D-12)")
    return int(raw)


@attrs.define(kw_only=True)
class DreamProcedure:
    """A dream: one generated variant of a procedure, with its evaluation, test and scores."""

    base_procedure_id: int
    base_procedure_name: str
    dream_type: str = attrs.field(converter=_dream_type_name)
    code: str
    model_used: str = "local"
    reasoning: str = ""
    generated_description: str = ""
    status: DreamStatus = attrs.field(default=DreamStatus.PENDING_EVALUATION, converter=DreamStatus)
    tier: DreamTier | None = attrs.field(default=None, converter=_optional(DreamTier))
    viability_score: float | None = None
    claude_reasoning: str | None = None
    test_outcome: TestOutcome = attrs.field(default=TestOutcome.PENDING, converter=TestOutcome)
    test_error: str | None = None
    test_timestamp: datetime | None = None
    novelty_score: float | None = None
    cross_project_matches: int = 0
    effectiveness_metric: float | None = None
    failure_category: str | None = None
    equivalence_rate: float | None = None
    speedup: float | None = None
    test_cases: int = 0
    quality_score: float | None = None
    leverage_score: float | None = None
    efficiency_score: float | None = None
    extra_scores: dict[str, float | None] = attrs.Factory(dict)  # components a scorer plugin adds
    compound_score: float | None = None
    base_callers: int | None = None
    scored_at: datetime | None = None
    generated_at: datetime = attrs.Factory(utcnow)
    evaluated_at: datetime | None = None
    created_by: str = "dream_system"
    fingerprint: str = ""
    run_id: int | None = None
    eval_attempts: int = 0
    last_error: str | None = None
    claimed_by: str | None = None
    claimed_at: datetime | None = None
    id: int | None = None


@attrs.define(kw_only=True)
class DreamGenerationRun:
    """One generation cycle: what it made, how long it took, which models it called.

    ``dreams_by_type`` holds the seed's per-type counts (and those of third-party types);
    ``model_usage`` maps a model name to its counters (calls, tokens, cost); ``stages`` a stage's
    name to its figures (the run summary's); ``executor`` names where its work ran.
    """

    strategy: str
    timestamp: datetime = attrs.Factory(utcnow)
    total_dreams_generated: int = 0
    dreams_by_type: dict[str, int] = attrs.Factory(dict)
    rejected_by_reason: dict[str, int] = attrs.Factory(dict)
    duration_seconds: float = 0.0
    model_usage: dict[str, Any] = attrs.Factory(dict)
    status: str = "running"
    finished_at: datetime | None = None
    seed: int | None = None
    stop_reason: str | None = None
    executor: str = "local"
    stages: dict[str, Any] = attrs.Factory(dict)
    id: int | None = None


@attrs.define(kw_only=True)
class RejectedDraft:
    """A generated draft that did not become a dream, kept with the reason it was turned down."""

    base_procedure_id: int
    dream_type: str
    model_used: str
    category: str
    reason: str
    code: str = ""
    run_id: int | None = None
    created_at: datetime = attrs.Factory(utcnow)
    id: int | None = None


@attrs.define(kw_only=True)
class FailurePattern:
    """How often dreams failed their tests in one way: a category and a normalised message."""

    category: str
    pattern: str
    count: int = 0
    last_seen: datetime = attrs.Factory(utcnow)
    example_dream_id: int | None = None
    id: int | None = None


def component_scores(dream: DreamProcedure) -> dict[str, float | None]:
    """A dream's compound-score components by name: the built-in four, then any a plugin added."""
    return {c: getattr(dream, f"{c}_score") for c in SCORE_COMPONENTS} | dream.extra_scores


def metric_components(metrics: DreamMetrics) -> dict[str, float]:
    """A metrics row's component averages by name: the built-in four, then any a plugin added."""
    return {c: getattr(metrics, f"{c}_component") for c in SCORE_COMPONENTS} | metrics.extra_components


@attrs.define(kw_only=True)
class DreamMetrics:
    """System health for one cycle, with the seed's fields and its compound score."""

    timestamp: datetime = attrs.Factory(utcnow)
    run_id: int | None = None
    total_dreams: int = 0
    average_viability_score: float = 0.0
    tier1_count: int = 0
    tier2_count: int = 0
    tier3_count: int = 0
    tier1_test_success_rate: float = 0.0
    tier1_tested_count: int = 0
    average_novelty_score: float = 0.0
    high_novelty_count: int = 0
    cross_project_adoption_rate: float = 0.0
    adopted_count: int = 0
    average_generation_time: float = 0.0
    api_requests_per_dream: float = 0.0
    novelty_component: float = 0.0
    quality_component: float = 0.0
    leverage_component: float = 0.0
    efficiency_component: float = 0.0
    extra_components: dict[str, float] = attrs.Factory(dict)  # components a scorer plugin adds
    compound_health_score: float = 0.0
    id: int | None = None


@attrs.define(kw_only=True)
class ArmDecision:
    """The adaptation plan for one arm (dream type, model, domain): how many variants per procedure,
    at what temperature, with which hints, and why."""

    dream_type: str
    model: str
    domain: str
    variants: int
    temperature: float
    alpha: float
    beta: float
    dreams: int
    share: float
    high_value: bool = False
    hints: list[str] = attrs.Factory(list)
    reason: str = ""


@attrs.define(kw_only=True)
class AdaptationPlan:
    """What the adapt stage decided for the next cycle: one decision per arm and the plan's reason."""

    mode: str
    budget: int
    reason: str
    decisions: list[ArmDecision] = attrs.Factory(list)
    run_id: int | None = None
    created_at: datetime = attrs.Factory(utcnow)
    id: int | None = None
