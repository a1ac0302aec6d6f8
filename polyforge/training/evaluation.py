"""pass@1 of a model on a code benchmark, every answer run in the sandbox, with a bootstrap interval.

Two ways to ask a model, as its maker meant it to be asked:
- chat (a model with a chat template, and every served model): the task in words (McEval's own instruction, or
  for HumanEval the prompt in a code block); the reply's first code block is the program, run with the task's
  tests as in the precision check (`run_hidden_tests`);
- completion (a base model without a chat template): the model continues the prompt greedily; the prompt plus
  the continuation, cut where the function ends, runs with the task's tests.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from scipy.stats import bootstrap

from polyforge.sandbox import Sandbox, Status
from polyforge.sandbox.mceval import Task, assemble
from polyforge.training.hidden_tests import run_hidden_tests

# Where a Python completion leaves the function: the next top-level statement (HumanEval's stops).
PYTHON_STOPS = ("\ndef ", "\nclass ", "\nif __name__", "\nprint(", "\n#", "\nassert ", "\n```")
# Kotlin is left out: its programs often put helper functions after the asked one, which a cut would drop.
BRACE_LANGUAGES = {"C", "C++", "C#", "Java", "Scala", "Groovy", "JavaScript", "TypeScript", "Go", "Rust", "PHP",
                   "Perl", "Shell"}
END_LANGUAGES = {"Lua", "Ruby"}  # a function ends with `end` at the start of a line
CONFIDENCE = 0.95
RESAMPLES = 2000


@dataclass(frozen=True)
class Completer:
    """A model behind one call: tasks in, its replies out, in the tasks' order."""

    reply: Callable[[list[Task]], list[str]]
    chat: bool  # True: replies answer `chat_message(task)`; False: they continue `task.prompt`


def chat_message(task: Task) -> str:
    """The task in words for a chat model: McEval's instruction, else the prompt to complete in a code block."""
    if task.instruction:
        return task.instruction
    fence = task.language.lower().replace(" ", "")
    return (f"Complete the following {task.language} code. Reply with the whole program, self-contained, in one "
            f"markdown code block.\n\n```{fence}\n{task.prompt}```")


def function_end(language: str, prompt: str, completion: str) -> str:
    """The completion cut where the prompt's function ends, so that trailing chatter does not run."""
    if language == "Python":
        cut = min((i for i in (completion.find(stop) for stop in PYTHON_STOPS) if i >= 0), default=len(completion))
        return completion[:cut]
    if language in BRACE_LANGUAGES:
        depth = prompt.count("{") - prompt.count("}")
        for index, char in enumerate(completion):
            depth += {"{": 1, "}": -1}.get(char, 0)
            if depth <= 0 and char == "}":
                return completion[: index + 1]
        return completion
    if language in END_LANGUAGES:
        match = re.search(r"^end\b", completion, re.MULTILINE)
        return completion[: match.end()] if match else completion
    return completion


def run_reply(sandbox: Sandbox, task: Task, reply: str, chat: bool) -> str:
    """The sandbox's verdict (a `Status` value) on one reply."""
    if chat:
        return run_hidden_tests(sandbox, task, reply).status.value
    files, test = assemble(task, task.prompt + function_end(task.language, task.prompt, reply))
    return sandbox.run(task.language, files, test=test).status.value


@dataclass
class TaskOutcome:
    task_id: str
    language: str
    status: str  # the sandbox's verdict: passed, failed, compile_error, timeout, ...
    reply: str


@dataclass
class EvaluationReport:
    model: str
    outcomes: list[TaskOutcome] = field(default_factory=list)

    def _passed(self, language: str | None) -> np.ndarray:
        return np.array([o.status == Status.PASSED.value for o in self.outcomes if language in (None, o.language)],
                        dtype=float)

    def counts(self, language: str | None = None) -> tuple[int, int]:
        """(passed, tasks) in one language, or in all."""
        passed = self._passed(language)
        return int(passed.sum()), len(passed)

    def pass_at_1(self, language: str | None = None) -> float:
        passed, total = self.counts(language)
        return passed / total if total else 0.0

    def interval(self, language: str | None = None) -> tuple[float, float]:
        """The 95% bootstrap interval of pass@1 (percentile method, fixed seed, so a report is reproducible)."""
        passed = self._passed(language)
        if len(passed) < 2 or passed.min() == passed.max():
            return (self.pass_at_1(language),) * 2  # no spread to resample
        result = bootstrap((passed,), np.mean, confidence_level=CONFIDENCE, n_resamples=RESAMPLES,
                           method="percentile", rng=np.random.default_rng(0))
        return float(result.confidence_interval.low), float(result.confidence_interval.high)

    @property
    def languages(self) -> list[str]:
        return sorted({o.language for o in self.outcomes})

    def table(self) -> dict[str, dict]:
        """{language or 'all': {pass_at_1, low, high, passed, tasks}}."""
        rows = {}
        for language in [*self.languages, None]:
            passed, total = self.counts(language)
            low, high = self.interval(language)
            rows[language or "all"] = {"pass_at_1": self.pass_at_1(language), "low": low, "high": high,
                                       "passed": passed, "tasks": total}
        return rows


def evaluate(model: str, tasks: list[Task], completer: Completer, sandbox: Sandbox, workers: int = 2,
             batch_size: int = 8, on_done: Callable[[TaskOutcome], None] | None = None) -> EvaluationReport:
    """Ask the model every task, and run each reply with the task's tests.

    The sandbox runs a batch while the model answers the next one; outcomes keep the tasks' order.
    """

    def run(task: Task, reply: str) -> TaskOutcome:
        outcome = TaskOutcome(task.task_id, task.language, run_reply(sandbox, task, reply, completer.chat), reply)
        if on_done:
            on_done(outcome)
        return outcome

    with ThreadPoolExecutor(max_workers=workers) as pool:
        runs = []
        for start in range(0, len(tasks), batch_size):
            batch = tasks[start: start + batch_size]
            runs += [pool.submit(run, task, reply) for task, reply in zip(batch, completer.reply(batch), strict=True)]
        return EvaluationReport(model, [future.result() for future in runs])


def write_results(reports: Sequence[EvaluationReport], out: Path, about: dict) -> None:
    """`out/outcomes.jsonl` (every task's reply and verdict, per model) and `out/results.json` (`about`: the
    benchmark, its digest, the command...; and each model's table with intervals)."""
    out.mkdir(parents=True, exist_ok=True)
    with (out / "outcomes.jsonl").open("w", encoding="utf-8") as handle:
        for report in reports:
            for outcome in report.outcomes:
                handle.write(json.dumps({"model": report.model, **asdict(outcome)}) + "\n")
    results = {**about, "confidence": CONFIDENCE, "models": {report.model: report.table() for report in reports}}
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
