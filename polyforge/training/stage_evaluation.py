"""pass@1 after training: the base model and each stage's model on one held-out benchmark, in the sandbox.

The table (stage x language) goes into the run summary, so a run records what each stage bought.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from polyforge.config import StageEvaluationConfig
from polyforge.sandbox.mceval import Task
from polyforge.training.benchmarks import benchmark_tasks, tasks_digest
from polyforge.training.completers import compare_models
from polyforge.training.evaluation import CONFIDENCE, EvaluationReport, TaskOutcome
from polyforge.training.recipe import SUMMARY_FILE, TrainingOutcome


def stage_models(outcome: TrainingOutcome, base_model: str) -> dict[str, str]:
    """Stage name -> model folder (or 'embedded'), base first, in training order."""
    return {"base": base_model, **{name: str(result.model_dir) for name, result in outcome.stages.items()}}


def evaluation_tasks(settings: StageEvaluationConfig) -> list[Task]:
    """The benchmark's tasks, once the sandbox has shown it can run their languages; `polyforge train` calls it
    before training too, so that a bad benchmark fails before any work."""
    from polyforge.sandbox.doctor import require_sandbox

    tasks = benchmark_tasks(settings.benchmark, settings.languages or None, settings.limit, settings.split)
    require_sandbox(sorted({task.language for task in tasks}))
    return tasks


def evaluate_stages(outcome: TrainingOutcome, base_model: str, settings: StageEvaluationConfig,
                    on_model: Callable[[str], Callable[[TaskOutcome], None] | None] = lambda stage: None
                    ) -> tuple[list[EvaluationReport], list[Task]]:
    """Each stage's report (named by stage) on the configured benchmark, and the benchmark's tasks."""
    tasks = evaluation_tasks(settings)
    models = stage_models(outcome, base_model)
    stage_of = {model: stage for stage, model in models.items()}
    reports = compare_models(list(models.values()), tasks, settings.max_new_tokens,
                             on_model=lambda model: on_model(stage_of[model]), prompting=settings.prompting)
    for report in reports:
        report.model = stage_of[report.model]
    return reports, tasks


def add_to_summary(out: Path, settings: StageEvaluationConfig, tasks: list[Task],
                   reports: list[EvaluationReport]) -> None:
    """Record the table (stage -> language or 'all' -> pass@1, its interval and counts) in `out/summary.json`
    under 'evaluation', with the benchmark's digest."""
    path = out / SUMMARY_FILE
    summary = json.loads(path.read_text())
    summary["evaluation"] = {"benchmark": settings.benchmark, "split": settings.split, "tasks": len(tasks),
                             "tasks_sha256": tasks_digest(tasks), "confidence": CONFIDENCE,
                             "pass_at_1": {report.model: report.table() for report in reports}}
    path.write_text(json.dumps(summary, indent=2))
