import asyncio
import json

import pytest

from doubles import ScriptedBackend
from polyforge.agents import JudgeAgent
from polyforge.terms import PairStatus
from polyforge.config import JudgeConfig, StageSampling
from polyforge.llm import SamplingParams, StructuredOutputError, chat_structured
from pydantic import BaseModel, Field


class Answer(BaseModel):
    value: int = Field(ge=0, le=10)


def replies(*texts):
    queue = list(texts)
    return lambda messages, schema: queue.pop(0)


def test_malformed_then_valid_is_retried_and_the_error_shown_to_the_model():
    backend = ScriptedBackend(replies("not json at all", '{"value": 11}', 'Sure! ```json\n{"value": 7}\n```'))
    parsed, spent = asyncio.run(chat_structured(backend, [{"role": "user", "content": "q"}], Answer,
                                                SamplingParams(seed=1), max_retries=2))
    assert parsed.value == 7
    assert len(spent) == 3
    # the retry carries the previous reply and what was wrong with it
    retry_messages, schema = backend.calls[2]
    assert "value" in retry_messages[-1]["content"] and "less than or equal to 10" in retry_messages[-1]["content"]
    assert schema["properties"]["value"]["maximum"] == 10


def test_always_malformed_raises_with_attempts_and_usage():
    backend = ScriptedBackend(lambda m, s: "{broken")
    with pytest.raises(StructuredOutputError) as error:
        asyncio.run(chat_structured(backend, [{"role": "user", "content": "q"}], Answer, SamplingParams(), 1))
    assert error.value.attempts == 2
    assert len(error.value.usage) == 2
    assert "invalid JSON" in str(error.value)


def test_judge_flags_pair_when_output_stays_malformed(checklist):
    backend = ScriptedBackend(lambda m, s: '{"qa_consistency": 5}')  # eight criteria missing, every time
    judge = JudgeAgent(backend, checklist, StageSampling(), JudgeConfig(max_retries=2))
    verdict = asyncio.run(judge.judge("Python", "task", "answer"))
    assert verdict.route is PairStatus.flagged
    assert verdict.flag_reason == "malformed judge output"
    assert verdict.final_score is None
    assert "Field required" in verdict.error
    assert len(backend.calls) == 3


def test_judge_with_rationales_reads_scores_and_rationales(checklist, criteria):
    body = {c: {"score": 8, "rationale": f"{c} looks fine."} for c in criteria}
    judge = JudgeAgent(ScriptedBackend(lambda m, s: json.dumps(body)), checklist, StageSampling(),
                       JudgeConfig(rationales=True))
    verdict = asyncio.run(judge.judge("Go", "task", "answer"))
    assert verdict.route is PairStatus.accepted
    assert verdict.final_score == pytest.approx(8.0)
    assert verdict.rationales["code_clarity"] == "code_clarity looks fine."


def test_the_judge_asks_for_each_rationale_before_its_score(checklist, criteria):
    """Constrained decoding writes keys in schema order: the rationale must come first to inform the score."""
    backend = ScriptedBackend(lambda m, s: json.dumps({c: {"rationale": "Checked.", "score": 7} for c in criteria}))
    judge = JudgeAgent(backend, checklist, StageSampling(), JudgeConfig(rationales=True))
    asyncio.run(judge.judge("Go", "task", "answer"))
    messages, schema = backend.calls[0]
    criterion = schema["properties"][criteria[0]]
    scored = schema["$defs"][criterion["$ref"].rsplit("/", 1)[1]] if "$ref" in criterion else criterion
    assert list(scored["properties"]) == ["rationale", "score"]
    assert messages[0]["content"].index('"rationale"') < messages[0]["content"].index('"score"')
