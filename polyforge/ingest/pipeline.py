"""The ingest stage: sources -> identification -> snippet cutting -> filters, one small step each,
streamed file by file; every skipped file and dropped snippet is counted by reason.

`stream_snippets` yields snippets as they pass (memory stays bounded by the dedup indexes, not by
the size of the sources); `ingest` collects them for callers that want a list.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from polyforge.config import IngestConfig
from polyforge.ingest.decontamination import BenchmarkError, load_benchmarks
from polyforge.ingest.filters import (
    Candidate,
    Decontaminate,
    Downsample,
    ExactDedup,
    NearDedup,
    QualityFilter,
    SnippetFilter,
)
from polyforge.ingest.identify import identify_content
from polyforge.ingest.languages import language_by_name, language_table
from polyforge.ingest.snippets import ParseFailure, cut_snippets, normalized_hash
from polyforge.ingest.sources import Source, SourceError, SourceFile, WalkLimits, open_source, walk


class IngestError(ValueError):
    """Input that ingestion cannot use; the message says what and where."""


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


@dataclass
class SourceSummary:
    location: str
    commit: str | None = None
    license: str | None = None
    files: int = 0
    skipped: Counter = field(default_factory=Counter)
    error: str | None = None


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


def _selected_languages(names: Sequence[str] | None) -> set[str] | None:
    if not names:
        return None
    unknown = [name for name in names if language_by_name(name) is None]
    if unknown:
        known = ", ".join(sorted(language_table().languages))
        raise IngestError(f"unknown language(s) {unknown}; known: {known}")
    return {language_by_name(name).name for name in names}


def build_filters(config: IngestConfig) -> list[SnippetFilter]:
    """The snippet filters in pipeline order, as the config sets them."""
    filters: list[SnippetFilter] = [QualityFilter(config.min_snippet_tokens, config.min_code_chars), ExactDedup()]
    if config.decontaminate_humaneval or config.decontamination_sets:
        try:
            benchmarks = load_benchmarks(
                config.decontamination_ngram, config.decontaminate_humaneval, config.decontamination_sets
            )
        except BenchmarkError as exc:
            raise IngestError(f"ingest.decontamination_sets: {exc}") from exc
        filters.append(Decontaminate(benchmarks))
    if config.downsample:
        filters.append(Downsample(config.downsample))
    if config.near_duplicate_threshold < 1.0:
        filters.append(NearDedup(config.near_duplicate_threshold, config.minhash_permutations))
    return filters


class _Stage:
    """One ingest run's state: the filters (with their indexes) and the report being filled."""

    def __init__(self, config: IngestConfig, report: IngestReport, wanted: set[str] | None):
        self.config = config
        self.report = report
        self.wanted = wanted
        self.filters = build_filters(config)
        self.limits = WalkLimits(
            max_file_bytes=config.max_file_bytes,
            minified_line_chars=config.minified_line_chars,
            respect_gitignore=config.respect_gitignore,
            skip_vendored=config.skip_vendored,
            skip_generated=config.skip_generated,
        )

    def source(self, source: Source, summary: SourceSummary, on_file: Callable[[int], None]) -> Iterator[SnippetRecord]:
        allowlist = self.config.license_allowlist
        if allowlist is not None and source.license not in allowlist:
            summary.error = f"license {source.license or 'unknown'} is not in ingest.license_allowlist {allowlist}"
            self.report.problems.append(f"{source.location}: skipped, {summary.error}")
            return
        for file in walk(source, self.limits):
            summary.files = source.files
            self.report.bytes_read += len(file.raw)
            yield from self.file(source, file)
            on_file(len(file.raw))
        summary.files = source.files

    def file(self, source: Source, file: SourceFile) -> Iterator[SnippetRecord]:
        steps = self.report.steps
        identified = identify_content(file.path, file.raw)
        steps["identify"].seen += 1
        language = identified.language
        if language is None:
            source.skipped["not code"] += 1
            steps["identify"].dropped["not code"] += 1
            return
        if self.wanted is not None and language.name not in self.wanted:
            source.skipped["language not selected"] += 1
            steps["identify"].dropped["language not selected"] += 1
            return
        steps["identify"].kept += 1
        stats = self.report.languages[language.name]
        stats.files += 1
        cutting = steps["cut snippets"]
        cutting.seen += 1
        try:
            cuts = cut_snippets(file.text, language, self.config.max_snippet_tokens, self.config.min_snippet_lines,
                                stats.dropped)
        except ParseFailure:
            stats.dropped["parse failure"] += 1
            cutting.dropped["parse failure"] += 1
            return
        cutting.kept += 1
        for cut in cuts:
            candidate = Candidate(language.name, cut.code, cut.tokens, normalized_hash(cut.code))
            reason = self._filter(candidate)
            if reason is not None:
                stats.dropped[reason] += 1
                continue
            stats.snippets += 1
            stats.tokens += cut.tokens
            yield SnippetRecord(language.name, source.location, file.path, cut.start_line, cut.end_line, cut.kind,
                                cut.code, cut.tokens, candidate.content_hash)

    def _filter(self, candidate: Candidate) -> str | None:
        for snippet_filter in self.filters:
            step = self.report.steps[snippet_filter.name]
            step.seen += 1
            reason = snippet_filter.reason_to_drop(candidate)
            if reason is not None:
                step.dropped[reason] += 1
                return reason
            step.kept += 1
        return None


def stream_snippets(
    sources: Sequence[str | Path],
    config: IngestConfig | None = None,
    report: IngestReport | None = None,
    languages: Sequence[str] | None = None,
    on_file: Callable[[int], None] = lambda size: None,
) -> Iterator[SnippetRecord]:
    """Snippets from every source in a stable order. A source that cannot be read (missing folder,
    unreachable URL, empty repository) is reported in `report.problems` and the others go on."""
    config = config or IngestConfig()
    report = report if report is not None else IngestReport()
    stage = _Stage(config, report, _selected_languages(languages))
    for location in sources:
        summary = SourceSummary(str(location))
        report.sources.append(summary)
        try:
            with open_source(location, config.clone_dir) as source:
                summary.commit, summary.license, summary.skipped = source.commit, source.license, source.skipped
                yield from stage.source(source, summary, on_file)
        except SourceError as exc:
            summary.error = str(exc)
            report.problems.append(str(exc))


def ingest(
    sources: Sequence[str | Path],
    config: IngestConfig | None = None,
    languages: Sequence[str] | None = None,
    on_file: Callable[[int], None] = lambda size: None,
) -> IngestReport:
    """Run the ingest stage and keep its snippets in `report.snippets` (the campaign runner's entry)."""
    report = IngestReport()
    report.snippets.extend(stream_snippets(sources, config, report, languages, on_file))
    return report
