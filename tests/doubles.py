"""Test doubles (not used by the product): a scripted chat backend."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable

from polyforge.llm import ChatBackend, Completion, LLMError, Message, SamplingParams


class ScriptedBackend(ChatBackend):
    """A test double that answers from a script instead of a model.

    `reply(messages, json_schema)` returns the reply text, or raises to simulate a failing server.
    Every call is recorded in `calls`.
    """

    def __init__(self, reply: Callable[[list[Message], dict | None], str], name: str = "scripted-double"):
        self.name = name
        self._reply = reply
        self.calls: list[tuple[list[Message], dict | None]] = []

    async def chat(self, messages: list[Message], params: SamplingParams, json_schema: dict | None = None) -> Completion:
        self.calls.append((messages, json_schema))
        text = self._reply(messages, json_schema)
        return Completion(text=text, model=self.name, prompt_tokens=10, completion_tokens=len(text.split()), seconds=0.01)


def stage_of(messages: list[Message]) -> str:
    """Which prompt template produced these messages (by its wording)."""
    system = messages[0]["content"]
    if "reviewer" in system:
        return "judge"
    if "critic" in system:
        return "critique"
    if "revises" in system:
        return "revise"
    if "adapts" in system:
        return "transfer"
    if "teacher" in system:
        return "instruction"
    if "label" in system:
        return "classify"
    if "tester" in system:
        return "tester"
    return "answer"


CLASSIFICATION = json.dumps({"topic": "algorithms", "difficulty": "easy"})


def uniform_scores(value: int, criteria: list[str]) -> str:
    return json.dumps({criterion: value for criterion in criteria})


def pipeline_script(judge_reply: Callable[[list[Message]], str], fail_stage: str | None = None):
    """A reply function for whole work items: fixed instruction and answer, scripted judge."""

    def reply(messages: list[Message], json_schema: dict | None) -> str:
        stage = stage_of(messages)
        if stage == fail_stage:
            raise LLMError(f"simulated {stage} failure")
        if stage == "instruction":
            return "Write a function that returns the sum of a list of integers."
        if stage == "critique":
            return "State what an empty list returns."
        if stage == "revise":
            return "Write a function that returns the sum of a list of integers; an empty list sums to 0."
        if stage == "transfer":
            language = messages[0]["content"].split("experienced ")[1].split(" teacher")[0]
            return f"In {language}: return the sum of a list of integers; an empty list sums to 0."
        if stage == "answer":
            return "Sum with the built-in.\n```python\ndef total(xs):\n    return sum(xs)\n```"
        if stage == "classify":
            return CLASSIFICATION
        if stage == "tester":
            return "```python\nassert total([1, 2, 3]) == 6\nassert total([]) == 0\n```"
        return judge_reply(messages)

    return reply


def two_candidates_script(judge_score: Callable[[list[Message], bool], int], criteria: list[str]):
    """A reply function for campaigns of two candidates per instruction: the answers alternate between one without
    code and one with a code block; the judge gives every criterion `judge_score(messages, has_code)`."""
    answers = itertools.cycle(["I would not know.", "```\nsolution()\n```"])

    def reply(messages: list[Message], json_schema: dict | None) -> str:
        stage = stage_of(messages)
        if stage == "instruction":
            return "Solve the task."
        if stage == "answer":
            return next(answers)
        if stage == "classify":
            return CLASSIFICATION
        return uniform_scores(judge_score(messages, "```" in messages[1]["content"]), criteria)

    return reply
