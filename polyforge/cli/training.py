"""Training commands: fine-tune on a campaign (SFT, then DPO), and evaluate models (pass@1) in the sandbox."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from pydantic import ValidationError

from polyforge.cli.common import USER_ERRORS, console, database_url_of, fail, output_path, progress
from polyforge.cli.judging_views import pass_at_1_table
from polyforge.config import load_config

app = typer.Typer()


@app.command()
def train(
    source: Annotated[str, typer.Argument(help="A campaign output folder, a .db file, or a database URL.")],
    out: Annotated[Path, typer.Option(help="Folder for the trained models (sft/model, dpo/model).")] = Path(
        "runs/train"),
    config: Annotated[Optional[Path], typer.Option(help="Campaign YAML whose 'training' section to use.")] = None,
    resume: Annotated[bool, typer.Option(
        "--resume", help="Keep the stages that finished in OUT and go on from the others' last checkpoints "
        "(training.save_steps sets how often they are written).")] = False,
    launcher: Annotated[str, typer.Option(
        help="'none': train in this process; 'accelerate': write OUT/launch/accelerate.yaml and start every "
        "process through `accelerate launch`.")] = "none",
    num_processes: Annotated[int, typer.Option(min=1, help="Processes in all, over every machine (one per GPU).")] = 1,
    num_machines: Annotated[int, typer.Option(min=1, help="Machines taking part (run the command on each).")] = 1,
    machine_rank: Annotated[int, typer.Option(min=0, help="This machine's rank, 0 to num-machines - 1.")] = 0,
    main_process_ip: Annotated[Optional[str], typer.Option(help="Address of the machine of rank 0.")] = None,
    main_process_port: Annotated[int, typer.Option(help="Port of the rank-0 process on that machine.")] = 29500,
    deepspeed: Annotated[Optional[str], typer.Option(
        help="'zero2', 'zero3', 'zero3-offload' (shipped configs) or a DeepSpeed JSON file; overrides "
        "training.deepspeed.")] = None,
    cpu: Annotated[bool, typer.Option("--cpu", help="Train on CPUs (gloo between processes) even with GPUs.")] = False,
    campaign: Annotated[Optional[int], typer.Option(
        help="The campaign to train on, by id (`polyforge status` lists them); default: the newest.")] = None,
    include_unaccepted: Annotated[bool, typer.Option(
        "--include-unaccepted", help="Train SFT on every judged pair, accepted or not (training.include_unaccepted); "
        "by default only accepted pairs, and too few of them stop training.")] = False,
) -> None:
    """Fine-tune on a campaign: [coarse SFT,] SFT on its pairs, then DPO on its preferences; saves model folders,
    a run summary (OUT/summary.json), and with training.evaluation a pass@1 table of every stage."""
    from polyforge.config import TrainingConfig
    from polyforge.training.common import NoTrainableExamples, TrainingSetupError, deepspeed_config_file
    from polyforge.training.evaluation import EvaluationError
    from polyforge.training.launch import LaunchOptions, launch
    from polyforge.training.datasets import TooFewAccepted
    from polyforge.training.recipe import UnknownCampaign, read_outcome, train_campaign, verify_final_model
    from polyforge.training.sft_data import ChatTemplateMissing

    if launcher not in ("none", "accelerate"):
        fail(f"--launcher {launcher!r}: use 'none' (this process) or 'accelerate'")
    output_path(out, folder=True)
    url = database_url_of(source)
    try:
        settings = load_config(config).training if config else TrainingConfig()
        if deepspeed:
            try:  # validated again: the option may clash with the config's other settings
                settings = TrainingConfig.model_validate({**settings.model_dump(), "deepspeed": deepspeed})
            except ValidationError as exc:
                fail(f"--deepspeed {deepspeed}: " + "; ".join(error["msg"] for error in exc.errors()))
        if include_unaccepted:
            settings = settings.model_copy(update={"include_unaccepted": True})
        deepspeed_config_file(settings.deepspeed)  # a bad name or file fails before any work
        if settings.evaluation.benchmark:
            from polyforge.training.stage_evaluation import evaluation_tasks

            try:
                evaluation_tasks(settings.evaluation)  # a benchmark that cannot run fails before training
            except EvaluationError as exc:
                fail(f"training.evaluation: {exc}")
        options = LaunchOptions(num_processes, num_machines, machine_rank, main_process_ip, main_process_port, cpu)
        if launcher == "none":
            if num_processes > 1 or num_machines > 1 or settings.deepspeed:
                fail("several processes, several machines and DeepSpeed need --launcher accelerate")
            out.mkdir(parents=True, exist_ok=True)
            outcome = train_campaign(url, out, settings, say=console.print, resume=resume, campaign_id=campaign)
        else:
            status = launch(url, out, settings, options, resume=resume, campaign_id=campaign)
            if status != 0:
                fail(f"training processes failed (exit status {status}); their output is above. After a crash, "
                     "the same command with --resume goes on from the last checkpoints")
            if machine_rank != 0:
                return  # rank 0's machine holds the models and the summary
            outcome = read_outcome(out)
    except (*USER_ERRORS, TrainingSetupError, NoTrainableExamples, ChatTemplateMissing, TooFewAccepted,
            UnknownCampaign) as exc:
        fail(str(exc))
    verify_final_model(outcome, console.print)
    if settings.evaluation.benchmark:
        evaluate_after_training(outcome, settings, out)
    console.print(f"run summary: {out / 'summary.json'}")


def evaluate_after_training(outcome, settings, out: Path) -> None:
    """pass@1 of the base model and each stage's model on the configured benchmark: one table, also in the summary."""
    from polyforge.sandbox.doctor import SandboxMissing
    from polyforge.training.evaluation import EvaluationError
    from polyforge.training.stage_evaluation import add_to_summary, evaluate_stages

    benchmark = settings.evaluation.benchmark
    try:
        with progress() as bar:

            def track(stage: str):  # one bar per stage's model, once it is loaded
                task = bar.add_task(f"{stage}: {benchmark}", total=None)
                return lambda outcome: bar.advance(task)

            reports, tasks = evaluate_stages(outcome, settings.base_model, settings.evaluation, on_model=track)
    except (EvaluationError, SandboxMissing) as exc:
        fail(f"training finished, but training.evaluation cannot run: {exc}")
    console.print(pass_at_1_table(benchmark, tasks, reports))
    add_to_summary(out, benchmark, tasks, reports)


@app.command("eval")
def evaluate_models(
    models: Annotated[list[str], typer.Argument(
        help="Model folders (e.g. runs/demo/sft/model runs/demo/dpo/model) or 'embedded'; compared side by side.")],
    benchmark: Annotated[str, typer.Option(
        help="'humaneval' (bundled, Python), 'mceval' (bundled, many languages) or a McEval data folder.")] = "humaneval",
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
