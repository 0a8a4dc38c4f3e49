"""Pipeline stage ``evaluate`` (order 30): judge the pending dreams with the evaluator chosen in
``[evaluation] evaluator``.

No claims: each batch's results are written as it ends and applying is conditional, so a killed run
re-evaluates only what is still pending, and two runs at once never judge a dream twice. The judge's
token counts and cost go into the run's ``model_usage``; failed batches into ``cycle.failures``.
"""

from __future__ import annotations

from dreamcore import hookimpl
from dreamcore.judging import STAGE, evaluate_pending
from dreamcore.pipeline import Cycle


class EvaluateStage:
    """Judge pending dreams: tier, viability score and reasoning for each."""

    name = STAGE
    order = 30

    async def run(self, cycle: Cycle) -> None:
        if cycle.dry_run:
            cycle.progress.note(f"{self.name}: skipped (dry run: nothing was stored)")
            return
        core = cycle.core
        evaluator = core.create("evaluators", core.config.evaluation.evaluator)
        outcome = await evaluate_pending(core, evaluator, progress=cycle.progress, models=cycle.models)
        for model, counters in outcome.usage.items():
            known = cycle.run.model_usage.setdefault(model, {})
            for key, value in counters.items():
                known[key] = known.get(key, 0) + value
        cycle.failures += outcome.failures
        cycle.report[self.name] = {"evaluator": evaluator.name, **outcome.report()}


@hookimpl
def register_stages(register) -> None:
    register(EvaluateStage)
