"""The work-item graph's routing: every way an item can end."""

import asyncio
import json
from dataclasses import replace

import pytest

from doubles import ScriptedBackend, pipeline_script, stage_of, uniform_scores
from polyforge.agents import JudgeAgent, LanguageAgent
from polyforge.config import GatesConfig, JudgeConfig, StageSampling
from polyforge.generation.item_graph import build_item_graph, run_item
from polyforge.generation.item_steps import ItemSettings
from polyforge.generation.item_state import WorkItem
from polyforge.generation.recorder import preferences, stage_completions
from polyforge.llm import LLMError

ITEM = WorkItem(snippet_id=1, language="Python", path="a.py", code="def total(xs):\n    return sum(xs)\n", seed=3)


def run_with(script, checklist, item=ITEM, memory=None):
    backend = ScriptedBackend(script)
    agent = LanguageAgent("Python", backend, StageSampling(), StageSampling(), memory=memory, few_shot=2)
    judge = JudgeAgent(backend, checklist, StageSampling(temperature=0), JudgeConfig(max_retries=1))
    state = asyncio.run(run_item(build_item_graph({"Python": agent}, judge, ItemSettings(novelty_threshold=1.01)), item))
    return state, backend


@pytest.mark.parametrize(("score", "route"), [(9, "accepted"), (5, "flagged"), (2, "rejected")])
def test_judge_scores_route_the_pair(score, route, checklist, criteria):
    state, backend = run_with(pipeline_script(lambda m: uniform_scores(score, criteria)), checklist)
    assert state.status == route
    assert state.verdict.final_score == pytest.approx(score)
    assert state.instruction.text.startswith("Write a function")
    assert len(backend.calls) == 3  # instruction, answer, judge: nothing more
    assert (state.verdict.flag_reason == "borderline final score") == (route == "flagged")


def test_failed_answer_stops_the_item_before_the_judge(checklist, criteria):
    state, backend = run_with(pipeline_script(lambda m: uniform_scores(9, criteria), fail_stage="answer"), checklist)
    assert state.status == "failed"
    assert state.error == "answer: simulated answer failure"
    assert state.verdict is None and len(backend.calls) == 2


def test_failed_instruction_ends_at_once(checklist, criteria):
    state, backend = run_with(pipeline_script(lambda m: "", fail_stage="instruction"), checklist)
    assert state.status == "failed" and state.error.startswith("instruction:")
    assert len(backend.calls) == 1


def test_empty_instruction_is_a_recorded_failure(checklist):
    state, _ = run_with(lambda messages, schema: "   ", checklist)
    assert state.status == "failed" and "empty reply" in state.error


def test_malformed_judge_output_flags_the_pair(checklist):
    state, backend = run_with(pipeline_script(lambda m: json.dumps({"qa_consistency": "great"})), checklist)
    assert state.status == "flagged"
    assert state.verdict.flag_reason == "malformed judge output"
    assert len(backend.calls) == 2 + 2  # one retry allowed


def test_prompts_carry_the_snippet_and_language(checklist, criteria):
    state, backend = run_with(pipeline_script(lambda m: uniform_scores(9, criteria)), checklist)
    instruction_prompt = backend.calls[0][0][1]["content"]
    assert "return sum(xs)" in instruction_prompt and "Python" in instruction_prompt
    judge_system, judge_user = (message["content"] for message in backend.calls[2][0])
    # The checklist is the same for every pair: it leads (in the system message), so a prefix cache can reuse it.
    assert all(c in judge_system for c in criteria) and "Python" not in judge_system
    assert "Language: Python" in judge_user


def test_rejection_sampling_keeps_the_best_candidate(checklist, criteria):
    """Three candidates scored 4, 8 and 6: the 8 is chosen, the other two are what it beat."""
    answers = iter(["answer A", "answer B", "answer C"])
    scores = {"answer A": 4, "answer B": 8, "answer C": 6}

    def reply(messages, schema):
        stage = stage_of(messages)
        if stage == "instruction":
            return "Sum a list."
        if stage == "answer":
            return next(answers)
        answer = next(a for a in scores if a in messages[1]["content"])
        return uniform_scores(scores[answer], criteria)

    backend = ScriptedBackend(reply)
    agent = LanguageAgent("Python", backend, StageSampling(), StageSampling())
    judge = JudgeAgent(backend, checklist, StageSampling(temperature=0))
    no_code_gate = GatesConfig(code_block=False)  # the answers are bare words: the judge alone ranks them here
    state = asyncio.run(run_item(build_item_graph({"Python": agent}, judge, ItemSettings(candidates=3,
                                                                                         gates=no_code_gate)), ITEM))
    assert state.answer.text == "answer B" and state.verdict.final_score == pytest.approx(8)
    assert state.status == "accepted"
    assert preferences(state) == []  # no tests ran: no preference rests on execution
    beaten = {b.candidate.text: (b.verdict.final_score, b.kind) for b in preferences(state, from_scores=True)}
    assert beaten == {"answer A": (pytest.approx(4), "judge"), "answer C": (pytest.approx(6), "judge")}
    assert len(stage_completions(state)["answer"]) == 3 and len(stage_completions(state)["judge"]) == 3


def test_one_failed_candidate_does_not_fail_the_item(checklist, criteria):
    calls = {"answer": 0}

    def reply(messages, schema):
        stage = stage_of(messages)
        if stage == "answer":
            calls["answer"] += 1
            if calls["answer"] == 1:
                raise LLMError("timeout")
            return "```python\nprint(1)\n```"
        return pipeline_script(lambda m: uniform_scores(7, criteria))(messages, schema)

    backend = ScriptedBackend(reply)
    agent = LanguageAgent("Python", backend, StageSampling(), StageSampling())
    state = asyncio.run(run_item(build_item_graph({"Python": agent}, JudgeAgent(backend, checklist, StageSampling()),
                                                  ItemSettings(candidates=2)), ITEM))
    assert state.status == "accepted" and len(state.candidates) == 1
    assert preferences(state) == []


def test_answer_first_explains_the_code_then_writes_the_task(checklist, criteria):
    def reply(messages, schema):
        if "explains code" in messages[0]["content"]:
            return "It returns the sum of the integers in a list."
        if "is the solution to" in messages[1]["content"]:
            assert "It returns the sum" in messages[1]["content"]
            return "Given a list of integers, return their sum."
        return pipeline_script(lambda m: uniform_scores(8, criteria))(messages, schema)

    state, backend = run_with(reply, checklist, replace(ITEM, mode="answer_first"))
    assert state.instruction.text == "Given a list of integers, return their sum."
    assert state.instruction.template == "instruction_from_explanation"
    assert len(state.instruction.completions) == 2  # the explanation's tokens are counted too
    assert state.status == "accepted"


def test_evolve_needs_a_seed_and_makes_a_harder_task(checklist, criteria):
    from polyforge.memory import MemoryBank, shared_embedder

    state, _ = run_with(pipeline_script(lambda m: uniform_scores(8, criteria)), checklist, replace(ITEM, mode="evolve"))
    assert state.status == "failed" and "no seed or accepted Python task" in state.error

    bank = MemoryBank(shared_embedder())
    bank.add([bank.new_entry("seed", "Sum a list of integers.")])

    def reply(messages, schema):
        if "harder task" in messages[1]["content"]:
            assert "Sum a list of integers." in messages[1]["content"]
            return "Sum a list of integers without overflow, for lists of a million numbers."
        return pipeline_script(lambda m: uniform_scores(8, criteria))(messages, schema)

    state, _ = run_with(reply, checklist, replace(ITEM, mode="evolve"), memory=bank)
    assert state.instruction.template == "evolve" and "without overflow" in state.instruction.text
