"""Evaluator ``llm-judge``: any chat model of a model provider (``openrouter`` by default, so also
Ollama, vLLM or another OpenAI-compatible server) judges a batch of dreams.

It sends the same evaluation prompt as the ``claude`` evaluator and leaves its answer to the parser
chain. Its calls go through the cycle's model access: they count against the run's USD budget
(``[cycle] budget_usd``) and use the provider's retries, fallbacks and limits. A model error or an
exhausted budget leaves the batch's dreams pending with the error recorded.
"""

from __future__ import annotations

import attrs

from dreamcore import hookimpl
from dreamcore.config import documented
from dreamcore.evaluation.judging import JUDGE_SYSTEM, EvaluationBatch, EvaluationError, Judgement, Usage
from dreamcore.llm.hub import ModelError


@attrs.define(kw_only=True)
class LLMJudgeConfig:
    """Options of the ``llm-judge`` evaluator."""

    provider: str = attrs.field(default="openrouter", metadata=documented("model provider plugin (register_models)"))
    models: list[str] = attrs.field(
        factory=lambda: ["deepseek/deepseek-chat-v3.1", "qwen/qwen3-coder"],
        metadata=documented("judge models: first choice, then fallbacks in order"),
    )
    temperature: float = attrs.field(default=0.0, metadata=documented("sampling temperature (0 = most repeatable)"))
    max_tokens: int = attrs.field(default=4000, metadata=documented("answer length limit per batch"))

    def __attrs_post_init__(self) -> None:
        if not self.models:
            raise ValueError("models must name at least one model")
        if not 0 <= self.temperature <= 2:
            raise ValueError(f"temperature must be between 0 and 2, got {self.temperature}")
        if self.max_tokens < 1:
            raise ValueError(f"max_tokens must be at least 1, got {self.max_tokens}")


class LLMJudge:
    """Judge dreams with a chat model of a model provider."""

    name = "llm-judge"
    Config = LLMJudgeConfig

    def __init__(self, config: LLMJudgeConfig | None = None) -> None:
        self.config = config or LLMJudgeConfig()

    async def evaluate(self, batch: EvaluationBatch) -> Judgement:
        """The model's answer to the batch's prompt, for the parsers to read."""
        if batch.models is None:
            raise EvaluationError("llm-judge needs model access: run it in a cycle or with `dreamcore evaluate`")
        provider = batch.models.provider(self.config.provider, list(self.config.models), self.name)
        try:
            completion = await batch.models.complete(
                provider, list(self.config.models),
                [{"role": "system", "content": JUDGE_SYSTEM}, {"role": "user", "content": batch.prompt}],
                temperature=self.config.temperature,
                max_tokens=self.config.max_tokens,
            )
        except ModelError as exc:
            raise EvaluationError(str(exc)) from None
        usage = Usage(
            model=completion.model,
            input_tokens=completion.usage.prompt_tokens,
            output_tokens=completion.usage.completion_tokens,
            cost_usd=completion.usage.cost,
        )
        return Judgement(judge=f"llm-judge:{completion.model}", text=completion.text, usage=usage)


@hookimpl
def register_evaluators(register) -> None:
    register(LLMJudge)
