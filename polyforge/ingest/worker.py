"""The per-file steps, run in worker processes: read -> identify -> cut snippets -> per-snippet
filters -> MinHash signature. Nothing here depends on other files, so files spread over cores."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import enry
import numpy as np

from polyforge.config import IngestConfig
from polyforge.ingest.decontamination import BenchmarkError, benchmarks_of
from polyforge.ingest.errors import IngestError
from polyforge.ingest.filters import (
    Candidate,
    Decontaminate,
    Downsample,
    MinHasher,
    QualityFilter,
    Redact,
    SnippetFilter,
)
from polyforge.ingest.identify import identify_content
from polyforge.languages import Language, language_by_name
from polyforge.ingest.snippets import ParseFailure, cut_snippets, normalized_hash
from polyforge.ingest.sources import SourceFile, WalkLimits, read_file, screen_content


FileTask = tuple[str, str]  # a file on disk: (the source's root folder, the file's path relative to it)


@dataclass(frozen=True)
class RowTask:
    """A file given as a corpus row: its path in its repository, its content, and the language the row names."""

    path: str
    content: str
    language: str | None = None


@dataclass
class CutResult:
    start_line: int
    end_line: int
    kind: str
    code: str
    tokens: int
    content_hash: str
    dropped_by: tuple[str, str] | None  # (filter name, reason) of the per-snippet filter that dropped it
    signature: np.ndarray | None = field(default=None, repr=False)
    found: Counter = field(default_factory=Counter)  # secrets and personal data found (Redact), by label


@dataclass
class FileResult:
    path: str
    size: int = 0
    skipped: str | None = None  # why the file was not cut: a read skip, "not code", ...
    language: str | None = None
    parse_failed: bool = False
    cut_dropped: Counter = field(default_factory=Counter)  # too short / too long, counted while cutting
    snippets: list[CutResult] = field(default_factory=list)
    error: str | None = None  # an unexpected failure on this file, reported; the other files go on


def per_snippet_filters(config: IngestConfig) -> list[SnippetFilter]:
    """The filters that judge one snippet alone, in pipeline order, as the config sets them."""
    filters: list[SnippetFilter] = [QualityFilter(config.min_snippet_tokens, config.min_code_chars)]
    if config.decontaminate_humaneval or config.decontaminate_mceval or config.decontamination_sets:
        try:
            benchmarks = benchmarks_of(config)
        except BenchmarkError as exc:
            raise IngestError(f"ingest decontamination: {exc}") from exc
        filters.append(Decontaminate(benchmarks))
    if config.downsample:
        filters.append(Downsample(config.downsample))
    if config.secrets != "keep" or config.personal_data != "keep":
        filters.append(Redact(config.secrets, config.personal_data))
    return filters


class FileProcessor:
    def __init__(self, config: IngestConfig, wanted: set[str] | None):
        self.config = config
        self.wanted = wanted
        self.filters = per_snippet_filters(config)
        self.minhasher = MinHasher(config.minhash_permutations) if config.near_duplicate_threshold < 1 else None
        self.limits = WalkLimits(
            max_file_bytes=config.max_file_bytes,
            minified_line_chars=config.minified_line_chars,
            respect_gitignore=config.respect_gitignore,
            skip_vendored=config.skip_vendored,
            skip_generated=config.skip_generated,
        )

    def process(self, task: FileTask | RowTask) -> FileResult:
        path = task.path if isinstance(task, RowTask) else task[1]
        try:
            return self._process_row(task) if isinstance(task, RowTask) else self._process_file(*task)
        except Exception as exc:  # noqa: BLE001 - one odd file must not stop a repository's ingest
            return FileResult(path, skipped="failed", error=f"{type(exc).__name__}: {exc}")

    def _process_file(self, root: str, relative: str) -> FileResult:
        file = read_file(Path(root), relative, self.limits)
        if isinstance(file, str):
            return FileResult(relative, skipped=file)
        return self._identified(file, identify_content(file.path, file.raw).language)

    def _process_row(self, row: RowTask) -> FileResult:
        """A corpus row: its content is screened as a file's; its language, when it names one, is taken as given."""
        raw = row.content.encode("utf-8", errors="replace")
        if len(raw) > self.limits.max_file_bytes:
            return FileResult(row.path, skipped="too large")
        if self.limits.skip_vendored and enry.is_vendor(row.path):
            return FileResult(row.path, skipped="vendored")
        file = screen_content(row.path, raw, self.limits)
        if isinstance(file, str):
            return FileResult(row.path, skipped=file)
        named = language_by_name(row.language) if row.language else None
        return self._identified(file, named or identify_content(file.path, file.raw).language)

    def _identified(self, file: SourceFile, language: Language | None) -> FileResult:
        result = FileResult(file.path, size=len(file.raw))
        if language is None:
            result.skipped = "not code"
        elif self.wanted is not None and language.name not in self.wanted:
            result.skipped = "language not selected"
        else:
            result.language = language.name
            self._cut(file, language, result)
        return result

    def _cut(self, file: SourceFile, language: Language, result: FileResult) -> None:
        config = self.config
        try:
            cuts = cut_snippets(file.text, language, config.max_snippet_tokens, config.min_snippet_lines,
                                result.cut_dropped)
        except ParseFailure:
            result.parse_failed = True
            return
        for cut in cuts:
            candidate = Candidate.of(language.name, cut.code, cut.tokens, normalized_hash(cut.code), file.path)
            dropped_by = next(((f.name, reason) for f in self.filters if (reason := f.reason_to_drop(candidate))), None)
            if dropped_by is None and self.minhasher is not None:
                self.minhasher.sign(candidate)
            code = candidate.code if dropped_by is None else ""  # a dropped snippet travels back as its reason only
            result.snippets.append(CutResult(cut.start_line, cut.end_line, cut.kind, code, cut.tokens,
                                             candidate.content_hash, dropped_by, candidate.signature,
                                             candidate.found))


# The worker processes' own processor, made once per process by `start_worker`.
_processor: FileProcessor | None = None


def start_worker(config: IngestConfig, wanted: set[str] | None) -> None:
    global _processor
    _processor = FileProcessor(config, wanted)


def process_batch_in_worker(tasks: list[FileTask | RowTask]) -> list[FileResult]:
    return [_processor.process(task) for task in tasks]
