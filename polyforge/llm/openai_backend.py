"""Any OpenAI-compatible server: vLLM, SGLang, llama.cpp's server, hosted APIs."""

from __future__ import annotations

import json
import time

from openai import (
    APIConnectionError,
    APIError,
    AsyncOpenAI,
    InternalServerError,
    RateLimitError,
)
from openai.types.chat import ChatCompletion
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

from polyforge.llm.base import ChatBackend, Completion, EndpointUnavailable, LLMError, Message, SamplingParams
from polyforge.llm.concurrency import AdaptiveLimiter


class MalformedResponse(ValueError):
    """The server answered 200 with a body that is not a chat completion."""


# Faults worth another try: the server was busy, broke, hung, dropped us, or sent garbage.
TRANSIENT_ERRORS = (RateLimitError, InternalServerError, APIConnectionError, json.JSONDecodeError, MalformedResponse)
PRESSURE_ERRORS = (RateLimitError, InternalServerError)


def _cached_tokens(usage) -> int:
    """Prompt tokens the server reused from its prefix cache (`usage.prompt_tokens_details.cached_tokens`,
    reported by vLLM with prefix caching, llama.cpp's server and hosted APIs); 0 when it does not say."""
    details = getattr(usage, "prompt_tokens_details", None)
    return getattr(details, "cached_tokens", None) or 0


class OpenAICompatibleBackend(ChatBackend):
    """Chat completions through `openai.AsyncOpenAI`, with retries and adaptive concurrency.

    JSON schemas go out as `response_format` (the OpenAI `json_schema` form, or llama-cpp-python's
    `json_object` + `schema` form), which the servers turn into constrained decoding. Timeouts,
    429 and 5xx answers, dropped connections and unparseable bodies are retried with exponential
    backoff and jitter (tenacity); 429 and 5xx also shrink the window of requests in flight. When
    every retry failed that way the server is at fault (`EndpointUnavailable`); any other refusal
    (a 400: a prompt over the context, say) is the request's (`LLMError`).
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        response_format: str = "json_schema",
        timeout_s: float = 120.0,
        max_attempts: int = 6,
        max_concurrency: int = 16,
        retry_initial_s: float = 0.5,
    ):
        self.name = model
        self.base_url = base_url
        self.response_format = response_format
        self.max_attempts = max_attempts
        self.retry_initial_s = retry_initial_s
        self.limiter = AdaptiveLimiter(max_concurrency)
        self._client = AsyncOpenAI(
            base_url=base_url,
            # Local servers accept any key; the client insists on one being set.
            api_key=api_key or "not-needed",
            timeout=timeout_s,
            max_retries=0,  # retries are ours, so that each 429 can shrink the window
        )

    def _request(self, messages: list[Message], params: SamplingParams, json_schema: dict | None) -> dict:
        request: dict = {
            "model": self.name,
            "messages": messages,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "max_tokens": params.max_tokens,
        }
        if json_schema is not None and self.response_format == "json_object":
            request["response_format"] = {"type": "json_object", "schema": json_schema}
        elif json_schema is not None:
            request["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": json_schema.get("title", "output"), "schema": json_schema},
            }
        if params.seed is not None:
            request["seed"] = params.seed
        if params.stop:
            request["stop"] = list(params.stop)
        return request

    async def _attempt(self, request: dict) -> Completion:
        started = time.perf_counter()
        async with self.limiter:
            try:
                # The request is plain JSON already: posting it skips the client's per-call walk over typed
                # parameters (about a quarter of the client's CPU per call), with the same errors and parsing.
                response = await self._client.post("/chat/completions", body=request, cast_to=ChatCompletion)
            except PRESSURE_ERRORS:
                self.limiter.pressure()
                raise
        if not getattr(response, "choices", None) or response.choices[0].message is None:
            raise MalformedResponse(f"no choices in the response: {str(response)[:200]}")
        self.limiter.relief()
        choice = response.choices[0]
        usage = response.usage
        return Completion(
            text=choice.message.content or "",
            model=response.model or self.name,
            prompt_tokens=usage.prompt_tokens if usage else 0,
            cached_tokens=_cached_tokens(usage),
            completion_tokens=usage.completion_tokens if usage else 0,
            seconds=time.perf_counter() - started,
            finish_reason=choice.finish_reason,
        )

    async def chat(self, messages: list[Message], params: SamplingParams, json_schema: dict | None = None) -> Completion:
        request = self._request(messages, params, json_schema)
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(TRANSIENT_ERRORS),
            wait=wait_exponential_jitter(multiplier=self.retry_initial_s, max=30, jitter=self.retry_initial_s),
            stop=stop_after_attempt(self.max_attempts),
            reraise=True,
        )
        try:
            return await retrying(self._attempt, request)
        except (APIError, *TRANSIENT_ERRORS) as exc:
            attempts = retrying.statistics.get("attempt_number", 1)
            error = EndpointUnavailable if isinstance(exc, TRANSIENT_ERRORS) else LLMError
            raise error(f"{self.base_url} ({self.name}), {attempts} attempt(s): {type(exc).__name__}: {exc}") from exc

    async def probe(self, timeout_s: float = 5.0) -> bool:
        """Whether the server answers `GET /models` (its health check) within `timeout_s`."""
        try:
            await self._client.with_options(timeout=timeout_s, max_retries=0).models.list()
        except (APIError, *TRANSIENT_ERRORS):
            return False
        return True

    async def aclose(self) -> None:
        await self._client.close()
