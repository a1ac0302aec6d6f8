"""Test doubles (not used by the product): a scripted chat backend."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable

from polyforge.llm import ChatBackend, Completion, LLMError, Message, SamplingParams


class ScriptedBackend(ChatBackend):
    """A test double that answers from a script instead of a model.

    `reply(messages, json_schema)` returns the reply text (or a whole `Completion`, to set its finish reason), or
    raises to simulate a failing server.
    Every call is recorded in `calls`.
    """

    def __init__(self, reply: Callable[[list[Message], dict | None], str | Completion], name: str = "scripted-double"):
        self.name = name
        self._reply = reply
        self.calls: list[tuple[list[Message], dict | None]] = []

    async def chat(self, messages: list[Message], params: SamplingParams, json_schema: dict | None = None) -> Completion:
        self.calls.append((messages, json_schema))
        text = self._reply(messages, json_schema)
        if isinstance(text, Completion):
            return text
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
    if "fixes code" in system:
        return "repair"
    return "answer"


def judged_language(messages: list[Message]) -> str:
    """The language a judge prompt names ("Language: Go", first line of the user message)."""
    return re.search(r"^Language: (\S+)", messages[1]["content"], re.M).group(1)


CLASSIFICATION = json.dumps({"topic": "algorithms", "difficulty": "easy"})

# A correct answer to "sum a list of integers" per language, so that answers pass the code-block gate.
SUMS = {
    "Python": "def total(xs):\n    return sum(xs)\n",
    "Go": "package main\n\nfunc total(xs []int) int {\n\ts := 0\n\tfor _, x := range xs {\n\t\ts += x\n\t}\n"
          "\treturn s\n}\n",
    "Rust": "fn total(xs: &[i64]) -> i64 {\n    xs.iter().sum()\n}\n",
    "C": "int total(const int *xs, int n) {\n    int s = 0;\n    for (int i = 0; i < n; i++) s += xs[i];\n"
         "    return s;\n}\n",
    "C++": "#include <vector>\n\nint total(const std::vector<int>& xs) {\n    int s = 0;\n"
           "    for (int x : xs) s += x;\n    return s;\n}\n",
    "JavaScript": "function total(xs) {\n  return xs.reduce((a, b) => a + b, 0);\n}\n",
    "TypeScript": "function total(xs: number[]): number {\n  return xs.reduce((a, b) => a + b, 0);\n}\n",
    "Java": "class Total {\n    static int total(int[] xs) {\n        int s = 0;\n        for (int x : xs) s += x;\n"
            "        return s;\n    }\n}\n",
    "Kotlin": "fun total(xs: List<Int>): Int = xs.sum()\n",
    "Shell": "total() {\n  local s=0\n  for x in \"$@\"; do s=$((s + x)); done\n  echo \"$s\"\n}\n",
}


def language_of(messages: list[Message]) -> str:
    """The language an answer prompt asks for ("You are an expert Go programmer")."""
    return re.search(r"(\S+) programmer", messages[0]["content"]).group(1)


def answer_in(language: str) -> str:
    """The scripted answer: a sentence, then the sum function in `language`, fenced and tagged."""
    return f"Sum the integers.\n```{language.lower()}\n{SUMS[language]}```"


def uniform_scores(value: int, criteria: list[str]) -> str:
    return json.dumps({criterion: value for criterion in criteria})


def pipeline_script(judge_reply: Callable[[list[Message]], str], fail_stage: str | None = None,
                    answer_language: str | None = None):
    """A reply function for whole work items: fixed instruction, the answer in the prompt's language (or
    always in `answer_language`), scripted judge."""

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
            # worded apart from HumanEval/8 (sum and product), which the paraphrase check would take it for
            return f"In {language}: add up the integers of a list; an empty list gives 0."
        if stage == "answer":
            return answer_in(answer_language or language_of(messages))
        if stage == "classify":
            return CLASSIFICATION
        if stage == "tester":
            return "```python\nassert total([1, 2, 3]) == 6\nassert total([]) == 0\n```"
        return judge_reply(messages)

    return reply


def two_candidates_script(judge_score: Callable[[list[Message], bool], int], criteria: list[str]):
    """A reply function for campaigns of two candidates per instruction: the answers alternate between one without
    code (which the code-block gate drops before the judge) and one with a code block in the prompt's language;
    the judge gives every criterion `judge_score(messages, has_code)`."""
    with_code = itertools.cycle([False, True])

    def reply(messages: list[Message], json_schema: dict | None) -> str:
        stage = stage_of(messages)
        if stage == "instruction":
            return "Solve the task."
        if stage == "answer":
            return answer_in(language_of(messages)) if next(with_code) else "I would not know."
        if stage == "classify":
            return CLASSIFICATION
        return uniform_scores(judge_score(messages, "```" in messages[1]["content"]), criteria)

    return reply
