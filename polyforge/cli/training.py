"""Training commands: fine-tune on a campaign (SFT, then DPO), and evaluate models (pass@1) in the sandbox."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from polyforge.cli.common import USER_ERRORS, console, database_url_of, fail, output_path, progress
from polyforge.cli.views import pass_at_1_table
from polyforge.config import load_config

app = typer.Typer()


@app.command()
def train(
    source: Annotated[str, typer.Argument(help="A campaign output folder, a .db file, or a database URL.")],
    out: Annotated[Path, typer.Option(help="Folder for the trained models (sft/model, dpo/model).")] = Path(
        "runs/train"),
    config: Annotated[Optional[Path], typer.Option(help="Campaign YAML whose 'training' section to use.")] = None,
) -> None:
    """Fine-tune on a campaign: [coarse SFT,] SFT on its pairs, then DPO on its preferences; saves model folders."""
    from polyforge.config import TrainingConfig
    from polyforge.training.recipe import train_and_verify

    output_path(out, folder=True)
    url = database_url_of(source)
    try:
        settings = load_config(config).training if config else TrainingConfig()
    except USER_ERRORS as exc:
        fail(str(exc))
    train_and_verify(url, out, settings, say=console.print)


@app.command("eval")
def evaluate_models(
    models: Annotated[list[str], typer.Argument(
        help="Model folders (e.g. runs/demo/sft/model runs/demo/dpo/model) or 'embedded'; compared side by side.")],
    benchmark: Annotated[str, typer.Option(help="'humaneval' (bundled, Python) or a McEval data folder.")] = "humaneval",
    language: Annotated[list[str], typer.Option(help="Only these languages (repeat the option).")] = [],
    limit: Annotated[Optional[int], typer.Option(min=1, help="Tasks per language (default: all).")] = None,
    max_new_tokens: Annotated[int, typer.Option(min=16, help="Tokens each completion may take.")] = 384,
    batch_size: Annotated[int, typer.Option(min=1, help="Prompts the model completes at once.")] = 8,
    out: Annotated[Optional[Path], typer.Option(help="Write every task's outcome here (JSONL).")] = None,
) -> None:
    """pass@1 of models on a code benchmark: greedy completions, run with the tasks' tests in the sandbox."""
    from polyforge.sandbox.doctor import SandboxMissing, require_sandbox
    from polyforge.training.evaluation import EvaluationError, benchmark_tasks, compare_models, write_outcomes

    if out:
        output_path(out, folder=False)
    try:
        tasks = benchmark_tasks(benchmark, language, limit)
        require_sandbox(sorted({task.language for task in tasks}))  # before any model loads
        with progress() as bar:

            def track(model: str):  # one bar per model, started once the model is loaded
                task = bar.add_task(f"{model}: {benchmark}", total=len(tasks))
                return lambda outcome: bar.advance(task)

            reports = compare_models(models, tasks, max_new_tokens, batch_size, on_model=track)
    except (EvaluationError, SandboxMissing) as exc:
        fail(str(exc))
    console.print(pass_at_1_table(benchmark, len(tasks), reports))
    if out:
        write_outcomes(reports, out)
        console.print(f"outcomes: {out}")
