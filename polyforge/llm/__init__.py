"""LLM backends behind one async interface (`ChatBackend.chat`), and structured output on top."""

from __future__ import annotations

import os
from collections.abc import Callable

from polyforge.config import ModelConfig
from polyforge.llm.base import (
    ChatBackend,
    Completion,
    EndpointsDown,
    EndpointUnavailable,
    LLMError,
    Message,
    SamplingParams,
    StructuredOutputError,
    chat_structured,
)

__all__ = [
    "ChatBackend",
    "Completion",
    "EndpointUnavailable",
    "EndpointsDown",
    "LLMError",
    "Message",
    "SamplingParams",
    "StructuredOutputError",
    "chat_structured",
    "create_backend",
]


def create_backend(config: ModelConfig, role: str = "generator",
                   on_notice: Callable[[str], None] = lambda message: None) -> ChatBackend:
    """The backend a model config names: for `openai`, a pool of its endpoints (one or more), which
    reports outages and ejections through `on_notice`. Heavy imports happen here, not at package import."""
    if config.backend == "openai":
        from polyforge.llm.openai_backend import OpenAICompatibleBackend
        from polyforge.llm.pool import EndpointPool

        endpoints = [
            OpenAICompatibleBackend(
                base_url=url,
                model=config.model or "",
                api_key=os.environ.get(config.api_key_env),
                response_format=config.response_format,
                timeout_s=config.timeout_s,
                max_attempts=config.max_attempts,
                max_concurrency=config.max_concurrency,
                retry_initial_s=config.retry_initial_s,
            )
            for url in config.base_urls
        ]
        return EndpointPool(endpoints, role, config.eject_after, config.probe_interval_s, config.outage_wait_s,
                            on_notice)
    if config.backend == "vllm":
        from polyforge.llm.checkpoint import resolve_checkpoint
        from polyforge.llm.vllm_backend import VLLMBackend

        return VLLMBackend(resolve_checkpoint(config.model), config.context_tokens, config.engine_args)
    from polyforge.llm.embedded import EmbeddedBackend

    return EmbeddedBackend(model_path=config.model, context_tokens=config.context_tokens, threads=config.threads)
