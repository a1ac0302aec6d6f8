"""The ingest stage: sources -> identification -> snippet cutting -> filters, one small step each,
streamed file by file; every skipped file and dropped snippet is counted by reason.

`stream_snippets` yields snippets as they pass (memory stays bounded by the dedup indexes, not by
the size of the sources); `ingest` collects them for callers that want a list.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from polyforge.config import IngestConfig, SourceConfig
from polyforge.ingest.corpus import corpus_rows, license_refusal
from polyforge.ingest.filters import Candidate, ExactDedup, NearDedup, Redact, SnippetFilter
from polyforge.languages import language_by_name, language_table
from polyforge.ingest.sources import SkipLog, Source, SourceError, open_source, walk
from polyforge.ingest.errors import IngestError
from polyforge.ingest.worker import (
    CutResult,
    FileProcessor,
    FileResult,
    FileTask,
    RowTask,
    process_batch_in_worker,
    start_worker,
)


@dataclass(frozen=True)
class SnippetRecord:
    language: str
    source: str
    path: str
    start_line: int
    end_line: int
    kind: str  # the tree-sitter node type, or "block" for languages without a grammar
    code: str
    tokens: int
    content_hash: str
    source_id: str | None = None  # the row's id, for a task from an instruction dataset


@dataclass
class LanguageStats:
    files: int = 0
    snippets: int = 0
    tokens: int = 0
    dropped: Counter = field(default_factory=Counter)


@dataclass
class StepStats:
    seen: int = 0
    kept: int = 0
    dropped: Counter = field(default_factory=Counter)
    found: Counter = field(default_factory=Counter)  # secrets and personal data, by label: redacted or dropped


@dataclass
class SourceSummary:
    location: str
    commit: str | None = None
    license: str | None = None
    files: int = 0
    skipped: SkipLog = field(default_factory=SkipLog)
    error: str | None = None
    rows: int | None = None  # rows read from an instruction dataset (None: a source of code)


@dataclass
class IngestReport:
    snippets: list[SnippetRecord] = field(default_factory=list)
    languages: dict[str, LanguageStats] = field(default_factory=lambda: defaultdict(LanguageStats))
    steps: dict[str, StepStats] = field(default_factory=lambda: defaultdict(StepStats))
    sources: list[SourceSummary] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    bytes_read: int = 0

    @property
    def skipped_files(self) -> Counter:
        total: Counter = Counter()
        for source in self.sources:
            total.update(source.skipped)
        return total

    def drop_reasons(self) -> list[str]:
        return sorted({reason for stats in self.languages.values() for reason in stats.dropped})


def selected_languages(names: Sequence[str] | None) -> set[str] | None:
    """The canonical names of the languages `names` selects (None: every language)."""
    if not names:
        return None
    unknown = [name for name in names if language_by_name(name) is None]
    if unknown:
        known = ", ".join(sorted(language_table().languages))
        raise IngestError(f"unknown language(s) {unknown}; known: {known}")
    return {language_by_name(name).name for name in names}


# Files processed in the main process before a worker pool is worth starting.
IN_PROCESS_FILES = 200
BATCH_FILES = 8  # files a worker takes at a time
BATCHES_IN_FLIGHT = 4  # per worker: enough to keep workers busy, few enough to bound memory


class Stage:
    """One ingest run: the worker pool, the index filters and the report being filled."""

    def __init__(self, config: IngestConfig, report: IngestReport, wanted: set[str] | None):
        self.config = config
        self.report = report
        self.wanted = wanted
        self.processor = FileProcessor(config, wanted)  # also runs the files itself when there is one worker
        self.index_filters: list[SnippetFilter] = [ExactDedup()]
        if config.near_duplicate_threshold < 1.0:
            self.index_filters.append(NearDedup(config.near_duplicate_threshold, config.minhash_permutations))
        self.workers = config.workers or os.cpu_count() or 1
        self.pool = None  # started once a source has more than IN_PROCESS_FILES files

    def close(self) -> None:
        if self.pool is not None:
            self.pool.terminate()
            self.pool.join()

    def source(self, source: Source, summary: SourceSummary, on_file: Callable[[int], None]) -> Iterator[SnippetRecord]:
        allowlist = self.config.license_allowlist
        if allowlist is not None and source.license not in allowlist:
            summary.error = (f"{source.location}: skipped, license {source.license or 'unknown'} is not in "
                             f"ingest.license_allowlist {allowlist}")
            self.report.problems.append(summary.error)
            return
        tasks: Iterator[FileTask] = ((str(source.root), relative) for relative in walk(source, self.processor.limits))
        for result in self._results(tasks):
            yield from self._take(source.location, summary, result)
            on_file(result.size)
        summary.skipped.merge(source.skipped)  # the walk counts its own skips; merged once it is done

    def corpus(self, source: SourceConfig, summary: SourceSummary,
               on_file: Callable[[int], None]) -> Iterator[SnippetRecord]:
        """A corpus's rows through the same steps as files; a snippet's source is its row's repository."""
        in_flight: deque[str | None] = deque()  # the repositories of rows handed to `_results`, in order

        def tasks() -> Iterator[RowTask]:
            for where, row in corpus_rows(source):
                refusal = license_refusal(row, self.config.license_allowlist)
                if refusal:
                    summary.skipped.note(refusal, where)
                    continue
                in_flight.append(row.repo)
                yield row.task

        for result in self._results(tasks()):
            repo = in_flight.popleft()
            yield from self._take(repo or summary.location, summary, result)
            on_file(result.size)

    def _results(self, tasks: Iterator[FileTask | RowTask]) -> Iterator[FileResult]:
        """Small sources are processed here; past IN_PROCESS_FILES files a worker pool takes over."""
        if self.pool is None:
            for task in itertools.islice(tasks, IN_PROCESS_FILES):
                yield self.processor.process(task)
            if self.workers > 1:
                # forkserver: workers start from a clean process, never from a copy of a threaded one.
                self.pool = multiprocessing.get_context("forkserver").Pool(
                    self.workers, start_worker, (self.config, self.wanted)
                )
        if self.pool is None:
            yield from (self.processor.process(task) for task in tasks)
            return
        # A bounded window of batches in flight, in order: Pool.imap would queue every finished
        # result in memory whenever the workers run ahead of this process.
        pending: deque = deque()
        while True:
            batch = list(itertools.islice(tasks, BATCH_FILES))
            if batch:
                pending.append(self.pool.apply_async(process_batch_in_worker, (batch,)))
            if pending and (len(pending) >= BATCHES_IN_FLIGHT * self.workers or not batch):
                yield from pending.popleft().get()
            elif not batch:
                return

    def _take(self, location: str, summary: SourceSummary, result: FileResult) -> Iterator[SnippetRecord]:
        report, steps = self.report, self.report.steps
        report.bytes_read += result.size
        if result.error:
            report.problems.append(f"{location}: {result.path}: {result.error}")
        if result.size == 0:  # not read: the reason is a read-time skip
            summary.skipped.note(result.skipped, result.path)
            return
        summary.files += 1
        identify = steps["identify"]
        identify.seen += 1
        if result.language is None:
            identify.dropped[result.skipped] += 1
            summary.skipped.note(result.skipped, result.path)
            return
        identify.kept += 1
        stats = report.languages[result.language]
        stats.files += 1
        stats.dropped.update(result.cut_dropped)
        cutting = steps["cut snippets"]
        cutting.seen += 1
        if result.parse_failed:
            stats.dropped["parse failure"] += 1
            cutting.dropped["parse failure"] += 1
            return
        cutting.kept += 1
        for cut in result.snippets:
            reason = self._filter(result.language, cut)
            if reason is not None:
                stats.dropped[reason] += 1
                continue
            stats.snippets += 1
            stats.tokens += cut.tokens
            yield SnippetRecord(result.language, location, result.path, cut.start_line, cut.end_line, cut.kind,
                                cut.code, cut.tokens, cut.content_hash)

    def _filter(self, language: str, cut: CutResult) -> str | None:
        steps = self.report.steps
        for snippet_filter in self.processor.filters:  # already applied in the worker: count them here
            step = steps[snippet_filter.name]
            step.seen += 1
            if snippet_filter.name == Redact.name:
                step.found.update(cut.found)
            if cut.dropped_by is not None and cut.dropped_by[0] == snippet_filter.name:
                step.dropped[cut.dropped_by[1]] += 1
                return cut.dropped_by[1]
            step.kept += 1
        candidate = Candidate(language, cut.code, cut.tokens, cut.content_hash, words=None, signature=cut.signature)
        for snippet_filter in self.index_filters:
            step = steps[snippet_filter.name]
            step.seen += 1
            reason = snippet_filter.reason_to_drop(candidate)
            if reason is not None:
                step.dropped[reason] += 1
                return reason
            step.kept += 1
        return None


def stream_snippets(
    sources: Sequence[str | Path | SourceConfig],
    config: IngestConfig | None = None,
    report: IngestReport | None = None,
    languages: Sequence[str] | None = None,
    on_file: Callable[[int], None] = lambda size: None,
    executor: Literal["local", "ray"] = "local",
    ray_address: str | None = None,
) -> Iterator[SnippetRecord]:
    """Snippets from every source (a folder or git URL, or a source config: a corpus of files too) in a stable
    order. A source that cannot be read (missing folder, unreachable URL, empty repository, no shards) is reported in
    `report.problems` and the others go on. On the "ray" executor the steps run on the Ray cluster at `ray_address`
    (None: a Ray started here) and keep the same snippets (ray_ingest.py)."""
    config = config or IngestConfig()
    report = report if report is not None else IngestReport()
    wanted = selected_languages(languages)
    if executor == "ray":
        from polyforge.ingest.ray_ingest import RayStage  # Ray is imported only by the runs that use it

        stage = RayStage(config, report, wanted, ray_address)
    else:
        stage = Stage(config, report, wanted)
    try:
        for given in sources:
            location = given.location if isinstance(given, SourceConfig) else str(given)
            summary = SourceSummary(location)
            report.sources.append(summary)
            try:
                if isinstance(given, SourceConfig) and given.files is not None:
                    yield from stage.corpus(given, summary, on_file)
                    continue
                with open_source(location, config.clone_dir) as source:
                    summary.commit, summary.license = source.commit, source.license
                    yield from stage.source(source, summary, on_file)
            except SourceError as exc:
                summary.error = str(exc)
                report.problems.append(str(exc))
    finally:
        stage.close()


def ingest(
    sources: Sequence[str | Path],
    config: IngestConfig | None = None,
    languages: Sequence[str] | None = None,
    on_file: Callable[[int], None] = lambda size: None,
) -> IngestReport:
    """Run the ingest stage and keep its snippets in `report.snippets` (for callers that want them all in memory;
    campaigns and `polyforge ingest` stream them into the database instead)."""
    report = IngestReport()
    report.snippets.extend(stream_snippets(sources, config, report, languages, on_file))
    return report
