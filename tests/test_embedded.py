"""The embedded backend on the real bundled model (SmolLM2-135M through llama-cpp-python)."""

import asyncio

import pytest

from polyforge.agents import JudgeAgent, LanguageAgent
from polyforge.config import JudgeConfig, StageSampling
from polyforge.llm import LLMError, SamplingParams
from polyforge.llm.embedded import EmbeddedBackend


@pytest.fixture(scope="module")
def backend():
    return EmbeddedBackend(context_tokens=1024)


def test_chat_is_deterministic_for_a_seed(backend):
    messages = [{"role": "user", "content": "Name a sorting algorithm."}]
    params = SamplingParams(temperature=0.8, max_tokens=12, seed=5)
    first = asyncio.run(backend.chat(messages, params))
    second = asyncio.run(backend.chat(messages, params))
    assert first.text and first.text == second.text
    assert first.completion_tokens <= 12 and first.prompt_tokens > 0


def test_a_stop_string_ends_the_reply_before_it(backend):
    messages = [{"role": "user", "content": "Describe a sorting algorithm in one sentence."}]
    free = asyncio.run(backend.chat(messages, SamplingParams(temperature=0, max_tokens=24, seed=1)))
    stopped = asyncio.run(backend.chat(messages, SamplingParams(temperature=0, max_tokens=24, seed=1, stop=(" ",))))
    assert " " in free.text.strip()
    assert stopped.text == free.text[:free.text.index(" ")] and stopped.completion_tokens < free.completion_tokens


def test_grammar_constrained_judge_gives_nine_valid_scores(backend, checklist, criteria):
    judge = JudgeAgent(backend, checklist, StageSampling(temperature=0, max_tokens=120), JudgeConfig(max_retries=0))
    verdict = asyncio.run(judge.judge("Python", "Add two numbers.", "```python\ndef add(a, b):\n    return a + b\n```"))
    assert verdict.error is None
    assert list(verdict.scores) == criteria
    assert verdict.completions[0].completion_tokens < 120


def test_k_judge_samples_on_the_real_model(backend, checklist, criteria):
    judge = JudgeAgent(backend, checklist, StageSampling(temperature=0.8, max_tokens=120),
                       JudgeConfig(samples=2, max_retries=1), grammars={"Python": "python"})
    verdict = asyncio.run(judge.judge("Python", "Add two numbers.", "```python\ndef add(a, b):\n    return a + b\n```",
                                      seed=11, execution_status="passed"))
    valid = [s for s in verdict.samples if s.error is None]
    assert len(verdict.samples) == 2 and valid, verdict.error
    assert verdict.scores["code_exists"] == 10 and verdict.scores["code_correctness"] == 10
    assert verdict.overrides == {"code_exists": "parser", "code_correctness": "sandbox"}
    mean = sum(s.scores["qa_relevance"] for s in valid) / len(valid)
    assert verdict.scores["qa_relevance"] == pytest.approx(mean)
    assert verdict.final_score == pytest.approx(checklist.final_score(verdict.scores))


def test_language_agent_writes_an_instruction(backend):
    agent = LanguageAgent("C", backend, StageSampling(max_tokens=60), StageSampling())
    output = asyncio.run(agent.write_instruction("int twice(int x) {\n  return 2 * x;\n}", "m.c", seed=1))
    assert output.text and output.template == "instruction" and len(output.template_hash) == 16


def test_prompt_longer_than_the_context_is_an_llm_error(backend):
    long_prompt = [{"role": "user", "content": "word " * 3000}]
    with pytest.raises(LLMError, match="SmolLM2"):
        asyncio.run(backend.chat(long_prompt, SamplingParams(max_tokens=4)))
