"""Data commands: ingest sources into a database, identify the language of files, export pairs as datasets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from polyforge.cli.campaign import Executor
from polyforge.cli.common import USER_ERRORS, console, database_target, database_url_of, fail, output_path
from polyforge.cli.views import print_ingest_report
from polyforge.config import load_config
from polyforge.export import ExportFilter, export_format, format_names
from polyforge.export import export as export_rows
from polyforge.storage import session_scope
from polyforge.terms import PairOrigin, PairStatus

app = typer.Typer()


def _parse_mixture(entries: list[str]) -> dict[str, float]:
    mixture = {}
    for entry in entries:
        key, sep, share = entry.rpartition("=")
        try:
            mixture[key] = float(share)
        except ValueError:
            sep = ""
        if not sep or not key:
            fail(f"--mix {entry!r}: expected KEY=SHARE, e.g. --mix Python=0.6 --mix Rust=0.4")
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
    unknown = sorted(set(origin) - set(PairOrigin))
    if unknown:
        fail(f"--origin {', '.join(unknown)}: an origin is one of {', '.join(PairOrigin)}")
    spec = ExportFilter(tuple(status), min_score, tuple(language), tuple(origin), campaign_id=campaign,
                        mixture=_parse_mixture(mix), mix_by=mix_by)
    try:
        output_path(out, folder=export_format(format).container.folder)
        with session_scope(database_url_of(source), create=False) as session:
            result = export_rows(session, out, format, spec)
    except USER_ERRORS as exc:
        fail(str(exc))
    console.print(f"wrote {result.rows} rows ({format}) to {result.data_path}; dataset card: {result.card_path}")


@app.command()
def identify(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders (folders are walked).")],
) -> None:
    """Print the language of each file as one JSON object per line: path, language (null: not code), reason."""
    from polyforge.ingest.identify import identify_paths

    missing = 0
    for verdict, exists in identify_paths(paths):
        missing += not exists
        print(json.dumps(verdict, ensure_ascii=False))
    if missing:
        raise typer.Exit(1)


@app.command()
def ingest(
    sources: Annotated[list[str], typer.Argument(
        help="Local folders, git URLs (cloned shallowly), and corpora of code files: Parquet or JSON Lines shards or "
        "a glob of them, or a folder saved by datasets (The Stack v2's field names; a campaign config maps others).")],
    # Text, not a Path: a Path would fold the // of a URL (postgresql+psycopg://...).
    db: Annotated[str, typer.Option(help="Database: a .db file, a folder holding polyforge.db, or a URL.")],
    config: Annotated[Optional[Path], typer.Option(help="Campaign YAML whose 'ingest' and 'languages' to use.")] = None,
    campaign: Annotated[str, typer.Option(help="Campaign name the snippets are stored under.")] = "ingest",
    language: Annotated[Optional[list[str]], typer.Option(help="Only this language (repeat the option).")] = None,
    executor: Annotated[Optional[Executor], typer.Option(
        help="Where the steps run: local (a process pool here) or ray (shards on a Ray cluster, duplicates found "
             "across it; the same snippets kept); default: the config's workers.executor, else local.")] = None,
    ray_address: Annotated[Optional[str], typer.Option(
        help="The Ray cluster to join (e.g. auto, or ray://head:10001); default: the config's workers.ray_address, "
             "else a Ray started here for the run.")] = None,
) -> None:
    """Ingest sources into a database: snippets plus the per-language table of counts."""
    from polyforge.config import IngestConfig, WorkersConfig
    from polyforge.ingest.corpus import source_of
    from polyforge.ingest.store import ingest_into_database

    url = database_target(db)
    try:
        loaded = load_config(config) if config else None
        settings = loaded.ingest if loaded else IngestConfig()
        languages = language or (loaded.languages if loaded else None)
        workers = loaded.workers if loaded else WorkersConfig()
        if ray_address and (executor or Executor(workers.executor)) != Executor.ray:
            fail("--ray-address names the Ray cluster of --executor ray: add --executor ray, or leave the address out")
        with Progress(SpinnerColumn(), TextColumn("ingest {task.fields[files]} files"), BarColumn(),
                      TextColumn("{task.completed:,.0f} bytes"), TimeElapsedColumn(), console=console) as progress:
            task = progress.add_task("ingest", total=None, files=0)

            def on_file(size: int) -> None:
                progress.update(task, advance=size, files=progress.tasks[task].fields["files"] + 1)

            report, run_id = ingest_into_database(url, [source_of(source) for source in sources], settings, campaign,
                                                  languages, on_file, (executor or Executor(workers.executor)).value,
                                                  ray_address or workers.ray_address)
    except USER_ERRORS as exc:
        fail(str(exc))
    print_ingest_report(report)
    console.print(f"stored ingest run {run_id}: {sum(s.snippets for s in report.languages.values())} snippets in {db}")
    if report.problems and all(source.error for source in report.sources):
        raise typer.Exit(1)
