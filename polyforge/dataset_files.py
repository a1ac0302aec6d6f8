"""Rows of a dataset on disk: a JSON Lines file, a Parquet file, or a folder saved by Hugging Face `datasets`
(`save_to_disk`), streamed a batch at a time so that memory does not grow with the dataset.

JSON Lines are parsed one line at a time with the standard library rather than pyarrow's JSON reader: pyarrow
infers each column's type from the first block and fails on a later row whose type differs (an id that is a
number in one row and a string in another), while a row's line number is exactly what a message should cite.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

JSON_LINES_SUFFIXES = (".jsonl", ".ndjson", ".json")
BATCH_ROWS = 1024  # rows read at a time from Parquet and Arrow files


class DatasetFileError(ValueError):
    """A dataset that cannot be read; the message names the file and, where it can, the row."""


def dataset_rows(path: Path) -> Iterator[tuple[int, dict]]:
    """(row number, row) for every row of the dataset at `path`, in order. Rows are numbered from 1; in JSON Lines
    a row's number is its line's, so that an editor finds it (blank lines are skipped)."""
    if path.is_dir():
        return _saved_dataset_rows(path)
    if not path.is_file():
        raise DatasetFileError(f"{path}: no such file or folder")
    if path.suffix == ".parquet":
        return _parquet_rows(path)
    if path.suffix in JSON_LINES_SUFFIXES:
        return _json_lines_rows(path)
    raise DatasetFileError(f"{path}: not a dataset format Polyforge reads; give a JSON Lines file "
                           f"({', '.join(JSON_LINES_SUFFIXES)}), a .parquet file, or a folder written by "
                           "datasets' save_to_disk")


def _json_lines_rows(path: Path) -> Iterator[tuple[int, dict]]:
    with path.open(encoding="utf-8") as lines:
        try:
            for number, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise DatasetFileError(f"{path}: line {number}: not valid JSON: {exc}") from exc
                if not isinstance(row, dict):
                    raise DatasetFileError(f"{path}: line {number}: expected a JSON object, found "
                                           f"{type(row).__name__}")
                yield number, row
        except UnicodeDecodeError as exc:
            raise DatasetFileError(f"{path}: not UTF-8 text ({exc})") from exc


def _parquet_rows(path: Path) -> Iterator[tuple[int, dict]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        batches = pq.ParquetFile(path).iter_batches(batch_size=BATCH_ROWS)
        number = 0
        for batch in batches:
            for row in batch.to_pylist():
                number += 1
                yield number, row
    except (pa.ArrowException, OSError) as exc:
        raise DatasetFileError(f"{path}: not a readable Parquet file: {exc}") from exc


def _saved_dataset_rows(path: Path) -> Iterator[tuple[int, dict]]:
    from datasets import Dataset, load_from_disk

    try:
        dataset = load_from_disk(str(path))  # memory-mapped Arrow files: batches are read as they are taken
    except FileNotFoundError as exc:
        raise DatasetFileError(f"{path}: not a folder written by datasets' save_to_disk ({exc})") from exc
    if not isinstance(dataset, Dataset):
        splits = ", ".join(dataset)
        raise DatasetFileError(f"{path}: a dataset of several splits ({splits}); name one split's folder, "
                               f"e.g. {path / next(iter(dataset))}")
    number = 0
    for batch in dataset.iter(batch_size=BATCH_ROWS):
        for values in zip(*batch.values()):
            number += 1
            yield number, dict(zip(batch, values))
