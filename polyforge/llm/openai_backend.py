"""Any OpenAI-compatible server: vLLM, SGLang, llama.cpp's server, hosted APIs."""

from __future__ import annotations

import time

from openai import APIError, AsyncOpenAI

from polyforge.llm.base import ChatBackend, Completion, LLMError, Message, SamplingParams


class OpenAICompatibleBackend(ChatBackend):
    """Chat completions through `openai.AsyncOpenAI`.

    JSON schemas go out as `response_format` (the OpenAI `json_schema` form, or llama-cpp-python's
    `json_object` + `schema` form), which the servers turn into constrained decoding. Transient faults (timeouts, 429, 5xx,
    dropped connections) are retried with exponential backoff by the client itself.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        response_format: str = "json_schema",
        timeout_s: float = 120.0,
        max_retries: int = 4,
    ):
        self.name = model
        self.base_url = base_url
        self.response_format = response_format
        self._client = AsyncOpenAI(
            base_url=base_url,
            # Local servers accept any key; the client insists on one being set.
            api_key=api_key or "not-needed",
            timeout=timeout_s,
            max_retries=max_retries,
        )

    async def chat(self, messages: list[Message], params: SamplingParams, json_schema: dict | None = None) -> Completion:
        extra: dict = {}
        if json_schema is not None and self.response_format == "json_object":
            extra["response_format"] = {"type": "json_object", "schema": json_schema}
        elif json_schema is not None:
            extra["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": json_schema.get("title", "output"), "schema": json_schema},
            }
        if params.seed is not None:
            extra["seed"] = params.seed
        started = time.perf_counter()
        try:
            response = await self._client.chat.completions.create(
                model=self.name,
                messages=messages,
                temperature=params.temperature,
                top_p=params.top_p,
                max_tokens=params.max_tokens,
                **extra,
            )
        except APIError as exc:
            raise LLMError(f"{self.base_url} ({self.name}): {exc}") from exc
        choice = response.choices[0]
        usage = response.usage
        return Completion(
            text=choice.message.content or "",
            model=response.model or self.name,
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else 0,
            seconds=time.perf_counter() - started,
            finish_reason=choice.finish_reason,
        )

    async def aclose(self) -> None:
        await self._client.close()
