"""The `polyforge` command line: one typer app, thin glue over the packages below it."""

from __future__ import annotations

import asyncio
import math
import os
import signal
import sys
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from polyforge.checklists import ChecklistError
from polyforge.checklists.calibration import CalibrationError, CalibrationReport, calibrate, read_verdicts
from polyforge.cli_common import DatabaseSource, console, database_url_of
from polyforge.cli_common import fail as _fail
from polyforge.cli_prompts import app as prompts_app
from polyforge.cli_sandbox import app as sandbox_app
from polyforge.config import CampaignConfig, ConfigError, load_config
from polyforge.generation.coverage import Coverage
from polyforge.ingest import IngestError, IngestReport
from polyforge.llm.embedded import EmbeddedModelMissing
from polyforge.prompts import PromptError, load_taxonomy
from polyforge.storage import Campaign, DatabaseNotFound, existing_database_url, open_engine, session_factory
from polyforge.export import ExportError, ExportFilter, format_names
from polyforge.export import export as export_rows
from polyforge.storage.judgments import judged_pairs, review_verdicts
from polyforge.storage.report import (
    ORIGINS,
    CriterionDistribution,
    Synergy,
    campaign_progress,
    coverage_counts,
    criterion_distributions,
    flag_reason_counts,
    language_summaries,
    latest_campaign,
    synergy,
    total_summary,
)
from polyforge.terms import PairStatus

app = typer.Typer(help="Polyforge: multi-agent synthetic instruction data for code LLMs.", no_args_is_help=True)
judge_app = typer.Typer(help="The judge: calibration against annotators.", no_args_is_help=True)
app.add_typer(judge_app, name="judge")
app.add_typer(sandbox_app, name="sandbox")
app.add_typer(prompts_app, name="prompts")
PROGRESS_STATUSES = (PairStatus.accepted, PairStatus.flagged, PairStatus.rejected, PairStatus.failed)
IDENTIFY_READ_BYTES = 65_536  # identification needs the head of a file, never all of a large one
EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "examples"

# Errors a user can fix: shown as one clear message and exit code 2, never a traceback.
USER_ERRORS = (ConfigError, ChecklistError, PromptError, IngestError, DatabaseNotFound, EmbeddedModelMissing,
               CalibrationError)


class _LiveProgress:
    """Rich progress for a campaign: one bar, counts by status in its description."""

    def __init__(self, progress: Progress):
        self._progress = progress
        self._task = None
        self._counts = Counter()

    def on_ingested(self, report: IngestReport) -> None:
        print_ingest_report(report)

    def on_scheduled(self, total: int) -> None:
        if self._task is None:
            self._task = self._progress.add_task(self._describe(), total=total)
        else:  # transfers from discussions add pairs as the run goes
            self._progress.update(self._task, total=total)

    def on_item_done(self, language: str, status: str) -> None:
        self._counts[status] += 1
        self._progress.update(self._task, advance=1, description=self._describe())
        if not self._progress.console.is_terminal:  # logs get one line per item instead of a live bar
            task = self._progress.tasks[self._task]
            self._progress.console.print(f"[{task.completed:.0f}/{task.total:.0f}] {language}: {status}")

    def _describe(self) -> str:
        c = self._counts
        return (f"pairs [green]{c[PairStatus.accepted]} accepted[/] [yellow]{c[PairStatus.flagged]} flagged[/] "
                f"[red]{c[PairStatus.rejected]} rejected[/] {c[PairStatus.failed]} failed")


def _progress() -> Progress:
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=console)


def run_campaign(config: CampaignConfig, new_campaign: bool = False):
    """Run a campaign with a live progress bar; Ctrl+C or SIGTERM stops it cleanly (status 'interrupted')."""
    from polyforge.generation.campaign import CampaignProgress, CampaignRunner

    # SIGTERM (a scheduler, `kill`) stops like Ctrl+C: items in flight are dropped, banks saved, status set.
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        with _progress() as progress:
            live = _LiveProgress(progress)
            hooks = CampaignProgress(live.on_ingested, live.on_scheduled, live.on_item_done)
            return asyncio.run(CampaignRunner(config, hooks, new_campaign=new_campaign).run())
    except KeyboardInterrupt:
        console.print("stopped: every finished item is stored; run the same command again to resume")
        raise typer.Exit(130)
    finally:
        signal.signal(signal.SIGTERM, previous)


def print_summary(database: str, campaign_id: int) -> None:
    engine = open_engine(database, create=False)
    with session_factory(engine)() as session:
        rows = language_summaries(session, campaign_id)
        total = total_summary(session, campaign_id)
        distributions = criterion_distributions(session, campaign_id)
        reasons = flag_reason_counts(session, campaign_id)
        discussion = synergy(session, campaign_id)
    engine.dispose()
    table = Table(title=f"campaign {campaign_id}")
    for column in ("language", "generated", *PairStatus, "mean score",
                   "tokens", "seconds"):
        table.add_column(column, justify="left" if column == "language" else "right")
    for row in rows + ([total] if total else []):
        mean = "-" if row.mean_score is None else f"{row.mean_score:.2f}"
        table.add_row(row.language, str(row.generated), str(row.accepted), str(row.flagged), str(row.rejected),
                      str(row.duplicate), str(row.failed), mean, str(row.tokens), f"{row.seconds:.1f}",
                      end_section=row is rows[-1])
    console.print(table)
    if distributions:
        console.print(criterion_table(distributions))
    if reasons:
        console.print("flag reasons: " + ", ".join(f"{reason} {count}" for reason, count in reasons.items()))
    if discussion is not None:
        print_synergy(discussion)


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def print_synergy(figures: Synergy) -> None:
    """Pairs by origin with acceptance rates, then each language's accepted pairs that came from discussion."""
    table = Table(title=f"pairs that came from discussion ({figures.discussions} discussions)")
    for column in ("origin", "pairs", "judged", PairStatus.accepted, "acceptance rate", "tokens per pair"):
        table.add_column(column, justify="left" if column == "origin" else "right")
    for row in figures.origins:
        per_pair = str(round(row.tokens / row.pairs)) if row.pairs else "-"
        table.add_row(row.origin, str(row.pairs), str(row.judged), str(row.accepted), _rate(row.acceptance_rate),
                      per_pair)
    console.print(table)
    lift = "-" if figures.lift is None else f"{figures.lift:.2f}x"
    console.print(f"synergy lift (acceptance rate of discussed and transferred pairs / single-agent pairs): {lift}")
    table = Table(title="synergy per language")
    for column in ("language", PairStatus.accepted, "from discussion", "share", "transfers in (from: accepted/pairs)"):
        table.add_column(column, justify="left" if column in ("language", "transfers in (from: accepted/pairs)")
                         else "right")
    targets = sorted({row.language for row in figures.languages} | {to for _, to in figures.transfers})
    by_language = {row.language: row for row in figures.languages}
    for language in targets:
        row = by_language.get(language)
        transfers = ", ".join(f"{source}: {accepted}/{pairs}"
                              for (source, to), (pairs, accepted) in sorted(figures.transfers.items()) if to == language)
        table.add_row(language, str(row.accepted if row else 0), str(row.from_discussion if row else 0),
                      _rate(row.share if row else None), transfers or "-")
    console.print(table)


def print_coverage(coverage: Coverage | None, scope: str = "every campaign in the database") -> None:
    """Topic rows x language columns: labelled pairs per cell."""
    if coverage is None or not coverage.counts:
        return
    languages = sorted({language for language, _, _ in coverage.counts})
    difficulties = "/".join(coverage.taxonomy.difficulties)
    table = Table(title=f"coverage of {scope}: labelled pairs per topic and language ({difficulties})")
    table.add_column("topic")
    for language in languages:
        table.add_column(language, justify="right")
    for topic in coverage.taxonomy.topics:
        cells = ["/".join(str(coverage.counts[(language, topic, d)]) for d in coverage.taxonomy.difficulties)
                 for language in languages]
        table.add_row(topic, *cells)
    table.add_row("cells filled", *[str(coverage.filled(language)) for language in languages], end_section=True)
    console.print(table)


def print_memory(result) -> None:
    if not result.memory:
        return
    table = Table(title="memory banks (this run)")
    for column in ("agent", "entries", "index", "novelty rejections", "bank"):
        table.add_column(column)
    for language, memory in sorted(result.memory.items()):
        table.add_row(language, str(memory.size), memory.index, str(result.duplicates.get(language, 0)), memory.origin)
    console.print(table)


_BARS = " ▁▂▃▄▅▆▇█"


def criterion_table(distributions: list[CriterionDistribution]) -> Table:
    """Per-criterion score distribution; the histogram has one bar per rounded score, low to high."""
    low = min(min(d.histogram) for d in distributions)
    high = max(max(d.histogram) for d in distributions)
    table = Table(title="judge scores per criterion")
    for column in ("criterion", "pairs", "mean", "std", "min", "max", "overridden", f"histogram {low}..{high}"):
        table.add_column(column, justify="left" if column in ("criterion", f"histogram {low}..{high}") else "right")
    for d in distributions:
        tallest = max(d.histogram.values())
        bars = "".join(
            _BARS[math.ceil(d.histogram.get(score, 0) / tallest * (len(_BARS) - 1))] for score in range(low, high + 1)
        )
        table.add_row(d.criterion, str(d.count), f"{d.mean:.2f}", f"{d.std:.2f}", f"{d.min:g}", f"{d.max:g}",
                      str(d.overridden), bars)
    return table


def _load(config_path: Path, out: Path | None) -> CampaignConfig:
    return load_config(config_path, {"output_dir": str(out)} if out else None)


def _run_and_report(config_path: Path, out: Path | None, new_campaign: bool = False):
    """Load, run and summarize a campaign; a user error ends the command with its message."""
    try:
        campaign = _load(config_path, out)
        result = run_campaign(campaign, new_campaign)
    except USER_ERRORS as exc:
        _fail(str(exc))
    print_summary(result.database_url, result.campaign_id)
    print_memory(result)
    print_coverage(result.coverage)
    return campaign, result


@app.command()
def run(
    config: Annotated[Path, typer.Argument(help="Campaign YAML file (see examples/campaign.yaml).")],
    out: Annotated[Optional[Path], typer.Option(help="Output folder; overrides the config's output_dir.")] = None,
    new_campaign: Annotated[bool, typer.Option(
        help="Start the config over as a new campaign instead of resuming the last one of its name; "
             "the memory banks are reused, so tasks seen before are rejected as duplicates.")] = False,
) -> None:
    """Run (or resume) a generation campaign from a config file."""
    campaign, result = _run_and_report(config, out, new_campaign)
    if result.stopped_by:
        console.print(f"stopped early: {result.stopped_by}")
    console.print(f"database: {campaign.output_dir / 'polyforge.db'}")


@app.command()
def status(
    source: DatabaseSource = "runs/demo",
    watch: Annotated[Optional[float], typer.Option(
        min=0.5, help="Refresh every this many seconds while campaigns run (Ctrl+C to leave).")] = None,
) -> None:
    """List the campaigns in a database and how far each got."""
    engine = open_engine(database_url_of(source), create=False)
    try:
        if watch is None:
            console.print(status_table(engine, source))
            return
        with Live(status_table(engine, source), console=console, auto_refresh=False) as live:
            while True:
                time.sleep(watch)
                live.update(status_table(engine, source), refresh=True)
    except KeyboardInterrupt:
        pass
    finally:
        engine.dispose()


def status_table(engine, source: str) -> Table:
    """Every campaign in the database with its progress, read afresh (a campaign may be writing)."""
    with session_factory(engine)() as session:
        rows = campaign_progress(session)
    table = Table(title=f"campaigns in {source} at {datetime.now():%H:%M:%S}")
    for column in ("id", "name", "status", "snippets", "pairs", *PROGRESS_STATUSES,
                   "started", "finished"):
        table.add_column(column, no_wrap=True)
    for row in rows:
        done = f"{row.pairs}/{row.budget}" if row.budget else str(row.pairs)
        counts = [str(row.by_status.get(s, 0)) for s in PROGRESS_STATUSES]
        finished = f"{row.finished_at:%m-%d %H:%M}" if row.finished_at else "-"
        table.add_row(str(row.id), row.name, row.status, str(row.snippets), done, *counts,
                      f"{row.created_at:%m-%d %H:%M}", finished)
    return table


@app.command()
def report(
    source: DatabaseSource = "runs/demo",
    campaign: Annotated[Optional[int], typer.Option(help="Campaign id (default: the newest; see `status`).")] = None,
) -> None:
    """Print a campaign's summary: pairs per language, judge scores, flag reasons, synergy, coverage."""
    url = database_url_of(source)
    engine = open_engine(url, create=False)
    with session_factory(engine)() as session:
        chosen = session.get(Campaign, campaign) if campaign is not None else latest_campaign(session)
        if chosen is None:
            _fail(f"no campaign {campaign} in {source}; `polyforge status {source}` lists them" if campaign is not None
                  else f"{source} holds no campaign yet")
        taxonomy_name = (chosen.config.get("coverage") or {}).get("taxonomy", "taxonomy")
        counts = coverage_counts(session, chosen.id)
        campaign_id, name = chosen.id, chosen.name
    engine.dispose()
    console.print(f"campaign {campaign_id} ({name}) in {source}")
    print_summary(url, campaign_id)
    try:
        taxonomy = load_taxonomy(taxonomy_name)
    except PromptError as exc:
        console.print(f"coverage not shown: {exc}")
        return
    print_coverage(Coverage(taxonomy, counts), f"campaign {campaign_id}")


@app.command()
def review(
    source: DatabaseSource = "runs/demo",
    host: Annotated[str, typer.Option(help="Address to listen on (0.0.0.0 to let others on the network in).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """Serve the annotators' web app: the flagged pairs, and a verdict form for each (JSON API at /docs)."""
    import uvicorn

    from polyforge.review import create_app

    url = database_url_of(source)
    console.print(f"review app for {source}: http://{host}:{port}/ (Ctrl+C stops it)")
    uvicorn.run(create_app(url), host=host, port=port, log_level="warning")


def _parse_mixture(entries: list[str]) -> dict[str, float]:
    mixture = {}
    for entry in entries:
        key, sep, share = entry.rpartition("=")
        try:
            mixture[key] = float(share)
        except ValueError:
            sep = ""
        if not sep or not key:
            _fail(f"--mix {entry!r}: expected KEY=SHARE, e.g. --mix Python=0.6 --mix Rust=0.4")
    return mixture


@app.command()
def export(
    source: Annotated[str, typer.Argument(help="A campaign output folder, a .db file, or a database URL.")],
    out: Annotated[Path, typer.Option(help="File to write (a folder for the *-hf formats).")],
    format: Annotated[str, typer.Option(help=f"One of: {', '.join(format_names())}.")] = "sft-jsonl",
    status: Annotated[list[str], typer.Option(help="Pair statuses to include (repeat the option).")] = [PairStatus.accepted],
    min_score: Annotated[Optional[float], typer.Option(help="Only pairs with at least this final score.")] = None,
    language: Annotated[list[str], typer.Option(help="Only these languages (repeat the option).")] = [],
    origin: Annotated[list[str], typer.Option(
        help="Only pairs of this origin: single, discussion or transfer (repeat the option).")] = [],
    campaign: Annotated[Optional[int], typer.Option(help="Only this campaign id.")] = None,
    mix: Annotated[list[str], typer.Option(help="KEY=SHARE of the export, e.g. --mix Python=0.6 --mix Go=0.4.")] = [],
    mix_by: Annotated[str, typer.Option(help="What --mix keys name: language or source.")] = "language",
) -> None:
    """Export pairs as SFT, DPO or FIM data (JSONL, Parquet or an HF datasets folder), with a dataset card."""
    unknown = sorted(set(origin) - set(ORIGINS))
    if unknown:
        _fail(f"--origin {', '.join(unknown)}: an origin is one of {', '.join(ORIGINS)}")
    spec = ExportFilter(tuple(status), min_score, tuple(language), tuple(origin), campaign_id=campaign,
                        mixture=_parse_mixture(mix), mix_by=mix_by)
    try:
        url = existing_database_url(source)
        engine = open_engine(url, create=False)
        with session_factory(engine)() as session:
            result = export_rows(session, out, format, spec)
    except (DatabaseNotFound, ExportError) as exc:
        _fail(str(exc))
    console.print(f"wrote {result.rows} rows ({format}) to {result.data_path}; dataset card: {result.card_path}")


def train_from_database(url: str, out: Path, settings, seed: int = 0) -> None:
    from transformers import AutoModelForCausalLM

    from polyforge.training.pipeline import train_campaign

    outcome = train_campaign(url, out, settings, seed, say=console.print)
    AutoModelForCausalLM.from_pretrained(outcome.final_model)
    console.print(f"final model: {outcome.final_model} (loads with AutoModelForCausalLM.from_pretrained)")


@app.command()
def train(
    source: Annotated[str, typer.Argument(help="A campaign output folder, a .db file, or a database URL.")],
    out: Annotated[Path, typer.Option(help="Folder for the trained models (sft/model, dpo/model).")] = Path(
        "runs/train"),
    config: Annotated[Optional[Path], typer.Option(help="Campaign YAML whose 'training' section to use.")] = None,
) -> None:
    """Fine-tune on a campaign: [coarse SFT,] SFT on its pairs, then DPO on its preferences; saves model folders."""
    from polyforge.config import TrainingConfig

    try:
        url = existing_database_url(source)
        settings = load_config(config).training if config else TrainingConfig()
    except USER_ERRORS as exc:
        _fail(str(exc))
    train_from_database(url, out, settings)


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
    import json

    from polyforge.sandbox import Sandbox
    from polyforge.training.evaluation import EvaluationError, benchmark_tasks, evaluate, transformers_completer

    try:
        tasks = benchmark_tasks(benchmark, language, limit)
        reports = []
        with _progress() as progress:
            for model in models:
                complete = transformers_completer(model, max_new_tokens)
                task = progress.add_task(f"{model}: {benchmark}", total=len(tasks))
                reports.append(evaluate(model, tasks, complete, Sandbox(), batch_size=batch_size,
                                        on_done=lambda outcome, task=task: progress.advance(task)))
    except EvaluationError as exc:
        _fail(str(exc))
    table = Table(title=f"pass@1 on {benchmark} ({len(tasks)} tasks, greedy)")
    table.add_column("language")
    for report in reports:
        table.add_column(report.model, justify="right")
    for name in [*reports[0].languages, None]:
        cells = [f"{r.pass_at_1(name):.1%} ({'/'.join(map(str, r.counts(name)))})" for r in reports]
        table.add_row(name or "all", *cells, end_section=name is None)
    console.print(table)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("w", encoding="utf-8") as handle:
            for report in reports:
                for outcome in report.outcomes:
                    handle.write(json.dumps({"model": report.model, **outcome.__dict__}) + "\n")
        console.print(f"outcomes: {out}")


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Output folder for the demo campaign.")] = Path("runs/demo"),
) -> None:
    """Run the bundled sample campaign on the embedded model, export it, and train briefly on it."""
    config_path = EXAMPLES_DIR / "campaign.yaml"
    if not config_path.is_file():
        _fail(f"the demo needs {config_path}, which ships with the source tree; run it from a clone")
    console.print(f"[bold]Polyforge demo[/]: {config_path} -> {out}")
    campaign, result = _run_and_report(config_path, out)
    engine = open_engine(result.database_url, create=False)
    with session_factory(engine)() as session:
        sft = export_rows(session, out / "export" / "sft.jsonl", "sft-jsonl", ExportFilter(campaign_id=result.campaign_id))
        dpo = export_rows(session, out / "export" / "dpo.jsonl", "dpo-jsonl",
                          ExportFilter(PairStatus.judged(), campaign_id=result.campaign_id))
    engine.dispose()
    console.print(f"exported {sft.rows} accepted pairs: {sft.data_path}")
    console.print(f"exported {dpo.rows} preference pairs (chosen vs rejected candidates): {dpo.data_path}")
    if campaign.training.enabled:
        train_from_database(result.database_url, out, campaign.training, campaign.sampling.seed)
    console.print(f"database: {out / 'polyforge.db'}")


def _identify_targets(paths: list[Path]):
    """Each file named, and every regular file below each folder named (symlinks not followed)."""
    for path in paths:
        if path.is_symlink() or path.is_file():
            yield path
        elif path.is_dir():
            for directory, subdirs, files in os.walk(path):
                subdirs.sort()
                for name in sorted(files):
                    yield Path(directory) / name
        else:
            yield path


@app.command()
def identify(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders (folders are walked).")],
) -> None:
    """Print the language of each file as one JSON object per line: path, language (null: not code), reason."""
    import json

    from polyforge.ingest.identify import identify_content

    missing = 0
    for path in _identify_targets(paths):
        try:
            content = path.read_bytes()[:IDENTIFY_READ_BYTES] if path.is_file() else None
        except OSError as exc:
            content, reason = None, f"unreadable: {exc.strerror}"
        else:
            reason = "not a regular file" if path.exists() else "no such file or folder"
        if content is None:
            missing += not path.exists()
            print(json.dumps({"path": str(path), "language": None, "reason": reason}))
            continue
        print(json.dumps(identify_content(str(path), content).as_json(), ensure_ascii=False))
    if missing:
        raise typer.Exit(1)


def print_ingest_report(report: IngestReport) -> None:
    reasons = report.drop_reasons()
    table = Table(title="ingest: per language (the columns after tokens count dropped snippets by reason)")
    table.add_column("language", no_wrap=True)
    for column in ("files", "snippets", "tokens", *reasons):
        table.add_column(column, justify="right")
    rows = sorted(report.languages.items(), key=lambda item: (-item[1].snippets, item[0]))
    for name, stats in rows:
        table.add_row(name, str(stats.files), str(stats.snippets), str(stats.tokens),
                      *(str(stats.dropped.get(r, 0)) for r in reasons))
    if rows:
        table.add_row("total", *(str(sum(getattr(s, f) for _, s in rows)) for f in ("files", "snippets", "tokens")),
                      *(str(sum(s.dropped.get(r, 0) for _, s in rows)) for r in reasons), style="bold")
    console.print(table)
    for source in report.sources:
        if source.error:
            console.print(f"[yellow]source not read:[/] {source.error}")
            continue
        skipped = ", ".join(f"{reason} {n} (e.g. {source.skipped.examples[reason]})"
                            for reason, n in sorted(source.skipped.items())) or "none"
        console.print(f"source {source.location}: commit {source.commit or '-'}, license {source.license or 'unknown'}, "
                      f"{source.files} files read; skipped: {skipped}")


@app.command()
def ingest(
    sources: Annotated[list[str], typer.Argument(help="Local folders and git URLs (cloned shallowly).")],
    db: Annotated[Path, typer.Option(help="Database: a .db file, a folder holding polyforge.db, or a URL.")],
    config: Annotated[Optional[Path], typer.Option(help="Campaign YAML whose 'ingest' and 'languages' to use.")] = None,
    campaign: Annotated[str, typer.Option(help="Campaign name the snippets are stored under.")] = "ingest",
    language: Annotated[Optional[list[str]], typer.Option(help="Only this language (repeat the option).")] = None,
) -> None:
    """Ingest sources into a database: snippets plus the per-language table of counts."""
    from polyforge.config import IngestConfig
    from polyforge.ingest.store import ingest_into_database
    from polyforge.storage import database_url

    try:
        loaded = load_config(config) if config else None
        settings = loaded.ingest if loaded else IngestConfig()
        languages = language or (loaded.languages if loaded else None)
        with Progress(SpinnerColumn(), TextColumn("ingest {task.fields[files]} files"), BarColumn(),
                      TextColumn("{task.completed:,.0f} bytes"), TimeElapsedColumn(), console=console) as progress:
            task = progress.add_task("ingest", total=None, files=0)

            def on_file(size: int) -> None:
                progress.update(task, advance=size, files=progress.tasks[task].fields["files"] + 1)

            report, run_id = ingest_into_database(database_url(db), sources, settings, campaign, languages, on_file)
    except USER_ERRORS as exc:
        _fail(str(exc))
    print_ingest_report(report)
    console.print(f"stored ingest run {run_id}: {sum(s.snippets for s in report.languages.values())} snippets in {db}")
    if report.problems and all(source.error for source in report.sources):
        raise typer.Exit(1)


@judge_app.command("calibrate")
def judge_calibrate(
    # str, not Path: a Path would fold the '//' of a database URL
    source: Annotated[str, typer.Argument(help="A campaign output folder, a .db file, or a database URL.")],
    verdicts: Annotated[Optional[Path], typer.Option(
        help="CSV with columns pair_id and verdict (accept or reject); default: the database's review table.")] = None,
    campaign: Annotated[Optional[int], typer.Option(help="Only pairs of this campaign id.")] = None,
) -> None:
    """Compare the judge's routing with annotator verdicts and fit suggested checklist weights."""
    try:
        url = existing_database_url(source)
        engine = open_engine(url, create=False)
        with session_factory(engine)() as session:
            labels = read_verdicts(verdicts) if verdicts else review_verdicts(session)
            if not labels:
                raise CalibrationError("no annotator verdicts: the review table is empty; pass --verdicts CSV")
            rows = judged_pairs(session, labels, campaign)
        engine.dispose()
        report = calibrate(rows, labels)
    except USER_ERRORS as exc:
        _fail(str(exc))
    unknown = len(labels) - len(rows)
    if unknown:
        console.print(f"[yellow]{unknown} verdict(s) name pairs not in the database; ignored[/]")
    print_calibration(report)


def _figure(value: float | None, digits: int = 3) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def print_calibration(report: CalibrationReport) -> None:
    agreement = Table(title="judge vs annotators")
    agreement.add_column("measure")
    agreement.add_column("value", justify="right")
    for measure, value in (
        ("labelled pairs with a judge score", str(report.labelled)),
        ("decided by the judge (accepted or rejected)", str(report.decided)),
        ("flagged by the judge (annotators accepted)", f"{report.flagged} ({report.flagged_accepted})"),
        ("accuracy of the judge's routing", _figure(report.accuracy)),
        ("Cohen's kappa", _figure(report.kappa)),
        ("Spearman rho, final score vs verdict", _figure(report.spearman)),
        ("  p-value", _figure(report.spearman_p, 4)),
    ):
        agreement.add_row(measure, value)
    console.print(agreement)
    weights = Table(title="checklist weights: current and fitted (logistic regression)")
    for column in ("criterion", "current", "coefficient", "suggested"):
        weights.add_column(column, justify="left" if column == "criterion" else "right")
    for row in report.weights:
        weights.add_row(row.criterion, f"{row.current:g}", _figure(row.coefficient), _figure(row.suggested, 2))
    console.print(weights)
    if report.fit_accuracy is not None:
        console.print(f"the fitted model reproduces {report.fit_accuracy:.0%} of the verdicts (in-sample); "
                      "suggested weights rescale the positive coefficients to the current total weight; "
                      "0 means the verdicts give the criterion no support (a checklist weight must stay above 0)")
    for note in report.notes:
        console.print(f"[yellow]note:[/] {note}")


def main() -> None:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    app()


if __name__ == "__main__":
    sys.exit(main())
