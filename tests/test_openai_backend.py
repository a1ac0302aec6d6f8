"""The OpenAI-compatible backend against a real server: llama.cpp's, started on 127.0.0.1."""

import asyncio

import pytest

from servers import free_port

from polyforge.agents import JudgeAgent
from polyforge.config import JudgeConfig, StageSampling
from polyforge.llm import LLMError, SamplingParams
from polyforge.llm.openai_backend import OpenAICompatibleBackend


def test_chat_returns_text_and_usage(llama_server_url):
    backend = OpenAICompatibleBackend(llama_server_url, "smollm2")
    completion = asyncio.run(backend.chat([{"role": "user", "content": "Say hello."}],
                                          SamplingParams(temperature=0, max_tokens=16, seed=1)))
    assert completion.text.strip()
    assert completion.prompt_tokens > 0 and 0 < completion.completion_tokens <= 16
    assert completion.seconds > 0


def test_structured_judge_output_through_the_server(llama_server_url, checklist, criteria):
    backend = OpenAICompatibleBackend(llama_server_url, "smollm2", response_format="json_object")
    judge = JudgeAgent(backend, checklist, StageSampling(temperature=0, max_tokens=120), JudgeConfig(max_retries=2))
    verdict = asyncio.run(judge.judge("Python", "Return the sum of a list.", "```python\nsum(xs)\n```", seed=1))
    assert verdict.error is None, verdict.error
    assert set(verdict.scores) == set(criteria)
    assert all(checklist.scale.min <= v <= checklist.scale.max for v in verdict.scores.values())
    assert verdict.final_score == pytest.approx(checklist.final_score(verdict.scores))


def test_unreachable_server_is_an_llm_error():
    backend = OpenAICompatibleBackend(f"http://127.0.0.1:{free_port()}/v1", "m", max_attempts=2, timeout_s=5,
                                      retry_initial_s=0.01)
    with pytest.raises(LLMError, match="2 attempt.*APIConnectionError"):
        asyncio.run(backend.chat([{"role": "user", "content": "hi"}], SamplingParams(max_tokens=4)))
