"""How a generator reaches a language model: the types models speak, the errors they raise, a per-run
USD budget, usage accounting, and the binding of a generator's route to a model provider.

A *model provider* is a plugin component (``register_models``) with
``async complete(models, messages, *, temperature, max_tokens) -> Completion``: ``models`` is the route's
chain (first choice, then fallbacks) and the provider decides how to walk it. The core never names a
model: routes (which models, temperature, max_tokens, variants per call) are each generator's config,
:class:`LLMOptions`. During a cycle one :class:`ModelHub` owns the budget, the usage ledger and the
provider instances; :meth:`ModelHub.bind` gives a generator an :class:`LLM` whose ``complete(messages)``
checks the budget, calls the provider and books the usage.
"""

from __future__ import annotations

import string
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from dreamcore.errors import ConfigError
from dreamcore.llm.limits import Gate, LocalGate

if TYPE_CHECKING:
    from dreamcore.core import DreamCore

MODES = ("local", "llm", "both")
CALL_COUNTERS = ("calls", "errors", "prompt_tokens", "completion_tokens", "cost_usd", "seconds")


# -- what a model returns ----------------------------------------------------------------------


@attrs.frozen
class Usage:
    """Tokens and cost (USD, as the provider reports it; 0 when it does not) of one completion."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0


@attrs.frozen
class Completion:
    """A model's answer: its text, the model that actually served it, usage and latency (seconds)."""

    text: str
    model: str
    usage: Usage = Usage()
    latency: float = 0.0


# -- errors ------------------------------------------------------------------------------------


class ModelError(Exception):
    """A model call that produced no usable answer. ``category`` names the kind (see the subclasses);
    ``model`` the model concerned; ``retryable`` whether trying again may help. Messages never carry
    credentials."""

    category = "model_error"
    retryable = False

    def __init__(self, message: str, *, model: str = "", retry_after: float | None = None) -> None:
        super().__init__(message)
        self.model = model
        self.retry_after = retry_after


class AuthError(ModelError):
    """The API key was refused (HTTP 401)."""

    category = "auth"


class CreditsError(ModelError):
    """The account or key is out of credits (HTTP 402)."""

    category = "credits"


class ModerationError(ModelError):
    """The provider's moderation refused the input (HTTP 403)."""

    category = "moderation"


class BadRequestError(ModelError):
    """The request was invalid for this model (HTTP 400, 404, 413, 422)."""

    category = "bad_request"


class RateLimitedError(ModelError):
    """Too many requests (HTTP 429); ``retry_after`` holds the server's wish when it gave one."""

    category = "rate_limited"
    retryable = True


class ServerError(ModelError):
    """The provider or the connection failed (HTTP 5xx, connection refused or reset)."""

    category = "server"
    retryable = True


class ModelTimeout(ModelError):
    """No complete answer in time (HTTP 408, a read timeout, the call's total timeout)."""

    category = "timeout"
    retryable = True


class BadResponseError(ModelError):
    """An answer that is not a usable completion: malformed JSON, no choices, an error in a 200 body."""

    category = "bad_response"
    retryable = True


class BudgetExhausted(ModelError):
    """The run's USD budget is spent: no new calls are made."""

    category = "budget_exhausted"


# -- budget and usage --------------------------------------------------------------------------


class Budget:
    """The USD a run may spend on models, shared by all its calls. A call starts only while something
    is left; calls already in flight when the limit is reached still complete and are booked, so the
    total can pass the limit by at most the cost of those calls."""

    def __init__(self, limit_usd: float, spent_usd: float = 0.0) -> None:
        self.limit_usd = limit_usd
        self.spent_usd = spent_usd

    @property
    def exhausted(self) -> bool:
        """Whether no new call may start."""
        return self.spent_usd >= self.limit_usd

    def check(self, model: str = "") -> None:
        """Raise BudgetExhausted when no new call may start."""
        if self.exhausted:
            raise BudgetExhausted(
                f"budget of ${self.limit_usd:g} spent (${self.spent_usd:.4f}); no new model calls", model=model
            )

    def charge(self, cost_usd: float) -> None:
        """Book the cost of a finished call."""
        self.spent_usd += max(cost_usd, 0.0)

    async def reserve(self, model: str) -> float:
        """Before a call: raise BudgetExhausted when it may not start; returns the USD set aside for it
        (nothing here; a budget shared by workers sets aside what the call may cost)."""
        self.check(model)
        return 0.0

    async def settle(self, reserved: float, cost_usd: float | None) -> None:
        """After a call: book its cost (None when it failed) and free what ``reserve`` set aside."""
        self.charge(cost_usd or 0.0)


class UsageLedger:
    """Model calls summed per model: calls, errors, tokens, cost and seconds (see CALL_COUNTERS)."""

    def __init__(self, prior: dict[str, Any] | None = None) -> None:
        self.by_model: dict[str, dict[str, float]] = {}
        for model, counters in (prior or {}).items():
            if isinstance(counters, dict) and any(key in counters for key in CALL_COUNTERS):
                self.by_model[model] = {key: counters.get(key, 0) for key in CALL_COUNTERS}
        self._saved = {model: dict(counters) for model, counters in self.by_model.items()}

    def _counters(self, model: str) -> dict[str, float]:
        return self.by_model.setdefault(model, {key: 0 for key in CALL_COUNTERS})

    def record(self, completion: Completion) -> None:
        """Book one successful completion under the model that served it."""
        counters = self._counters(completion.model)
        counters["calls"] += 1
        counters["prompt_tokens"] += completion.usage.prompt_tokens
        counters["completion_tokens"] += completion.usage.completion_tokens
        counters["cost_usd"] += completion.usage.cost
        counters["seconds"] += completion.latency

    def record_error(self, model: str, seconds: float) -> None:
        """Book one call that ended in a ModelError."""
        counters = self._counters(model)
        counters["errors"] += 1
        counters["seconds"] += seconds

    def take_unsaved(self) -> dict[str, dict[str, float]]:
        """The counters booked since the last call (or since ``prior``), per model; marks them saved."""
        delta = {}
        for model, counters in self.by_model.items():
            saved = self._saved.get(model, {})
            changed = {key: value - saved.get(key, 0) for key, value in counters.items() if value != saved.get(key, 0)}
            if changed:
                delta[model] = changed
        self._saved = {model: dict(counters) for model, counters in self.by_model.items()}
        return delta

    @property
    def total_cost(self) -> float:
        """USD booked over all models."""
        return sum(counters["cost_usd"] for counters in self.by_model.values())


# -- routes: a generator's model configuration --------------------------------------------------


def _choice(options: Sequence[str]):
    def validator(instance: Any, attribute: attrs.Attribute, value: str) -> None:
        if value not in options:
            raise ValueError(f"{attribute.name} must be one of {', '.join(options)}, got {value!r}")

    return validator


def _positive(instance: Any, attribute: attrs.Attribute, value: float) -> None:
    if value <= 0:
        raise ValueError(f"{attribute.name} must be > 0, got {value}")


@attrs.define(kw_only=True)
class LLMOptions:
    """Options a generator with an LLM mode inherits in its ``Config``: which mode, and its route.

    A generator subclasses this and overrides the defaults of ``models``, ``temperature`` and
    ``max_tokens`` with its own (the models it was designed for are config, never logic).
    """

    mode: str = attrs.field(
        default="local", validator=_choice(MODES),
        metadata={"help": "local (AST, offline), llm (a model writes the variants) or both"},
    )
    provider: str = attrs.field(default="openrouter", metadata={"help": "model provider plugin for llm mode"})
    models: list[str] = attrs.field(
        factory=list, metadata={"help": "model chain for llm mode: first choice, then fallbacks in order"}
    )
    temperature: float = attrs.field(default=0.7, metadata={"help": "sampling temperature for llm mode"})
    max_tokens: int = attrs.field(default=2000, validator=_positive,
                                  metadata={"help": "answer length limit per model call"})
    variants_per_call: int = attrs.field(
        default=10, validator=_positive, metadata={"help": "variants asked of the model in one call"}
    )
    prompt: str = attrs.field(
        default="", metadata={"help": "prompt template file (relative to dreams.toml); empty = the built-in one"}
    )

    def __attrs_post_init__(self) -> None:
        if self.mode != "local" and not self.models:
            raise ValueError(f"mode {self.mode!r} needs at least one model in models")
        if not 0 <= self.temperature <= 2:
            raise ValueError(f"temperature must be between 0 and 2, got {self.temperature}")


def route_default(name: str, value: Any) -> Any:
    """A field for a generator's ``Config(LLMOptions)`` that changes the default of option ``name``
    (a list value is copied per instance), keeping its validator and help."""
    base = getattr(attrs.fields(LLMOptions), name)
    if isinstance(value, list):
        return attrs.field(factory=lambda: list(value), validator=base.validator, metadata=base.metadata)
    return attrs.field(default=value, validator=base.validator, metadata=base.metadata)


# -- prompts -----------------------------------------------------------------------------------

USER_MARKER = "=== user ==="


@attrs.frozen
class PromptTemplate:
    """A system and a user message with ``$name`` placeholders (``string.Template``), read from a file
    whose user part starts after a line ``=== user ===``. Values are inserted verbatim, never
    re-interpreted, so procedure source cannot add placeholders."""

    system: str
    user: str
    path: str

    @classmethod
    def load(cls, path: Path, fields: Sequence[str]) -> PromptTemplate:
        """Read and check a template: ConfigError for a missing file or an unknown placeholder."""
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"prompt template {path}: cannot read ({type(exc).__name__})") from None
        system, marker, user = text.partition(f"\n{USER_MARKER}\n")
        if not marker:
            raise ConfigError(f"prompt template {path}: no line {USER_MARKER!r} separating system and user parts")
        for part in (system, user):
            template = string.Template(part)
            if not template.is_valid():
                raise ConfigError(f"prompt template {path}: a '$' that starts no placeholder (write $$ for $)")
            unknown = sorted(set(template.get_identifiers()) - set(fields))
            if unknown:
                raise ConfigError(
                    f"prompt template {path}: unknown placeholder ${unknown[0]} (known: {', '.join(fields)})"
                )
        return cls(system=system.strip(), user=user.strip(), path=str(path))

    def render(self, **values: str) -> list[dict[str, str]]:
        """Chat messages with the placeholders filled."""
        return [
            {"role": "system", "content": string.Template(self.system).safe_substitute(values)},
            {"role": "user", "content": string.Template(self.user).safe_substitute(values)},
        ]


# -- the binding -------------------------------------------------------------------------------


class LLM:
    """A generator's route bound to a provider, the run's budget and its usage ledger."""

    def __init__(self, provider: Any, options: LLMOptions, template: PromptTemplate, hub: ModelHub) -> None:
        self.provider = provider
        self.options = options
        self.template = template
        self._hub = hub

    @property
    def models(self) -> list[str]:
        """The route's model chain."""
        return list(self.options.models)

    async def complete(self, messages: list[dict[str, str]]) -> Completion:
        """One completion through the route's chain. Raises ModelError (BudgetExhausted when the budget
        is spent: the call is not made)."""
        started = time.perf_counter()
        try:
            completion = await self._hub.complete(
                self.provider, list(self.options.models), messages,
                temperature=self.options.temperature, max_tokens=self.options.max_tokens,
            )
        except BudgetExhausted:
            raise
        except ModelError as exc:
            self._hub.ledger.record_error(exc.model or self.options.models[0], time.perf_counter() - started)
            raise
        self._hub.ledger.record(completion)
        return completion


class ModelHub:
    """One cycle's model access: budget, ledger, per-model limits (``gate``), provider instances
    (created on first use, closed by :meth:`aclose`). ``prior_usage`` is a resumed run's stored
    ``model_usage``: its cost counts against the budget again. A distributed job passes the cluster's
    ``budget`` and ``gate`` (``dreamcore.distributed.limits``) instead of this process's."""

    def __init__(
        self, core: DreamCore, budget_usd: float, prior_usage: dict[str, Any] | None = None, *,
        budget: Budget | None = None, gate: Gate | None = None,
    ) -> None:
        self.core = core
        self.ledger = UsageLedger(prior_usage)
        self.budget = budget if budget is not None else Budget(budget_usd, self.ledger.total_cost)
        self.gate = gate if gate is not None else LocalGate()
        self._providers: dict[str, Any] = {}

    async def complete(
        self, provider: Any, models: list[str], messages: list[dict[str, str]], *, temperature: float,
        max_tokens: int,
    ) -> Completion:
        """One call of ``provider`` under the run's budget: refused with BudgetExhausted before it
        starts when the budget does not allow it, its cost booked when it ends."""
        reserved = await self.budget.reserve(models[0])
        cost = None
        try:
            completion = await provider.complete(models, messages, temperature=temperature, max_tokens=max_tokens)
            cost = completion.usage.cost
        finally:
            await self.budget.settle(reserved, cost)
        return completion

    @property
    def used(self) -> bool:
        """Whether any model was bound in this cycle."""
        return bool(self._providers)

    def bind(self, generator: Any) -> LLM | None:
        """The generator's LLM, or None when it has no LLM mode or is in local mode. Raises ConfigError
        (one line) for an unknown provider, a missing API key variable or a bad prompt template."""
        options = getattr(generator, "config", None)
        if not isinstance(options, LLMOptions) or options.mode == "local":
            return None
        provider = self.provider(options.provider, list(options.models), generator.name)
        path = Path(options.prompt) if options.prompt else Path(generator.prompt_file)
        if not path.is_absolute():
            path = self.core.config.base_dir / path
        template = PromptTemplate.load(path, generator.prompt_fields)
        return LLM(provider, options, template, self)

    def provider(self, name: str, models: list[str], owner: str) -> Any:
        """The model provider ``name`` (one instance per cycle), checked for ``models``. Raises
        ConfigError naming ``[plugins.<owner>]`` for an unknown provider or a missing API key."""
        if name not in self._providers:
            try:
                self._providers[name] = self.core.create("models", name)
            except Exception as exc:
                raise ConfigError(f"plugins.{owner}.provider: {exc}") from None
            share_gate = getattr(self._providers[name], "share_gate", None)
            if share_gate is not None:
                share_gate(self.gate)
        provider = self._providers[name]
        check = getattr(provider, "check", None)
        if check is not None:
            check(models)
        return provider

    @property
    def stop_reason(self) -> str | None:
        """``budget_exhausted: ...`` when the budget stopped model calls, else None."""
        if self.used and self.budget.exhausted:
            return f"budget_exhausted: spent ${self.budget.spent_usd:.4f} of ${self.budget.limit_usd:g}"
        return None

    async def aclose(self) -> None:
        """Close every provider, the gate and the budget that has an ``aclose``."""
        for part in [*self._providers.values(), self.gate, self.budget]:
            close = getattr(part, "aclose", None)
            if close is not None:
                await close()
