"""`polyforge judge ...`: the judge measured against annotators and against known answers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from polyforge.checklists.calibration import CalibrationError, calibrate, read_verdicts
from polyforge.cli.common import USER_ERRORS, DatabaseSource, console, database_url_of, fail
from polyforge.cli.judging_views import print_calibration
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


@app.command("bench")
def judge_bench(
    mceval_dir: Annotated[Path, typer.Argument(help="McEval's data folder (one <Language>.jsonl per language).")],
    model: Annotated[str, typer.Option(
        help="The judge: a known embedded model (smollm2-135m, qwen2.5-coder-1.5b) or a GGUF file.")] = "smollm2-135m",
    language: Annotated[Optional[list[str]], typer.Option(
        help="Only these languages (repeat the option); default: every McEval language the sandbox runs.")] = None,
    tasks_per_language: Annotated[int, typer.Option(min=1, help="Usable tasks per language (two pairs each).")] = 2,
    checklist: Annotated[str, typer.Option(help="A bundled checklist name or a checklist YAML file.")] = "default",
    sandbox_verdict: Annotated[bool, typer.Option(
        help="Also judge every pair told the sandbox's verdict (the second column).")] = True,
    rationales: Annotated[bool, typer.Option(
        help="Ask for a one-sentence rationale before each criterion's score (about 4x the judge's tokens).")] = False,
    seed: Annotated[int, typer.Option(help="The judge's sampling seed.")] = 7,
    context_tokens: Annotated[int, typer.Option(min=512, help="Context window of the model.")] = 4096,
    threads: Annotated[Optional[int], typer.Option(min=1, help="CPU threads of the model (default: all cores).")] = None,
    out: Annotated[Optional[Path], typer.Option(help="Also write the figures and every verdict to this JSON file.")] = None,
    max_minutes: Annotated[Optional[float], typer.Option(
        min=0, help="Start no task's judging after this many minutes; report on the tasks judged by then.")] = None,
) -> None:
    """Measure the judge on McEval pairs with known answers: each task's reference solution (correct) and a
    mutant that fails its tests (broken), scored blind and told the sandbox's verdict."""
    import asyncio
    import json
    import time
    from dataclasses import asdict

    from polyforge.agents import JudgeAgent
    from polyforge.agents.judge_bench import BLIND, MODES, JudgeBenchError, bench_report, build_pairs, judge_pairs
    from polyforge.checklists import load_checklist
    from polyforge.cli.common import progress
    from polyforge.cli.judging_views import print_judge_bench
    from polyforge.config import JudgeConfig, StageSampling
    from polyforge.languages import grammar_names
    from polyforge.llm.embedded import EmbeddedBackend
    from polyforge.llm.models import resolve
    from polyforge.sandbox import Sandbox
    from polyforge.sandbox.doctor import require_sandbox
    from polyforge.sandbox.mceval import McEvalError, load_tasks

    try:
        rules = load_checklist(checklist)
        resolve(model)  # a model that is not there is named before the sandbox runs anything
        # Twice the tasks asked for are run: some have a reference that fails here or a mutant that passes.
        tasks = load_tasks(mceval_dir, language, limit=2 * tasks_per_language)
        sandbox = Sandbox()
        require_sandbox({task.language for task in tasks}, sandbox)
        with progress() as bar:
            running = bar.add_task("running reference and broken solutions", total=len(tasks))
            pairs, left_out = build_pairs(sandbox, tasks, tasks_per_language,
                                          on_run=lambda _: bar.advance(running))
        if not pairs:
            raise JudgeBenchError(f"no usable pairs: tasks left out {left_out}")
        backend = EmbeddedBackend(model, context_tokens=context_tokens, threads=threads)
        judge = JudgeAgent(backend, rules, StageSampling(temperature=0.0), JudgeConfig(rationales=rationales),
                           grammars=grammar_names())
        modes = MODES if sandbox_verdict else (BLIND,)
        deadline = None if max_minutes is None else time.monotonic() + 60 * max_minutes

        async def judged_all():
            try:
                with progress() as bar:
                    scoring = bar.add_task(f"judging with {backend.name}", total=len(pairs) * len(modes))
                    return await judge_pairs(judge, pairs, modes, seed, on_done=lambda _: bar.advance(scoring),
                                             deadline=deadline)
            finally:
                await backend.aclose()

        judged = asyncio.run(judged_all())
        reports = bench_report(judged, rules)
    except (McEvalError, JudgeBenchError, *USER_ERRORS) as exc:
        fail(str(exc))
    judged_pairs = list({id(row.pair): row.pair for row in judged}.values())
    if len(judged_pairs) < len(pairs):
        console.print(f"[yellow]stopped after {max_minutes:g} minutes: {len(judged_pairs)} of {len(pairs)} pairs "
                      "judged; the figures are theirs[/]")
    pairs = judged_pairs
    per_language: dict[str, int] = {}
    for pair in pairs:
        per_language[pair.language] = per_language.get(pair.language, 0) + pair.correct
    print_judge_bench(reports, rules, backend.name, len(pairs), per_language, rationales)
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
        out.write_text(json.dumps({"model": backend.name, "checklist": rules.content_hash, "seed": seed,
                                   "rationales": rationales,
                                   "tasks_per_language": per_language, "left_out": left_out,
                                   "reports": [asdict(report) for report in reports], "verdicts": verdicts},
                                  indent=1, default=str), encoding="utf-8")
        console.print(f"wrote {out}")
