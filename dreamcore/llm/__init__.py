"""Model access for every phase: routes, the budget, usage, shared limits and retries.

A model provider returns a ``Completion`` or raises a ``ModelError``; a generator's ``Config`` subclasses
``LLMOptions``; ``Gate`` is the slot a provider takes per request.
"""

from dreamcore.llm.hub import Completion, LLMOptions, ModelError, ModelHub, Usage, route_default
from dreamcore.llm.limits import Gate

__all__ = ["Completion", "Gate", "LLMOptions", "ModelError", "ModelHub", "Usage", "route_default"]
