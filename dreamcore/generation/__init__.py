"""The generate phase: mining procedures, the generate stage, and what a generator works with.

A generator author needs ``DreamDraft`` and ``GenerationContext`` (and ``mode_drafts`` for an LLM mode);
an offline generator can build on ``LocalGenerator`` and its ``Candidate``.
"""

from dreamcore.generation.drafts import DreamDraft, GenerationContext
from dreamcore.generation.llm_drafts import mode_drafts
from dreamcore.generation.local import Candidate, LocalGenerator

__all__ = ["Candidate", "DreamDraft", "GenerationContext", "LocalGenerator", "mode_drafts"]
