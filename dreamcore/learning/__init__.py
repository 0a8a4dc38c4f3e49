"""The learn phase: scoring, health, adaptation, simulation, their stages and commands.

A scorer returns floats or ``Score`` objects and reads what it needs from a ``ScoringContext``.
"""

from dreamcore.learning.scoring import Score, ScoringContext

__all__ = ["Score", "ScoringContext"]
