"""The generate phase: mining procedures, the generate stage, and what a generator works with.

A generator author needs ``DreamDraft`` and ``GenerationContext`` (and ``mode_drafts`` for an LLM mode).
"""

from dreamcore.generation.drafts import DreamDraft, GenerationContext
from dreamcore.generation.llm_drafts import mode_drafts

__all__ = ["DreamDraft", "GenerationContext", "mode_drafts"]
