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
    from polyforge.training.benchmarks import EvaluationError
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
            UnknownCampaign, EvaluationError) as exc:
        fail(str(exc))
    verify_final_model(outcome, console.print)
    if settings.evaluation.benchmark:
        evaluate_after_training(outcome, settings, out)
    console.print(f"run summary: {out / 'summary.json'}")


def evaluate_after_training(outcome, settings, out: Path) -> None:
    """pass@1 of the base model and each stage's model on the configured benchmark: one table, also in the summary."""
    from polyforge.sandbox.doctor import SandboxMissing
    from polyforge.training.benchmarks import EvaluationError
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
    console.print(pass_at_1_table(benchmark, len(tasks), reports))
    add_to_summary(out, settings.evaluation, tasks, reports)


@app.command("eval")
def evaluate_models(
    models: Annotated[Optional[list[str]], typer.Argument(
        help="Model folders (e.g. runs/demo/sft/model runs/demo/dpo/model), 'embedded' or a known model's name, "
        "compared side by side; leave out with --base-url.")] = None,
    base_url: Annotated[Optional[str], typer.Option(
        help="Evaluate a served model instead: an OpenAI-compatible server's URL (vLLM, llama.cpp, ...), e.g. "
        "http://127.0.0.1:8000/v1.")] = None,
    model: Annotated[Optional[str], typer.Option(help="The served model's name (with --base-url).")] = None,
    api_key: Annotated[Optional[str], typer.Option(envvar="POLYFORGE_API_KEY", help="The server's API key.")] = None,
    benchmark: Annotated[str, typer.Option(
        help="'humaneval' (bundled, Python), 'mceval' (bundled, many languages) or a McEval data folder.")] = "humaneval",
    split: Annotated[str, typer.Option(
        help="McEval's tasks: 'evaluation' (held out from campaigns), 'instructions' or 'all'.")] = "evaluation",
    language: Annotated[list[str], typer.Option(help="Only these languages (repeat the option).")] = [],
    limit: Annotated[Optional[int], typer.Option(min=1, help="Tasks per language (default: all).")] = None,
    prompting: Annotated[str, typer.Option(
        help="In-process models: 'chat' (the chat template), 'completion' (continue the code prompt) or 'auto' "
        "(chat when the tokenizer has a template). A served model is always asked through chat.")] = "auto",
    max_new_tokens: Annotated[int, typer.Option(
        min=16, help="Tokens each reply may take (a chat model explains before its code: too few cut the code off).")] = 512,
    batch_size: Annotated[int, typer.Option(min=1, help="Tasks the model answers at once.")] = 8,
    trained_on: Annotated[Optional[str], typer.Option(
        help="The campaign the models were trained on (its folder, .db file or database URL): the benchmark's tasks "
        "must not be among its instruction sources.")] = None,
    out: Annotated[Optional[Path], typer.Option(
        help="Folder for outcomes.jsonl (every reply and verdict) and results.json (pass@1 with intervals, the "
        "benchmark's digest, the command).")] = None,
) -> None:
    """pass@1 of models on a code benchmark: greedy replies, run with the tasks' tests in the sandbox, with a 95%
    bootstrap interval per language."""
    import sys

    from polyforge.sandbox import Sandbox
    from polyforge.sandbox.doctor import SandboxMissing, require_sandbox
    from polyforge.training.benchmarks import EvaluationError, benchmark_tasks, require_held_out, tasks_digest
    from polyforge.training.completers import compare_models, served_completer
    from polyforge.training.evaluation import evaluate, write_results

    if bool(models) == bool(base_url):
        fail("name the models to evaluate, or a served one with --base-url URL --model NAME (not both)")
    if base_url and not model:
        fail("--base-url needs --model: the name the server gives the model (GET URL/models lists them)")
    if out:
        output_path(out, folder=True)
    try:
        tasks = benchmark_tasks(benchmark, language, limit, split)
        if trained_on:
            require_held_out(tasks, source_ids_of(trained_on), trained_on)
        require_sandbox(sorted({task.language for task in tasks}))  # before any model loads
        with progress() as bar:

            def track(name: str):  # one bar per model, started once the model is loaded
                task = bar.add_task(f"{name}: {benchmark}", total=len(tasks))
                return lambda outcome: bar.advance(task)

            if base_url:
                completer = served_completer(base_url, model, max_new_tokens, api_key, concurrency=batch_size)
                reports = [evaluate(model, tasks, completer, Sandbox(), batch_size=batch_size, on_done=track(model))]
            else:
                reports = compare_models(models, tasks, max_new_tokens, batch_size, on_model=track,
                                         prompting=prompting)
    except (EvaluationError, SandboxMissing) as exc:
        fail(str(exc))
    console.print(pass_at_1_table(benchmark, len(tasks), reports))
    if out:
        write_results(reports, out, {"benchmark": benchmark, "split": split, "languages": sorted(
            {task.language for task in tasks}), "tasks": len(tasks), "tasks_sha256": tasks_digest(tasks),
            "served_by": base_url, "max_new_tokens": max_new_tokens, "command": ["polyforge", *sys.argv[1:]]})
        console.print(f"results: {out / 'results.json'}, every reply: {out / 'outcomes.jsonl'}")


def source_ids_of(campaign: str) -> set[str]:
    """The instruction-source row ids of the newest campaign in CAMPAIGN's database."""
    from polyforge.storage import session_scope
    from polyforge.storage.report import latest_campaign
    from polyforge.training.held_out import campaign_source_ids

    with session_scope(database_url_of(campaign), create=False) as session:
        newest = latest_campaign(session)
        return campaign_source_ids(session, newest.id) if newest else set()
