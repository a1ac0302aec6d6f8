"""LLM backends behind one async interface (`ChatBackend.chat`), and structured output on top."""

from __future__ import annotations

import os

from polyforge.config import ModelConfig
from polyforge.llm.base import (
    ChatBackend,
    Completion,
    LLMError,
    Message,
    SamplingParams,
    StructuredOutputError,
    chat_structured,
)

__all__ = [
    "ChatBackend",
    "Completion",
    "LLMError",
    "Message",
    "SamplingParams",
    "StructuredOutputError",
    "chat_structured",
    "create_backend",
]


def create_backend(config: ModelConfig) -> ChatBackend:
    """The backend a model config names. Heavy imports happen here, not at package import."""
    if config.backend == "openai":
        from polyforge.llm.openai_backend import OpenAICompatibleBackend

        return OpenAICompatibleBackend(
            base_url=config.base_url or "",
            model=config.model or "",
            api_key=os.environ.get(config.api_key_env),
            response_format=config.response_format,
            timeout_s=config.timeout_s,
            max_attempts=config.max_attempts,
            max_concurrency=config.max_concurrency,
            retry_initial_s=config.retry_initial_s,
        )
    from polyforge.llm.embedded import EmbeddedBackend

    return EmbeddedBackend(model_path=config.model, context_tokens=config.context_tokens, threads=config.threads)
