"""The OpenAI-compatible backend against a real server: llama.cpp's, started on 127.0.0.1."""

import asyncio

import pytest

from servers import free_port

from polyforge.agents import JudgeAgent
from polyforge.config import JudgeConfig, StageSampling
from polyforge.llm import EndpointUnavailable, LLMError, SamplingParams
from polyforge.llm.openai_backend import OpenAICompatibleBackend


def test_chat_returns_text_and_usage(llama_server_url):
    backend = OpenAICompatibleBackend(llama_server_url, "smollm2")
    completion = asyncio.run(backend.chat([{"role": "user", "content": "Say hello."}],
                                          SamplingParams(temperature=0, max_tokens=16, seed=1)))
    assert completion.text.strip()
    assert completion.prompt_tokens > 0 and 0 < completion.completion_tokens <= 16
    assert completion.seconds > 0


def test_a_stop_string_ends_the_reply_before_it(llama_server_url):
    backend = OpenAICompatibleBackend(llama_server_url, "smollm2")
    messages = [{"role": "user", "content": "Describe a sorting algorithm in one sentence."}]

    async def both():  # one event loop: the client is bound to it
        return (await backend.chat(messages, SamplingParams(temperature=0, max_tokens=24, seed=1)),
                await backend.chat(messages, SamplingParams(temperature=0, max_tokens=24, seed=1, stop=(" ",))))

    free, stopped = asyncio.run(both())
    assert " " in free.text.strip()  # the free reply goes on past its first word ...
    assert stopped.text == free.text[:free.text.index(" ")] and stopped.finish_reason == "stop"  # ... this one not
    assert stopped.completion_tokens < free.completion_tokens


def test_structured_judge_output_through_the_server(llama_server_url, checklist, criteria):
    backend = OpenAICompatibleBackend(llama_server_url, "smollm2", response_format="json_object")
    judge = JudgeAgent(backend, checklist, StageSampling(temperature=0, max_tokens=120), JudgeConfig(max_retries=2))
    verdict = asyncio.run(judge.judge("Python", "Return the sum of a list.", "```python\nsum(xs)\n```", seed=1))
    assert verdict.error is None, verdict.error
    assert set(verdict.scores) == set(criteria)
    assert all(checklist.scale.min <= v <= checklist.scale.max for v in verdict.scores.values())
    assert verdict.final_score == pytest.approx(checklist.final_score(verdict.scores))


def test_an_unreachable_server_is_the_endpoints_fault_not_the_requests():
    backend = OpenAICompatibleBackend(f"http://127.0.0.1:{free_port()}/v1", "m", max_attempts=2, timeout_s=5,
                                      retry_initial_s=0.01)
    with pytest.raises(EndpointUnavailable, match="2 attempt.*APIConnectionError") as raised:
        asyncio.run(backend.chat([{"role": "user", "content": "hi"}], SamplingParams(max_tokens=4)))
    assert not isinstance(raised.value, LLMError)  # never recorded as the work item's failure
    assert asyncio.run(backend.probe(timeout_s=1)) is False


def test_a_request_the_server_refuses_is_the_requests_fault(llama_server_url):
    backend = OpenAICompatibleBackend(llama_server_url, "smollm2", max_attempts=2, retry_initial_s=0.01)
    too_long = [{"role": "user", "content": "word " * 5000}]  # over the server's 2048-token context

    async def refused_then_probed():
        with pytest.raises(LLMError, match="1 attempt"):
            await backend.chat(too_long, SamplingParams(max_tokens=4))
        return await backend.probe()  # the server itself is fine

    assert asyncio.run(refused_then_probed()) is True
