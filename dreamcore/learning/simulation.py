"""``dreamcore adapt --simulate``: the real allocator against simulated arms with known yields.

ARMS.json: ``{"budget_per_cycle": 100, "arms": [{"dream_type": "parameter", "model": "local",
"domain": "billing", "yield": 0.12}, ...]}`` — ``yield`` is the probability that a dream of the arm
is a success. Three policies spend the same budget every cycle: adaptive (``make_plan`` on the
posteriors of what it saw so far), uniform (equal shares) and oracle (everything on the best arm);
all draw from the same outcome sequence per arm (``World``), seeded from ``seed``.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import attrs

from dreamcore.errors import DreamcoreError
from dreamcore.learning.adaptation import AdaptConfig, Arm, Posterior, high_value_domains, make_plan, split

ARM_FIELDS = ("dream_type", "model", "domain", "yield")


class SimulationError(DreamcoreError):
    """A bad ARMS.json or simulation argument."""


@attrs.frozen
class ArmsSpec:
    """Simulated arms with their true yields, and the budget of each cycle."""

    budget: int
    yields: dict[Arm, float]


def parse_arms(data: Any, where: str = "ARMS.json") -> ArmsSpec:
    """Validate an ARMS.json document; a SimulationError names the first problem in one line."""
    if not isinstance(data, dict):
        raise SimulationError(f"{where}: expected an object with budget_per_cycle and arms")
    unknown = sorted(set(data) - {"budget_per_cycle", "arms"})
    if unknown:
        raise SimulationError(f"{where}: unknown field {unknown[0]!r} (expected budget_per_cycle, arms)")
    budget = data.get("budget_per_cycle")
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
        raise SimulationError(f"{where}: budget_per_cycle: expected a positive integer, got {budget!r}")
    arms = data.get("arms")
    if not isinstance(arms, list) or not arms:
        raise SimulationError(f"{where}: arms: expected a non-empty array")
    yields: dict[Arm, float] = {}
    for index, entry in enumerate(arms):
        place = f"{where}: arms[{index}]"
        if not isinstance(entry, dict):
            raise SimulationError(f"{place}: expected an object")
        extra = sorted(set(entry) - set(ARM_FIELDS))
        if extra:
            raise SimulationError(f"{place}: unknown field {extra[0]!r} (expected {', '.join(ARM_FIELDS)})")
        missing = [name for name in ARM_FIELDS if name not in entry]
        if missing:
            raise SimulationError(f"{place}: missing field {missing[0]!r}")
        names = [entry[name] for name in ARM_FIELDS[:3]]
        if not all(isinstance(name, str) and name for name in names):
            raise SimulationError(f"{place}: dream_type, model and domain must be non-empty strings")
        value = entry["yield"]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
            raise SimulationError(f"{place}: yield: expected a number between 0 and 1, got {value!r}")
        arm = Arm(*names)
        if arm in yields:
            raise SimulationError(f"{place}: duplicate arm {arm}")
        yields[arm] = float(value)
    return ArmsSpec(budget, yields)


def load_arms(path: Path) -> ArmsSpec:
    """Read and validate an ARMS.json file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SimulationError(f"{path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise SimulationError(f"{path}: not valid UTF-8") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SimulationError(f"{path}: invalid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    return parse_arms(data, str(path))


class World:
    """The simulated arms' outcomes: the n-th dream of an arm succeeds or fails the same way whichever
    policy asks for it (common random numbers, so the policies are compared on the same luck)."""

    def __init__(self, spec: ArmsSpec, seed: int) -> None:
        self.spec = spec
        self._streams = {arm: random.Random(f"{seed}:{arm}") for arm in spec.yields}
        self._draws: dict[Arm, list[float]] = {arm: [] for arm in spec.yields}

    def policy(self) -> dict[Arm, int]:
        """A fresh position in every arm's outcome sequence, for one policy."""
        return dict.fromkeys(self.spec.yields, 0)

    def pull(self, position: dict[Arm, int], arm: Arm, count: int) -> int:
        """Successes of the next ``count`` dreams of ``arm`` for the policy at ``position``."""
        draws, start = self._draws[arm], position[arm]
        while len(draws) < start + count:
            draws.append(self._streams[arm].random())
        position[arm] = start + count
        return sum(1 for u in draws[start : start + count] if u < self.spec.yields[arm])


def simulate(spec: ArmsSpec, cycles: int, seed: int, config: AdaptConfig | None = None) -> dict[str, Any]:
    """Cumulative successes of the adaptive, uniform and oracle policies over ``cycles`` cycles,
    and the high-value domains the adaptive policy found."""
    if cycles < 1:
        raise SimulationError(f"--cycles: expected a positive number, got {cycles}")
    config = config or AdaptConfig()
    arms = sorted(spec.yields)
    planner = random.Random(f"{seed}:plan")
    world = World(spec, seed)
    positions = {name: world.policy() for name in ("adaptive", "uniform", "oracle")}
    uniform = split(spec.budget, dict.fromkeys(arms, 1.0), {}, dict.fromkeys(arms, spec.budget))
    best = max(arms, key=lambda arm: (spec.yields[arm], arm))
    oracle = {arm: spec.budget if arm == best else 0 for arm in arms}
    posteriors = {arm: Posterior() for arm in arms}
    totals = dict.fromkeys(positions, 0)
    for _ in range(cycles):
        plan = make_plan(posteriors, {}, config, budget=spec.budget, cap=spec.budget, rng=planner)
        adaptive = {Arm(d.dream_type, d.model, d.domain): d.variants for d in plan.decisions}
        for name, allocation in (("adaptive", adaptive), ("uniform", uniform), ("oracle", oracle)):
            for arm in arms:
                count = allocation[arm]
                won = world.pull(positions[name], arm, count)
                totals[name] += won
                if name == "adaptive":
                    posteriors[arm].add(1.0, won)
                    posteriors[arm].add(0.0, count - won)
    return {
        **totals,
        "high_value_domains": sorted(high_value_domains(posteriors, config.high_value_z)),
        "cycles": cycles,
        "seed": seed,
        "budget_per_cycle": spec.budget,
        "final_allocation": {str(arm): adaptive[arm] for arm in arms},
    }
