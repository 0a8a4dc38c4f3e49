"""Pipeline stage ``evaluate`` (order 30): judge the pending dreams with the evaluator chosen in
``[evaluation] evaluator``.

No claims: each batch's results are written as it ends and applying is conditional, so a killed run
re-evaluates only what is still pending, and two runs at once never judge a dream twice. The judge's
token counts and cost are added to the run's stored ``model_usage`` when the stage ends; failed
batches go into ``cycle.failures``. With ``cycle.dream_batch`` (a distributed job) only those dreams
are judged.
"""

from __future__ import annotations

from dreamcore.evaluation.judging import STAGE, evaluate_pending, judge_dreams
from dreamcore.hookspecs import hookimpl
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
        if cycle.dream_batch is None:
            outcome = await evaluate_pending(core, evaluator, progress=cycle.progress, models=cycle.models)
        else:  # a distributed evaluation job's share, judged as one batch
            outcome = await judge_dreams(core, evaluator, sorted(cycle.dream_batch), models=cycle.models)
        if outcome.usage:
            cycle.run.model_usage = core.store.add_run_figures(cycle.run.id, "model_usage", outcome.usage)
        cycle.failures += outcome.failures
        cycle.report[self.name] = {"evaluator": evaluator.name, **outcome.report()}


@hookimpl
def register_stages(register) -> None:
    register(EvaluateStage)
