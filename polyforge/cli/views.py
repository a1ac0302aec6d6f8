"""What the campaign and data commands print: rich tables for campaigns, judge scores, synergy, coverage,
memory banks and ingest counts, and the live progress of a campaign (judging and review: judging_views)."""

from __future__ import annotations

import math
from collections import Counter
from datetime import datetime

from rich.console import Group
from rich.progress import Progress
from rich.table import Table
from sqlalchemy.orm import Session, sessionmaker

from polyforge.cli.common import console
from polyforge.cli.cost_views import cost_line, money
from polyforge.generation.costs import Prices, campaign_cost
from polyforge.generation.coverage import Coverage
from polyforge.ingest import IngestReport
from polyforge.storage import Campaign, EndpointUsage, session_scope
from polyforge.storage.endpoint_usage import endpoint_usage
from polyforge.storage.privacy import SensitiveCounts, describe, sensitive_counts
from polyforge.storage.report import (
    CriterionDistribution,
    campaign_models,
    campaign_progress,
    criterion_distributions,
    flag_reason_counts,
    gate_drops,
    language_summaries,
    total_summary,
)
from polyforge.storage.spending import StageCost, stage_costs
from polyforge.storage.synergy import Synergy, synergy
from polyforge.terms import SENSITIVE_STEP, PairStatus

PROGRESS_STATUSES = (PairStatus.accepted, PairStatus.flagged, PairStatus.rejected, PairStatus.failed)
_BARS = " ▁▂▃▄▅▆▇█"


class LiveProgress:
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

    def on_notice(self, message: str) -> None:
        """News about the servers (an endpoint ejected, all down, back) above the bar."""
        self._progress.console.print(f"[yellow]{message}[/]")

    def _describe(self) -> str:
        c = self._counts
        return (f"pairs [green]{c[PairStatus.accepted]} accepted[/] [yellow]{c[PairStatus.flagged]} flagged[/] "
                f"[red]{c[PairStatus.rejected]} rejected[/] {c[PairStatus.failed]} failed")


def print_campaign_result(result) -> None:
    """After a campaign run: its summary, its memory banks, and the coverage matrix."""
    print_summary(result.database_url, result.campaign_id)
    print_memory(result)
    print_coverage(result.coverage)


def print_summary(database: str, campaign_id: int) -> None:
    with session_scope(database, create=False) as session:
        rows = language_summaries(session, campaign_id)
        total = total_summary(session, campaign_id)
        distributions = criterion_distributions(session, campaign_id)
        reasons = flag_reason_counts(session, campaign_id)
        discussion = synergy(session, campaign_id)
        endpoints = endpoint_usage(session, campaign_id)
        costs = stage_costs(session, campaign_id)
        campaign = session.get(Campaign, campaign_id)
        prices, spent = Prices.of_campaign(campaign), campaign_cost(session, campaign)
        drops = gate_drops(session, campaign_id)
        sensitive = sensitive_counts(session, [campaign_id])
        generators, judges = campaign_models(session, campaign_id)
    models = f"generator {', '.join(generators) or '-'}, judge {', '.join(judges) or '-'}"
    table = Table(title=f"campaign {campaign_id} ({models})")
    for column in ("language", "generated", *PairStatus, "mean score",
                   "tokens", "seconds"):
        table.add_column(column, justify="left" if column == "language" else "right")
    for row in rows + ([total] if total else []):
        mean = "-" if row.mean_score is None else f"{row.mean_score:.2f}"
        table.add_row(row.language, str(row.generated), *(str(getattr(row, status)) for status in PairStatus),
                      mean, str(row.tokens), f"{row.seconds:.1f}",
                      end_section=row is rows[-1])
    console.print(table)
    if distributions:
        console.print(criterion_table(distributions))
    if reasons:
        console.print("flag reasons: " + ", ".join(f"{reason} {count}" for reason, count in reasons.items()))
    if drops:
        console.print("dropped by a gate before the judge: "
                      + ", ".join(f"{reason} {count}" for reason, count in drops.items()))
    if sensitive:
        console.print(f"{SENSITIVE_STEP}: {describe(sensitive)}")
    if costs:
        console.print(stage_cost_table(costs, prices if prices.priced else None))
    if spent is not None:
        console.print(cost_line(spent))
    if discussion is not None:
        print_synergy(discussion)
    if endpoints:
        console.print(endpoint_table(endpoints, f"server endpoints of campaign {campaign_id}"))


def stage_cost_table(costs: list[StageCost], prices: Prices | None = None) -> Table:
    """Per stage: calls, prompt tokens the server computed and took from its cache, completion tokens, replies cut
    off by max_tokens, and with prices, what the tokens cost."""
    table = Table(title="tokens per stage")
    for column in ("stage", "calls", "prompt tokens", "cached", "completion tokens", "truncated",
                   *("cost",) * (prices is not None)):
        table.add_column(column, justify="left" if column == "stage" else "right")
    for cost in costs:
        cached = f"{cost.cached} ({cost.cached / cost.prompt:.0%})" if cost.prompt else "0"
        money_spent = [] if prices is None else \
            [money(prices.tokens_cost({cost.stage: {"prompt": cost.prompt, "cached": cost.cached,
                                                    "completion": cost.completion}}))]
        table.add_row(cost.stage, str(cost.calls), str(cost.prompt), cached, str(cost.completion), str(cost.truncated),
                      *money_spent)
    return table


def endpoint_table(rows: list[EndpointUsage], title: str, by_campaign: bool = False) -> Group:
    """Calls, failures, ejections, tokens (prompt/completion) and mean latency per server endpoint (over every run of the
    campaign), then each endpoint's last error."""
    table = Table(title=title)
    columns = ("campaign",) * by_campaign + ("role", "endpoint", "calls", "failed", "ejected",
                                            "tokens in/out", "latency")
    for column in columns:
        table.add_column(column, justify="left" if column in ("role", "endpoint") else "right", no_wrap=True)
    errors = []
    for row in rows:
        succeeded = row.requests - row.failures
        latency = f"{row.seconds / succeeded:.2f} s" if succeeded else "-"
        table.add_row(*(str(row.campaign_id),) * by_campaign, row.role, row.base_url, str(row.requests),
                      str(row.failures), str(row.ejections), f"{row.prompt_tokens}/{row.completion_tokens}", latency)
        if row.last_error:  # it names its endpoint and model first
            errors.append(f"last error of {row.base_url}: "
                          + row.last_error.removeprefix(f"{row.base_url} ({row.model}), "))
    return Group(table, *errors)


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


def status_table(sessions: sessionmaker[Session], source: str) -> Group:
    """Every campaign in the database with its progress, read afresh (a campaign may be writing), and the
    server endpoints the campaigns used."""
    with sessions() as session:
        rows = campaign_progress(session)
        endpoints = [usage for row in rows for usage in endpoint_usage(session, row.id)]
        costs = {row.id: campaign_cost(session, session.get(Campaign, row.id)) for row in rows}
    table = Table(title=f"campaigns in {source} at {datetime.now():%H:%M:%S}")
    for column in ("id", "name", "status", "snippets", "pairs", *PROGRESS_STATUSES,
                   "cost", "per accepted", "started", "finished"):
        table.add_column(column, no_wrap=True)
    for row in rows:
        done = f"{row.pairs}/{row.budget}" if row.budget else str(row.pairs)
        counts = [str(row.by_status.get(s, 0)) for s in PROGRESS_STATUSES]
        finished = f"{row.finished_at:%m-%d %H:%M}" if row.finished_at else "-"
        cost = costs[row.id]
        table.add_row(str(row.id), row.name, row.status, str(row.snippets), done, *counts,
                      money(cost and cost.total), money(cost and cost.per_accepted),
                      f"{row.created_at:%m-%d %H:%M}", finished)
    return Group(table, *([endpoint_table(endpoints, "server endpoints", by_campaign=True)] if endpoints else []))


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
    screened = report.steps.get(SENSITIVE_STEP)
    if screened is not None:
        counts = SensitiveCounts(screened.found, sum(screened.dropped.values()))
        console.print(f"{SENSITIVE_STEP}: {describe(counts)}")
    for source in report.sources:
        if source.error:
            console.print(f"[yellow]source not read:[/] {source.error}")
            continue
        skipped = ", ".join(f"{reason} {n} (e.g. {source.skipped.examples[reason]})"
                            for reason, n in sorted(source.skipped.items())) or "none"
        if source.rows is not None:  # an instruction dataset
            console.print(f"source {source.location}: {source.rows} instruction rows read; skipped: {skipped}")
            continue
        console.print(f"source {source.location}: commit {source.commit or '-'}, license {source.license or 'unknown'}, "
                      f"{source.files} files read; skipped: {skipped}")
