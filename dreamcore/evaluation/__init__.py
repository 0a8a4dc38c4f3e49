"""The evaluate phase: judging dreams, parsing judges' answers, the evaluate stage and its commands.

An evaluator receives an ``EvaluationBatch`` and returns a ``Judgement``; a parser returns a ``ParseResult``
of ``Evaluation`` objects.
"""

from dreamcore.evaluation.judging import EvaluationBatch, Judgement
from dreamcore.evaluation.verdicts import Evaluation, ParseResult

__all__ = ["Evaluation", "EvaluationBatch", "Judgement", "ParseResult"]
