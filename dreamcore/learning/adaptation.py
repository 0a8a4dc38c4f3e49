"""Adaptive tightening: a Thompson-sampling bandit over arms (dream type, model, domain).

Each arm's success rate has a Beta posterior (prior Beta(1, 1)) fed by the rewards of its dreams
(``reward``). The next cycle's budget — the strategy's variants times the number of arms, in
variants per procedure — is shared by probability matching: ``samples`` joint draws from the
posteriors, each arm's share being how often it drew the highest rate, after a floor of
``min_variants`` per arm so that no arm stops being measured. Thompson sampling rather than UCB:
a cycle allocates a whole batch at once, and sampling spreads a batch over the plausible best arms
where UCB would put all of it on one; it also needs no tuned exploration constant.
"""

from __future__ import annotations

import fnmatch
import math
import random
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import attrs

from dreamcore.config import documented
from dreamcore.models import (
    AdaptationPlan,
    ArmDecision,
    DreamTier,
    Procedure,
    TestOutcome,
    is_success,
    utcnow,
)

if TYPE_CHECKING:
    from dreamcore.pipeline import Cycle
    from dreamcore.store.dream_store import DreamStore

# what an untested dream is worth to its arm, by the judge's tier (a tested one is worth 1 or 0)
TIER_REWARDS = {int(DreamTier.VIABLE): 0.7, int(DreamTier.SPECULATIVE): 0.3, int(DreamTier.ARCHIVE): 0.0}
DOMAIN_KINDS = ("project", "module", "tag")
MODES = ("adaptive", "frozen", "off")


def reward(tier: int | None, test_outcome: str) -> float | None:
    """A dream's reward in [0, 1], or None while it is neither evaluated nor tested."""
    if test_outcome != TestOutcome.PENDING.value:
        return 1.0 if is_success(tier, test_outcome) else 0.0
    return TIER_REWARDS.get(tier) if tier is not None else None


@attrs.frozen(order=True)
class Arm:
    """Where a dream came from: its type, the model that wrote it, and its procedure's domain."""

    dream_type: str
    model: str
    domain: str

    def __str__(self) -> str:
        return f"{self.dream_type}/{self.model}/{self.domain}"


@attrs.define
class Posterior:
    """Beta(alpha, beta) over an arm's success rate, and how many dreams fed it."""

    alpha: float = 1.0
    beta: float = 1.0
    dreams: int = 0

    def add(self, value: float, count: int = 1) -> None:
        self.alpha += value * count
        self.beta += (1.0 - value) * count
        self.dreams += count

    @property
    def mean(self) -> float:
        return self.alpha / (self.alpha + self.beta)

    @property
    def std(self) -> float:
        total = self.alpha + self.beta
        return math.sqrt(self.alpha * self.beta / (total * total * (total + 1)))


def arm_model(generator: Any) -> str:
    """The model an arm of this generator is keyed by: its ``model`` (or its config's), else "local"."""
    model = getattr(generator, "model", None) or getattr(getattr(generator, "config", None), "model", None)
    return str(model) if isinstance(model, str) and model else "local"


class Domains:
    """Maps procedures to domains: their project, their module, or a tag (``tags``: tag -> glob
    patterns over "module.qualname"; the first tag with a matching pattern, else "untagged")."""

    def __init__(self, kind: str, tags: Mapping[str, Sequence[str]]) -> None:
        self.kind = kind
        self.tags = tags

    def of(self, procedure: Procedure) -> str:
        if self.kind == "project":
            return procedure.project
        if self.kind == "module":
            return procedure.module
        name = f"{procedure.module}.{procedure.qualname}"
        for tag, patterns in self.tags.items():
            if any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns):
                return tag
        return "untagged"


def _choice(values: tuple[str, ...]):
    def check(instance: Any, attribute: attrs.Attribute, value: str) -> None:
        if value not in values:
            raise ValueError(f"{attribute.name}: unknown value {value!r} (expected {', '.join(values)})")

    return check


def _tags(instance: Any, attribute: attrs.Attribute, value: list[str]) -> None:
    for entry in value:
        if "=" not in entry or not entry.split("=", 1)[0].strip():
            raise ValueError(f"tags: expected \"tag=glob\", got {entry!r}")


def _forget_before(instance: Any, attribute: attrs.Attribute, value: str) -> None:
    if value:
        _parse_time(value)


def _parse_time(text: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"forget_before: not an ISO date or time: {text!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=utcnow().tzinfo)


@attrs.define(kw_only=True)
class AdaptConfig:
    """[plugins.adapt]: how the next cycle's variants are shared among arms."""

    mode: str = attrs.field(default="adaptive", validator=_choice(MODES), metadata=documented(
        "adaptive (plan every cycle), frozen (keep the last plan) or off (every arm gets the strategy's variants)"))
    domain: str = attrs.field(default="project", validator=_choice(DOMAIN_KINDS), metadata=documented(
        "what a domain is: project, module or tag (see tags)"))
    tags: list[str] = attrs.field(factory=list, validator=_tags, metadata=documented(
        'for domain = "tag": "tag=glob" entries over "module.qualname" (first match wins, else "untagged")'))
    memory_days: int = attrs.field(default=30, validator=attrs.validators.ge(1), metadata=documented(
        "only dreams of the last N days feed the posteriors"))
    forget_before: str = attrs.field(default="", validator=_forget_before, metadata=documented(
        'reset: ignore dreams generated before this ISO date or time ("" = keep everything)'))
    min_variants: int = attrs.field(default=1, validator=attrs.validators.ge(0), metadata=documented(
        "variants per procedure an arm keeps while it is being explored (exploration floor)"))
    explore_until: int = attrs.field(default=10, validator=attrs.validators.ge(0), metadata=documented(
        "an arm is explored until this many of its dreams were rewarded"))
    max_variants_factor: float = attrs.field(default=3.0, validator=attrs.validators.ge(1.0), metadata=documented(
        "an arm gets at most this many times the strategy's variants"))
    samples: int = attrs.field(default=400, validator=attrs.validators.ge(10), metadata=documented(
        "Thompson draws per plan"))
    high_value_z: float = attrs.field(default=2.0, validator=attrs.validators.ge(0.0), metadata=documented(
        "a domain is high-value when its best arm's mean minus this many deviations beats the average arm"))
    temperature_min: float = attrs.field(default=0.2, validator=attrs.validators.ge(0.0), metadata=documented(
        "temperature of an arm that always succeeds"))
    temperature_max: float = attrs.field(default=1.0, validator=attrs.validators.ge(0.0), metadata=documented(
        "temperature of an arm that never succeeds"))
    high_value_factor: int = attrs.field(default=2, validator=attrs.validators.ge(1), metadata=documented(
        "arms of high-value domains may take this many times the per-arm cap"))
    max_hints: int = attrs.field(default=3, validator=attrs.validators.ge(0), metadata=documented(
        "failure hints ('avoid: ...') per arm"))
    min_failures: int = attrs.field(default=2, validator=attrs.validators.ge(1), metadata=documented(
        "failures of one category an arm needs before it becomes a hint"))

    def __attrs_post_init__(self) -> None:
        if self.temperature_min > self.temperature_max:
            raise ValueError(f"temperature_min {self.temperature_min:g} > temperature_max {self.temperature_max:g}")

    def domains(self) -> Domains:
        tags: dict[str, list[str]] = {}
        for entry in self.tags:
            tag, pattern = entry.split("=", 1)
            tags.setdefault(tag.strip(), []).append(pattern.strip())
        return Domains(self.domain, tags)

    def since(self, now: datetime) -> datetime:
        """Evidence starts here: ``memory_days`` ago, or at ``forget_before`` if later."""
        start = now - timedelta(days=self.memory_days)
        return max(start, _parse_time(self.forget_before)) if self.forget_before else start


# -- allocation -------------------------------------------------------------------------------


def thompson_shares(posteriors: Mapping[Arm, Posterior], samples: int, rng: random.Random) -> dict[Arm, float]:
    """How often each arm draws the highest success rate in ``samples`` joint posterior draws."""
    arms = sorted(posteriors)
    wins = dict.fromkeys(arms, 0)
    draw = rng.betavariate
    params = [(arm, posteriors[arm].alpha, posteriors[arm].beta) for arm in arms]
    for _ in range(samples):
        best_arm, best = None, -1.0
        for arm, a, b in params:
            value = draw(a, b)
            if value > best:
                best_arm, best = arm, value
        wins[best_arm] += 1
    return {arm: wins[arm] / samples for arm in arms}


def split(budget: int, shares: Mapping[Arm, float], floors: Mapping[Arm, int], caps: Mapping[Arm, int]) -> dict[Arm, int]:
    """Whole variants per arm: its floor first (all floors cut to an equal part when the budget is
    short), the rest by share with largest remainders, no arm above its cap, at most ``budget`` in all."""
    arms = sorted(shares)
    if not arms:
        return {}
    if sum(floors.values()) > budget:
        floors = dict.fromkeys(arms, budget // len(arms))
    counts = {arm: min(floors.get(arm, 0), caps[arm]) for arm in arms}
    left = budget - sum(counts.values())
    while left > 0:
        open_arms = [arm for arm in arms if counts[arm] < caps[arm] and shares[arm] > 0]
        if not open_arms:
            break
        weight = sum(shares[arm] for arm in open_arms)
        exact = {arm: left * shares[arm] / weight for arm in open_arms}
        given = {arm: min(caps[arm] - counts[arm], math.floor(exact[arm])) for arm in open_arms}
        spare = left - sum(given.values())
        for arm in sorted(open_arms, key=lambda arm: (math.floor(exact[arm]) - exact[arm], arm)):
            if spare > 0 and counts[arm] + given[arm] < caps[arm]:
                given[arm] += 1
                spare -= 1
        if not any(given.values()):
            break
        for arm, extra in given.items():
            counts[arm] += extra
        left -= sum(given.values())
    return counts


def high_value_domains(posteriors: Mapping[Arm, Posterior], z: float) -> dict[str, str]:
    """Domains whose best arm is credibly better than the average arm, with the reason for each."""
    if not posteriors:
        return {}
    average = sum(p.mean for p in posteriors.values()) / len(posteriors)
    best: dict[str, tuple[float, Arm]] = {}
    for arm, posterior in posteriors.items():
        bound = posterior.mean - z * posterior.std
        if arm.domain not in best or bound > best[arm.domain][0]:
            best[arm.domain] = (bound, arm)
    return {
        domain: f"best arm {arm} has mean - {z:g} sd {bound:.3f} > average arm {average:.3f}"
        for domain, (bound, arm) in sorted(best.items())
        if bound > average
    }


# -- plans from the store ---------------------------------------------------------------------


def collect_posteriors(
    store: DreamStore, procedures: Mapping[int, Procedure], domains: Domains, since: datetime
) -> dict[Arm, Posterior]:
    """Each arm's posterior from the rewards of its dreams generated from ``since`` on."""
    posteriors: dict[Arm, Posterior] = {}
    for _, dream_type, model, base_id, tier, outcome, count in store.dream_outcomes(since):
        value = reward(tier, outcome)
        base = procedures.get(base_id)
        if value is None or base is None:
            continue
        posteriors.setdefault(Arm(dream_type, model, domains.of(base)), Posterior()).add(value, count)
    return posteriors


def collect_hints(
    store: DreamStore, procedures: Mapping[int, Procedure], domains: Domains, since: datetime, config: AdaptConfig
) -> dict[Arm, list[str]]:
    """'avoid: ...' hints per arm from its most frequent rejection and test-failure categories."""
    totals: dict[Arm, dict[str, list]] = {}
    for dream_type, model, base_id, category, count, example in store.failure_counts(since):
        base = procedures.get(base_id)
        if base is None:
            continue
        per_category = totals.setdefault(Arm(dream_type, model, domains.of(base)), {})
        entry = per_category.setdefault(category, [0, example])
        entry[0] += count
    hints = {}
    for arm, per_category in totals.items():
        frequent = sorted(((-n, category, example) for category, (n, example) in per_category.items()
                           if n >= config.min_failures))[: config.max_hints]
        hints[arm] = [_hint(category, -n, example) for n, category, example in frequent]
    return hints


def _hint(category: str, count: int, example: str) -> str:
    example = " ".join(str(example).split())
    example = example if len(example) <= 90 else example[:89] + "…"
    return f"avoid: {category} ({count} times{', e.g. ' + example if example else ''})"


def make_plan(
    posteriors: Mapping[Arm, Posterior], hints: Mapping[Arm, list[str]], config: AdaptConfig, *, budget: int,
    cap: int, rng: random.Random,
) -> AdaptationPlan:
    """The next cycle's plan: ``budget`` variants shared among the arms by Thompson sampling (at most
    ``cap`` each, the arms of high-value domains ``high_value_factor`` times that); arms with fewer than
    ``explore_until`` rewarded dreams get at least ``min_variants``. Each decision comes with its reason."""
    informed = any(p.dreams for p in posteriors.values())
    if informed:
        shares = thompson_shares(posteriors, config.samples, rng)
    else:  # nothing learnt yet: every arm is the same prior, so no draw should favour one
        shares = {arm: 1 / len(posteriors) for arm in posteriors}
    valuable = high_value_domains(posteriors, config.high_value_z)
    floors = {
        arm: config.min_variants if p.dreams < config.explore_until else 0
        for arm, p in posteriors.items()
    }
    caps = {arm: min(budget, cap * config.high_value_factor) if arm.domain in valuable else cap for arm in posteriors}
    counts = split(budget, shares, floors, caps)
    decisions = []
    for arm in sorted(posteriors):
        p = posteriors[arm]
        temperature = config.temperature_min + (config.temperature_max - config.temperature_min) * (1 - p.mean)
        reason = (f"posterior mean {p.mean:.3f} from {p.dreams} dreams (alpha {p.alpha:.1f}, beta {p.beta:.1f}); "
                  f"share {shares[arm]:.0%}{f' of {config.samples} draws' if informed else ''} -> "
                  f"{counts[arm]} variants; "
                  f"temperature {temperature:.2f}")
        if arm.domain in valuable:
            reason += f"; high-value domain ({valuable[arm.domain]}): cap {caps[arm]}"
        if floors[arm]:
            reason += f"; exploring (fewer than {config.explore_until} rewarded dreams): floor {floors[arm]}"
        decisions.append(ArmDecision(
            dream_type=arm.dream_type, model=arm.model, domain=arm.domain, variants=counts[arm],
            temperature=round(temperature, 4), alpha=p.alpha, beta=p.beta, dreams=p.dreams,
            share=shares[arm], high_value=arm.domain in valuable, hints=list(hints.get(arm, [])), reason=reason,
        ))
    evidence = sum(p.dreams for p in posteriors.values())
    method = "Thompson sampling" if informed else "no rewarded dreams yet: equal shares"
    reason = (f"{method} over {len(posteriors)} arms from {evidence} rewarded dreams; budget {budget}, "
              f"at most {cap} per arm; {len(valuable)} high-value domains")
    return AdaptationPlan(mode=config.mode, budget=budget, reason=reason, decisions=decisions)


def candidate_arms(cycle_generators: Iterable[Any], procedures: Iterable[Procedure], domains: Domains) -> set[Arm]:
    """The arms a cycle can pull: each generator over each domain of the current procedures."""
    names = {domains.of(p) for p in procedures}
    return {Arm(g.dream_type, arm_model(g), domain) for g in cycle_generators for domain in names}


# -- what the generate stage reads ------------------------------------------------------------


@attrs.frozen
class ArmSettings:
    """What the generate stage uses for one (procedure, generator): variants, hints, temperature."""

    variants: int
    hints: tuple[str, ...] = ()
    temperature: float | None = None


class PlanLookup:
    """The stored plan as settings per arm; arms the plan does not know get the strategy's defaults."""

    def __init__(self, plan: AdaptationPlan | None, domains: Domains | None, default_variants: int) -> None:
        self.plan = plan
        self.domains = domains
        self.default = ArmSettings(default_variants)
        self._by_arm = {
            Arm(d.dream_type, d.model, d.domain): ArmSettings(d.variants, tuple(d.hints), d.temperature)
            for d in (plan.decisions if plan else ())
        }

    @classmethod
    def for_cycle(cls, cycle: Cycle) -> PlanLookup:
        """The lookup of the newest stored plan (none in a dry run, or with adaptation off)."""
        core = cycle.core
        if cycle.dry_run or "adapt" not in core.plugins.components("stages"):
            return cls(None, None, cycle.strategy.variants)
        config = core.component_config("stages", "adapt") or AdaptConfig()
        if config.mode == "off":
            return cls(None, None, cycle.strategy.variants)
        return cls(core.store.latest_plan(), config.domains(), cycle.strategy.variants)

    def settings(self, procedure: Procedure, generator: Any) -> ArmSettings:
        """The settings of the arm (generator's type and model, procedure's domain)."""
        if self.domains is None:
            return self.default
        arm = Arm(generator.dream_type, arm_model(generator), self.domains.of(procedure))
        return self._by_arm.get(arm, self.default)
