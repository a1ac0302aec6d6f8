"""Campaign commands: run (or resume) one, watch their status, report on one, and the demo."""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.live import Live
from sqlalchemy import make_url

from polyforge.cli.common import USER_ERRORS, DatabaseSource, console, database_url_of, fail, output_path, progress
from polyforge.cli.views import LiveProgress, print_campaign_result, print_coverage, print_summary, status_table
from polyforge.config import load_config
from polyforge.generation.coverage import Coverage
from polyforge.prompts import PromptError, load_taxonomy
from polyforge.storage import Campaign, database, session_scope
from polyforge.storage.report import coverage_counts, latest_campaign

app = typer.Typer()


class Executor(str, Enum):
    local = "local"
    ray = "ray"


EXIT_ENDPOINTS_DOWN = 75  # EX_TEMPFAIL: try again later; the same command resumes


@contextmanager
def campaign_display() -> Iterator:
    """The hooks of a campaign run, drawn as a live progress bar; Ctrl+C or SIGTERM stops the run cleanly
    (status 'interrupted') and ends the command with exit status 130, and so does an outage of every
    endpoint of a role past its wait, with exit status 75."""
    from polyforge.generation.campaign import CampaignProgress
    from polyforge.llm import EndpointsDown

    # SIGTERM (a scheduler, `kill`) stops like Ctrl+C: items in flight are dropped, banks saved, status set.
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        with progress() as bar:
            live = LiveProgress(bar)
            yield CampaignProgress(live.on_ingested, live.on_scheduled, live.on_item_done, live.on_notice)
    except KeyboardInterrupt:
        console.print("stopped: every finished item is stored; run the same command again to resume")
        raise typer.Exit(130)
    except EndpointsDown as exc:
        console.print(f"[bold red]stopped:[/] {exc}; every finished item is stored, the items in flight are pending")
        raise typer.Exit(EXIT_ENDPOINTS_DOWN)
    finally:
        signal.signal(signal.SIGTERM, previous)


@app.command()
def run(
    config: Annotated[Path, typer.Argument(help="Campaign YAML file (see examples/campaign.yaml).")],
    out: Annotated[Optional[Path], typer.Option(help="Output folder; overrides the config's output_dir.")] = None,
    new_campaign: Annotated[bool, typer.Option(
        help="Start the config over as a new campaign instead of resuming the last one of its name; "
             "the memory banks are reused, so tasks seen before are rejected as duplicates.")] = False,
    retry_failed: Annotated[bool, typer.Option(
        help="Schedule the campaign's failed items again (a reply that never parsed, a budget exceeded); "
             "items stopped by a server outage are never failed, a plain resume takes them.")] = False,
    executor: Annotated[Optional[Executor], typer.Option(
        help="Where work items run: local (this process) or ray (a worker per language on a Ray cluster); "
             "overrides the config's workers.executor.")] = None,
    ray_address: Annotated[Optional[str], typer.Option(
        help="The Ray cluster to join (e.g. auto, or ray://head:10001); default: a Ray started here for the run.")
    ] = None,
    estimate: Annotated[Optional[int], typer.Option(
        min=1, metavar="N",
        help="Instead of the campaign, run a sample of N pairs' work items (languages in turn) in a throwaway "
             "database, project the whole campaign's tokens, server time, cost, accepted pairs and cost per accepted "
             "pair with 95% intervals (models.*.price), and stop.")] = None,
) -> None:
    """Run (or resume) a generation campaign from a config file."""
    from polyforge.generation.campaign import CampaignRunner

    if estimate is not None:
        given = [flag for flag, on in (("--new-campaign", new_campaign), ("--retry-failed", retry_failed),
                                       ("--executor", executor), ("--ray-address", ray_address)) if on]
        if given:
            fail(f"--estimate runs its sample in this process, apart from the campaign: {', '.join(given)} "
                 "cannot apply; leave it out")
        run_estimate(config, out, estimate)
        return
    workers = {"executor": executor.value} if executor else {}
    if ray_address:
        workers["ray_address"] = ray_address
    try:
        campaign = load_config(config, {"output_dir": str(out)} if out else None)
        campaign.workers = campaign.workers.model_copy(update=workers)
        output_path(campaign.output_dir, folder=True)
        with campaign_display() as hooks:
            result = asyncio.run(CampaignRunner(campaign, hooks, new_campaign=new_campaign,
                                                retry_failed=retry_failed, check_sandbox=True).run())
    except USER_ERRORS as exc:
        fail(str(exc))
    if retry_failed:
        console.print(f"scheduled {result.requeued} failed item(s) again")
    print_campaign_result(result)
    if result.stopped_by:
        console.print(f"stopped early: {result.stopped_by}")
    console.print(f"database: {shown_database(result.database_url)}")


def run_estimate(config: Path, out: Optional[Path], sample: int) -> None:
    """`run --estimate`: the sample, then the projection table."""
    from polyforge.cli.cost_views import estimate_table
    from polyforge.generation.estimate import EstimateError, estimate

    try:
        campaign = load_config(config, {"output_dir": str(out)} if out else None)
        with campaign_display() as hooks:
            projection = asyncio.run(estimate(campaign, sample, hooks))
    except (*USER_ERRORS, EstimateError) as exc:
        fail(str(exc))
    console.print(estimate_table(projection))
    if projection.cost is None:
        console.print("no model has a price (models.*.price): tokens, time and accepted pairs only")
    console.print("nothing of the sample is kept: `polyforge run` without --estimate runs the campaign")


def shown_database(url: str) -> str:
    """A SQLite database as its file, any other as its URL without the password."""
    parsed = make_url(url)
    return parsed.database if parsed.get_backend_name() == "sqlite" else parsed.render_as_string(hide_password=True)


@app.command()
def status(
    source: DatabaseSource = "runs/demo",
    watch: Annotated[Optional[float], typer.Option(
        min=0.5, help="Refresh every this many seconds while campaigns run (Ctrl+C to leave).")] = None,
) -> None:
    """List the campaigns in a database and how far each got."""
    with database(database_url_of(source), create=False) as sessions:
        if watch is None:
            console.print(status_table(sessions, source))
            return
        # Ctrl+C only asks the loop to end: raised inside a query, it could leave the connection pool locked.
        leave = threading.Event()
        previous = signal.signal(signal.SIGINT, lambda *_: leave.set())
        try:
            with Live(status_table(sessions, source), console=console, auto_refresh=False) as live:
                while not leave.wait(watch):
                    live.update(status_table(sessions, source), refresh=True)
        finally:
            signal.signal(signal.SIGINT, previous)


@app.command()
def report(
    source: DatabaseSource = "runs/demo",
    campaign: Annotated[Optional[int], typer.Option(help="Campaign id (default: the newest; see `status`).")] = None,
    html: Annotated[Optional[Path], typer.Option(
        "--html", help="Write the campaign's dashboard (charts embedded) to this file instead of printing.")] = None,
) -> None:
    """Print a campaign's summary: pairs per language, judge scores, flag reasons, synergy, coverage."""
    url = database_url_of(source)
    if html is not None:
        output_path(html, folder=False)
    with session_scope(url, create=False) as session:
        chosen = session.get(Campaign, campaign) if campaign is not None else latest_campaign(session)
        if chosen is None:
            fail(f"no campaign {campaign} in {source}; `polyforge status {source}` lists them" if campaign is not None
                 else f"{source} holds no campaign yet")
        if html is not None:
            from polyforge.dashboard import campaign_dashboard

            html.parent.mkdir(parents=True, exist_ok=True)
            html.write_text(campaign_dashboard(session, chosen), encoding="utf-8")
            console.print(f"wrote the dashboard of campaign {chosen.id} ({chosen.name}) to {html}")
            return
        taxonomy_name = (chosen.config.get("coverage") or {}).get("taxonomy", "taxonomy")
        counts = coverage_counts(session, chosen.id)
        campaign_id, name = chosen.id, chosen.name
    console.print(f"campaign {campaign_id} ({name}) in {source}")
    print_summary(url, campaign_id)
    try:
        taxonomy = load_taxonomy(taxonomy_name)
    except PromptError as exc:
        console.print(f"coverage not shown: {exc}")
        return
    print_coverage(Coverage(taxonomy, counts), f"campaign {campaign_id}")


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Output folder for the demo campaign.")] = Path("runs/demo"),
) -> None:
    """Run the bundled sample campaign on the embedded model, export it, and train briefly on it."""
    from polyforge.demo import DemoError, DemoHooks, demo_config, run_demo

    try:
        config_path = demo_config()
    except DemoError as exc:
        fail(str(exc))
    output_path(out, folder=True)
    console.print(f"[bold]Polyforge demo[/]: {config_path} -> {out}")
    hooks = DemoHooks(watch=campaign_display, on_campaign=print_campaign_result, say=console.print)
    try:
        result = run_demo(out, hooks, config_path)
    except USER_ERRORS as exc:
        fail(str(exc))
    console.print(f"database: {result.database}")
