"""Corpora of code files as sources: one file a row, in Parquet or JSON Lines shards (a file, a folder of shards, or
a glob) or in a folder written by `datasets`' save_to_disk, read a batch at a time (polyforge/dataset_files.py).

A row's fields are mapped by the source's `fields` (defaults: The Stack v2's `content`, `path`, `repo_name`,
`detected_licenses`, `language`). Its repository is the snippet's source in provenance, as a cloned repository's
URL is; the license allow-list applies to each row's own licenses.
"""

from __future__ import annotations

import glob
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from polyforge.config import CorpusFields, SourceConfig
from polyforge.dataset_files import JSON_LINES_SUFFIXES, DatasetFileError, dataset_rows
from polyforge.ingest.errors import IngestError
from polyforge.ingest.sources import SourceError
from polyforge.ingest.worker import RowTask

SHARD_SUFFIXES = (".parquet", *JSON_LINES_SUFFIXES)
SAVED_DATASET_FILES = ("dataset_info.json", "state.json")  # what save_to_disk writes beside its Arrow files


@dataclass(frozen=True)
class CorpusRow:
    repo: str | None
    licenses: tuple[str, ...] | None  # None: the corpus has no license field
    task: RowTask


def corpus_shards(location: Path) -> list[Path]:
    """The shards of a corpus, in a stable order: the files a glob matches, the shards of a folder (a saved dataset
    is one shard), or the file itself."""
    text = str(location)
    if glob.has_magic(text):
        shards = [Path(path) for path in sorted(glob.glob(text, recursive=True)) if Path(path).is_file()
                  or _is_saved_dataset(Path(path))]
    elif location.is_dir():
        shards = [location] if _is_saved_dataset(location) else sorted(
            path for path in location.rglob("*") if path.is_file() and path.suffix in SHARD_SUFFIXES)
    elif location.is_file():
        shards = [location]
    else:
        raise SourceError(f"{text}: no such file or folder (give Parquet or JSON Lines shards, a folder of them, a "
                          "glob, or a folder written by datasets' save_to_disk)")
    if not shards:
        raise SourceError(f"{text}: no shards found (files ending in {', '.join(SHARD_SUFFIXES)}, or a folder "
                          "written by datasets' save_to_disk)")
    return shards


def source_of(location: str) -> str | SourceConfig:
    """A location given on the command line: a corpus (a glob, a shard, a saved dataset) with The Stack v2's field
    names, else the folder or git URL as it is."""
    path = Path(location)
    if glob.has_magic(location) or path.suffix in SHARD_SUFFIXES or _is_saved_dataset(path):
        return SourceConfig(files=path)
    return location


def _is_saved_dataset(path: Path) -> bool:
    return path.is_dir() and any((path / name).is_file() for name in SAVED_DATASET_FILES)


def corpus_rows(source: SourceConfig) -> Iterator[tuple[str, CorpusRow]]:
    """Every row of the corpus with where it is (`shard:row`); a row lacking a mapped field raises IngestError."""
    fields = source.fields
    for shard in corpus_shards(source.files):
        try:
            for number, row in dataset_rows(shard):
                where = f"{shard}:{number}"
                yield where, _row(where, fields, row)
        except DatasetFileError as exc:
            raise IngestError(str(exc)) from exc


def _row(where: str, fields: CorpusFields, row: dict) -> CorpusRow:
    def value(role: str, name: str | None):
        if name is None:
            return None
        if name not in row:
            raise IngestError(f"{where}: no field {name!r} (the file's {role}); the row's fields: "
                              f"{', '.join(map(str, row)) or 'none'}. Name the corpus's fields in the source's "
                              f"`fields`, e.g. fields: {{{role}: ...}}, or {role}: null when it has none")
        return row[name]

    content, path = value("content", fields.content), value("path", fields.path)
    if not isinstance(content, str) or not isinstance(path, str):
        raise IngestError(f"{where}: fields {fields.content!r} and {fields.path!r} (the file's content and path) must "
                          f"hold text, found {type(content).__name__} and {type(path).__name__}")
    licenses = value("license", fields.license)
    if isinstance(licenses, str):
        licenses = (licenses,)
    elif licenses is not None:
        licenses = tuple(str(spdx) for spdx in licenses)
    elif fields.license is not None:
        licenses = ()  # the field is there, empty: no license found
    repo, language = value("repo", fields.repo), value("language", fields.language)
    return CorpusRow(None if repo is None else str(repo), licenses,
                     RowTask(path, content, None if language is None else str(language)))


def license_refusal(row: CorpusRow, allowlist: list[str] | None) -> str | None:
    """Why the row is not read under the allow-list (None: it is read)."""
    if allowlist is None:
        return None
    if not row.licenses:
        return "no license"
    refused = [spdx for spdx in row.licenses if spdx not in allowlist]
    return f"license {', '.join(refused)} not allowed" if refused else None
