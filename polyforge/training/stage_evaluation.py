"""pass@1 after training: the base model and each stage's model on one held-out benchmark, in the sandbox.

The table (stage x language) goes into the run summary, so a run records what each stage bought.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from polyforge.config import StageEvaluationConfig
from polyforge.sandbox.mceval import Task
from polyforge.training.evaluation import EvaluationReport, TaskOutcome, benchmark_tasks, compare_models
from polyforge.training.recipe import SUMMARY_FILE, TrainingOutcome


def stage_models(outcome: TrainingOutcome, base_model: str) -> dict[str, str]:
    """Stage name -> model folder (or 'embedded'), base first, in training order."""
    return {"base": base_model, **{name: str(result.model_dir) for name, result in outcome.stages.items()}}


def evaluation_tasks(settings: StageEvaluationConfig) -> list[Task]:
    """The benchmark's tasks, once the sandbox has shown it can run their languages; `polyforge train` calls it
    before training too, so that a bad benchmark fails before any work."""
    from polyforge.sandbox.doctor import require_sandbox

    tasks = benchmark_tasks(settings.benchmark, settings.languages or None, settings.limit)
    require_sandbox(sorted({task.language for task in tasks}))
    return tasks


def evaluate_stages(outcome: TrainingOutcome, base_model: str, settings: StageEvaluationConfig,
                    on_model: Callable[[str], Callable[[TaskOutcome], None] | None] = lambda stage: None
                    ) -> tuple[list[EvaluationReport], int]:
    """Each stage's report (named by stage) on the configured benchmark, and the number of tasks."""
    tasks = evaluation_tasks(settings)
    models = stage_models(outcome, base_model)
    stage_of = {model: stage for stage, model in models.items()}
    reports = compare_models(list(models.values()), tasks, settings.max_new_tokens,
                             on_model=lambda model: on_model(stage_of[model]))
    for report in reports:
        report.model = stage_of[report.model]
    return reports, len(tasks)


def pass_at_1_by_stage(reports: list[EvaluationReport]) -> dict[str, dict[str, float]]:
    """{stage: {language: pass@1, ..., 'all': pass@1}}."""
    return {report.model: {**{language: report.pass_at_1(language) for language in report.languages},
                           "all": report.pass_at_1()} for report in reports}


def add_to_summary(out: Path, benchmark: str, tasks: int, reports: list[EvaluationReport]) -> None:
    """Record the table in `out/summary.json` under 'evaluation'."""
    path = out / SUMMARY_FILE
    summary = json.loads(path.read_text())
    summary["evaluation"] = {"benchmark": benchmark, "tasks": tasks, "pass_at_1": pass_at_1_by_stage(reports)}
    path.write_text(json.dumps(summary, indent=2))
