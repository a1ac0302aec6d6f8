"""The one interface every LLM backend implements, and structured output on top of it."""

from __future__ import annotations

import abc
import functools
import json
import re
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

Message = dict[str, str]
SchemaT = TypeVar("SchemaT", bound=BaseModel)
# A structured reply cut off by max_tokens is retried once with twice the tokens, then no more: a budget that
# holds the longest valid reply (the judge's is derived so) is cut off only by a degenerate reply, which more
# tokens rarely mend, and the worst case costs what three tries at the same budget did.
MAX_BUDGET_GROWTH = 2


@dataclass(frozen=True)
class SamplingParams:
    temperature: float = 0.7
    top_p: float = 0.95
    max_tokens: int = 256
    seed: int | None = None
    stop: tuple[str, ...] = ()  # generation ends before the first of these strings (which the reply leaves out)


@dataclass
class Completion:
    """One answer from a backend, with what it cost."""

    text: str
    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    finish_reason: str | None = None
    cached_tokens: int = 0  # prompt tokens the server took from its prefix cache instead of computing them
    parsed: Any = None

    @property
    def truncated(self) -> bool:
        """Whether the reply was cut off by `max_tokens`."""
        return self.finish_reason == "length"

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class LLMError(RuntimeError):
    """A backend could not produce a completion (after its own retries): recorded per work item."""


class EndpointUnavailable(RuntimeError):
    """A server failed for reasons of its own (refused or dropped connections, timeouts, 5xx, garbage bodies)
    after every retry. Not the work item's fault: a pool tries another endpoint, and a campaign never
    records it against an item, which stays pending."""


class EndpointsDown(EndpointUnavailable):
    """Every endpoint of a role stayed down longer than the configured wait; the campaign stops, resumable."""


@dataclass
class StructuredOutputError(Exception):
    """The model did not produce a valid object after every allowed attempt."""

    schema_name: str
    attempts: int
    last_error: str
    last_text: str
    usage: list[Completion] = field(default_factory=list)

    def __str__(self) -> str:
        return f"no valid {self.schema_name} after {self.attempts} attempt(s): {self.last_error}"


class ChatBackend(abc.ABC):
    """An LLM reached through chat messages.

    `json_schema`, when given, asks the backend to constrain decoding to that JSON schema; the
    caller still validates the text (`chat_structured`), since not every server honours it.
    """

    name: str

    @abc.abstractmethod
    async def chat(
        self, messages: list[Message], params: SamplingParams, json_schema: dict | None = None
    ) -> Completion: ...

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release connections or model memory."""


_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)


def extract_json(text: str) -> str:
    """The JSON object in a reply: inside a code fence if there is one, else the outermost braces."""
    fenced = _FENCE.search(text)
    if fenced:
        text = fenced.group(1)
    start, end = text.find("{"), text.rfind("}")
    return text[start : end + 1] if start != -1 and end > start else text


async def chat_structured(
    backend: ChatBackend,
    messages: list[Message],
    schema: type[SchemaT],
    params: SamplingParams,
    max_retries: int = 2,
) -> tuple[SchemaT, list[Completion]]:
    """Ask for an object of `schema`; retry malformed output, then raise StructuredOutputError.

    Returns the object and every completion spent on it (for token accounting). A retry shows the
    model its own invalid reply and the error, which small models fix more often than a cold retry.
    A reply cut off by `max_tokens` is never retried at the same budget: the next attempt has twice
    the tokens, up to MAX_BUDGET_GROWTH times the stage's budget, and then the retries stop.
    """
    json_schema = _json_schema(schema)
    spent: list[Completion] = []
    attempt_messages = list(messages)
    error = ""
    budget, ceiling = params.max_tokens, params.max_tokens * MAX_BUDGET_GROWTH
    for attempt in range(max_retries + 1):
        attempt_params = replace(params, max_tokens=budget,
                                 seed=None if params.seed is None else params.seed + attempt)
        completion = await backend.chat(attempt_messages, attempt_params, json_schema=json_schema)
        spent.append(completion)
        try:
            parsed = schema.model_validate(json.loads(extract_json(completion.text)))
        except (json.JSONDecodeError, ValidationError) as exc:
            if completion.truncated:
                error = f"reply cut off at max_tokens={budget}"
                if budget >= ceiling:
                    break
                budget = min(budget * 2, ceiling)
                attempt_messages = list(messages)  # a cold retry: half an object teaches the model nothing
                continue
            error = _short_error(exc)
            attempt_messages = list(messages) + [
                {"role": "assistant", "content": completion.text[:2000]},
                {"role": "user", "content": f"That was not valid: {error}. Reply with the JSON object only."},
            ]
            continue
        completion.parsed = parsed
        return parsed, spent
    raise StructuredOutputError(schema.__name__, len(spent), error, spent[-1].text if spent else "", spent)


@functools.cache
def _json_schema(schema: type[BaseModel]) -> dict:
    # Building a schema costs about a millisecond, and every call of a stage asks for the same one.
    return schema.model_json_schema()


def _short_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "object"
        return f"{where}: {first['msg']} ({exc.error_count()} error(s))"
    return f"invalid JSON: {exc}"
