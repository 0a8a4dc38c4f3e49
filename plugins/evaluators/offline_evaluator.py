"""Evaluator ``offline``: the embedded default. No model is asked; a deterministic estimate from signals
that can be measured on the code, labelled as such in every dream it judges (``[offline] ...``).

The score starts at 0.5 and moves with:
- the safety gate (``dreamcore.analysis.safety.check_code``): a refused dream scores 0.05; code that does not
  parse scores 0.0;
- structural novelty (``dreamcore.analysis.shape.structural_novelty`` against the base): up to +0.25 for a
  noticeable but contained change (novelty 0.3-0.6), less outside that range, -0.25 for no change
  (the same syntax tree as the base: tier 3);
- size: up to -0.15 when the dream grows past 1.5x the base's lines (at 3x and beyond, all of it);
- complexity: -0.05 per branch point (if, loop, try, boolean operator, comprehension) added beyond
  two, at most -0.2;
- differential tests, when the dream has been tested: success +0.25 (scaled by the equivalence rate
  when known), failure -0.3, error or timeout -0.35.

The score is clamped to [0, 1] and rounded to two decimals; the tier comes from ``[evaluation]`` bands.
"""

from __future__ import annotations

import ast
import textwrap

from dreamcore import hookimpl
from dreamcore.analysis.safety import check_code
from dreamcore.analysis.shape import structural_novelty
from dreamcore.analysis.syntax import docstring_free
from dreamcore.config import SafetyPolicy
from dreamcore.evaluation.judging import EvaluationBatch, Judgement
from dreamcore.evaluation.verdicts import Evaluation
from dreamcore.models import DreamProcedure, Procedure, TestOutcome, dream_ref

REFUSED_SCORE = 0.05
_BRANCHES = (
    ast.If,
    ast.IfExp,
    ast.For,
    ast.AsyncFor,
    ast.While,
    ast.Try,
    ast.BoolOp,
    ast.comprehension,
    ast.match_case,
)
_TEST_EFFECT = {TestOutcome.FAILURE: -0.3, TestOutcome.ERROR: -0.35, TestOutcome.TIMEOUT: -0.35}


class OfflineEvaluator:
    """Scores dreams from measurable signals; no network, no model, same answer every time."""

    name = "offline"

    async def evaluate(self, batch: EvaluationBatch) -> Judgement:
        evaluations = []
        for dream in batch.dreams:
            score, reasons = estimate(dream, batch.bases[dream.base_procedure_id], batch.safety)
            reasoning = "offline estimate, no model was asked: " + "; ".join(reasons)
            evaluations.append(
                Evaluation(
                    id=dream_ref(dream.id),
                    viability_score=score,
                    tier=batch.bands.tier_for(score),
                    reasoning=reasoning,
                )
            )
        return Judgement(judge=self.name, evaluations=evaluations)


def estimate(dream: DreamProcedure, base: Procedure, policy: SafetyPolicy) -> tuple[float, list[str]]:
    """The offline viability score of a dream and the reasons for it, one per signal."""
    base_source = textwrap.dedent(base.source)
    verdict = check_code(dream.code, policy)
    if not verdict.ok:
        if verdict.reasons[0].startswith("does not parse"):
            return 0.0, [f"the code {verdict.reasons[0]}"]
        return REFUSED_SCORE, [f"refused by the safety gate: {verdict.reasons[0]}"]
    reasons = ["safety gate passed"]
    try:
        novelty = structural_novelty(dream.code, base_source)
    except ValueError:
        novelty = 1.0  # the base no longer parses: everything is new
    score = 0.5 + _novelty_effect(novelty)
    reasons.append(f"structural novelty {novelty:.2f}")
    (base_lines, base_branches), (dream_lines, dream_branches) = _measure(base_source), _measure(dream.code)
    growth = dream_lines / max(base_lines, 1)
    score -= 0.15 * min(1.0, max(0.0, growth - 1.5) / 1.5)
    reasons.append(f"{base_lines} -> {dream_lines} lines")
    score -= min(0.2, 0.05 * max(0, dream_branches - base_branches - 2))
    reasons.append(f"{base_branches} -> {dream_branches} branch points")
    score += _test_effect(dream)
    reasons.append(_test_note(dream))
    return round(min(1.0, max(0.0, score)), 2), reasons


def _novelty_effect(novelty: float) -> float:
    if novelty == 0:
        return -0.25
    if novelty < 0.3:
        return 0.25 * novelty / 0.3
    if novelty <= 0.6:
        return 0.25
    return 0.25 * max(0.0, 1 - (novelty - 0.6) / 0.4)


def _measure(source: str) -> tuple[int, int]:
    """Lines of code (formatting, comments and docstrings aside) and branch points; (0, 0) if no parse."""
    try:
        tree = ast.parse(textwrap.dedent(source))
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                node.body = docstring_free(node.body) or [ast.Pass()]
        lines = len(ast.unparse(tree).splitlines())
    except (SyntaxError, ValueError, RecursionError):
        return 0, 0
    return lines, sum(isinstance(node, _BRANCHES) for node in ast.walk(tree))


def _test_effect(dream: DreamProcedure) -> float:
    if dream.test_outcome == TestOutcome.SUCCESS:
        return 0.25 * (dream.equivalence_rate if dream.equivalence_rate is not None else 1.0)
    return _TEST_EFFECT.get(dream.test_outcome, 0.0)


def _test_note(dream: DreamProcedure) -> str:
    if dream.test_outcome == TestOutcome.PENDING:
        return "not tested yet"
    rate = f", equivalence {dream.equivalence_rate:.0%}" if dream.equivalence_rate is not None else ""
    return f"tests: {dream.test_outcome.value}{rate}"


@hookimpl
def register_evaluators(register) -> None:
    register(OfflineEvaluator)
