"""`polyforge judge ...`: the judge measured against annotators and against known answers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NamedTuple, Optional

import typer

from polyforge.agents import JudgeAgent
from polyforge.checklists import Checklist, load_checklist
from polyforge.checklists.calibration import CalibrationError, calibrate, read_verdicts
from polyforge.cli.common import USER_ERRORS, DatabaseSource, console, database_url_of, fail
from polyforge.cli.judging_views import print_calibration
from polyforge.config import ConfigError, JudgeConfig, ModelConfig, StageSampling, load_config
from polyforge.languages import grammar_names
from polyforge.llm import create_backend
from polyforge.llm.models import ModelUnavailable, resolve
from polyforge.prompts import PromptLibrary
from polyforge.storage import session_scope
from polyforge.storage.judgments import judged_pairs, review_verdicts

app = typer.Typer(help="The judge: calibration against annotators, and a benchmark with known answers.",
                  no_args_is_help=True)


@app.command("calibrate")
def judge_calibrate(
    source: DatabaseSource,
    verdicts: Annotated[Optional[Path], typer.Option(
        help="CSV with columns pair_id and verdict (accept or reject); default: the database's review table.")] = None,
    campaign: Annotated[Optional[int], typer.Option(help="Only pairs of this campaign id.")] = None,
) -> None:
    """Compare the judge's routing with annotator verdicts and fit suggested checklist weights."""
    url = database_url_of(source)
    try:
        with session_scope(url, create=False) as session:
            labels = read_verdicts(verdicts) if verdicts else review_verdicts(session)
            if not labels:
                raise CalibrationError("no annotator verdicts: the review table is empty; pass --verdicts CSV")
            rows = judged_pairs(session, labels, campaign)
        report = calibrate(rows, labels)
    except USER_ERRORS as exc:
        fail(str(exc))
    unknown = len(labels) - len(rows)
    if unknown:
        console.print(f"[yellow]{unknown} verdict(s) name pairs not in the database; ignored[/]")
    print_calibration(report)


class BenchJudge(NamedTuple):
    """The judge `judge bench` measures, as settings: no model is loaded and no server called until it is built."""

    model: ModelConfig
    second: ModelConfig | None
    settings: JudgeConfig
    sampling: StageSampling
    checklist: str
    prompts_folder: Path | None

    def build(self, checklist: Checklist) -> JudgeAgent:
        """The judge agent, on the backends a campaign would make of these model configs."""
        backend = create_backend(self.model, "judge")
        second = create_backend(self.second, "second_judge") if self.second else None
        return JudgeAgent(backend, checklist, self.sampling, self.settings, second_backend=second,
                          grammars=grammar_names(), prompts=PromptLibrary(self.prompts_folder))


def bench_judge(config: Path | None, model: str | None, base_url: str | None, checklist: str | None,
                rationales: bool | None, context_tokens: int, threads: int | None) -> BenchJudge:
    """The judge the options name: a campaign config's (models.judge, or the generator; its second judge, judge
    settings, judge sampling, checklist and prompts), a model on an OpenAI-compatible server, or an embedded
    model. Rationales left unset follow the campaign's rule: on for a server, off in process."""
    if config is not None:
        if model or base_url:
            raise ConfigError(f"--config {config} names the judge (models.judge, or the generator): leave out "
                              "--model and --base-url, or --config")
        campaign = load_config(config)
        if campaign.models.judge is None:
            console.print(f"{config}: no models.judge; the generator judges ({campaign.models.generator.backend}"
                          f"{', ' + campaign.models.generator.model if campaign.models.generator.model else ''})")
        settings = campaign.judge if rationales is None else campaign.judge.model_copy(update={"rationales": rationales})
        judge = BenchJudge(campaign.judge_model, campaign.models.second_judge, settings, campaign.sampling.judge,
                           checklist or campaign.judge.checklist, campaign.prompts.folder)
    elif base_url is not None:
        if not model:
            raise ConfigError(f"--base-url {base_url} needs --model NAME: the model the server serves "
                              f"(GET {base_url.rstrip('/')}/models lists them)")
        judge = BenchJudge(ModelConfig(backend="openai", base_url=base_url, model=model), None,
                           JudgeConfig(rationales=True if rationales is None else rationales),
                           StageSampling(temperature=0.0), checklist or "default", None)
    else:
        judge = BenchJudge(ModelConfig(backend="embedded", model=model, context_tokens=context_tokens, threads=threads),
                           None, JudgeConfig(rationales=bool(rationales)), StageSampling(temperature=0.0),
                           checklist or "default", None)
    for spec in (judge.model, judge.second):  # a model that is not there is named before the sandbox runs anything
        if spec is not None and spec.backend == "embedded":
            try:
                resolve(spec.model)
            except ModelUnavailable as exc:
                hint = "; for a model on an OpenAI-compatible server, add --base-url URL" if config is None else ""
                raise ModelUnavailable(f"{exc}{hint}") from exc
    return judge


async def require_reachable(judge: JudgeAgent) -> None:
    """Fail at once when a judge's server does not answer, rather than after its retries and outage wait."""
    from polyforge.llm.pool import EndpointPool

    for backend in judge.backends:
        if isinstance(backend, EndpointPool):
            await backend.require_reachable()


@app.command("bench")
def judge_bench(
    mceval_dir: Annotated[Optional[Path], typer.Argument(
        help="A McEval data folder (one <Language>.jsonl per language); default: the bundled copy.")] = None,
    model: Annotated[Optional[str], typer.Option(
        help="The judge: a known embedded model (smollm2-135m, the default; qwen2.5-coder-1.5b) or a GGUF file; with "
             "--base-url, the model name the server serves.")] = None,
    base_url: Annotated[Optional[str], typer.Option(
        help="An OpenAI-compatible server (vLLM, SGLang, llama.cpp, a hosted API), e.g. http://127.0.0.1:8000/v1; "
             "its --model judges. More server settings (response_format, API key, several URLs): --config.")] = None,
    config: Annotated[Optional[Path], typer.Option(
        help="A campaign config: its judge is measured (models.judge, or the generator; the second judge, judge "
             "settings, judge sampling, checklist and prompts too).")] = None,
    language: Annotated[Optional[list[str]], typer.Option(
        help="Only these languages (repeat the option); default: every McEval language the sandbox runs.")] = None,
    tasks_per_language: Annotated[int, typer.Option(min=1, help="Usable tasks per language (two pairs each).")] = 2,
    checklist: Annotated[Optional[str], typer.Option(
        help="A bundled checklist name or a checklist YAML file; default: the config's, or 'default'.")] = None,
    sandbox_verdict: Annotated[bool, typer.Option(
        help="Also judge every pair told the sandbox's verdict (the second column).")] = True,
    rationales: Annotated[Optional[bool], typer.Option(
        "--rationales/--no-rationales",
        help="Ask for a one-sentence rationale before each criterion's score (about 4x the judge's tokens); default: "
             "the config's judge.rationales, else on for a server and off for an embedded model.")] = None,
    seed: Annotated[int, typer.Option(help="The judge's sampling seed.")] = 7,
    context_tokens: Annotated[int, typer.Option(min=512, help="Context window of an embedded model.")] = 4096,
    threads: Annotated[Optional[int], typer.Option(
        min=1, help="CPU threads of an embedded model (default: all cores).")] = None,
    out: Annotated[Optional[Path], typer.Option(help="Also write the figures and every verdict to this JSON file.")] = None,
    max_minutes: Annotated[Optional[float], typer.Option(
        min=0, help="Start no task's judging after this many minutes; report on the tasks judged by then.")] = None,
) -> None:
    """Measure a judge (embedded, on a server, or a campaign config's) on McEval pairs with known answers: each
    task's reference solution (correct) and a mutant that fails its tests (broken), scored blind and told the
    sandbox's verdict."""
    import asyncio
    import json
    import time
    from dataclasses import asdict

    from polyforge.agents.judge_bench import BLIND, MODES, JudgeBenchError, bench_report, build_pairs, judge_pairs
    from polyforge.cli.common import progress
    from polyforge.cli.judging_views import print_judge_bench
    from polyforge.llm import EndpointUnavailable
    from polyforge.sandbox import Sandbox
    from polyforge.sandbox.doctor import require_sandbox
    from polyforge.sandbox.mceval import McEvalError, bundled_mceval, load_tasks

    modes = MODES if sandbox_verdict else (BLIND,)

    async def bench(setup: BenchJudge, rules: Checklist, tasks: list):
        judge = setup.build(rules)  # loads an embedded model, or opens clients to the servers
        try:
            await require_reachable(judge)
            sandbox = Sandbox()
            require_sandbox({task.language for task in tasks}, sandbox)
            with progress() as bar:
                running = bar.add_task("running reference and broken solutions", total=len(tasks))
                pairs, left_out = await asyncio.to_thread(build_pairs, sandbox, tasks, tasks_per_language,
                                                          on_run=lambda _: bar.advance(running))
            if not pairs:
                raise JudgeBenchError(f"no usable pairs: tasks left out {left_out}")
            deadline = None if max_minutes is None else time.monotonic() + 60 * max_minutes
            with progress() as bar:
                scoring = bar.add_task(f"judging with {judge.model_names}", total=len(pairs) * len(modes))
                judged = await judge_pairs(judge, pairs, modes, seed, on_done=lambda _: bar.advance(scoring),
                                           deadline=deadline)
            return judge.model_names, pairs, left_out, judged
        finally:
            for backend in judge.backends:
                await backend.aclose()

    try:
        setup = bench_judge(config, model, base_url, checklist, rationales, context_tokens, threads)
        rules = load_checklist(setup.checklist)
        # Twice the tasks asked for are run: some have a reference that fails here or a mutant that passes.
        tasks = load_tasks(mceval_dir or bundled_mceval(), language, limit=2 * tasks_per_language)
        name, pairs, left_out, judged = asyncio.run(bench(setup, rules, tasks))
        scored = [row for row in judged if row.final_score is not None]
        if judged and not scored:
            raise JudgeBenchError(f"the judge ({name}) scored none of the {len(judged)} verdicts; the first "
                                  f"error: {judged[0].verdict.error}")
        reports = bench_report(judged, rules)
    except (McEvalError, JudgeBenchError, EndpointUnavailable, *USER_ERRORS) as exc:
        fail(str(exc))
    judged_pairs = list({id(row.pair): row.pair for row in judged}.values())
    if len(judged_pairs) < len(pairs):
        console.print(f"[yellow]stopped after {max_minutes:g} minutes: {len(judged_pairs)} of {len(pairs)} pairs "
                      "judged; the figures are theirs[/]")
    pairs = judged_pairs
    per_language: dict[str, int] = {}
    for pair in pairs:
        per_language[pair.language] = per_language.get(pair.language, 0) + pair.correct
    print_judge_bench(reports, rules, name, len(pairs), per_language, setup.settings.rationales)
    calls = [c for row in judged for c in row.verdict.completions]
    if calls:
        console.print(f"{len(calls)} judge calls, {sum(c.seconds for c in calls) / len(calls):.1f} s and "
                      f"{sum(c.completion_tokens for c in calls) / len(calls):.0f} completion tokens per call")
    if left_out:
        console.print("tasks left out: " + ", ".join(f"{reason} {count}" for reason, count in left_out.items()))
    if out:
        verdicts = [{"task_id": row.pair.task_id, "language": row.pair.language, "correct": row.pair.correct,
                     "mode": row.mode, "final_score": row.final_score, "route": row.status, "scores": row.scores,
                     "rationales": row.verdict.rationales, "error": row.verdict.error,
                     "seconds": sum(c.seconds for c in row.verdict.completions),
                     "completion_tokens": sum(c.completion_tokens for c in row.verdict.completions)} for row in judged]
        out.write_text(json.dumps({"model": name, "backend": setup.model.backend, "checklist": rules.content_hash,
                                   "seed": seed, "rationales": setup.settings.rationales,
                                   "tasks_per_language": per_language, "left_out": left_out,
                                   "reports": [asdict(report) for report in reports], "verdicts": verdicts},
                                  indent=1, default=str), encoding="utf-8")
        console.print(f"wrote {out}")
