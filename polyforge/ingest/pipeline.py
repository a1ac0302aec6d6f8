"""Ingestion: walk sources, identify languages, cut snippets, drop duplicates; count every drop."""

from __future__ import annotations

import os
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from polyforge.ingest.languages import LANGUAGES, Language, identify, language_by_name
from polyforge.ingest.snippets import ParseFailure, cut_snippets, normalized_hash

SKIPPED_DIRS = {".git", ".hg", ".svn", "node_modules", "vendor", "third_party", "__pycache__", ".venv", "venv",
                "dist", "build", "target"}
MAX_FILE_BYTES = 1_000_000


@dataclass(frozen=True)
class SnippetRecord:
    language: str
    source: str
    path: str
    start_line: int
    end_line: int
    kind: str
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
class IngestReport:
    snippets: list[SnippetRecord] = field(default_factory=list)
    languages: dict[str, LanguageStats] = field(default_factory=lambda: defaultdict(LanguageStats))
    skipped_files: Counter = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)


class IngestError(ValueError):
    """Input that ingestion cannot use; the message says what and where."""


class SourceNotFound(IngestError):
    pass


def _walk_files(root: Path) -> Iterator[Path]:
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if d not in SKIPPED_DIRS and not d.startswith("."))
        for name in sorted(files):
            yield Path(directory) / name


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return None


def ingest(
    sources: Sequence[Path],
    max_snippet_tokens: int = 1024,
    min_snippet_lines: int = 3,
    languages: Sequence[str] | None = None,
) -> IngestReport:
    """Snippets from every source folder, in a stable order, exact duplicates removed."""
    wanted: set[str] | None = None
    if languages:
        unknown = [name for name in languages if language_by_name(name) is None]
        if unknown:
            raise IngestError(f"unknown language(s) {unknown}; known: {[lang.name for lang in LANGUAGES]}")
        wanted = {language_by_name(name).name for name in languages}
    report = IngestReport()
    seen_hashes: set[str] = set()
    for root in sources:
        if not root.is_dir():
            raise SourceNotFound(f"source folder not found: {root}")
        for path in _walk_files(root):
            relative = str(path.relative_to(root))
            if path.is_symlink() or not path.is_file():
                report.skipped_files["not a regular file"] += 1
                continue
            if path.stat().st_size > MAX_FILE_BYTES:
                report.skipped_files["too large"] += 1
                continue
            text = _read_text(path)
            if text is None:
                report.skipped_files["not UTF-8"] += 1
                continue
            language = identify(path, text[:200].partition("\n")[0])
            if language is None:
                report.skipped_files["not code"] += 1
                continue
            if wanted is not None and language.name not in wanted:
                report.skipped_files["language not selected"] += 1
                continue
            _cut_file(report, seen_hashes, root, relative, text, language, max_snippet_tokens, min_snippet_lines)
    return report


def _cut_file(report, seen_hashes, root, relative, text, language: Language, max_tokens, min_lines) -> None:
    stats = report.languages[language.name]
    stats.files += 1
    try:
        cuts = cut_snippets(text, language, max_tokens, min_lines, stats.dropped)
    except ParseFailure as exc:
        stats.dropped["parse failure"] += 1
        report.problems.append(f"{root / relative}: {exc}")
        return
    for cut in cuts:
        content_hash = normalized_hash(cut.code)
        if content_hash in seen_hashes:
            stats.dropped["exact duplicate"] += 1
            continue
        seen_hashes.add(content_hash)
        stats.snippets += 1
        stats.tokens += cut.tokens
        report.snippets.append(
            SnippetRecord(language.name, str(root), relative, cut.start_line, cut.end_line, cut.kind, cut.code,
                          cut.tokens, content_hash)
        )
