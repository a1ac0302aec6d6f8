"""Storing an ingest run: its snippets and its per-language table."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from polyforge.config import IngestConfig, SourceConfig
from polyforge.ingest.pipeline import IngestReport, SnippetRecord, stream_snippets
from polyforge.storage import session_scope
from polyforge.storage.campaigns import find_or_create_campaign
from polyforge.storage.models import Snippet
from polyforge.storage.run_models import IngestLanguageStat, IngestRun
from polyforge.terms import CampaignStatus

BATCH = 2000


def store_snippets(session: Session, campaign_id: int, records: Iterable[SnippetRecord]) -> int:
    """Add the snippets the campaign does not hold yet, committing in batches; returns how many.

    Which ones it holds is asked a batch at a time, so a resumed campaign's memory does not grow with
    the snippets it already has."""
    added = 0
    records = iter(records)
    while batch := list(itertools.islice(records, BATCH)):
        known = set(session.scalars(select(Snippet.content_hash).where(
            Snippet.campaign_id == campaign_id, Snippet.content_hash.in_({record.content_hash for record in batch}))))
        for record in batch:
            if record.content_hash in known:
                continue
            known.add(record.content_hash)
            session.add(Snippet(campaign_id=campaign_id, **asdict(record)))
            added += 1
        session.commit()
    return added


def store_ingest_run(session: Session, campaign_id: int, report: IngestReport, seconds: float) -> IngestRun:
    run = IngestRun(
        campaign_id=campaign_id,
        seconds=seconds,
        bytes_read=report.bytes_read,
        sources=[
            {"location": s.location, "commit": s.commit, "license": s.license, "files": s.files,
             "skipped": dict(s.skipped), "skip_examples": s.skipped.examples, "error": s.error, "rows": s.rows}
            for s in report.sources
        ],
        steps={name: {"seen": step.seen, "kept": step.kept, "dropped": dict(step.dropped),
                      **({"found": dict(step.found)} if step.found else {})}
               for name, step in report.steps.items()},
        problems=list(report.problems),
    )
    run.languages = [
        IngestLanguageStat(language=name, files=stats.files, snippets=stats.snippets, tokens=stats.tokens,
                           dropped=dict(stats.dropped))
        for name, stats in sorted(report.languages.items())
    ]
    session.add(run)
    session.commit()
    return run


def ingest_into_database(
    url: str,
    sources: Sequence[str | SourceConfig],
    config: IngestConfig,
    campaign_name: str,
    languages: Sequence[str] | None = None,
    on_file: Callable[[int], None] = lambda size: None,
    executor: Literal["local", "ray"] = "local",
    ray_address: str | None = None,
) -> tuple[IngestReport, int]:
    """Stream an ingest run straight into a database (snippets and the per-language table), never
    holding all snippets in memory; returns the report and the run's id."""
    with session_scope(url) as session:
        locations = [source.location if isinstance(source, SourceConfig) else source for source in sources]
        settings = {"sources": locations, "languages": languages, "ingest": config.model_dump(mode="json")}
        campaign = find_or_create_campaign(session, campaign_name, settings, status=CampaignStatus.ingested)
        report = IngestReport()
        started = time.perf_counter()
        store_snippets(session, campaign.id, stream_snippets(sources, config, report, languages, on_file,
                                                                executor, ray_address))
        run = store_ingest_run(session, campaign.id, report, time.perf_counter() - started)
        return report, run.id
